"""Small helpers shared by the sub-commands (kept free of heavy imports: ``--help`` must be quick)."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelassist.errors import ParameterError
from labelassist.io.resources import demo_model_path

__all__ = ["unit_float", "positive_int", "demo_model_path", "resolve_model_path"]



def unit_float(name: str):
    """argparse type for a float in [0, 1], whose error names the option."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number in [0, 1], got {text!r}") from None
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f"{name} must be in [0, 1], got {text}")
        return value

    return parse


def positive_int(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {text}")
        return value

    return parse


def resolve_model_path(model: str | None) -> Path:
    """The ``--model`` the user gave, or the shipped demo model."""
    if model:
        return Path(model)
    path = demo_model_path()
    if not path.is_file():
        raise ParameterError(
            f"--model not given and no demo model at {path}: pass --model CKPT (train one with 'labelassist train')"
        )
    return path
