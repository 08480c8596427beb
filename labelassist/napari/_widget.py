"""The LabelAssist dock widget: the shared control panel and review controller on a napari viewer."""

from __future__ import annotations

from pathlib import Path

# This module is napari's way into the dock widget (the manifest's widget command), so it is labelassist's entry
# point into napari's process: set up what torch needs there before anything below imports it. The viewer has
# usually drawn already, and with Mesa's OpenGL (llvmpipe under Xvfb or without a GPU driver) the first import of
# torchvision would load triton's LLVM beside Mesa's and crash. Blocking triton costs napari nothing it uses
# (triton serves only torch.compile). The plugin's reader, writer and samples change nothing in napari's process.
from labelassist.engine import keep_triton_out

keep_triton_out()

from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QPushButton, QScrollArea, QShortcut, QToolButton,
    QVBoxLayout, QWidget,
)

from labelassist.errors import ParameterError
from labelassist.napari._geometry import VOLUME_KEY, volume_from_layer
from labelassist.napari._box import BOX_KEY, CARRY_KEY, NapariBoxTool
from labelassist.napari._regions import REFINE_KEY, TOGGLE_KEY, RegionTool
from labelassist.napari._view import NapariView
from labelassist.widgets import ControlPanel, ReviewController
from labelassist.widgets.keys import KEYS, keep_keys_on
from labelassist.widgets import preferences
from labelassist.widgets.loading import VOLUME_FILTER, LoadProgress, load_layer_async, load_volume_async

__all__ = ["LabelAssistWidget", "tool_text"]

REGION_BUTTON_STYLE = ("QToolButton { padding: 2px 8px; border: 1px solid #7f8c9c; border-radius: 3px; }"
                       "QToolButton:checked { background-color: #2f7fd8; color: white; border-color: #2f7fd8; }")


def tool_text(tool: str | None, mode: str | None) -> str:
    """What the dock says of the active tool: ``"Tool: region (G)"``, ``"Tool: box (B)"``, or the ``boundaryfit``
    layer's napari mode."""
    if tool:
        return f"Tool: {tool} ({KEYS[tool].key})"
    return "Tool: none (no labels yet)" if mode is None else f"Tool: napari {mode.replace('_', '/')}"


class _NoRecent:
    """napari's dock remembers no recent volumes (the app's File > Open recent): none join a training."""

    @staticmethod
    def recent() -> list:
        return []


def _shutdown(controller, view) -> None:
    if controller.closed:
        return
    view.uninstall()
    controller.close()


