"""The region tool on napari's ``boundaryfit`` Labels layer: a click adds a region of the perimeter map to the mask
(Shift removes it), a drag adds every region it crosses, G turns the tool on and off, Shift+G splits the region
under the cursor (issue 18). Each click or drag is one step of napari's undo: the edit goes through the layer's
``block_history()`` and ``data_setitem`` (which also redraws only the changed box), never by assigning ``data``.

While the tool is on, the layer's cursor is a pointing hand and napari's status bar shows the tool's help; the dock
shows the active tool (``RegionTool.changed``: called whenever the tool goes on or off or the layer's mode changes).
"""

from __future__ import annotations

import numpy as np

from labelassist.core.regions import region_pixels, regions_along
from labelassist.napari._tool import LayerTool, voxel_at
from labelassist.widgets.keys import KEYS, napari_key
from labelassist.widgets.region_tool import RegionSource

__all__ = ["RegionTool", "TOGGLE_KEY", "REFINE_KEY"]

TOGGLE_KEY, REFINE_KEY = napari_key("region"), napari_key("refine_regions")  # napari's spelling: "G", "Shift-G"
HELP = (f"Region tool on: click adds a region, Shift+click removes it, drag for several, "
        f"{KEYS['refine_regions'].key} splits one; {KEYS['region'].key} ends")


class RegionTool(LayerTool):
    """Region edits of the review's labels through a napari Labels layer.

    Parameters
    ----------
    view : NapariView
        Gives the ``boundaryfit`` layer (``view.layers``) and the viewer (for the cursor).
    controller : ReviewController
        Its ``say``, ``begin_stroke`` / ``end_stroke`` and region maps (:class:`RegionSource`).
    value : int
        The label value an added region gets.
    """

    NAME, HELP, CURSOR = "Region tool", HELP, "pointing"

    def __init__(self, view, controller, *, value: int = 1):
        super().__init__(view, controller)
        self.value = int(value)
        self.source = RegionSource(controller)

    # -- edits --------------------------------------------------------------------------------------
    def _regions(self, z: int):
        rmap = self.source.region_map(z)
        if rmap is None:
            self.controller.say(f"Slice {z} has no perimeter map yet: compute it before using the region tool",
                                error=True)
        return rmap

    def changes(self, layer, z: int, rmap, label: int, *, add: bool):
        """The voxels of region ``label`` of slice ``z`` that an add (remove) changes, as ``data_setitem``
        indices with their new value; None when none would."""
        found = region_pixels(layer.data[z], rmap, label, add=add)  # a removal takes its slivers too
        if found is None:
            return None
        (ys, xs), new = found, (self.value if add else 0)
        changed = np.asarray(layer.data[z][ys, xs]) != new
        if not changed.any():
            return None
        ys, xs = ys[changed], xs[changed]
        return (np.full(ys.shape, z, np.intp), ys, xs), new

    def edit(self, z: int, points, *, add: bool = True) -> int:
        """Add (or remove) every region the points ``(y, x)`` of slice ``z`` touch, as ONE undo step.

        Returns how many regions changed (0: nothing to do, no perimeter map, or no layer).
        """
        layer = self.layer()
        if layer is None:
            return 0
        z = int(z)
        rmap = self._regions(z)
        if rmap is None:
            return 0
        stroke = _Stroke(self, layer, z, add=add)
        with layer.block_history():
            for label in regions_along(rmap, points):
                stroke.apply(rmap, label)
        return stroke.finish()

    def click(self, z: int, y: int, x: int, *, add: bool = True) -> int:
        """One click of the region tool at voxel (z, y, x): one undo step; returns the regions changed (0 or 1)."""
        return self.edit(z, [(y, x)], add=add)

    def refine(self, z: int | None = None, y: int | None = None, x: int | None = None) -> bool:
        """Split the region under (y, x) of slice ``z`` (default: under the mouse cursor) into finer ones."""
        if z is None:
            layer = self.layer()
            if layer is None:
                return False
            z, y, x = voxel_at(layer, self.view.viewer.cursor.position)
        if self._regions(int(z)) is None:
            return False
        finer = self.source.refine(int(z), int(y), int(x))
        if finer is None:
            self.controller.say("No region under the cursor to split")
            return False
        self.view.refresh(int(z))  # the new walls show on the perimeter layer
        self.controller.say(f"Region split: slice {z} now has {finer.n_regions} regions")
        return True

    # -- mouse --------------------------------------------------------------------------------------
    def on_drag(self, layer, event):
        """napari mouse drag callback: while region mode is on, a press adds (Shift: removes) the region under
        the mouse and a drag every region it crosses; the whole drag is one undo step."""
        if not self.active or getattr(event, "button", 1) != 1 or layer is not self.layer():
            return
        add = "Shift" not in event.modifiers
        z, y, x = voxel_at(layer, event.position)
        rmap = self._regions(z)
        if rmap is None:
            return
        stroke = _Stroke(self, layer, z, add=add)
        last = (y, x)
        with layer.block_history():
            stroke.apply(rmap, rmap.at(y, x))
            yield
            while event.type == "mouse_move":
                _, y, x = voxel_at(layer, event.position)
                for label in regions_along(rmap, [last, (y, x)]):
                    stroke.apply(rmap, label)
                last = (y, x)
                yield
        stroke.finish()


class _Stroke:
    """The regions one click or drag changed; the session holds its save until the stroke ends."""

    def __init__(self, tool: RegionTool, layer, z: int, *, add: bool):
        self.tool, self.layer, self.z, self.add = tool, layer, z, add
        self.done: set[int] = set()
        self.changed = 0

    def apply(self, rmap, label: int) -> None:
        if label == 0 or label in self.done:
            return
        self.done.add(label)
        change = self.tool.changes(self.layer, self.z, rmap, label, add=self.add)
        if change is None:
            return
        if self.changed == 0:  # the first change: the slice is corrected, saved once when the stroke ends
            self.tool.controller.begin_stroke(self.z)
        self.layer.data_setitem(*change)
        self.changed += 1

    def finish(self) -> int:
        if self.changed:
            self.tool.controller.end_stroke()
        return self.changed
