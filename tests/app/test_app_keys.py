"""Keys that always work (issue 27): the slice, review and tool keys act on the canvas whatever panel widget the
reviewer used last. Keys go to the widget that has the keyboard focus, as a real keyboard's do."""

import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QAbstractButton, QAbstractSlider, QApplication, QComboBox

pytestmark = pytest.mark.gui
WAIT = 120_000  # ms: the engine shares 2 CPU cores with other work
NO_MOD = Qt.KeyboardModifier.NoModifier


def press(qtbot, k, modifier=NO_MOD):
    """A key typed where the keyboard focus is (the shortcut map first, then the focus widget)."""
    target = QApplication.focusWidget()
    assert target is not None, "nothing has the keyboard focus"
    qtbot.keyClick(target, k, modifier)


def click(widget):
    """A real mouse click in the middle of ``widget`` (focus moves the way Qt moves it for a click)."""
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, NO_MOD, QPoint(widget.width() // 2, widget.height() // 2))


@pytest.fixture
def review(make_window, volume_path, qtbot):
    """A window on slice 3 of the 6-slice volume, its proposal there, the canvas focused by a click on it."""
    w = make_window()
    assert w.open_volume(volume_path, start=3)
    c = w.controller
    qtbot.waitUntil(lambda: c.state is not None and c.state.has_proposal(3), timeout=WAIT)
    qtbot.waitUntil(lambda: not c.engine.busy, timeout=WAIT)
    QTest.mouseClick(w.view.canvas, Qt.MouseButton.MiddleButton, NO_MOD, QPoint(5, 5))  # middle: pans, edits nothing
    return w


def type_level(qtbot, w, text):
    """Click into the Level box, type ``text`` over its value and press Enter."""
    spin = w.layers.level
    click(spin)
    assert QApplication.focusWidget() is spin
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    return spin


def test_after_typing_a_level_and_enter_arrows_and_page_keys_move_the_slice(review, qtbot):
    w = review
    spin = type_level(qtbot, w, "0.25")
    assert spin.value() == pytest.approx(0.25) and w.view.canvas.level == pytest.approx(0.25)
    assert QApplication.focusWidget() is w.view.canvas  # Enter gave the keyboard back to the canvas
    press(qtbot, Qt.Key.Key_Down)
    assert w.view.current == 2 and spin.value() == pytest.approx(0.25)  # the slice moved, the level did not
    press(qtbot, Qt.Key.Key_PageUp)
    assert w.view.current == 3
    press(qtbot, Qt.Key.Key_A)
    assert w.controller.state.status(3) == "accepted"


def test_escape_in_the_window_box_gives_the_keys_back(review, qtbot):
    w = review
    click(w.layers.window_spin)
    assert QApplication.focusWidget() is w.layers.window_spin
    press(qtbot, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is w.view.canvas
    press(qtbot, Qt.Key.Key_Up)
    assert w.view.current == 4


@pytest.mark.parametrize("button", ["propagate_button", "run_slice_button", "calibrate_button"])
def test_after_clicking_a_panel_button_n_and_the_arrows_still_act(review, qtbot, button):
    w = review
    c = w.controller
    c.accept(3)  # one reviewed slice: Propagate and Calibrate have something to learn from
    qtbot.waitUntil(lambda: not c.engine.busy, timeout=WAIT)
    click(getattr(w.panel, button))
    press(qtbot, Qt.Key.Key_Up)
    assert w.view.current == 4
    press(qtbot, Qt.Key.Key_N)  # the next unreviewed slice: not 4
    there = c.current
    assert there != 4 and w.view.current == there
    press(qtbot, Qt.Key.Key_PageDown)  # a tenth of 6 slices: one
    assert w.view.current == max(0, there - 1)
    c.cancel()
    qtbot.waitUntil(lambda: not c.engine.busy, timeout=WAIT)


def test_after_the_tool_buttons_layer_boxes_and_axis_keys_still_act(review, qtbot):
    w = review
    click(w.layers.findChild(QAbstractButton, "tool_region"))
    assert w.view.canvas.tool == "region"
    press(qtbot, Qt.Key.Key_Up)
    assert w.view.current == 4
    click(w.layers.visible["perimeter"])
    press(qtbot, Qt.Key.Key_E)  # a tool key
    assert w.view.canvas.tool == "eraser" and w.layers.findChild(QAbstractButton, "tool_eraser").isChecked()
    click(w.layers.opacity["grad-cam"])
    press(qtbot, Qt.Key.Key_Down)
    assert w.view.current == 3
    press(qtbot, Qt.Key.Key_R)
    assert w.controller.state.status(3) == "rejected"


def test_panel_buttons_sliders_and_boxes_never_keep_the_focus(review):
    w = review
    for panel in (w.layers, w.panel):
        for widget in panel.findChildren(QAbstractButton) + panel.findChildren(QAbstractSlider) + \
                panel.findChildren(QComboBox):
            assert not widget.focusPolicy() & Qt.FocusPolicy.ClickFocus, widget


def test_the_tool_shown_follows_the_tool_keys(review, qtbot):
    from labelassist.widgets.keys import KEYS

    w = review
    for tool in ("region", "fill", "eraser", "brush"):
        press(qtbot, getattr(Qt.Key, f"Key_{KEYS[tool].key}"))
        assert w.view.canvas.tool == tool
        assert w.layers.findChild(QAbstractButton, f"tool_{tool}").isChecked()
        assert tool in w.layers.tool_label.text()
