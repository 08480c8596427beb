"""``labelassist train``: a classifier from image-level labels (a slice shows a lesion: yes/no)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from labelassist.cli._common import positive_int
from labelassist.core.classify.train import BATCH_SIZE, EPOCHS, INPUT_SIZE, LR, OUTPUT_STRIDE, PATIENCE, VAL_FRACTION

__all__ = ["add_parser", "read_slice_labels"]


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train the slice classifier from yes/no labels", description=__doc__)
    p.add_argument("volumes", nargs="+", metavar="VOLUME")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--masks", nargs="+", metavar="MASK", help="one mask per volume: a slice with any voxel is positive")
    src.add_argument("--slice-labels", metavar="FILE",
                     help="CSV (volume,slice,label) or JSON [{volume, slice, label}, ...] of yes/no per slice")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.pt")
    p.add_argument("--arch", default="resnet18", help="resnet18, resnet34 or resnet50")
    p.add_argument("--input-size", type=positive_int("--input-size"), default=INPUT_SIZE)
    p.add_argument("--output-stride", type=int, choices=(8, 16, 32), default=OUTPUT_STRIDE,
                   help="16 (default): CAMs at twice the resolution of a plain ResNet (32); 8: four times, ~3x the compute")
    p.add_argument("--init", metavar="MODEL.pt",
                   help="start from this classifier's weights (same arch) instead of random ones, e.g. to fine-tune "
                        "a stride-16 model at stride 8")
    p.add_argument("--lr", type=float, default=LR, help=f"learning rate ({LR:g}; lower it when fine-tuning with --init)")
    p.add_argument("--pool", choices=("avg", "max"), default="avg",
                   help="avg (default): torchvision's ResNet; max: a slice is as lesion-like as its most lesion-like "
                        "place (multiple-instance learning), which keeps the CAM on the lesion")
    p.add_argument("--epochs", type=positive_int("--epochs"), default=EPOCHS)
    p.add_argument("--batch-size", type=positive_int("--batch-size"), default=BATCH_SIZE)
    p.add_argument("--val-fraction", type=float, default=VAL_FRACTION, help=f"share of the volumes held out ({VAL_FRACTION})")
    p.add_argument("--patience", type=positive_int("--patience"), default=PATIENCE,
                   help=f"epochs without a better validation AUC before stopping ({PATIENCE})")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.set_defaults(func=run)


def read_slice_labels(path, volumes) -> list:
    """Per-volume 0/1 arrays from a CSV or JSON of (volume, slice, label); unlabelled slices are negative.

    ``volume`` is a path (matched by resolved path or by file name) or an index into ``volumes``.
    """
    import numpy as np

    from labelassist.errors import ParameterError

    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"--slice-labels {path}: no such file")
    try:
        if path.suffix.lower() == ".json":
            rows = json.loads(path.read_text(encoding="utf-8"))
            rows = [(r["volume"], r["slice"], r["label"]) for r in rows]
        else:
            with open(path, newline="", encoding="utf-8") as fh:
                rows = [tuple(r[:3]) for r in csv.reader(fh) if r and not r[0].startswith("#")]
            if rows and not rows[0][1].strip().lstrip("-").isdigit():
                rows = rows[1:]  # a header line
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ParameterError(f"--slice-labels {path}: expected volume,slice,label rows ({exc})") from None
    names = {}
    for i, v in enumerate(volumes):
        names[str(Path(v.source_path).resolve())] = i
        names.setdefault(Path(v.source_path).name, i)
        names.setdefault(str(i), i)
    out = [np.zeros(v.shape[0], np.int64) for v in volumes]
    for vol, sl, lab in rows:
        key = str(vol).strip()
        i = names.get(str(Path(key).resolve()) if not key.isdigit() else key, names.get(Path(key).name))
        if i is None:
            raise ParameterError(f"--slice-labels {path}: volume {key!r} is not among the volumes given")
        try:
            s, y = int(sl), int(lab)
        except ValueError:
            raise ParameterError(f"--slice-labels {path}: slice and label must be integers, got {sl!r}, {lab!r}") from None
        if not 0 <= s < len(out[i]):
            raise ParameterError(f"--slice-labels {path}: slice {s} does not exist in {key} ({len(out[i])} slices)")
        if y not in (0, 1):
            raise ParameterError(f"--slice-labels {path}: label must be 0 or 1, got {y}")
        out[i][s] = y
    return out


def run(args) -> int:
    from tqdm import tqdm

    from labelassist.core.nets.device import resolve_device
    from labelassist.core.classify.train import labels_from_mask, train_classifier
    from labelassist.errors import ParameterError, VolumeError
    from labelassist.io import load_volume

    if args.init is not None and not Path(args.init).is_file():
        raise ParameterError(f"--init {args.init}: no such file; give a classifier checkpoint to start from")
    volumes = [load_volume(v) for v in args.volumes]
    if args.masks:
        if len(args.masks) != len(volumes):
            raise ParameterError(f"--masks: got {len(args.masks)} masks for {len(volumes)} volumes; give one per volume")
        labels = []
        for v, m in zip(volumes, args.masks):
            mask = load_volume(m, labels=True)
            if mask.shape != v.shape:
                raise VolumeError(f"{m}: mask shape {mask.shape} does not match its volume {v.source_path} {v.shape}")
            labels.append(labels_from_mask(mask.array if mask.array.ndim == 3 else mask.array[..., 0]))
    else:
        labels = read_slice_labels(args.slice_labels, volumes)
    device = resolve_device(args.device)
    bar = tqdm(total=args.epochs, desc="training", unit="epoch", file=sys.stderr, disable=None)

    def progress(info):
        if info.get("end_of_epoch"):
            bar.update(1)
            auc = info.get("val_auc")
            bar.set_postfix(loss=f"{info['loss']:.3f}", acc=f"{info['accuracy']:.2f}",
                            val_auc="-" if auc is None else f"{auc:.3f}")
        else:
            bar.set_postfix(loss=f"{info['loss']:.3f}", acc=f"{info['accuracy']:.2f}", batch=f"{info['batch']}/{info['batches']}")

    try:
        result = train_classifier(
            [v.array for v in volumes], labels, arch=args.arch, input_size=args.input_size,
            output_stride=args.output_stride, pool=args.pool, epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, init=args.init, val_fraction=args.val_fraction, patience=args.patience, seed=args.seed,
            device=device,
            checkpoint=args.output, half=args.half, progress=progress,
        )
    finally:
        bar.close()
    rec = result.meta["training"]
    auc = "n/a" if rec["val_auc"] is None else f"{rec['val_auc']:.3f}"
    acc = "n/a" if rec["val_accuracy"] is None else f"{rec['val_accuracy']:.3f}"
    state = "cancelled, best so far" if result.cancelled else f"best of {rec['epochs_run']} epochs"
    print(f"{args.output}: {args.arch}, epoch {rec['best_epoch']} ({state}); validation AUC {auc}, "
          f"accuracy {acc}; {rec['seconds']:.0f} s")
    return 0
