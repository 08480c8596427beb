"""Where the engine finds the shipped demo model (same rule as the command line)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["demo_model_path", "resources_dir"]


def resources_dir() -> Path:
    """``LABELASSIST_RESOURCES`` or the repository's ``resources/`` folder."""
    return Path(os.environ.get("LABELASSIST_RESOURCES", Path(__file__).resolve().parents[2] / "resources"))


def demo_model_path() -> Path:
    """The shipped demo classifier (``resources/demo_model.pt``)."""
    return resources_dir() / "demo_model.pt"
