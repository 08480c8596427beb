"""The app's study list: a dock of :class:`~labelassist.widgets.study_list.StudyList`, File > Open study list...
and File > Next volume, the open volume's live count and its export shown as they happen."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QDockWidget

from labelassist.widgets.keys import keep_keys_on
from labelassist.widgets.study_list import StudyList

__all__ = ["install_study", "wire_study"]


def install_study(w, file_menu, action) -> StudyList:
    """Add the study dock to main window ``w`` and its items to ``file_menu`` (``action(window, menu, text, slot,
    key)`` makes a menu item, as the other menus do); returns the list."""
    study = StudyList(settings=w.settings.qsettings)
    dock = w.add_dock("Study", study, Qt.DockWidgetArea.LeftDockWidgetArea)
    left = w.findChild(QDockWidget, "View and edit")
    if left is not None:  # a tab beside the view controls, which stay in front
        w.tabifyDockWidget(left, dock)
        left.raise_()
    keep_keys_on(dock, w.focus_canvas)  # a click in the list gives the keyboard back to the slice
    study.open_requested.connect(lambda path: w.open_volume(path, wait=False))
    study.message.connect(lambda text, error: w.message(text, error=error))
    file_menu.addSeparator()
    action(w, file_menu, "Open stud&y list (a folder or CSV)...", study.choose)
    action(w, file_menu, "&Next volume of the study", study.next_volume, "next_volume")
    w.study, w.study_dock = study, dock
    return study


def wire_study(w) -> None:
    """Once the window's controller exists: the open volume's live count, and a refresh after an export."""
    c, study = w.controller, w.study

    def live():
        st = c.state
        if st is not None and w.path is not None:
            study.show_live(w.path, st.n_slices - st.counts()["unreviewed"], st.n_slices)

    c.statuses_changed.connect(live)
    c.volume_opened.connect(lambda _volume: live())
    c.exported.connect(lambda _path: study.refresh())
