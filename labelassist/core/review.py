"""The review state of one volume (docs/architecture.md, data model ``ReviewSession``): pure data, no Qt, no files.

Each slice has a status: ``unreviewed`` (holding the pipeline's proposal, if any), ``accepted`` (the
proposal as it stands), ``corrected`` (the reviewer painted on it) or ``rejected`` (no lesion: empty).
The label volume is what the reviewer is building; a reviewed slice is never overwritten by a proposal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from labelassist.errors import ParameterError

__all__ = [
    "UNREVIEWED", "ACCEPTED", "CORRECTED", "REJECTED", "STATUSES", "REVIEWED", "ReviewState",
]

UNREVIEWED, ACCEPTED, CORRECTED, REJECTED = "unreviewed", "accepted", "corrected", "rejected"
STATUSES = (UNREVIEWED, ACCEPTED, CORRECTED, REJECTED)
REVIEWED = (ACCEPTED, CORRECTED, REJECTED)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class ReviewState:
    """Statuses per slice and the label volume under review.

    Attributes
    ----------
    labels : ndarray of uint8, shape (z, y, x)
        The label volume (0 background, 1 lesion). Frontends may draw and paint on this very array.
    statuses : list of str
        One of :data:`STATUSES` per slice.
    params : dict
        The pipeline parameters of the session (what the controls showed when it was last saved).
    model_hash : str
        Identity (sha256) of the classifier of the session.
    slice_info : list of dict
        Per slice: ``params`` and ``model_hash`` that produced its proposal, ``proposed`` and
        ``reviewed`` timestamps.
    display : dict
        How the reviewer last looked at the volume: ``{"window": float, "level": float}`` (empty: the default).
    lesion_marks : list of int
        Slices the reviewer said show a lesion without drawing it (Y): a *yes* for the classifier's training
        whatever the slice's mask; a rejection (the reviewer's *no*) takes the mark away.
    """

    labels: np.ndarray
    statuses: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    model_hash: str = ""
    slice_info: list = field(default_factory=list)
    display: dict = field(default_factory=dict)
    lesion_marks: list = field(default_factory=list)

    def __post_init__(self):
        if self.labels.ndim != 3:
            raise ParameterError(f"labels must be (z, y, x), got shape {self.labels.shape}")
        if self.labels.dtype != np.uint8:
            self.labels = self.labels.astype(np.uint8)
        n = self.labels.shape[0]
        if not self.statuses:
            self.statuses = [UNREVIEWED] * n
        if not self.slice_info:
            self.slice_info = [{} for _ in range(n)]
        if len(self.statuses) != n or len(self.slice_info) != n:
            raise ParameterError(f"statuses and slice_info need one entry per slice ({n})")
        bad = sorted(set(self.statuses) - set(STATUSES))
        if bad:
            raise ParameterError(f"unknown status {bad[0]!r}; expected one of {', '.join(STATUSES)}")

    @classmethod
    def new(cls, shape, *, params: dict | None = None, model_hash: str = "") -> ReviewState:
        """An empty review of a volume of spatial shape (z, y, x)."""
        if len(shape) != 3 or min(shape) < 1:
            raise ParameterError(f"shape must be (z, y, x) with positive sizes, got {tuple(shape)}")
        return cls(np.zeros(tuple(int(s) for s in shape), np.uint8), params=dict(params or {}), model_hash=model_hash)

    # -- queries ----------------------------------------------------------------------------------
    @property
    def n_slices(self) -> int:
        return len(self.statuses)

    def status(self, index: int) -> str:
        return self.statuses[self._check(index)]

    def is_reviewed(self, index: int) -> bool:
        """True for accepted, corrected and rejected slices (which no proposal may overwrite)."""
        return self.statuses[self._check(index)] in REVIEWED

    def reviewed_indices(self, statuses=REVIEWED) -> list[int]:
        """Slices whose status is in ``statuses`` (all reviewed slices by default)."""
        return [i for i, s in enumerate(self.statuses) if s in statuses]

    def unreviewed_indices(self) -> list[int]:
        return [i for i, s in enumerate(self.statuses) if s == UNREVIEWED]

    def has_proposal(self, index: int) -> bool:
        return "proposed" in self.slice_info[self._check(index)]

    def next_unreviewed(self, after: int = -1) -> int | None:
        """The first unreviewed slice after ``after`` (wrapping around), or None when all are reviewed."""
        n = self.n_slices
        for k in range(1, n + 1):
            i = (after + k) % n
            if self.statuses[i] == UNREVIEWED:
                return i
        return None

    def yes_no(self) -> tuple[list[int], np.ndarray]:
        """(slice indices, their 0/1 image-level labels) for the classifier's training: *yes* for a slice marked
        as showing a lesion (Y) or accepted or corrected with a lesion voxel; *no* for a rejected one or one
        accepted empty; unreviewed, unmarked slices are left out."""
        marks = set(self.lesion_marks)
        idx = [i for i, s in enumerate(self.statuses) if s in REVIEWED or i in marks]
        y = [1 if i in marks else 0 if self.statuses[i] == REJECTED else int(self.labels[i].any()) for i in idx]
        return idx, np.asarray(y, np.int64)

    def mark_lesion(self, index: int, on: bool = True) -> None:
        """Say slice ``index`` shows a lesion (``on``), without drawing it, or take that back."""
        i = self._check(index)
        marks = set(self.lesion_marks) - {i}
        if on and self.statuses[i] == REJECTED:
            raise ParameterError(f"slice {i} is rejected (no lesion): accept or paint it before marking a lesion")
        self.lesion_marks = sorted(marks | ({i} if on else set()))

    def counts(self) -> dict:
        """``{status: number of slices}`` for every status."""
        return {s: self.statuses.count(s) for s in STATUSES}

    # -- changes ----------------------------------------------------------------------------------
    def set_proposal(self, index: int, mask, *, params: dict | None = None, model_hash: str = "") -> bool:
        """Store a pipeline proposal for slice ``index``; refused (returns False) when it is reviewed."""
        i = self._check(index)
        if self.statuses[i] in REVIEWED:
            return False
        mask = self._check_mask(mask)
        self.labels[i] = mask
        self.slice_info[i] = {"params": dict(params or {}), "model_hash": model_hash, "proposed": _now()}
        return True

    def set_status(self, index: int, status: str, *, mask=None) -> None:
        """Review slice ``index``: ``rejected`` empties it, ``mask`` (optional) replaces its labels."""
        i = self._check(index)
        if status not in STATUSES:
            raise ParameterError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
        if mask is not None:
            self.labels[i] = self._check_mask(mask)
        if status == REJECTED:
            self.labels[i] = 0
            self.lesion_marks = [k for k in self.lesion_marks if k != i]  # the reviewer's no replaces the yes
        self.statuses[i] = status
        info = self.slice_info[i]
        if status == UNREVIEWED:
            info.pop("reviewed", None)
        else:
            info["reviewed"] = _now()

    # -- (de)serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Everything but the label volume, as JSON-ready values."""
        return {
            "shape": list(self.labels.shape),
            "statuses": list(self.statuses),
            "params": dict(self.params),
            "model_hash": self.model_hash,
            "slice_info": [dict(d) for d in self.slice_info],
            "display": dict(self.display),
            "lesion_marks": sorted(int(i) for i in self.lesion_marks),
        }

    @classmethod
    def from_dict(cls, record: dict, labels: np.ndarray) -> ReviewState:
        """Inverse of :meth:`to_dict` with the label volume beside it."""
        try:
            shape = tuple(int(s) for s in record["shape"])
            statuses, info = list(record["statuses"]), [dict(d) for d in record["slice_info"]]
            params, model_hash = dict(record.get("params", {})), str(record.get("model_hash", ""))
            display = {k: float(v) for k, v in dict(record.get("display", {})).items() if k in ("window", "level")}
            marks = sorted({int(i) for i in record.get("lesion_marks", []) if 0 <= int(i) < len(statuses)})
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"review record lacks or garbles {exc}") from None
        labels = np.asarray(labels)
        if labels.shape != shape:
            raise ParameterError(f"review labels have shape {labels.shape}, the record says {shape}")
        return cls(labels.astype(np.uint8), statuses=statuses, params=params, model_hash=model_hash, slice_info=info,
                   display=display, lesion_marks=marks)

    # -- helpers ----------------------------------------------------------------------------------
    def _check(self, index) -> int:
        i = int(index)
        if not 0 <= i < self.n_slices:
            raise ParameterError(f"slice index must be in [0, {self.n_slices - 1}], got {index}")
        return i

    def _check_mask(self, mask) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.shape != self.labels.shape[1:]:
            raise ParameterError(f"mask must have the slice shape {self.labels.shape[1:]}, got {mask.shape}")
        return (mask > 0).astype(np.uint8)
