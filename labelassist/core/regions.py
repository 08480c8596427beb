"""Regions of a slice for the region tool: one click adds a region of the perimeter map to the mask or removes it.

docs/architecture.md, pipeline maths: the perimeter map walls the slice into regions that follow the image's
edges. For the region tool every pixel must belong to one region, so the wall pixels join their nearest region
(:func:`slice_regions`); regions in the air (no signal) become 0, where a click does nothing. A lesion edge that
cuts through a region is followed by splitting that region further (:func:`finer_regions`).

Speed. A click must redraw within a frame (16 ms at 512²), so the region label image is computed once per slice
(:class:`RegionMap` keeps it with each region's box from :func:`scipy.ndimage.find_objects`) and
:func:`apply_region` touches only the clicked region's box.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labelassist.errors import ParameterError

__all__ = ["RegionMap", "VolumeRegions", "slice_regions", "finer_regions", "apply_region", "region_pixels",
           "regions_along", "air_level", "volume_air_level", "signal_walls"]

_FOUR = ndimage.generate_binary_structure(2, 1)
_EIGHT = ndimage.generate_binary_structure(2, 2)


def air_level(image) -> float:
    """The grey level below which a region counts as air: a tenth of the image's 99.5th percentile.

    Pass a volume to get one level for all its slices (a slice that shows little body then keeps it).
    """
    image = np.nan_to_num(np.asarray(image, dtype=np.float32))
    lo = float(image.min()) if image.size else 0.0
    return lo + 0.1 * (float(np.percentile(image, 99.5)) - lo) if image.size else 0.0


def volume_air_level(volume) -> float:
    """:func:`air_level` of a volume from at most ~16 of its slices (one level for all its slices, cheap)."""
    volume = np.asarray(volume) if not hasattr(volume, "shape") else volume
    return air_level(np.asarray(volume[:: max(1, volume.shape[0] // 16)]))


def signal_walls(perimeter_slice, image, *, air: float, reach: int = 2) -> np.ndarray:
    """The walls of a perimeter map where the image has signal: walls that only cross air are noise.

    Parameters
    ----------
    perimeter_slice : ndarray (H, W)
        The walls (nonzero) of one slice.
    image : ndarray (H, W) or (H, W, C)
        The slice (multi-channel: the mean of its channels).
    air : float
        The air level (:func:`volume_air_level`).
    reach : int
        A wall pixel is kept when a pixel within ``reach`` pixels of it is above ``air``.

    Returns
    -------
    ndarray of uint8 (H, W)
        1 on the walls kept.
    """
    import cv2

    wall = np.asarray(perimeter_slice) > 0
    grey = np.nan_to_num(np.asarray(image, dtype=np.float32))
    grey = grey.mean(axis=-1) if grey.ndim == 3 else grey
    if grey.shape != wall.shape:
        raise ParameterError(f"image has shape {grey.shape} but perimeter_slice {wall.shape}; they must match")
    signal = (grey > float(air)).astype(np.uint8)
    if reach > 0:
        signal = cv2.dilate(signal, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    return (wall & (signal > 0)).astype(np.uint8)


def slice_regions(perimeter_slice, *, image=None, air: float | None = None) -> np.ndarray:
    """The regions between the perimeter walls, every pixel in one region, air regions 0.

    Parameters
    ----------
    perimeter_slice : ndarray of bool (H, W)
        The walls of one slice (``PerimeterMap.perimeter``).
    image : ndarray (H, W) or (H, W, C), optional
        The slice; with it, regions whose mean grey is below ``air`` (no signal) are labelled 0, so a click
        in the air does nothing. Multi-channel slices use the mean of their channels.
    air : float, optional
        The air level (default :func:`air_level` of ``image``).

    Returns
    -------
    ndarray of int32 (H, W)
        Labels ``1..n`` (consecutive), 0 only in air. A wall pixel joins its nearest region (ties: the first
        in scan order).

    Examples
    --------
    >>> wall = np.zeros((8, 8), bool); wall[:, 4] = True
    >>> regions = slice_regions(wall)
    >>> sorted(np.unique(regions).tolist())
    [1, 2]
    """
    from skimage.segmentation import expand_labels, relabel_sequential

    wall = np.asarray(perimeter_slice, dtype=bool)
    if wall.ndim != 2:
        raise ParameterError(f"perimeter_slice must be 2-D (H, W), got shape {wall.shape}")
    labels, n = ndimage.label(~wall, structure=_FOUR)
    if n == 0:  # all wall: one region
        return np.ones(wall.shape, np.int32)
    labels = expand_labels(labels, distance=max(wall.shape))
    if image is not None:
        grey = np.nan_to_num(np.asarray(image, dtype=np.float32))
        if grey.ndim == 3:
            grey = grey.mean(axis=-1)
        if grey.shape != wall.shape:
            raise ParameterError(f"image has shape {grey.shape} but perimeter_slice {wall.shape}; they must match")
        level = air_level(grey) if air is None else float(air)
        flat = labels.ravel()
        counts = np.maximum(np.bincount(flat, minlength=n + 1), 1)
        means = np.bincount(flat, weights=grey.ravel(), minlength=n + 1) / counts
        labels[(means < level)[labels]] = 0
    return relabel_sequential(labels)[0].astype(np.int32)


class RegionMap:
    """A slice's region labels with every region's box, computed once per slice (cache it per slice).

    Parameters
    ----------
    labels : ndarray of int (H, W)
        Region labels, 0 for no region (:func:`slice_regions`).
    """

    def __init__(self, labels):
        self.labels = np.asarray(labels)
        if self.labels.ndim != 2:
            raise ParameterError(f"region labels must be 2-D (H, W), got shape {self.labels.shape}")
        self.boxes = ndimage.find_objects(self.labels)

    @property
    def n_regions(self) -> int:
        return len(self.boxes)

    def box(self, label: int):
        """The bounding box (a pair of slices) of region ``label``; None for 0 or a label not present."""
        label = int(label)
        return self.boxes[label - 1] if 0 < label <= len(self.boxes) else None

    def at(self, y: int, x: int) -> int:
        """The region under pixel (y, x); 0 outside the slice or in air."""
        h, w = self.labels.shape
        return int(self.labels[y, x]) if 0 <= y < h and 0 <= x < w else 0


def _as_map(regions) -> RegionMap:
    return regions if isinstance(regions, RegionMap) else RegionMap(regions)


def apply_region(mask_slice: np.ndarray, regions, label: int, *, add: bool, value: int = 1):
    """One click of the region tool: set region ``label`` of ``mask_slice`` to ``value`` (add) or 0 (remove), in place.

    Parameters
    ----------
    mask_slice : ndarray (H, W)
        The slice's mask, edited in place.
    regions : RegionMap or ndarray of int (H, W)
        The slice's regions; pass the cached :class:`RegionMap` so that a click costs O(region), not O(slice).
    label : int
        The clicked region (``RegionMap.at(y, x)``); 0 (air, no region) changes nothing.
    add : bool
        True to add the region to the mask, False to remove it.
    value : int
        The label value an added region gets (1).

    Returns
    -------
    tuple of slice or None
        The box where pixels changed (to redraw, or to record one undo step), None when nothing changed.
    """
    rmap = _as_map(regions)
    if mask_slice.shape != rmap.labels.shape:
        raise ParameterError(f"mask_slice has shape {mask_slice.shape} but regions {rmap.labels.shape}; "
                             "they must match")
    found = region_pixels(mask_slice, rmap, label, add=add)
    if found is None:
        return None
    (ys, xs), new = found, (value if add else 0)
    changed = mask_slice[ys, xs] != new
    if not changed.any():
        return None
    ys, xs = ys[changed], xs[changed]
    mask_slice[ys, xs] = new
    return slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1)


def region_pixels(mask_slice: np.ndarray, regions, label: int, *, add: bool):
    """The pixels ``(ys, xs)`` a click on region ``label`` sets: the region's own, and on a removal also the
    slivers it would leave; None for no region (0, air).

    A sliver is what would be left of the mask in the 1-pixel ring around the removed region and touches no
    mask pixel beyond that ring: the wall pixels between the removed region and other removed or unlabelled
    regions (each wall pixel joined one neighbour when the walls were shared out). So removing two adjacent
    regions leaves no labelled pixel between them, while a lesion next to the removed region keeps every pixel.
    Costs O(region), not O(slice).
    """
    rmap = _as_map(regions)
    box = rmap.box(label)
    if box is None:
        return None
    h, w = rmap.labels.shape
    y0, y1 = max(box[0].start - 2, 0), min(box[0].stop + 2, h)
    x0, x1 = max(box[1].start - 2, 0), min(box[1].stop + 2, w)
    inside = rmap.labels[y0:y1, x0:x1] == label
    take = inside.copy()
    if not add:
        mask = (np.asarray(mask_slice)[y0:y1, x0:x1] > 0) & ~inside
        ring = ndimage.binary_dilation(inside, structure=_EIGHT) & ~inside
        parts, n = ndimage.label(mask & ring, structure=_EIGHT)
        if n:
            beyond = ndimage.binary_dilation(mask & ~ring, structure=_EIGHT)
            kept = np.unique(parts[beyond & (parts > 0)])
            take |= (parts > 0) & ~np.isin(parts, kept)
    ys, xs = np.nonzero(take)
    return ys + y0, xs + x0


def regions_along(regions, points) -> list[int]:
    """The regions a drag passes over, in the order it meets them (no 0, no repeats).

    Parameters
    ----------
    regions : RegionMap or ndarray of int (H, W)
    points : sequence of (y, x)
        The drag's positions as the mouse reported them; the straight lines between them count too.
    """
    from skimage.draw import line

    rmap = _as_map(regions)
    pts = np.round(np.asarray(points, dtype=float)).astype(int).reshape(-1, 2)
    if len(pts) == 0:
        return []
    ys, xs = [pts[:1, 0]], [pts[:1, 1]]
    for (y0, x0), (y1, x1) in zip(pts[:-1], pts[1:]):
        rr, cc = line(y0, x0, y1, x1)
        ys.append(rr[1:])
        xs.append(cc[1:])
    y, x = np.concatenate(ys), np.concatenate(xs)
    h, w = rmap.labels.shape
    ok = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    hit = rmap.labels[y[ok], x[ok]]
    hit = hit[hit != 0]
    _, first = np.unique(hit, return_index=True)
    return [int(v) for v in hit[np.sort(first)]]


def finer_regions(image_slice, regions, label: int, *, n_segments: int = 8, compactness: float = 0.1) -> np.ndarray:
    """Region ``label`` split into smaller regions that follow the image (SLIC inside that region only).

    Parameters
    ----------
    image_slice : ndarray (H, W) or (H, W, C)
        The slice; multi-channel slices use the mean of their channels.
    regions : RegionMap or ndarray of int (H, W)
    label : int
        The region to split (not 0).
    n_segments : int
        About how many parts (SLIC's ``n_segments``; a small region gets fewer).
    compactness : float
        SLIC's compactness on the region's grey rescaled to [0, 1].

    Returns
    -------
    ndarray of int32 (H, W)
        A new label image: outside region ``label`` as before; inside, the parts, one keeping ``label`` and
        the others new labels above every existing one. Build a new :class:`RegionMap` from it.
    """
    from skimage.segmentation import slic

    rmap = _as_map(regions)
    box = rmap.box(label)
    if box is None:
        raise ParameterError(f"label must be a region of the slice (1..{rmap.n_regions}), got {label}")
    if int(n_segments) < 2:
        raise ParameterError(f"n_segments must be at least 2, got {n_segments}")
    grey = np.nan_to_num(np.asarray(image_slice, dtype=np.float32))
    if grey.ndim == 3:
        grey = grey.mean(axis=-1)
    if grey.shape != rmap.labels.shape:
        raise ParameterError(f"image_slice has shape {grey.shape} but regions {rmap.labels.shape}; they must match")
    inside = rmap.labels[box] == label
    patch = grey[box]
    lo, hi = float(patch[inside].min()), float(patch[inside].max())
    patch = (patch - lo) / (hi - lo) if hi > lo else np.zeros_like(patch)
    parts = slic(patch, n_segments=int(n_segments), compactness=compactness, mask=inside, channel_axis=None,
                 start_label=1)
    out = np.array(rmap.labels, dtype=np.int32, copy=True)
    top = int(out.max())
    new = np.where(parts == 1, label, top + parts - 1)
    out[box][inside] = new[inside]
    return out


class VolumeRegions:
    """The :class:`RegionMap` of every slice of a volume, each computed on first use and kept.

    Parameters
    ----------
    perimeter : sequence of ndarray of bool (H, W) or None
        The perimeter walls of each slice (``SliceResult.perimeter``); None for a slice without a perimeter
        map (it then has no regions: a click there does nothing).
    image : ndarray (Z, H, W) or (Z, H, W, C), optional
        The volume, to mark air regions 0 (one air level for the whole volume, :func:`air_level`).
    """

    def __init__(self, perimeter, image=None):
        self._perimeter = list(perimeter)
        self._image = None if image is None else np.asarray(image)
        if self._image is not None and len(self._image) != len(self._perimeter):
            raise ParameterError(f"image has {len(self._image)} slices but perimeter {len(self._perimeter)}")
        self._air = None if self._image is None else air_level(self._image)
        self._maps: dict[int, RegionMap] = {}

    def __len__(self) -> int:
        return len(self._perimeter)

    def __getitem__(self, index: int) -> RegionMap:
        i = int(index)
        if not 0 <= i < len(self._perimeter):
            raise ParameterError(f"slice index must be in [0, {len(self._perimeter) - 1}], got {index}")
        if i not in self._maps:
            wall = self._perimeter[i]
            if wall is None:
                shape = next((np.shape(w) for w in self._perimeter if w is not None), None)
                shape = self._image.shape[1:3] if self._image is not None else shape
                labels = np.zeros(shape or (0, 0), np.int32)
            else:
                img = None if self._image is None else self._image[i]
                labels = slice_regions(wall, image=img, air=self._air)
            self._maps[i] = RegionMap(labels)
        return self._maps[i]
