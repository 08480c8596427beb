"""Brush, eraser, fill and region tool on a 2-D label slice, with one undo step per stroke (numpy only, no Qt).

A stroke is everything between a mouse press and its release: its pixels change as the mouse moves
(so the reviewer sees them at once) and on release the changed box is stored once, before and after,
as a single undo step. Undo and redo write those boxes back into the slice they came from.

The region tool adds (or removes) whole regions of the slice's perimeter map
(:func:`labelassist.core.regions.apply_region`): the press takes the region under it, a drag every region it
crosses (:func:`~labelassist.core.regions.regions_along`); the regions come from a getter given to
:meth:`LabelEditor.set_region_source`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from labelassist.core.regions import apply_region, regions_along
from labelassist.errors import ParameterError

__all__ = ["LabelEditor", "Edit", "TOOLS", "disk", "stamp_line", "flood_fill"]

TOOLS = ("brush", "eraser", "fill", "region")
MAX_BRUSH = 200


def disk(radius: int) -> np.ndarray:
    """A boolean disk of the given radius in pixels (radius 0 is one pixel)."""
    r = int(radius)
    yy, xx = np.ogrid[-r : r + 1, -r : r + 1]
    return yy * yy + xx * xx <= r * r + r  # + r: rounder small disks (r=1 is a plus, not a dot)


def _stamp(plane: np.ndarray, y: float, x: float, foot: np.ndarray, value: int):
    r = foot.shape[0] // 2
    cy, cx = int(round(y)), int(round(x))
    y0, y1, x0, x1 = cy - r, cy + r + 1, cx - r, cx + r + 1
    h, w = plane.shape
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if sy0 >= sy1 or sx0 >= sx1:
        return None
    sub = foot[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    plane[sy0:sy1, sx0:sx1][sub] = value
    return sy0, sy1, sx0, sx1


def stamp_line(plane: np.ndarray, start, end, *, radius: int, value: int):
    """Paint ``value`` with a disk brush along the segment start->end (y, x) in place; returns the box touched."""
    foot = disk(radius)
    (y0, x0), (y1, x1) = start, end
    n = int(np.ceil(max(abs(y1 - y0), abs(x1 - x0)) / max(radius * 0.5, 0.5))) + 1
    box = None
    for t in np.linspace(0.0, 1.0, n):
        b = _stamp(plane, y0 + (y1 - y0) * t, x0 + (x1 - x0) * t, foot, value)
        if b is not None:
            box = b if box is None else (min(box[0], b[0]), max(box[1], b[1]), min(box[2], b[2]), max(box[3], b[3]))
    return box


def flood_fill(plane: np.ndarray, y: int, x: int, value: int):
    """Fill the 4-connected region of equal label around (y, x) with ``value`` in place; returns its box."""
    h, w = plane.shape
    if not (0 <= y < h and 0 <= x < w) or plane[y, x] == value:
        return None
    regions, _ = ndimage.label(plane == plane[y, x])
    region = regions == regions[y, x]
    plane[region] = value
    rows, cols = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


@dataclass
class Edit:
    """One undo step: a box of one slice, before and after."""

    key: object
    box: tuple[int, int, int, int]
    before: np.ndarray
    after: np.ndarray


class LabelEditor:
    """Strokes on label slices with undo/redo.

    Parameters
    ----------
    get_plane : callable(key) -> ndarray
        The editable 2-D uint8 label slice for a key (a view: edits land in the caller's volume).
    changed : callable(key, box), optional
        Called whenever pixels of a slice changed (during a stroke, on undo and redo).
    label : int
        The value the brush and fill paint (the eraser paints 0).
    max_undo : int
        Undo steps kept; the oldest go first.
    """

    def __init__(self, get_plane: Callable[[object], np.ndarray], *, changed=None, label: int = 1, max_undo: int = 200):
        self._get_plane = get_plane
        self._changed = changed or (lambda key, box: None)
        self.label = int(label)
        self.max_undo = int(max_undo)
        self.tool = "brush"
        self._radius = 4
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        self._stroke = None  # (key, copy of the plane before, last point, box so far)
        self._regions = lambda key: None  # key -> RegionMap | None (the region tool)
        self._region_click = None  # (RegionMap, add) of the region stroke in progress

    # -- settings ----------------------------------------------------------------------------------
    @property
    def radius(self) -> int:
        return self._radius

    @radius.setter
    def radius(self, value: int) -> None:
        value = int(value)
        if not 0 <= value <= MAX_BRUSH:
            raise ParameterError(f"brush radius must be in [0, {MAX_BRUSH}] pixels, got {value}")
        self._radius = value

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ParameterError(f"tool must be one of {', '.join(TOOLS)}; got {tool!r}")
        self.tool = tool

    def set_region_source(self, get_regions: Callable[[object], object]) -> None:
        """Where the region tool finds a slice's regions: ``get_regions(key)`` -> RegionMap, or None when the
        slice has none yet (its perimeter map is not computed: a region press then changes nothing)."""
        self._regions = get_regions

    def regions_available(self, key) -> bool:
        """True when the region tool can edit slice ``key`` (its region map exists)."""
        return self._regions(key) is not None

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    # -- strokes -----------------------------------------------------------------------------------
    def press(self, key, y: float, x: float, *, remove: bool = False) -> None:
        """Start a stroke on slice ``key`` at (y, x); the fill tool fills at once.

        The region tool adds the region under (y, x) (``remove``: takes it out of the mask), and its drag
        every region crossed; without regions for ``key`` no stroke starts.
        """
        self.cancel_stroke()
        rmap = self._regions(key) if self.tool == "region" else None
        if self.tool == "region" and rmap is None:
            return
        plane = self._get_plane(key)
        self._stroke = [key, plane.copy(), (y, x), None]
        if rmap is not None:
            self._region_click = (rmap, not remove)
            self._apply_regions([(y, x)])
        elif self.tool == "fill":
            self._grow(flood_fill(plane, int(round(y)), int(round(x)), self.label))
        else:
            self.move(y, x)

    def move(self, y: float, x: float) -> None:
        """Continue the stroke to (y, x) (no-op for the fill tool or outside a stroke)."""
        if self._stroke is None or self.tool == "fill":
            return
        if self._region_click is not None:
            self._apply_regions([self._stroke[2], (y, x)])
            self._stroke[2] = (y, x)
            return
        key, _, last, _ = self._stroke
        value = 0 if self.tool == "eraser" else self.label
        self._grow(stamp_line(self._get_plane(key), last, (y, x), radius=self._radius, value=value))
        self._stroke[2] = (y, x)

    def release(self) -> Edit | None:
        """End the stroke: one undo step when it changed anything; returns it."""
        if self._stroke is None:
            return None
        key, before, _, box = self._stroke
        self._stroke = self._region_click = None
        if box is None:
            return None
        plane = self._get_plane(key)
        y0, y1, x0, x1 = box
        if np.array_equal(before[y0:y1, x0:x1], plane[y0:y1, x0:x1]):
            return None
        edit = Edit(key, box, before[y0:y1, x0:x1].copy(), plane[y0:y1, x0:x1].copy())
        self._undo.append(edit)
        del self._undo[: -self.max_undo]
        self._redo.clear()
        return edit

    def cancel_stroke(self) -> None:
        """Abandon a stroke in progress, restoring what it had painted."""
        if self._stroke is None:
            return
        key, before, _, box = self._stroke
        self._stroke = self._region_click = None
        if box is not None:
            y0, y1, x0, x1 = box
            self._get_plane(key)[y0:y1, x0:x1] = before[y0:y1, x0:x1]
            self._changed(key, box)

    def _apply_regions(self, points) -> None:
        rmap, add = self._region_click
        plane = self._get_plane(self._stroke[0])
        for label in regions_along(rmap, points):
            box = apply_region(plane, rmap, label, add=add, value=self.label)
            if box is not None:
                self._grow((box[0].start, box[0].stop, box[1].start, box[1].stop))

    def _grow(self, box) -> None:
        if box is None:
            return
        old = self._stroke[3]
        self._stroke[3] = box if old is None else (
            min(old[0], box[0]), max(old[1], box[1]), min(old[2], box[2]), max(old[3], box[3]))
        self._changed(self._stroke[0], box)

    def replace(self, key, data: np.ndarray) -> Edit | None:
        """Write ``data`` (2-D, the slice's shape) over slice ``key`` as ONE undo step, like a stroke (an accepted
        suggestion); a stroke in progress ends first, as its own step. Returns the step, or None when nothing
        changed."""
        self.release()
        plane = self._get_plane(key)
        data = np.asarray(data)
        if data.shape != plane.shape:
            raise ParameterError(f"data must have the slice's shape {plane.shape}; got {data.shape}: pass a 2-D "
                                 "mask of slice key")
        rows, cols = np.nonzero((plane != data).any(axis=1))[0], np.nonzero((plane != data).any(axis=0))[0]
        if rows.size == 0:
            return None
        box = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        y0, y1, x0, x1 = box
        edit = Edit(key, box, plane[y0:y1, x0:x1].copy(), data[y0:y1, x0:x1].astype(plane.dtype))
        self._undo.append(edit)
        del self._undo[: -self.max_undo]
        self._redo.clear()
        self._put(edit, edit.after)
        return edit

    # -- history -----------------------------------------------------------------------------------
    def undo(self) -> Edit | None:
        """Revert the last stroke (of whichever slice); returns it, or None when there is nothing to undo."""
        self.release()
        if not self._undo:
            return None
        edit = self._undo.pop()
        self._put(edit, edit.before)
        self._redo.append(edit)
        return edit

    def redo(self) -> Edit | None:
        if self._stroke is not None or not self._redo:
            return None
        edit = self._redo.pop()
        self._put(edit, edit.after)
        self._undo.append(edit)
        return edit

    def clear(self) -> None:
        """Forget the history (a new volume)."""
        self._stroke = self._region_click = None
        self._undo.clear()
        self._redo.clear()

    def _put(self, edit: Edit, data: np.ndarray) -> None:
        y0, y1, x0, x1 = edit.box
        self._get_plane(edit.key)[y0:y1, x0:x1] = data
        self._changed(edit.key, edit.box)
