"""The napari side of :class:`~labelassist.widgets.ReviewView`: four layers on the controller's arrays and the
suggested lesions as green outlines over them, the dims slider as the current slice (labelled ``slice``), paint
strokes reported as corrected slices, keys bound on the viewer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labelassist.napari._geometry import (
    GEOMETRY_KEY, SLICE_LABEL, axis_labels, layer_geometry, napari_affine, world_axes,
)
from labelassist.io.orientation import is_display_image
from labelassist.napari._orient import orient_viewer
from labelassist.widgets import SUGGESTED, SUGGESTED_RGB, ReviewView
from labelassist.widgets.view import LABEL_RGB, SUGGESTED_OUTLINE_PX

__all__ = ["NapariView", "SLICE_LABEL", "suggested_colormap"]

CAM, PERIMETER, LABELS = "grad-cam", "perimeter", "boundaryfit"
BOX = "box"  # the box tool's rectangle while it is dragged
OUTSIDE = "outside"  # an ultrasound volume's screen around its scan area, dimmed
BOX_RGB = {False: "#ffe650", True: "#ff7878"}  # adds, removes (the app's colours)


def suggested_colormap(rgb=SUGGESTED_RGB):
    """A napari label colormap that draws every nonzero label in ``rgb`` (:data:`SUGGESTED_RGB`) and 0 transparent."""
    from napari.utils.colormaps import DirectLabelColormap

    rgba = np.array([*rgb, 255], float) / 255
    return DirectLabelColormap(color_dict={None: rgba, 0: np.zeros(4)})


def painted_slices(history_item) -> list[int]:
    """The slices (array axis 0) a napari paint event's history item touched."""
    touched: set[int] = set()
    for atom in history_item or ():
        key = getattr(atom, "slice_key", None)
        if key is not None:  # a masked atom: a bounding box of slices
            first = key[0]
            touched.update(range(first.start or 0, first.stop) if isinstance(first, slice) else [int(first)])
        else:  # the (indices, old values, new value) tuple
            idx = atom[0]
            touched.update(int(i) for i in np.unique(np.asarray(idx[0]))) if len(idx) else None
    return sorted(touched)


def report_history(layer, on_paint: Callable) -> None:
    """Make ``layer``'s undo and redo (Ctrl+Z, Ctrl+Shift+Z, the layer's own methods) report the slices they change
    to ``on_paint``, as a stroke does: napari's Labels emits no event for them, and the review must know (an undo of
    an accepted suggestion gives the slice back its status)."""
    for name in ("undo", "redo"):
        original = getattr(layer, name)

        def run(original=original):
            before = np.asarray(layer.data).copy()
            original()
            after = np.asarray(layer.data)
            changed = np.nonzero((after != before).reshape(len(before), -1).any(1))[0] if after.ndim == 3 else []
            if len(changed):
                on_paint([int(i) for i in changed])

        setattr(layer, name, run)  # the keymap's undo calls the layer's, so it runs this


# napari Labels modes whose press starts a stroke of the brush, the eraser or the bucket (one undo step each).
STROKE_MODES = ("paint", "erase", "fill")


def report_strokes(layer, on_stroke: Callable, on_stroke_end: Callable, current: Callable) -> None:
    """Call ``on_stroke(current())`` when a press of napari's brush, eraser or bucket on ``layer`` starts a stroke,
    before the stroke changes anything, and ``on_stroke_end()`` at its release: the review keeps the slice's mask
    and status then, so the stroke's undo gives the slice back its status as well as its mask."""
    def stroke(layer, event):
        if str(layer.mode) not in STROKE_MODES:
            return
        on_stroke(current())
        yield
        while event.type == "mouse_move":
            yield
        on_stroke_end()

    layer.mouse_drag_callbacks.insert(0, stroke)  # before napari's mode callback, which a mode change appends


