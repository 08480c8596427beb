"""Training options, each declared once: the spec type and the schema shared by the classifier's options
(:data:`labelassist.core.classify.params.TRAIN_PARAMS`) and the segmenter's
(:data:`labelassist.core.propagate.params.SEGMENTER_PARAMS`).

A training option is a :class:`~labelassist.core.propose.params.ParamSpec`, the pipeline parameters' spec
type (type, default, range or choices, label, help, flag, ``check`` and ``parse``), with two differences:

- its ``stage`` names the model whose training it configures (``"classifier"``, ``"segmenter"``); a
  training option invalidates nothing cached;
- a float's range may leave out either end (``open_range``): a learning rate is above 0, a share of the
  volumes below 1.

An :class:`OptionSchema` holds the options of one training. Everything else is read from it: core's
defaults (the keyword defaults of ``train_classifier``), the command-line options (one
``labelassist.cli._common.add_param_option`` per spec) and the training dialog's widgets
(``labelassist.widgets.training``). This module imports no torch (``labelassist --help`` imports it).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from labelassist.core.propose.params import ParamSpec
from labelassist.errors import ParameterError

__all__ = ["OptionSpec", "OptionSchema", "option"]

_TYPES = (bool, int, float, str)


def _num(x) -> str:
    return format(x, "g") if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class OptionSpec(ParamSpec):
    """One training option (see :func:`option` for the fields).

    ``open_range`` is ``(low, high)``: whether each end of a float's ``range`` is itself left out
    (``(True, False)`` with range ``(0.0, 1.0)``: in (0, 1]).
    """

    open_range: tuple = (False, False)

    def _bounds(self) -> str:
        low_open, high_open = self.open_range
        if not (low_open or high_open):
            return super()._bounds()
        lo, hi = self.range
        if lo is not None and hi is not None:
            return f"in {'(' if low_open else '['}{_num(lo)}, {_num(hi)}{')' if high_open else ']'}"
        if lo is not None:
            return f"greater than {_num(lo)}" if low_open else f"at least {_num(lo)}"
        return f"less than {_num(hi)}" if high_open else f"at most {_num(hi)}"

    @property
    def allowed(self) -> str:
        """What the option accepts, as a phrase: ``"a number in (0, 1]"``, ``"an integer of at least 1"``."""
        if self.range is not None and any(self.open_range) and not self._bounds().startswith("in "):
            return f"a number {self._bounds()}"
        return super().allowed

    def check(self, value, *, name: str | None = None):
        """``value`` as the option's type, or a one-line ParameterError naming ``name`` (default: its name)."""
        value = super().check(value, name=name)
        if self.range is not None and any(self.open_range):
            (lo, hi), (low_open, high_open) = self.range, self.open_range
            if (low_open and value == lo) or (high_open and value == hi):
                raise self._fail(name or self.name, value, self._bounds())
        return value


