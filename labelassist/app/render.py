"""numpy slices to QImages for the canvas: window/level grey, heat map, perimeter, labels, suggested lesions.

Every layer but the image is an 8-bit indexed QImage with a colour table, so a repaint after a brush dab
costs no colour conversion in numpy: the label slice's bytes are shown as they are.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtGui import QColor, QImage
from scipy import ndimage

from labelassist.widgets.view import LABEL_RGB, SUGGESTED, SUGGESTED_OUTLINE_PX, SUGGESTED_RGB

__all__ = [
    "ArrayImage",
    "LAYERS",
    "LABEL_RGB",
    "PERIMETER_RGB",
    "SUGGESTED_RGB",
    "OUTLINE_PX",
    "default_window",
    "grey_image",
    "heat_image",
    "indexed_image",
    "heat_table",
    "binary_table",
    "label_table",
    "outline",
]

# The layers, bottom to top, with their default visibility and opacity (docs/architecture.md, rooms names);
# ``suggested``: the learner's suggested lesions, an outline over boundaryfit, never edited nor exported.
LAYERS = {
    "image": (True, 1.0),
    "grad-cam": (True, 0.4),
    "perimeter": (True, 0.35),
    "boundaryfit": (True, 0.5),
    SUGGESTED: (True, 1.0),
}
PERIMETER_RGB = (255, 220, 0)
OUTLINE_PX = SUGGESTED_OUTLINE_PX  # width of the suggested lesions' outline, in slice pixels


def default_window(array: np.ndarray, *, display: bool = False) -> tuple[float, float]:
    """(window, level) of the body's intensities (:func:`labelassist.core.display.body_window`); ``display``:
    the full range (an ultrasound frame or a photograph is already mapped for the screen)."""
    from labelassist.core.display import body_window, window_presets

    return window_presets(array, display=True)["full range"] if display else body_window(array)


def value_range(array: np.ndarray) -> tuple[float, float]:
    """(minimum, maximum) of a subsample of ``array`` (the window spin boxes' range)."""
    flat = np.asarray(array).reshape(-1)[:: max(1, np.size(array) // 200_000)]
    return float(flat.min()), float(flat.max())


def _contiguous_u8(data: np.ndarray) -> np.ndarray:
    data = np.ascontiguousarray(data, dtype=np.uint8)
    if data.shape[1] % 4:  # QImage rows are 32-bit aligned: pad, then show the left part only
        pad = np.zeros((data.shape[0], 4 - data.shape[1] % 4), np.uint8)
        data = np.ascontiguousarray(np.concatenate([data, pad], axis=1))
    return data


class ArrayImage(QImage):
    """A QImage over a numpy array's buffer, which it keeps alive as ``array`` (edits of the array show)."""

    def __init__(self, array: np.ndarray, width: int, fmt):
        super().__init__(array.data, width, array.shape[0], array.strides[0], fmt)
        self.array = array


def _qimage(data: np.ndarray, width: int, fmt) -> QImage:
    return ArrayImage(data, width, fmt)


def grey_image(plane: np.ndarray, *, window: float, level: float) -> QImage:
    """An 8-bit grey QImage of a 2-D slice (or the mean of its channels) under window/level."""
    plane = np.asarray(plane, dtype=np.float32)
    if plane.ndim == 3:
        plane = plane.mean(axis=-1)
    window = max(float(window), 1e-12)
    scaled = (plane - (level - window / 2)) * (255.0 / window)
    data = _contiguous_u8(np.clip(np.nan_to_num(scaled), 0, 255))
    return _qimage(data, plane.shape[1], QImage.Format.Format_Grayscale8)


def _turbo(n: int = 256) -> np.ndarray:
    """A turbo-like colour ramp (blue, cyan, green, yellow, red) as (n, 3) uint8, no matplotlib."""
    stops = np.array([[48, 18, 59], [40, 140, 255], [30, 230, 160], [170, 250, 50], [250, 185, 40],
                      [220, 60, 10], [122, 4, 3]], np.float32)
    t = np.linspace(0, 1, n)
    pos = np.linspace(0, 1, len(stops))
    return np.stack([np.interp(t, pos, stops[:, c]) for c in range(3)], axis=1).astype(np.uint8)


def heat_table(*, fade: float = 0.4) -> list[int]:
    """Colour table of the heat map: turbo, with low values fading out (alpha ramps up to ``fade``)."""
    rgb = _turbo()
    alpha = np.clip(np.linspace(0, 1, 256) / max(fade, 1e-6), 0, 1) * 255
    return [QColor(int(r), int(g), int(b), int(a)).rgba() for (r, g, b), a in zip(rgb, alpha)]


def binary_table(rgb, *, alpha: int = 255) -> list[int]:
    """Colour table: 0 transparent, every other value the colour ``rgb`` (at ``alpha``)."""
    return [QColor(0, 0, 0, 0).rgba()] + [QColor(*rgb, alpha).rgba()] * 255


label_table = binary_table  # labels are 0/1 masks today; more label values would get more colours here


def indexed_image(data: np.ndarray, table: list[int]) -> QImage:
    """An indexed 8-bit QImage over ``data`` (2-D, values are colour-table indices)."""
    data = np.asarray(data)
    width = data.shape[1]
    shared = data.dtype == np.uint8 and data.flags.c_contiguous and width % 4 == 0 and data.ctypes.data % 4 == 0
    buf = data if shared else _contiguous_u8(data)  # shared: the image shows later edits of ``data`` as they are
    img = _qimage(buf, width, QImage.Format.Format_Indexed8)
    img.setColorTable(table)
    return img


def heat_image(cam: np.ndarray, table: list[int]) -> QImage:
    """A CAM in [0, 1] (float16/32) as an indexed QImage over ``table`` (see :func:`heat_table`)."""
    idx = np.clip(np.nan_to_num(np.asarray(cam, np.float32)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return indexed_image(idx, table)


def outline(labels: np.ndarray, *, width: int = OUTLINE_PX) -> np.ndarray:
    """The inner outline, ``width`` pixels wide, of each labelled region of a 2-D slice (uint8, 1 on the outline).

    A pixel is on the outline when it is labelled and a pixel within ``width`` (or the slice's edge) is not
    labelled the same; a slice with no label gives zeros at no cost.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1 pixel (the outline's width), got {width}")
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, np.uint8)
    if not labels.any():
        return out
    size = 2 * int(width) + 1
    lo = ndimage.minimum_filter(labels, size=size, mode="constant", cval=0)
    hi = ndimage.maximum_filter(labels, size=size, mode="constant", cval=0)
    out[(labels > 0) & ((lo != labels) | (hi != labels))] = 1
    return out
