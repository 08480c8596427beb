"""Metrics (docs/architecture.md, metrics): the papers' pooled two-class mIoU and "DSC", and foreground Dice.

Conventions for empty masks, chosen so a radiologist reads them right:

- per-slice foreground Dice counts only slices where the truth or the prediction is non-empty;
- a volume's Dice is 1.0 when truth and prediction are both empty;
- mFP = FP/TP and mFN = FN/TP are ``None`` when TP is 0 (undefined; JSON has no infinity);
- a mean over no values is ``None``.
"""

from __future__ import annotations


import numpy as np

from labelassist.errors import ParameterError

__all__ = ["confusion", "paper_metric", "dice", "slice_dice", "evaluate"]


def _pair(pred, truth):
    pred, truth = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    if pred.shape != truth.shape:
        raise ParameterError(f"prediction has shape {pred.shape} but truth has shape {truth.shape}; they must match")
    return pred, truth


def confusion(pred, truth) -> dict[str, int]:
    """Pooled lesion-class counts: tp, fp, fn, tn."""
    pred, truth = _pair(pred, truth)
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred & ~truth))
    fn = int(np.count_nonzero(~pred & truth))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": int(pred.size) - tp - fp - fn}


def paper_metric(counts: dict[str, int]) -> dict[str, float]:
    """IoU per class (background, lesion), mIoU, and the papers' DSC = 2 mIoU / (1 + mIoU)."""
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    iou_lesion = tp / (tp + fp + fn) if tp + fp + fn else 1.0
    iou_background = tn / (tn + fn + fp) if tn + fn + fp else 1.0
    miou = (iou_lesion + iou_background) / 2
    return {"iou_lesion": iou_lesion, "iou_background": iou_background, "miou": miou, "dsc": 2 * miou / (1 + miou)}


def dice(pred, truth) -> float:
    """Foreground Dice of two masks (any shape); 1.0 when both are empty."""
    c = confusion(pred, truth)
    denom = 2 * c["tp"] + c["fp"] + c["fn"]
    return 1.0 if denom == 0 else 2 * c["tp"] / denom


def slice_dice(pred, truth) -> list[float]:
    """Dice of every slice (axis 0) where the truth or the prediction is non-empty."""
    pred, truth = _pair(pred, truth)
    out = []
    for p, t in zip(pred, truth):
        if p.any() or t.any():
            out.append(dice(p, t))
    return out


def _mean(values):
    return float(np.mean(values)) if len(values) else None


def evaluate(pred, truth) -> dict:
    """Every metric of docs/architecture.md, metrics, as plain JSON-able numbers.

    Parameters
    ----------
    pred, truth : ndarray (z, y, x), or sequences of them (one per volume)
        Binary masks (non-zero = lesion).

    Returns
    -------
    dict
        ``miou``, ``dsc``, ``iou_lesion``, ``iou_background`` (pooled over every slice of every volume),
        ``tp``/``fp``/``fn``/``tn``, ``mfp``, ``mfn``, ``dice_volume`` (3-D Dice pooled over all voxels),
        ``dice_volume_mean`` (mean of the per-volume Dice), ``dice_slice_mean`` (mean per-slice Dice),
        ``n_slices_scored``, ``n_volumes``.
    """
    if isinstance(pred, np.ndarray) and isinstance(truth, np.ndarray):
        preds, truths = [pred], [truth]
    else:
        preds, truths = list(pred), list(truth)
        if len(preds) != len(truths):
            raise ParameterError(f"got {len(preds)} predicted volumes but {len(truths)} truths")
    pairs = [_pair(p, t) for p, t in zip(preds, truths)]
    totals = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    per_slice, per_volume = [], []
    for p, t in pairs:
        c = confusion(p, t)
        for k in totals:
            totals[k] += c[k]
        per_volume.append(dice(p, t))
        per_slice += slice_dice(p, t) if p.ndim >= 3 else ([dice(p, t)] if p.any() or t.any() else [])
    tp = totals["tp"]
    denom = 2 * tp + totals["fp"] + totals["fn"]
    return {
        **paper_metric(totals),
        **totals,
        "mfp": totals["fp"] / tp if tp else None,
        "mfn": totals["fn"] / tp if tp else None,
        "dice_volume": 1.0 if denom == 0 else 2 * tp / denom,
        "dice_volume_mean": _mean(per_volume),
        "dice_slice_mean": _mean(per_slice),
        "n_slices_scored": len(per_slice),
        "n_volumes": len(pairs),
    }
