"""The main window's menus and their shortcuts. The keys come from the one table of every key,
:data:`labelassist.widgets.keys.KEYS` (only the File menu's own accelerators are spelled here); Help > Shortcuts lists
the menus' keys, so it cannot drift.

Every shortcut is a window shortcut: it works whatever widget of the window has the focus, except while a spin box
or line edit is typed in (printable keys type there, and a spin box keeps its Up/Down; Enter or Escape gives the
keyboard back to the canvas: :func:`labelassist.widgets.keys.keep_keys_on`)."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtGui import QAction, QKeySequence
from qtpy.QtWidgets import QFileDialog, QMessageBox

from labelassist.app.render import LAYERS
from labelassist.widgets.keys import KEYS, TOOLS

ABOUT = ("labelassist: image-level lesion labels to pixel masks you review, correct and export.\n\n"
         "For research use only: not for diagnosis or any clinical decision.")

__all__ = ["ABOUT", "build", "fill_recent", "shortcut_table", "save_session", "export_as", "add_review_actions"]


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
    """A menu item; ``key`` a name of :data:`KEYS` (its keys; its description as the status tip unless ``tip``),
    or a :class:`QKeySequence.StandardKey` / key string of the File menu's own."""
    action = QAction(text, window)
    if isinstance(key, str) and key in KEYS:
        tip = tip or KEYS[key].description
        key = list(KEYS[key].keys)
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
    from labelassist.app.study import install_study
    from labelassist.widgets import training

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
    _action(w, f, "&Train a model from the reviewed slices...", lambda: training.open_dialog(w), "train",
            tip="a classifier from your yes/no per slice (accepted/corrected with a lesion: yes; rejected: no)")
    f.addSeparator()
    _action(w, f, "&Save session", lambda: save_session(w), "save_session")
    _action(w, f, "&Export labels", lambda: w.controller.export(), "export")
    _action(w, f, "Export labels &as...", lambda: export_as(w), "Ctrl+Shift+E")
    install_study(w, f, _action)
    f.addSeparator()
    _action(w, f, "&Quit", w.close, QKeySequence.StandardKey.Quit)

    e = bar.addMenu("&Edit")
    w.undo_action = _action(w, e, "&Undo stroke", w.view.undo, "undo")
    w.redo_action = _action(w, e, "&Redo stroke", w.view.redo, "redo")
    e.addSeparator()
    for tool in TOOLS:
        _action(w, e, tool.capitalize(), lambda t=tool: w.layers.select_tool(t), tool)
    _action(w, e, "Finer regions", lambda: w.controller_started and w.region_tool.refine(), "refine_regions")
    _action(w, e, "Carry the boxed lesion", lambda: w.controller_started and w.box_tool.carry(), "carry_box")
    _action(w, e, "Larger brush", lambda: w.layers.brush.stepBy(1), "brush_larger")
    _action(w, e, "Smaller brush", lambda: w.layers.brush.stepBy(-1), "brush_smaller")

    _view_menu(w, bar.addMenu("&View"))

    r = bar.addMenu("&Review")
    w.review_menu = r
    _action(w, r, "Run &slice", lambda: w.controller.run_slice(), "run_slice")
    _action(w, r, "Run &volume", lambda: w.controller.run_volume(), "run_volume")
    w.cancel_action = _action(w, r, "&Cancel", lambda: w.controller.cancel(), "cancel")
    w.cancel_action.setEnabled(False)
    _action(w, r, "Ca&librate from reviewed slices", lambda: w.controller.calibrate())

    h = bar.addMenu("&Help")
    _action(w, h, "&Shortcuts", lambda: QMessageBox.information(w, "Shortcuts", shortcut_table(w)), "help")
    _action(w, h, "&About", lambda: QMessageBox.about(w, "labelassist", ABOUT))


def _view_menu(w, v) -> None:
    """View: the slice keys (window shortcuts: they move the slice whatever panel widget was used last), zoom,
    window/level, the axis and the layers' visibility."""
    _action(w, v, "&Next slice", lambda: w.view.step(1), "next_slice")
    _action(w, v, "&Previous slice", lambda: w.view.step(-1), "previous_slice")
    _action(w, v, "Page &up", lambda: w.view.page(1), "page_up")
    _action(w, v, "Page &down", lambda: w.view.page(-1), "page_down")
    v.addSeparator()
    _action(w, v, "&Fit to window", w.view.canvas.fit, "fit")
    _action(w, v, "Zoom &in", lambda: w.view.canvas.zoom(1.25), QKeySequence.StandardKey.ZoomIn)
    _action(w, v, "Zoom &out", lambda: w.view.canvas.zoom(0.8), QKeySequence.StandardKey.ZoomOut)
    _action(w, v, "&Auto window/level", w.auto_window, "auto_window")
    v.addSeparator()
    for axis in "zyx":
        _action(w, v, KEYS[f"axis_{axis}"].description, lambda a=axis: w.set_axis(a), f"axis_{axis}")
    neuro = _action(w, v, "&Neurological convention (patient's right on the screen's right)",
                    lambda: w.set_convention("neurological" if neuro.isChecked() else "radiological"),
                    tip="Unchecked: radiological, as ITK-SNAP and 3D Slicer (the patient's right on the screen's left)")
    neuro.setCheckable(True)
    neuro.setChecked(w.view.convention == "neurological")
    w.convention_action = neuro
    v.addSeparator()
    for name in LAYERS:
        box = w.layers.visible[name]
        _action(w, v, f"Show/hide {name}", lambda b=box: b.toggle(), f"layer_{name}")


def add_review_actions(w, shortcuts, run) -> dict:
    """The review keys (:func:`labelassist.widgets.wiring.review_shortcuts`) as the first items of the Review menu,
    each calling ``run(callback)``; returns ``{name: QAction}``."""
    menu, actions = w.review_menu, {}
    for sc in shortcuts:
        action = QAction(sc.description, w)
        action.setShortcut(QKeySequence(sc.key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _=False, cb=sc.callback: run(cb))
        menu.insertAction(menu.actions()[0] if menu.actions() else None, action)
        actions[sc.name] = action
    menu.insertSeparator(menu.actions()[len(shortcuts)])
    return actions


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
        f"{'Ctrl+wheel':<22} zoom about the cursor",
        f"{'middle drag, ' + KEYS['pan_hold'].key + '+drag':<22} pan",
        f"{'right drag':<22} window (left-right) and level (up-down)",
    ]
    return "\n".join(lines)
