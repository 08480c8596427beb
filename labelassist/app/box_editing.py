"""The box tool in the standalone app: a box dragged on the canvas (tool B) is LiteMedSAM's prompt; C carries the
last box's lesion to the slices around it (:class:`~labelassist.widgets.box_tool.BoxTool`, shared with napari)."""

from __future__ import annotations

from labelassist.widgets.box_tool import MIN_BOX, BoxTool, box_from_corners

__all__ = ["BoxEditing"]


class BoxEditing:
    """The window's box tool.

    Parameters
    ----------
    window : MainWindow
        Read through public attributes only (``controller``, ``view``, ``message``).
    """

    def __init__(self, window):
        self.window = window
        self.tool = BoxTool(window.controller)
        window.view.canvas.box_drawn.connect(self.drawn)
        window.view.current_changed.connect(lambda i: self.tool.look_ahead(i) if window.view.axis == "z" else None)

    def set_active(self, on: bool) -> None:
        self.tool.set_active(on)

    def drawn(self, y0: float, x0: float, y1: float, x1: float, remove: bool = False):
        """A box from corner (y0, x0) to (y1, x1) in slice pixels was dragged on the shown slice."""
        view, say = self.window.view, self.window.message
        z = view.native_index
        if z is None:
            say("Box: boxes are drawn on slices along z (Ctrl+1)")
            return None
        shape = view.canvas.shape
        box = None if shape is None else box_from_corners(y0, x0, y1, x1, shape)
        if box is None:
            say(f"Box: drag a box around the lesion, at least {MIN_BOX} pixels a side, on the slice")
            return None
        return self.tool.box(z, box, remove=remove)

    def carry(self):
        return self.tool.carry()
