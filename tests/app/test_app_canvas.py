"""The slice canvas and the volume view in a real X server: layers drawn, zoom and pan, axis choice, strokes."""

import numpy as np
import pytest
from qtpy.QtCore import QPoint, QPointF, Qt

from labelassist.app import render
from labelassist.app.canvas import SliceCanvas
from qtpy.QtGui import QColor

from labelassist.widgets.status_strip import STATUS_COLOURS
from labelassist.app.view import VolumeView

pytestmark = pytest.mark.gui


def pixel(widget, x, y):
    img = widget.grab().toImage()
    c = img.pixelColor(int(x), int(y))
    return c.red(), c.green(), c.blue()


@pytest.fixture
def canvas(qtbot):
    c = SliceCanvas()
    qtbot.addWidget(c)
    c.resize(400, 400)
    c.show()
    qtbot.waitExposed(c)
    return c


def centre_of(c, y, x):
    p = c.transform().map(QPointF(x + 0.5, y + 0.5))
    return int(p.x()), int(p.y())


def test_layers_are_drawn_and_hidden(canvas):
    image = np.zeros((40, 40), np.float32)
    image[:, 20:] = 1.0
    labels = np.zeros((40, 40), np.uint8)
    labels[5:15, 5:15] = 1
    perimeter = np.zeros((40, 40), bool)
    perimeter[30, :] = True
    cam = np.zeros((40, 40), np.float16)
    cam[25:28, 25:35] = 1.0
    canvas.set_window(1.0, 0.5)
    canvas.set_slice(image, cam, perimeter, labels)
    assert pixel(canvas, *centre_of(canvas, 35, 10)) == (0, 0, 0)  # black image, no overlay
    assert pixel(canvas, *centre_of(canvas, 35, 30)) == (255, 255, 255)
    r, g, b = pixel(canvas, *centre_of(canvas, 10, 10))
    assert r > 100 and b > 100 and g < 40  # magenta label over black
    r, g, b = pixel(canvas, *centre_of(canvas, 30, 10))
    assert r > 60 and g > 60 and b < 30  # yellow perimeter (translucent by default)
    r, g, b = pixel(canvas, *centre_of(canvas, 26, 30))
    assert (r, g, b) != (255, 255, 255)  # heat map tints the white half
    canvas.set_visible("boundaryfit", False)
    canvas.set_visible("perimeter", False)
    assert pixel(canvas, *centre_of(canvas, 10, 10)) == (0, 0, 0)
    assert pixel(canvas, *centre_of(canvas, 30, 10)) == (0, 0, 0)
    canvas.set_visible("boundaryfit", True)
    canvas.set_opacity("boundaryfit", 1.0)
    assert pixel(canvas, *centre_of(canvas, 10, 10)) == pytest.approx(render.LABEL_RGB, abs=3)


def test_window_level_and_right_drag(canvas, qtbot):
    image = np.full((40, 40), 52.0, np.float32)
    canvas.set_slice(image)
    canvas.set_window(40.0, 50.0)
    x, y = centre_of(canvas, 20, 20)  # (52 - 30) / 40 * 255 = 140
    assert pixel(canvas, x, y)[0] == pytest.approx(140, abs=1)
    canvas.set_window(10.0, 20.0)
    assert pixel(canvas, x, y)[0] == 255
    with qtbot.waitSignal(canvas.window_changed):
        qtbot.mousePress(canvas, Qt.MouseButton.RightButton, pos=QPoint(x, y))
        qtbot.mouseMove(canvas, QPoint(x + 100, y))
        qtbot.mouseRelease(canvas, Qt.MouseButton.RightButton, pos=QPoint(x + 100, y))
    assert canvas.window_width > 10.0


