"""The region tool in the app (key G): a click adds a region of the perimeter map, Shift+click removes it, a drag
adds every region it crosses; one undo step per press-drag-release, the slice marked corrected like a stroke."""

import numpy as np
import pytest
from qtpy.QtCore import QPoint, QPointF, Qt

pytestmark = pytest.mark.gui
WAIT = 120_000  # ms: the engine shares 2 CPU cores with other work
NO_MOD, SHIFT = Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def canvas_pos(w, y, x):
    p = w.view.canvas.transform().map(QPointF(x + 0.5, y + 0.5))
    return QPoint(int(p.x()), int(p.y()))


def key(qtbot, w, k, modifier=NO_MOD):
    w.view.canvas.setFocus()
    qtbot.keyClick(w.view.canvas, k, modifier)


def click(qtbot, w, y, x, modifier=NO_MOD):
    qtbot.mouseClick(w.view.canvas, Qt.MouseButton.LeftButton, modifier, canvas_pos(w, y, x))


def drag(qtbot, w, points):
    c = w.view.canvas
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=canvas_pos(w, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(c, canvas_pos(w, *p))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=canvas_pos(w, *points[-1]))


@pytest.fixture
def review(make_window, volume_path, qtbot):
    """A window on slice 3 once the engine has computed it, its labels cleared; returns (window, labels)."""
    w = make_window()
    assert w.open_volume(volume_path, start=3)
    c = w.controller
    qtbot.waitUntil(lambda: c.state is not None and c.state.has_proposal(3), timeout=WAIT)
    labels = c.state.labels
    labels[3] = 0
    w.view.refresh(3)
    return w, labels


def grid_walls(w, z):
    """Walls every 16 px on slice z of the controller's perimeter: a 4 x 4 grid of regions."""
    walls = np.zeros(w.controller.perimeter.shape[1:], w.controller.perimeter.dtype)
    walls[16::16, :] = walls[:, 16::16] = 1
    w.controller.perimeter[z] = walls
    return w.region_tool.source.region_map(z)


def test_click_adds_shift_click_removes_each_one_undo_step(review, qtbot):
    w, labels = review
    regions = grid_walls(w, 3)
    corner = regions.labels == regions.at(8, 8)
    key(qtbot, w, Qt.Key.Key_G)
    assert w.view.canvas.tool == "region" and w.layers.tools.checkedButton().objectName() == "tool_region"
    assert w.view.canvas.cursor().shape() == Qt.CursorShape.PointingHandCursor
    click(qtbot, w, 8, 8)
    np.testing.assert_array_equal(labels[3] > 0, corner)  # exactly the region clicked
    assert w.controller.state.status(3) == "corrected"
    np.testing.assert_array_equal(w.view.canvas.layer_data("boundaryfit") > 0, corner)  # what the screen shows
    click(qtbot, w, 8, 40)
    added = labels[3].copy()
    click(qtbot, w, 9, 9, SHIFT)  # Shift: remove
    np.testing.assert_array_equal(labels[3] > 0, regions.labels == regions.at(8, 40))
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # one undo step per click
    np.testing.assert_array_equal(labels[3], added)
    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(labels[3] > 0, corner)
    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert labels[3].sum() == 0
    key(qtbot, w, Qt.Key.Key_Y, CTRL)
    np.testing.assert_array_equal(labels[3] > 0, corner)


def test_a_drag_adds_every_region_crossed_in_one_undo_step(review, qtbot):
    w, labels = review
    regions = grid_walls(w, 3)
    w.layers.select_tool("region")
    drag(qtbot, w, [(8, 8), (8, 30), (8, 56)])  # across the top row of the grid
    row = np.isin(regions.labels, [regions.at(8, x) for x in (8, 24, 40, 56)])
    np.testing.assert_array_equal(labels[3] > 0, row)
    assert w.controller.state.status(3) == "corrected"
    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert labels[3].sum() == 0 and not w.view.editor.can_undo


def test_finer_regions_split_the_region_under_the_mouse(review, qtbot):
    w, labels = review
    regions = grid_walls(w, 3)
    w.layers.select_tool("region")
    qtbot.mouseMove(w.view.canvas, canvas_pos(w, 40, 40))
    key(qtbot, w, Qt.Key.Key_G, SHIFT)
    finer = w.region_tool.source.region_map(3)
    assert finer.n_regions > regions.n_regions
    click(qtbot, w, 40, 40)
    part = labels[3] > 0
    assert part.any() and part.sum() < (regions.labels == regions.at(40, 40)).sum()  # a smaller part only
    np.testing.assert_array_equal(part, finer.labels == finer.at(40, 40))


def test_a_click_without_a_perimeter_changes_nothing_and_says_so(review, qtbot):
    w, labels = review
    w.controller.perimeter[3] = 0  # this slice's perimeter is not computed
    status = w.controller.state.status(3)
    w.layers.select_tool("region")
    click(qtbot, w, 8, 8)
    drag(qtbot, w, [(8, 8), (8, 56)])
    assert labels[3].sum() == 0 and not w.view.editor.can_undo
    assert w.controller.state.status(3) == status
    assert "perimeter" in w.statusBar().currentMessage()


def test_the_editor_region_mode_without_qt():
    from labelassist.app.editing import LabelEditor
    from labelassist.core.regions import RegionMap

    planes = np.zeros((2, 8, 8), np.uint8)
    rmap = RegionMap(np.repeat(np.array([[1, 1, 2, 2, 3, 3, 0, 0]]), 8, axis=0))
    ed = LabelEditor(lambda k: planes[k])
    ed.set_region_source(lambda k: rmap if k == 0 else None)
    ed.set_tool("region")
    ed.press(1, 2, 2)  # no regions on slice 1: nothing starts
    assert not ed.in_stroke and ed.release() is None
    ed.press(0, 2, 0)
    ed.move(5, 7)  # crosses regions 1, 2, 3 and the air (0)
    ed.release()
    np.testing.assert_array_equal(planes[0, 0], [1, 1, 1, 1, 1, 1, 0, 0])
    ed.press(0, 3, 3, remove=True)
    ed.release()
    np.testing.assert_array_equal(planes[0, 4], [1, 1, 0, 0, 1, 1, 0, 0])
    ed.undo()
    ed.undo()
    assert planes.sum() == 0 and not ed.can_undo
