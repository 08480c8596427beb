"""Errors a user can cause, each with a one-line message that names the fix.

Every room raises these (or a subclass); the command line turns them into a
single ``labelassist: error: ...`` line and exit code 2, never a traceback.
"""

from __future__ import annotations

__all__ = ["LabelAssistError", "VolumeError", "ParameterError", "CheckpointError", "Cancelled", "DeviceFallback"]


class LabelAssistError(Exception):
    """Base class of every error caused by what a user gave us."""


class VolumeError(LabelAssistError, ValueError):
    """A file or folder that cannot be read or written as a volume.

    The message starts with the path so that a user with many files knows
    which one is wrong.
    """


class ParameterError(LabelAssistError, ValueError):
    """A bad option: the message names the argument and the valid range."""


class CheckpointError(LabelAssistError, ValueError):
    """A model file that is missing, corrupt or does not fit the data."""


class Cancelled(Exception):
    """Raised inside a long job when the user cancelled it.

    Not a ``LabelAssistError``: a cancelled job is not a failure, it simply
    returns nothing.
    """


class DeviceFallback(UserWarning):
    """Work ran out of GPU memory and went on with smaller batches or on the CPU (one line says which)."""
