"""A tool of the dock on napari's ``boundaryfit`` Labels layer (the region tool, the box tool): while it is on, the
layer pans no more and napari's brush rests, the tool's own drag callback acts, napari's status bar shows its help,
and the dock shows it (``changed``). A variant sets :attr:`LayerTool.NAME`, :attr:`LayerTool.HELP` and
:attr:`LayerTool.CURSOR` and overrides one method, :meth:`LayerTool.on_drag`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["LayerTool", "voxel_at"]


def voxel_at(layer, position) -> tuple[int, int, int]:
    """The voxel (z, y, x) of ``layer`` at the world ``position`` (rounded)."""
    data = np.round(np.asarray(layer.world_to_data(position), float)[-3:]).astype(int)
    return int(data[0]), int(data[1]), int(data[2])


class LayerTool:
    """The mechanics of a dock tool on the ``boundaryfit`` layer.

    Parameters
    ----------
    view : NapariView
        Gives the ``boundaryfit`` layer (``view.layers``) and the viewer.
    controller : ReviewController
        Its ``say``.
    """

    NAME = "Tool"
    HELP = ""
    CURSOR = "pointing"

    def __init__(self, view, controller):
        self.view, self.controller = view, controller
        self.active = False
        self._saved: tuple | None = None  # the layer's mode and mouse_pan before the tool went on
        self.changed: list[Callable[[], None]] = []  # called when the tool goes on or off, or the layer's mode changes
        self.peers: list[LayerTool] = []  # the dock's other tools: one is on at a time

    def layer(self):
        layer = self.view.layers.get("boundaryfit")
        return layer if layer is not None and layer in self.view.viewer.layers else None

    def attach(self, layer) -> None:
        """Give a new ``boundaryfit`` layer the tool's mouse callback (the tool, when on, follows to it)."""
        if self.on_drag not in layer.mouse_drag_callbacks:
            layer.mouse_drag_callbacks.append(self.on_drag)
        layer.events.mode.connect(self._mode_changed)
        if self.active:
            self.active = False
            self.set_active(True)
        self._notify()

    def _notify(self) -> None:
        for callback in list(self.changed):
            callback()

    def set_active(self, on: bool) -> None:
        """Turn the tool on (the layer pans no more and napari's brush rests; the tool's cursor) or off."""
        layer = self.layer()
        if layer is None:
            self.active = False
            self.controller.say("No labels to edit yet: open a volume first")
            self._notify()
            return
        on = bool(on)
        if on == self.active:
            return
        if on:
            for peer in self.peers:  # first: it gives the layer back its mode, which this tool then keeps
                if peer.active:
                    peer.set_active(False)
        self.active = on  # before the mode change below, which _mode_changed watches
        if on:
            self._saved = (layer.mode, layer.mouse_pan)
            self.view.viewer.layers.selection.active = layer
            layer.mode = "pan_zoom"
            layer.mouse_pan = False
            layer.cursor = self.CURSOR
            layer.help = self.HELP  # napari's status bar: what a click does now
            self.controller.say(self.HELP)
        else:
            mode, pan = self._saved or ("pan_zoom", True)
            layer.mouse_pan = pan
            layer.mode = mode
            layer.cursor = "standard" if mode == "pan_zoom" else layer.cursor
            if layer.help == self.HELP:
                layer.help = ""
            self.controller.say(f"{self.NAME} off")
        self._notify()

    def toggle(self) -> None:
        self.set_active(not self.active)

    def _mode_changed(self, event=None) -> None:
        layer = self.layer()
        if self.active and layer is not None and layer.mode != "pan_zoom":  # the user took a brush: tool off
            self.active = False
            layer.mouse_pan = True if self._saved is None else self._saved[1]
            if layer.help == self.HELP:
                layer.help = ""
        self._notify()

    def on_drag(self, layer, event):
        """napari mouse drag callback of the tool (a generator: press, moves, release); acts only while on."""
        raise NotImplementedError
