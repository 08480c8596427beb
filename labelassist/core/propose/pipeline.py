"""The per-slice pipeline with a cache per stage (docs/architecture.md, pipeline maths, data model).

Stages and what each depends on::

    image ──► perimeter (uss method + options) ──┐
      │                                          ├─► region_min ──► mask (threshold, gate, fit, refine, filters)
      └────► cam, p(lesion) (model, cam method) ─┘

A parameter change drops only the stages downstream of it: a new threshold re-fits from the cached
region minima (one gather), a new CAM method recomputes CAMs but keeps every perimeter map. The fitted
mask is refined (``refine``: :mod:`labelassist.core.propose.refine`) before the post-filters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from labelassist.core.propose import boundaryfit, postfilter
from labelassist.core.propose.cam import compute_cams
from labelassist.core.propose.despeckle import despeckle
from labelassist.core.propose.params import PipelineParams, invalidated_stages
from labelassist.core.propose.perimeter import perimeter_map
from labelassist.core.propose.refine import Refiner, make_refiner
from labelassist.core.scan_area import area_box, area_boxes
from labelassist.core.nets.device import OomFallback
from labelassist.core.nets.inputs import check_channels, normalise_volume
from labelassist.core.propose.lazy_image import NormalisedVolume
from labelassist.errors import Cancelled, ParameterError

__all__ = ["PipelineParams", "SliceResult", "Pipeline", "slice_mask"]


@dataclass
class SliceResult:
    """What the pipeline knows about one slice (docs/architecture.md, data model)."""

    cam: np.ndarray | None = None  # float16 (H, W) in [0, 1]
    probability: float | None = None  # p(lesion)
    regions: np.ndarray | None = None  # int32 (H, W), 0 on perimeter pixels
    perimeter: np.ndarray | None = None  # bool (H, W)
    region_min: np.ndarray | None = None  # float32 (n_regions + 1,)
    mask: np.ndarray | None = None  # uint8 (H, W)


RefineFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def slice_mask(result: SliceResult, params: PipelineParams, *, refine: RefineFn | None = None) -> np.ndarray:
    """The fitted mask of one slice from its cached stages and ``params`` (uint8 (H, W)).

    ``result`` needs its CAM and p(lesion), and with ``params.fit`` its regions and perimeter; its region
    minima are computed and cached on it when missing, so a threshold change is one gather.

    ``refine(fitted, cam) -> mask`` refines a non-empty fitted mask before the post-filters; it is needed when
    ``params.refine`` is not ``"boundaryfit"`` (:meth:`Pipeline.slice_refiner` makes it, with the slice's image).
    With ``params.fit`` False the mask is the thresholded CAM alone, never refined (the comparison it is for).
    """
    res, p = result, params
    refines = p.fit and p.refine != "boundaryfit"
    if refines and refine is None:
        raise ParameterError(f"refine={p.refine!r} needs the slice's image: compute the mask with "
                             "Pipeline.refit(index) or pass refine=pipeline.slice_refiner(index)")
    cam = res.cam.astype(np.float32)
    if res.probability < p.gate:
        mask = np.zeros(cam.shape, np.uint8)
    elif not p.fit:
        mask = (cam >= p.threshold).astype(np.uint8)
    else:
        if res.region_min is None:
            res.region_min = boundaryfit.region_minima(cam, res.regions)
        mask = boundaryfit.fit_from_minima(
            res.region_min, res.regions, threshold=p.threshold, cam=cam, perimeter=res.perimeter
        )
    if refines and refine is not None and mask.any():
        mask = refine(mask, cam)
    if p.min_size:
        mask = postfilter.remove_small(mask, min_size=p.min_size)
    if p.fill_holes:
        mask = postfilter.fill_holes(mask)
    if p.largest_only:
        mask = postfilter.largest_component(mask)
    return np.asarray(mask, dtype=np.uint8)


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
    on_fallback : callable(str), optional
        Told in one line when the GPU runs out of memory and CAMs go on with smaller batches or on the CPU
        (:class:`~labelassist.core.nets.device.OomFallback`; by default a
        :class:`~labelassist.errors.DeviceFallback` warning). The smaller batch or the CPU is kept for the
        pipeline's life, so each step is taken and told once.
    area : ndarray of bool (H, W), optional
        Where the image is (an ultrasound file's scan area, :func:`labelassist.core.scan_area.scan_area`; its
        ``labels``, ints, number the views of a dual-view still): the
        CAM, the perimeter map and every mask are zero outside it, so nothing is ever proposed on the scanner's
        burned-in text, rulers and bars; the classifier sees only the area's bounding box, each view's on its own
        (:func:`labelassist.core.scan_area.area_boxes`; training cuts the same: ``us_regions.scan_view``). None:
        the whole slice.
    keep_regions : bool
        Keep every slice's regions (int32, 4 bytes a pixel) after its mask is made, so that a new threshold
        is one gather (the default, for the GUI). False (``labelassist run``, batch) drops them once the
        mask is made: a later :meth:`refit` computes them again.

    The refiner of ``params.refine`` is made when that value is first set (a missing package is a
    ParameterError then) and kept for the pipeline's life in :attr:`refiners` (by name); LiteMedSAM loads
    the first time ``"sam"`` refines a slice. A refiner may be put there before (one LiteMedSAM for several
    pipelines).

    Memory: each run stores its CAMs (float16), perimeters and masks in one block per stage, the
    slices' fields being views of it; a recomputed stage gets a new block, so a view handed out before
    never changes.
    """

    array: np.ndarray
    model: object
    meta: dict
    device: object = "cpu"
    params: PipelineParams = field(default_factory=PipelineParams)
    batch_size: int = 16
    on_fallback: Callable[[str], None] | None = None
    keep_regions: bool = True
    area: np.ndarray | None = None

    def __post_init__(self):
        if self.array.ndim not in (3, 4):
            raise ParameterError(f"array must be (z, y, x) or (z, y, x, c), got shape {self.array.shape}")
        check_channels(1 if self.array.ndim == 3 else self.array.shape[-1], int(self.meta["in_channels"]))
        self.volume = NormalisedVolume(self.array)  # normalised slice by slice: no whole-volume copy
        views = None if self.area is None else np.asarray(self.area)  # a labelled area: one view per label
        if self.area is not None:
            self.area = np.asarray(self.area, bool)
            if self.area.shape != tuple(self.volume.shape[1:3]):
                raise ParameterError(f"area must be a mask of the slice's shape {tuple(self.volume.shape[1:3])}, "
                                     f"got {self.area.shape}: pass scan_area(...).mask")
        self.boxes = area_boxes(views) if views is not None else [(slice(None), slice(None))]
        self.area_box = area_box(self.area) if self.area is not None else (slice(None), slice(None))
        self.results = [SliceResult() for _ in range(self.volume.shape[0])]
        self.fallback = OomFallback(batch_size=max(int(self.batch_size), 1), device=self.device)
        self.refiners: dict[str, Refiner] = {}
        self.refine_key = object()  # this pipeline's slices in a refiner's caches: (refine_key, index)
        self.refiner(self.params.refine)

    @property
    def image(self) -> np.ndarray:
        """The whole normalised volume (a new float32 array each time: the pipeline itself reads slices)."""
        return normalise_volume(self.array)

    # -- parameters -------------------------------------------------------------------------------
    def set_params(self, params: PipelineParams | None = None, **changes) -> PipelineParams:
        """Change parameters; drop exactly the cached stages that depend on what changed.

        An unknown name or a bad value raises a one-line ParameterError and changes nothing.
        """
        invalidated_stages(changes)  # an unknown name: the schema's error, not replace()'s TypeError
        new = replace(params or self.params, **changes)
        changed = new.changed_from(self.params)
        self.refiner(new.refine)  # a refiner whose package is missing: its error, nothing changed
        self.params = new
        self.clear(invalidated_stages(changed))
        return new

    def set_model(self, model, meta: dict) -> None:
        """Use another classifier from now on: every CAM (and what follows from it) is dropped."""
        check_channels(1 if self.array.ndim == 3 else self.array.shape[-1], int(meta["in_channels"]))
        self.model, self.meta = model, meta
        self.clear({"cam"})

    def clear(self, stages) -> None:
        """Drop the cached ``stages`` (any of ``"cam"``, ``"perimeter"``, ``"fit"``) of every slice, and
        what depends on them (the region minima on either, the mask on any)."""
        stages = set(stages)
        if not stages:
            return
        for res in self.results:
            if "cam" in stages:
                res.cam = res.probability = res.region_min = None
            if "perimeter" in stages:
                res.regions = res.perimeter = res.region_min = None
            res.mask = None

    # -- stages -----------------------------------------------------------------------------------
    @property
    def n_slices(self) -> int:
        return len(self.results)

    def _slice_image(self, index: int) -> np.ndarray:
        img = self.volume[index]
        if img.ndim == 3 and img.shape[-1] not in (1, 3):
            img = img.mean(axis=-1)  # perimeter of a multi-modal slice: their mean
        elif img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        return img

    def _cams(self, indices: Sequence[int], progress: ProgressFn | None, cancel: CancelFn | None):
        todo = [i for i in indices if self.results[i].cam is None]
        if not todo:
            return
        self.fallback.on_fallback = self.on_fallback
        block = np.empty((len(todo), *self.volume.shape[1:3]), np.float16)
        # Batches of ``batch_size`` so that a cancel lands between batches and results land as they come.
        for start in range(0, len(todo), self.batch_size):
            if cancel is not None and cancel():
                raise Cancelled()
            chunk = todo[start : start + self.batch_size]
            slices = self.volume[chunk]
            block[start : start + len(chunk)] = 0
            probs = np.zeros(len(chunk))
            for box in self.boxes:  # each view of the scan area on its own (a dual-view still: two)
                cams, p = self._cam_batch(slices[:, box[0], box[1]])
                here = block[start : start + len(chunk), box[0], box[1]]
                area = 1 if self.area is None else self.area[box]
                np.maximum(here, (cams * area).astype(np.float16), out=here)
                probs = np.maximum(probs, p)  # a slice is as lesion-like as its most lesion-like view
                del cams
            for k, i in enumerate(chunk):
                self.results[i].cam = block[start + k]
                self.results[i].probability = float(probs[k])
            if progress is not None:
                progress(min(start + len(chunk), len(todo)), len(todo))

    def _cam_batch(self, slices):
        """(CAMs, p(lesion)) of a batch of slices (or of one view's box of them) with the current parameters."""
        fullgrad = self.params.cam_method == "fullgrad"
        return compute_cams(
            self.model, slices, method=self.params.cam_method, shifts=1 if fullgrad else self.params.cam_shifts,
            cam_stride=None if fullgrad else self.params.cam_stride, input_size=int(self.meta["input_size"]),
            in_channels=int(self.meta["in_channels"]), batch_size=self.batch_size, device=self.device,
            fallback=self.fallback,
        )

    def ensure_perimeter(self, index: int, *, out: np.ndarray | None = None) -> None:
        """Compute slice ``index``'s perimeter map (regions and perimeter) unless it is cached.

        ``out``: a bool (H, W) array to hold the perimeter (a view of a run's block), or None. The map is made of
        the slice despeckled with ``params.despeckle`` (only the map: the CAM and the refiners see the original).
        """
        res = self.results[index]
        if res.regions is None:
            p = self.params
            box = self.area_box  # an ultrasound scan area's box: the superpixels are spent on the scan only
            image = self._slice_image(index)[box]
            if p.despeckle != "none":
                image = despeckle(image, method=p.despeckle)
            pm = perimeter_map(image, method=p.uss, n_segments=p.n_segments, uss_cnn=p.uss_cnn)
            regions, perimeter = pm.regions, pm.perimeter
            if self.area is not None:  # outside the box: no region (nothing to fit) and no wall
                regions, perimeter = np.zeros(self.area.shape, np.int32), np.zeros(self.area.shape, bool)
                regions[box], perimeter[box] = pm.regions, pm.perimeter & self.area[box]
            if out is not None:
                out[...] = perimeter
            res.regions, res.perimeter = regions, (perimeter if out is None else out)

    def refiner(self, name: str | None = None) -> Refiner:
        """The pipeline's refiner called ``name`` (default: ``params.refine``), made on first use and kept."""
        name = self.params.refine if name is None else name
        if name not in self.refiners:
            self.refiners[name] = make_refiner(name, device=self.device)
        return self.refiners[name]

    def slice_refiner(self, index: int, *, cancel: CancelFn | None = None) -> RefineFn | None:
        """``refine(fitted, cam) -> mask`` of slice ``index`` for :func:`slice_mask`, or None for
        ``"boundaryfit"`` (or without the fit): the current refiner with the slice's image and threshold."""
        if self.params.refine == "boundaryfit" or not self.params.fit:
            return None
        refiner, i, t = self.refiner(), self._check_index(index), self.params.threshold

        def refine(fitted: np.ndarray, cam: np.ndarray) -> np.ndarray:
            return refiner(fitted, image=self._slice_image(i), cam=cam, threshold=t, key=(self.refine_key, i),
                           cancel=cancel)

        return refine

    def _mask(self, index: int, cancel: CancelFn | None = None) -> np.ndarray:
        mask = slice_mask(self.results[index], self.params, refine=self.slice_refiner(index, cancel=cancel))
        return mask if self.area is None else mask * self.area.astype(mask.dtype)

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
        shape = self.volume.shape[1:3]
        masks = np.empty((len(idx), *shape), np.uint8)
        need = [i for i in idx if self.params.fit and self.results[i].regions is None]
        walls = dict(zip(need, np.empty((len(need), *shape), bool)))
        for k, i in enumerate(idx):
            if cancel is not None and cancel():
                raise Cancelled()
            if self.params.fit:
                self.ensure_perimeter(i, out=walls.get(i))
            masks[k] = self._mask(i, cancel)
            if not self.keep_regions:
                self.results[i].regions = self.results[i].region_min = None
            if progress is not None:
                progress(len(idx) + k + 1, total)
        for k, i in enumerate(idx):  # only a finished run makes masks final
            self.results[i].mask = masks[k]
        return masks.copy()  # the caller's own array: changing it changes no slice's mask

    def refit(self, index: int, **changes) -> np.ndarray:
        """Re-fit one slice after a change of threshold/gate/filters: a gather, no CAM or perimeter work."""
        heavy = sorted(n for n in changes if invalidated_stages([n]) - {"fit"})
        if heavy:
            raise ParameterError(f"refit changes only the fit; {heavy} need run()")
        if changes:
            self.set_params(**changes)
        i = self._check_index(index)
        if self.results[i].cam is None or (self.params.fit and self.results[i].regions is None):
            return self.run([i])[0]
        self.results[i].mask = self._mask(i)
        return self.results[i].mask

    def masks(self) -> np.ndarray:
        """The label volume (z, y, x) uint8: computed masks, zeros where a slice has none yet."""
        out = np.zeros(self.volume.shape[:3], np.uint8)
        for i, res in enumerate(self.results):
            if res.mask is not None:
                out[i] = res.mask
        return out

    def _check_index(self, index: int) -> int:
        i = int(index)
        if not 0 <= i < self.n_slices:
            raise ParameterError(f"slice index must be in [0, {self.n_slices - 1}], got {index}")
        return i
