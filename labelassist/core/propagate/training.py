"""Making and training the segmenter: a new one, or a copy of one from earlier volumes to fine-tune; the
optimisation settings; the training loop; the training record kept in its metadata."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from labelassist.core.nets.inputs import MODEL_MEAN, MODEL_STD
from labelassist.core.nets.segmenter_checkpoint import Segmenter
from labelassist.core.nets.unet import build_unet
from labelassist.core.propagate.data import augment, crop_batch, segmenter_loss, working_size
from labelassist.core.propagate.targets import TrainingSet
from labelassist.errors import Cancelled, ParameterError

__all__ = ["TrainingSettings", "training_settings", "new_segmenter", "fine_tune_copy", "train_segmenter",
           "record_training", "NEW_SEGMENTER_STEPS", "FINE_TUNE_STEPS", "NEW_SEGMENTER_LR", "FINE_TUNE_LR",
           "BATCH_SIZE", "CONTEXT", "MAX_SIZE", "CROP", "PRIOR_PROBABILITY"]

# -- what a new segmenter sees -------------------------------------------------------------------------
# Neighbouring slices on each side given as extra channels (2.5-D): a lesion goes on from slice to slice.
CONTEXT = 1
# Longest side (pixels) of the working grid: small lesions stay visible, training stays well under a minute
# on two CPU cores.
MAX_SIZE = 128
# Side (pixels of the working grid) of the training crops, most around a lesion.
CROP = 64
# The intensity scaling the segmenter's inputs get (normalise_volume's defaults), recorded in its metadata.
NORMALISATION = {"method": "percentile", "low": 0.5, "high": 99.5, "mean": MODEL_MEAN, "std": MODEL_STD}
# A new segmenter starts out calling every pixel lesion with this probability (its output bias; issue 27), not
# 0.5: lesion is a few per cent of a batch at most. The lesion weight floor (data.LESION_WEIGHT_FLOOR) is what
# took the net off the all-background plateau; the bias only helps its first steps. Measured (true masks on every
# 6th slice of 4 demo volumes, seeds 37 and 41, lesion Dice of the other slices): 0.01 0.855/0.172/0.910/0.000,
# 0.3 0.852/0.130/0.917/0.000, 0.5 0.839/0.053/0.918/0.016 (easy/hard/easy/hard); but from 0.01 a short training
# (60 steps) covered only 37 % of an undrawn disc with its suggestion (0.3: 83 %; tests/core/test_suggest.py).
PRIOR_PROBABILITY = 0.3

# -- optimisation --------------------------------------------------------------------------------------
# Steps of a new segmenter: enough to learn a few reviewed slices at the working size.
NEW_SEGMENTER_STEPS = 200
# Steps of a segmenter from earlier volumes fine-tuned on this one: it starts near the answer.
FINE_TUNE_STEPS = 100
# Peak learning rates of the one-cycle schedule: from scratch, and gentler when fine-tuning so that the
# segmenter keeps what earlier volumes taught it.
NEW_SEGMENTER_LR = 1e-2
FINE_TUNE_LR = 3e-3
# Samples per training step.
BATCH_SIZE = 8
# AdamW's weight decay.
WEIGHT_DECAY = 1e-4
# Share of the steps the one-cycle schedule spends rising to the peak learning rate.
WARMUP_SHARE = 0.15

# -- the training record -------------------------------------------------------------------------------
# Training runs kept in ``meta["training"]["history"]`` (the latest).
HISTORY_LENGTH = 50
# The loss a run reports: the mean of its last this many steps.
LOSS_WINDOW = 20


@dataclass(frozen=True)
class TrainingSettings:
    """How one training run optimises: ``steps`` of ``batch_size`` samples (``crop`` squares, or whole slices
    when None) at peak learning rate ``lr``; ``seed`` makes sampling and augmentation reproducible."""

    steps: int
    lr: float
    batch_size: int
    crop: int | None
    seed: int


def training_settings(*, fine_tune: bool, learn: bool, steps: int | None, lr: float | None, batch_size: int,
                      crop: int | None, seed: int) -> TrainingSettings:
    """The settings of a run; ``steps`` and ``lr`` default to those of a new or a ``fine_tune``d segmenter.

    A segmenter from earlier volumes that has nothing to ``learn`` (no reviewed slice shows a lesion) gets 0
    steps: 100 steps on lesion-free slices alone after a lesion-free volume wiped out all it had learnt from
    the volumes before (probability 0.00 on every lesion, its training volumes' too); it only predicts.
    """
    if fine_tune:
        steps = (FINE_TUNE_STEPS if learn else 0) if steps is None else (steps if learn else 0)
        lr = FINE_TUNE_LR if lr is None else lr
    else:
        steps = NEW_SEGMENTER_STEPS if steps is None else steps
        lr = NEW_SEGMENTER_LR if lr is None else lr
    return TrainingSettings(steps=steps, lr=lr, batch_size=batch_size, crop=crop, seed=seed)


def new_segmenter(n_image: int, slice_shape, *, use_cam: bool, context: int, max_size: int, base_channels: int,
                  depth: int, threshold: float, seed: int, device) -> Segmenter:
    """An untrained segmenter for volumes of ``n_image`` channels and slices of ``slice_shape``.

    Its inputs: each slice with ``context`` neighbours per side, plus the CAM when ``use_cam``, at a working
    size of at most ``max_size``; ``seed`` makes the initial weights reproducible. It starts at probability
    :data:`PRIOR_PROBABILITY` everywhere (its output bias).
    """
    import torch

    size = working_size(slice_shape, max_size, depth)
    meta = {"arch": "unet", "in_channels": n_image * (2 * context + 1) + use_cam,
            "image_channels": n_image * (2 * context + 1), "base_channels": base_channels, "depth": depth,
            "input_size": size, "context": context, "use_cam": use_cam, "threshold": threshold,
            "normalisation": dict(NORMALISATION),
            "training": {"runs": 0, "reviewed_slices": 0, "steps": 0, "history": []}}
    torch.manual_seed(seed)
    net = build_unet(meta["in_channels"], base_channels=base_channels, depth=depth)
    with torch.no_grad():
        net.head.bias.fill_(float(np.log(PRIOR_PROBABILITY / (1 - PRIOR_PROBABILITY))))
    return Segmenter(net.to(device), meta)


def fine_tune_copy(model: Segmenter, n_image: int, *, seed: int, device) -> Segmenter:
    """A copy of ``model`` (left as it is) on ``device``, when it takes volumes of ``n_image`` channels."""
    import torch

    meta = copy.deepcopy(model.meta)
    given = n_image * (2 * int(meta["context"]) + 1)
    if int(meta["image_channels"]) != given:
        raise ParameterError(f"the segmenter was trained on {meta['image_channels']} image channels; this volume "
                             f"gives {given}: use a segmenter trained on alike volumes")
    torch.manual_seed(seed)
    return Segmenter(copy.deepcopy(model.net).to(device), meta)


def train_segmenter(segmenter: Segmenter, data: TrainingSet, settings: TrainingSettings, *, device,
                    progress: Callable[[int, int], None] | None = None, cancel: Callable[[], bool] | None = None,
                    total: int | None = None) -> list[float]:
    """Train ``segmenter`` (its U-Net, on ``device``) in place on batches drawn from ``data``; returns the loss
    of every step.

    The image channels of its inputs (``meta["image_channels"]``) get the intensity jitter, not the CAM.
    ``progress(step, total)`` is called after every step (``total`` defaults to ``settings.steps``);
    ``cancel()`` is checked before each and raises :class:`~labelassist.errors.Cancelled`.
    """
    import torch

    net, image_channels = segmenter.net, int(segmenter.meta["image_channels"])

    rng = np.random.default_rng(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    opt = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=max(settings.steps, 1),
                                                pct_start=WARMUP_SHARE)
    losses = []
    net.train()
    for step in range(settings.steps):
        if cancel is not None and cancel():
            raise Cancelled()
        pick = data.draw(rng, settings.batch_size)
        xb, yb, wb = augment(data.x[pick], data.targets[pick], data.weights[pick], gen, image_channels)
        if settings.crop and settings.crop < xb.shape[-1]:
            xb, yb, wb = crop_batch(xb, yb, wb, settings.crop, rng)
        xb, yb, wb = xb.to(device), yb.to(device), wb.to(device)
        opt.zero_grad()
        loss = segmenter_loss(net(xb), yb, wb, data.is_truth(pick).to(device))
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, settings.steps if total is None else total)
    return losses


def run_loss(losses) -> float | None:
    """The loss a run reports: the mean over its last :data:`LOSS_WINDOW` steps (None without steps)."""
    return round(float(np.mean(losses[-LOSS_WINDOW:])), 4) if losses else None


def record_training(meta: dict, run: dict, *, reviewed: int, steps: int) -> None:
    """Count a run of ``steps`` on ``reviewed`` slices into ``meta["training"]``, its record ``run`` kept in
    the history (the latest :data:`HISTORY_LENGTH`)."""
    tr = meta["training"]
    tr["runs"] = int(tr.get("runs", 0)) + 1
    tr["reviewed_slices"] = int(tr.get("reviewed_slices", 0)) + reviewed
    tr["steps"] = int(tr.get("steps", 0)) + steps
    tr["history"] = (list(tr.get("history", [])) + [run])[-HISTORY_LENGTH:]
