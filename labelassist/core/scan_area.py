"""Where an ultrasound file's scan is: the sector (or rectangle) of B-mode, not the scanner's screen around it.

An exported ultrasound frame holds the scan and the machine's burned-in menus, text, rulers and colour bars. The
file may say where the scan is (DICOM ``SequenceOfUltrasoundRegions``: :mod:`labelassist.io.formats.us_regions`);
:func:`scan_area` uses those rectangles when given and finds the scan inside each, else finds it from the image:

- a cine (3 frames or more): the scan moves from frame to frame and the overlay does not, so the pixels whose
  intensity varies over time (above a small share of the range) are the scan;
- a still: B-mode is speckle, a texture everywhere in the scan, while text, rulers and bars are flat areas with
  sharp edges, saturated or coloured: the pixels with a local spread of grey, not coloured, not saturated.

Either way the largest connected area (each region's, with regions) is kept, its holes filled (a dark cyst is
inside the scan), thin attachments cut off and its convex hull taken, so it is the sector, not its bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from labelassist.errors import ParameterError

__all__ = ["ScanArea", "scan_area", "colour_flow", "without_colour_flow", "area_box", "area_boxes"]


@dataclass
class ScanArea:
    """The scan area(s) of a frame: ``views`` (one bool mask (H, W) per view: two for a dual-view still),
    ``mask`` (their union), ``labels`` (the views numbered), ``method`` (how they were found) and ``notes`` (one line each, for ``info``)."""

    views: list
    method: str
    notes: list = field(default_factory=list)

    @property
    def mask(self) -> np.ndarray:
        return np.logical_or.reduce(self.views) if self.views else np.zeros((0, 0), bool)

    @property
    def labels(self) -> np.ndarray:
        """The views as one int8 map: 0 outside, ``k`` inside view ``k`` (1, 2, ...): what the pipeline is given,
        so that each view is looked at on its own (:func:`area_boxes`) while any other use reads it as a mask."""
        out = np.zeros(self.views[0].shape if self.views else (0, 0), np.int8)
        for k, view in enumerate(self.views, start=1):
            out[view & (out == 0)] = k
        return out

    def describe(self) -> str:
        """``"2 views from SequenceOfUltrasoundRegions: 103,421 px (34 % of the frame)"``."""
        m = self.mask
        share = 100.0 * m.sum() / max(m.size, 1)
        return f"{len(self.views)} view(s) {self.method}: {int(m.sum()):,} px ({share:.0f} % of the frame)"


def _grey(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(frames as grey (T, H, W), colourfulness (T, H, W) or None) of (T, H, W) or (T, H, W, C)."""
    a = np.nan_to_num(np.asarray(frames, np.float32))
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 4:
        return a.mean(-1), a.max(-1) - a.min(-1)
    if a.ndim != 3:
        raise ParameterError(f"frames must be (T, H, W) or (T, H, W, C), got shape {np.shape(frames)}")
    return a, None


def _largest(mask: np.ndarray) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if n == 0:
        return np.zeros_like(mask)
    return lab == 1 + int(np.argmax(np.bincount(lab.ravel())[1:]))


def _tidy(mask: np.ndarray, *, min_share: float = 0.02) -> np.ndarray:
    """The scan from the pixels that look like it: the largest connected part, its holes filled, thin attachments
    (a trace, a label touching it) cut off by an opening, then its convex hull (a sector and a rectangle are
    convex); empty when it is a speck."""
    from skimage.morphology import convex_hull_image, disk

    part = _largest(ndimage.binary_closing(mask, structure=np.ones((5, 5)), iterations=2))
    part = _largest(ndimage.binary_opening(ndimage.binary_fill_holes(part), structure=disk(7)))
    if part.sum() < max(min_share * part.size, 1):
        return np.zeros_like(part)
    return convex_hull_image(part)


def _span(a: np.ndarray) -> float:
    """The 0.5-99.5 % range of an array's values, from every 4th pixel of every 4th row (the same range, fast)."""
    sample = a[..., ::4, ::4]
    lo, hi = np.percentile(sample, [0.5, 99.5])
    return float(hi - lo) or 1.0


def _moving(grey: np.ndarray) -> np.ndarray:
    span = _span(grey)
    return grey.std(axis=0) > 0.02 * span


def _speckled(grey: np.ndarray, colour: np.ndarray | None) -> np.ndarray:
    still = grey.mean(axis=0)
    span = float(np.percentile(still, 99.5) - np.percentile(still, 0.5)) or 1.0
    mean = ndimage.uniform_filter(still, 7)
    spread = np.sqrt(np.maximum(ndimage.uniform_filter(still * still, 7) - mean * mean, 0))
    ok = (spread > 0.02 * span) & (mean > 0.03 * span) & (still < np.percentile(still, 99.9))
    if colour is not None:
        ok &= colour.mean(axis=0) < 0.08 * span  # greyscale: B-mode, not a coloured overlay
    edges = ndimage.uniform_filter((spread > 0.25 * span).astype(np.float32), 5) > 0.5  # text: sharp flat strokes
    return ok & ~edges


