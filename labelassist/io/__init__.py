"""Reading volumes and images, writing labels: all geometry lives here.

The names below are imported on first use (module ``__getattr__``), so that ``import labelassist.io``
and its light submodules (``labelassist.io.resources``, which the command line's ``--help`` needs) stay
cheap: no numpy, nibabel or reader library is imported until a volume is read or written.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from labelassist.io.load import load_volume
    from labelassist.io.save import save_labels, save_map
    from labelassist.io.volume import Volume, orientation_code

__all__ = ["Volume", "load_volume", "save_labels", "save_map", "orientation_code"]

_HOME = {
    "Volume": "labelassist.io.volume",
    "orientation_code": "labelassist.io.volume",
    "load_volume": "labelassist.io.load",
    "save_labels": "labelassist.io.save",
    "save_map": "labelassist.io.save",
}


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
