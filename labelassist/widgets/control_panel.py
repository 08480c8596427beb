"""The control panel shared by the napari dock widget and the standalone app: a view with no logic.

Every control emits a signal; :class:`~labelassist.widgets.controller.ReviewController` listens and drives
it back (``set_params``, ``set_model_text``, ``set_progress``, ``set_statuses``, ``show_message``).
"""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
    QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)
from superqt import QLabeledDoubleSlider

from labelassist.core.propose.cam import CAM_METHODS
from labelassist.core.propose.perimeter import METHODS as USS_METHODS
from labelassist.widgets.status_strip import StatusStrip

__all__ = ["ControlPanel"]

CHECKPOINT_FILTER = "Classifier checkpoints (*.pt *.pth);;All files (*)"
EXPORT_FILTER = "NIfTI (*.nii.gz *.nii);;NRRD (*.nrrd);;MetaImage (*.mha)"


def _unit_slider(parent) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Horizontal, parent)
    s.setRange(0.0, 1.0)
    s.setSingleStep(0.01)
    s.setDecimals(2)
    return s


class ControlPanel(QWidget):
    """Model, CAM and perimeter settings, run/cancel with progress, review buttons, status strip, export.

    Signals
    -------
    params_edited(dict)
        ``{parameter: value}`` for a control the user changed (names of ``PipelineParams``).
    load_model_requested(str)
        A checkpoint path, or ``""`` for the shipped demo model.
    run_slice_requested, run_volume_requested, cancel_requested, accept_requested, reject_requested,
    next_requested, calibrate_requested, learn_requested
        Button presses.
    export_requested(str)
        A path chosen in "Export as...", or ``""`` for the session's export path.
    slice_clicked(int)
        A mark of the status strip.
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
    learn_requested = Signal()
    export_requested = Signal(str)
    slice_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.export_hint = ""  # folder/file the "Export as..." dialog starts at
        layout = QVBoxLayout(self)
        layout.addWidget(self._model_box())
        layout.addWidget(self._params_box())
        layout.addWidget(self._run_box())
        layout.addWidget(self._review_box())
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self._wire()
        self.set_busy(False)

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
        box = QGroupBox("Pseudo-label", self)
        self.cam_method = QComboBox(box)
        self.cam_method.addItems(list(CAM_METHODS))
        self.cam_shifts = QSpinBox(box)
        self.cam_shifts.setRange(1, 4)
        self.cam_shifts.setKeyboardTracking(False)
        self.cam_shifts.setToolTip("Shift averaging: n x n CAM passes of the input moved by 1/n of a feature cell "
                                   "(1 = the plain CAM; 2 follows a lesion at half the cell size)")
        self.cam_stride = QComboBox(box)
        self.cam_stride.addItems(["8", "16", "32"])
        self.cam_stride.setToolTip("Input pixels per CAM cell: finer than the classifier's own takes the CAM with its "
                                   "last strides removed (8 for the stride-16 demo model: 4x the cells, nothing "
                                   "retrained); p(lesion) stays the classifier's")
        self.threshold = _unit_slider(box)
        self.gate = _unit_slider(box)
        self.uss = QComboBox(box)
        self.uss.addItems(list(USS_METHODS))
        self.n_segments = QSpinBox(box)
        self.n_segments.setRange(2, 10000)
        self.n_segments.setSingleStep(25)
        self.n_segments.setKeyboardTracking(False)
        self.fit = QCheckBox("BoundaryFit", box)
        self.fit.setToolTip("Fit the CAM mask to the perimeter regions (off: the thresholded CAM alone)")
        form = QFormLayout(box)
        form.addRow("CAM method", self.cam_method)
        form.addRow("CAM shifts", self.cam_shifts)
        form.addRow("CAM stride", self.cam_stride)
        form.addRow("CAM threshold", self.threshold)
        form.addRow("p(lesion) gate", self.gate)
        form.addRow("Perimeter", self.uss)
        form.addRow("Superpixels", self.n_segments)
        form.addRow(self.fit)
        return box

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
        self.learn_button = QPushButton("Learn from reviewed", box)
        self.learn_button.setVisible(False)
        self.export_button = QPushButton("Export", box)
        self.export_as_button = QPushButton("Export as...", box)
        self.strip = StatusStrip(box)
        grid = QGridLayout(box)
        grid.addWidget(self.accept_button, 0, 0)
        grid.addWidget(self.reject_button, 0, 1)
        grid.addWidget(self.next_button, 0, 2)
        grid.addWidget(self.strip, 1, 0, 1, 3)
        grid.addWidget(self.calibrate_button, 2, 0, 1, 3)
        grid.addWidget(self.learn_button, 3, 0, 1, 3)
        grid.addWidget(self.export_button, 4, 0, 1, 2)
        grid.addWidget(self.export_as_button, 4, 2)
        return box

    def _wire(self) -> None:
        self.cam_method.currentTextChanged.connect(lambda v: self.params_edited.emit({"cam_method": v}))
        self.cam_shifts.valueChanged.connect(lambda v: self.params_edited.emit({"cam_shifts": int(v)}))
        self.cam_stride.currentTextChanged.connect(lambda v: self.params_edited.emit({"cam_stride": int(v)}))
        self.threshold.valueChanged.connect(lambda v: self.params_edited.emit({"threshold": round(float(v), 4)}))
        self.gate.valueChanged.connect(lambda v: self.params_edited.emit({"gate": round(float(v), 4)}))
        self.uss.currentTextChanged.connect(lambda v: self.params_edited.emit({"uss": v}))
        self.n_segments.valueChanged.connect(lambda v: self.params_edited.emit({"n_segments": int(v)}))
        self.fit.toggled.connect(lambda v: self.params_edited.emit({"fit": bool(v)}))
        self.load_model_button.clicked.connect(self._choose_model)
        self.demo_model_button.clicked.connect(lambda: self.load_model_requested.emit(""))
        self.run_slice_button.clicked.connect(self.run_slice_requested)
        self.run_volume_button.clicked.connect(self.run_volume_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.accept_button.clicked.connect(self.accept_requested)
        self.reject_button.clicked.connect(self.reject_requested)
        self.next_button.clicked.connect(self.next_requested)
        self.calibrate_button.clicked.connect(self.calibrate_requested)
        self.learn_button.clicked.connect(self.learn_requested)
        self.export_button.clicked.connect(lambda: self.export_requested.emit(""))
        self.export_as_button.clicked.connect(self._choose_export)
        self.strip.slice_clicked.connect(self.slice_clicked)

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a classifier checkpoint", "", CHECKPOINT_FILTER)
        if path:
            self.load_model_requested.emit(path)

    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export labels", self.export_hint, EXPORT_FILTER)
        if path:
            self.export_requested.emit(path)

    # -- driven by the controller -----------------------------------------------------------------
    def set_params(self, params: dict) -> None:
        """Show parameter values without emitting ``params_edited``."""
        setters = {
            "cam_method": self.cam_method.setCurrentText, "cam_shifts": self.cam_shifts.setValue,
            "cam_stride": lambda v: self.cam_stride.setCurrentText(str(int(v))),
            "threshold": self.threshold.setValue,
            "gate": self.gate.setValue, "uss": self.uss.setCurrentText, "n_segments": self.n_segments.setValue,
            "fit": self.fit.setChecked,
        }
        for name, value in params.items():
            if name in setters:
                widget = getattr(self, name)
                blocked = widget.blockSignals(True)
                try:
                    setters[name](value)
                finally:
                    widget.blockSignals(blocked)

    def params(self) -> dict:
        """The values the controls show."""
        return {
            "cam_method": self.cam_method.currentText(), "cam_shifts": int(self.cam_shifts.value()),
            "cam_stride": int(self.cam_stride.currentText()),
            "threshold": round(float(self.threshold.value()), 4),
            "gate": round(float(self.gate.value()), 4), "uss": self.uss.currentText(),
            "n_segments": int(self.n_segments.value()), "fit": self.fit.isChecked(),
        }

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        for b in (self.calibrate_button, self.learn_button, self.load_model_button, self.demo_model_button):
            b.setEnabled(not busy)

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

    def set_statuses(self, statuses, proposed=None, current: int = -1) -> None:
        self.strip.set_statuses(statuses, proposed, current)

    def set_shortcut_hints(self, hints: dict) -> None:
        """``{"accept": "A", ...}``: shown in the buttons' text and tooltips."""
        tips = {"accept": "Accept the slice's label as it stands",
                "reject": "Reject: the slice shows no lesion (its label becomes empty)",
                "next": "Go to the next unreviewed slice"}
        for name, button in (("accept", self.accept_button), ("reject", self.reject_button),
                             ("next", self.next_button)):
            key = hints.get(name)
            if key:
                base = button.text().split(" [")[0]
                button.setText(f"{base} [{key}]")
                button.setToolTip(f"{tips[name]} (shortcut: {key})")

    def set_learn_available(self, available: bool) -> None:
        self.learn_button.setVisible(bool(available))

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #e05050;" if error else "")
        self.message.setText(text)
