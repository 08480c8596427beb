"""The volumes a batch works on, from what the user typed: folders, files and CSV lists of paths.

What counts as a volume is decided by :mod:`labelassist.io.formats.table` (the one format registry): a folder that
is a DICOM series or an image stack is ONE volume; any other folder is searched recursively for files with
a suffix labelassist reads. Hidden files and folders are ignored.
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

from labelassist.errors import ParameterError

__all__ = ["expand_inputs", "read_path_list", "output_names"]


def read_path_list(csv_path) -> list[Path]:
    """The paths listed in a CSV file: the first column of each row, a header ``path`` allowed; relative
    paths are relative to the CSV's folder. Empty rows are skipped."""
    csv_path = Path(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and r[0].strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{csv_path}: cannot read the list of inputs ({exc}); give a CSV of paths, "
                             "one per row") from None
    if rows and rows[0][0].strip().lower() == "path":
        rows = rows[1:]
    if not rows:
        raise ParameterError(f"{csv_path}: the list of inputs holds no paths; give a CSV of paths, one per row")
    out = []
    for r in rows:
        p = Path(r[0].strip()).expanduser()
        out.append(p if p.is_absolute() else csv_path.parent / p)
    return out


def _search(folder: Path) -> list[Path]:
    from labelassist.io.formats.table import by_suffix, find_format, visible_files

    fmt = find_format(folder)
    if fmt is not None and fmt.folder and not _holds_volume_files(folder):
        return [folder]  # a DICOM series or an image stack: one volume
    found = [p for p in visible_files(folder) if by_suffix(p) is not None]
    for sub in sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")):
        found += _search(sub)
    return found


def _holds_volume_files(folder: Path) -> bool:
    """A folder of NIfTI/NRRD/MetaImage files is searched file by file even when it also holds a picture."""
    from labelassist.io.formats.table import by_suffix, visible_files

    return any((f := by_suffix(p)) is not None and f.channels for p in visible_files(folder))


def expand_inputs(inputs) -> list[Path]:
    """Every volume named by ``inputs``, in order, each once.

    Parameters
    ----------
    inputs : sequence of str or Path
        Folders (searched recursively; a DICOM series or image-stack folder is one volume), volume files
        (any format ``labelassist info`` reads; their content is checked when the task reads them) and
        CSV files listing paths (one per row, a header ``path`` allowed).

    Returns
    -------
    list of Path

    Raises
    ------
    ParameterError
        An input that does not exist, a folder with no volume in it, or no volume at all.
    """
    from labelassist.io.formats.table import by_suffix

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if not path.exists():
            raise ParameterError(f"INPUT {path}: no such file or folder; give volumes, folders or a CSV of paths")
        if path.is_dir():
            volumes = _search(path)
            if not volumes:
                raise ParameterError(f"INPUT {path}: no volume labelassist reads in this folder (searched "
                                     "recursively); give volumes, folders or a CSV of paths")
            found += volumes
        elif path.suffix.lower() == ".csv" and by_suffix(path) is None:
            for listed in read_path_list(path):
                found += expand_inputs([listed])
        else:
            found.append(path)
    seen, unique = set(), []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    if not unique:
        raise ParameterError("INPUT: no volumes given; give volumes, folders or a CSV of paths")
    return unique


def output_names(volumes, *, suffix: str = ".nii.gz") -> list[str]:
    """The label file name of each volume: ``<stem>_labels.nii.gz``; when stems collide, each colliding one
    gets a short hash of its resolved path (``<stem>-1a2b3c4d_labels.nii.gz``) so that no two inputs share
    an output."""
    from labelassist.io.formats.table import split_suffix

    stems = [split_suffix(Path(v).resolve())[0] or "volume" for v in volumes]
    counts: dict[str, int] = {}
    for s in stems:
        counts[s.lower()] = counts.get(s.lower(), 0) + 1
    names = []
    for v, s in zip(volumes, stems):
        if counts[s.lower()] > 1:
            s = f"{s}-{hashlib.sha256(str(Path(v).resolve()).encode()).hexdigest()[:8]}"
        names.append(f"{s}_labels{suffix}")
    return names