def scan_area(frames, *, regions=None) -> ScanArea:
    """The scan area of an ultrasound file.

    Parameters
    ----------
    frames : ndarray (T, H, W) or (T, H, W, C), or one frame (H, W)
        The file's frames (a cine, or a still as one frame).
    regions : list of dict, optional
        ``header["us_regions"]`` of a DICOM file (``{"box": (r0, c0, r1, c1), ...}``, inclusive, clipped to the
        frame). Each is a view; the scan is found inside it (a rectangle region holds a sector and its margin).

    Returns
    -------
    ScanArea
    """
    frames = np.asarray(frames)
    if frames.ndim in (3, 4) and not (frames.ndim == 3 and frames.shape[-1] in (3, 4) and len(frames) > 4):
        frames = frames[:: max(1, -(-len(frames) // 32))]  # 32 frames tell what moves
    grey, colour = _grey(frames)
    cine = len(grey) >= 3
    signal = _moving(grey) if cine else _speckled(grey, colour)
    how = "motion across frames" if cine else "speckle of a still"
    if regions:
        views = []
        for r in regions:
            r0, c0, r1, c1 = r["box"]
            box = np.zeros(grey.shape[1:], bool)
            box[r0:r1 + 1, c0:c1 + 1] = True
            inside = _tidy(signal & box, min_share=0.0)
            views.append(inside if inside.sum() >= 0.2 * box.sum() else box)  # nothing moves: the whole rectangle
        notes = [f"region ({c0}, {r0})-({c1}, {r1}){' (clipped to the frame)' if r.get('clipped') else ''}"
                 for r in regions for (r0, c0, r1, c1) in [r["box"]]]
        return ScanArea(views, f"from SequenceOfUltrasoundRegions, the scan inside by {how}", notes)
    area = _tidy(signal)
    if not area.any():
        return ScanArea([np.ones(grey.shape[1:], bool)], "the whole frame (no scan area found)")
    return ScanArea([area], f"found from the image ({how})")


def colour_flow(frames, area, *, min_chroma: float = 0.15, min_pixels: int = 16) -> np.ndarray:
    """The pixels of the scan area that hold colour in any frame: colour (or power) Doppler drawn over the B-mode.

    Parameters
    ----------
    frames : ndarray (T, H, W, C) or (H, W, C)
        The file's frames in colour (C >= 3); grey frames hold no colour flow (all False).
    area : ndarray of bool (H, W)
        The scan area (:attr:`ScanArea.mask`); colour outside it (bars, logos) is not flow.
    min_chroma : float
        Colour: the spread of a pixel's channels (max - min) above this share of the frames' grey range.
    min_pixels : int
        Smaller coloured specks (JPEG's chroma noise on sharp edges) are dropped.

    Returns
    -------
    ndarray of bool (H, W)
    """
    a = np.asarray(frames)
    a = a[None] if a.ndim == 3 and a.shape[-1] in (3, 4) else a
    area = np.asarray(area, bool)
    if a.ndim != 4 or a.shape[-1] not in (3, 4):
        return np.zeros(area.shape, bool)
    a = a[:: max(1, -(-len(a) // 16)), ..., :3]  # 16 frames at most: flow shows in many
    span = _span(a.mean(-1, dtype=np.float32))
    coloured = ((a.max(-1) - a.min(-1)) > min_chroma * span).any(axis=0) & area
    cores = ndimage.binary_opening(coloured, structure=np.ones((3, 3)))  # not JPEG's thin chroma fringes
    lab, n = ndimage.label(cores)
    if n == 0:
        return np.zeros(area.shape, bool)
    cores = (np.bincount(lab.ravel()) >= int(min_pixels))[lab] & (lab > 0)
    flow = ndimage.binary_propagation(cores, mask=coloured)  # each flow patch whole, its thin parts too
    return ndimage.binary_dilation(flow, iterations=1) & area  # and the pixel of blended colour around it


def without_colour_flow(area: ScanArea, flow: np.ndarray) -> ScanArea:
    """``area`` with the colour-flow pixels taken out of every view, and a note saying how much (if any)."""
    flow = np.asarray(flow, bool)
    share = 100.0 * flow.sum() / max(int(area.mask.sum()), 1)
    if share < 0.1:
        return area
    if share > 50:  # colour throughout: a tinted grey map, not flow over a B-mode
        return ScanArea(area.views, area.method, [*area.notes, "coloured throughout (a tinted map): nothing kept out"])
    note = f"colour Doppler over {share:.1f} % of the scan area: kept out of the pipeline (never proposed or labelled)"
    return ScanArea([v & ~flow for v in area.views], area.method, [*area.notes, note])


def area_box(mask) -> tuple[slice, slice]:
    """The rows and columns of the bounding box of a scan area (bool (H, W)): what the classifier looks at, so the
    scanner's screen around the scan takes none of its input pixels. The whole frame when the mask is empty."""
    mask = np.asarray(mask, bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return slice(0, mask.shape[0]), slice(0, mask.shape[1])
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def area_boxes(area, *, min_share: float = 0.1) -> list[tuple[slice, slice]]:
    """One bounding box per view of a scan area, largest first: of each label of a labelled area
    (:attr:`ScanArea.labels`: a dual-view still's two views), else of each connected part holding at least
    ``min_share`` of it; the whole area's box when no part is that large."""
    a = np.asarray(area)
    views = [int(k) for k in np.unique(a) if k > 0] if a.dtype.kind in "iu" else []
    if len(views) > 1:
        masks = [a == k for k in views]
    else:
        lab, n = ndimage.label(a.astype(bool))
        sizes = np.bincount(lab.ravel())[1:] if n else np.zeros(0, int)
        masks = [lab == k + 1 for k in range(n) if sizes[k] >= min_share * max(int(sizes.sum()), 1)]
    masks.sort(key=lambda m: -int(m.sum()))
    return [area_box(m) for m in masks] or [area_box(a.astype(bool))]
