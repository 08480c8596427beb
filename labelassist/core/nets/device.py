"""Where torch runs: CUDA, then Apple's MPS, then the CPU; and what to do when the GPU runs out of memory.

:class:`OomFallback` runs batched work and, on out-of-memory, halves the batch and retries the same items; at
batch 1 it moves to the CPU and finishes there. Each step is told once, in one line, to ``on_fallback``, or to
the reporter of :func:`report_fallbacks` (the engine thread's), or as a
:class:`~labelassist.errors.DeviceFallback` warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from labelassist.errors import DeviceFallback, ParameterError

__all__ = ["resolve_device", "device_name", "is_out_of_memory", "place", "OomFallback", "run_with_fallback",
           "report_fallbacks"]

_REPORTER: ContextVar[Callable[[str], None] | None] = ContextVar("labelassist_fallback_reporter", default=None)


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


# -- out of memory ----------------------------------------------------------------------------------
def is_out_of_memory(exc: BaseException) -> bool:
    """True for ``torch.cuda.OutOfMemoryError`` and a RuntimeError saying "out of memory" (MPS, older torch)."""
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def place(obj, device):
    """``obj.to(device)``: every device move of the batched work goes through here (tests simulate a GPU)."""
    return obj.to(device)


def _free_cache(device) -> None:
    import torch

    if getattr(device, "type", str(device).split(":")[0]) == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextmanager
def report_fallbacks(callback: Callable[[str], None] | None) -> Iterator[None]:
    """Within this block (in this thread), fallback messages without their own ``on_fallback`` go to
    ``callback`` rather than to :func:`warnings.warn`."""
    token = _REPORTER.set(callback)
    try:
        yield
    finally:
        _REPORTER.reset(token)


class OomFallback:
    """Batch size and device of batched work, shrunk on out-of-memory; keep one across calls so that each
    step is taken, and told, once.

    Parameters
    ----------
    batch_size : int
        Items per batch to start with.
    device : str or torch.device
        Where to start.
    on_fallback : callable(str), optional
        Told each step in one line; by default the :func:`report_fallbacks` reporter, else a
        :class:`~labelassist.errors.DeviceFallback` warning.
    """

    def __init__(self, *, batch_size: int, device, on_fallback: Callable[[str], None] | None = None):
        import torch

        if batch_size < 1:
            raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.device = torch.device(device) if isinstance(device, str) else device
        self.on_fallback = on_fallback

    @property
    def on_cpu(self) -> bool:
        return getattr(self.device, "type", str(self.device)) == "cpu"

    def _tell(self, text: str) -> None:
        report = self.on_fallback or _REPORTER.get()
        if report is not None:
            report(text)
        else:
            warnings.warn(text, DeviceFallback, stacklevel=4)

    def _step(self) -> None:
        """One step down after an out-of-memory: half the batch, or the CPU; MemoryError on the CPU at 1."""
        import torch

        where = "CPU" if self.on_cpu else "GPU"
        _free_cache(self.device)
        if self.batch_size > 1:
            smaller = self.batch_size // 2
            self._tell(f"{where} out of memory at batch {self.batch_size}: retrying with {smaller}")
            self.batch_size = smaller
        elif not self.on_cpu:
            self._tell("GPU out of memory even at batch 1: running on the CPU")
            self.device = torch.device("cpu")
        else:
            raise MemoryError("out of memory even at batch 1 on the CPU: close other programs or use smaller images")

    def run(self, fn: Callable, n: int) -> list:
        """``fn(start, stop, device)`` over ``[0, n)`` in batches, in order; its results as a list.

        A batch that runs out of memory is retried whole (from the same ``start``) one step down, so a failed
        ``fn`` must leave nothing that the retry of its items does not overwrite. Anything else ``fn`` raises
        (:class:`~labelassist.errors.Cancelled` included) passes through.
        """
        out, start = [], 0
        while start < n:
            stop = min(start + self.batch_size, n)
            try:
                out.append(fn(start, stop, self.device))
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled; the rest re-raised
                if not is_out_of_memory(exc):
                    raise
                failed = True
            else:
                failed, start = False, stop
            if failed:  # outside the except: the failed batch's tensors are freed first
                self._step()
        return out


def run_with_fallback(fn: Callable, n: int, *, batch_size: int, device,
                      on_fallback: Callable[[str], None] | None = None) -> list:
    """:meth:`OomFallback.run` of a fresh :class:`OomFallback` (see there)."""
    return OomFallback(batch_size=batch_size, device=device, on_fallback=on_fallback).run(fn, n)
