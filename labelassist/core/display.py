"""Window and level for showing a scan: a default that shows the tissue, presets, and a window per slice.

The whole volume's percentiles are dominated by the air around the body (often more than half the voxels), so a
window from them spends its grey levels on air and saturates the brightest tissue. :func:`body_window` takes
the percentiles of the voxels inside the body instead (above Otsu's threshold on a subsample: air and tissue
separate well on MRI and CT), so white matter stays below white and a lesion brighter or darker than it shows.
"""

from __future__ import annotations

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["body_window", "window_presets", "PRESETS_CT", "Window"]

Window = tuple[float, float]  # (window width, level), in the image's intensity units
PRESETS_CT = {"CT brain": (80.0, 40.0), "CT soft tissue": (400.0, 40.0), "CT bone": (1800.0, 400.0),
              "CT lung": (1500.0, -600.0)}
_MAX_SAMPLE = 500_000


def _sample(array) -> np.ndarray:
    flat = np.asarray(array).reshape(-1)
    sample = flat[:: max(1, flat.size // _MAX_SAMPLE)].astype(np.float32)
    return sample[np.isfinite(sample)]


def body_window(array, *, percentiles: tuple[float, float] = (0.5, 99.8)) -> Window:
    """(window, level) spanning ``percentiles`` of the voxels inside the body.

    Parameters
    ----------
    array : ndarray
        A volume or a slice (any shape; channels are pooled).
    percentiles : (float, float), keyword-only
        The low and high percentile of the body's intensities that become black and white.

    Returns
    -------
    (float, float)
        Window width (> 0) and level. An empty or non-finite array gives (1, 0.5); a flat one a width of 1.
    """
    lo_p, hi_p = percentiles
    if not 0 <= lo_p < hi_p <= 100:
        raise ParameterError(f"percentiles must be two numbers 0 <= low < high <= 100, got {percentiles!r}")
    sample = _sample(array)
    if sample.size == 0:
        return 1.0, 0.5
    body = sample
    if sample.min() < sample.max():
        from skimage.filters import threshold_otsu

        inside = sample[sample > threshold_otsu(sample)]
        body = inside if inside.size >= max(16, sample.size // 100) else sample  # no body to speak of: all
    lo, hi = (float(v) for v in np.percentile(body, [lo_p, hi_p]))
    if hi <= lo:
        hi = lo + 1.0
    return hi - lo, (hi + lo) / 2


def window_presets(array, *, modality: str = "", display: bool = False) -> dict[str, Window]:
    """The window presets offered for a volume, the default first: ``body`` (:func:`body_window`), ``full range``
    (minimum to maximum; first with ``display``: a picture already mapped for a screen, as ultrasound) and, for
    CT (``modality`` ``"CT"``), the usual Hounsfield windows."""
    sample = _sample(array)
    presets = {"body": body_window(array)}
    if sample.size:
        lo, hi = float(sample.min()), float(sample.max())
        full = (max(hi - lo, 1.0), (hi + lo) / 2)
        presets = {"full range": full, **presets} if display else {**presets, "full range": full}
    if modality.upper() == "CT":
        presets.update(PRESETS_CT)
    return presets
