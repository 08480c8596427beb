"""The engine: one QThread per open volume that owns the model and its device and runs pipeline jobs.

Jobs arrive by queued signal; results leave by signal (docs/architecture.md, engine and jobs). The GUI thread never runs torch.
"""

import sys as _sys

# torchvision imports torch._dynamo, which imports triton when it is installed (CUDA builds of torch).
# Triton ships its own LLVM; loaded into a process where Mesa's llvmpipe (napari's and Qt's OpenGL on
# a machine without a GPU driver) already holds another LLVM, it segfaults. Triton only serves
# torch.compile, which labelassist never uses: where nothing has imported it yet, make it absent.
if "triton" not in _sys.modules:
    _sys.modules["triton"] = None  # type: ignore[assignment]

from labelassist.engine.engine import Engine, SliceView
from labelassist.io.resources import demo_model_path

__all__ = ["Engine", "SliceView", "demo_model_path"]
