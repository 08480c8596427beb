"""Training the slice classifier from image-level labels ("this slice shows a lesion": yes/no).

From scratch (nothing can be downloaded), split by volume, class-balanced, augmented for MRI and
ultrasound (flips, small rotation/scale, intensity jitter), early stopping on validation AUC, and
cancellable between batches keeping the best checkpoint so far. Each volume becomes its model inputs once
(:func:`model_inputs`); batches are gathered from them by index, so they may be memory maps or readers of
files that the caller wrote volume by volume (``labelassist train`` does). The data steps are in
:mod:`~labelassist.core.classify.data`, the validation figures in :mod:`~labelassist.core.classify.validation`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labelassist.core.classify.data import (SliceSet, augment, check_model_inputs, check_training_data, data_hash,
                                            labels_from_mask, model_inputs, split_volumes)
from labelassist.core.classify.params import MIN_BATCH, MIN_INPUT_SIZE, TRAIN_PARAMS
from labelassist.core.classify.validation import evaluate, roc_auc
from labelassist.core.nets.checkpoint import default_meta, load_checkpoint, save_checkpoint
from labelassist.core.nets.classifier import build_classifier
from labelassist.errors import Cancelled, ParameterError

__all__ = ["TrainResult", "train_classifier", "train_classifier_from_inputs", "model_inputs", "labels_from_mask",
           "roc_auc", "data_hash", "TRAIN_PARAMS", "ARCH", "POOL", "EPOCHS", "BATCH_SIZE", "LR", "INPUT_SIZE",
           "OUTPUT_STRIDE", "VAL_FRACTION", "PATIENCE", "SEED", "MIN_INPUT_SIZE"]

# Defaults of train_classifier (and of 'labelassist train' and the app's training dialog): read from the
# options' declarations (labelassist.core.classify.params), never written here.
ARCH = TRAIN_PARAMS["arch"].default
INPUT_SIZE = TRAIN_PARAMS["input_size"].default
OUTPUT_STRIDE = TRAIN_PARAMS["output_stride"].default
POOL = TRAIN_PARAMS["pool"].default
EPOCHS = TRAIN_PARAMS["epochs"].default
BATCH_SIZE = TRAIN_PARAMS["batch_size"].default
LR = TRAIN_PARAMS["lr"].default
VAL_FRACTION = TRAIN_PARAMS["val_fraction"].default
PATIENCE = TRAIN_PARAMS["patience"].default
SEED = TRAIN_PARAMS["seed"].default
HALF = TRAIN_PARAMS["half"].default
# Validation batches hold this many times the training batch (no gradients).
VAL_BATCH_FACTOR = 2
# AdamW's weight decay.
WEIGHT_DECAY = 1e-4
# Floor of a class's share when its loss weight (0.5 / share) is computed: a class absent from the training
# volumes does not divide by zero.
MIN_CLASS_SHARE = 1e-3


@dataclass
class TrainResult:
    """What :func:`train_classifier` returns: the best model (eval mode), its checkpoint metadata with the
    ``training`` record, the per-epoch history, and whether a cancel ended the training."""

    model: object
    meta: dict
    history: list = field(default_factory=list)
    cancelled: bool = False


def _check_options(options: dict, *, n_volumes, n_labels, init, checkpoint) -> None:
    """Check the training ``options`` by their declarations (one line naming the option), then the number of
    label arrays and the files."""
    TRAIN_PARAMS.check(options)
    if n_volumes == 0 or n_volumes != n_labels:
        raise ParameterError(f"need one label array per volume; got {n_volumes} volumes, {n_labels} label arrays")
    if init is not None and checkpoint is not None and Path(init).resolve() == Path(checkpoint).resolve():
        raise ParameterError(f"init and the output are the same file {Path(init).name}; write the new model elsewhere")


def _warm_start(model, init, *, arch, in_channels) -> dict:
    """Load the weights of checkpoint ``init`` into ``model``; returns what the new record says of it."""
    start, start_meta = load_checkpoint(init)
    if start_meta["arch"] != arch or int(start_meta["in_channels"]) != in_channels:
        raise ParameterError(f"init {Path(init).name} is a {start_meta['arch']} with {start_meta['in_channels']} input "
                             f"channels; this training needs a {arch} with {in_channels}: start from a matching model")
    model.load_state_dict(start.state_dict())
    rec = start_meta.get("training", {})
    return {"file": Path(init).name, "output_stride": start_meta.get("output_stride"),
            "data_hash": rec.get("data_hash"), "val_auc": rec.get("val_auc")}


@dataclass
class _Epochs:
    """What one training does epoch after epoch: the optimisation, the history and the best epoch so far."""

    model: object
    opt: object
    loss_fn: object
    gen: object
    batch_size: int
    device: object
    history: list = field(default_factory=list)
    best_key: tuple | None = None
    best_record: dict | None = None
    best_state: dict | None = None
    since_best: int = 0

    def train_one(self, x, y, *, cancel=None, on_batch=None) -> dict:
        """One pass over ``x`` in a random order; returns the mean loss and accuracy of the batches."""
        import torch

        self.model.train()
        order = torch.randperm(len(x), generator=self.gen)
        n_batches = (len(x) + self.batch_size - 1) // self.batch_size
        run_loss = run_hits = seen = 0
        for b in range(n_batches):
            if cancel is not None and cancel():
                raise Cancelled()
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            if len(idx) < MIN_BATCH:
                continue
            xb = augment(x[idx], self.gen)
            if xb.shape[1] == 1:
                xb = xb.expand(-1, 3, -1, -1)
            xb, yb = xb.to(self.device), y[idx].to(self.device)
            self.opt.zero_grad()
            out = self.model(xb)
            loss = self.loss_fn(out, yb)
            loss.backward()
            self.opt.step()
            run_loss += float(loss.detach()) * len(idx)
            run_hits += int((out.argmax(1) == yb).sum())
            seen += len(idx)
            if on_batch is not None:
                on_batch(b + 1, n_batches, run_loss / max(seen, 1), run_hits / max(seen, 1))
        return {"loss": run_loss / max(seen, 1), "accuracy": run_hits / max(seen, 1)}

    def keep_if_best(self, record: dict) -> bool:
        """Count ``record`` into the history; keep the model's weights when it is the best epoch so far
        (validation AUC first, then the lower loss). True when it is."""
        self.history.append(record)
        auc = record.get("val_auc")
        key = (auc if auc is not None else -1.0, -record.get("val_loss", record["loss"]))
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best_record, self.since_best = key, record, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
            return True
        self.since_best += 1
        return False


def _run_epochs(run: _Epochs, sched, x_tr, y_tr, val, *, epochs, patience, progress, cancel, save) -> bool:
    """Epochs until ``epochs``, ``patience`` epochs without a better one, or a cancel; ``save(best, history)``
    after every improvement. Returns whether a cancel (or Ctrl-C) ended it after at least one epoch."""
    try:
        for epoch in range(1, epochs + 1):
            report = None if progress is None else (
                lambda b, n, loss, acc, epoch=epoch: progress({"epoch": epoch, "epochs": epochs, "batch": b,
                                                               "batches": n, "loss": loss, "accuracy": acc}))
            record = {"epoch": epoch, **run.train_one(x_tr, y_tr, cancel=cancel, on_batch=report)}
            sched.step()
            if val is not None:
                record.update(evaluate(run.model, *val, run.batch_size * VAL_BATCH_FACTOR, run.device))
            if run.keep_if_best(record) and save is not None:
                run.model.eval()
                save(run.best_record, run.history)
            if progress is not None:
                progress({**record, "epochs": epochs, "end_of_epoch": True, "best_epoch": run.best_record["epoch"]})
            if run.since_best >= patience:
                break
    except (Cancelled, KeyboardInterrupt):
        if run.best_state is None:
            raise Cancelled() from None
        return True
    return False


def _training_record(meta, best, history, *, data: dict, started, seed, device) -> dict:
    """``meta`` with its ``training`` record: the ``data`` figures, the best epoch's and this run's."""
    out = copy.deepcopy(meta)
    out["training"] = {
        **data,
        "epochs_run": len(history),
        "best_epoch": best["epoch"],
        "val_auc": best.get("val_auc"),
        "val_accuracy": best.get("val_accuracy"),
        "val_accuracy_per_volume": best.get("val_accuracy_per_volume"),
        "val_loss": best.get("val_loss"),
        "train_loss": best["loss"],
        "seconds": round(time.perf_counter() - started, 1),
        "seed": seed,
        "device": str(device),
    }
    return out


def train_classifier(
    volumes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    arch: str = ARCH,
    input_size: int = INPUT_SIZE,
    output_stride: int = OUTPUT_STRIDE,
    pool: str = POOL,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    init=None,
    val_fraction: float = VAL_FRACTION,
    patience: int = PATIENCE,
    seed: int = SEED,
    device="cpu",
    checkpoint=None,
    half: bool = HALF,
    progress: Callable[[dict], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a classifier on slices with yes/no labels.

    Each volume's :func:`model_inputs` are computed here, in memory, then :func:`train_classifier_from_inputs`
    trains; a caller with more volumes than memory writes their inputs one by one and calls that instead.

    Parameters
    ----------
    volumes : sequence of ndarray (z, y, x[, c])
        Raw intensities (normalised here, per volume, like the pipeline does).
    labels : sequence of ndarray (z,)
        0/1 per slice.
    arch, input_size, output_stride, pool, epochs, batch_size, lr, val_fraction, patience, seed, half
        The training options, declared in :data:`~labelassist.core.classify.params.TRAIN_PARAMS` with their
        defaults, ranges and meaning (listed under Notes); a value it refuses is a one-line ParameterError naming
        the option.
    init : path, optional
        A classifier checkpoint to start from instead of random weights (a warm start, e.g. a model trained at
        output stride 16 fine-tuned at 8: the weights have the same shapes). Its arch and channels must match.
    device : str or torch.device
    checkpoint : path, optional
        Where the best model so far is written after every improvement (so an interruption keeps it).
    progress : callable(dict), optional
        Called after every batch with ``epoch``, ``epochs``, ``batch``, ``batches``, ``loss``, ``accuracy``
        and after every epoch with the validation figures too (``"end_of_epoch": True``).
    cancel : callable() -> bool, optional
        Checked between batches. A cancel (or Ctrl-C) after at least one epoch keeps the best model so far
        and returns it with ``cancelled=True``; before the first epoch ends it raises ``Cancelled``.

    Returns
    -------
    TrainResult

    Raises
    ------
    ParameterError
        One line naming the argument: an unknown arch or pool, labels that do not fit the volumes or hold one
        class only, options out of range, an ``init`` of another arch or the output file itself.
    """
    _check_options(dict(arch=arch, input_size=input_size, output_stride=output_stride, pool=pool, epochs=epochs,
                        batch_size=batch_size, lr=lr, val_fraction=val_fraction, patience=patience, seed=seed,
                        half=half), n_volumes=len(volumes), n_labels=len(labels), init=init, checkpoint=checkpoint)
    labels, _ = check_training_data(volumes, labels)
    inputs = [model_inputs(v, input_size=input_size) for v in volumes]
    return train_classifier_from_inputs(
        inputs, labels, arch=arch, output_stride=output_stride, pool=pool, epochs=epochs, batch_size=batch_size,
        lr=lr, init=init, val_fraction=val_fraction, patience=patience, seed=seed, device=device,
        checkpoint=checkpoint, half=half, progress=progress, cancel=cancel, data_hash=data_hash(volumes, labels))