def option(name: str, default, *, model: str, label: str, help: str, range: tuple | None = None,
           choices: Iterable | None = None, open_range: tuple = (False, False), cli: str | None = None,
           step: float | None = None, advanced: bool = False) -> OptionSpec:
    """Declare one training option.

    Parameters
    ----------
    name : str
        The keyword of the training function the option feeds (``input_size``).
    default : bool, int, float or str
        The default value; its type is the option's type (write ``0.0``, not ``0``, for a float).
    model : str, keyword-only
        The model whose training the option configures (the spec's ``stage``).
    label, help : str, keyword-only
        A short label for the GUI; one or two sentences for the command-line help and the GUI's tooltip.
    range : (min, max), optional, keyword-only
        Bounds of a number; either may be ``None`` (unbounded).
    choices : sequence, optional, keyword-only
        The allowed values (not with ``range``).
    open_range : (bool, bool), keyword-only
        Whether the low and the high end of a float's ``range`` are left out.
    cli, step, advanced
        As in :func:`labelassist.core.propose.params.param`: the flag where it differs from
        ``--name-with-dashes``, the GUI's step, and whether the GUI keeps it in a collapsed "More" section.

    Returns
    -------
    OptionSpec

    Raises
    ------
    ParameterError
        A declaration error: an unsupported type, range and choices together, an open end on anything but a
        bounded float, or a default the option itself refuses.
    """
    if type(default) not in _TYPES:
        raise ParameterError(f"{name}: default must be a bool, int, float or str, got {default!r}")
    if range is not None and choices is not None:
        raise ParameterError(f"{name}: give range or choices, not both")
    if range is not None and len(range) != 2:
        raise ParameterError(f"{name}: range must be (min, max) with None for unbounded, got {range!r}")
    open_range = tuple(bool(x) for x in open_range)
    if any(open_range) and (type(default) is not float or range is None or any(
            bound is None for bound, is_open in zip(range, open_range) if is_open)):
        raise ParameterError(f"{name}: open_range needs a float with that end of its range given")
    if cli is not None and not cli.startswith("--"):
        raise ParameterError(f"{name}: cli must be a long flag like --name, got {cli!r}")
    spec = OptionSpec(name=name, type=type(default), default=default, stage=model, label=label, help=help,
                      range=None if range is None else tuple(range),
                      choices=None if choices is None else tuple(choices), cli=cli, step=step, advanced=advanced,
                      open_range=open_range)
    spec.check(default)  # a default outside its own range is a declaration error
    return spec


class OptionSchema:
    """The options of one training, in declaration order: ``schema["lr"]`` is a spec, ``iter(schema)`` gives
    every spec.

    Parameters
    ----------
    model : str
        What is trained (``"classifier"``); every spec's ``stage``.
    specs : iterable of OptionSpec
        The options, each declared with :func:`option`; names and flags are unique.
    """

    def __init__(self, model: str, specs: Iterable[OptionSpec]):
        self.model = model
        self.specs = tuple(specs)
        self._by_name = {s.name: s for s in self.specs}
        flags = {s.flag for s in self.specs}
        if len(self._by_name) != len(self.specs) or len(flags) != len(self.specs):
            raise ParameterError(f"the {model} training options must have unique names and flags")
        if any(s.stage != model for s in self.specs):
            raise ParameterError(f"every option of the {model} training must be declared with model={model!r}")

    def __iter__(self) -> Iterator[OptionSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def __contains__(self, name) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> OptionSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise ParameterError(f"unknown {self.model} training option {name!r}; known: "
                                 f"{', '.join(self.names)}") from None

    def __repr__(self) -> str:
        return f"OptionSchema({self.model!r}, {', '.join(self.names)})"

    @property
    def names(self) -> tuple[str, ...]:
        """The options' names, in declaration order."""
        return tuple(self._by_name)

    def defaults(self) -> dict:
        """``{name: default}`` of every option."""
        return {s.name: s.default for s in self.specs}

    def check(self, values: Mapping, *, names: Mapping[str, str] | None = None) -> dict:
        """The given ``values`` (some or all of the options) checked and stored as their declared types.

        Parameters
        ----------
        values : mapping of str
            ``{option: value}``; an unknown option is refused.
        names : mapping of str, optional
            How a message names an option (a flag, a GUI label); default: its name.

        Returns
        -------
        dict
            ``{option: value}`` in the order given.

        Raises
        ------
        ParameterError
            One line naming the first option out of range, of the wrong type or unknown.
        """
        names = names or {}
        return {k: self[k].check(v, name=names.get(k)) for k, v in values.items()}

    def describe(self, indent: int = 4) -> str:
        """The options as a numpydoc ``Notes`` section (to append to a docstring): each one's name, what it
        accepts, its default and its help."""
        pad = " " * indent
        lines = ["", "", f"{pad}Notes", f"{pad}-----", f"{pad}The {self.model} training options:", ""]
        for s in self.specs:
            lines += textwrap.wrap(f"- ``{s.name}`` ({s.allowed}, default ``{s.default!r}``): {s.help}", width=110,
                                   initial_indent=pad, subsequent_indent=pad + "  ")
        return "\n".join(lines) + "\n"
