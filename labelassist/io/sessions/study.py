"""A study list: the volumes of a folder or a CSV, each with where its review stands (from its session file).

A radiologist labels a list of scans, not one file. :func:`read_study` turns a folder (every file whose name is a
volume format's, and every sub-folder of DICOM files, sorted naturally; labelassist's own outputs left out) or a
CSV (a ``path`` column, or the first column; paths relative to the CSV's folder) into the list of volumes, and
:func:`study_entries` says for each whether it is untouched, in review (how many slices reviewed) or exported,
reading only the JSON record of its session (never a volume).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from labelassist.errors import VolumeError
from labelassist.io.formats.table import by_suffix
from labelassist.io.sessions.file import read_session_record
from labelassist.io.sessions.session import export_path_of, session_path

__all__ = ["read_study", "study_entries", "StudyEntry", "UNTOUCHED", "IN_REVIEW", "EXPORTED"]

UNTOUCHED, IN_REVIEW, EXPORTED = "untouched", "in review", "exported"
_OURS = ("_labels.nii.gz", "_labels.png", ".review-session.npz", ".review-session.lock", "_classifier.pt")
_DICOM = (".dcm", ".ima")


@dataclass(frozen=True)
class StudyEntry:
    """One volume of a study list: ``state`` is :data:`UNTOUCHED`, :data:`IN_REVIEW` or :data:`EXPORTED`;
    ``reviewed`` of ``n_slices`` slices are reviewed (0 of 0 when untouched)."""

    path: Path
    state: str = UNTOUCHED
    reviewed: int = 0
    n_slices: int = 0

    def text(self) -> str:
        """``"scan.nii.gz: in review, 12 of 181 slices"``."""
        done = f", {self.reviewed} of {self.n_slices} slices" if self.state != UNTOUCHED else ""
        return f"{self.path.name}: {self.state}{done}"


def _natural(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _is_ours(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(_OURS) or ".backup-" in name or name.endswith(".bak")


def _dicom_folder(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() in _DICOM for p in path.iterdir() if p.is_file())


def read_study(path) -> list[Path]:
    """The volumes of a study: a folder's volume files and DICOM sub-folders, or the paths a CSV lists.

    Raises
    ------
    VolumeError
        One line: no such folder or file, a CSV row naming a file that is not there, or no volume at all.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        found = [p for p in path.iterdir() if not _is_ours(p) and (
            (p.is_file() and by_suffix(p) is not None and p.suffix.lower() not in (".csv",)) or _dicom_folder(p))]
        volumes = sorted(found, key=_natural)
    elif path.is_file() and path.suffix.lower() == ".csv":
        volumes = _from_csv(path)
    elif path.exists():
        raise VolumeError(f"{path}: a study list is a folder of volumes or a CSV of their paths")
    else:
        raise VolumeError(f"{path}: no such folder or CSV file")
    if not volumes:
        raise VolumeError(f"{path}: no volume in it (the formats of 'labelassist info'; a CSV needs a path column)")
    return volumes


def _from_csv(path: Path) -> list[Path]:
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise VolumeError(f"{path}: not a readable CSV ({exc})".splitlines()[0]) from None
    rows = [r for r in rows if r and r[0].strip()]
    column = 0
    if rows and "path" in [c.strip().lower() for c in rows[0]]:
        column = [c.strip().lower() for c in rows[0]].index("path")
        rows = rows[1:]
    elif rows and not (path.parent / rows[0][0].strip()).expanduser().exists():
        rows = rows[1:]  # a header line of another name
    volumes = []
    for n, row in enumerate(rows, start=2):
        if column >= len(row):
            raise VolumeError(f"{path}: row {n} has no column {column + 1} (the volume's path)")
        item = Path(row[column].strip()).expanduser()
        item = item if item.is_absolute() else path.parent / item
        if not item.exists():
            raise VolumeError(f"{path}: row {n} names {item}, which does not exist")
        volumes.append(item)
    return volumes


def study_entries(volumes) -> list[StudyEntry]:
    """Where the review of each volume stands, from the session beside its default export (the GUIs' own)."""
    return [_entry(Path(v)) for v in volumes]


def _entry(path: Path) -> StudyEntry:
    export = export_path_of(path)
    session = session_path(export)
    if not session.is_file():
        return StudyEntry(path, EXPORTED if export.is_file() else UNTOUCHED)
    try:
        statuses = list(read_session_record(session)["review"]["statuses"])
    except (VolumeError, OSError, KeyError, TypeError, ValueError):
        return StudyEntry(path, IN_REVIEW)  # a session that cannot be read still means work was done
    reviewed = sum(s != "unreviewed" for s in statuses)
    return StudyEntry(path, EXPORTED if export.is_file() else IN_REVIEW, reviewed, len(statuses))
