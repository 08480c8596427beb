"""The main window of the standalone app: canvas, slider, layer/tool panel, the shared control panel, menus.

Review logic lives in the shared :class:`~labelassist.widgets.controller.ReviewController`; this window
renders (through :class:`~labelassist.app.adapter.AppReviewView`) and forwards slice changes and strokes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtGui import QAction
from qtpy.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QScrollArea

from labelassist.app import menus, render
from labelassist.app.adapter import AppReviewView
from labelassist.app.layerpanel import LayerPanel
from labelassist.app.box_editing import BoxEditing
from labelassist.app.region_editing import RegionTool
from labelassist.app.settings import AppSettings
from labelassist.app.study import wire_study
from labelassist.app.view import AXIS_INDEX, VolumeView
from labelassist.core.display import window_presets
from labelassist.core.review import UNREVIEWED
from labelassist.io.orientation import cursor_text, is_display_image
from labelassist.widgets.control_panel import ControlPanel
from labelassist.widgets.keys import keep_keys_on
from labelassist.widgets.loading import VOLUME_FILTER, LoadProgress, VolumeLoad, import_in_background, load_volume_async
from labelassist.widgets.status_strip import LESION, PROPOSED

if TYPE_CHECKING:
    from labelassist.widgets.controller import ReviewController

__all__ = ["MainWindow", "VOLUME_FILTER"]


class MainWindow(QMainWindow):
    """labelassist's standalone window.

    Parameters
    ----------
    model : path, optional
        Classifier checkpoint (None: the shipped demo model).
    device : str
        Where the engine runs (``auto``: CUDA, then MPS, then CPU).
    engine : Engine, optional
        An engine to use instead of a new one (tests).
    """

    volume_loaded = Signal(str)
    error_shown = Signal(str)
    controller_ready = Signal(object)

    def __init__(self, *, model=None, device="auto", engine=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("labelassist")
        self.setAcceptDrops(True)
        self.settings = AppSettings()
        self.path: Path | None = None
        self.last_error = ""
        self.loading: VolumeLoad | None = None  # the volume load in progress (or the last one)
        self._start: int | None = None
        self._message_box: QMessageBox | None = None
        self._review_actions: dict[str, QAction] = {}
        self.training_job = None  # the job of File > Train (training.start), once started

        self.view = VolumeView(self)
        self.view.set_convention(self.settings.convention())
        self.setCentralWidget(self.view)
        self.layers = LayerPanel()
        self.panel = ControlPanel()
        left = self.add_dock("View and edit", self.layers, Qt.DockWidgetArea.LeftDockWidgetArea)
        right = self.add_dock("Review", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([left, right], [300, 430], Qt.Orientation.Horizontal)
        self._status_bar()
        menus.build(self)
        for panel in (left, right, self.load_progress):  # their widgets never keep the keyboard
            keep_keys_on(panel, self.focus_canvas)
        self.panel.keys_to_image.connect(self.focus_canvas)

        # the controller's engine imports torch (seconds): made after the first paint, unless an engine is given
        self._controller: ReviewController | None = None
        self._controller_options = {"engine": engine, "model": model, "device": device}
        self._pending_open = None
        if engine is not None:
            self.start_controller()
        else:
            self.view.canvas.frame_drawn.connect(self._first_frame)
        self.resize(1400, 860)

    @property
    def controller(self) -> ReviewController:
        """The review controller (made now, importing torch, when the window has not started it yet)."""
        return self._controller if self._controller is not None else self.start_controller()

    @property
    def controller_started(self) -> bool:
        """True once the controller and its engine exist (``controller_ready`` was emitted)."""
        return self._controller is not None

    def start_controller(self) -> ReviewController:
        """Make the review controller and its engine (once); emits ``controller_ready``."""
        if self._controller is None:
            from labelassist.widgets.controller import ReviewController

            self._controller = ReviewController(AppReviewView(self), panel=self.panel, parent=self,
                                                **self._controller_options)
            self._wire()
            self.controller_ready.emit(self._controller)
            if self._pending_open is not None:  # a load that returned before the first paint
                self._opened(*self._pending_open)
        return self._controller

    def _first_frame(self) -> None:
        self.view.canvas.frame_drawn.disconnect(self._first_frame)
        # torch's import (seconds) in a worker thread, once this frame is out; then the engine
        QTimer.singleShot(0, lambda: import_in_background("labelassist.engine.engine", self.start_controller, parent=self))

    # -- construction -----------------------------------------------------------------------------
    def add_dock(self, title, widget, area):
        scroll = QScrollArea()
        scroll.setWidget(widget)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(widget.sizeHint().width() + 24)
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(scroll)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _status_bar(self):
        bar = self.statusBar()
        self.device_label = QLabel("device: starting...")
        self.slice_label = QLabel("no volume")
        self.cursor_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setVisible(False)
        self.load_progress = LoadProgress()  # a volume load: its step, a bar and Cancel
        for w in (self.cursor_label, self.slice_label, self.load_progress, self.progress, self.device_label):
            bar.addPermanentWidget(w)

    def _wire(self):
        v, c, lp, e = self.view, self.controller, self.layers, self.controller.engine
        v.current_changed.connect(self._on_current)
        v.edited.connect(lambda z: c.mark_corrected([z]))
        v.stroke_started.connect(self._on_stroke_started)
        v.stroke_ended.connect(c.end_stroke)
        v.canvas.cursor_moved.connect(self._on_cursor)
        v.canvas.window_changed.connect(lp.show_window)
        v.canvas.window_changed.connect(c.set_display)
        lp.visibility_changed.connect(v.canvas.set_visible)
        lp.opacity_changed.connect(v.canvas.set_opacity)
        lp.window_changed.connect(lambda w, lv: v.canvas.set_window(w, lv, emit=False))
        lp.window_changed.connect(c.set_display)
        lp.auto_window.connect(self.auto_window)
        lp.axis_changed.connect(self.set_axis)
        lp.tool_changed.connect(self.set_tool)
        lp.brush_changed.connect(self.set_brush)
        self.region_tool = RegionTool(self)  # the region tool's maps (RegionSource over the controller)
        lp.refine_requested.connect(self.region_tool.refine)
        self.box_tool = BoxEditing(self)  # LiteMedSAM's box prompts (B), the carry (C)
        wire_study(self)
        lp.undo_requested.connect(v.undo)
        lp.redo_requested.connect(v.redo)
        c.statuses_changed.connect(self.update_statuses)
        c.message.connect(lambda text, error: self.message(text, error=error))
        c.volume_opened.connect(lambda vol: self.update_statuses())
        e.model_changed.connect(lambda info, device: self.device_label.setText(f"device: {device}"))
        e.progress.connect(self._on_progress)
        e.busy_changed.connect(self._on_busy)
        self._on_busy(e.busy)  # the model load started before this connection
        e.slice_ready.connect(lambda i: self.update_statuses())
        e.failed.connect(lambda job, text: self.show_error(f"{job}: {text}"))  # any job's error: a message box

    def install_review_shortcuts(self, shortcuts) -> None:
        """Accept / Reject / Next unreviewed as actions of the Review menu, with the controller's keys."""
        self._review_actions.update(menus.add_review_actions(self, shortcuts, self._review))

    def focus_canvas(self) -> None:
        """Give the keyboard to the canvas: the slice, review and tool keys act there (the panels' focus rule)."""
        self.view.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _review(self, callback) -> None:
        if self.view.editor.in_stroke:
            self.view.end_stroke()
        if self.view.axis != "z":
            self.message("Review happens along z: switch Axis to z (review and edit)", error=True)
            return
        callback()

    # -- files ------------------------------------------------------------------------------------
    def open_volume(self, path=None, *, start: int | None = None, wait: bool = True) -> bool:
        """Open a volume (a dialog when ``path`` is None); its review session is restored when one exists.

        Read in a worker thread (``self.loading``, progress and Cancel in the status bar; a load in progress is
        cancelled); ``volume_loaded`` when on screen. ``wait``: return once done (events run meanwhile), whether
        it opened; else at once (menus, drops), whether a load started."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a volume or image", self.settings.last_folder(),
                                                  VOLUME_FILTER)
            if not path:
                return False
        path = Path(path)
        if self.loading is not None:
            self.loading.cancel()
        load = self.loading = load_volume_async(path)  # no parent: an old load and its volume go when dropped
        self.load_progress.follow(load)
        load.returned.connect(lambda volume: self._opened(load, path, volume, start, defer=not wait))
        load.failed.connect(self.show_error)
        load.cancelled.connect(lambda: self._load_cancelled(path))
        return load.wait() and self.path == path if wait else True

    def _opened(self, load, path: Path, volume, start: int | None, defer: bool = False) -> None:
        """A load returned: review its volume (what used to follow ``load_volume``)."""
        self._pending_open = None
        if load is not self.loading or (self._controller is not None and self._controller.closed):
            return
        if defer and self._controller is None and self.isVisible():  # the engine (torch) is still starting:
            self._pending_open = (load, path, volume, start)  # review it then, show it now (nothing to edit yet)
            self.view.review_enabled = False
            self.view.set_volume(volume, np.zeros(volume.shape, np.uint8), start=start)
            return
        self.view.review_enabled = True
        self.path = path
        self._start = start
        self.layers.axis.setCurrentIndex(0)
        self.controller.open_volume(volume)
        self.settings.add_recent(path)
        menus.fill_recent(self)
        self.setWindowTitle(f"labelassist - {path.name}")
        self.layers.set_window_range(*render.value_range(volume.array))
        self.layers.set_presets(window_presets(volume.array, modality=volume.modality,
                                               display=is_display_image(volume)))
        shown = self.controller.state.display if self.controller.state is not None else {}
        if "window" in shown and "level" in shown:  # the reviewer's window of the last session
            self.view.canvas.set_window(shown["window"], shown["level"], emit=False)
        self.layers.show_window(self.view.canvas.window_width, self.view.canvas.level)
        self.set_axis("z")
        self.view.canvas.setFocus()
        self.volume_loaded.emit(str(path))

    def _load_cancelled(self, path: Path) -> None:
        still = f": still showing {self.path.name}" if self.path is not None else ": no volume open"
        self.message(f"Loading {path.name} cancelled{still}")

    def start_slice(self, volume) -> int | None:
        return self._start

    def open_folder(self, *, wait: bool = False) -> bool:
        path = QFileDialog.getExistingDirectory(self, "Open a DICOM series or an image folder", self.settings.last_folder())
        return self.open_volume(path, wait=wait) if path else False

    def open_model(self, path=None) -> None:
        from labelassist.widgets.control_panel import CHECKPOINT_FILTER

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a classifier checkpoint", self.settings.last_folder(),
                                                  CHECKPOINT_FILTER)
            if not path:
                return
        self.controller.load_model(path)

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_volume(paths[0], wait=False))

    # -- view -------------------------------------------------------------------------------------
    def set_axis(self, axis: str) -> None:
        if self.layers.axis.currentData() != axis:
            self.layers.axis.blockSignals(True)
            self.layers.axis.setCurrentIndex(["z", "y", "x"].index(axis))
            self.layers.axis.blockSignals(False)
        native = axis == "z"
        state = self.controller.state
        self.view.set_axis(axis, start=self.controller.current if native and state is not None else None)
        self.layers.set_editable(native, "" if native else "View only along y and x: switch Axis to z to edit")
        for action in self._review_actions.values():
            action.setEnabled(native)
        self.update_statuses()

    def set_convention(self, convention: str) -> None:
        """Radiological (default) or neurological display, remembered for the next start."""
        self.view.set_convention(convention)
        self.settings.set_convention(convention)
        self.convention_action.setChecked(convention == "neurological")

    def set_tool(self, tool: str) -> None:
        if tool not in ("pan", "box"):
            self.view.editor.set_tool(tool)
        self.view.canvas.tool = tool
        self.box_tool.set_active(tool == "box")
        cursor = {"region": Qt.CursorShape.PointingHandCursor, "box": Qt.CursorShape.CrossCursor}
        self.view.canvas.setCursor(cursor.get(tool, Qt.CursorShape.ArrowCursor))
        self.view.canvas.update()

    def set_brush(self, radius: int) -> None:
        self.view.editor.radius = radius
        self.view.canvas.brush_radius = radius
        self.view.canvas.update()

    def auto_window(self) -> None:
        """W: the window of the slice shown (its body's intensities)."""
        from labelassist.app.render import default_window

        image = self.view.canvas.layer_data("image")
        if image is not None:
            self.view.canvas.set_window(*default_window(image, display=is_display_image(self.view.volume)))

    # -- state shown --------------------------------------------------------------------------------
    def review_index(self) -> int:
        return self.controller.current

    def slice_info(self, z: int) -> str:
        view = self.controller.engine.result(z)
        return "" if view is None or view.probability is None else f"p(lesion) {view.probability:.2f}"

    def update_statuses(self) -> None:
        st = self.controller.state
        if st is None:
            return
        said = set(st.lesion_marks)
        marks = [(LESION if i in said else PROPOSED if st.has_proposal(i) else s) if s == UNREVIEWED else s
                 for i, s in enumerate(st.statuses)]
        self.view.set_statuses(marks)
        z = self.controller.current
        counts = st.counts()
        self.slice_label.setText(f"slice {z}: {st.status(z)} | reviewed {st.n_slices - counts[UNREVIEWED]}/{st.n_slices}")

    def _on_stroke_started(self, z: int) -> None:
        # Marked corrected as the stroke starts, so that a proposal computed meanwhile cannot replace the
        # half-drawn stroke (reviewed slices refuse proposals); saved once the stroke ends, never half.
        self.controller.begin_stroke(z)

    def _on_current(self, index: int) -> None:
        if self.view.axis == "z":
            self.controller.go_to(index)
        self.update_statuses()
        if self.view.mouse_at is not None:  # the voxel under the cursor is on the new slice now
            self._on_cursor(*self.view.mouse_at)

    def _on_cursor(self, y: float, x: float) -> None:
        v = self.view
        if v.volume is not None:  # voxel (i, j, k), RAS mm and the value under the cursor
            self.cursor_label.setText(cursor_text(v.volume, AXIS_INDEX[v.axis], v.current, y, x))

    def _on_progress(self, job: str, done: int, total: int) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, self.progress.maximum()))
        self.progress.setFormat(f"{job} %p%")

    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self.progress.setVisible(False)
        self.cancel_action.setEnabled(busy)

    def message(self, text: str, *, error: bool = False) -> None:
        self.statusBar().showMessage(text, 0 if error else 8000)
        if error:
            self.last_error = text

    @property
    def training(self) -> bool:
        """True while the File > Train job runs."""
        return self.training_job is not None and not self.training_job.done

    def show_error(self, text: str) -> None:
        """A one-line error: in the status bar and in a non-blocking message box (the window stays usable)."""
        self.message(text, error=True)
        if self._message_box is not None:
            self._message_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, "labelassist", text, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()
        self._message_box = box
        self.error_shown.emit(text)

    def closeEvent(self, event):
        self.view.end_stroke()
        if self.loading is not None:
            self.loading.cancel()
        try:
            if self.controller_started:  # never start the engine just to close it
                self.controller.close()
        finally:
            super().closeEvent(event)