def test_zoom_keeps_the_point_under_the_cursor_and_pan_moves(canvas):
    canvas.set_slice(np.zeros((50, 100), np.float32), aspect=(2.0, 1.0))
    anchor = QPointF(150, 180)
    before = canvas.to_image(anchor)
    canvas.zoom(2.0, anchor)
    after = canvas.to_image(anchor)
    assert before == pytest.approx(after, abs=1e-6)
    canvas.pan(30, 0)
    y, x = canvas.to_image(anchor)
    assert x == pytest.approx(after[1] - 30 / (canvas.scale * canvas.aspect[1]))
    canvas.fit()  # 2:1 pixels: 50 rows x 100 columns is a square on screen
    top_left = canvas.transform().map(QPointF(0, 0))
    bottom_right = canvas.transform().map(QPointF(100, 50))
    assert bottom_right.x() - top_left.x() == pytest.approx(bottom_right.y() - top_left.y())


@pytest.fixture
def view(qtbot, tiny_volume):
    v = VolumeView()
    qtbot.addWidget(v)
    v.resize(500, 500)
    v.show()
    qtbot.waitExposed(v)
    labels = np.zeros(tiny_volume.shape, np.uint8)
    cam = np.zeros(tiny_volume.shape, np.float32)
    perimeter = np.zeros(tiny_volume.shape, np.uint8)
    v.set_volume(tiny_volume, labels, cam=cam, perimeter=perimeter)
    return v


def test_strokes_edit_the_shown_native_slice(view, qtbot):
    view.show_slice(2)
    view.editor.radius = 2
    c = view.canvas
    start, end = centre_of(c, 10, 5), centre_of(c, 10, 30)
    with qtbot.waitSignal(view.edited) as sig:
        qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(*start))
        qtbot.mouseMove(c, QPoint(*end))
        qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(*end))
    assert sig.args == [2]
    assert view.labels[2, 10, 5:31].all() and view.labels.sum() == view.labels[2].sum()
    r, g, b = pixel(c, *centre_of(c, 10, 15))
    assert r > g + 40 and b > g + 40  # the stroke is drawn at once


def test_other_axes_are_view_only_and_show_resliced_layers(view, qtbot):
    view.labels[3, 30:34, 10:20] = 1
    view.cam[3] = 1.0
    view.set_axis("y")
    assert view.n_slices == 64 and view.native_index is None and not view.canvas.editable
    assert "view only" in view.canvas.banner
    view.show_slice(31)
    img, cam, bnd, lab = (view.canvas.layer_data(n) for n in ("image", "grad-cam", "perimeter", "boundaryfit"))
    assert img.shape == (6, 48) and lab.shape == (6, 48) and lab[3, 10:20].all() and lab.sum() == 10
    assert cam.shape == (6, 48) and cam[3].min() == 1 and cam[2].max() == 0
    assert view.canvas.aspect == (3.0, 1.0)
    before = view.labels.copy()
    c = view.canvas
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(*centre_of(c, 3, 15)))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(*centre_of(c, 3, 15)))
    np.testing.assert_array_equal(view.labels, before)  # never painted through another axis
    view.set_axis("z")
    assert view.canvas.editable and view.native_index == 3


def test_wheel_and_slider_marks(view, qtbot):
    view.show_slice(1)
    qtbot.wait(10)
    c = view.canvas
    from qtpy.QtCore import QPoint as P
    from qtpy.QtGui import QWheelEvent
    from qtpy.QtWidgets import QApplication

    ev = QWheelEvent(QPointF(100, 100), QPointF(c.mapToGlobal(P(100, 100))), P(0, 0), P(0, 120),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(c, ev)
    assert view.current == 2
    view.set_statuses(["accepted", "unreviewed", "rejected", "corrected", "unreviewed", "unreviewed"])
    s = view.slider
    img = s.grab().toImage()
    for i, status in ((0, "accepted"), (2, "rejected"), (3, "corrected")):
        r = s.mark_rect(i)
        assert img.pixelColor(r.center()) == QColor(STATUS_COLOURS[status])
