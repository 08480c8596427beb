"""Where torch runs: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

from labelassist.errors import ParameterError

__all__ = ["resolve_device", "device_name"]


def _available() -> list[str]:
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names


def resolve_device(name="auto"):
    """A ``torch.device`` from ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``."""
    import torch

    if isinstance(name, torch.device):
        return name
    text = str(name or "auto").strip().lower()
    available = _available()
    if text == "auto":
        return torch.device("cuda" if "cuda" in available else "mps" if "mps" in available else "cpu")
    if text not in available:
        raise ParameterError(f"device {name!r} is not available here; use auto or one of {', '.join(available)}")
    return torch.device(text)


def device_name(device) -> str:
    """A name for a status bar: the GPU's name, or 'CPU'."""
    import torch

    device = resolve_device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple MPS" if device.type == "mps" else "CPU"
