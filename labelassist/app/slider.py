"""A slice slider whose marks show each slice's review status."""

from __future__ import annotations

from collections.abc import Sequence

from qtpy.QtCore import QRect, Qt
from qtpy.QtGui import QColor, QPainter
from qtpy.QtWidgets import QSlider, QStyle, QStyleOptionSlider

__all__ = ["StatusSlider", "STATUS_COLOURS"]

from labelassist.core.review import UNREVIEWED
from labelassist.widgets.status_strip import STATUS_COLOURS  # one palette for the strip and the slider

MARK_HEIGHT = 6


class StatusSlider(QSlider):
    """A horizontal QSlider over the slices with a coloured mark under each reviewed (or proposed) slice.

    Statuses are those of :class:`~labelassist.widgets.status_strip.StatusStrip` (``"proposed"``: an
    unreviewed slice holding a proposal).
    """

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setMinimum(0)
        self.setMaximum(0)
        self.setPageStep(5)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows go to the canvas / window
        self._statuses: list[str] = []
        self.setMinimumHeight(self.sizeHint().height() + MARK_HEIGHT + 4)

    def set_statuses(self, statuses: Sequence[str]) -> None:
        self._statuses = list(statuses)
        self.update()

    def statuses(self) -> list[str]:
        return list(self._statuses)

    def mark_rect(self, index: int) -> QRect:
        """Where the mark of slice ``index`` is drawn (for tests and for the tooltip)."""
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderGroove, self)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, self)
        span = max(groove.width() - handle.width(), 1)
        n = max(self.maximum() - self.minimum(), 1)
        left = groove.left() + handle.width() / 2
        width = max(span / (n + 1), 2.0)
        x = left + span * (index - self.minimum()) / n - width / 2
        return QRect(int(round(x)), self.height() - MARK_HEIGHT - 1, max(int(round(width)), 2), MARK_HEIGHT)

    def paintEvent(self, event):
        super().paintEvent(event)
        if not self._statuses:
            return
        p = QPainter(self)
        for i, status in enumerate(self._statuses):
            if status != UNREVIEWED and status in STATUS_COLOURS:  # unreviewed, no proposal: no mark
                p.fillRect(self.mark_rect(i), QColor(STATUS_COLOURS[status]))
        p.end()
