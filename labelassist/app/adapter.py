"""The app's :class:`~labelassist.widgets.view.ReviewView`: the shared controller drives the app's volume view."""

from __future__ import annotations

from labelassist.widgets.view import ReviewView, Shortcut

__all__ = ["AppReviewView"]


class AppReviewView(ReviewView):
    """Renders the controller's arrays in a :class:`~labelassist.app.view.VolumeView`; reports nothing itself
    (the main window forwards slice changes and strokes to the controller)."""

    def __init__(self, window):
        self.window = window

    @property
    def _view(self):
        return self.window.view

    def show_volume(self, volume, *, cam, perimeter, labels) -> None:
        self._view.set_volume(volume, labels, cam=cam, perimeter=perimeter, info=self.window.slice_info,
                              start=self.window.start_slice(volume))

    def show_suggestions(self, suggested) -> None:
        self._view.set_suggestions(suggested)

    def show_area(self, area) -> None:
        self._view.canvas.set_area(area)

    def edit_slice(self, index: int, mask) -> bool:
        return self._view.edit_slice(index, mask)  # one step of the label editor's undo (Ctrl+Z)

    def refresh(self, index: int | None = None) -> None:
        self._view.refresh(index)
        self.window.update_statuses()

    def current_index(self) -> int:
        v = self._view
        return v.current if v.axis == "z" else self.window.review_index()

    def set_current_index(self, index: int) -> None:
        if self._view.axis != "z":
            self.window.set_axis("z")  # review happens along z: go there to show the slice
        self._view.show_slice(index)

    def install_shortcuts(self, shortcuts: list[Shortcut]) -> None:
        self.window.install_review_shortcuts(shortcuts)
