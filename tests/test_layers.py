"""The rooms' imports point down only (docs/architecture.md, rooms): checked on the source, and by importing core with Qt blocked."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "labelassist"

# Higher number = higher room. A module may import only from rooms at its own level or below.
LEVEL = {"errors": 0, "core": 1, "io": 2, "demo": 3, "batch": 3, "engine": 4, "widgets": 5, "app": 6, "napari": 6, "cli": 7}
FORBIDDEN_LOW = ("qtpy", "PySide6", "PyQt5", "PyQt6", "napari", "superqt", "magicgui")


def _room(module_path: Path) -> str:
    rel = module_path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else "__init__"


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _sources():
    return sorted(p for p in PACKAGE.rglob("*.py") if _room(p) in LEVEL)


def test_every_room_is_known():
    rooms = {_room(p) for p in PACKAGE.rglob("*.py")} - {"__init__", "__main__"}
    assert rooms <= set(LEVEL), f"new room(s) {rooms - set(LEVEL)}: give them a level in LEVEL"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    room = _room(path)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "labelassist" and len(parts) > 1:
            target = parts[1]
            assert target in LEVEL, f"{path.name} imports unknown room {name}"
            assert LEVEL[target] <= LEVEL[room], f"{room}/{path.name} imports {name}: arrows must point down"
        if LEVEL[room] <= LEVEL["io"]:
            assert parts[0] not in FORBIDDEN_LOW, f"{room}/{path.name} imports {name}: no Qt or napari in {room}"


def test_core_and_io_import_with_qt_blocked():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {FORBIDDEN_LOW!r}: raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import pkgutil, importlib, labelassist.core, labelassist.io\n"
        "for pkg in (labelassist.core, labelassist.io):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def _private_doors(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super":
                continue
            yield f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}"


def test_no_module_reaches_into_another_objects_private_names():
    doors = [d for p in sorted(PACKAGE.rglob("*.py")) for d in _private_doors(p)]
    assert doors == [], "give these a public seam:\n" + "\n".join(doors)
