"""File > Train a model (the app) and Train classifier... (the napari dock): a classifier from the reviewer's own
yes/no per slice, trained in the engine thread.

The host (the app's main window, the napari dock widget) is a QWidget with ``controller`` (the
:class:`~labelassist.widgets.controller.ReviewController`), ``path`` (the volume's file, or None), ``settings``
(its ``recent()`` volumes, whose sessions may join), ``message(text)``, ``show_error(text)``, a
``training_job`` attribute and, optionally, ``study`` (a :class:`~labelassist.widgets.study_list.StudyList`: the
study's other volumes may join too).

Yes/no comes from the review: a slice marked *lesion* (Y) or accepted or corrected with a lesion voxel is "yes",
a rejected slice (the reviewer's "no lesion", R) or an accepted empty one is "no"; other slices are left out. The
reviewed slices of the other recent volumes (their saved sessions) can join, which also gives a validation
split by volume. The job reports progress, cancels between batches (after the first epoch the best model so
far is kept) and, when done, the new checkpoint is loaded into the engine.

The dialog's widgets are built from the classifier's training options
(:data:`~labelassist.core.classify.params.TRAIN_PARAMS`), with the same defaults and ranges as
``labelassist train`` and ``train_classifier``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)
from superqt import QCollapsible

from labelassist.core.classify.params import TRAIN_PARAMS
from labelassist.errors import ParameterError
from labelassist.io.formats.us_regions import scan_view
from labelassist.widgets.control_panel import ParamControl, param_control

__all__ = ["slice_labels", "train_job", "start", "open_dialog", "TrainDialog", "option_control", "JOB"]

JOB = "train"


def slice_labels(state) -> tuple[list[int], np.ndarray]:
    """(slice indices, their 0/1 labels) of a :class:`~labelassist.core.review.ReviewState`: its yes/no
    (:meth:`~labelassist.core.review.ReviewState.yes_no`)."""
    return state.yes_no()


def _other_volumes(paths, exclude) -> tuple[list, list]:
    """Reviewed slices of other volumes that have a saved session (read in the engine thread)."""
    from labelassist.io import load_volume
    from labelassist.io.sessions.session import default_export_path, load_session

    volumes, labels = [], []
    for path in paths:
        if exclude is not None and Path(path).resolve() == Path(exclude).resolve():
            continue
        try:
            vol = load_volume(path)
            state = load_session(default_export_path(vol), like=vol)
        except Exception:  # noqa: BLE001 - a recent file that moved or broke is simply left out
            continue
        if state is None:
            continue
        idx, y = slice_labels(state)
        if len(idx):
            volumes.append(scan_view(vol)[idx])  # an ultrasound scan area cut as the pipeline cuts it
            labels.append(y)
    return volumes, labels


def train_job(ctx, progress, cancel, *, volumes, labels, others=(), exclude=None, output, **options):
    """Engine-thread job (``ctx``: the engine's :class:`~labelassist.engine.jobs.JobContext`): train, write the
    checkpoint, return ``{"path", "cancelled", "record", "n_volumes"}``.

    ``options`` are training options (:data:`~labelassist.core.classify.params.TRAIN_PARAMS`); those not
    given keep their declared defaults (a single volume has no validation split, whatever ``val_fraction``).
    """
    from labelassist.core.classify.train import train_classifier

    volumes, labels = list(volumes), list(labels)
    more_v, more_l = _other_volumes(others, exclude)
    volumes += more_v
    labels += more_l

    def on_batch(info):
        if "batch" in info:
            progress((info["epoch"] - 1) * info["batches"] + info["batch"], info["epochs"] * info["batches"])

    result = train_classifier(volumes, labels, device=ctx.device, checkpoint=output, progress=on_batch, cancel=cancel,
                              **options)
    return {"path": str(output), "cancelled": result.cancelled, "record": result.meta.get("training", {}),
            "n_volumes": len(volumes)}


def option_control(spec, parent=None) -> ParamControl:
    """The widget of one training option (its tooltip: the option's help).

    A bool, a choice or an integer gets the control panel's widget
    (:func:`~labelassist.widgets.control_panel.param_control`: its range and step from the declaration); a float
    a line edit, since a learning rate is typed as ``3e-4``: its ``get()`` parses the text by the declaration
    and raises the one-line :class:`~labelassist.errors.ParameterError`, naming the option's label, for a value
    out of range.
    """
    if spec.type is not float:
        return param_control(spec, parent)
    w = QLineEdit(parent)
    ctl = ParamControl(spec, w, lambda: spec.parse(w.text(), name=spec.label),
                       lambda v: w.setText(format(float(v), "g")), w.editingFinished)
    w.setToolTip(f"{spec.help} ({spec.allowed})")
    ctl.set(spec.default)
    return ctl


class TrainDialog(QDialog):
    """Options of a training run on the reviewed slices: one widget per classifier training option, built
    from :data:`~labelassist.core.classify.params.TRAIN_PARAMS` with its declared default (the ``advanced``
    ones in a collapsed "More" section), and where to save the model.

    :attr:`controls` maps each option to its :class:`~labelassist.widgets.control_panel.ParamControl`; each
    widget is also the dialog's attribute of the option's name (``dialog.input_size``). Train with a value the
    declaration refuses shows its one-line message and keeps the dialog open.
    """

    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Train a model from the reviewed slices")
        idx, y = slice_labels(window.controller.state)
        self.summary = QLabel(f"This volume: {len(idx)} reviewed slices, {int(y.sum())} with a lesion (yes), "
                              f"{int(len(y) - y.sum())} without (no).")
        self.summary.setWordWrap(True)
        study = getattr(window, "study", None)  # the study list's volumes, then the recent ones, each once
        listed = [e.path for e in study.entries] if study is not None else []
        others, seen = [], {None if window.path is None else window.path.resolve()}
        for p in [*listed, *window.settings.recent()]:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                others.append(p)
        self.others = others
        self.include = QCheckBox(f"Also the reviewed slices of {len(others)} other volume(s) of the study list and "
                                 "the recent ones, where a session is saved")
        self.include.setChecked(bool(others))
        self.include.setEnabled(bool(others))
        export = window.controller.export_path
        default = export.with_name(export.name.split(".")[0].removesuffix("_labels") + "_classifier.pt")
        self.output = QLineEdit(str(default))
        browse = QPushButton("...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.output, 1)
        row.addWidget(browse)
        self.error = QLabel()
        self.error.setStyleSheet("color: #c62828")
        self.error.setWordWrap(True)
        self.error.hide()
        form = QFormLayout(self)
        form.addRow(self.summary)
        form.addRow(self.include)
        self._option_rows(form)
        form.addRow("Save to", row)
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Train")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _option_rows(self, form: QFormLayout) -> None:
        """One row per training option: the plain ones in ``form``, the advanced ones in "More"."""
        self.more = QCollapsible("More", self)  # collapsed until the user opens it
        self.more.layout().setContentsMargins(0, 0, 0, 0)
        more = QWidget(self.more)
        forms = {False: form, True: QFormLayout(more)}
        self.controls: dict[str, ParamControl] = {}
        for spec in TRAIN_PARAMS:
            ctl = option_control(spec, more if spec.advanced else self)
            self.controls[spec.name] = ctl
            setattr(self, spec.name, ctl.widget)
            if spec.type is bool:
                forms[spec.advanced].addRow(ctl.widget)
            else:
                forms[spec.advanced].addRow(spec.label, ctl.widget)
        self.more.addWidget(more)
        form.addRow(self.more)

    def _browse(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save the classifier", self.output.text(), "Checkpoints (*.pt)")
        if path:
            self.output.setText(path)

    def values(self) -> dict:
        """``{option: value}`` of every training option as shown, checked by its declaration.

        Raises
        ------
        ParameterError
            One line naming the option's label: a value its declaration refuses.
        """
        labels = {s.name: s.label for s in TRAIN_PARAMS}
        return TRAIN_PARAMS.check({name: ctl.get() for name, ctl in self.controls.items()}, names=labels)

    def options(self) -> dict:
        """The keyword arguments of :func:`start`: the training options, ``output`` and ``others``."""
        return {**self.values(), "output": Path(self.output.text()).expanduser(),
                "others": [str(p) for p in self.others] if self.include.isChecked() else []}

    def accept(self):
        """Close with Train only when every option is acceptable; else say which one is not, in one line."""
        try:
            self.values()
        except ParameterError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.error.hide()
        super().accept()


def start(window, *, output, others=(), **options):
    """Post the training job for ``window``'s review and follow it: the trained model is loaded when it
    returns. Returns the :class:`~labelassist.engine.jobs.Job` (None: nothing to train on, said)."""
    c = window.controller
    idx, y = slice_labels(c.state)
    if not len(idx) and not others:
        window.show_error("Training needs reviewed slices: accept, correct or reject some first")
        return None
    volumes = [scan_view(c.volume)[idx]] if len(idx) else []
    labels = [y] if len(idx) else []
    window.message(f"Training a classifier on {len(idx)} reviewed slices" + (" and other volumes" if others else "")
                   + " (Esc cancels)")
    job = c.engine.call(JOB, train_job, volumes=volumes, labels=labels, others=list(others),
                        exclude=window.path, output=Path(output), **options)
    job.returned.connect(lambda info: on_trained(window, info))
    job.cancelled.connect(lambda: window.message("Training cancelled before the first epoch ended: no model"))
    window.training_job = job
    return job


def on_trained(window, info: dict) -> None:
    """Say how the training went and load the trained model."""
    rec = info["record"]
    auc = rec.get("val_auc")
    window.message(f"Trained {Path(info['path']).name}{' (cancelled: best so far)' if info['cancelled'] else ''}: "
                   f"{rec.get('epochs_run')} epochs" + (f", validation AUC {auc:.2f}" if auc is not None else "")
                   + "; loading it")
    window.controller.load_model(info["path"])


def open_dialog(window) -> None:
    if window.controller.state is None:
        window.show_error("Open a volume and review some slices first")
        return
    dlg = TrainDialog(window)
    if dlg.exec() == QDialog.DialogCode.Accepted:
        start(window, **dlg.options())
