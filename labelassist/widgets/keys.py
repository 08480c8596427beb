"""Every key of the review, declared once (issue 27), and the focus rule that keeps them working.

:data:`KEYS` maps a name to its :class:`Key`: the key sequences (Qt spelling: ``"A"``, ``"Shift+N"``, ``"PgDown"``), a
one-line description and a group. The app's menus, canvas and layer panel, the napari dock and the control panel's
hints all read it; ``tests/widgets/test_keys.py`` checks that the README mentions every key. Menu accelerators of
the app's File menu that no review needs (Open, Open folder, Open model, Export as, Quit, Zoom in/out) stay with
their menu items in ``labelassist/app/menus.py``.

:func:`keep_keys_on` is the focus rule: panel widgets never keep the keyboard, so the review and navigation keys act
on the image whatever widget the reviewer used last. Buttons, check boxes, sliders, combo boxes, selectable labels
and scroll areas take no focus; a click on one gives the keyboard back to the canvas; a spin box or line edit keeps
it while the reviewer types and gives it back on Enter or Escape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import (
    QAbstractButton, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QPlainTextEdit, QTextEdit,
    QWidget,
)

__all__ = ["Key", "KEYS", "TOOLS", "LAYER_ORDER", "REVIEW", "tool_keys", "layer_key", "napari_key", "hint",
           "keep_keys_on", "FocusReturn"]

TOOLS = ("brush", "eraser", "fill", "region", "box", "pan")  # the app's tools, in the order its panel shows them
LAYER_ORDER = ("image", "grad-cam", "perimeter", "boundaryfit", "suggested")  # bottom to top: keys 1 to 5
REVIEW = ("accept", "reject", "mark_lesion", "next", "accept_suggestion", "next_suggestion")  # the shared review keys


@dataclass(frozen=True)
class Key:
    """One action's keys: ``keys[0]`` is the one hints show; Qt key-sequence spelling."""

    name: str
    keys: tuple[str, ...]
    description: str
    group: str  # review, slices, tools, edit, view, run, file, help

    @property
    def key(self) -> str:
        return self.keys[0]

    @property
    def text(self) -> str:
        """The keys as hints write them: ``"Up, Right"``."""
        return ", ".join(self.keys)


def _keys(*entries) -> dict[str, Key]:
    table = {}
    for name, keys, description, group in entries:
        table[name] = Key(name, (keys,) if isinstance(keys, str) else tuple(keys), description, group)
    return table


KEYS: dict[str, Key] = _keys(
    ("accept", "A", "Accept the slice's label as it stands", "review"),
    ("reject", "R", "Reject: the slice shows no lesion (its label becomes empty)", "review"),
    ("mark_lesion", "Y", "Lesion: the slice shows a lesion, without drawing it (a yes for File > Train; Y again takes "
                         "it back; R says no)", "review"),
    ("next", "N", "Go to the next unreviewed slice", "review"),
    ("next_suggestion", "Shift+N", "Go to the next suggested lesion (green outline)", "review"),
    ("accept_suggestion", "S", "Add the suggested lesion (green outline) on this slice to its label", "review"),
    ("next_slice", ("Up", "Right"), "Next slice (also the mouse wheel)", "slices"),
    ("previous_slice", ("Down", "Left"), "Previous slice (also the mouse wheel)", "slices"),
    ("page_up", "PgUp", "A tenth of the volume up", "slices"),
    ("page_down", "PgDown", "A tenth of the volume down", "slices"),
    ("brush", "P", "Brush: paint the label", "tools"),
    ("eraser", "E", "Eraser: erase the label", "tools"),
    ("fill", "F", "Fill: fill the enclosed area under the click", "tools"),
    ("region", "G", "Region: click a region of the perimeter map to add it, Shift+click to remove it; drag to add "
                    "(Shift: remove) every region crossed", "tools"),
    ("box", "B", "Box: drag a box around a lesion, LiteMedSAM draws it (Shift+drag: removes what it finds)",
     "tools"),
    ("carry_box", "C", "Carry the last box's lesion to the slices around it, as proposals to review", "tools"),
    ("pan", "H", "Pan: drag the slice (also middle drag, or Space held)", "tools"),
    ("pan_hold", "Space", "Hold to pan with the left button", "tools"),
    ("refine_regions", "Shift+G", "Finer regions: split the region under the mouse into smaller ones", "tools"),
    ("brush_larger", "]", "Larger brush", "tools"),
    ("brush_smaller", "[", "Smaller brush", "tools"),
    ("undo", "Ctrl+Z", "Undo the last stroke", "edit"),
    ("redo", ("Ctrl+Y", "Ctrl+Shift+Z"), "Redo the stroke undone", "edit"),
    ("fit", "Home", "Fit the slice to the window", "view"),
    ("auto_window", "W", "Auto window/level for the slice shown (its body's 0.5-99.8 percentiles)", "view"),
    ("axis_z", "Ctrl+1", "Slices along z (review and edit)", "view"),
    ("axis_y", "Ctrl+2", "Slices along y (view only)", "view"),
    ("axis_x", "Ctrl+3", "Slices along x (view only)", "view"),
    *((f"layer_{name}", str(i + 1), f"Show/hide {name}", "view") for i, name in enumerate(LAYER_ORDER)),
    ("run_slice", "Ctrl+R", "Run slice", "run"),
    ("run_volume", "Ctrl+Shift+R", "Run volume", "run"),
    ("cancel", "Esc", "Cancel the job in progress", "run"),
    ("export", "Ctrl+E", "Export labels (beside the volume, with the session)", "file"),
    ("save_session", "Ctrl+S", "Save the session now (it is also saved after every review action)", "file"),
    ("train", "Ctrl+T", "Train a classifier from the reviewed slices", "file"),
    ("next_volume", "Ctrl+PgDown", "Next volume of the study list (not yet exported)", "file"),
    ("help", "F1", "Every key", "help"),
)


