"""File > Train a model: a classifier from the reviewer's own yes/no per slice, trained in the engine thread.

Yes/no comes from the review: an accepted or corrected slice with a lesion voxel is "yes", a rejected
slice (the reviewer's "no lesion") or an accepted empty one is "no"; unreviewed slices are left out. The
reviewed slices of the other recent volumes (their saved sessions) can join, which also gives a validation
split by volume. The job reports progress, cancels between batches (after the first epoch the best model so
far is kept) and, when done, the new checkpoint is loaded into the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

from labelassist.core.review import ACCEPTED, CORRECTED, REJECTED

__all__ = ["slice_labels", "train_job", "start", "open_dialog", "TrainDialog", "JOB"]

JOB = "train"


def slice_labels(state) -> tuple[list[int], np.ndarray]:
    """(reviewed slice indices, their 0/1 labels) of a :class:`~labelassist.core.review.ReviewState`."""
    idx = state.reviewed_indices((ACCEPTED, CORRECTED, REJECTED))
    y = [0 if state.statuses[i] == REJECTED else int(state.labels[i].any()) for i in idx]
    return idx, np.asarray(y, np.int64)


def _other_volumes(paths, exclude) -> tuple[list, list]:
    """Reviewed slices of other volumes that have a saved session (read in the engine thread)."""
    from labelassist.io import load_volume
    from labelassist.io.session import default_export_path, load_session

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
            volumes.append(vol.array[idx])
            labels.append(y)
    return volumes, labels


def train_job(ctx, progress, cancel, *, volumes, labels, others=(), exclude=None, output, **options):
    """Engine-thread job (``ctx``: the engine's :class:`~labelassist.engine.jobs.JobContext`): train, write the
    checkpoint, return ``{"path", "cancelled", "record", "n_volumes"}``."""
    from labelassist.core.classify.train import train_classifier

    volumes, labels = list(volumes), list(labels)
    more_v, more_l = _other_volumes(others, exclude)
    volumes += more_v
    labels += more_l

    def on_batch(info):
        if "batch" in info:
            progress((info["epoch"] - 1) * info["batches"] + info["batch"], info["epochs"] * info["batches"])

    result = train_classifier(volumes, labels, device=ctx.device, checkpoint=output,
                              progress=on_batch, cancel=cancel, val_fraction=0.2 if len(volumes) > 1 else 0.0,
                              **options)
    return {"path": str(output), "cancelled": result.cancelled, "record": result.meta.get("training", {}),
            "n_volumes": len(volumes)}


class TrainDialog(QDialog):
    """Options of a training run on the reviewed slices."""

    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Train a model from the reviewed slices")
        st = window.controller.state
        idx, y = slice_labels(st)
        self.summary = QLabel(f"This volume: {len(idx)} reviewed slices, {int(y.sum())} with a lesion (yes), "
                              f"{int(len(y) - y.sum())} without (no).")
        self.summary.setWordWrap(True)
        others = [p for p in window.settings.recent() if window.path is None or p.resolve() != window.path.resolve()]
        self.others = others
        self.include = QCheckBox(f"Also the reviewed slices of {len(others)} recent volume(s) with a saved session")
        self.include.setChecked(bool(others))
        self.include.setEnabled(bool(others))
        meta = window.controller.engine.model_info.get("meta", {})
        self.arch = QComboBox()
        self.arch.addItems(["resnet18", "resnet34", "resnet50"])
        self.input_size = QSpinBox()
        self.input_size.setRange(32, 512)
        self.input_size.setSingleStep(32)
        self.input_size.setValue(int(meta.get("input_size", 96)))
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(12)
        export = window.controller.export_path
        default = export.with_name(export.name.split(".")[0].removesuffix("_labels") + "_classifier.pt")
        self.output = QLineEdit(str(default))
        browse = QPushButton("...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.output, 1)
        row.addWidget(browse)
        form = QFormLayout(self)
        form.addRow(self.summary)
        form.addRow(self.include)
        form.addRow("Architecture", self.arch)
        form.addRow("Input size", self.input_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("Save to", row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Train")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save the classifier", self.output.text(), "Checkpoints (*.pt)")
        if path:
            self.output.setText(path)

    def options(self) -> dict:
        return {"arch": self.arch.currentText(), "input_size": self.input_size.value(), "epochs": self.epochs.value(),
                "output": Path(self.output.text()).expanduser(),
                "others": [str(p) for p in self.others] if self.include.isChecked() else []}


def start(window, *, output, others=(), **options):
    """Post the training job for ``window``'s review and follow it: the trained model is loaded when it
    returns. Returns the :class:`~labelassist.engine.jobs.Job` (None: nothing to train on, said)."""
    c = window.controller
    idx, y = slice_labels(c.state)
    if not len(idx) and not others:
        window.show_error("Training needs reviewed slices: accept, correct or reject some first")
        return None
    volumes = [c.volume.array[idx]] if len(idx) else []
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
