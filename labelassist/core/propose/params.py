"""The pipeline's parameters: each declared once, with its type, default, range or choices, the stage it
invalidates and its help text.

Stages: ``"cam"`` (the classifier's heat map and p(lesion)), ``"perimeter"`` (the perimeter map), ``"fit"``
(BoundaryFit and the post-filters, a gather from cached region minima). Changing a parameter drops its
stage and everything downstream of it (docs/architecture.md, pipeline maths).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from labelassist.core.nets.classifier import OUTPUT_STRIDES
from labelassist.core.propose.cam import CAM_METHODS
from labelassist.errors import ParameterError

__all__ = ["PipelineParams", "STAGES", "invalidated_stages"]

STAGES = ("cam", "perimeter", "fit")
_STAGE_OF = {
    "cam_method": "cam", "cam_shifts": "cam", "cam_stride": "cam",
    "uss": "perimeter", "n_segments": "perimeter", "uss_cnn": "perimeter",
    "threshold": "fit", "gate": "fit", "fit": "fit", "min_size": "fit", "fill_holes": "fit", "largest_only": "fit",
}


def invalidated_stages(names: Iterable[str]) -> set[str]:
    """The stages a change of the parameters ``names`` invalidates (a subset of :data:`STAGES`)."""
    out = set()
    for name in names:
        if name not in _STAGE_OF:
            raise ParameterError(f"unknown pipeline parameter {name!r}; known: {', '.join(_STAGE_OF)}")
        out.add(_STAGE_OF[name])
    return out


@dataclass(frozen=True)
class PipelineParams:
    """Every knob of the pipeline, grouped by the stage it touches.

    Parameters
    ----------
    cam_method : str
        A key of :data:`labelassist.core.cam.CAM_METHODS`.
    cam_shifts : int in 1..4
        Shift averaging of the CAM (:func:`labelassist.core.cam.compute_cams`): 2 averages 4 maps of the input
        moved by half a feature cell, following a lesion at half the cell size; 1 is the plain CAM. FullGrad
        (no target layer) always runs once.
    cam_stride : {8, 16, 32}
        The CAM's output stride when finer than the classifier's own (8 for the stride-16 demo model: a 12 x 12
        CAM at 96² instead of 6 x 6, nothing retrained; :func:`labelassist.core.classifier.finer_stride`).
        p(lesion) comes from the classifier as trained. FullGrad always runs at the model's own stride.
    uss, n_segments, uss_cnn
        Perimeter map method, its main parameter and the optional unsupervised CNN refinement.
    threshold : float
        CAM threshold t in [0, 1] (binary CAM = CAM >= t).
    gate : float
        Minimum p(lesion) in [0, 1]; a slice below it gets an empty mask.
    fit : bool
        False gives the thresholded CAM alone (no BoundaryFit), for comparison.
    min_size, fill_holes, largest_only
        Post-filters applied to the fitted mask.
    """

    cam_method: str = "gradcam"
    cam_shifts: int = 2
    cam_stride: int = 8
    uss: str = "slic"
    n_segments: int = 200
    uss_cnn: bool = False
    threshold: float = 0.5
    gate: float = 0.5
    fit: bool = True
    min_size: int = 0
    fill_holes: bool = False
    largest_only: bool = False

    def __post_init__(self):
        if self.cam_method not in CAM_METHODS:
            raise ParameterError(
                f"cam_method must be one of {', '.join(CAM_METHODS)}; got {self.cam_method!r}"
            )
        if isinstance(self.cam_shifts, bool) or not isinstance(self.cam_shifts, int) or not 1 <= self.cam_shifts <= 4:
            raise ParameterError(f"cam_shifts must be an integer from 1 (plain CAM) to 4, got {self.cam_shifts!r}")
        if isinstance(self.cam_stride, bool) or self.cam_stride not in OUTPUT_STRIDES:
            raise ParameterError(f"cam_stride must be 8, 16 or 32 (finer than the model's own to take effect), "
                                 f"got {self.cam_stride!r}")
        for name in ("threshold", "gate"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ParameterError(f"{name} must be in [0, 1], got {value}")
        if self.n_segments < 2:
            raise ParameterError(f"n_segments must be at least 2, got {self.n_segments}")
        if self.min_size < 0:
            raise ParameterError(f"min_size must be >= 0, got {self.min_size}")

    def changed_from(self, other: PipelineParams) -> set[str]:
        """Names of the parameters whose value differs from ``other``'s."""
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)}
