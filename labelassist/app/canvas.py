"""The slice canvas: the layers of one slice, window/level, zoom and pan, and the mouse for the painting tools.

Mouse and keys on the canvas:

- left drag: the current tool (brush / eraser / fill on ``boundaryfit``; pan in pan mode or with Space held; in
  box mode a rectangle, ``box_drawn`` at its release, Shift held: to remove what the box finds)
- middle drag: pan; right drag: window (left-right) and level (up-down)
- wheel: next / previous slice (``slice_step``); Ctrl+wheel: zoom about the cursor

The other keys are the main window's (window shortcuts, :data:`labelassist.widgets.keys.KEYS`); the panels give the
keyboard back to the canvas after every click and after Enter in a box (:func:`labelassist.widgets.keys.keep_keys_on`).
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPointF, QRect, QRectF, Qt, Signal
from qtpy.QtGui import QColor, QFont, QKeySequence, QPainter, QPen, QTransform
from qtpy.QtWidgets import QSizePolicy, QWidget

from labelassist.app import render
from labelassist.io.orientation import SliceOrientation
from labelassist.widgets.keys import KEYS

__all__ = ["SliceCanvas"]

ZOOM_STEP = 1.25
ZOOM_RANGE = (0.05, 64.0)
PAN_KEY = QKeySequence(KEYS["pan_hold"].key)[0].key()  # held: the left button pans


class SliceCanvas(QWidget):
    """Draws ``image``, ``grad-cam``, ``perimeter``, ``boundaryfit`` and ``suggested`` (an outline) of one slice.

    Signals carry image coordinates (row ``y``, column ``x``, floats, in pixels of the slice).
    """

    stroke_pressed = Signal(float, float)
    stroke_moved = Signal(float, float)
    stroke_released = Signal()
    box_drawn = Signal(float, float, float, float, bool)  # y0, x0, y1, x1 (slice pixels), remove (Shift held)
    slice_step = Signal(int)
    window_changed = Signal(float, float)
    cursor_moved = Signal(float, float)
    frame_drawn = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the main window takes drops
        self.visible = {name: v for name, (v, _) in render.LAYERS.items()}
        self.opacity = {name: o for name, (_, o) in render.LAYERS.items()}
        self._data: dict[str, np.ndarray | None] = dict.fromkeys(render.LAYERS)
        self._images: dict = dict.fromkeys(render.LAYERS)
        self._heat_table = render.heat_table()
        self._tables = {"perimeter": render.binary_table(render.PERIMETER_RGB),
                        "boundaryfit": render.label_table(render.LABEL_RGB),
                        render.SUGGESTED: render.binary_table(render.SUGGESTED_RGB)}
        self.window_width, self.level = 1.0, 0.5
        self.aspect = (1.0, 1.0)  # pixel height, width (relative); from the voxel spacing
        self.shape: tuple[int, int] | None = None
        self.orientation = SliceOrientation("axial")  # how the slice's rows and columns meet the screen
        self.scale = 1.0
        self.offset = QPointF(0, 0)
        self.tool = "brush"
        self.editable = False
        self.brush_radius = 4
        self.info_text = ""
        self._outside = None  # a QImage that dims what lies outside an ultrasound scan area (set_area)
        self.banner = ""  # e.g. "view only": drawn across the top
        self._drag = None  # ("tool" | "pan" | "window" | "box", start pos, start values)
        self._drag_remove = False  # the box being drawn removes what it finds (Shift held at the press)
        self._space = False
        self._mouse: QPointF | None = None
        self._fitted = False

    # -- data ------------------------------------------------------------------------------------
    def set_slice(self, image=None, cam=None, perimeter=None, labels=None, *, suggested=None,
                  aspect=(1.0, 1.0)) -> None:
        """Show a new slice: every layer at once (None hides a layer's data, e.g. not computed yet).

        ``suggested`` (2-D, ``k`` on the k-th suggested lesion) is drawn as the outline of each lesion.
        """
        shape = None if image is None else tuple(np.shape(image)[:2])
        new_geometry = shape != self.shape or tuple(aspect) != self.aspect
        self.shape, self.aspect = shape, (float(aspect[0]), float(aspect[1]))
        self._data.update({"image": image, "grad-cam": cam, "perimeter": perimeter, "boundaryfit": labels,
                           render.SUGGESTED: suggested})
        for name in render.LAYERS:
            self._render(name)
        if new_geometry or not self._fitted:
            self.fit()
        self.update()

    def set_layer(self, name: str, data) -> None:
        """Replace one layer's data (a new CAM, a new proposal) and redraw."""
        self._data[name] = data
        self._render(name)
        self.update()

    def layer_data(self, name: str):
        return self._data[name]

    def refresh(self, name: str = "boundaryfit", box=None) -> None:
        """The layer's array changed in place: redraw it (only ``box`` = (y0, y1, x0, x1) when given)."""
        image = self._images.get(name)
        if image is None or getattr(image, "array", None) is not self._data[name]:
            self._render(name)  # a copied buffer does not see the change: convert again
        if box is None:
            self.update()
        else:
            y0, y1, x0, x1 = box
            self.update(self._screen_rect(y0, y1, x0, x1))

    def _render(self, name: str) -> None:
        data = self._data[name]
        if data is None:
            self._images[name] = None
        elif name == "image":
            self._images[name] = render.grey_image(data, window=self.window_width, level=self.level)
        elif name == "grad-cam":
            self._images[name] = render.heat_image(data, self._heat_table)
        elif name == render.SUGGESTED:  # an outline: a new array, so each refresh draws it again
            self._images[name] = render.indexed_image(render.outline(data), self._tables[name])
        else:
            self._images[name] = render.indexed_image(np.asarray(data, np.uint8) if data.dtype == bool else data,
                                                      self._tables[name])

    # -- layers, window ---------------------------------------------------------------------------
    def set_area(self, area) -> None:
        """Dim the slice outside ``area`` (bool (H, W), an ultrasound scan area: nothing is proposed there); None:
        nothing dimmed."""
        self._outside = None if area is None else render.indexed_image(
            (~np.asarray(area, bool)).astype(np.uint8), render.binary_table((0, 0, 0), alpha=150))
        self.update()

    def set_visible(self, name: str, visible: bool) -> None:
        self.visible[name] = bool(visible)
        self.update()

    def set_opacity(self, name: str, opacity: float) -> None:
        self.opacity[name] = float(np.clip(opacity, 0.0, 1.0))
        self.update()

    def set_window(self, window: float, level: float, *, emit: bool = True) -> None:
        self.window_width, self.level = max(float(window), 1e-6), float(level)
        self._render("image")
        self.update()
        if emit:
            self.window_changed.emit(self.window_width, self.level)

    # -- view transform ---------------------------------------------------------------------------
    def set_orientation(self, orientation: SliceOrientation) -> None:
        """Put the slice's rows and columns on the screen as ``orientation`` says (refit when it changes)."""
        if orientation != self.orientation:
            self.orientation = orientation
            self._fitted = False
            self.fit()

    def _extent(self) -> tuple[float, float]:
        """The slice's (width, height) on the screen at scale 1 (after the orientation's transpose)."""
        h, w = self.shape[0] * self.aspect[0], self.shape[1] * self.aspect[1]
        return (h, w) if self.orientation.transpose else (w, h)

    def transform(self) -> QTransform:
        """Image pixel (x, y) -> widget coordinates: aspect, the orientation's transpose and flips, zoom, pan."""
        o, a = self.orientation, self.scale
        sx, sy = (-a if o.flip_x else a), (-a if o.flip_y else a)
        width, height = self._extent() if self.shape is not None else (0.0, 0.0)
        dx = self.offset.x() + (a * width if o.flip_x else 0.0)
        dy = self.offset.y() + (a * height if o.flip_y else 0.0)
        ah, aw = self.aspect
        if o.transpose:  # screen x from the row (y), screen y from the column (x)
            return QTransform(0.0, sy * aw, sx * ah, 0.0, dx, dy)
        return QTransform(sx * aw, 0.0, 0.0, sy * ah, dx, dy)

    def to_image(self, pos) -> tuple[float, float]:
        """Widget position -> (y, x) in slice pixels (pixel centres at integers)."""
        p, _ = self.transform().inverted()
        q = p.map(QPointF(pos))
        return q.y() - 0.5, q.x() - 0.5

    def _screen_rect(self, y0, y1, x0, x1) -> QRect:
        r = self.transform().mapRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        pad = self.scale * (self.brush_radius + 2) * max(self.aspect)
        return r.adjusted(-pad, -pad, pad, pad).toAlignedRect()

    def refit_next_slice(self) -> None:
        """Fit the next slice shown to the window (a new volume, another axis), whatever its size."""
        self._fitted = False

    def fit(self) -> None:
        """Whole slice in view, centred."""
        if self.shape is None:
            return
        w, h = self._extent()
        self.scale = max(min(self.width() / w, self.height() / h), 1e-3)
        self.offset = QPointF((self.width() - w * self.scale) / 2, (self.height() - h * self.scale) / 2)
        self._fitted = self.width() > 1
        self.update()

    def zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under ``anchor`` (widget coordinates) in place."""
        anchor = QPointF(self.width() / 2, self.height() / 2) if anchor is None else QPointF(anchor)
        new = float(np.clip(self.scale * factor, *ZOOM_RANGE))
        k = new / self.scale
        self.offset = anchor - (anchor - self.offset) * k
        self.scale = new
        self.update()

    def pan(self, dx: float, dy: float) -> None:
        self.offset += QPointF(dx, dy)
        self.update()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.fit()

    # -- drawing ----------------------------------------------------------------------------------
    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(event.rect(), QColor(20, 20, 20))
        if self.shape is not None:
            p.save()
            p.setTransform(self.transform())
            for name in render.LAYERS:
                img = self._images[name]
                if img is not None and self.visible[name] and self.opacity[name] > 0:
                    p.setOpacity(self.opacity[name])
                    p.drawImage(QPointF(0, 0), img)
            if self._outside is not None and self._outside.width() == self.shape[1] and self.shape[0] == self._outside.height():
                p.setOpacity(1.0)
                p.drawImage(QPointF(0, 0), self._outside)
            p.restore()
            self._draw_brush(p)
            self._draw_box(p)
        self._draw_text(p)
        p.end()
        self.frame_drawn.emit()

    def _draw_brush(self, p: QPainter) -> None:
        if self._mouse is None or not self.editable or self.tool not in ("brush", "eraser") or self._space:
            return
        y, x = self.to_image(self._mouse)
        r = self.brush_radius + 0.5
        rect = self.transform().mapRect(QRectF(round(x) + 0.5 - r, round(y) + 0.5 - r, 2 * r, 2 * r))
        p.setPen(QPen(QColor(255, 255, 255, 200), 1))
        p.drawEllipse(rect)

    def _draw_box(self, p: QPainter) -> None:
        if not self._drag or self._drag[0] != "box" or self._mouse is None:
            return
        colour = QColor(255, 120, 120) if self._drag_remove else QColor(255, 230, 80)
        p.setPen(QPen(colour, 1.5, Qt.PenStyle.DashLine))
        p.drawRect(QRectF(self._drag[1], self._mouse).normalized())

    def _draw_text(self, p: QPainter) -> None:
        p.setOpacity(1.0)
        p.setFont(QFont(self.font().family(), 10))
        if self.shape is not None and any(self.orientation.letters):
            self._draw_letters(p)
        if self.info_text:
            p.setPen(QColor(230, 230, 230))
            p.drawText(QRectF(8, 4, self.width() - 16, 40), Qt.AlignmentFlag.AlignLeft, self.info_text)
        if self.banner:
            rect = QRectF(0, self.height() - 26, self.width(), 26)
            p.fillRect(rect, QColor(60, 60, 0, 200))
            p.setPen(QColor(255, 240, 150))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.banner)

    def _draw_letters(self, p: QPainter) -> None:
        """The world direction at each edge (R, L, A, P, S, I), at the middle of the widget's edges."""
        left, right, top, bottom = self.orientation.letters
        w, h, m = self.width(), self.height(), 18
        p.setPen(QColor(255, 220, 120))
        for text, rect, align in ((left, QRectF(6, 0, m, h), Qt.AlignmentFlag.AlignVCenter),
                                  (right, QRectF(w - m - 6, 0, m, h), Qt.AlignmentFlag.AlignVCenter),
                                  (top, QRectF(0, 24, w, m), Qt.AlignmentFlag.AlignHCenter),
                                  (bottom, QRectF(0, h - m - 30, w, m), Qt.AlignmentFlag.AlignHCenter)):
            p.drawText(rect, align | Qt.AlignmentFlag.AlignCenter, text)

    # -- mouse and keys ---------------------------------------------------------------------------
    def mousePressEvent(self, event):
        pos = event.position()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and (self._space or self.tool == "pan")):
            self._drag = ("pan", pos, QPointF(self.offset))
        elif button == Qt.MouseButton.RightButton:
            self._drag = ("window", pos, (self.window_width, self.level))
        elif button == Qt.MouseButton.LeftButton and self.editable and self.shape is not None and self.tool == "box":
            remove = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._drag, self._drag_remove = ("box", pos, remove), remove
        elif button == Qt.MouseButton.LeftButton and self.editable and self.shape is not None:
            self._drag = ("tool", pos, None)
            self.stroke_pressed.emit(*self.to_image(pos))
        event.accept()

    def mouseMoveEvent(self, event):
        pos = event.position()
        self._mouse = pos
        kind = self._drag[0] if self._drag else None
        if kind == "pan":
            self.offset = self._drag[2] + (pos - self._drag[1])
            self.update()
        elif kind == "window":
            (w0, l0), d = self._drag[2], pos - self._drag[1]
            self.set_window(w0 * float(np.exp(d.x() / 200.0)), l0 - d.y() * w0 / 400.0)
        elif kind == "tool":
            self.stroke_moved.emit(*self.to_image(pos))
        elif kind == "box":
            self.update()  # the rectangle follows the mouse
        else:
            if self.editable and self.tool in ("brush", "eraser"):
                self.update()  # the brush outline follows the mouse
        if self.shape is not None:
            self.cursor_moved.emit(*self.to_image(pos))

    def mouseReleaseEvent(self, event):
        if self._drag and self._drag[0] == "tool":
            self.stroke_released.emit()
        elif self._drag and self._drag[0] == "box":
            (y0, x0), (y1, x1) = self.to_image(self._drag[1]), self.to_image(event.position())
            self._drag = None
            self.update()
            self.box_drawn.emit(min(y0, y1), min(x0, x1), max(y0, y1), max(x0, x1), self._drag_remove)
        self._drag = None
        event.accept()

    def leaveEvent(self, event):
        self._mouse = None
        self.update()

    def wheelEvent(self, event):
        delta = event.angleDelta().y()
        if delta == 0:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(ZOOM_STEP if delta > 0 else 1 / ZOOM_STEP, event.position())
        else:
            self.slice_step.emit(1 if delta > 0 else -1)
        event.accept()

    def keyPressEvent(self, event):
        if event.key() == PAN_KEY and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event):
        if event.key() == PAN_KEY and not event.isAutoRepeat():
            self._space = False
            self.unsetCursor()
            return
        super().keyReleaseEvent(event)
