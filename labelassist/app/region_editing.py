"""The region tool in the standalone app: the window's region maps and its "finer regions" action.

The clicks themselves go through the view's :class:`~labelassist.app.editing.LabelEditor` (region mode, one undo
step per press-drag-release, the slice marked corrected like a stroke); this module gives the editor its regions
(:class:`~labelassist.widgets.region_tool.RegionSource` over the review controller) and splits the region under
the mouse on demand.
"""

from __future__ import annotations

from labelassist.widgets.region_tool import RegionSource

__all__ = ["RegionTool"]


class RegionTool:
    """The region maps of the window's review, wired to its view.

    Parameters
    ----------
    window : MainWindow
        Read through public attributes only (``controller``, ``view``, ``message``).
    """

    def __init__(self, window):
        self.window = window
        self.source = RegionSource(window.controller)
        window.view.editor.set_region_source(self.source.region_map)
        window.view.message.connect(window.message)

    def refine(self) -> bool:
        """Split the region under the mouse (the last position over the canvas) into finer regions, for the next
        clicks; says what happened in the status bar. Returns whether a region was split."""
        view, say = self.window.view, self.window.message
        z = view.native_index
        if z is None or view.mouse_at is None:
            say("Finer regions: point at a region of the slice (along z) first")
            return False
        if self.source.region_map(z) is None:
            say(f"Finer regions: slice {z} has no perimeter map yet: run the slice first")
            return False
        y, x = (int(round(v)) for v in view.mouse_at)
        if self.source.refine(z, y, x) is None:
            say(f"Finer regions: no region at ({y}, {x}) (air or outside the slice)")
            return False
        view.refresh(z)  # the new walls show on the perimeter layer
        say(f"Finer regions at ({y}, {x}) of slice {z}: the next clicks take the smaller parts")
        return True
