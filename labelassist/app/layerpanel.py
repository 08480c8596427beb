"""The layer and tool panel: per-layer visibility and opacity, window/level, axis, painting tools."""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from labelassist.app import render
from labelassist.app.editing import MAX_BRUSH
from labelassist.widgets.keys import KEYS, hint, layer_key, tool_keys

__all__ = ["LayerPanel", "AXES", "TOOL_KEYS", "tool_text"]

AXES = {"z": "z (native: review and edit)", "y": "y (view only)", "x": "x (view only)"}
TOOL_KEYS = tool_keys()  # {tool: key}, from the one table of keys


def tool_text(tool: str) -> str:
    """What the panel says of the active tool: ``"Tool: region (G)"``."""
    return f"Tool: {tool} ({KEYS[tool].key})"

LAYER_TIPS = {render.SUGGESTED: "lesions the learner suggests away from every drawn one (green outlines): "
                                "never exported unless accepted (S adds the one on this slice to boundaryfit)"}


class LayerPanel(QWidget):
    """Controls of the canvas; owns no data, only says what the user asked for."""

    visibility_changed = Signal(str, bool)
    opacity_changed = Signal(str, float)
    window_changed = Signal(float, float)
    auto_window = Signal()
    axis_changed = Signal(str)
    tool_changed = Signal(str)
    brush_changed = Signal(int)
    refine_requested = Signal()
    undo_requested = Signal()
    redo_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self._layers_box())
        outer.addWidget(self._image_box())
        self.tools_box = self._tools_box()
        outer.addWidget(self.tools_box)
        outer.addStretch(1)

    def _layers_box(self) -> QGroupBox:
        layers = QGroupBox("Layers")
        grid = QGridLayout(layers)
        self.visible: dict[str, QCheckBox] = {}
        self.opacity: dict[str, QSlider] = {}
        for row, (name, (vis, op)) in enumerate(reversed(render.LAYERS.items())):  # top layer first
            box = QCheckBox(name)
            box.setChecked(vis)
            tip = f"{LAYER_TIPS[name]}; " if name in LAYER_TIPS else ""
            box.setToolTip(f"{tip}show or hide {name} (shortcut {layer_key(name)})")
            box.toggled.connect(lambda on, n=name: self.visibility_changed.emit(n, on))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(int(round(op * 100)))
            slider.setToolTip(f"{name} opacity")
            slider.valueChanged.connect(lambda v, n=name: self.opacity_changed.emit(n, v / 100.0))
            grid.addWidget(box, row, 0)
            grid.addWidget(slider, row, 1)
            self.visible[name], self.opacity[name] = box, slider
        return layers

    def _image_box(self) -> QGroupBox:
        view = QGroupBox("Image")
        form = QFormLayout(view)
        self.window_spin = QDoubleSpinBox()
        self.level = QDoubleSpinBox()
        for spin in (self.window_spin, self.level):
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(3)
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._window_edited)
        self.window_spin.setToolTip("window width (right-drag left/right on the image)")
        self.level.setToolTip("window centre (right-drag up/down on the image)")
        auto = QPushButton("Auto")
        auto.setToolTip(hint("auto_window"))
        auto.clicked.connect(self.auto_window)
        row = QHBoxLayout()
        row.addWidget(self.window_spin)
        row.addWidget(auto)
        form.addRow("Window", row)
        form.addRow("Level", self.level)
        self.presets = QComboBox()
        self.presets.setToolTip("window presets: body (the default: the tissue's intensities), full range; CT windows "
                                "on CT. W: the window of the slice shown")
        self.presets.activated.connect(self._preset_chosen)
        self._preset_values: list[tuple[float, float]] = []
        form.addRow("Preset", self.presets)
        self.axis = QComboBox()
        for key, text in AXES.items():
            self.axis.addItem(text, key)
        self.axis.setToolTip("slice axis: review and editing along the native axis z only; y and x are view only")
        self.axis.currentIndexChanged.connect(lambda _i: self.axis_changed.emit(self.axis.currentData()))
        form.addRow("Axis", self.axis)
        return view

    def _tools_box(self) -> QGroupBox:
        tools = QGroupBox("Edit boundaryfit")
        tl = QGridLayout(tools)
        self.tools = QButtonGroup(self)
        self.tools.setExclusive(True)
        for col, name in enumerate(TOOL_KEYS):
            b = QToolButton()
            b.setText(name)
            b.setCheckable(True)
            b.setToolTip(hint(name))
            b.setObjectName(f"tool_{name}")
            self.tools.addButton(b, col)
            tl.addWidget(b, 0, col)
        self.tools.buttons()[0].setChecked(True)
        self.tools.idClicked.connect(lambda i: self.tool_changed.emit(list(TOOL_KEYS)[i]))
        self.tool_label = QLabel(tool_text(list(TOOL_KEYS)[0]))  # the active tool, also when chosen by its key
        self.tool_label.setObjectName("tool_label")
        self.tool_label.setStyleSheet("font-weight: bold;")
        self.tool_changed.connect(lambda name: self.tool_label.setText(tool_text(name)))
        tl.addWidget(self.tool_label, 1, 0, 1, 5)
        self.brush = QSpinBox()
        self.brush.setRange(0, MAX_BRUSH)
        self.brush.setValue(4)
        self.brush.setSuffix(" px")
        self.brush.setToolTip(f"brush radius ({KEYS['brush_smaller'].key} and {KEYS['brush_larger'].key})")
        self.brush.valueChanged.connect(self.brush_changed)
        tl.addWidget(QLabel("Brush radius"), 2, 0, 1, 2)
        tl.addWidget(self.brush, 2, 2, 1, 2)
        self.finer = QPushButton("Finer")
        self.finer.setToolTip(hint("refine_regions"))
        self.finer.clicked.connect(self.refine_requested)
        tl.addWidget(self.finer, 2, 4)
        self.undo = QPushButton("Undo")
        self.redo = QPushButton("Redo")
        self.undo.setToolTip(hint("undo"))
        self.redo.setToolTip(hint("redo"))
        self.undo.clicked.connect(self.undo_requested)
        self.redo.clicked.connect(self.redo_requested)
        tl.addWidget(self.undo, 3, 0, 1, 2)
        tl.addWidget(self.redo, 3, 2, 1, 2)
        self.edit_note = QLabel("")
        self.edit_note.setWordWrap(True)
        tl.addWidget(self.edit_note, 4, 0, 1, 4)
        return tools

    def _window_edited(self, _value=None) -> None:
        self.window_changed.emit(self.window_spin.value(), self.level.value())

    def show_window(self, window: float, level: float) -> None:
        """Show the canvas' window/level without echoing it back."""
        for spin, value in ((self.window_spin, window), (self.level, level)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)

    def set_presets(self, presets: dict) -> None:
        """The window presets of the volume, ``{name: (window, level)}``."""
        self.presets.clear()
        self._preset_values = list(presets.values())
        for name, (window, level) in presets.items():
            self.presets.addItem(f"{name} ({window:.4g} / {level:.4g})")

    def _preset_chosen(self, index: int) -> None:
        if 0 <= index < len(self._preset_values):
            self.show_window(*self._preset_values[index])
            self.window_changed.emit(*self._preset_values[index])

    def set_window_range(self, lo: float, hi: float) -> None:
        """The spin boxes' ranges for a volume of intensities ``lo`` to ``hi`` (a value clamped to the new range
        is not a window the user chose: nothing is emitted; :meth:`show_window` shows the canvas' next)."""
        span = max(hi - lo, 1e-6)
        for spin, (low, high) in ((self.window_spin, (span * 1e-4, span * 10)), (self.level, (lo - span, hi + span))):
            spin.blockSignals(True)
            spin.setRange(low, high)
            spin.setSingleStep(span / 100)
            spin.blockSignals(False)

    def select_tool(self, name: str) -> None:
        self.tools.buttons()[list(TOOL_KEYS).index(name)].setChecked(True)
        self.tool_changed.emit(name)

    def set_editable(self, editable: bool, note: str = "") -> None:
        for b in self.tools.buttons():
            if b.objectName() != "tool_pan":
                b.setEnabled(editable)
        self.finer.setEnabled(editable)
        self.edit_note.setText(note)
