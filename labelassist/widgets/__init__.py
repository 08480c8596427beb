"""Qt widgets shared by the napari plugin and the standalone app (via qtpy).

The names below load on first use (module ``__getattr__``): the review controller brings the engine and torch,
and a frontend may show its window before that (``import labelassist.widgets.loading`` stays light).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labelassist.widgets.control_panel import ControlPanel
    from labelassist.widgets.controller import SHORTCUT_KEYS, ReviewController
    from labelassist.widgets.status_strip import StatusStrip
    from labelassist.widgets.view import LAYER_NAMES, SUGGESTED, SUGGESTED_RGB, ReviewView, Shortcut

__all__ = ["ControlPanel", "ReviewController", "StatusStrip", "ReviewView", "Shortcut", "LAYER_NAMES",
           "SUGGESTED", "SUGGESTED_RGB", "SHORTCUT_KEYS"]

_HOME = {
    "ControlPanel": "labelassist.widgets.control_panel",
    "ReviewController": "labelassist.widgets.controller",
    "SHORTCUT_KEYS": "labelassist.widgets.controller",
    "StatusStrip": "labelassist.widgets.status_strip",
    "ReviewView": "labelassist.widgets.view",
    "Shortcut": "labelassist.widgets.view",
    "LAYER_NAMES": "labelassist.widgets.view",
    "SUGGESTED": "labelassist.widgets.view",
    "SUGGESTED_RGB": "labelassist.widgets.view",
}


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
