"""The engine: one QThread per open volume that owns the model and its device and runs pipeline jobs.

Jobs arrive by queued signal; results leave by signal (DESIGN.md §5). The GUI thread never runs torch.
"""

from labelassist.engine.engine import Engine, SliceView
from labelassist.engine.models import demo_model_path

__all__ = ["Engine", "SliceView", "demo_model_path"]
