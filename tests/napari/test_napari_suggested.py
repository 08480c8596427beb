"""Suggested lesions in napari (issue 18): a green outline layer over ``boundaryfit`` that is never exported until
the reviewer accepts it with S, as one step of napari's undo."""

import numpy as np
import pytest

from labelassist.core.review import CORRECTED
from labelassist.widgets import SUGGESTED, SUGGESTED_RGB
from labelassist.engine.testing import propagation_result

pytestmark = pytest.mark.gui

Z = 1  # the slice with the suggestion (unreviewed), away from the drawn lesion


def _suggest(widget):
    """Apply a hand-made propagation result with one suggested lesion (a square on slice Z); returns its mask."""
    c = widget.controller
    suggested = np.zeros(c.state.labels.shape, np.uint8)
    suggested[Z, 40:52, 40:52] = 1
    c.learner.apply(propagation_result(c.state.labels, suggested=suggested, ranges=[(Z, Z)]))
    return suggested[Z] > 0


@pytest.fixture
def suggested(dock):
    viewer, widget = dock
    return viewer, widget, _suggest(widget)


def test_suggested_layer_is_a_green_outline_over_boundaryfit_on_screen(qtbot, suggested):
    viewer, widget, square = suggested
    layer, labels = viewer.layers[SUGGESTED], viewer.layers["boundaryfit"]
    assert layer.data is widget.controller.suggested and (layer.data[Z] > 0).sum() == square.sum()
    names = [ly.name for ly in viewer.layers]
    assert names.index(SUGGESTED) > names.index("boundaryfit")  # drawn on top
    assert viewer.layers.selection.active is labels and not layer.editable and layer.visible
    assert layer.contour >= 1  # an outline, not a filled area
    np.testing.assert_allclose(layer.affine.affine_matrix, labels.affine.affine_matrix)
    for value in (1, 2, 7):  # every suggested lesion in the one colour
        np.testing.assert_allclose(layer.colormap.map(value)[:3], np.array(SUGGESTED_RGB) / 255)
    assert layer.colormap.map(0)[3] == 0

    viewer.window.show()  # on screen: green on the suggested slice, none on a slice without one
    widget.view.set_current_index(Z)
    qtbot.waitUntil(lambda: widget.controller.current == Z, timeout=5000)
    qtbot.wait(200)
    rgb = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    green = (np.abs(rgb - np.array(SUGGESTED_RGB)).max(axis=-1) < 40).sum()
    widget.view.set_current_index(Z + 2)  # no suggestion there
    qtbot.waitUntil(lambda: widget.controller.current == Z + 2, timeout=5000)
    qtbot.wait(200)
    rgb = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    assert green > 20 and (np.abs(rgb - np.array(SUGGESTED_RGB)).max(axis=-1) < 40).sum() == 0


def test_shift_n_goes_to_the_suggestion_and_s_accepts_it_as_one_undo_step(qtbot, suggested):
    from qtpy.QtCore import Qt

    viewer, widget, square = suggested
    c = widget.controller
    layer = viewer.layers["boundaryfit"]
    widget.view.set_current_index(Z + 2)
    viewer.layers.selection.active = layer  # napari's Labels keymap comes first: Shift+N must still reach the review
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key_N, Qt.ShiftModifier)  # to the suggestion
    qtbot.waitUntil(lambda: c.current == Z and widget.view.current_index() == Z, timeout=5000)
    said = []
    c.message.connect(lambda text, error: said.append(text))
    before = layer.data.copy()
    viewer.layers.selection.active = layer  # napari's Labels keymap comes first: S must still reach the review
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key_S)
    assert (layer.data[Z][square] == 1).all() and (layer.data[Z][~square] == before[Z][~square]).all()
    assert np.array_equal(np.delete(layer.data, Z, 0), np.delete(before, Z, 0))
    assert not c.suggested[Z].any() and c.state.status(Z) == CORRECTED
    assert sum("corrected" in t.lower() for t in said if "accepted" not in t) <= 1  # not said twice by a paint event
    assert any("accepted" in t for t in said)
    layer.undo()  # one step takes the whole accepted lesion back, with the slice's status
    np.testing.assert_array_equal(layer.data, before)
    assert c.state.status(Z) == "unreviewed" and c.suggested[Z][square].all()
    layer.redo()
    assert (layer.data[Z][square] == 1).all() and c.state.status(Z) == CORRECTED
    layer.undo()

    assert not c.accept_suggestion(Z + 2)  # no suggestion there: nothing changes
    np.testing.assert_array_equal(c.state.labels, before)
    assert "No suggested lesion" in widget.panel.message.text()


def test_export_before_accepting_holds_no_suggestion(qtbot, suggested, tmp_path):
    from labelassist.io import load_volume

    viewer, widget, square = suggested
    c = widget.controller
    path = c.export(tmp_path / "labels.nii.gz")
    qtbot.waitUntil(lambda: path is not None and path.is_file(), timeout=10_000)
    exported = np.asarray(load_volume(path).array)
    assert not exported[Z][square].any()
    assert c.accept_suggestion(Z)
    path = c.export(tmp_path / "labels_accepted.nii.gz")
    qtbot.waitUntil(lambda: path.is_file(), timeout=10_000)
    assert (np.asarray(load_volume(path).array)[Z][square] > 0).all()
