"""The pipeline's parameters: each declared once, with its type, default, range or choices, the stage it
invalidates, a label and its help text.

Stages: ``"cam"`` (the classifier's heat map and p(lesion)), ``"perimeter"`` (the perimeter map), ``"fit"``
(BoundaryFit, a gather from cached region minima; its refinement; the post-filters). Changing a parameter drops
its stage and everything downstream of it (docs/architecture.md, pipeline maths).

Each field of :class:`PipelineParams` is declared with :func:`param`; :func:`param_specs` reads the
declarations back as :class:`ParamSpec` records. Everything else is built from them: the validation of
``PipelineParams`` (:meth:`ParamSpec.check`), the stage map (:func:`invalidated_stages`), the command-line
options (``labelassist.cli.run.add_pipeline_options``) and the control panel's widgets
(``labelassist.widgets.control_panel``). A new field declared here appears in all of them.

This module imports no torch (``labelassist --help`` imports it): the CAM, despeckle, perimeter and refiner names
are listed here, and ``tests/core/test_params.py`` checks them against ``cam.CAM_METHODS``,
``despeckle.DESPECKLE_METHODS`` and ``perimeter.METHODS`` (``tests/core/test_refine.py`` the refiners against
``refine.REFINERS``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from functools import lru_cache
from numbers import Integral, Real
from typing import Any

from labelassist.core.nets.classifier import OUTPUT_STRIDES
from labelassist.errors import ParameterError

__all__ = ["PipelineParams", "ParamSpec", "STAGES", "CAM_METHODS", "CAM_METHOD_NAMES", "USS_METHOD_NAMES",
           "DESPECKLE_NAMES", "REFINE_NAMES", "param", "param_specs", "invalidated_stages"]

STAGES = ("cam", "perimeter", "fit")
# Every grad-cam method that works on a ResNet classifier, by the name a user types.
CAM_METHODS = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "eigencam": "EigenCAM",
    "eigengradcam": "EigenGradCAM",
    "gradcamelementwise": "GradCAMElementWise",
    "fullgrad": "FullGrad",
    "scorecam": "ScoreCAM",
    "ablationcam": "AblationCAM",
    "shapleycam": "ShapleyCAM",
    "kpcacam": "KPCA_CAM",
}
CAM_METHOD_NAMES = tuple(CAM_METHODS)
# The perimeter map's methods (labelassist.core.propose.perimeter.perimeter_map).
USS_METHOD_NAMES = ("slic", "quickshift", "felzenszwalb")
# The speckle reductions of the perimeter map's image (labelassist.core.propose.despeckle.DESPECKLE_METHODS).
DESPECKLE_NAMES = ("none", "median", "bilateral", "nlmeans", "diffusion", "gaussian")
# How the fitted mask is refined (labelassist.core.propose.refine.REFINERS); the default is PipelineParams.refine.
REFINE_NAMES = ("boundaryfit", "sam", "crf")

_META_KEY = "labelassist.param"
_TYPES = (bool, int, float, str)
_NOUNS = {bool: "True or False", int: "an integer", float: "a number", str: "a string"}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _num(x) -> str:
    return format(x, "g") if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class ParamSpec:
    """One pipeline parameter as declared with :func:`param` (see there for the fields).

    ``type`` is the type of the default (bool, int, float or str); ``range`` is ``(min, max)`` with either
    end ``None`` for unbounded.
    """

    name: str
    type: type
    default: Any
    stage: str
    label: str
    help: str
    range: tuple | None = None
    choices: tuple | None = None
    cli: str | None = None
    step: float | None = None
    advanced: bool = False

    @property
    def flag(self) -> str:
        """The command-line flag: ``cli``, else ``--name-with-dashes`` (``--no-name`` for a bool that is on)."""
        if self.cli:
            return self.cli
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.type is bool and self.default else f"--{dashed}"

    @property
    def allowed(self) -> str:
        """What the parameter accepts, as a phrase: ``"a number in [0, 1]"``, ``"one of slic, quickshift"``."""
        if self.choices is not None:
            words = [_num(c) for c in self.choices]
            if self.type is str:
                return "one of " + ", ".join(words)
            return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
        noun = _NOUNS[self.type]
        if self.range is None:
            return noun
        lo, hi = self.range
        if self.type is int and lo is not None and hi is not None:
            return f"an integer from {lo} to {hi}"
        bounds = self._bounds()
        return f"{noun} {bounds}" if bounds.startswith("in ") else f"{noun} of {bounds}"

    def _bounds(self) -> str:
        lo, hi = self.range
        if lo is not None and hi is not None:
            return f"in [{_num(lo)}, {_num(hi)}]"
        return f"at least {_num(lo)}" if lo is not None else f"at most {_num(hi)}"

    def _fail(self, name: str, value, phrase: str) -> ParameterError:
        sep = ";" if self.choices is not None else ","
        return ParameterError(f"{name} must be {phrase}{sep} got {value!r}")

    def check(self, value, *, name: str | None = None):
        """``value`` as the parameter's type (an int 0 for a float gives 0.0), or a one-line ParameterError.

        ``name`` is how the message names the parameter (default: its name; the command line gives its flag).
        """
        name = name or self.name
        t = self.type
        if t is bool:
            if isinstance(value, bool) or (getattr(value, "shape", None) == () and value.dtype.kind == "b"):  # numpy's
                return bool(value)
            raise self._fail(name, value, self.allowed)
        if t is str:
            ok = isinstance(value, str)
        else:  # numpy's numbers register as Integral / Real
            ok = isinstance(value, Integral if t is int else Real) and not isinstance(value, bool)
        if not ok:
            raise self._fail(name, value, self.allowed)
        value = t(value)
        if self.choices is not None and value not in self.choices:
            raise self._fail(name, value, self.allowed)
        if self.range is not None:
            lo, hi = self.range
            if (lo is not None and not lo <= value) or (hi is not None and not value <= hi) or (
                    t is float and math.isnan(value)):
                phrase = self.allowed if t is int and None not in self.range else self._bounds()
                raise self._fail(name, value, phrase)
        return value

    def parse(self, text: str, *, name: str | None = None):
        """The value written as ``text`` (as typed on a command line), checked; one-line ParameterError."""
        name = name or self.name
        if self.type is str:
            return self.check(text, name=name)
        word = str(text).strip()
        if self.type is bool:
            if word.lower() not in _TRUE + _FALSE:
                raise self._fail(name, text, self.allowed)
            return word.lower() in _TRUE
        try:
            value = self.type(word)
        except ValueError:
            raise self._fail(name, text, self.allowed) from None
        return self.check(value, name=name)


def param(default, *, stage: str, label: str, help: str, range: tuple | None = None, choices: Iterable | None = None,
          cli: str | None = None, step: float | None = None, advanced: bool = False):
    """Declare a field of :class:`PipelineParams` (a ``dataclasses.field`` carrying its :class:`ParamSpec` data).

    Parameters
    ----------
    default : bool, int, float or str
        The default value; its type is the parameter's type (write ``0.0``, not ``0``, for a float).
    stage : {"cam", "perimeter", "fit"}, keyword-only
        The cached stage a change of the parameter invalidates (with everything downstream of it).
    label : str, keyword-only
        A short label for the GUI.
    help : str, keyword-only
        One or two sentences for the command-line help and the GUI's tooltip.
    range : (min, max), optional, keyword-only
        Inclusive bounds of a number; either may be ``None`` (unbounded).
    choices : sequence, optional, keyword-only
        The allowed values (not with ``range``).
    cli : str, optional, keyword-only
        The command-line flag where it differs from ``--name-with-dashes`` (``--no-name`` for a bool that is on).
    step : float, optional, keyword-only
        The GUI's step (of a spin box or slider).
    advanced : bool, keyword-only
        Rarely changed: the GUI shows it in a collapsed "More" section.
    """
    if type(default) not in _TYPES:
        raise ParameterError(f"default must be a bool, int, float or str, got {default!r}")
    if stage not in STAGES:
        raise ParameterError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}")
    if range is not None and choices is not None:
        raise ParameterError("give range or choices, not both")
    if range is not None and len(range) != 2:
        raise ParameterError(f"range must be (min, max) with None for unbounded, got {range!r}")
    if cli is not None and not cli.startswith("--"):
        raise ParameterError(f"cli must be a long flag like --name, got {cli!r}")
    meta = dict(stage=stage, label=label, help=help, range=None if range is None else tuple(range),
                choices=None if choices is None else tuple(choices), cli=cli, step=step, advanced=advanced)
    return field(default=default, metadata={_META_KEY: meta})


def param_specs(cls: type | None = None) -> tuple[ParamSpec, ...]:
    """The :class:`ParamSpec` of every field of ``cls`` (default :class:`PipelineParams`), in declaration order."""
    return _specs_of(PipelineParams if cls is None else cls)


@lru_cache(maxsize=None)
def _specs_of(cls: type) -> tuple[ParamSpec, ...]:
    if not is_dataclass(cls):
        raise ParameterError(f"cls must be a dataclass declared with param() fields, got {cls!r}")
    out = []
    for f in fields(cls):
        if _META_KEY not in f.metadata or f.default is MISSING:
            raise ParameterError(f"{cls.__name__}.{f.name} must be declared with param(default, stage=..., ...)")
        spec = ParamSpec(name=f.name, type=type(f.default), default=f.default, **f.metadata[_META_KEY])
        spec.check(spec.default)  # a default outside its own range is a declaration error
        out.append(spec)
    return tuple(out)


def invalidated_stages(names: Iterable[str]) -> set[str]:
    """The stages a change of the parameters ``names`` invalidates (a subset of :data:`STAGES`)."""
    stage_of = {s.name: s.stage for s in param_specs()}
    out = set()
    for name in names:
        if name not in stage_of:
            raise ParameterError(f"unknown pipeline parameter {name!r}; known: {', '.join(stage_of)}")
        out.add(stage_of[name])
    return out


@dataclass(frozen=True)
class PipelineParams:
    """Every knob of the pipeline, grouped by the stage it touches (generated from the declarations below)."""

    cam_method: str = param(
        "gradcam", stage="cam", label="CAM method", cli="--cam", choices=CAM_METHOD_NAMES,
        help="The grad-cam method of the heat map (scorecam and ablationcam are slow: minutes a volume on a CPU).")
    cam_shifts: int = param(
        2, stage="cam", label="CAM shifts", range=(1, 4),
        help="Shift averaging: n x n CAM passes of the input moved by 1/n of a feature cell (1 = the plain CAM; "
             "2 follows a lesion at half the cell size). FullGrad always runs once.")
    cam_stride: int = param(
        8, stage="cam", label="CAM stride", choices=OUTPUT_STRIDES,
        help="Input pixels per CAM cell, when finer than the classifier's own (8 for the stride-16 demo model: "
             "4x the cells, nothing retrained); p(lesion) stays the classifier's. FullGrad runs at the model's own.")
    despeckle: str = param(
        "none", stage="perimeter", label="Despeckle", choices=DESPECKLE_NAMES,
        help="Smooth the image the perimeter map is made of, so that its regions follow the anatomy, not the "
             "speckle (ultrasound: median); the CAM and the refiners keep the original image.")
    uss: str = param(
        "slic", stage="perimeter", label="Perimeter", choices=USS_METHOD_NAMES,
        help="The unsupervised segmentation whose cluster edges make the perimeter map.")
    n_segments: int = param(
        200, stage="perimeter", label="Superpixels", cli="--segments", range=(2, None), step=25,
        help="Superpixels per slice: the perimeter method's main parameter.")
    uss_cnn: bool = param(
        False, stage="perimeter", label="USS CNN refinement", advanced=True,
        help="Refine the superpixels with the small unsupervised CNN (slower).")
    threshold: float = param(
        0.5, stage="fit", label="CAM threshold", range=(0.0, 1.0), step=0.01,
        help="CAM threshold t: the binary CAM is CAM >= t.")
    gate: float = param(
        0.5, stage="fit", label="p(lesion) gate", range=(0.0, 1.0), step=0.01,
        help="Minimum p(lesion) of a slice; a slice below it gets an empty mask.")
    fit: bool = param(
        True, stage="fit", label="BoundaryFit",
        help="Fit the CAM mask to the perimeter regions (off: the thresholded CAM alone, for comparison).")
    refine: str = param(
        "crf", stage="fit", label="Refine", choices=REFINE_NAMES,
        help="Refine the fitted mask: crf (the default), a dense CRF moves its edges to the slice's intensities; "
             "boundaryfit keeps it; sam, LiteMedSAM boxed on each fitted lesion (seconds a slice on a CPU).")
    min_size: int = param(
        0, stage="fit", label="Min lesion size (px)", range=(0, None), step=10, advanced=True,
        help="Drop lesion components smaller than this many pixels (0 keeps all).")
    fill_holes: bool = param(
        False, stage="fit", label="Fill holes", advanced=True,
        help="Fill the holes inside each lesion component.")
    largest_only: bool = param(
        False, stage="fit", label="Largest lesion only", advanced=True,
        help="Keep only the largest lesion component of each slice.")

    def __post_init__(self):
        for spec in param_specs(type(self)):
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))

    def changed_from(self, other: PipelineParams) -> set[str]:
        """Names of the parameters whose value differs from ``other``'s."""
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)}


def _parameters_section(specs: Iterable[ParamSpec]) -> str:
    lines = ["", "", "    Parameters", "    ----------"]
    for s in specs:
        lines += [f"    {s.name} : {s.allowed}, default {s.default!r}",
                  f"        {s.help} Invalidates the {s.stage!r} stage."]
    return "\n".join(lines) + "\n"


PipelineParams.__doc__ += _parameters_section(param_specs(PipelineParams))
