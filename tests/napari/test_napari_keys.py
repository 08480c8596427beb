"""Keys that always work in napari (issue 27): the dock shows the active tool (the region tool of G, or napari's mode
of ``boundaryfit``), and after a box or a button of the dock the review keys act again. Keys go to the widget that
has the keyboard focus, as a real keyboard's do."""

import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QAbstractButton, QAbstractSlider, QApplication, QComboBox

from labelassist.core.review import ACCEPTED, REJECTED

pytestmark = pytest.mark.gui
NO_MOD = Qt.KeyboardModifier.NoModifier


def press(qtbot, k, modifier=NO_MOD):
    """A key typed where the keyboard focus is (the shortcut map first, then the focus widget)."""
    target = QApplication.focusWidget()
    assert target is not None, "nothing has the keyboard focus"
    qtbot.keyClick(target, k, modifier)


def click(widget):
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, NO_MOD, QPoint(widget.width() // 2, widget.height() // 2))


@pytest.fixture
def shown(dock, qtbot):
    """The dock's viewer on screen and active, the keyboard on napari's canvas (as after a click on it)."""
    viewer, widget = dock
    window = viewer.window._qt_window  # noqa: SLF001 - napari has no public window
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    canvas = viewer.window._qt_viewer.canvas.native  # noqa: SLF001
    canvas.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is canvas)
    return viewer, widget


def test_g_shows_the_region_tool_in_the_dock_and_napari_modes_follow(shown, qtbot):
    from labelassist.napari._regions import HELP

    viewer, widget = shown
    layer = viewer.layers["boundaryfit"]
    assert "napari" in widget.tool_label.text() and not widget.region_button.isChecked()
    press(qtbot, Qt.Key.Key_G)
    assert widget.regions.active and widget.region_button.isChecked()
    assert widget.tool_label.text() == "Tool: region (G)" and widget.tool_label.isVisible()
    assert layer.cursor == "pointing" and layer.help == HELP
    layer.mode = "paint"  # napari's brush chosen in its layer controls (or by its key): the region tool ends
    assert not widget.regions.active and not widget.region_button.isChecked()
    assert widget.tool_label.text() == "Tool: napari paint" and layer.help != HELP
    click(widget.region_button)  # the dock's button turns it on too, and gives the keys back to napari
    assert widget.regions.active and widget.tool_label.text() == "Tool: region (G)"
    press(qtbot, Qt.Key.Key_G)
    assert not widget.regions.active and not widget.region_button.isChecked()
    assert widget.tool_label.text() == "Tool: napari paint"  # the mode before the region tool is back


def test_after_editing_a_dock_spin_box_and_enter_a_accepts(shown, qtbot):
    viewer, widget = shown
    c = widget.controller
    spin = widget.panel.n_segments
    click(spin)
    assert QApplication.focusWidget() is spin
    spin.selectAll()
    qtbot.keyClicks(spin, "150")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert c.engine.params.n_segments == 150
    assert not widget.isAncestorOf(QApplication.focusWidget())  # napari's window has the keys again
    z = c.current
    press(qtbot, Qt.Key.Key_A)
    assert c.state.status(z) == ACCEPTED
    press(qtbot, Qt.Key.Key_N)
    assert c.current != z


def test_escape_in_a_dock_box_then_r_rejects(shown, qtbot):
    viewer, widget = shown
    c = widget.controller
    click(widget.panel.n_segments)
    press(qtbot, Qt.Key.Key_Escape)
    press(qtbot, Qt.Key.Key_R)
    assert c.state.status(c.current) == REJECTED


def test_after_clicking_a_dock_button_napari_and_review_keys_act(shown, qtbot):
    viewer, widget = shown
    c = widget.controller
    widget.view.set_current_index(2)
    click(widget.panel.run_slice_button)
    press(qtbot, Qt.Key.Key_Right)  # napari's own key: the next slice
    assert widget.view.current_index() == 3 and c.current == 3
    press(qtbot, Qt.Key.Key_A)
    assert c.state.status(3) == ACCEPTED
    click(widget.panel.next_button)
    press(qtbot, Qt.Key.Key_Left)
    assert widget.view.current_index() == c.current
    qtbot.waitUntil(lambda: not c.engine.busy, timeout=60_000)


def test_dock_buttons_sliders_and_boxes_never_keep_the_focus(shown):
    viewer, widget = shown
    for w in widget.findChildren(QAbstractButton) + widget.findChildren(QAbstractSlider) + \
            widget.findChildren(QComboBox):
        assert not w.focusPolicy() & Qt.FocusPolicy.ClickFocus, w


def test_y_says_lesion_and_train_classifier_trains_on_the_yes_and_no(shown, qtbot, monkeypatch):
    from types import SimpleNamespace

    from labelassist.widgets import training

    viewer, widget = shown
    c = widget.controller
    widget.view.set_current_index(1)
    qtbot.waitUntil(lambda: c.current == 1)
    press(qtbot, Qt.Key.Key_Y)  # a lesion on slice 1, nothing drawn
    assert c.state.lesion_marks == [1] and widget.panel.strip.marks[1] == "lesion"
    widget.view.set_current_index(3)
    qtbot.waitUntil(lambda: c.current == 3)
    press(qtbot, Qt.Key.Key_R)  # no lesion on slice 3
    posted, signal = {}, SimpleNamespace(connect=lambda slot: None)
    monkeypatch.setattr(c.engine, "call", lambda name, fn, **kw: posted.update(kw) or SimpleNamespace(
        returned=signal, cancelled=signal))
    monkeypatch.setattr(training.TrainDialog, "exec", lambda self: training.QDialog.DialogCode.Accepted)
    click(widget.train_button)  # the app's File > Train dialog, on the dock's review
    assert posted["labels"][0].tolist() == [1, 0] and posted["volumes"][0].shape[0] == 2
    assert posted["exclude"] == widget.path and posted["others"] == []


def test_the_study_list_dock_opens_the_next_volume(shown, qtbot, tmp_path):
    from labelassist.engine.testing import make_test_volume

    viewer, widget = shown
    folder = tmp_path / "study"
    folder.mkdir()
    for k in range(2):
        make_test_volume(folder / f"case{k}.nii.gz", seed=k)
    study = widget.open_study_dock()
    assert study.set_study(folder)
    assert [study.list.item(i).text() for i in range(2)] == ["○ case0.nii.gz: untouched", "○ case1.nii.gz: untouched"]
    study.next_volume()
    qtbot.waitUntil(lambda: widget.path is not None and widget.path.name == "case0.nii.gz", timeout=60_000)
    widget.controller.accept(0)
    assert study.list.item(0).text() == "◐ case0.nii.gz: in review, 1 of 6 slices"
