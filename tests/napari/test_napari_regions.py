"""The region tool in napari (issue 18): a click adds or removes a region of the perimeter map on the ``boundaryfit``
layer, one step of napari's undo each, and marks the slice corrected."""

from types import SimpleNamespace

import numpy as np
import pytest

from labelassist.core.review import CORRECTED

pytestmark = pytest.mark.gui


def _region_pixel(widget, z):
    """A pixel (y, x) inside the largest region of slice ``z``, with that region's label and mask."""
    rmap = widget.regions.source.region_map(z)
    assert rmap is not None and rmap.n_regions > 0
    sizes = np.bincount(rmap.labels.ravel(), minlength=rmap.n_regions + 1)
    sizes[0] = 0
    label = int(np.argmax(sizes))
    ys, xs = np.nonzero(rmap.labels == label)
    return (int(ys[len(ys) // 2]), int(xs[len(xs) // 2])), label, rmap.labels == label


@pytest.fixture
def computed(dock, run_volume):
    viewer, widget = dock
    widget.controller.set_params(gate=1.0)  # every proposal empty: a region added is a change
    run_volume(widget)
    layer = viewer.layers["boundaryfit"]
    return viewer, widget, layer, widget.controller.current


def test_click_adds_then_shift_removes_each_one_undo_step(qtbot, computed):
    viewer, widget, layer, z = computed
    c = widget.controller
    (y, x), label, inside = _region_pixel(widget, z)
    before = layer.data.copy()
    assert widget.region_click(z, y, x, add=True) == 1
    assert (layer.data[z][inside] == 1).all()
    changed = layer.data != before
    assert changed[z].sum() == inside.sum() - (before[z][inside] == 1).sum() and not np.delete(changed, z, 0).any()
    assert c.state.status(z) == CORRECTED
    added = layer.data.copy()
    layer.undo()  # one step undoes the whole click
    np.testing.assert_array_equal(layer.data, before)
    layer.redo()
    np.testing.assert_array_equal(layer.data, added)

    assert widget.region_click(z, y, x, add=False) == 1
    assert not layer.data[z][inside].any()
    layer.undo()  # one step restores the region
    np.testing.assert_array_equal(layer.data, added)


def test_g_key_region_mode_drag_callback_shift_removes(qtbot, computed):
    from qtpy.QtCore import Qt

    viewer, widget, layer, z = computed
    (y, x), label, inside = _region_pixel(widget, z)
    tool = widget.regions
    canvas = viewer.window._qt_viewer.canvas.native
    qtbot.keyClick(canvas, Qt.Key_G)
    assert tool.active and "Region tool on" in widget.panel.message.text()
    assert layer.mode == "pan_zoom" and layer.cursor == "pointing" and not layer.mouse_pan
    world = layer.data_to_world([z, y, x])
    for modifiers, expected in (((), True), (("Shift",), False)):
        event = SimpleNamespace(type="mouse_press", position=world, modifiers=modifiers, button=1)
        gen = tool.on_drag(layer, event)
        next(gen)
        event.type = "mouse_release"
        with pytest.raises(StopIteration):
            next(gen)
        assert bool(layer.data[z][inside].all()) is expected and bool(layer.data[z][inside].any()) is expected
    qtbot.keyClick(canvas, Qt.Key_G)
    assert not tool.active and layer.mouse_pan


def test_refine_splits_the_region_under_the_point(qtbot, computed):
    viewer, widget, layer, z = computed
    (y, x), label, inside = _region_pixel(widget, z)
    n = widget.regions.source.region_map(z).n_regions
    walls = viewer.layers["perimeter"].data[z].copy()
    assert widget.regions.refine(z, y, x)
    finer = widget.regions.source.region_map(z)
    assert finer.n_regions > n and finer.at(y, x) != 0
    new = (viewer.layers["perimeter"].data[z] > 0) & ~(walls > 0)
    assert new.any() and inside[new].all()  # the finer walls are shown, inside the split region only
    assert widget.region_click(z, y, x, add=True) == 1  # only the finer region under the click is added
    assert 0 < layer.data[z].sum() < inside.sum()


def test_click_without_perimeter_changes_nothing(qtbot, dock):
    viewer, widget = dock
    c = widget.controller
    layer = viewer.layers["boundaryfit"]
    before = layer.data.copy()
    status = c.state.status(0)
    assert widget.region_click(0, 3, 3, add=True) == 0
    np.testing.assert_array_equal(layer.data, before)
    assert c.state.status(0) == status and "perimeter" in widget.panel.message.text()
    qtbot.waitUntil(lambda: "loading" not in widget.panel.model_label.text(), timeout=60_000)  # the engine settles first


def test_drag_adds_every_region_it_crosses_in_one_undo_step(qtbot, computed):
    from labelassist.core.regions import regions_along

    viewer, widget, layer, z = computed
    tool = widget.regions
    tool.set_active(True)
    rmap = tool.source.region_map(z)
    h, w = rmap.labels.shape
    start, end = (h // 2, w // 4), (h // 2, 3 * w // 4)
    crossed = regions_along(rmap, [start, end])
    assert len(crossed) >= 2
    before = layer.data.copy()
    event = SimpleNamespace(type="mouse_press", position=layer.data_to_world([z, *start]), modifiers=(), button=1)
    gen = tool.on_drag(layer, event)
    next(gen)
    event.type, event.position = "mouse_move", layer.data_to_world([z, *end])
    next(gen)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(gen)
    assert (layer.data[z][np.isin(rmap.labels, crossed)] == 1).all()
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)
