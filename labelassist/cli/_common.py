"""Small helpers shared by the sub-commands (kept free of heavy imports: ``--help`` must be quick)."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path

from labelassist.errors import ParameterError, VolumeError

__all__ = ["positive_int", "param_type", "add_param_option", "demo_model_path", "resolve_model_path",
           "check_output", "writing"]


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


def add_param_option(parser, spec, *, by_modality: bool = False) -> None:
    """Add the command-line option of one pipeline parameter, generated from its ``spec``.

    ``by_modality``: a value not given is left out of the parsed arguments (the volume's modality then picks it:
    :func:`labelassist.cli.run.pipeline_params`), and the help names the ultrasound default where it differs.

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
    default, note = spec.default, f"default {spec.default}"
    if by_modality:  # not given: the volume's modality picks the default (labelassist.core.propose.profiles)
        from labelassist.core.propose.profiles import modality_defaults

        default = argparse.SUPPRESS
        us = modality_defaults("US").get(spec.name, spec.default)
        note += f"; ultrasound {us}" if us != spec.default else ""
    parser.add_argument(spec.flag, dest=spec.name, type=param_type(spec), default=default, metavar=metavar,
                        help=f"{help_text} ({spec.allowed.replace('%', '%%')}; {note})")


def demo_model_path(modality: str = "") -> Path:
    """The shipped demo model of a modality (:func:`labelassist.io.resources.demo_model_path`, imported when
    needed)."""
    from labelassist.io.resources import demo_model_path as path

    return path(modality)


def resolve_model_path(model: str | None, *, modality: str = "") -> Path:
    """The ``--model`` the user gave, or the shipped demo model for the volume's ``modality`` (ultrasound has
    its own)."""
    if model:
        return Path(model)
    path = demo_model_path(modality)
    if not path.is_file():
        raise ParameterError(
            f"--model not given and no demo model at {path}: pass --model CKPT (train one with 'labelassist train')"
        )
    return path


def check_output(path, option: str, *, folder: bool = False) -> Path:
    """Check, before any work, that the output an option names can be written; returns it as a Path.

    Parameters
    ----------
    path : str or Path
        The file (or, with ``folder=True``, the folder) the command will write, e.g. ``args.save_model``.
    option : str
        The option that named it (``"-o"``, ``"--save-model"``, ``"--plot"``, ...), quoted in the error.
    folder : bool, keyword-only
        ``path`` is a folder, made when missing (``batch -o``, ``run --save-maps``); else a file, whose
        folder must exist.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ParameterError
        One line naming ``option``, ``path``, what is wrong and the fix
        (:func:`labelassist.io.save.check_writable`): a kernel file system such as ``/proc`` or ``/sys``, a
        folder where a file is wanted (or a file where a folder is wanted), a missing folder, a read-only file
        system, a folder this user cannot write in, or an empty path.
    """
    if not str(path).strip():
        raise ParameterError(f"{option} is empty; name the {'folder' if folder else 'file'} to write")
    from labelassist.io.save import check_writable

    try:
        return check_writable(path, folder=folder)
    except VolumeError as exc:
        raise ParameterError(f"{option} {exc}") from None


@contextmanager
def writing(path, option: str):
    """Turn a file system's refusal while writing ``path`` (an :class:`OSError` with an errno) into one line
    naming ``option``.

    For writers that are not labelassist's own (matplotlib's ``savefig``, a CSV): ``with writing(args.plot,
    "--plot"): plot_grid(result, args.plot)``. The line is :func:`labelassist.io.save.write_error`'s, after
    ``option``; raised as a :class:`~labelassist.errors.VolumeError`.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno is None:  # the writer's own complaint (e.g. an image mode it cannot save), not the disk's
            raise
        from labelassist.io.save import write_error

        raise VolumeError(f"{option} {write_error(path, exc)}") from None
