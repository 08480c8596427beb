"""``labelassist eval``: compare predicted labels with ground truth (paper metric and foreground Dice)."""

from __future__ import annotations

import json

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="metrics of predicted labels against ground truth", description=__doc__)
    p.add_argument("pred", help="predicted label volume")
    p.add_argument("truth", help="ground-truth label volume on the same grid")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def load_mask_pair(pred_path, truth_path):
    """Read two label volumes that must share a voxel grid; returns boolean (z, y, x) arrays."""
    import numpy as np

    from labelassist.errors import VolumeError
    from labelassist.io import load_volume

    pred, truth = load_volume(pred_path, labels=True), load_volume(truth_path, labels=True)
    if pred.shape != truth.shape:
        raise VolumeError(f"{pred_path}: shape {pred.shape} does not match the truth {truth_path} {truth.shape}")
    if not np.allclose(pred.affine, truth.affine, atol=1e-3):
        raise VolumeError(
            f"{pred_path}: its voxel grid (affine) differs from the truth {truth_path}; resample one onto the other"
        )
    return _binary(pred.array), _binary(truth.array)


def _binary(array):
    import numpy as np

    a = np.nan_to_num(array if array.ndim == 3 else array[..., 0])
    return a > 0.5


FORMAT = [
    ("miou", "paper mIoU (pooled, background + lesion)"),
    ("dsc", "paper DSC = 2 mIoU / (1 + mIoU)"),
    ("iou_lesion", "lesion IoU (pooled)"),
    ("dice_volume", "foreground Dice, volume (3-D)"),
    ("dice_slice_mean", "foreground Dice, mean per slice"),
    ("mfp", "mFP = FP / TP"),
    ("mfn", "mFN = FN / TP"),
]


def run(args) -> int:
    from labelassist.core.evaluate.metrics import evaluate

    pred, truth = load_mask_pair(args.pred, args.truth)
    metrics = evaluate(pred, truth)
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True))
        return 0
    for key, label in FORMAT:
        if key in metrics:
            print(f"{label:<45} {metrics[key]:.4f}")
    for key in sorted(set(metrics) - {k for k, _ in FORMAT}):
        value = metrics[key]
        if isinstance(value, (int, float)):
            print(f"{key:<45} {value:.4f}" if isinstance(value, float) else f"{key:<45} {value}")
    return 0
