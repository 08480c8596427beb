"""Suggested lesions in the app: a green outline over boundaryfit on the slices the learner suggests, S adds the one
on screen to the label as one undo step (Ctrl+Z takes it back), and nothing is exported until it is accepted."""

import numpy as np
import pytest
from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QImage

from labelassist.io import load_volume
from labelassist.widgets.view import SUGGESTED, SUGGESTED_RGB
from labelassist.engine.testing import propagation_result

pytestmark = pytest.mark.gui
WAIT = 120_000  # ms: the engine shares 2 CPU cores with other work
BOX = (slice(36, 50), slice(8, 22))  # the suggested lesion, away from the test volume's disc


def key(qtbot, w, k, modifier=Qt.KeyboardModifier.NoModifier):
    w.view.canvas.setFocus()
    qtbot.keyClick(w.view.canvas, k, modifier)


def screen(w) -> np.ndarray:
    """What the canvas shows, as (h, w, 3) uint8 RGB."""
    img = w.view.canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(img.height(), -1)
    return rows[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def green(w) -> np.ndarray:
    """The canvas pixels drawn in the suggested lesions' colour."""
    return (np.abs(screen(w).astype(int) - SUGGESTED_RGB) <= 12).all(axis=-1)


def at(w, y, x):
    """The canvas pixel (row, column) of the top left corner of slice pixel (y, x)."""
    p = w.view.canvas.transform().map(QPointF(x, y))
    return int(p.y()), int(p.x())


@pytest.fixture
def review(make_window, volume_path, qtbot):
    """A window on slice 3, every slice computed and its labels cleared, a lesion suggested on slices 3 and 4."""
    w = make_window()
    assert w.open_volume(volume_path, start=3)
    c = w.controller
    job = c.run_volume()
    qtbot.waitUntil(lambda: job.done and not c.engine.busy, timeout=WAIT)  # no proposal lands after this
    c.state.labels[:] = 0
    suggested = np.zeros(c.state.labels.shape, np.int32)
    suggested[(slice(3, 5), *BOX)] = 1
    c.learner.apply(propagation_result(c.state.labels, suggested=suggested, ranges=[(3, 4)]))
    qtbot.wait(50)
    return w, c


def test_a_suggestion_is_a_green_outline_on_its_slices_only(review, qtbot):
    w, c = review
    assert w.view.current == 3 and w.view.suggested is c.suggested
    shown = green(w)
    assert shown.sum() > 100, "no suggested outline drawn on slice 3"
    (ya, xa), (yb, xb) = at(w, BOX[0].start, BOX[1].start), at(w, BOX[0].stop, BOX[1].stop)
    (y0, y1), (x0, x1) = sorted((ya, yb)), sorted((xa, xb))  # the screen shows the slice flipped (radiological)
    assert shown[y0:y1 + 1, x0:x1 + 1].sum() == shown.sum()  # around the suggested lesion only (its edge included)
    assert shown[y0 + 1, (x0 + x1) // 2] and not shown[(y0 + y1) // 2, (x0 + x1) // 2]  # an outline, not a fill
    assert not c.state.labels[3].any()  # a suggestion is not a label
    w.layers.visible[SUGGESTED].setChecked(False)  # the layer panel's toggle hides it
    assert not green(w).any()
    w.layers.visible[SUGGESTED].setChecked(True)
    w.view.show_slice(1)  # a slice without a suggestion
    qtbot.waitUntil(lambda: c.current == 1)
    assert not green(w).any()


def test_s_adds_the_suggestion_to_the_label_and_one_undo_takes_it_back(review, qtbot):
    w, c = review
    w.view.show_slice(0)
    qtbot.waitUntil(lambda: c.current == 0)
    key(qtbot, w, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)  # Shift+N: to the suggested lesion
    assert w.view.current == 3 and c.current == 3
    c.state.labels[3, 2:6, 2:6] = 1  # the reviewer's own pixels stay
    w.view.refresh(3)
    before = c.state.labels[3].copy()
    key(qtbot, w, Qt.Key.Key_S)
    assert c.state.labels[(3, *BOX)].all() and c.state.labels[3, 2:6, 2:6].all()
    assert int(c.state.labels[3].sum()) == int(before.sum()) + c.suggested[4].astype(bool).sum()
    assert c.state.status(3) == "corrected" and c.state.status(4) == "unreviewed"
    assert not c.suggested[3].any() and c.suggested[4].any()  # the rest of the lesion is still suggested
    assert not green(w).any()  # accepted: magenta boundaryfit, no longer a suggestion
    np.testing.assert_array_equal(w.view.canvas.layer_data("boundaryfit"), c.state.labels[3])
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo step
    np.testing.assert_array_equal(c.state.labels[3], before)
    assert c.state.status(3) == "unreviewed" and c.suggested[(3, *BOX)].all()  # the status and the suggestion too
    key(qtbot, w, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert c.state.labels[(3, *BOX)].all() and c.state.status(3) == "corrected"


def test_only_an_accepted_suggestion_is_exported(review, tmp_path):
    w, c = review
    out = c.export(tmp_path / "before.nii.gz")
    assert not load_volume(out, labels=True).array.any()  # suggested on slices 3 and 4, exported nowhere
    assert c.accept_suggestion()  # the slice on screen: 3
    out = c.export(tmp_path / "after.nii.gz")
    exported = load_volume(out, labels=True).array
    assert exported[(3, *BOX)].all()
    assert not np.delete(exported, 3, axis=0).any()  # slice 3 only
