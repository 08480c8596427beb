"""The box tool on napari's ``boundaryfit`` layer (issue 29): B turns it on, a drag draws a box around a lesion and
LiteMedSAM's mask of it is added to the slice (Shift+drag removes what it finds), one step of napari's undo; C
carries the last box's lesion to the slices around it as proposals to review. The work is the shared
:class:`~labelassist.widgets.box_tool.BoxTool`'s (the app's too)."""

from __future__ import annotations

from labelassist.napari._tool import LayerTool, voxel_at
from labelassist.widgets.box_tool import MIN_BOX, BoxTool, box_from_corners
from labelassist.widgets.keys import KEYS, napari_key

__all__ = ["NapariBoxTool", "BOX_KEY", "CARRY_KEY"]

BOX_KEY, CARRY_KEY = napari_key("box"), napari_key("carry_box")
HELP = (f"Box tool on: drag a box around a lesion and LiteMedSAM draws it (Shift+drag removes what it finds); "
        f"{KEYS['carry_box'].key} carries it to the slices around it; {KEYS['box'].key} ends")


class NapariBoxTool(LayerTool):
    """Box prompts on the ``boundaryfit`` layer (see the module)."""

    NAME, HELP, CURSOR = "Box tool", HELP, "cross"

    def __init__(self, view, controller):
        super().__init__(view, controller)
        self.tool = BoxTool(controller)

    def attach(self, layer) -> None:
        # napari's Labels use B for "preserve labels" (its checkbox stays in the layer controls): on this layer B is
        # the box tool, as everywhere else
        layer.bind_key(BOX_KEY, lambda _layer: self.toggle(), overwrite=True)
        super().attach(layer)

    def set_active(self, on: bool) -> None:
        if on and self.layer() is not None:
            self.view.box_layer()  # made before the drag: a new layer would take the drag's events
        super().set_active(on)
        self.tool.set_active(self.active)

    def _mode_changed(self, event=None) -> None:
        super()._mode_changed(event)
        if not self.active:
            self.tool.set_active(False)

    def on_drag(self, layer, event):
        """A press starts the box (Shift: it removes), a drag draws it, the release prompts LiteMedSAM."""
        if not self.active or getattr(event, "button", 1) != 1 or layer is not self.layer():
            return
        remove = "Shift" in event.modifiers
        z, y0, x0 = voxel_at(layer, event.position)
        y1, x1 = y0, x0
        self.view.show_box(z, (y0, x0, y1, x1), remove=remove)
        yield
        while event.type == "mouse_move":
            _, y1, x1 = voxel_at(layer, event.position)
            self.view.show_box(z, (y0, x0, y1, x1), remove=remove)
            yield
        self.view.show_box(None)
        box = box_from_corners(y0, x0, y1, x1, layer.data.shape[1:3])
        if box is None or not 0 <= z < layer.data.shape[0]:
            self.controller.say(f"Box: drag a box around the lesion, at least {MIN_BOX} voxels a side, on the slice")
            return
        self.tool.box(z, box, remove=remove)

    def carry(self):
        return self.tool.carry()
