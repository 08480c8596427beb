"""Every slice's review status at a glance: one coloured mark per slice, the current slice outlined."""

from __future__ import annotations

from qtpy.QtCore import QRectF, QSize, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import QGridLayout, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from labelassist.core.review import ACCEPTED, CORRECTED, REJECTED, STATUSES, UNREVIEWED

__all__ = ["StatusStrip", "STATUS_COLOURS", "PROPOSED", "LESION", "probability_colour"]

PROPOSED = "proposed"  # an unreviewed slice that holds a proposal
LESION = "lesion"  # an unreviewed slice the reviewer said shows a lesion (Y), without drawing it
STATUS_COLOURS = {
    UNREVIEWED: "#4a4a4a",
    PROPOSED: "#b59b3c",
    LESION: "#e0701f",
    ACCEPTED: "#3fae49",
    CORRECTED: "#3d8fe0",
    REJECTED: "#d9443f",
}
_LEGEND = ((PROPOSED, "proposed"), (ACCEPTED, "accepted"), (CORRECTED, "corrected"), (REJECTED, "rejected"),
           (LESION, "lesion (Y)"))


BAND = 6  # the p(lesion) band's height above the status marks


def probability_colour(p: float) -> QColor:
    """p(lesion) as a colour: dark grey at 0 to bright red at 1."""
    p = min(max(float(p), 0.0), 1.0)
    return QColor(int(50 + 205 * p), int(50 * (1 - p)), int(50 * (1 - p)))


class _Marks(QWidget):
    clicked = Signal(int)
    shift_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.marks: list[str] = []
        self.probability: list[float | None] = []  # p(lesion) per slice, once the classifier has seen it
        self.current = -1
        self.setMinimumHeight(18 + BAND)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMouseTracking(True)

    def sizeHint(self):
        return QSize(200, 20)

    def _index_at(self, x: float) -> int:
        n = len(self.marks)
        return min(n - 1, max(0, int(x * n / max(1, self.width())))) if n else -1

    def paintEvent(self, event):
        n = len(self.marks)
        if not n:
            return
        painter = QPainter(self)
        w = self.width() / n
        h = self.height() - BAND
        for i, mark in enumerate(self.marks):
            painter.fillRect(QRectF(i * w, BAND, max(w - (1 if w > 4 else 0), 1), h), QColor(STATUS_COLOURS[mark]))
        for i, p in enumerate(self.probability[:n]):  # the band above: p(lesion), dark (0) to bright red (1)
            if p is not None:
                painter.fillRect(QRectF(i * w, 0, max(w, 1), BAND - 1), probability_colour(p))
        if 0 <= self.current < n:
            painter.setPen(QPen(QColor("white"), 2))
            painter.drawRect(QRectF(self.current * w + 1, BAND + 1, max(w - 2, 2), h - 2))
        painter.end()

    def mousePressEvent(self, event):
        i = self._index_at(event.position().x() if hasattr(event, "position") else event.x())
        if i >= 0:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            (self.shift_clicked if shift else self.clicked).emit(i)

    def mouseMoveEvent(self, event):
        pos = event.position() if hasattr(event, "position") else event.pos()
        i = self._index_at(pos.x())
        if i >= 0:
            text = {PROPOSED: "unreviewed (proposal)", LESION: "lesion, not drawn (Y)"}.get(self.marks[i], self.marks[i])
            p = self.probability[i] if i < len(self.probability) else None
            text += "" if p is None else f", p(lesion) {p:.2f}"
            QToolTip.showText(self.mapToGlobal(pos.toPoint() if hasattr(pos, "toPoint") else pos), f"slice {i}: {text}", self)


class StatusStrip(QWidget):
    """Coloured marks (one per slice; click to jump there, Shift+click to say it shows a lesion) and a count of
    reviewed slices.

    Signals
    -------
    slice_clicked(int)
    lesion_clicked(int)
        Shift+click: the reviewer says (or takes back) that slice ``i`` shows a lesion.
    """

    slice_clicked = Signal(int)
    lesion_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._marks = _Marks(self)
        self._marks.clicked.connect(self.slice_clicked)
        self._marks.shift_clicked.connect(self.lesion_clicked)
        self.summary = QLabel("no volume", self)
        self.summary.setWordWrap(True)
        legend = QGridLayout()
        legend.setContentsMargins(0, 0, 0, 0)
        for k, (key, text) in enumerate(_LEGEND):
            swatch = QLabel(f"<span style='color:{STATUS_COLOURS[key]}'>&#9632;</span> {text}", self)
            legend.addWidget(swatch, k // 2, k % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._marks)
        layout.addWidget(self.summary)
        layout.addLayout(legend)

    def set_statuses(self, statuses, proposed=None, current: int = -1, *, lesion=(), probability=None) -> None:
        """Show ``statuses`` (one per slice); ``proposed[i]`` marks unreviewed slices holding a proposal, ``lesion``
        the unreviewed slices marked as showing a lesion (Y); ``probability[i]`` (None: not computed) is drawn as
        a band above, so a slice the classifier finds likely stands out without paging to it."""
        self._marks.probability = list(probability) if probability is not None else []
        proposed, lesion = proposed or [False] * len(statuses), set(lesion)
        self._marks.marks = [LESION if s == UNREVIEWED and i in lesion else PROPOSED if s == UNREVIEWED and p else s
                             for i, (s, p) in enumerate(zip(statuses, proposed))]
        self._marks.current = current
        counts = {s: list(statuses).count(s) for s in STATUSES}
        reviewed = len(statuses) - counts[UNREVIEWED]
        self.summary.setText(
            f"slice {current}: {reviewed}/{len(statuses)} reviewed "
            f"({counts[ACCEPTED]} acc., {counts[CORRECTED]} corr., {counts[REJECTED]} rej.)"
            if statuses else "no volume"
        )
        self._marks.update()

    @property
    def marks(self) -> list[str]:
        return list(self._marks.marks)

    @property
    def probability(self) -> list:
        return list(self._marks.probability)

    def set_current(self, index: int) -> None:
        self._marks.current = index
        self._marks.update()
