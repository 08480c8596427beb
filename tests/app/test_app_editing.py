"""Brush, eraser, fill and undo/redo on label slices (numpy only): what a reviewer's strokes do to boundaryfit."""

import numpy as np
import pytest

from labelassist.app.editing import LabelEditor, disk, flood_fill, stamp_line
from labelassist.errors import ParameterError


@pytest.fixture
def volume():
    return np.zeros((3, 32, 40), np.uint8)


def editor_for(volume, log=None):
    return LabelEditor(lambda k: volume[k], changed=(lambda k, box: log.append((k, box))) if log is not None else None)


def test_disk_is_round_and_sized():
    d = disk(3)
    assert d.shape == (7, 7) and d[3, 3] and d[3, 0] and d[0, 3] and not d[0, 0]
    assert disk(0).sum() == 1


def test_stroke_paints_a_continuous_band_and_is_one_undo_step(volume):
    log = []
    ed = editor_for(volume, log)
    ed.radius = 2
    ed.press(1, 10, 5)
    ed.move(10, 30)  # a fast mouse: one event 25 px away still gives a gap-free band
    ed.release()
    assert volume[1, 10, 5:31].all() and volume[1, 8:13, 15].all() and volume[1, 20].sum() == 0
    assert volume[0].sum() == volume[2].sum() == 0
    assert log and all(k == 1 for k, _ in log)
    before = volume.copy()
    ed.undo()
    assert volume.sum() == 0 and ed.can_redo and not ed.can_undo
    ed.redo()
    np.testing.assert_array_equal(volume, before)


def test_eraser_and_fill(volume):
    ed = editor_for(volume)
    volume[0, 5:25, 5:25] = 1
    volume[0, 10:20, 10:20] = 0  # a hole
    ed.set_tool("fill")
    ed.press(0, 15, 15)
    ed.release()
    assert volume[0, 5:25, 5:25].all() and volume[0].sum() == 400
    ed.set_tool("eraser")
    ed.radius = 1
    ed.press(0, 15, 0)
    ed.move(15, 39)
    ed.release()
    assert volume[0, 15].sum() == 0 and volume[0, 13, 10] == 1
    ed.undo()
    assert volume[0, 15, 5:25].all()
    ed.undo()
    assert volume[0, 15, 15] == 0 and volume[0, 5, 5] == 1  # the hole is back, the square kept
    assert ed.undo() is None


def test_a_stroke_that_changes_nothing_leaves_no_undo_step(volume):
    ed = editor_for(volume)
    ed.set_tool("eraser")
    ed.press(0, 5, 5)
    ed.release()
    assert not ed.can_undo
    ed.set_tool("fill")
    volume[0] = 1
    ed.press(0, 3, 3)  # filling a region with its own label
    assert ed.release() is None


def test_new_stroke_clears_redo_and_undo_crosses_slices(volume):
    ed = editor_for(volume)
    ed.press(0, 5, 5), ed.release()
    ed.press(2, 5, 5), ed.release()
    assert ed.undo().key == 2 and volume[2].sum() == 0 and volume[0].sum() > 0
    ed.press(1, 5, 5), ed.release()
    assert not ed.can_redo
    assert ed.undo().key == 1 and ed.undo().key == 0 and volume.sum() == 0


def test_cancel_stroke_restores(volume):
    ed = editor_for(volume)
    ed.press(0, 5, 5)
    ed.move(5, 20)
    assert volume[0].sum() > 0
    ed.cancel_stroke()
    assert volume.sum() == 0 and not ed.can_undo


def test_brush_at_the_border_and_outside(volume):
    ed = editor_for(volume)
    ed.radius = 3
    ed.press(0, -1, -1)
    ed.release()
    assert volume[0, 0, 0] == 1
    ed.press(0, -50, -50)
    assert ed.release() is None
    assert stamp_line(volume[1], (-20, -20), (-10, -10), radius=2, value=1) is None
    assert flood_fill(volume[1], 99, 0, 1) is None


def test_bad_settings_name_the_fix():
    ed = LabelEditor(lambda k: None)
    with pytest.raises(ParameterError, match="brush radius must be in"):
        ed.radius = -1
    with pytest.raises(ParameterError, match="tool must be one of brush, eraser, fill"):
        ed.set_tool("lasso")
