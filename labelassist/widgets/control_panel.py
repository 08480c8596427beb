"""The control panel shared by the napari dock widget and the standalone app: a view with no logic.

Every control emits a signal; :class:`~labelassist.widgets.controller.ReviewController` listens and drives
it back (``set_params``, ``set_model_text``, ``set_progress``, ``set_statuses``, ``show_message``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
    QLineEdit, QMessageBox, QProgressBar, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget,
)
from superqt import QCollapsible, QElidingLabel, QLabeledDoubleSlider

from labelassist.core.propose import params as schema
from labelassist.errors import ParameterError
from labelassist.widgets.keys import KEYS, keep_keys_on
from labelassist.widgets.status_strip import StatusStrip

__all__ = ["ControlPanel", "ParamControl", "param_control"]

CHECKPOINT_FILTER = "Classifier checkpoints (*.pt *.pth);;All files (*)"
EXPORT_FILTER = "NIfTI (*.nii.gz *.nii);;NRRD (*.nrrd);;MetaImage (*.mha)"
_INT_LIMIT = 2**31 - 1  # a QSpinBox holds a C int


@dataclass
class ParamControl:
    """The widget of one pipeline parameter: ``get()`` its value, ``set(value)`` show one, ``changed`` a signal
    emitted when the user changes it (its arguments are ignored)."""

    spec: schema.ParamSpec
    widget: QWidget
    get: Callable[[], object]
    set: Callable[[object], None]
    changed: object


def param_control(spec: schema.ParamSpec, parent=None) -> ParamControl:
    """The widget a parameter's schema entry asks for (its range, choices and step; its help as tooltip).

    A bool is a QCheckBox, choices a QComboBox, a float with both bounds a QLabeledDoubleSlider, any other
    number a spin box, a free string a QLineEdit.
    """
    t, (lo, hi) = spec.type, spec.range or (None, None)
    if t is bool:
        w = QCheckBox(spec.label, parent)
        ctl = ParamControl(spec, w, w.isChecked, lambda v: w.setChecked(bool(v)), w.toggled)
    elif spec.choices is not None:
        w = QComboBox(parent)
        w.addItems([str(c) for c in spec.choices])
        w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        w.setMinimumContentsLength(8)  # narrow docks: the list opens wide enough anyway
        ctl = ParamControl(spec, w, lambda: t(w.currentText()), lambda v: w.setCurrentText(str(v)),
                           w.currentTextChanged)
    elif t is float and lo is not None and hi is not None:
        w = QLabeledDoubleSlider(Qt.Horizontal, parent)
        step = spec.step or (hi - lo) / 100
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setDecimals(max(0, -math.floor(math.log10(step))) if step < 1 else 0)
        ctl = ParamControl(spec, w, lambda: round(float(w.value()), 4), w.setValue, w.valueChanged)
    elif t in (int, float):
        w = QSpinBox(parent) if t is int else QDoubleSpinBox(parent)
        w.setRange(-_INT_LIMIT if lo is None else lo, _INT_LIMIT if hi is None else hi)
        if spec.step:
            w.setSingleStep(spec.step)
        w.setKeyboardTracking(False)
        ctl = ParamControl(spec, w, lambda: t(w.value()), w.setValue, w.valueChanged)
    else:
        w = QLineEdit(parent)
        ctl = ParamControl(spec, w, w.text, lambda v: w.setText(str(v)), w.editingFinished)
    w.setToolTip(spec.help)
    ctl.set(spec.default)
    return ctl


class ControlPanel(QWidget):
    """Model, CAM and perimeter settings, run/cancel with progress, review buttons, status strip, export.

    The "Pseudo-label" box holds one control per pipeline parameter, generated from the parameter schema
    (:func:`labelassist.core.propose.params.param_specs`): its label, range or choices, step and tooltip; the
    ``advanced`` ones sit in the collapsed "More" section. :attr:`param_widgets` maps each parameter to its
    widget, which is also the panel's attribute of the same name (``panel.threshold``).

    Signals
    -------
    params_edited(dict)
        ``{parameter: value}`` for a control the user changed (names of ``PipelineParams``; the value checked
        by the schema: a value it rejects shows its one-line message instead).
    load_model_requested(str)
        A checkpoint path, or ``""`` for the shipped demo model.
    run_slice_requested, run_volume_requested, cancel_requested, accept_requested, reject_requested,
    next_requested, calibrate_requested, propagate_requested, accept_suggestion_requested
        Button presses.
    export_requested(str)
        A path chosen in "Export as...", or ``""`` for the session's export path.
    slice_clicked(int)
        A mark of the status strip.
    lesion_clicked(int)
        Shift+click on a mark: the slice shows a lesion (Y).
    keys_to_image()
        The reviewer is done with a control (a click on a button, box, slider or mark; Enter or Escape in a box): the
        frontend gives the keyboard back to its image, so that the review and slice keys act there. The panel's
        buttons, boxes and sliders never keep the focus (:func:`labelassist.widgets.keys.keep_keys_on`).
    """

    params_edited = Signal(dict)
    load_model_requested = Signal(str)
    run_slice_requested = Signal()
    run_volume_requested = Signal()
    cancel_requested = Signal()
    accept_requested = Signal()
    reject_requested = Signal()
    next_requested = Signal()
    calibrate_requested = Signal()
    propagate_requested = Signal()
    accept_suggestion_requested = Signal()
    export_requested = Signal(str)
    slice_clicked = Signal(int)
    lesion_clicked = Signal(int)  # Shift+click on the strip: the slice shows a lesion (Y)
    keys_to_image = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.export_hint = ""  # folder/file the "Export as..." dialog starts at
        layout = QVBoxLayout(self)
        layout.addWidget(self._model_box())
        layout.addWidget(self._params_box())
        layout.addWidget(self._run_box())
        layout.addWidget(self._review_box())
        self.message = QElidingLabel("", self)  # one line, cut with "…": a long message never moves the buttons
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self._fit_narrow_docks(layout)
        self._wire()
        self.set_busy(False)
        keep_keys_on(self, self.keys_to_image.emit)

    def _fit_narrow_docks(self, layout) -> None:
        """Fit a dock of about 260 px (napari's default at 1600 px): slim margins, buttons that may shrink a
        little below their text's width rather than push the panel wider than its dock."""
        layout.setContentsMargins(4, 4, 4, 4)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the dock
        for box in self.findChildren(QGroupBox):
            if box.layout() is not None:
                box.layout().setContentsMargins(6, 6, 6, 6)
        for button in self.findChildren(QPushButton):
            button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(min(button.sizeHint().width(), 60))

    # -- construction -----------------------------------------------------------------------------
    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Model", self)
        self.model_label = QLabel("demo model (loading...)", box)
        self.model_label.setWordWrap(True)
        self.load_model_button = QPushButton("Load checkpoint...", box)
        self.demo_model_button = QPushButton("Demo model", box)
        row = QHBoxLayout()
        row.addWidget(self.load_model_button)
        row.addWidget(self.demo_model_button)
        lay = QVBoxLayout(box)
        lay.addWidget(self.model_label)
        lay.addLayout(row)
        return box

    def _params_box(self) -> QGroupBox:
        """One control per schema field (:func:`labelassist.core.propose.params.param_specs`); the ``advanced``
        ones in a collapsed "More" section. Each widget is also an attribute named after its parameter."""
        box = QGroupBox("Pseudo-label", self)
        self.more = QCollapsible("More", box)  # collapsed until the user opens it
        self.more.layout().setContentsMargins(0, 0, 0, 0)  # one header line high when collapsed
        more = QWidget(self.more)
        forms = {False: QFormLayout(box), True: QFormLayout(more)}
        for form in forms.values():  # a narrow dock puts a label above its control instead of cutting it off
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._controls: dict[str, ParamControl] = {}
        for spec in schema.param_specs():
            ctl = param_control(spec, more if spec.advanced else box)
            self._controls[spec.name] = ctl
            if not hasattr(self, spec.name):
                setattr(self, spec.name, ctl.widget)
            form = forms[spec.advanced]
            if spec.type is bool:
                form.addRow(ctl.widget)
            else:
                form.addRow(spec.label, ctl.widget)
            ctl.changed.connect(lambda *_, c=ctl: self._edited(c))
        self.more.addWidget(more)
        self.more.setVisible(forms[True].rowCount() > 0)
        forms[False].addRow(self.more)
        return box

    @property
    def param_widgets(self) -> dict:
        """``{parameter: widget}`` for every pipeline parameter."""
        return {name: ctl.widget for name, ctl in self._controls.items()}

    def _edited(self, ctl: ParamControl) -> None:
        try:
            value = ctl.spec.check(ctl.get())
        except (ParameterError, ValueError) as exc:
            self.show_message(str(exc), error=True)
            return
        self.params_edited.emit({ctl.spec.name: value})

    def _run_box(self) -> QGroupBox:
        box = QGroupBox("Run", self)
        self.run_slice_button = QPushButton("Run slice", box)
        self.run_volume_button = QPushButton("Run volume", box)
        self.cancel_button = QPushButton("Cancel", box)
        self.progress = QProgressBar(box)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        grid = QGridLayout(box)
        grid.addWidget(self.run_slice_button, 0, 0)
        grid.addWidget(self.run_volume_button, 0, 1)
        grid.addWidget(self.progress, 1, 0)
        grid.addWidget(self.cancel_button, 1, 1)
        return box

    def _review_box(self) -> QGroupBox:
        box = QGroupBox("Review", self)
        self.accept_button = QPushButton("Accept", box)
        self.reject_button = QPushButton("Reject", box)
        self.next_button = QPushButton("Next", box)
        self.calibrate_button = QPushButton("Calibrate from reviewed", box)
        self.calibrate_button.setToolTip("Grid search of threshold and gate on the reviewed slices, then re-fit the rest")
        self.propagate_button = QPushButton("Propagate from reviewed", box)
        self.propagate_button.setToolTip("The segmenter (a small U-Net) learns from the reviewed slices and "
                                         "re-predicts the unreviewed ones; Next then goes to the least certain")
        self.propagate_button.setVisible(False)
        self.suggestion_button = QPushButton("Accept suggestion", box)
        self.suggestion_button.setVisible(False)
        self.export_button = QPushButton("Export", box)
        self.export_as_button = QPushButton("Export as...", box)
        self.strip = StatusStrip(box)
        grid = QGridLayout(box)
        grid.addWidget(self.accept_button, 0, 0)
        grid.addWidget(self.reject_button, 0, 1)
        grid.addWidget(self.next_button, 0, 2)
        grid.addWidget(self.strip, 1, 0, 1, 3)
        grid.addWidget(self.calibrate_button, 2, 0, 1, 3)
        grid.addWidget(self.propagate_button, 3, 0, 1, 3)
        grid.addWidget(self.suggestion_button, 4, 0, 1, 3)
        grid.addWidget(self.export_button, 5, 0, 1, 2)
        grid.addWidget(self.export_as_button, 5, 2)
        return box

    def _wire(self) -> None:
        self.load_model_button.clicked.connect(self._choose_model)
        self.demo_model_button.clicked.connect(lambda: self.load_model_requested.emit(""))
        self.run_slice_button.clicked.connect(self.run_slice_requested)
        self.run_volume_button.clicked.connect(self.run_volume_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.accept_button.clicked.connect(self.accept_requested)
        self.reject_button.clicked.connect(self.reject_requested)
        self.next_button.clicked.connect(self.next_requested)
        self.calibrate_button.clicked.connect(self.calibrate_requested)
        self.propagate_button.clicked.connect(self.propagate_requested)
        self.suggestion_button.clicked.connect(self.accept_suggestion_requested)
        self.export_button.clicked.connect(lambda: self.export_requested.emit(""))
        self.export_as_button.clicked.connect(self._choose_export)
        self.strip.slice_clicked.connect(self.slice_clicked)
        self.strip.lesion_clicked.connect(self.lesion_clicked)
        self.strip.slice_clicked.connect(lambda _i: self.keys_to_image.emit())

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a classifier checkpoint", "", CHECKPOINT_FILTER)
        if path:
            self.load_model_requested.emit(path)

    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export labels", self.export_hint, EXPORT_FILTER)
        if path:
            self.export_requested.emit(path)

    def confirm(self, text: str) -> bool:
        """Ask the reviewer a yes/no question (default: no); e.g. before replacing another volume's export."""
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        return QMessageBox.question(self, "labelassist", text, yes | no, no) == yes

    # -- driven by the controller -----------------------------------------------------------------
    def set_params(self, params: dict) -> None:
        """Show parameter values without emitting ``params_edited``; names that are not parameters are ignored.

        A value the schema rejects is not shown; the schema's one-line message is (as an error).
        """
        for name, value in params.items():
            ctl = self._controls.get(name)
            if ctl is None:
                continue
            try:
                value = ctl.spec.check(value)
            except ParameterError as exc:
                self.show_message(str(exc), error=True)
                continue
            blocked = ctl.widget.blockSignals(True)
            try:
                ctl.set(value)
            finally:
                ctl.widget.blockSignals(blocked)

    def params(self) -> dict:
        """The values the controls show, ``{parameter: value}`` for every pipeline parameter."""
        return {name: ctl.get() for name, ctl in self._controls.items()}

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        for b in (self.calibrate_button, self.propagate_button, self.load_model_button, self.demo_model_button):
            b.setEnabled(not busy)

    def show_job_progress(self, job: str, done: int, total: int) -> None:
        """An engine job's progress (a bound slot: Qt drops the connection when the panel is deleted)."""
        self.set_progress(done, total, f"{job} %p%")

    def set_progress(self, done: int, total: int, text: str = "") -> None:
        """Show progress; throttled to a few updates a second (a progress bar repaints synchronously)."""
        import time

        now = time.monotonic()
        final = done >= total or done == 0
        if not final and now - getattr(self, "_progress_shown", 0.0) < 0.2:
            return
        self._progress_shown = now
        total = max(1, total)
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        if text and self.progress.format() != text:
            self.progress.setFormat(text)

    def set_statuses(self, statuses, proposed=None, current: int = -1, *, lesion=(), probability=None) -> None:
        self.strip.set_statuses(statuses, proposed, current, lesion=lesion, probability=probability)

    def set_shortcut_hints(self, hints: dict) -> None:
        """``{"accept": "A", ...}``: shown in the buttons' text and tooltips (the descriptions of
        :data:`labelassist.widgets.keys.KEYS`)."""
        for name, button in (("accept", self.accept_button), ("reject", self.reject_button),
                             ("next", self.next_button), ("accept_suggestion", self.suggestion_button)):
            key = hints.get(name)
            if key:
                base = button.text().split(" [")[0]
                button.setText(f"{base} [{key}]")
                button.setToolTip(f"{KEYS[name].description} (shortcut: {key})")

    def set_propagate_available(self, available: bool) -> None:
        self.propagate_button.setVisible(bool(available))
        self.suggestion_button.setVisible(bool(available))  # suggestions come from the learner

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #e05050;" if error else "")
        self.message.setText(text)
        self.message.setToolTip(text)  # the line is cut at the dock's edge: the whole of it is here
