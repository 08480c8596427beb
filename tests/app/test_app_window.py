"""The main window in a real X server: the whole review loop a radiologist runs, mouse and keyboard."""

import numpy as np
import pytest
from qtpy.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from qtpy.QtGui import QDropEvent

from labelassist.io import load_volume

pytestmark = pytest.mark.gui
WAIT = 120_000  # ms: the engine shares 2 CPU cores with other work


def wait_proposal(qtbot, w, z=None):
    c = w.controller
    qtbot.waitUntil(lambda: c.state is not None and c.state.has_proposal(c.current if z is None else z), timeout=WAIT)


def canvas_pos(w, y, x):
    p = w.view.canvas.transform().map(QPointF(x + 0.5, y + 0.5))
    return QPoint(int(p.x()), int(p.y()))


def drag(qtbot, w, points):
    c = w.view.canvas
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=canvas_pos(w, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(c, canvas_pos(w, *p))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=canvas_pos(w, *points[-1]))


def key(qtbot, w, k, modifier=Qt.KeyboardModifier.NoModifier):
    w.view.canvas.setFocus()
    qtbot.keyClick(w.view.canvas, k, modifier)


def test_open_run_paint_erase_fill_undo_redo(make_window, volume_path, qtbot):
    w = make_window()
    assert w.open_volume(volume_path, start=3)
    c = w.controller
    assert w.view.current == 3 and c.current == 3 and w.view.canvas.layer_data("image").shape == (64, 64)
    wait_proposal(qtbot, w)  # the slice on screen is computed by itself
    qtbot.waitUntil(lambda: w.view.canvas.layer_data("grad-cam").max() > 0, timeout=WAIT)
    labels = c.state.labels
    np.testing.assert_array_equal(labels[3], c.engine.refit(3))  # the proposal is what boundaryfit shows
    assert w.view.canvas.layer_data("boundaryfit") is not None

    labels[3] = 0  # start from a known slice (as an eraser would): paint a band
    w.view.refresh(3)
    w.layers.select_tool("brush")
    w.layers.brush.setValue(2)
    drag(qtbot, w, [(10, 5), (10, 40)])
    assert labels[3, 10, 5:41].all() and labels[3, 20].sum() == 0
    assert c.state.status(3) == "corrected"
    painted = labels[3].copy()
    key(qtbot, w, Qt.Key.Key_E)  # eraser
    drag(qtbot, w, [(10, 20), (10, 25)])
    assert labels[3, 10, 20:26].sum() == 0 and labels[3, 10, 5:15].all()
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(labels[3], painted)
    key(qtbot, w, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert labels[3, 10, 20:26].sum() == 0
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    labels[3, 30:50, 30:50] = 1
    labels[3, 35:45, 35:45] = 0
    w.view.refresh(3)
    key(qtbot, w, Qt.Key.Key_F)  # fill the hole
    drag(qtbot, w, [(40, 40)])
    assert labels[3, 30:50, 30:50].all()
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert labels[3, 40, 40] == 0 and labels[3, 32, 32] == 1
    assert c.state.labels is labels  # everything went to the review state's label volume


def test_keyboard_review_and_slider_marks(make_window, volume_path, qtbot):
    w = make_window()
    w.open_volume(volume_path, start=0)
    c = w.controller
    wait_proposal(qtbot, w, 0)
    key(qtbot, w, Qt.Key.Key_A)
    assert c.state.status(0) == "accepted"
    key(qtbot, w, Qt.Key.Key_Up)
    assert w.view.current == 1 and c.current == 1
    key(qtbot, w, Qt.Key.Key_R)
    assert c.state.status(1) == "rejected" and c.state.labels[1].sum() == 0
    key(qtbot, w, Qt.Key.Key_N)
    assert c.current == 2 and w.view.current == 2
    key(qtbot, w, Qt.Key.Key_PageUp)
    assert w.view.current == 3
    key(qtbot, w, Qt.Key.Key_Down)
    assert w.view.current == 2
    assert w.view.slider.statuses()[:2] == ["accepted", "rejected"]
    assert "reviewed 2/6" in w.slice_label.text()


def test_export_then_reload_gives_the_same_labels_on_the_same_grid(make_window, volume_path, qtbot, tmp_path):
    w = make_window()
    w.open_volume(volume_path, start=2)
    c = w.controller
    wait_proposal(qtbot, w, 2)
    c.state.labels[2, 5:9, 5:9] = 1
    c.mark_corrected([2])
    key(qtbot, w, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    out = c.export_path
    assert out.is_file()
    back, source = load_volume(out, labels=True), load_volume(volume_path)
    np.testing.assert_array_equal(back.array.astype(np.uint8), c.state.labels)
    np.testing.assert_allclose(back.affine, source.affine)
    assert back.shape == source.shape


def test_reopening_restores_the_session(make_window, volume_path, qtbot):
    w = make_window()
    w.open_volume(volume_path, start=1)
    c = w.controller
    wait_proposal(qtbot, w, 1)
    drag(qtbot, w, [(30, 30), (30, 34)])
    key(qtbot, w, Qt.Key.Key_Up)
    key(qtbot, w, Qt.Key.Key_R)
    edited = c.state.labels.copy()
    w.close()
    c.sessions.flush()

    w2 = make_window()
    w2.open_volume(volume_path)
    st = w2.controller.state
    assert st.status(1) == "corrected" and st.status(2) == "rejected"
    np.testing.assert_array_equal(st.labels[1], edited[1])
    assert w2.view.slider.statuses()[1:3] == ["corrected", "rejected"]
    assert str(volume_path.resolve()) in [str(p) for p in w2.settings.recent()]


def test_cancel_stops_a_volume_run(make_window, tmp_path, qtbot):
    from labelassist.engine.testing import make_test_volume

    path = make_test_volume(tmp_path / "long.nii.gz", shape=(40, 64, 64))
    w = make_window(batch_size=2)
    w.open_volume(path, start=0)
    e = w.controller.engine
    job = w.controller.run_volume()
    returned = []
    job.returned.connect(returned.append)
    with qtbot.waitSignal(job.progress, timeout=WAIT):
        pass
    assert w.cancel_action.isEnabled()
    with qtbot.waitSignal(job.finished, timeout=WAIT):
        key(qtbot, w, Qt.Key.Key_Escape)
    assert job.state == "cancelled" and returned == []  # a cancelled job returns nothing
    computed = sum(e.result(i) is not None for i in range(40))
    assert computed < 40


def test_an_engine_error_shows_a_message_and_the_window_stays_usable(make_window, volume_path, qtbot, tmp_path):
    w = make_window()
    w.open_volume(volume_path, start=2)
    wait_proposal(qtbot, w, 2)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(w.error_shown, timeout=WAIT) as sig:
        w.open_model(bad)
    assert "broken.pt" in sig.args[0] and "\n" not in sig.args[0]
    assert w._message_box.isVisible() and not w._message_box.isModal()
    key(qtbot, w, Qt.Key.Key_Up)  # still navigates, paints and reviews
    assert w.view.current == 3
    drag(qtbot, w, [(20, 20), (20, 30)])
    assert w.controller.state.status(3) == "corrected"
    key(qtbot, w, Qt.Key.Key_A)
    assert w.controller.state.status(3) == "corrected"
    w.open_volume(tmp_path / "missing.nii.gz")  # a bad file: one line, nothing else changes
    assert "missing.nii.gz" in w.last_error and w.path == volume_path


def test_other_axes_are_view_only(make_window, volume_path, qtbot):
    w = make_window()
    w.open_volume(volume_path, start=2)
    wait_proposal(qtbot, w, 2)
    before = w.controller.state.labels.copy()
    w.set_axis("y")
    assert w.view.canvas.layer_data("image").shape == (6, 64) and w.view.canvas.aspect == (1.5, 1.0)
    assert not w.layers.tools.buttons()[0].isEnabled() and "view only" in w.view.canvas.banner
    drag(qtbot, w, [(2, 10), (2, 40)])
    key(qtbot, w, Qt.Key.Key_A)
    assert w.controller.state.statuses == ["unreviewed"] * 6
    np.testing.assert_array_equal(w.controller.state.labels, before)
    w.set_axis("z")
    assert w.view.current == 2 and w.view.canvas.editable


def test_drop_a_file_opens_it(make_window, volume_path, qtbot):
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(volume_path))])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(w.volume_loaded, timeout=WAIT):
        w.dropEvent(event)
    assert w.path == volume_path and w.controller.state.n_slices == 6