class NapariView(ReviewView):
    """Renders a review in a napari viewer.

    Parameters
    ----------
    viewer : napari.Viewer
    on_paint : callable(list of int)
        Called with the slices a paint stroke (one undo step) touched.
    on_slice : callable(int)
        Called when the dims slider shows another slice.
    on_stroke, on_stroke_end : callable(int), callable()
        Called when a press of the brush, eraser or bucket starts a stroke on the shown slice (before it paints)
        and when it ends.
    """

    def __init__(self, viewer, *, on_paint: Callable, on_slice: Callable, on_stroke: Callable | None = None,
                 on_stroke_end: Callable | None = None):
        self.viewer = viewer
        self.on_paint, self.on_slice = on_paint, on_slice
        self.on_stroke, self.on_stroke_end = on_stroke, on_stroke_end
        self.image_layer = None
        self.convention = "radiological"
        self.letters = None  # the edge letters' layer (:mod:`._orient`)
        self.layers: dict = {}
        self._geo: dict = {}  # the world transform every overlay shares with the image layer
        self._bound: list[str] = []
        self._editing = False  # edit_slice in progress: its paint event is not a stroke of the reviewer
        self.labels_added: list[Callable] = []  # called with each new ``boundaryfit`` layer (the region tool)
        viewer.dims.events.current_step.connect(self._on_step)

    # -- layers -----------------------------------------------------------------------------------
    def use_image_layer(self, layer) -> None:
        self.image_layer = layer

    def show_volume(self, volume, *, cam, perimeter, labels) -> None:
        if self.image_layer is None or self.image_layer not in self.viewer.layers:
            from labelassist.napari._reader import image_layer_data

            data, meta, _ = image_layer_data(volume)
            self.image_layer = self.viewer.add_image(data, **meta)
        src = self.image_layer
        if src.ndim == 3:  # the overlays share the image layer's world transform exactly
            geo = {"affine": np.asarray(src.affine.affine_matrix), "scale": src.scale, "translate": src.translate,
                   "rotate": src.rotate, "shear": src.shear}
        else:  # a 2-D image reviewed as one slice
            geo = {"affine": napari_affine(volume.affine)}
        geo["axis_labels"] = axis_labels(volume)  # the slider reads "slice" (napari takes the layers' labels)
        self._geo = geo
        for name in (CAM, PERIMETER, LABELS, SUGGESTED, BOX, OUTSIDE):  # a new volume replaces the previous layers
            old = self.layers.pop(name, None)
            if old is not None and old in self.viewer.layers:
                self.viewer.layers.remove(old)
        meta = {GEOMETRY_KEY: layer_geometry(volume)}
        v = self.viewer
        self.layers[CAM] = v.add_image(cam, name=CAM, colormap="inferno", contrast_limits=(0.0, 1.0),
                                       opacity=0.4, blending="translucent", metadata=dict(meta), **geo)
        self.layers[PERIMETER] = v.add_image(perimeter, name=PERIMETER, colormap="cyan", contrast_limits=(0, 1),
                                             opacity=0.35, blending="additive", metadata=dict(meta), **geo)
        labels_layer = v.add_labels(labels, name=LABELS, opacity=0.5, metadata=dict(meta),
                                    colormap=suggested_colormap(LABEL_RGB), **geo)  # magenta, as the app's
        labels_layer.events.paint.connect(self._on_paint)
        report_history(labels_layer, self.on_paint)
        if self.on_stroke is not None:
            report_strokes(labels_layer, self.on_stroke, self.on_stroke_end or (lambda: None), self.current_index)
        self.layers[LABELS] = labels_layer
        for hook in self.labels_added:
            hook(labels_layer)
        v.layers.selection.active = labels_layer
        foreign = volume.format == "layer"  # another reader's layer: its axes say nothing of the patient
        self.letters = orient_viewer(v, labels_layer, world_axes(volume.affine), convention=self.convention,
                                     geometry=self._geo, letters=not (foreign or is_display_image(volume)),
                                     as_stored=foreign)
        self._update_slice_label()

    def set_convention(self, convention: str) -> None:
        """Radiological (default) or neurological: the camera of the layers shown now, and of the next volume's."""
        self.convention = convention
        labels = self.layers.get(LABELS)
        if labels is not None and labels in self.viewer.layers:
            world = labels.metadata[GEOMETRY_KEY]["world_axes"]
            foreign = labels.metadata[GEOMETRY_KEY].get("format") == "layer"
            self.letters = orient_viewer(self.viewer, labels, world, convention=convention, geometry=self._geo,
                                         letters=self.letters is not None, as_stored=foreign)

    def show_area(self, area) -> None:
        """Dim what lies outside an ultrasound scan area: a layer ``outside`` (black, translucent, not editable)."""
        old = self.layers.pop(OUTSIDE, None)
        if old is not None and old in self.viewer.layers:
            self.viewer.layers.remove(old)
        labels = self.layers.get(LABELS)
        if area is None or labels is None:
            return
        outside = np.broadcast_to((~np.asarray(area, bool)).astype(np.uint8), labels.data.shape)
        layer = self.viewer.add_labels(outside, name=OUTSIDE, colormap=suggested_colormap((0, 0, 0)), opacity=0.6,
                                       blending="translucent", **self._geo)
        layer.editable = False
        self.layers[OUTSIDE] = layer
        self.viewer.layers.selection.active = labels

    def show_suggestions(self, suggested) -> None:
        labels_layer = self.layers.get(LABELS)
        if labels_layer is None:
            return
        old = self.layers.pop(SUGGESTED, None)
        if old is not None and old in self.viewer.layers:
            self.viewer.layers.remove(old)
        layer = self.viewer.add_labels(suggested, name=SUGGESTED, colormap=suggested_colormap(), opacity=1.0,
                                       blending="translucent", metadata=dict(labels_layer.metadata), **self._geo)
        layer.contour = SUGGESTED_OUTLINE_PX
        layer.editable = False  # drawn, never painted: the reviewer accepts a suggestion with S
        self.layers[SUGGESTED] = layer
        if self.letters is not None and self.letters in self.viewer.layers:  # the edge letters stay on top
            self.viewer.layers.move(self.viewer.layers.index(self.letters), len(self.viewer.layers))
        self.viewer.layers.selection.active = labels_layer

    def box_layer(self):
        """The box tool's Shapes layer (made once per volume, on the volume's grid; the labels stay active, so a
        drag on them goes on reaching the tool)."""
        layer = self.layers.get(BOX)
        if layer is None or layer not in self.viewer.layers:
            layer = self.viewer.add_shapes(name=BOX, ndim=3, face_color="transparent", edge_width=1.5, **self._geo)
            layer.editable = False
            self.layers[BOX] = layer
            if self.layers.get(LABELS) is not None:
                self.viewer.layers.selection.active = self.layers[LABELS]
        return layer

    def show_box(self, index: int | None = None, corners=None, *, remove: bool = False) -> None:
        """Draw the box being dragged on slice ``index`` (``corners`` (y0, x0, y1, x1) in voxels; yellow, red when
        it removes), or no box (``index`` None)."""
        layer = self.layers.get(BOX)
        if index is None and (layer is None or layer not in self.viewer.layers):
            return
        layer = self.box_layer()
        if layer.nshapes:
            layer.selected_data = set(range(layer.nshapes))
            layer.remove_selected()
        if index is None:
            return
        y0, x0, y1, x1 = corners
        rect = np.array([[index, y0, x0], [index, y0, x1], [index, y1, x1], [index, y1, x0]], float)
        layer.add(rect, shape_type="rectangle", edge_color=BOX_RGB[bool(remove)], face_color="transparent")

    def edit_slice(self, index: int, mask) -> bool:
        """Slice ``index`` of ``boundaryfit`` becomes ``mask`` as one step of the layer's undo (its history through
        ``block_history`` and ``data_setitem``, which redraws the changed box); False without the layer."""
        layer = self.layers.get(LABELS)
        if layer is None or layer not in self.viewer.layers:
            return False
        mask = np.asarray(mask, dtype=layer.data.dtype)
        ys, xs = np.nonzero(np.asarray(layer.data[index]) != mask)
        if ys.size:
            self._editing = True  # the controller marks the slice corrected itself
            try:
                with layer.block_history():
                    layer.data_setitem((np.full(ys.shape, int(index), np.intp), ys, xs), mask[ys, xs])
            finally:
                self._editing = False
        return True

    def refresh(self, index: int | None = None) -> None:
        if index is not None and index != self.current_index():
            return  # napari draws only the slice on screen
        for layer in self.layers.values():
            if layer in self.viewer.layers:
                layer.refresh()

    def refresh_labels(self, index: int | None = None) -> None:
        layer = self.layers.get(LABELS)
        if layer is not None and layer in self.viewer.layers and (index is None or index == self.current_index()):
            layer.refresh()

    # -- slice ------------------------------------------------------------------------------------
    def _reference(self):
        return self.layers.get(LABELS) or self.image_layer

    def current_index(self) -> int:
        layer = self._reference()
        if layer is None:
            return 0
        pos = layer.world_to_data(self.viewer.dims.point[-layer.ndim:])
        return int(np.clip(np.round(pos[0]), 0, layer.data.shape[0] - 1))

    def set_current_index(self, index: int) -> None:
        layer = self._reference()
        if layer is None:
            return
        point = np.asarray(layer.world_to_data(self.viewer.dims.point[-layer.ndim:]), float)
        point[0] = index
        world = layer.data_to_world(point)
        axis = self.viewer.dims.ndim - layer.ndim
        self.viewer.dims.set_point(axis, float(world[0]))

    def _slice_axis(self) -> int:
        return self.viewer.dims.ndim - self._reference().ndim

    def _update_slice_label(self) -> None:
        """The slider counts napari's world steps: the slice index when the slices run up the world axis (the
        layers' axis label ``slice`` stands). Where they run down it (or another layer widens the range) the count
        differs, and the dims label then says the slice itself: ``slice 5``."""
        dims = self.viewer.dims
        axis = self._slice_axis()
        if not 0 <= axis < dims.ndim:
            return
        index = self.current_index()
        text = SLICE_LABEL if dims.current_step[axis] == index else f"{SLICE_LABEL} {index}"
        if dims.axis_labels[axis] != text:
            labels = list(dims.axis_labels)
            labels[axis] = text
            dims.axis_labels = labels

    def _on_step(self, event=None) -> None:
        if self._reference() is not None:
            if LABELS in self.layers:
                self._update_slice_label()
            self.on_slice(self.current_index())

    def _on_paint(self, event) -> None:
        if not self._editing:
            self.on_paint(painted_slices(event.value))

    # -- keys -------------------------------------------------------------------------------------
    def install_shortcuts(self, shortcuts) -> None:
        for sc in shortcuts:
            self.bind(sc.key, sc.callback, sc.description)

    def bind(self, key: str, callback: Callable[[], None], description: str = "") -> None:
        """Bind ``key`` (napari spelling: ``"G"``, ``"Shift-G"``) on the viewer to ``callback()`` until
        :meth:`uninstall`."""
        def action(viewer, callback=callback):
            callback()

        action.__doc__ = description
        self.viewer.bind_key(key, action, overwrite=True)
        self._bound.append(key)

    def uninstall(self) -> None:
        """Forget the viewer (its key bindings and slider); the layers stay for the user."""
        for key in self._bound:
            self.viewer.bind_key(key, None, overwrite=True)
        self._bound = []
        self.viewer.dims.events.current_step.disconnect(self._on_step)
