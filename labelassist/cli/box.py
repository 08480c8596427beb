"""``labelassist box``: a box drawn around a lesion on a slice becomes its mask (LiteMedSAM), labels out.

Boxes are voxel indices, inclusive: I along the volume's first voxel axis (NIfTI i; x in 'labelassist info'),
J along its second (j; y), on slice K of the third (k; z), as a viewer's voxel coordinates give them. One box
(--slice K --box I0,J0,I1,J1) or many (--boxes CSV with the header slice,i0,j0,i1,j1, one box a row). With
--carry each box's mask is carried to the neighbouring slices until the lesion ends: proposals to review.
The label volume (0 background, 1 lesion) is written on the source's grid.
"""

from __future__ import annotations

from labelassist.errors import ParameterError, VolumeError

__all__ = ["add_parser", "parse_box", "read_boxes", "CSV_COLUMNS"]

CSV_COLUMNS = ("slice", "i0", "j0", "i1", "j1")
_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


def add_parser(sub) -> None:
    p = sub.add_parser("box", help="turn boxes drawn around lesions into masks (LiteMedSAM)", description=__doc__)
    p.add_argument("volume", help="a volume (any format 'labelassist info' reads)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--box", metavar="I0,J0,I1,J1", help="one box on --slice: voxel indices i0,j0,i1,j1, inclusive")
    which.add_argument("--boxes", metavar="CSV", help="boxes, one a row, header slice,i0,j0,i1,j1")
    p.add_argument("--slice", metavar="K", help="the slice (voxel index k) --box is drawn on")
    p.add_argument("--carry", action="store_true",
                   help="carry each box's mask to the neighbouring slices until the lesion ends")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="label volume to write (.nii.gz)")
    p.add_argument("--channel", type=int, help="which channel of a 4-D volume to use")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.set_defaults(func=run)


