"""Training the slice classifier from image-level labels ("this slice shows a lesion": yes/no).

From scratch (nothing can be downloaded), split by volume, class-balanced, augmented for MRI and
ultrasound (flips, small rotation/scale, intensity jitter), early stopping on validation AUC, and
cancellable between batches keeping the best checkpoint so far.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labelassist.core.nets.augment import random_affine_theta
from labelassist.core.nets.checkpoint import default_meta, load_checkpoint, save_checkpoint
from labelassist.core.nets.classifier import ARCHS, POOLS, build_classifier
from labelassist.core.nets.inputs import MODEL_MEAN, MODEL_STD, normalise_volume, to_model_input
from labelassist.errors import Cancelled, ParameterError

__all__ = ["TrainResult", "train_classifier", "labels_from_mask", "roc_auc", "data_hash"]


@dataclass
class TrainResult:
    model: object
    meta: dict
    history: list = field(default_factory=list)
    cancelled: bool = False


def labels_from_mask(mask) -> np.ndarray:
    """Image-level labels of a mask volume (z, y, x): a slice is positive when it has any lesion voxel."""
    m = np.asarray(mask)
    return (np.nan_to_num(m.reshape(len(m), -1)) > 0.5).any(axis=1).astype(np.int64)


def roc_auc(labels, scores) -> float | None:
    """Area under the ROC curve (rank statistic, ties averaged); None when one class is absent."""
    from scipy.stats import rankdata

    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(np.asarray(scores, dtype=float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def data_hash(volumes, labels) -> str:
    h = hashlib.sha256()
    for v, lab in zip(volumes, labels):
        a = np.ascontiguousarray(v, dtype=np.float32)
        h.update(str(a.shape).encode())
        h.update(a[:: max(1, len(a) // 8)].tobytes())
        h.update(np.asarray(lab, np.int64).tobytes())
    return h.hexdigest()[:16]


def _augment(x, gen):
    """Flips, small rotation and scale, intensity jitter (gain, offset, gamma) on a normalised batch."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    flip_h = torch.rand(n, generator=gen) < 0.5
    flip_v = torch.rand(n, generator=gen) < 0.2
    x = torch.where(flip_h[:, None, None, None], x.flip(-1), x)
    x = torch.where(flip_v[:, None, None, None], x.flip(-2), x)
    theta = random_affine_theta(n, gen, degrees=20, scale=0.2, shift=0.1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x01 = (x * MODEL_STD + MODEL_MEAN).clamp(0, 1)
    x01 = F.grid_sample(x01, grid, align_corners=False, padding_mode="zeros")
    gamma = torch.exp((torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.5)
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.2
    offset = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.1
    x01 = (x01.clamp(1e-6, 1) ** gamma) * gain + offset
    return (x01 - MODEL_MEAN) / MODEL_STD


def _split(n_volumes, val_fraction, labels, rng):
    if n_volumes < 2 or val_fraction <= 0:
        return list(range(n_volumes)), []
    n_val = min(max(1, int(round(n_volumes * val_fraction))), n_volumes - 1)
    for _ in range(50):  # prefer a validation set holding both classes
        order = rng.permutation(n_volumes)
        val = sorted(order[:n_val].tolist())
        ys = np.concatenate([labels[i] for i in val])
        if 0 < ys.sum() < len(ys):
            break
    return sorted(order[n_val:].tolist()), val


def _evaluate(model, x, y, vol_index, batch_size, device):
    import torch

    model.eval()
    probs = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            xb = x[s : s + batch_size].to(device)
            if xb.shape[1] == 1:
                xb = xb.expand(-1, 3, -1, -1)
            probs.append(torch.softmax(model(xb), 1)[:, 1].cpu())
    p = torch.cat(probs).numpy()
    yy = y.numpy()
    eps = 1e-7
    loss = float(-np.mean(yy * np.log(p + eps) + (1 - yy) * np.log(1 - p + eps)))
    acc = float(np.mean((p >= 0.5) == yy))
    per_volume = [float(np.mean((p[vol_index == v] >= 0.5) == yy[vol_index == v])) for v in np.unique(vol_index)]
    return {"val_loss": loss, "val_auc": roc_auc(yy, p), "val_accuracy": acc,
            "val_accuracy_per_volume": float(np.mean(per_volume))}


def train_classifier(
    volumes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    arch: str = "resnet18",
    input_size: int = 128,
    output_stride: int = 16,
    pool: str = "avg",
    epochs: int = 12,
    batch_size: int = 32,
    lr: float = 1e-3,
    init=None,
    val_fraction: float = 0.2,
    patience: int = 6,
    seed: int = 0,
    device="cpu",
    checkpoint=None,
    half: bool = False,
    progress: Callable[[dict], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a classifier on slices with yes/no labels.

    Parameters
    ----------
    volumes : sequence of ndarray (z, y, x[, c])
        Raw intensities (normalised here, per volume, like the pipeline does).
    labels : sequence of ndarray (z,)
        0/1 per slice.
    arch, input_size, output_stride, epochs, batch_size, lr
        Model (``output_stride=16``: a CAM at twice torchvision's resolution) and optimisation.
    pool : {"avg", "max"}
        The classifier's pooling (see :func:`~labelassist.core.classifier.build_classifier`).
    init : path, optional
        A classifier checkpoint to start from instead of random weights (a warm start, e.g. a model trained at
        output stride 16 fine-tuned at 8: the weights have the same shapes). Its arch and channels must match.
    val_fraction : float in [0, 1)
        Share of VOLUMES held out for validation (never slices of a training volume).
    patience : int
        Epochs without a better validation AUC (or loss, without validation) before stopping.
    seed : int
        Makes the split, the initialisation, the sampling and the augmentation reproducible.
    device : str or torch.device
    checkpoint : path, optional
        Where the best model so far is written after every improvement (so an interruption keeps it).
    half : bool
        Store the checkpoint in float16.
    progress : callable(dict), optional
        Called after every batch with ``epoch``, ``epochs``, ``batch``, ``batches``, ``loss``, ``accuracy``
        and after every epoch with the validation figures too (``"end_of_epoch": True``).
    cancel : callable() -> bool, optional
        Checked between batches. A cancel (or Ctrl-C) after at least one epoch keeps the best model so far
        and returns it with ``cancelled=True``; before the first epoch ends it raises ``Cancelled``.
    """
    import torch

    if arch not in ARCHS:
        raise ParameterError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if pool not in POOLS:
        raise ParameterError(f"pool must be one of {', '.join(POOLS)}; got {pool!r}")
    if len(volumes) == 0 or len(volumes) != len(labels):
        raise ParameterError(f"need one label array per volume; got {len(volumes)} volumes, {len(labels)} label arrays")
    if not 0 <= val_fraction < 1:
        raise ParameterError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if not lr > 0:
        raise ParameterError(f"lr must be > 0, got {lr}")
    if init is not None and checkpoint is not None and Path(init).resolve() == Path(checkpoint).resolve():
        raise ParameterError(f"init and the output are the same file {Path(init).name}; write the new model elsewhere")
    if epochs < 1 or batch_size < 1 or input_size < 32:
        raise ParameterError("epochs and batch_size must be >= 1 and input_size >= 32")
    labels = [np.asarray(lab, np.int64).ravel() for lab in labels]
    for i, (v, lab) in enumerate(zip(volumes, labels)):
        if len(v) != len(lab):
            raise ParameterError(f"volume {i} has {len(v)} slices but {len(lab)} labels")
    all_y = np.concatenate(labels)
    if all_y.sum() == 0:
        raise ParameterError("every slice is labelled negative: the classifier needs slices that show a lesion")
    if all_y.sum() == len(all_y):
        raise ParameterError("every slice is labelled positive: the classifier needs slices without a lesion too")
    channels = {1 if v.ndim == 3 else v.shape[-1] for v in volumes}
    if len(channels) > 1:
        raise ParameterError(f"volumes have different channel counts {sorted(channels)}; train on one kind")
    n_ch = channels.pop()
    in_channels = 3 if n_ch == 1 else n_ch

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train_idx, val_idx = _split(len(volumes), val_fraction, labels, rng)

    def stack(idx):
        xs, ys, vs = [], [], []
        for i in idx:
            norm = normalise_volume(volumes[i])
            xs.append(to_model_input(norm, input_size=input_size, in_channels=n_ch if n_ch > 1 else 1))
            ys.append(torch.from_numpy(labels[i]))
            vs.append(np.full(len(labels[i]), i))
        if not xs:
            return None, None, None
        return torch.cat(xs), torch.cat(ys), np.concatenate(vs)

    x_tr, y_tr, _ = stack(train_idx)
    x_va, y_va, v_va = stack(val_idx)
    model = build_classifier(arch, in_channels=in_channels, output_stride=output_stride, pool=pool)
    init_record = None if init is None else _warm_start(model, init, arch=arch, in_channels=in_channels)
    model = model.to(device)
    pos = float(y_tr.float().mean())
    weights = torch.tensor([0.5 / max(1 - pos, 1e-3), 0.5 / max(pos, 1e-3)], dtype=torch.float32, device=device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    meta = default_meta(arch, in_channels=in_channels, input_size=input_size, output_stride=output_stride, pool=pool)
    if init_record is not None:
        meta["init"] = init_record
    best_state, best_key, best_record, since_best = None, None, None, 0
    history, started, cancelled = [], time.perf_counter(), False
    n_batches = (len(x_tr) + batch_size - 1) // batch_size
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(len(x_tr), generator=gen)
            run_loss = run_hits = seen = 0
            for b in range(n_batches):
                if cancel is not None and cancel():
                    raise Cancelled()
                idx = order[b * batch_size : (b + 1) * batch_size]
                if len(idx) < 2:
                    continue  # BatchNorm needs two samples
                xb = _augment(x_tr[idx], gen)
                if xb.shape[1] == 1:
                    xb = xb.expand(-1, 3, -1, -1)
                xb, yb = xb.to(device), y_tr[idx].to(device)
                opt.zero_grad()
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                opt.step()
                run_loss += float(loss.detach()) * len(idx)
                run_hits += int((out.argmax(1) == yb).sum())
                seen += len(idx)
                if progress is not None:
                    progress({"epoch": epoch, "epochs": epochs, "batch": b + 1, "batches": n_batches,
                              "loss": run_loss / max(seen, 1), "accuracy": run_hits / max(seen, 1)})
            sched.step()
            record = {"epoch": epoch, "loss": run_loss / max(seen, 1), "accuracy": run_hits / max(seen, 1)}
            if x_va is not None:
                record.update(_evaluate(model, x_va, y_va, v_va, batch_size * 2, device))
            history.append(record)
            auc = record.get("val_auc")
            key = (auc if auc is not None else -1.0, -record.get("val_loss", record["loss"]))
            if best_key is None or key > best_key:
                best_key, best_record, since_best = key, record, 0
                best_state = copy.deepcopy(model.state_dict())
                if checkpoint is not None:
                    model.eval()
                    save_checkpoint(model, checkpoint, meta=_with_record(meta, best_record, history, volumes, labels,
                                    train_idx, val_idx, started, seed, device), half=half)
            else:
                since_best += 1
            if progress is not None:
                progress({**record, "epochs": epochs, "end_of_epoch": True, "best_epoch": best_record["epoch"]})
            if since_best >= patience:
                break
    except (Cancelled, KeyboardInterrupt):
        if best_state is None:
            raise Cancelled() from None
        cancelled = True
    model.load_state_dict(best_state)
    model.eval()
    meta = _with_record(meta, best_record, history, volumes, labels, train_idx, val_idx, started, seed, device)
    meta["training"]["cancelled"] = cancelled
    if checkpoint is not None:
        save_checkpoint(model, checkpoint, meta=meta, half=half)
    return TrainResult(model=model, meta=meta, history=history, cancelled=cancelled)


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


def _with_record(meta, best, history, volumes, labels, train_idx, val_idx, started, seed, device):
    out = copy.deepcopy(meta)
    n_slices = int(sum(len(lab) for lab in labels))
    out["training"] = {
        "data_hash": data_hash(volumes, labels),
        "volumes_train": len(train_idx),
        "volumes_val": len(val_idx),
        "slices": n_slices,
        "positive_slices": int(sum(int(lab.sum()) for lab in labels)),
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
