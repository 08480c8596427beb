"""The region tool's regions, shared by both frontends: the regions of the perimeter map of a slice under review.

A frontend asks :meth:`RegionSource.region_map` for slice ``z`` when the reviewer clicks with the region tool,
then edits its labels with :func:`labelassist.core.regions.apply_region` (the app through its slice editor, one
undo step per click; napari through the ``boundaryfit`` layer's history). The map of a slice is built once (the
walls the engine computed, the slice's image for the air level) and kept until that slice's perimeter changes.
"""

from __future__ import annotations

import numpy as np

from labelassist.core.regions import RegionMap, finer_regions, slice_regions

__all__ = ["RegionSource"]


class RegionSource:
    """Region maps of the review's slices, cached per slice.

    Parameters
    ----------
    controller : ReviewController
        Read through its public attributes only (``volume``, ``perimeter``, ``air``).
    """

    def __init__(self, controller):
        self.controller = controller
        self._maps: dict[int, tuple[np.ndarray, RegionMap]] = {}
        self._volume = None

    def region_map(self, z: int) -> RegionMap | None:
        """The regions of slice ``z`` (None: no volume, or its perimeter map is not computed yet)."""
        c = self.controller
        if c.volume is None or c.perimeter is None or not 0 <= int(z) < c.perimeter.shape[0]:
            return None
        if c.volume is not self._volume:
            self._maps.clear()
            self._volume = c.volume
        walls = c.perimeter[int(z)]
        if not walls.any():
            return None
        hit = self._maps.get(int(z))
        if hit is not None and np.array_equal(hit[0], walls):
            return hit[1]
        image = c.volume.array[int(z)]
        rmap = RegionMap(slice_regions(walls.astype(bool), image=image, air=c.air))  # one air level per volume
        self._maps[int(z)] = (walls.copy(), rmap)
        return rmap

    def refine(self, z: int, y: int, x: int) -> RegionMap | None:
        """Split the region under (y, x) of slice ``z`` into finer ones (where a lesion's edge cuts through it);
        returns the new map (None when there is no region there)."""
        rmap = self.region_map(z)
        if rmap is None or rmap.at(int(y), int(x)) == 0:
            return None
        label = rmap.at(int(y), int(x))
        labels = finer_regions(self.controller.volume.array[int(z)], rmap.labels, label)
        finer = RegionMap(labels)
        walls = self.controller.perimeter[int(z)]  # the shown perimeter map: the new walls are drawn there
        box = rmap.box(label)
        inside = labels[box]
        edge = np.zeros(inside.shape, bool)  # where a part meets another part of the split region
        edge[1:] |= inside[1:] != inside[:-1]
        edge[:, 1:] |= inside[:, 1:] != inside[:, :-1]
        walls[box][edge & (rmap.labels[box] == label)] = 1
        self._maps[int(z)] = (walls.copy(), finer)  # the map stays the finer one while the walls are these
        return finer
