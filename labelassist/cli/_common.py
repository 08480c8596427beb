"""Small helpers shared by the sub-commands (kept free of heavy imports: ``--help`` must be quick)."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelassist.errors import ParameterError

__all__ = ["positive_int", "param_type", "add_param_option", "demo_model_path", "resolve_model_path"]


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


def param_type(spec, flag: str | None = None):
    """argparse ``type=`` for a pipeline parameter (a :class:`~labelassist.core.propose.params.ParamSpec`).

    It parses and checks the text with the schema; its error is the schema's one line, naming ``flag``
    (default: the parameter's own flag).
    """
    flag = flag or spec.flag

    def parse(text: str):
        try:
            return spec.parse(text, name=flag)
        except ParameterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = spec.name  # argparse names the type in some messages
    return parse


def add_param_option(parser, spec) -> None:
    """Add the command-line option of one pipeline parameter, generated from its ``spec``.

    A bool becomes a flag (``--name`` turns it on, or ``--no-name`` off when it is on by default); any other
    type takes a value parsed by :func:`param_type`, with the schema's default. The destination is always
    ``spec.name``, whatever the flag.
    """
    help_text = spec.help.rstrip(". ").replace("%", "%%")
    if spec.type is bool:
        action = "store_false" if spec.default else "store_true"
        note = "on by default; this flag turns it off" if spec.default else "off by default"
        parser.add_argument(spec.flag, dest=spec.name, action=action, default=spec.default,
                            help=f"{help_text} ({note})")
        return
    metavar = spec.name.upper()
    if spec.choices is not None and len(",".join(map(str, spec.choices))) <= 30:
        metavar = "{" + ",".join(map(str, spec.choices)) + "}"
    parser.add_argument(spec.flag, dest=spec.name, type=param_type(spec), default=spec.default, metavar=metavar,
                        help=f"{help_text} ({spec.allowed.replace('%', '%%')}; default {spec.default})")


def demo_model_path() -> Path:
    """The shipped demo model (:func:`labelassist.io.resources.demo_model_path`, imported when needed)."""
    from labelassist.io.resources import demo_model_path as path

    return path()


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
