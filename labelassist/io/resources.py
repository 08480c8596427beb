"""Where the bundled resources are: the one place that finds the shipped demo classifier.

``LABELASSIST_RESOURCES`` (read at each call, so tests and bundles can point elsewhere) wins; otherwise
the repository's ``resources/`` folder beside the package.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resources_dir", "demo_model_path", "DEMO_MODEL"]

DEMO_MODEL = "demo_model.pt"


def resources_dir() -> Path:
    """``LABELASSIST_RESOURCES`` or the repository's ``resources/`` folder."""
    env = os.environ.get("LABELASSIST_RESOURCES")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "resources"


def demo_model_path() -> Path:
    """The shipped demo classifier (``resources/demo_model.pt``); it may be missing."""
    return resources_dir() / DEMO_MODEL
