"""The volume view: the canvas, the slice slider and the painting tools over one volume.

The review state is per slice of the volume's native slice axis z. Along z the view shows the slice's
layers and edits ``boundaryfit`` in place in the label volume it was given (the learner's suggested lesions
drawn over it as green outlines, never edited). Along y or x it is view only:
the same volumes resliced (grad-cam and perimeter where their z slice is computed), with the tools
disabled and a banner saying so, so a stroke can never land on the wrong voxels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QApplication, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from labelassist.app import render
from labelassist.app.canvas import SliceCanvas
from labelassist.app.editing import LabelEditor
from labelassist.app.slider import StatusSlider
from labelassist.io.orientation import CONVENTIONS, SliceOrientation, is_display_image, slice_orientation

__all__ = ["VolumeView", "AXIS_INDEX"]

AXIS_INDEX = {"z": 0, "y": 1, "x": 2}
VIEW_ONLY = "view only along {axis}: review and editing happen along z (Axis: z)"


class VolumeView(QWidget):
    """Canvas + slider + editor over a volume and its label volume.

    Signals
    -------
    current_changed(int)
        The shown slice index along the current axis changed.
    stroke_started(int)
        A stroke began on native slice z (before any pixel changes).
    edited(int)
        The labels of native slice z changed by a finished stroke, an undo or a redo.
    stroke_ended()
        The stroke in progress (if any) ended: released, or ended by a change of slice or axis.
    message(str)
        A one-line note for the status bar (a region click on a slice without regions yet).
    """

    current_changed = Signal(int)
    stroke_started = Signal(int)
    edited = Signal(int)
    stroke_ended = Signal()
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.canvas = SliceCanvas(self)
        self.slider = StatusSlider(self)
        self.position = QLabel("no volume")
        self.position.setMinimumWidth(110)
        self.position.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.position)
        layout.addLayout(row)

        self.volume = None
        self.labels: np.ndarray | None = None  # (z, y, x) uint8, edited in place
        self.axis = "z"
        self.convention = "radiological"  # or "neurological": the patient's right on the screen's right
        self.current = 0
        self.statuses: list[str] = []
        self.review_enabled = True  # False while a job owns the labels (e.g. nothing loaded)
        self.cam: np.ndarray | None = None
        self.perimeter: np.ndarray | None = None
        self.suggested: np.ndarray | None = None  # (z, y, x) uint8, k on the k-th suggested lesion (the controller's)
        self._info: Callable[[int], str] = lambda i: ""
        self.editor = LabelEditor(self._plane, changed=self._pixels_changed)
        self.mouse_at: tuple[float, float] | None = None  # the mouse over the canvas, image (y, x)

        self.slider.valueChanged.connect(self.show_slice)
        self.canvas.slice_step.connect(self.step)
        self.canvas.stroke_pressed.connect(self._press)
        self.canvas.stroke_moved.connect(self.editor.move)
        self.canvas.stroke_released.connect(self.end_stroke)
        self.canvas.cursor_moved.connect(lambda y, x: setattr(self, "mouse_at", (y, x)))

    # -- data ------------------------------------------------------------------------------------
    def set_volume(self, volume, labels: np.ndarray, *, cam: np.ndarray | None = None,
                   perimeter: np.ndarray | None = None, info: Callable[[int], str] | None = None,
                   start: int | None = None) -> None:
        """Show ``volume`` (a :class:`~labelassist.io.Volume`) with its label volume (edited in place).

        ``cam`` (float, z y x, in [0, 1]) and ``perimeter`` (uint8/bool, z y x) are the controller's arrays,
        changed in place as slices are computed (call :meth:`refresh`); ``info(z)`` gives a line of text
        for the canvas' corner.
        """
        self.editor.clear()
        self.volume, self.labels = volume, labels
        self.cam, self.perimeter = cam, perimeter
        self.suggested = None  # the previous volume's suggestions go: set_suggestions gives the new ones
        self._info = info or (lambda i: "")
        self.statuses = ["unreviewed"] * volume.shape[0]
        self.canvas.refit_next_slice()
        self.axis = "z"
        window, level = render.default_window(volume.array, display=is_display_image(volume))
        self.canvas.set_window(window, level, emit=False)  # the default: not the reviewer's choice
        self._set_range(volume.shape[0] // 2 if start is None else start)

    def _set_range(self, index: int) -> None:
        n = self.volume.shape[AXIS_INDEX[self.axis]]
        self.slider.blockSignals(True)
        self.slider.setMaximum(n - 1)
        self.slider.setPageStep(max(1, n // 10))
        self.slider.set_statuses(self.statuses if self.axis == "z" else [])
        self.slider.blockSignals(False)
        self._orient()
        self.current = -1
        self.show_slice(int(np.clip(index, 0, n - 1)))

    @property
    def n_slices(self) -> int:
        return 0 if self.volume is None else self.volume.shape[AXIS_INDEX[self.axis]]

    @property
    def native_index(self) -> int | None:
        """The z slice shown, or None when viewing along another axis."""
        return self.current if self.axis == "z" and self.volume is not None else None

    def set_axis(self, axis: str, *, start: int | None = None) -> None:
        """View along z (native), y or x, at slice ``start`` (default: the middle)."""
        if axis not in AXIS_INDEX:
            raise ValueError(f"axis must be one of z, y, x; got {axis!r}")
        if self.volume is None or axis == self.axis:
            self.axis = axis
            return
        self.end_stroke()
        self.axis = axis
        self.canvas.refit_next_slice()
        self._set_range(self.volume.shape[AXIS_INDEX[axis]] // 2 if start is None else start)

    def set_convention(self, convention: str) -> None:
        """Show slices in the ``"radiological"`` (default) or ``"neurological"`` convention."""
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}; got {convention!r}")
        self.convention = convention
        if self.volume is not None:
            self._orient()
            self._draw()

    def _orient(self) -> None:
        if is_display_image(self.volume):  # ultrasound, pictures: no patient axes, shown as stored, no letters
            self.canvas.set_orientation(SliceOrientation("frame" if self.volume.modality.upper() == "US" else "image"))
            return
        self.canvas.set_orientation(slice_orientation(self.volume.affine, AXIS_INDEX[self.axis],
                                                      convention=self.convention))

    @property
    def plane(self) -> str:
        """The plane the shown slices lie in: ``"axial"``, ``"coronal"`` or ``"sagittal"`` (from the affine)."""
        return self.canvas.orientation.plane

    def set_suggestions(self, suggested: np.ndarray | None) -> None:
        """Draw ``suggested`` (uint8 z, y, x of the volume's shape, ``k`` on the k-th suggested lesion; changed in
        place, then :meth:`refresh`) as outlines over ``boundaryfit``; None: none."""
        if suggested is not None and self.volume is not None and np.shape(suggested) != self.volume.shape[:3]:
            raise ValueError(f"suggested must have the volume's shape {self.volume.shape[:3]}; got "
                             f"{np.shape(suggested)}: pass the controller's suggested array")
        self.suggested = suggested
        if self.volume is not None:
            self._draw()

    def set_statuses(self, statuses) -> None:
        self.statuses = list(statuses)
        if self.axis == "z":
            self.slider.set_statuses(self.statuses)
        self._update_text()

    # -- showing ---------------------------------------------------------------------------------
    def show_slice(self, index: int) -> None:
        if self.volume is None:
            return
        index = int(np.clip(index, 0, self.n_slices - 1))
        changed = index != self.current
        if changed and self.editor.in_stroke:
            self.end_stroke()
        self.current = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self._draw()
        if changed:
            self.current_changed.emit(index)

    def step(self, delta: int) -> None:
        self.show_slice(self.current + int(delta))

    def page(self, direction: int) -> None:
        self.step(direction * self.slider.pageStep())

    def refresh(self, z: int | None = None) -> None:
        """Slice z (or everything) has new results or labels: redraw if it is in view."""
        if self.volume is None:
            return
        if z is None or self.axis != "z" or z == self.current:
            self._draw()

    def _draw(self) -> None:
        image, cam, perimeter, labels, suggested, aspect = self._layers()
        self.canvas.set_slice(image, cam, perimeter, labels, suggested=suggested, aspect=aspect)
        editable = self.axis == "z" and self.review_enabled
        self.canvas.editable = editable
        self.canvas.banner = "" if self.axis == "z" else VIEW_ONLY.format(axis=self.axis)
        self._update_text()

    def _layers(self):
        ax, i, vol = AXIS_INDEX[self.axis], self.current, self.volume
        take = [lambda a: a[i], lambda a: a[:, i], lambda a: a[:, :, i]][ax]
        cam = None if self.cam is None else take(self.cam)
        perimeter = None if self.perimeter is None else take(self.perimeter)
        labels = take(self.labels) if ax == 0 else np.ascontiguousarray(take(self.labels))
        suggested = None if self.suggested is None else take(self.suggested)
        rows, cols = [(1, 2), (0, 2), (0, 1)][ax]
        return (take(vol.array), cam, perimeter, labels, suggested,
                self._aspect(vol.spacing[rows], vol.spacing[cols]))

    @staticmethod
    def _aspect(dy: float, dx: float) -> tuple[float, float]:
        dy, dx = (abs(dy) or 1.0), (abs(dx) or 1.0)
        m = min(dy, dx)
        return dy / m, dx / m

    def _update_text(self) -> None:
        if self.volume is None:
            self.position.setText("no volume")
            return
        n = self.n_slices
        noun = "frame" if self.plane == "frame" else "slice"  # an ultrasound cine's slices are its frames
        self.position.setText(f"{noun} {self.current} (0-{n - 1})")
        what = f"{self.plane} slice" if self.plane in ("axial", "coronal", "sagittal") else self.plane  # frame, image
        text = f"{what} {self.current}" + ("" if self.axis == "z" else f" (along {self.axis})")
        if self.axis == "z":
            status = self.statuses[self.current] if self.current < len(self.statuses) else ""
            extra = self._info(self.current)
            text += f"   {status}" + (f"   {extra}" if extra else "")
        self.canvas.info_text = text
        self.canvas.update()

    # -- editing ---------------------------------------------------------------------------------
    def _plane(self, z: int) -> np.ndarray:
        return self.labels[z]

    def _press(self, y: float, x: float) -> None:
        z = self.native_index
        if z is None or not self.review_enabled:
            return
        self.mouse_at = (y, x)
        if self.editor.tool == "region" and not self.editor.regions_available(z):
            self.message.emit(f"Region tool: slice {z} has no perimeter map yet: run the slice first "
                              "(its regions come from the perimeter)")
            return
        self.stroke_started.emit(z)
        shift = bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.editor.press(z, y, x, remove=shift and self.editor.tool == "region")

    def end_stroke(self) -> None:
        """Finish the stroke in progress (if any): its slice is reported on ``edited``."""
        edit = self.editor.release()
        if edit is not None:
            self.edited.emit(edit.key)
        self.stroke_ended.emit()

    def _pixels_changed(self, z: int, box) -> None:
        if self.axis == "z" and z == self.current:
            self.canvas.refresh("boundaryfit", box)

    def edit_slice(self, z: int, mask: np.ndarray) -> bool:
        """Replace the labels of native slice ``z`` by ``mask`` (2-D) as one undo step (Ctrl+Z takes it back) and
        redraw; ``edited`` is not emitted (the caller reports the slice). Returns False without a volume."""
        if self.labels is None:
            return False
        if self.editor.in_stroke:
            self.end_stroke()  # the stroke in progress is its own step, reported as usual
        self.editor.replace(int(z), np.asarray(mask, self.labels.dtype))
        if self.axis != "z":
            self._draw()  # a resliced view crosses slice z
        return True

    def undo(self) -> None:
        edit = self.editor.undo()
        self._after_history(edit)

    def redo(self) -> None:
        self._after_history(self.editor.redo())

    def _after_history(self, edit) -> None:
        if edit is None:
            return
        if self.axis == "z" and edit.key != self.current:
            self.show_slice(edit.key)  # show the reviewer what the undo changed
        elif self.axis != "z":
            self._draw()
        self.edited.emit(edit.key)
