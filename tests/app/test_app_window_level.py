"""Window and level in the app: a default that shows the tissue, presets, W for the slice, kept in the session."""

import numpy as np
import pytest
from qtpy.QtCore import QPointF, Qt

pytestmark = pytest.mark.gui


def test_the_reviewers_window_survives_a_reopen(make_window, volume_path, qtbot):
    w = make_window()
    assert w.open_volume(volume_path, start=1)
    c = w.view.canvas
    default = (c.window_width, c.level)
    qtbot.mousePress(c, Qt.MouseButton.RightButton, pos=QPointF(100, 100).toPoint())  # right-drag: window/level
    qtbot.mouseMove(c, QPointF(160, 80).toPoint())
    qtbot.mouseRelease(c, Qt.MouseButton.RightButton, pos=QPointF(160, 80).toPoint())
    chosen = (c.window_width, c.level)
    assert chosen != default and w.layers.window_spin.value() == pytest.approx(chosen[0], abs=1e-3)
    w.close()
    w.controller.sessions.flush()

    w2 = make_window()
    assert w2.open_volume(volume_path)
    c2 = w2.view.canvas
    assert (c2.window_width, c2.level) == pytest.approx(chosen)
    assert w2.layers.level.value() == pytest.approx(chosen[1], abs=1e-3)


def test_presets_and_w(make_window, volume_path, qtbot):
    w = make_window()
    assert w.open_volume(volume_path, start=1)
    lp, c = w.layers, w.view.canvas
    from labelassist.core.display import body_window

    image = np.asarray(w.view.volume.array)
    assert (c.window_width, c.level) == pytest.approx(body_window(image))  # the default, shown in the boxes
    assert lp.window_spin.value() == pytest.approx(c.window_width, abs=1e-3)
    assert w.controller.state.display == {}  # nothing the reviewer chose: nothing kept
    names = [lp.presets.itemText(i) for i in range(lp.presets.count())]
    assert names[0].startswith("body") and names[1].startswith("full range")
    lp.presets.activated.emit(1)  # full range
    assert c.level - c.window_width / 2 == pytest.approx(float(image.min()), abs=1e-3)
    assert lp.window_spin.value() == pytest.approx(c.window_width, abs=1e-3)
    w.auto_window()  # W: the slice shown
    assert (c.window_width, c.level) == pytest.approx(body_window(image[1]))