def _whole(text: str, what: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise ParameterError(f"{what} must be a whole number, got {text!r}") from None


def parse_box(text: str, *, option: str = "--box") -> tuple:
    """``"I0,J0,I1,J1"`` to 4 ints (checked against the volume later by :func:`_check_box`)."""
    parts = [t for t in str(text).split(",")]
    if len(parts) != 4 or not all(t.strip() for t in parts):
        raise ParameterError(f"{option} must be 4 whole numbers I0,J0,I1,J1, got {text!r}")
    return tuple(_whole(t, f"{option} {text!r}: each corner") for t in parts)


def read_boxes(path) -> list:
    """``[(k, (i0, j0, i1, j1), line), ...]`` from a CSV with the header ``slice,i0,j0,i1,j1``; one-line errors."""
    import csv
    from pathlib import Path

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise VolumeError(f"--boxes {path}: no such file; name a CSV with the header slice,i0,j0,i1,j1") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise VolumeError(f"--boxes {path}: cannot be read as text ({why}); name a CSV file") from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise ParameterError(f"--boxes {path}: not a CSV file ({exc})") from None
    rows = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
    if not rows:
        raise ParameterError(f"--boxes {path}: the file is empty; give the header slice,i0,j0,i1,j1 and a box a row")
    header = [c.strip().lower() for c in rows[0][1]]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ParameterError(f"--boxes {path}: the header lacks the column(s) {', '.join(missing)}; it must name "
                             f"{','.join(CSV_COLUMNS)}")
    where = [header.index(c) for c in CSV_COLUMNS]
    boxes = []
    for line, row in rows[1:]:
        if len(row) < len(header):
            raise ParameterError(f"--boxes {path}, line {line}: {len(row)} value(s) where the header has "
                                 f"{len(header)}; give slice,i0,j0,i1,j1 on every row")
        values = [_whole(row[i], f"--boxes {path}, line {line}: {CSV_COLUMNS[n]}") for n, i in enumerate(where)]
        boxes.append((values[0], tuple(values[1:]), line))
    if not boxes:
        raise ParameterError(f"--boxes {path}: the header is there but no box; add a row slice,i0,j0,i1,j1")
    return boxes


def _check_box(k: int, box: tuple, shape: tuple, where: str) -> tuple:
    """A voxel box ``(i0, j0, i1, j1)`` on slice ``k`` inside a volume of array shape (z, y, x), as the core's
    ``(r0, c0, r1, c1)`` = ``(j0, i0, j1, i1)``; else one line naming ``where``."""
    nz, ny, nx = shape
    if not 0 <= k < nz:
        raise ParameterError(f"{where}: slice {k} is outside the volume; slices (k) are 0 to {nz - 1}")
    i0, j0, i1, j1 = box
    if i0 > i1 or j0 > j1:
        raise ParameterError(f"{where}: box {i0},{j0},{i1},{j1} has i0 > i1 or j0 > j1; give the lower corner first")
    if min(i0, j0) < 0 or i1 >= nx or j1 >= ny:
        raise ParameterError(f"{where}: box {i0},{j0},{i1},{j1} lies outside the slice; i must be in [0, {nx - 1}] "
                             f"and j in [0, {ny - 1}]")
    return j0, i0, j1, i1


def _boxes(args, shape) -> list:
    """Every box of the command line, checked against the volume: ``[(k, (r0, c0, r1, c1)), ...]``."""
    if args.box is not None:
        if args.slice is None:
            raise ParameterError("--box needs --slice K, the slice it is drawn on")
        k = _whole(args.slice, "--slice")
        return [(k, _check_box(k, parse_box(args.box), shape, f"--slice {k} --box"))]
    if args.slice is not None:
        raise ParameterError("--slice goes with --box; with --boxes each row names its slice")
    return [(k, _check_box(k, box, shape, f"--boxes {args.boxes}, line {line}"))
            for k, box, line in read_boxes(args.boxes)]


def _check_output(args):
    from pathlib import Path

    from labelassist.cli._common import check_output

    out = check_output(args.output, "-o")
    if not out.name.lower().endswith(_SUFFIXES):
        raise ParameterError(f"-o {out}: labels are written as {', '.join(_SUFFIXES)}; name e.g. labels.nii.gz")
    if Path(args.volume).exists() and out.resolve() == Path(args.volume).resolve():
        raise ParameterError(f"-o {out}: refusing to overwrite the source volume; choose another output path")
    return out


def run(args) -> int:
    import sys

    _check_output(args)  # before any work: a bad -o is one line, at once
    if args.boxes is not None:
        read_boxes(args.boxes)  # a malformed CSV is one line before the volume is read

    import numpy as np
    from tqdm import tqdm

    from labelassist.core.nets.device import resolve_device
    from labelassist.core.nets.inputs import check_channels, normalisation_ranges
    from labelassist.core.prompt import BoxPrompter, carry_lesion, identity, load_litemedsam
    from labelassist.io import load_volume, save_labels

    volume = load_volume(args.volume, channel=args.channel)
    boxes = _boxes(args, volume.shape)
    check_channels(volume.n_channels, 3)
    device = resolve_device(args.device)
    prompter = BoxPrompter(load_litemedsam(device=device))
    array = volume.array
    ranges = normalisation_ranges(array)
    labels = np.zeros(volume.shape, np.uint8)
    bar = tqdm(total=len(boxes), desc="box", unit="box", file=sys.stderr, disable=None)
    try:
        for k, box in boxes:
            if args.carry:
                lesion = carry_lesion(array, k, box, prompter, volume_key="volume", ranges=ranges)
                labels[lesion.slices] |= lesion.masks.astype(np.uint8)
            else:
                labels[k] |= prompter.segment(array[k], box, ranges=ranges, key=("volume", k)).mask.astype(np.uint8)
            bar.update(1)
    finally:
        bar.close()
    out = save_labels(labels, args.output, like=volume)
    who = identity()
    positive = int(labels.reshape(len(labels), -1).any(axis=1).sum())
    print(f"{out}: {len(boxes)} box(es){' carried' if args.carry else ''}, {positive} slice(s) with a lesion, "
          f"{int(labels.sum())} voxels ({who['name']}, {who['package']} {who['version']}, "
          f"sha256 {who['sha256'][:12]})")
    return 0