class LabelAssistWidget(QWidget):
    """Review pseudo-labels slice by slice in napari.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        Injected by napari.
    model : path, optional
        Classifier checkpoint (default: the shipped demo model).
    device : str
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ...
    auto_compute : bool
        Compute a slice when it is shown and has no result yet.
    """

    def __init__(self, napari_viewer, *, model=None, device="auto", auto_compute: bool = True):
        super().__init__()
        self.viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)  # napari may pass a proxy
        self.source = QComboBox(self)
        self.source.setToolTip("The image layer under review")
        self.panel = ControlPanel(self)
        self.view = NapariView(self.viewer, on_paint=self._painted, on_slice=self._slice_shown,
                               on_stroke=self._stroke, on_stroke_end=self._stroke_end)
        self.controller = ReviewController(self.view, panel=self.panel, model=model, device=device,
                                           auto_compute=auto_compute)
        self.controller.message.connect(self._notify)
        self.view.convention = preferences.convention()
        self.regions = RegionTool(self.view, self.controller)
        self.view.labels_added.append(self.regions.attach)
        self.view.bind(TOGGLE_KEY, self.regions.toggle, f"Region tool on/off. {KEYS['region'].description}")
        self.view.bind(REFINE_KEY, lambda: self.regions.refine(), KEYS["refine_regions"].description)
        self.box = NapariBoxTool(self.view, self.controller)
        self.view.labels_added.append(self.box.attach)
        self.view.bind(BOX_KEY, self.box.toggle, f"Box tool on/off. {KEYS['box'].description}")
        self.view.bind(CARRY_KEY, self.box.carry, KEYS["carry_box"].description)
        self._layers: list = []
        self._opening = False
        self.loading = None  # the VolumeLoad in progress (or the last one)
        row, more = self._top_rows()
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.panel)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(more)
        layout.addLayout(self._tool_row())
        layout.addWidget(self.load_progress)
        layout.addWidget(scroll)
        for sc in self.controller.shortcuts():  # keys also work while the dock has the focus
            shortcut = QShortcut(QKeySequence(sc.key), self)
            shortcut.setContext(Qt.WidgetWithChildrenShortcut)
            shortcut.activated.connect(sc.callback)
        keep_keys_on(self, self.focus_viewer)  # the dock's buttons and boxes never keep napari's keys
        self.panel.keys_to_image.connect(self.focus_viewer)
        layers = self.viewer.layers
        layers.events.inserted.connect(self._on_inserted)
        layers.events.removed.connect(self._list_sources)
        self.source.activated.connect(lambda i: self.open_layer(self._layers[i]) if 0 <= i < len(self._layers) else None)
        self.destroyed.connect(lambda *_, c=self.controller, v=self.view: _shutdown(c, v))
        self._list_sources()
        first = next((ly for ly in reversed(self._layers) if VOLUME_KEY in ly.metadata), None)
        first = first or (self._layers[-1] if self._layers else None)
        if first is not None:
            self.open_layer(first)

    def _top_rows(self):
        """The volume under review (a layer, or a file opened here) and the dock's other buttons."""
        self.open_button = QPushButton("Open volume...", self)
        self.open_button.setToolTip("Read a volume or image file in the background and review it")
        self.open_button.clicked.connect(lambda: self.open_file())
        self.train_button = QPushButton("Train classifier...", self)
        self.train_button.setToolTip("Train a classifier from this volume's yes/no slices (Y, R, accepted and "
                                     "corrected slices) in the background, then use it (the app's File > Train)")
        self.train_button.clicked.connect(self.open_training)
        self.study_button = QPushButton("Study list...", self)
        self.study_button.setToolTip("A dock listing the volumes of a folder or CSV, each one's state, Next volume")
        self.study_button.clicked.connect(self.open_study_dock)
        self.study = None  # the study list's dock widget, once shown
        self.training_job = None  # the job of Train classifier... (widgets.training.start), once started
        self.settings = _NoRecent()  # napari keeps no recent volumes: the training uses this one
        self.load_progress = LoadProgress(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Volume", self))
        row.addWidget(self.source, 1)
        row.addWidget(self.open_button)
        more = QHBoxLayout()
        more.addWidget(self.train_button)
        more.addWidget(self.study_button)
        return row, more

    def _tool_row(self) -> QHBoxLayout:
        """The active tool, kept in sync with G, B and with the mode chosen in napari's layer controls."""
        self.tool_label = QLabel(tool_text(None, None), self)
        self.tool_label.setStyleSheet("font-weight: bold;")
        row = QHBoxLayout()
        row.addWidget(self.tool_label, 1)
        self.neurological = QCheckBox("Neurological", self)
        self.neurological.setToolTip("The patient's right on the screen's right (unchecked: radiological, as "
                                     "ITK-SNAP and 3D Slicer: the patient's right on the screen's left); remembered")
        self.neurological.setChecked(self.view.convention == "neurological")
        self.neurological.toggled.connect(self._set_convention)
        row.addWidget(self.neurological)
        self.tools = {"region": self.regions, "box": self.box}
        self.tool_buttons = {}
        for name, tool in self.tools.items():
            b = QToolButton(self)
            b.setText(f"{name.capitalize()} tool ({KEYS[name].key})")
            b.setCheckable(True)
            b.setToolTip(KEYS[name].description)
            b.setStyleSheet(REGION_BUTTON_STYLE)  # napari's themes draw it checked as unchecked
            b.clicked.connect(lambda on, tool=tool: tool.set_active(on))
            tool.changed.append(lambda name=name: self._show_tool(name))
            self.tool_buttons[name] = b
            row.addWidget(b)
        self.region_button = self.tool_buttons["region"]
        self.regions.peers, self.box.peers = [self.box], [self.regions]  # one tool at a time
        return row

    def _set_convention(self, neurological: bool) -> None:
        value = "neurological" if neurological else "radiological"
        self.view.set_convention(value)
        preferences.set_convention(value)

    def _show_tool(self, changed: str | None = None) -> None:
        layer = self.regions.layer()
        active = next((name for name, tool in self.tools.items() if tool.active), None)
        self.tool_label.setText(tool_text(active, None if layer is None else str(layer.mode)))
        for name, b in self.tool_buttons.items():
            b.setChecked(self.tools[name].active)

    def focus_viewer(self) -> None:
        """Give the keyboard back to napari's viewer window, whose key bindings (the review keys, G, napari's own)
        act on the canvas: after a click on a control of the dock, and after Enter or Escape in one of its boxes."""
        window = self.parentWidget()
        while window is not None and not isinstance(window, QMainWindow):  # a floating dock keeps its parent
            window = window.parentWidget()
        if window is None:  # not docked (tests): the dock keeps its own shortcuts
            return
        if not window.isActiveWindow():
            window.activateWindow()
        window.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- Train classifier... (the host of widgets.training) ------------------------------------------------------
    @property
    def path(self) -> Path | None:
        volume = self.controller.volume
        return None if volume is None else Path(volume.source_path)

    def message(self, text: str) -> None:
        self.panel.show_message(text)

    def show_error(self, text: str) -> None:
        self.panel.show_message(text, error=True)

    def open_training(self) -> None:
        """The training dialog of the app's File > Train, on this dock's review."""
        from labelassist.widgets import training

        training.open_dialog(self)

    def open_study_dock(self):
        """The study list (the app's Study dock) as a napari dock: double-click or Next volume opens a volume here."""
        if self.study is None:
            from labelassist.widgets.study_list import StudyList

            self.study = StudyList(self)
            self.study.open_requested.connect(lambda path: self.open_file(path))
            self.study.message.connect(lambda text, error: self.panel.show_message(text, error=error))
            c = self.controller

            def live():
                if c.state is not None and self.path is not None:
                    self.study.show_live(self.path, c.state.n_slices - c.state.counts()["unreviewed"], c.state.n_slices)

            c.statuses_changed.connect(live)
            c.volume_opened.connect(lambda _volume: live())
            c.exported.connect(lambda _path: self.study.refresh())
            live()
            self.viewer.window.add_dock_widget(self.study, name="Study list", area="left")
        self.study.show()
        return self.study

    def close_review(self) -> None:
        """Save the session, stop the engine and let go of the viewer (also done when the widget dies)."""
        _shutdown(self.controller, self.view)

    # -- the image layer under review -------------------------------------------------------------
    def _candidates(self) -> list:
        from napari.layers import Image

        ours = {id(ly) for ly in self.view.layers.values()}
        return [ly for ly in self.viewer.layers if isinstance(ly, Image) and id(ly) not in ours]

    def _list_sources(self, event=None) -> None:
        self._layers = self._candidates()
        current = self.view.image_layer
        blocked = self.source.blockSignals(True)
        self.source.clear()
        self.source.addItems([ly.name for ly in self._layers])
        if current is not None and current in self._layers:
            self.source.setCurrentIndex(self._layers.index(current))
        self.source.blockSignals(blocked)

    def _on_inserted(self, event) -> None:
        if self._opening:
            return
        self._list_sources()
        layer = event.value
        if VOLUME_KEY in getattr(layer, "metadata", {}) and layer is not self.view.image_layer:
            self.open_layer(layer)  # a volume read by labelassist (file, sample): review it

    def open_layer(self, layer):
        """Review the volume behind an image layer (restoring its session when there is one).

        The layer's volume and its identity (a hash of the whole array) are made in a worker thread
        (:func:`~labelassist.widgets.loading.load_layer_async`), so that a large layer never freezes the viewer;
        the review starts when that returns. Returns the load's handle (``self.loading``).
        """
        def make_volume():
            try:
                return volume_from_layer(layer)
            except ValueError as exc:
                raise ParameterError(str(exc)) from None

        return self._follow(load_layer_async(make_volume, name=layer.name), lambda v: layer)

    def open_file(self, path=None):
        """Read a volume file (a dialog when ``path`` is None) in a worker thread, with its progress and Cancel in
        the dock; then add it as an image layer (as napari's reader would) and review it. Returns the load
        (None when the dialog was closed)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a volume or image", "", VOLUME_FILTER)
            if not path:
                return None
        return self._follow(load_volume_async(path), self._add_image_layer)

    def _follow(self, load, layer_for):
        """Show ``load`` in the dock (a load in progress is cancelled); on success review ``layer_for(volume)``."""
        if self.loading is not None:
            self.loading.cancel()
        self.loading = load
        self.load_progress.follow(load)
        load.returned.connect(lambda volume: self._loaded(load, volume, layer_for))
        load.failed.connect(lambda text: self.panel.show_message(text, error=True))
        load.cancelled.connect(lambda: self.panel.show_message(f"Loading {load.name} cancelled"))
        return load

    def _add_image_layer(self, volume):
        from labelassist.napari._reader import image_layer_data

        data, meta, _ = image_layer_data(volume, name=Path(volume.source_path).name)
        self._opening = True  # reviewed below, not again by _on_inserted
        try:
            return self.viewer.add_image(data, **meta)
        finally:
            self._opening = False

    def _loaded(self, load, volume, layer_for) -> None:
        if load is not self.loading or self.controller.closed:
            return
        layer = layer_for(volume)
        if layer not in self.viewer.layers:  # removed while it loaded
            return
        self._opening = True
        try:
            self.view.use_image_layer(layer)
            self.controller.open_volume(volume)
        finally:
            self._opening = False
        self._keep_window(layer)
        self._list_sources()
        QTimer.singleShot(0, self._select_labels)  # after napari selects a layer it just inserted

    def _keep_window(self, layer) -> None:
        """The image layer's contrast limits are the session's window: restored now, kept as they change."""
        shown, state = self.controller.state.display, self.controller.state
        if "window" in shown and "level" in shown and not getattr(layer, "rgb", False):
            half = shown["window"] / 2
            layer.contrast_limits = (shown["level"] - half, shown["level"] + half)

        def changed(_event=None, layer=layer):
            if self.controller.state is state:  # this volume's session still
                lo, hi = layer.contrast_limits
                self.controller.set_display(hi - lo, (hi + lo) / 2)

        layer.events.contrast_limits.connect(changed)

    def _select_labels(self) -> None:
        """Make ``boundaryfit`` the active layer: the reviewer paints there."""
        layer = self.view.layers.get("boundaryfit")
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.selection.active = layer

    # -- forwarded to the controller --------------------------------------------------------------
    def region_click(self, z: int, y: int, x: int, *, add: bool = True) -> int:
        """The region tool's click at voxel (z, y, x) of ``boundaryfit``: the region there added to the mask
        (``add=False``: removed) as one undo step; returns how many regions changed (0 or 1)."""
        return self.regions.click(z, y, x, add=add)

    def _painted(self, slices) -> None:
        self.controller.mark_corrected(slices)

    def _stroke(self, index: int) -> None:  # before napari's brush paints: its undo gives the status back
        if self.controller.state is not None:
            self.controller.begin_stroke(index)

    def _stroke_end(self) -> None:
        self.controller.end_stroke()

    def _slice_shown(self, index: int) -> None:
        if self.controller.state is not None:
            self.controller.go_to(index)
            self.box.tool.look_ahead(index)

    def _notify(self, text: str, error: bool) -> None:
        if error:
            from napari.utils.notifications import show_warning

            show_warning(f"LabelAssist: {text}")
