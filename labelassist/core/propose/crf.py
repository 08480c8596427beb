"""The dense CRF of one slice (Krähenbühl and Koltun's fully connected CRF, as SILOP refines its pseudo-labels),
through the package ``pydensecrf2`` (imported as ``pydensecrf``).

Two labels, background and lesion. The unary comes from the CAM and the fitted mask
(:func:`lesion_probability`); the pairwise terms are a Gaussian on position (smoothness) and a bilateral
kernel on position and the slice's intensity (appearance), so a boundary the CAM left blurry moves to the
slice's nearest strong edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["CRFParams", "lesion_probability", "dense_crf", "check_pydensecrf"]

_INSTALL = "refine='crf' needs the package pydensecrf2, which is not installed: pip install pydensecrf2"


def check_pydensecrf():
    """``pydensecrf.densecrf`` (from ``pydensecrf2``), or a one-line ParameterError naming the install."""
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError:
        raise ParameterError(_INSTALL) from None
    return dcrf


@dataclass(frozen=True)
class CRFParams:
    """The CRF's settings (defaults measured on demo MRI of seeds 7 and 29: benchmarks/bench_refine.py).

    Attributes
    ----------
    softness : float
        The CAM's width of doubt: p(lesion) = sigmoid((cam - threshold) / softness). Small: the CRF follows
        the thresholded CAM; large: the intensity edges decide over a wider band.
    fit_prior : float
        p(lesion) at least this inside the fitted mask (BoundaryFit's regions lie wholly inside the CAM: a
        confident prior).
    reach : int
        Pixels beyond the thresholded CAM where the CRF may still mark lesion; further away p(lesion) is
        ``floor`` and the mask is cleared (the CRF never adds a lesion far from the CAM).
    floor : float
        p(lesion) far from the CAM, and the clip of every probability to [floor, 1 - floor].
    gauss_sxy, gauss_compat : float
        The smoothness kernel's width (pixels) and weight.
    bilateral_sxy, bilateral_schan, bilateral_compat : float
        The appearance kernel's width in pixels, in intensity (of the slice scaled to [0, 1]) and its weight.
    iterations : int
        Mean-field steps.
    """

    softness: float = 0.1
    fit_prior: float = 0.7
    reach: int = 6
    floor: float = 0.02
    gauss_sxy: float = 1.0
    gauss_compat: float = 2.0
    bilateral_sxy: float = 6.0
    bilateral_schan: float = 0.1
    bilateral_compat: float = 6.0
    iterations: int = 8

    def __post_init__(self):
        checks = [("softness", self.softness > 0), ("fit_prior", 0 < self.fit_prior < 1),
                  ("reach", self.reach >= 0), ("floor", 0 < self.floor < 0.5), ("gauss_sxy", self.gauss_sxy > 0),
                  ("gauss_compat", self.gauss_compat >= 0), ("bilateral_sxy", self.bilateral_sxy > 0),
                  ("bilateral_schan", self.bilateral_schan > 0), ("bilateral_compat", self.bilateral_compat >= 0),
                  ("iterations", self.iterations >= 1)]
        for name, ok in checks:
            if not ok:
                raise ParameterError(f"CRFParams.{name} is out of range, got {getattr(self, name)!r}; see its docstring")


def _disc(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return yy**2 + xx**2 <= radius**2


def near(mask, radius: int) -> np.ndarray:
    """``mask`` grown by ``radius`` pixels (a disc); ``mask`` itself for a radius of 0."""
    mask = np.asarray(mask, dtype=bool)
    if radius <= 0 or not mask.any():
        return mask
    from scipy import ndimage

    return ndimage.binary_dilation(mask, structure=_disc(int(radius)))


def lesion_probability(cam, fitted, *, threshold: float, params: CRFParams) -> tuple[np.ndarray, np.ndarray]:
    """The unary's p(lesion) of every pixel, and where the CRF may mark lesion at all.

    p = sigmoid((cam - threshold) / softness): 0.5 on the thresholded CAM's edge, so that without the
    pairwise terms the CRF gives back the thresholded CAM; inside the fitted mask p is at least ``fit_prior``;
    beyond ``reach`` pixels of the thresholded CAM p is ``floor``. Everything is clipped to
    [floor, 1 - floor] (no pixel is certain).

    Returns
    -------
    p : ndarray of float32 (H, W)
    allowed : ndarray of bool (H, W)
        The thresholded CAM grown by ``reach`` (and the fitted mask).
    """
    cam = np.asarray(cam, dtype=np.float32)
    fitted = np.asarray(fitted, dtype=bool)
    p = 1.0 / (1.0 + np.exp(-(cam - float(threshold)) / params.softness))
    p = np.where(fitted, np.maximum(p, params.fit_prior), p)
    allowed = near((cam >= threshold) | fitted, params.reach)
    p = np.where(allowed, p, params.floor)
    return np.clip(p, params.floor, 1.0 - params.floor).astype(np.float32), allowed


def dense_crf(image, probability, *, params: CRFParams) -> np.ndarray:
    """The CRF's lesion mask of one slice.

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, C), float in [0, 1]
        The slice (the pipeline's normalised grey or colour slice).
    probability : ndarray (H, W), float in (0, 1)
        The unary's p(lesion) (:func:`lesion_probability`).
    params : CRFParams, keyword-only

    Returns
    -------
    ndarray of bool (H, W)
        Where the CRF's marginal of lesion beats background.
    """
    dcrf = check_pydensecrf()
    from pydensecrf.utils import create_pairwise_bilateral, create_pairwise_gaussian

    p = np.asarray(probability, dtype=np.float32)
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[:2] != p.shape or p.ndim != 2:
        raise ParameterError(f"image has shape {np.shape(image)} but probability has shape {p.shape}; "
                             "they must be the same slice")
    h, w = p.shape
    d = dcrf.DenseCRF(w * h, 2)
    unary = -np.log(np.stack([1.0 - p, p]).reshape(2, -1))
    d.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
    s = params
    d.addPairwiseEnergy(create_pairwise_gaussian(sdims=(s.gauss_sxy, s.gauss_sxy), shape=(h, w)),
                        compat=float(s.gauss_compat))
    feats = create_pairwise_bilateral(sdims=(s.bilateral_sxy, s.bilateral_sxy),
                                      schan=(s.bilateral_schan,) * img.shape[-1], img=img, chdim=2)
    d.addPairwiseEnergy(feats, compat=float(s.bilateral_compat))
    q = np.asarray(d.inference(int(s.iterations)), dtype=np.float32).reshape(2, h, w)
    return q[1] > q[0]
