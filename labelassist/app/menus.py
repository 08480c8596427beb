"""The main window's menus and their shortcuts (one table, so the Help > Shortcuts list cannot drift)."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtGui import QAction, QKeySequence
from qtpy.QtWidgets import QFileDialog, QMessageBox

from labelassist.app.layerpanel import TOOL_KEYS
from labelassist.app.render import LAYERS

__all__ = ["build", "fill_recent", "shortcut_table", "save_session", "export_as"]


def save_session(w) -> None:
    """File > Save session: write the session now (it is also saved after every review action)."""
    if w.controller.state is None:
        w.message("Open a volume first", error=True)
        return
    w.controller.save_session(wait=True)
    w.message(f"Session saved beside {w.controller.export_path}")


def export_as(w) -> None:
    """File > Export labels as...: a file dialog; asks before replacing another volume's export."""
    from labelassist.widgets.control_panel import EXPORT_FILTER

    if w.controller.state is None:
        w.message("Open a volume first", error=True)
        return
    path, _ = QFileDialog.getSaveFileName(w, "Export labels", str(w.controller.export_path), EXPORT_FILTER)
    if path:
        w.controller.export(path, confirm=w.panel.confirm)


def _action(window, menu, text, slot, key=None, *, tip=""):
    action = QAction(text, window)
    if key:
        action.setShortcuts([QKeySequence(k) for k in (key if isinstance(key, (list, tuple)) else [key])])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(lambda _=False: slot())
    menu.addAction(action)
    return action


def build(w) -> None:
    """Create File, Edit, View, Review and Help menus on main window ``w``."""
    from labelassist.app import training

    bar = w.menuBar()
    f = bar.addMenu("&File")
    _action(w, f, "&Open volume...", lambda: w.open_volume(wait=False), QKeySequence.StandardKey.Open,
            tip="NIfTI, NRRD, MetaImage, DICOM, PNG/JPG/BMP/TIFF (or drop a file on the window)")
    _action(w, f, "Open &folder (DICOM series, images)...", w.open_folder, "Ctrl+Shift+O")
    w.recent_menu = f.addMenu("Open &recent")
    fill_recent(w)
    f.addSeparator()
    _action(w, f, "Open &model...", w.open_model, "Ctrl+M", tip="a classifier checkpoint (.pt)")
    _action(w, f, "Use the &demo model", lambda: w.controller.load_model(None))
    _action(w, f, "&Train a model from the reviewed slices...", lambda: training.open_dialog(w), "Ctrl+T",
            tip="a classifier from your yes/no per slice (accepted/corrected with a lesion: yes; rejected: no)")
    f.addSeparator()
    _action(w, f, "&Save session", lambda: save_session(w), QKeySequence.StandardKey.Save)
    _action(w, f, "&Export labels", lambda: w.controller.export(), "Ctrl+E", tip="beside the volume, with the session")
    _action(w, f, "Export labels &as...", lambda: export_as(w), "Ctrl+Shift+E")
    f.addSeparator()
    _action(w, f, "&Quit", w.close, QKeySequence.StandardKey.Quit)

    e = bar.addMenu("&Edit")
    w.undo_action = _action(w, e, "&Undo stroke", w.view.undo, QKeySequence.StandardKey.Undo)
    w.redo_action = _action(w, e, "&Redo stroke", w.view.redo, ["Ctrl+Y", "Ctrl+Shift+Z"])
    e.addSeparator()
    for tool, key in TOOL_KEYS.items():
        _action(w, e, tool.capitalize(), lambda t=tool: w.layers.select_tool(t), key)
    _action(w, e, "Finer regions", lambda: w.controller_started and w.region_tool.refine(), "Shift+G",
            tip="split the region under the mouse into smaller ones (region tool)")
    _action(w, e, "Larger brush", lambda: w.layers.brush.stepBy(1), "]")
    _action(w, e, "Smaller brush", lambda: w.layers.brush.stepBy(-1), "[")

    v = bar.addMenu("&View")
    _action(w, v, "&Fit to window", w.view.canvas.fit, "Home")
    _action(w, v, "Zoom &in", lambda: w.view.canvas.zoom(1.25), QKeySequence.StandardKey.ZoomIn)
    _action(w, v, "Zoom &out", lambda: w.view.canvas.zoom(0.8), QKeySequence.StandardKey.ZoomOut)
    _action(w, v, "&Auto window/level", w.auto_window, "W")
    v.addSeparator()
    for i, axis in enumerate("zyx"):
        _action(w, v, f"Slices along {axis}" + (" (review and edit)" if axis == "z" else " (view only)"),
                lambda a=axis: w.set_axis(a), f"Ctrl+{i + 1}")
    v.addSeparator()
    for i, name in enumerate(LAYERS):
        box = w.layers.visible[name]
        _action(w, v, f"Show/hide {name}", lambda b=box: b.toggle(), str(i + 1))

    r = bar.addMenu("&Review")
    w.review_menu = r
    _action(w, r, "Run &slice", lambda: w.controller.run_slice(), "Ctrl+R")
    _action(w, r, "Run &volume", lambda: w.controller.run_volume(), "Ctrl+Shift+R")
    w.cancel_action = _action(w, r, "&Cancel", lambda: w.controller.cancel(), "Esc")
    w.cancel_action.setEnabled(False)
    _action(w, r, "Ca&librate from reviewed slices", lambda: w.controller.calibrate())

    h = bar.addMenu("&Help")
    _action(w, h, "&Shortcuts", lambda: QMessageBox.information(w, "Shortcuts", shortcut_table(w)), "F1")
    _action(w, h, "&About", lambda: QMessageBox.about(
        w, "labelassist", "labelassist: image-level lesion labels to pixel masks you review, correct and export."))


def fill_recent(w) -> None:
    menu = w.recent_menu
    menu.clear()
    recent = w.settings.recent()
    for path in recent:
        action = menu.addAction(str(path))
        action.triggered.connect(lambda _=False, p=path: w.open_volume(p, wait=False))
    if not recent:
        menu.addAction("(none)").setEnabled(False)
    else:
        menu.addSeparator()
        menu.addAction("Clear").triggered.connect(lambda: (w.settings.clear_recent(), fill_recent(w)))


def shortcut_table(w) -> str:
    """Every menu shortcut, plus the mouse and the slice keys, as plain text."""
    lines = []
    for menu_action in w.menuBar().actions():
        for action in menu_action.menu().actions():
            keys = ", ".join(k.toString() for k in action.shortcuts())
            if keys:
                lines.append(f"{keys:<22} {action.text().replace('&', '')}")
    lines += [
        "Up/Right, Down/Left     next / previous slice (also the mouse wheel)",
        "PgUp, PgDown            ten slices up / down",
        "Ctrl+wheel              zoom about the cursor",
        "middle drag, Space+drag pan",
        "right drag              window (left-right) and level (up-down)",
    ]
    return "\n".join(lines)