def test_a_proposal_arriving_mid_stroke_does_not_replace_the_stroke(make_window, volume_path, qtbot):
    w = make_window()
    w.open_volume(volume_path, start=4)
    c = w.controller
    wait_proposal(qtbot, w, 4)
    cv = w.view.canvas
    qtbot.mousePress(cv, Qt.MouseButton.LeftButton, pos=canvas_pos(w, 5, 5))
    qtbot.mouseMove(cv, canvas_pos(w, 5, 20))
    assert c.state.status(4) == "corrected"
    assert not c.state.set_proposal(4, np.zeros((64, 64), np.uint8))  # what the engine's next result would do
    qtbot.mouseRelease(cv, Qt.MouseButton.LeftButton, pos=canvas_pos(w, 5, 20))
    assert c.state.labels[4, 5, 5:21].all()


def test_layer_keys_recent_menu_and_shortcut_list(make_window, volume_path, qtbot):
    from labelassist.app.menus import shortcut_table

    w = make_window()
    w.open_volume(volume_path)
    key(qtbot, w, Qt.Key.Key_2)  # grad-cam
    assert not w.view.canvas.visible["grad-cam"] and not w.layers.visible["grad-cam"].isChecked()
    key(qtbot, w, Qt.Key.Key_2)
    assert w.view.canvas.visible["grad-cam"]
    w.layers.opacity["boundaryfit"].setValue(20)
    assert w.view.canvas.opacity["boundaryfit"] == pytest.approx(0.2)
    key(qtbot, w, Qt.Key.Key_BracketRight)
    assert w.view.editor.radius == 5 and w.view.canvas.brush_radius == 5
    texts = [a.text() for a in w.recent_menu.actions()]
    assert str(volume_path.resolve()) in texts
    table = shortcut_table(w)
    for k in ("Ctrl+Z", "Ctrl+Y", "A ", "R ", "N ", "Esc"):
        assert k in table


def test_r_then_drawing_redraws_a_slice_from_nothing(make_window, volume_path, qtbot):
    """A proposal more work to fix than to draw: R empties the slice, the stroke drawn after it is its label and
    the slice counts as corrected (the learner learns the lesion, not "no lesion")."""
    w = make_window()
    w.open_volume(volume_path, start=3)
    c = w.controller
    wait_proposal(qtbot, w, 3)
    c.state.labels[3, 40:50, 40:50] = 1  # a proposal somewhere else
    w.view.refresh(3)
    key(qtbot, w, Qt.Key.Key_R)
    assert c.state.status(3) == "rejected" and c.state.labels[3].sum() == 0
    w.layers.select_tool("brush")
    w.layers.brush.setValue(2)
    drag(qtbot, w, [(10, 5), (10, 40)])
    assert c.state.status(3) == "corrected"
    assert c.state.labels[3, 10, 5:41].all() and c.state.labels[3, 40:50, 40:50].sum() == 0
