"""What a frontend gives the :class:`~labelassist.widgets.controller.ReviewController`: a small adapter
that renders and reports, nothing more.

The controller owns three arrays per volume and changes them in place: ``cam`` (float32 z, y, x in
[0, 1]), ``perimeter`` (uint8 z, y, x, 1 on perimeter pixels) and ``labels`` (uint8 z, y, x, the editable
pseudo-label, shared with the ``boundaryfit`` layer or canvas so that painting edits it directly).
A frontend draws them as the layers ``image``, ``grad-cam``, ``perimeter`` and ``boundaryfit`` and
forwards two things: the slice the user looks at (``controller.go_to(i)``) and which slices a paint
stroke touched (``controller.mark_corrected(indices)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ReviewView", "Shortcut", "LAYER_NAMES", "SUGGESTED", "SUGGESTED_RGB", "SUGGESTED_OUTLINE_PX", "LABEL_RGB"]

LAYER_NAMES = ("image", "grad-cam", "perimeter", "boundaryfit")
SUGGESTED = "suggested"  # the layer of suggested lesions, over boundaryfit (never exported unless accepted)
LABEL_RGB = (255, 40, 220)  # boundaryfit, in both frontends: magenta, a colour the heat map never takes
SUGGESTED_RGB = (0, 255, 140)  # a bright green that neither the CAM's colour map nor magenta boundaryfit takes
SUGGESTED_OUTLINE_PX = 2  # the suggested lesions are drawn as outlines this wide (slice pixels), in both frontends


@dataclass(frozen=True)
class Shortcut:
    """A review action with its key (``"A"``, ``"Shift+N"``: Qt key-sequence spelling)."""

    name: str
    key: str
    description: str
    callback: Callable[[], None]


class ReviewView:
    """Base class (and documentation) of a frontend adapter; every method has a harmless default."""

    def show_volume(self, volume, *, cam, perimeter, labels) -> None:
        """A new volume: (re)create the four layers on these arrays (keep references: they change in place)."""

    def show_suggestions(self, suggested) -> None:
        """The ``suggested`` layer over ``suggested`` (uint8 z, y, x: ``k`` on the k-th lesion the learner
        suggests away from every drawn one; zeros at first), called right after :meth:`show_volume`: an outline in
        :data:`SUGGESTED_RGB` over ``boundaryfit``, not editable. It changes in place; :meth:`refresh` redraws it."""

    def show_area(self, area) -> None:
        """An ultrasound volume's scan area (bool (H, W)), or None: the frontend dims what lies outside it (the
        scanner's text and bars), where nothing is proposed. Default: nothing shown."""

    def edit_slice(self, index: int, mask) -> bool:
        """Replace slice ``index`` of the labels by ``mask`` (uint8 y, x) as one step of the frontend's undo and
        redraw it; returns True. The default returns False: the controller then writes the labels itself."""
        return False

    def refresh(self, index: int | None = None) -> None:
        """The arrays changed in place (slice ``index`` only, or everything): redraw what is on screen."""

    def refresh_labels(self, index: int | None = None) -> None:
        """Only the labels changed (a re-fit): redraw the label layer (default: :meth:`refresh`)."""
        self.refresh(index)

    def current_index(self) -> int:
        """The slice on screen."""
        return 0

    def set_current_index(self, index: int) -> None:
        """Show slice ``index`` (the frontend then calls ``controller.go_to(index)`` or not: both are fine)."""

    def install_shortcuts(self, shortcuts: list[Shortcut]) -> None:
        """Bind the review keys (accept, reject, next unreviewed) where the user works on the image."""