def train_classifier_from_inputs(
    inputs: Sequence,
    labels: Sequence[np.ndarray],
    *,
    arch: str = ARCH,
    output_stride: int = OUTPUT_STRIDE,
    pool: str = POOL,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    init=None,
    val_fraction: float = VAL_FRACTION,
    patience: int = PATIENCE,
    seed: int = SEED,
    device="cpu",
    checkpoint=None,
    half: bool = HALF,
    progress: Callable[[dict], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    data_hash: str | None = None,
) -> TrainResult:
    """:func:`train_classifier` on each volume's precomputed :func:`model_inputs`; same model for the same seed.

    Parameters
    ----------
    inputs : sequence of arrays (z, C, s, s)
        Each volume's :func:`model_inputs` (float32, one ``s`` for all: the input size), as arrays, memory
        maps or anything with their ``shape`` that indexing by an integer array reads rows of: each batch is
        gathered from them by index, nothing else is copied.
    labels : sequence of ndarray (z,)
        0/1 per slice.
    data_hash : str, optional
        The raw volumes' fingerprint (:func:`~labelassist.core.classify.data.data_hash`) for the record.
    arch, output_stride, pool, epochs, batch_size, lr, init, val_fraction, patience, seed, device, checkpoint, \
    half, progress, cancel
        As in :func:`train_classifier`.

    Returns
    -------
    TrainResult

    Raises
    ------
    ParameterError
        As :func:`train_classifier`; also inputs that are not (z, C, s, s) of one size.
    """
    import torch

    _check_options(dict(arch=arch, output_stride=output_stride, pool=pool, epochs=epochs, batch_size=batch_size,
                        lr=lr, val_fraction=val_fraction, patience=patience, seed=seed, half=half),
                   n_volumes=len(inputs), n_labels=len(labels), init=init, checkpoint=checkpoint)
    labels, n_ch = check_model_inputs(inputs, labels)
    input_size = TRAIN_PARAMS["input_size"].check(int(inputs[0].shape[-1]), name="the inputs' size")
    in_channels = 3 if n_ch == 1 else n_ch
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train_idx, val_idx = split_volumes(len(inputs), val_fraction, labels, rng)
    train = SliceSet(inputs, labels, train_idx)
    val = SliceSet(inputs, labels, val_idx) if val_idx else None
    model = build_classifier(arch, in_channels=in_channels, output_stride=output_stride, pool=pool)
    init_record = None if init is None else _warm_start(model, init, arch=arch, in_channels=in_channels)
    model = model.to(device)
    pos = float(train.y.float().mean())  # class-balanced: each class weighs half the loss
    weights = torch.tensor([0.5 / max(1 - pos, MIN_CLASS_SHARE), 0.5 / max(pos, MIN_CLASS_SHARE)],
                           dtype=torch.float32, device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    run = _Epochs(model, opt, torch.nn.CrossEntropyLoss(weight=weights), gen, batch_size, device)
    meta = default_meta(arch, in_channels=in_channels, input_size=input_size, output_stride=output_stride, pool=pool)
    if init_record is not None:
        meta["init"] = init_record
    data = {"data_hash": data_hash, "volumes_train": len(train_idx), "volumes_val": len(val_idx),
            "slices": int(sum(len(lab) for lab in labels)),
            "positive_slices": int(sum(int(lab.sum()) for lab in labels))}
    started = time.perf_counter()

    def record(best, history):
        return _training_record(meta, best, history, data=data, started=started, seed=seed, device=device)

    save = None if checkpoint is None else (lambda best, history: save_checkpoint(
        model, checkpoint, meta=record(best, history), half=half))
    cancelled = _run_epochs(run, sched, train, train.y, None if val is None else (val, val.y, val.volume),
                            epochs=epochs, patience=patience, progress=progress, cancel=cancel, save=save)
    model.load_state_dict(run.best_state)
    model.eval()
    meta = record(run.best_record, run.history)
    meta["training"]["cancelled"] = cancelled
    if checkpoint is not None:
        save_checkpoint(model, checkpoint, meta=meta, half=half)
    return TrainResult(model=model, meta=meta, history=run.history, cancelled=cancelled)


train_classifier.__doc__ += TRAIN_PARAMS.describe()
