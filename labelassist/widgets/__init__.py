"""Qt widgets shared by the napari plugin and the standalone app (via qtpy)."""

from labelassist.widgets.control_panel import ControlPanel
from labelassist.widgets.controller import SHORTCUT_KEYS, ReviewController
from labelassist.widgets.status_strip import StatusStrip
from labelassist.widgets.view import LAYER_NAMES, ReviewView, Shortcut

__all__ = ["ControlPanel", "ReviewController", "StatusStrip", "ReviewView", "Shortcut", "LAYER_NAMES",
           "SHORTCUT_KEYS"]
