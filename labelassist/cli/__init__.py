"""The ``labelassist`` command line.

Each sub-command lives in its own module exposing ``add_parser(subparsers)``
(which sets ``func`` on its parser) so this file only wires them together and
turns user errors into one line and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from labelassist import __version__
from labelassist.errors import Cancelled, LabelAssistError

# Sub-command modules, in the order ``--help`` lists them.
_COMMANDS = ("info", "demo", "demo-data", "train", "run", "box", "batch", "eval", "calibrate", "propagate",
             "simulate-review", "app")

# command name -> module, where they differ
_MODULES = {"eval": "evaluate", "demo-data": "demo_data", "simulate-review": "simulate_review"}

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (the full usage is one ``--help`` away)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="labelassist",
        description="Turn image-level lesion labels into pixel masks to review and export.",
    )
    parser.add_argument("--version", action="version", version=f"labelassist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMANDS:
        importlib.import_module(f"labelassist.cli.{_MODULES.get(name, name)}").add_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # A warning for a user is one line, not a source location.
    print(f"labelassist: warning: {message}", file=sys.stderr)


def _tolerant_streams() -> None:
    """A file name holding bytes that are not text (kept by Python as surrogates) must not crash a print,
    whatever the terminal's encoding (``PYTHONIOENCODING=utf-8:strict``): such characters print escaped."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (captured, replaced): leave it
            pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    _tolerant_streams()
    # The process is labelassist's own: set up what torch needs here, before any command imports it (the
    # app draws with Qt's OpenGL, which with Mesa holds an LLVM that triton's clashes with).
    from labelassist.engine import keep_triton_out

    keep_triton_out()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    old_show = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except LabelAssistError as exc:
        print(f"labelassist: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, Cancelled):
        print("labelassist: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = old_show