def tool_keys() -> dict[str, str]:
    """``{tool: key}`` for the app's tools, in :data:`TOOLS` order."""
    return {tool: KEYS[tool].key for tool in TOOLS}


def layer_key(layer: str) -> str:
    """The key that shows or hides a layer (``"1"`` for ``image``)."""
    return KEYS[f"layer_{layer}"].key


def napari_key(name: str) -> str:
    """A key in napari's spelling (``"Shift-G"``) for ``viewer.bind_key``."""
    return "-".join(KEYS[name].key.split("+"))


def hint(name: str) -> str:
    """``"description (key)"``: a tooltip."""
    k = KEYS[name]
    return f"{k.description} ({k.text})"


# -- the focus rule ---------------------------------------------------------------------------------------------
TEXT_ENTRIES = (QAbstractSpinBox, QLineEdit, QTextEdit, QPlainTextEdit)
_DONE_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_EDIT_KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)


class FocusReturn(QObject):
    """The event filter of :func:`keep_keys_on`: gives the keyboard to ``home()`` after a click on a panel control
    and after Enter or Escape in a text entry; a text entry keeps its arrow and page keys while it is typed in
    (they step its value there, not the slice)."""

    NAME = "labelassist_focus_rule"

    def __init__(self, home: Callable[[], None], parent=None):
        super().__init__(parent)
        self.setObjectName(self.NAME)
        self.home = home

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if isinstance(obj, TEXT_ENTRIES):
            if kind == QEvent.Type.ShortcutOverride and event.key() in _EDIT_KEYS and event.modifiers() in (
                    Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier):
                event.accept()  # typing in the box: its own Up/Down, not the window's slice keys
            elif kind == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
                self.home()
                return True
        elif kind == QEvent.Type.MouseButtonRelease and not self._typing_in(obj):
            self.home()  # a click on a button, box or slider: the keys go back to the image
        return False

    @staticmethod
    def _typing_in(obj) -> bool:
        """True when the click went to a text entry inside ``obj`` (a labelled slider's value box)."""
        focus = QApplication.focusWidget()
        return isinstance(focus, TEXT_ENTRIES) and (focus is obj or obj.isAncestorOf(focus))

    def finished(self, widget: QWidget) -> None:
        """A text entry's ``editingFinished``: Enter (it still has the focus) gives the keyboard back; leaving it
        by a click elsewhere (it has lost the focus already) does not pull the focus away from there."""
        if widget.hasFocus():
            self.home()


CLICKABLE = (QAbstractButton, QAbstractSlider, QComboBox)


def keep_keys_on(container: QWidget, home: Callable[[], None]) -> FocusReturn:
    """Apply the focus rule to every widget under ``container`` (call it once the widgets exist; again for new
    ones). ``home()`` gives the keyboard to the image (the app's canvas, napari's viewer)."""
    rule = container.findChild(FocusReturn, FocusReturn.NAME, Qt.FindChildOption.FindDirectChildrenOnly)
    if rule is None:
        rule = FocusReturn(home, container)
    for w in container.findChildren(QWidget):
        if w.property(FocusReturn.NAME):
            continue
        w.setProperty(FocusReturn.NAME, True)
        if isinstance(w, TEXT_ENTRIES):
            if isinstance(w.parent(), (QAbstractSpinBox, QComboBox)):
                continue  # the line edit inside a spin box: the box itself is watched
            w.installEventFilter(rule)
            if hasattr(w, "editingFinished"):
                w.editingFinished.connect(lambda w=w: rule.finished(w))
        elif isinstance(w, CLICKABLE):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            w.installEventFilter(rule)
        elif w.focusPolicy() & Qt.FocusPolicy.ClickFocus:  # scroll areas, selectable labels: no focus, no more
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if isinstance(w, QComboBox):
            w.activated.connect(lambda _i: home())  # its list is another window: the release lands there
    return rule
