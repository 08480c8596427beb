"""``labelassist eval``: compare predicted labels with ground truth (paper metric and foreground Dice).

Two files: the metrics of one pair. Two folders: the files are paired by name and scored one pair at a
time (:mod:`labelassist.cli.evaluate_dirs`), with metrics per volume and pooled over all of them.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    from labelassist.cli.evaluate_dirs import PAIRING_RULE

    p = sub.add_parser(
        "eval", help="metrics of predicted labels against ground truth",
        description="Compare predicted labels with ground truth (paper mIoU/DSC, foreground Dice, mFP, mFN): "
                    "two label files, or two folders of them. " + PAIRING_RULE + " A pair whose grids differ "
                    "is a failed row (exit code 1); the others are still scored and pooled (the paper's "
                    "mIoU/DSC over all voxels of all pairs, and the mean per-volume Dice).",
    )
    p.add_argument("pred", help="predicted label volume, or a folder of them")
    p.add_argument("truth", help="ground-truth label volume on the same grid, or a folder of them")
    p.add_argument("--json", action="store_true",
                   help="print the metrics as JSON (folders: {volumes, pooled, unpaired})")
    p.add_argument("--csv", metavar="FILE", help="also write one row per volume to FILE (folders: and a last "
                                                 "row 'pooled')")
    p.set_defaults(func=run)


def load_mask_pair(pred_path, truth_path):
    """Read two label volumes that must share a voxel grid; returns boolean (z, y, x) arrays."""
    import numpy as np

    from labelassist.errors import VolumeError

    pred, truth = _load_mask(pred_path), _load_mask(truth_path)
    if pred.shape != truth.shape:
        raise VolumeError(f"{pred_path}: shape {pred.shape} does not match the truth {truth_path} {truth.shape}")
    if not np.allclose(pred.affine, truth.affine, atol=1e-3):
        raise VolumeError(
            f"{pred_path}: its voxel grid (affine) differs from the truth {truth_path}; resample one onto the other"
        )
    return _binary(pred.array, pred_path), _binary(truth.array, truth_path)


def _load_mask(path):
    """A label volume, refused in one line when it has a 4th axis of more than one entry (channels, time)."""
    from labelassist.errors import ParameterError, VolumeError
    from labelassist.io import load_volume

    try:
        vol = load_volume(path, labels=True)
    except ParameterError:  # more 4th-axis entries than a reader keeps as channels
        raise VolumeError(f"{path}: {_NOT_3D}") from None
    if vol.array.ndim == 4:
        if vol.array.shape[3] != 1:
            what = "colour channels" if vol.channel_names == ("R", "G", "B") else "entries"
            raise VolumeError(f"{path}: {vol.array.shape[3]} {what} along a 4th axis; {_NOT_3D}")
        vol.array = vol.array[..., 0]
    return vol


_NOT_3D = ("a mask with a 4th axis (channels or time points); eval compares one 3-D mask per file: "
           "save the mask you mean as its own 3-D file (grey, 0 = background)")

MAX_LABELS = 255  # a label volume holds at most this many distinct non-zero values


def check_label_values(array, path) -> None:
    """Refuse an intensity volume given as a mask: every value must be a whole number >= 0, with at most
    :data:`MAX_LABELS` distinct labels besides 0 (a mask, or a multi-label segmentation)."""
    import numpy as np

    from labelassist.errors import VolumeError

    finite = np.isfinite(array)
    whole = bool(finite.all()) and bool(np.array_equal(array, np.round(array)))
    values = np.unique(array[finite]) if whole else None
    if whole and values[0] >= 0 and len(values) <= MAX_LABELS + 1:
        return
    shown = array[finite]
    n = len(values) if values is not None else len(np.unique(shown))
    lo, hi = (float(shown.min()), float(shown.max())) if shown.size else (float("nan"), float("nan"))
    extra = "" if whole else (", some not whole numbers" if finite.all() else ", some NaN/Inf")
    raise VolumeError(f"{path} does not look like a label volume: {n} distinct values in [{lo:g}, {hi:g}]{extra}; "
                      "pass a mask (0 = background, whole-number labels)")


def _binary(array, path):
    check_label_values(array, path)
    return array > 0.5


FORMAT = [
    ("miou", "paper mIoU (pooled, background + lesion)"),
    ("dsc", "paper DSC = 2 mIoU / (1 + mIoU)"),
    ("iou_lesion", "lesion IoU (pooled)"),
    ("dice_volume", "foreground Dice, volume (3-D)"),
    ("dice_slice_mean", "foreground Dice, mean per slice"),
    ("mfp", "mFP = FP / TP"),
    ("mfn", "mFN = FN / TP"),
]


def _folder_mode(pred, truth) -> bool:
    """Whether ``pred`` and ``truth`` are two folders of volumes; a one-line error for a file and a folder
    (a folder that is itself one volume, a DICOM series or a stack of images, still pairs with a file)."""
    from labelassist.errors import ParameterError
    from labelassist.io.formats.table import find_format

    pred_dir, truth_dir = Path(pred).is_dir(), Path(truth).is_dir()
    if pred_dir and truth_dir:
        return True
    if pred_dir != truth_dir:
        folder, other = (pred, truth) if pred_dir else (truth, pred)
        if find_format(folder) is None:
            raise ParameterError(f"eval: {folder} is a folder but {other} is not; give two label files "
                                 "or two folders of them")
    return False


def _not_defined(pred, truth) -> str:
    """What a metric that is not defined (None in the JSON: a ratio over no lesion) prints, and why."""
    if not truth.any():
        return "n/a (no lesion in the truth)" if pred.any() else "n/a (no lesion in either mask)"
    if not pred.any():
        return "n/a (no lesion predicted)"
    return "n/a (no overlap with the truth: TP = 0)"


def run(args) -> int:
    from labelassist.cli._common import check_output
    from labelassist.core.evaluate.metrics import evaluate

    if args.csv:
        check_output(args.csv, "--csv")

    if _folder_mode(args.pred, args.truth):
        from labelassist.cli.evaluate_dirs import run_dirs

        return run_dirs(args)
    pred, truth = load_mask_pair(args.pred, args.truth)
    metrics = evaluate(pred, truth)
    if getattr(args, "csv", None):
        from labelassist.cli.evaluate_dirs import write_csv

        write_csv(args.csv, [{"pred": Path(args.pred).name, "truth": Path(args.truth).name, **metrics}])
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True))
        return 0
    for key, label in FORMAT:
        if key in metrics:
            value = metrics[key]
            print(f"{label:<45} {value:.4f}" if value is not None else f"{label:<45} {_not_defined(pred, truth)}")
    for key in sorted(set(metrics) - {k for k, _ in FORMAT}):
        value = metrics[key]
        if isinstance(value, (int, float)):
            print(f"{key:<45} {value:.4f}" if isinstance(value, float) else f"{key:<45} {value}")
    return 0
