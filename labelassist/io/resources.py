"""Where the bundled resources are: the one place that finds the shipped demo classifier.

In order: ``LABELASSIST_RESOURCES`` (read at each call, so tests and bundles can point elsewhere); the
package's own ``labelassist/resources/`` folder (an installed wheel: ``setup.py`` copies the repository's
``resources/`` there at build time); the repository's ``resources/`` folder beside the package (a source
checkout or an editable install, and the desktop bundle, which puts ``resources/`` beside ``labelassist/``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resources_dir", "demo_model_path", "DEMO_MODEL", "DEMO_MODEL_US"]

DEMO_MODEL = "demo_model.pt"  # MRI (and anything that is not ultrasound)
DEMO_MODEL_US = "demo_model_us.pt"  # ultrasound: trained on the demo cines' scan areas


def _package_dir() -> Path:
    """``labelassist/resources/`` inside the installed package (present in a wheel install only)."""
    return Path(__file__).resolve().parents[1] / "resources"


def _repository_dir() -> Path:
    """The repository's ``resources/`` folder, beside the ``labelassist`` package."""
    return Path(__file__).resolve().parents[2] / "resources"


def resources_dir() -> Path:
    """``LABELASSIST_RESOURCES``, else the package's ``resources/`` folder where it exists, else the
    repository's ``resources/`` folder (returned even when missing, so messages name where it belongs)."""
    env = os.environ.get("LABELASSIST_RESOURCES")
    if env:
        return Path(env)
    packaged = _package_dir()
    return packaged if packaged.is_dir() else _repository_dir()


def demo_model_path(modality: str = "") -> Path:
    """The shipped demo classifier for a modality: ``resources/demo_model_us.pt`` for ultrasound (``"US"``),
    ``resources/demo_model.pt`` for anything else; it may be missing."""
    return resources_dir() / (DEMO_MODEL_US if str(modality).upper() == "US" else DEMO_MODEL)
