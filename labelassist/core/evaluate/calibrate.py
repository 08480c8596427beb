"""Calibration (docs/architecture.md, pipeline maths): a grid search of thresholds, ensemble rule and gate against reference masks.

The reference is ground truth when there is some, and otherwise the slices the reviewer has accepted or
corrected. Every grid point is a gather from cached region minima (the 'or' rule excepted), so a full grid
over a handful of slices takes well under a second per rule.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from labelassist.core.propose.boundaryfit import region_minima, touching_perimeter
from labelassist.core.propose.ensemble import RULES, ensemble_fit
from labelassist.core.evaluate.metrics import confusion, paper_metric
from labelassist.errors import ParameterError

__all__ = ["CalibrationResult", "ReviewCalibration", "calibrate", "plot_grid", "DEFAULT_THRESHOLDS"]

DEFAULT_THRESHOLDS = tuple(np.round(np.linspace(0.05, 0.95, 19), 4))
OBJECTIVES = ("dice", "miou")


@dataclass
class CalibrationResult:
    """The best parameters and the whole grid.

    Attributes
    ----------
    thresholds : tuple of float
        Best threshold of each CAM.
    rule : str or None
        Best ensemble rule (None for a single CAM).
    gate : float
        Best p(lesion) gate.
    score : float
        Objective at the best point (mean per-slice Dice, both-empty slices counting 1, or pooled mIoU).
    grid : ndarray
        Objective over the grid, axes (rule, gate, threshold of CAM 1[, threshold of CAM 2, ...]).
    axes : dict
        ``{"rule": [...], "gate": [...], "threshold": [...]}`` values along each grid axis.
    """

    thresholds: tuple[float, ...]
    rule: str | None
    gate: float
    score: float
    grid: np.ndarray
    axes: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"thresholds": list(self.thresholds), "rule": self.rule, "gate": self.gate, "score": self.score}


@dataclass(frozen=True)
class ReviewCalibration:
    """A calibration on a review's reviewed slices, as the engine returns it: the threshold and gate to use,
    the Dice they reach there and on how many slices."""

    threshold: float
    gate: float
    score: float
    n_slices: int


def _as_cam_stack(cams) -> np.ndarray:
    arr = np.asarray(cams, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ParameterError(f"cams must be (N, H, W) or (K, N, H, W) for K CAMs, got shape {arr.shape}")
    if arr.shape[0] > 3:
        raise ParameterError(f"calibrate searches at most 3 CAMs at once, got {arr.shape[0]}")
    return arr


def _score(masks, truths, objective) -> float:
    if objective == "miou":
        return paper_metric(confusion(np.stack(masks), truths))["miou"]
    scores = []
    for m, t in zip(masks, truths):
        c = confusion(m, t)
        denom = 2 * c["tp"] + c["fp"] + c["fn"]
        scores.append(1.0 if denom == 0 else 2 * c["tp"] / denom)
    return float(np.mean(scores))


def calibrate(
    cams,
    regions,
    truths,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    rules: Sequence[str] | None = None,
    gates: Sequence[float] | None = None,
    probabilities=None,
    perimeter=None,
    objective: str = "dice",
) -> CalibrationResult:
    """Find the thresholds (and ensemble rule, gate) that best reproduce reference masks.

    Parameters
    ----------
    cams : ndarray (N, H, W) or (K, N, H, W)
        CAMs of N reference slices, for one or K (<= 3) CAM methods/models.
    regions : ndarray of int (N, H, W)
        Regions of each slice's perimeter map (0 on perimeter pixels).
    truths : ndarray (N, H, W)
        Reference masks (non-zero = lesion).
    thresholds : sequence of float in [0, 1]
        Threshold values searched for each CAM.
    rules : sequence of {"and", "or", "<", ">"}, optional
        Ensemble rules searched (default: all four when K > 1).
    gates : sequence of float in [0, 1], optional
        p(lesion) gates searched (default ``(0.0,)``); needs ``probabilities`` (K, N) or (N,) unless 0.
    probabilities : ndarray, optional
        p(lesion) per slice (the mean over the K models is gated).
    perimeter : ndarray of bool (N, H, W), optional
        Boundary pixels (default ``regions == 0``).
    objective : {"dice", "miou"}
        Mean per-slice foreground Dice (both-empty slices count 1, so a clean negative is rewarded), or
        the papers' pooled mIoU.

    Returns
    -------
    CalibrationResult
    """
    stack = _as_cam_stack(cams)
    k, n = stack.shape[:2]
    regions = np.asarray(regions)
    truths = np.asarray(truths).astype(bool)
    if regions.shape != stack.shape[1:] or truths.shape != stack.shape[1:]:
        raise ParameterError(
            f"cams {stack.shape[1:]}, regions {regions.shape} and truths {truths.shape} must share (N, H, W)"
        )
    if objective not in OBJECTIVES:
        raise ParameterError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    ts = [float(t) for t in thresholds]
    if not ts or any(not 0 <= t <= 1 for t in ts):
        raise ParameterError(f"thresholds must be a non-empty list of values in [0, 1], got {list(thresholds)}")
    rule_list = [None] if k == 1 else list(rules or RULES)
    for r in rule_list:
        if r is not None and r not in RULES:
            raise ParameterError(f"rules must be among {', '.join(RULES)}; got {r!r}")
    gate_list = [0.0] if gates is None else [float(g) for g in gates]
    if any(not 0 <= g <= 1 for g in gate_list):
        raise ParameterError(f"gates must be values in [0, 1], got {gate_list}")
    probs = np.zeros(n) if probabilities is None else np.asarray(probabilities, dtype=float).reshape(-1, n).mean(axis=0)
    if probabilities is None and any(g > 0 for g in gate_list):
        raise ParameterError("gates above 0 need probabilities (p(lesion) of each slice)")
    walls = (regions == 0) if perimeter is None else np.asarray(perimeter, bool)

    minima = [[region_minima(stack[c, i], regions[i]) for i in range(n)] for c in range(k)]
    grid = np.zeros((len(rule_list), len(gate_list)) + (len(ts),) * k)
    empty = np.zeros(regions.shape[1:], np.uint8)
    for ri, rule in enumerate(rule_list):
        for combo in itertools.product(range(len(ts)), repeat=k):
            tvals = [ts[j] for j in combo]
            fitted = [_fit(stack[:, i], minima, i, regions[i], walls[i], tvals, rule) for i in range(n)]
            for gi, g in enumerate(gate_list):
                masks = [m if probs[i] >= g else empty for i, m in enumerate(fitted)]
                grid[(ri, gi) + combo] = _score(masks, truths, objective)
    best = _best(grid, gate_list, ts)
    return CalibrationResult(
        thresholds=tuple(ts[j] for j in best[2:]),
        rule=rule_list[best[0]],
        gate=gate_list[best[1]],
        score=float(grid[best]),
        grid=grid,
        axes={"rule": rule_list, "gate": gate_list, "threshold": ts},
    )


def _best(grid, gates, thresholds, *, prior: float = 0.5):
    """The grid point of the best score; among ties (a few slices often cannot tell settings apart), the
    one nearest the defaults (gate and thresholds 0.5), not merely the first: the lowest gate that ties on
    the reference slices is the one most likely to let lesion-free slices in elsewhere."""
    top = np.argwhere(grid >= grid.max() - 1e-9)
    g = np.asarray(gates, float)
    t = np.asarray(thresholds, float)
    cost = [abs(g[i[1]] - prior) + sum(abs(t[j] - prior) for j in i[2:]) for i in top]
    return tuple(int(v) for v in top[int(np.argmin(cost))])


def _fit(cams_i, minima, i, regions, walls, tvals, rule) -> np.ndarray:
    """Fitted mask of slice ``i`` for thresholds ``tvals`` (one per CAM) and an ensemble rule."""
    if rule == "or":
        return ensemble_fit(list(cams_i), tvals, regions, rule="or", perimeter=walls)
    if rule in (None, "and"):
        kept = np.ones(regions.shape, bool)
        inside = np.ones(regions.shape, bool)
        for c, t in enumerate(tvals):
            kept &= minima[c][i][regions] >= t
            inside &= cams_i[c] >= t
    else:  # '<' / '>': the smaller / larger binary CAM, then its own gather
        sizes = [int(np.count_nonzero(cams_i[c] >= t)) for c, t in enumerate(tvals)]
        c = int(np.argmin(sizes) if rule == "<" else np.argmax(sizes))
        kept = minima[c][i][regions] >= tvals[c]
        inside = cams_i[c] >= tvals[c]
    kept |= touching_perimeter(kept, walls) & inside
    return kept.astype(np.uint8)


def plot_grid(result: CalibrationResult, path, *, title: str | None = None):
    """Save the calibration grid as a heat map PNG (the ensemble paper's Fig. 6): one panel per rule.

    One CAM: gate against threshold. Two CAMs: threshold of CAM 1 against CAM 2 (at the best gate).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    grid, axes = result.grid, result.axes
    ts = axes["threshold"]
    rules = axes["rule"]
    gi = axes["gate"].index(result.gate)
    fig, panels = plt.subplots(1, len(rules), figsize=(4.2 * len(rules), 3.8), squeeze=False)
    for ri, (rule, ax) in enumerate(zip(rules, panels[0])):
        if grid.ndim == 3:
            data, ylabels, ylab = grid[ri], axes["gate"], "p(lesion) gate"
        else:
            data = grid[ri, gi].reshape(len(ts), len(ts), -1).max(axis=2)
            ylabels, ylab = ts, "threshold CAM 1"
        im = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=max(grid.max(), 1e-6))
        step = max(len(ts) // 6, 1)
        ax.set_xticks(range(0, len(ts), step), [f"{t:.2f}" for t in ts[::step]])
        ystep = max(len(ylabels) // 6, 1)
        ax.set_yticks(range(0, len(ylabels), ystep), [f"{v:.2f}" for v in ylabels[::ystep]])
        ax.set_xlabel("threshold" if grid.ndim == 3 else "threshold CAM 2")
        ax.set_ylabel(ylab)
        ax.set_title(f"rule {rule}" if rule else "BoundaryFit")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title or f"calibration: best {result.score:.3f} at t={result.thresholds}, gate={result.gate}")
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    plt.close(fig)
    return path
