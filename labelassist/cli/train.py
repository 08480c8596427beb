"""``labelassist train``: a classifier from image-level labels (a slice shows a lesion: yes/no).

The volumes are read one at a time: each becomes its model inputs in a temporary folder beside the output, and
the training reads the slices of each batch from there, so memory does not grow with the number of volumes."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from labelassist.cli._common import add_param_option
from labelassist.core.classify.params import TRAIN_PARAMS

__all__ = ["add_parser", "add_training_options", "training_options", "read_slice_labels"]


def add_training_options(p) -> None:
    """One option per classifier training option, generated from
    :data:`~labelassist.core.classify.params.TRAIN_PARAMS`: its flag, type, default, range or choices and help;
    a value out of range is argparse's one-line error naming the flag. Each stores into the option's name."""
    group = p.add_argument_group("training options")
    for spec in TRAIN_PARAMS:
        add_param_option(group, spec)


def training_options(args) -> dict:
    """``{option: value}`` of every classifier training option in the parsed ``args``."""
    return {name: getattr(args, name) for name in TRAIN_PARAMS.names}


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train the slice classifier from yes/no labels", description=__doc__)
    p.add_argument("volumes", nargs="+", metavar="VOLUME")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--masks", nargs="+", metavar="MASK", help="one mask per volume: a slice with any voxel is positive")
    src.add_argument("--slice-labels", metavar="FILE",
                     help="CSV (volume,slice,label) or JSON [{volume, slice, label}, ...] of yes/no per slice")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.pt")
    p.add_argument("--init", metavar="MODEL.pt",
                   help="start from this classifier's weights (same arch) instead of random ones, e.g. to fine-tune "
                        "a stride-16 model at stride 8")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    add_training_options(p)
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


class _RowsOnDisk:
    """The rows of a ``.npy`` file (C order), read on demand with plain file reads (no memory map, so the slices
    read for a batch leave the process with it): ``shape``, ``len`` and indexing by an integer array."""

    def __init__(self, path):
        import numpy as np

        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        version = np.lib.format.read_magic(self._fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        self.shape, fortran, self.dtype = read_header(self._fh)
        self._offset = self._fh.tell()
        self._row = self.dtype.itemsize * int(np.prod(self.shape[1:]))
        if fortran:
            self.close()
            raise ValueError(f"{path}: a Fortran-ordered array cannot be read by rows")

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows):
        import numpy as np

        rows = np.asarray(rows, np.int64).reshape(-1)
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        for j, r in enumerate(rows):
            self._fh.seek(self._offset + int(r) * self._row)
            if self._fh.readinto(memoryview(out[j]).cast("B")) != self._row:
                raise EOFError(f"{self._fh.name}: row {int(r)} is cut short")
        return out

    def close(self) -> None:
        self._fh.close()


def _mask_labels(mask_path, volume):
    from labelassist.core.classify.train import labels_from_mask
    from labelassist.errors import VolumeError
    from labelassist.io import load_volume

    mask = load_volume(mask_path, labels=True)
    if mask.shape != volume.shape:
        raise VolumeError(f"{mask_path}: mask shape {mask.shape} does not match its volume {volume.source_path} "
                          f"{volume.shape}")
    return labels_from_mask(mask.array if mask.array.ndim == 3 else mask.array[..., 0])


def stream_inputs(args, folder: Path, readers: list):
    """Read the volumes one at a time; write each one's model inputs and data-hash sample into ``folder`` and
    append a reader of the inputs to ``readers`` (the caller closes them, also after an error).

    Returns ``(labels, data hash)``; only one volume is in memory at any time.
    """
    import numpy as np

    from labelassist.core.classify.data import data_hash_of_samples, hash_sample, model_inputs
    from labelassist.io import load_volume
    from labelassist.io.formats.us_regions import scan_view

    labels, seen, shapes = [], [], []
    for k, path in enumerate(args.volumes):
        vol = load_volume(path)
        if args.masks:
            labels.append(_mask_labels(args.masks[k], vol))
        np.save(folder / f"inputs_{k}.npy", model_inputs(scan_view(vol), input_size=args.input_size))
        shape, sample = hash_sample(vol.array)
        np.save(folder / f"sample_{k}.npy", sample)
        seen.append(SimpleNamespace(source_path=vol.source_path, shape=vol.shape))
        shapes.append(shape)
        del vol, sample
        readers.append(_RowsOnDisk(folder / f"inputs_{k}.npy"))
    if not args.masks:
        labels = read_slice_labels(args.slice_labels, seen)
    samples = ((shape, np.load(folder / f"sample_{k}.npy")) for k, shape in enumerate(shapes))
    return labels, data_hash_of_samples(samples, labels)


def _check_args(args) -> None:
    """The files and counts argparse cannot check (the training options it checked by their declarations)."""
    from labelassist.errors import ParameterError

    if args.init is not None and not Path(args.init).is_file():
        raise ParameterError(f"--init {args.init}: no such file; give a classifier checkpoint to start from")
    if args.masks and len(args.masks) != len(args.volumes):
        raise ParameterError(f"--masks: got {len(args.masks)} masks for {len(args.volumes)} volumes; give one per volume")


def _progress_bar(epochs):
    from tqdm import tqdm

    bar = tqdm(total=epochs, desc="training", unit="epoch", file=sys.stderr, disable=None)

    def progress(info):
        if info.get("end_of_epoch"):
            bar.update(1)
            auc = info.get("val_auc")
            bar.set_postfix(loss=f"{info['loss']:.3f}", acc=f"{info['accuracy']:.2f}",
                            val_auc="-" if auc is None else f"{auc:.3f}")
        else:
            bar.set_postfix(loss=f"{info['loss']:.3f}", acc=f"{info['accuracy']:.2f}", batch=f"{info['batch']}/{info['batches']}")

    return bar, progress


def run(args) -> int:
    from labelassist.core.classify.train import train_classifier_from_inputs
    from labelassist.core.nets.device import resolve_device

    _check_args(args)
    from labelassist.cli._common import check_output

    check_output(args.output, "-o")  # before any work: a model that cannot be written is one line, at once
    out_dir = Path(args.output).resolve().parent
    folder = Path(tempfile.mkdtemp(prefix=".labelassist-train-", dir=out_dir if out_dir.is_dir() else None))
    readers = []
    try:
        labels, fingerprint = stream_inputs(args, folder, readers)
        options = {k: v for k, v in training_options(args).items() if k != "input_size"}  # the inputs' own size
        bar, progress = _progress_bar(args.epochs)
        try:
            result = train_classifier_from_inputs(
                readers, labels, init=args.init, device=resolve_device(args.device), checkpoint=args.output,
                progress=progress, data_hash=fingerprint, **options)
        finally:
            bar.close()
    finally:
        for r in readers:
            r.close()
        shutil.rmtree(folder, ignore_errors=True)
    rec = result.meta["training"]
    auc = "n/a" if rec["val_auc"] is None else f"{rec['val_auc']:.3f}"
    acc = "n/a" if rec["val_accuracy"] is None else f"{rec['val_accuracy']:.3f}"
    state = "cancelled, best so far" if result.cancelled else f"best of {rec['epochs_run']} epochs"
    print(f"{args.output}: {args.arch}, epoch {rec['best_epoch']} ({state}); validation AUC {auc}, "
          f"accuracy {acc}; {rec['seconds']:.0f} s")
    return 0
