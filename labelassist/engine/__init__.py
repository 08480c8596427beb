"""The engine: one QThread per open volume that owns the model and its device and runs pipeline jobs.

Jobs arrive by queued signal; results leave by signal (docs/architecture.md, engine and jobs). The GUI thread never runs torch.

Importing this package changes nothing in the host process and does not import torch: :class:`Engine` and
:class:`SliceView` (which bring torch, torchvision and Qt) load on first use. What torch needs from the process
(:func:`keep_triton_out`) is set by labelassist's own entry points, never at import.
"""

from __future__ import annotations

import sys as _sys
from typing import TYPE_CHECKING

from labelassist.io.resources import demo_model_path

if TYPE_CHECKING:
    from labelassist.engine.engine import Engine, SliceView

__all__ = ["Engine", "SliceView", "demo_model_path", "keep_triton_out"]

_LAZY = {"Engine": "labelassist.engine.engine", "SliceView": "labelassist.engine.engine"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def keep_triton_out() -> bool:
    """Make ``import triton`` fail from now on in this process, unless triton is imported already.

    For labelassist's entry points only (the command line and the app in ``labelassist.cli``, the napari
    plugin in ``labelassist.napari``, the test session), called before torch is imported. Returns True when
    it blocked triton, False when ``sys.modules`` already had it (loaded, and left alone; or blocked already).

    Why: torchvision imports ``torch._dynamo``, which imports triton when it is installed (CUDA builds of
    torch). Triton's ``libtriton.so`` carries its own LLVM; loaded into a process where Mesa's OpenGL (llvmpipe
    under Xvfb or without a GPU driver; radeonsi too) already holds ``libLLVM``, it segfaults while loading.
    That happens whenever a viewer has drawn before torch is first imported, e.g. opening the LabelAssist
    widget in a running napari. Loaded the other way round (triton first) it works. Triton serves only
    ``torch.compile``, which labelassist never uses, so where nothing has imported it yet it is made absent:
    torch then sees no triton package (``torch.utils._triton.has_triton_package()`` is False).
    """
    if "triton" in _sys.modules:
        return False
    _sys.modules["triton"] = None  # type: ignore[assignment]
    return True
