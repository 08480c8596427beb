"""The study list, shared by the app (a dock) and napari (a dock): the volumes of a folder or CSV with each one's
state (untouched, in review with n of m slices reviewed, exported), Next volume, remembered across restarts.

The widget reads the states from the session files (:func:`labelassist.io.sessions.study.study_entries`); the
volume under review shows its live count (:meth:`StudyList.show_live`), since its session is written in the
background. It opens nothing itself: ``open_requested(path)`` asks the host to.
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget,
)

from labelassist.errors import LabelAssistError
from labelassist.io.sessions.study import EXPORTED, IN_REVIEW, UNTOUCHED, StudyEntry, read_study, study_entries
from labelassist.widgets import preferences

__all__ = ["StudyList"]

_MARK = {UNTOUCHED: "○", IN_REVIEW: "◐", EXPORTED: "●"}


class StudyList(QWidget):
    """A list of a study's volumes (double-click opens one) with Open study... and Next volume.

    Signals
    -------
    open_requested(str)
        The reviewer asked for this volume (double-click, Next volume).
    message(str, bool)
        A one-line note or error (``True``) for the host's status line.
    """

    open_requested = Signal(str)
    message = Signal(str, bool)

    def __init__(self, parent=None, *, settings=None):
        super().__init__(parent)
        self._settings = settings
        self.source: Path | None = None
        self.entries: list[StudyEntry] = []
        self.current: Path | None = None
        self.title = QLabel("No study list: open a folder or a CSV of volumes", self)
        self.title.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.itemActivated.connect(lambda item: self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        open_button, self.next_button = QPushButton("Open study...", self), QPushButton("Next volume", self)
        open_button.setToolTip("A folder of volumes, or a CSV with a path column")
        self.next_button.setToolTip("The next volume of the list that is not exported")
        open_button.clicked.connect(self.choose)
        self.next_button.clicked.connect(self.next_volume)
        row = QHBoxLayout()
        row.addWidget(open_button)
        row.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        remembered = preferences.study(self._settings)
        if remembered:
            self.set_study(remembered, quiet=True)

    def choose(self) -> None:
        """Open study...: a folder (or, when none is chosen, a CSV file)."""
        folder = QFileDialog.getExistingDirectory(self, "Open a study: a folder of volumes")
        if not folder:
            folder, _ = QFileDialog.getOpenFileName(self, "Or a CSV of volume paths", "", "CSV (*.csv)")
        if folder:
            self.set_study(folder)

    def set_study(self, path, *, quiet: bool = False) -> bool:
        """Show the study at ``path`` (remembered for the next start); False and a one-line message when it is
        not one."""
        try:
            volumes = read_study(path)
        except LabelAssistError as exc:
            if not quiet:
                self.message.emit(str(exc), True)
            return False
        self.source = Path(path)
        preferences.set_study(str(self.source), self._settings)
        self.entries = study_entries(volumes)
        self._fill()
        if not quiet:
            self.message.emit(f"Study {self.source.name}: {len(volumes)} volumes", False)
        return True

    def refresh(self) -> None:
        """Read every volume's state again (after an export, a save)."""
        if self.source is not None:
            self.entries = study_entries([e.path for e in self.entries])
            self._fill()

    def show_live(self, path, reviewed: int, n_slices: int, *, exported: bool | None = None) -> None:
        """The volume under review: ``path`` is current, with ``reviewed`` of ``n_slices`` reviewed."""
        self.current = Path(path).resolve()
        for k, e in enumerate(self.entries):
            if e.path.resolve() == self.current:
                state = EXPORTED if (exported if exported is not None else e.state == EXPORTED) else IN_REVIEW
                self.entries[k] = StudyEntry(e.path, state if reviewed or state == EXPORTED else e.state,
                                             reviewed, n_slices)
        self._fill()

    def next_volume(self) -> Path | None:
        """Ask for the next volume after the current one that is not exported (wrapping round); None: none."""
        if not self.entries:
            self.message.emit("No study list: open a folder or a CSV of volumes first", True)
            return None
        paths = [e.path.resolve() for e in self.entries]
        start = paths.index(self.current) + 1 if self.current in paths else 0
        order = self.entries[start:] + self.entries[:start]
        found = next((e for e in order if e.state != EXPORTED and e.path.resolve() != self.current), None)
        if found is None:
            self.message.emit("Every volume of the study is exported", False)
            return None
        self.open_requested.emit(str(found.path))
        return found.path

    def _fill(self) -> None:
        done = sum(e.state == EXPORTED for e in self.entries)
        self.title.setText(f"{self.source}: {len(self.entries)} volumes, {done} exported")
        self.title.setToolTip(str(self.source))
        self.list.clear()
        for e in self.entries:
            item = QListWidgetItem(f"{_MARK[e.state]} {e.text()}")
            item.setData(Qt.ItemDataRole.UserRole, str(e.path))
            item.setToolTip(str(e.path))
            self.list.addItem(item)
            if self.current is not None and e.path.resolve() == self.current:
                self.list.setCurrentItem(item)
