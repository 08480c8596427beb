"""The per-slice pipeline with a cache per stage (DESIGN.md §1, §3).

Stages and what each depends on::

    image ──► perimeter (uss method + options) ──┐
      │                                          ├─► region_min ──► mask (threshold, gate, fit, filters)
      └────► cam, p(lesion) (model, cam method) ─┘

A parameter change drops only the stages downstream of it: a new threshold re-fits from the cached
region minima (one gather), a new CAM method recomputes CAMs but keeps every perimeter map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np

from labelassist.core import boundaryfit, postfilter
from labelassist.core.cam import CAM_METHODS, compute_cams
from labelassist.core.classifier import OUTPUT_STRIDES
from labelassist.core.perimeter import perimeter_map
from labelassist.core.preprocess import check_channels, normalise_volume
from labelassist.errors import Cancelled, ParameterError

__all__ = ["PipelineParams", "SliceResult", "Pipeline"]

_PERIMETER_FIELDS = ("uss", "n_segments", "uss_cnn")
_CAM_FIELDS = ("cam_method", "cam_shifts", "cam_stride")


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


@dataclass
class SliceResult:
    """What the pipeline knows about one slice (DESIGN.md §3)."""

    cam: np.ndarray | None = None  # float16 (H, W) in [0, 1]
    probability: float | None = None  # p(lesion)
    regions: np.ndarray | None = None  # int32 (H, W), 0 on boundary pixels
    boundary: np.ndarray | None = None  # bool (H, W)
    region_min: np.ndarray | None = None  # float32 (n_regions + 1,)
    mask: np.ndarray | None = None  # uint8 (H, W)


ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


@dataclass
class Pipeline:
    """Runs the pipeline over the slices of one volume, caching every stage per slice.

    Parameters
    ----------
    array : ndarray, shape (z, y, x) or (z, y, x, c)
        The volume's intensities (any range: normalised here, once, over the whole volume).
    model : torch.nn.Module
        A classifier from :func:`labelassist.core.checkpoint.load_checkpoint`.
    meta : dict
        Its checkpoint metadata (``input_size``, ``in_channels``).
    device : str or torch.device
        Where the model runs.
    params : PipelineParams
        The starting parameters.
    batch_size : int
        Slices per CAM batch.
    """

    array: np.ndarray
    model: object
    meta: dict
    device: object = "cpu"
    params: PipelineParams = field(default_factory=PipelineParams)
    batch_size: int = 16

    def __post_init__(self):
        if self.array.ndim not in (3, 4):
            raise ParameterError(f"array must be (z, y, x) or (z, y, x, c), got shape {self.array.shape}")
        check_channels(1 if self.array.ndim == 3 else self.array.shape[-1], int(self.meta["in_channels"]))
        self.image = normalise_volume(self.array)
        self.results = [SliceResult() for _ in range(self.image.shape[0])]

    # -- parameters -------------------------------------------------------------------------------
    def set_params(self, params: PipelineParams | None = None, **changes) -> PipelineParams:
        """Change parameters; drop exactly the cached stages that depend on what changed."""
        new = replace(params or self.params, **changes)
        changed = {f.name for f in fields(new) if getattr(new, f.name) != getattr(self.params, f.name)}
        self.params = new
        for res in self.results:
            if changed & set(_CAM_FIELDS):
                res.cam = res.probability = res.region_min = None
            if changed & set(_PERIMETER_FIELDS):
                res.regions = res.boundary = res.region_min = None
            if changed:
                res.mask = None
        return new

    # -- stages -----------------------------------------------------------------------------------
    @property
    def n_slices(self) -> int:
        return len(self.results)

    def _slice_image(self, index: int) -> np.ndarray:
        img = self.image[index]
        if img.ndim == 3 and img.shape[-1] not in (1, 3):
            img = img.mean(axis=-1)  # perimeter of a multi-modal slice: their mean
        elif img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        return img

    def _cams(self, indices: Sequence[int], progress: ProgressFn | None, cancel: CancelFn | None):
        todo = [i for i in indices if self.results[i].cam is None]
        if not todo:
            return
        # Batches of ``batch_size`` so that a cancel lands between batches and results land as they come.
        for start in range(0, len(todo), self.batch_size):
            if cancel is not None and cancel():
                raise Cancelled()
            chunk = todo[start : start + self.batch_size]
            cams, probs = compute_cams(
                self.model,
                self.image[chunk],
                method=self.params.cam_method,
                shifts=1 if self.params.cam_method == "fullgrad" else self.params.cam_shifts,
                cam_stride=None if self.params.cam_method == "fullgrad" else self.params.cam_stride,
                input_size=int(self.meta["input_size"]),
                in_channels=int(self.meta["in_channels"]),
                batch_size=self.batch_size,
                device=self.device,
            )
            for i, cam, p in zip(chunk, cams, probs):
                self.results[i].cam = cam.astype(np.float16)
                self.results[i].probability = float(p)
            if progress is not None:
                progress(min(start + len(chunk), len(todo)), len(todo))

    def _perimeter(self, index: int) -> None:
        res = self.results[index]
        if res.regions is None:
            p = self.params
            pm = perimeter_map(self._slice_image(index), method=p.uss, n_segments=p.n_segments, uss_cnn=p.uss_cnn)
            res.regions, res.boundary = pm.regions, pm.boundary

    def _mask(self, index: int) -> np.ndarray:
        res, p = self.results[index], self.params
        cam = res.cam.astype(np.float32)
        if res.probability < p.gate:
            mask = np.zeros(cam.shape, np.uint8)
        elif not p.fit:
            mask = (cam >= p.threshold).astype(np.uint8)
        else:
            if res.region_min is None:
                res.region_min = boundaryfit.region_minima(cam, res.regions)
            mask = boundaryfit.fit_from_minima(
                res.region_min, res.regions, threshold=p.threshold, cam=cam, boundary=res.boundary
            )
        if p.min_size:
            mask = postfilter.remove_small(mask, min_size=p.min_size)
        if p.fill_holes:
            mask = postfilter.fill_holes(mask)
        if p.largest_only:
            mask = postfilter.largest_component(mask)
        return np.asarray(mask, dtype=np.uint8)

    # -- running ----------------------------------------------------------------------------------
    def run(
        self,
        indices: Iterable[int] | None = None,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> np.ndarray:
        """Compute masks for ``indices`` (all slices by default); returns them as (len, y, x) uint8.

        ``progress(done, total)`` is called as slices finish (CAM batches count as the first half of
        the work, perimeter and fit as the second).  When ``cancel()`` returns True the run raises
        :class:`~labelassist.errors.Cancelled` between units of work and returns nothing: stages already
        computed stay cached, but no mask of this run is final.
        """
        idx = list(range(self.n_slices)) if indices is None else [self._check_index(i) for i in indices]
        total = 2 * len(idx)

        def cam_progress(done, _n):
            if progress is not None:
                progress(done, total)

        self._cams(idx, cam_progress, cancel)
        masks = []
        for k, i in enumerate(idx):
            if cancel is not None and cancel():
                raise Cancelled()
            if self.params.fit:
                self._perimeter(i)
            masks.append(self._mask(i))
            if progress is not None:
                progress(len(idx) + k + 1, total)
        for i, m in zip(idx, masks):  # only a finished run makes masks final
            self.results[i].mask = m
        shape = self.image.shape[1:3]
        return np.stack(masks) if masks else np.zeros((0, *shape), np.uint8)

    def refit(self, index: int, **changes) -> np.ndarray:
        """Re-fit one slice after a change of threshold/gate/filters: a gather, no CAM or perimeter work."""
        heavy = set(changes) & set(_CAM_FIELDS + _PERIMETER_FIELDS)
        if heavy:
            raise ParameterError(f"refit changes only the fit; {sorted(heavy)} need run()")
        if changes:
            self.set_params(**changes)
        i = self._check_index(index)
        if self.results[i].cam is None or (self.params.fit and self.results[i].regions is None):
            return self.run([i])[0]
        self.results[i].mask = self._mask(i)
        return self.results[i].mask

    def masks(self) -> np.ndarray:
        """The label volume (z, y, x) uint8: computed masks, zeros where a slice has none yet."""
        out = np.zeros(self.image.shape[:3], np.uint8)
        for i, res in enumerate(self.results):
            if res.mask is not None:
                out[i] = res.mask
        return out

    def _check_index(self, index: int) -> int:
        i = int(index)
        if not 0 <= i < self.n_slices:
            raise ParameterError(f"slice index must be in [0, {self.n_slices - 1}], got {index}")
        return i
