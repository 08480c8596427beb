"""Keys declared once (issue 27): one table, :data:`labelassist.widgets.keys.KEYS`, that both frontends, the panel's
hints and the README agree with."""

import ast
import re
from pathlib import Path

import pytest

from labelassist.widgets.keys import KEYS, LAYER_ORDER, REVIEW, TOOLS, hint, napari_key, tool_keys

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# how the README writes a key where it does not spell it as Qt does
README_SPELLING = {"Up": "arrow keys", "Down": "arrow keys", "Left": "arrow keys", "Right": "arrow keys",
                   "PgDown": "PgDn"}
NOT_IN_README = {"Ctrl+Shift+Z"}  # the second key of redo: the README's key table lists Ctrl+Y only
# the modules that used to spell keys again: they read the table now
READERS = ["labelassist/app/menus.py", "labelassist/app/window.py", "labelassist/app/layerpanel.py",
           "labelassist/app/canvas.py", "labelassist/napari/_widget.py", "labelassist/napari/_regions.py",
           "labelassist/napari/_view.py", "labelassist/widgets/wiring.py", "labelassist/widgets/control_panel.py"]


def _mentioned(key: str) -> bool:
    spelled = README_SPELLING.get(key, key)
    if spelled.isdigit():  # the layer keys: "keys 1-5"
        return any(int(a) <= int(spelled) <= int(b) for a, b in re.findall(r"\b(\d)-(\d)\b", README))
    return re.search(rf"(?<![\w+]){re.escape(spelled)}(?!\w)", README) is not None


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_key_of_the_table_is_in_the_readme(name):
    for key in set(KEYS[name].keys) - NOT_IN_README:
        assert _mentioned(key), f"README.md does not mention {key!r} ({name}: {KEYS[name].description})"


def test_no_key_is_bound_twice():
    seen = {}
    for k in KEYS.values():
        for key in k.keys:
            assert key not in seen, f"{key} is both {seen[key]} and {k.name}"
            seen[key] = k.name


def test_table_covers_the_review_the_tools_and_the_layers():
    from labelassist.widgets.view import LAYER_NAMES, SUGGESTED
    from labelassist.widgets.wiring import SHORTCUT_KEYS

    assert SHORTCUT_KEYS == {name: KEYS[name].key for name in REVIEW}
    assert SHORTCUT_KEYS["next_suggestion"] == "Shift+N" and napari_key("refine_regions") == "Shift-G"
    assert list(tool_keys()) == list(TOOLS) and tool_keys()["region"] == "G"
    assert LAYER_ORDER == (*LAYER_NAMES, SUGGESTED)
    assert hint("region").endswith("(G)") and hint("redo").endswith("(Ctrl+Y, Ctrl+Shift+Z)")


def test_the_app_draws_its_layers_in_the_tables_order():
    from labelassist.app.render import LAYERS

    assert tuple(LAYERS) == LAYER_ORDER


@pytest.mark.parametrize("path", READERS)
def test_the_frontends_spell_no_key_of_the_table_again(path):
    spellings = {s for k in KEYS.values() for key in k.keys for s in (key, "-".join(key.split("+")))}
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    in_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    found = [(node.lineno, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in spellings
             and id(node) not in in_fstrings]
    assert not found, f"{path} spells keys of labelassist/widgets/keys.py again: {found}"


def test_the_panel_hints_come_from_the_table(qapp):
    from labelassist.widgets.control_panel import ControlPanel

    panel = ControlPanel()
    panel.set_shortcut_hints({"accept": "A", "reject": "R"})
    assert panel.accept_button.text().endswith("[A]") and KEYS["accept"].description in panel.accept_button.toolTip()
    assert KEYS["reject"].description in panel.reject_button.toolTip()
    panel.deleteLater()
