"""The pipeline parameters' schema: one declaration per parameter, validation and stages generated from it."""

import subprocess
import sys
from dataclasses import asdict, dataclass, fields

import numpy as np
import pytest

from labelassist.core.propose.params import (
    CAM_METHOD_NAMES, DESPECKLE_NAMES, STAGES, USS_METHOD_NAMES, PipelineParams, invalidated_stages, param,
    param_specs,
)
from labelassist.errors import ParameterError


@dataclass(frozen=True)
class Extended(PipelineParams):
    smoothing: float = param(0.25, stage="fit", label="Smoothing", range=(0.0, 2.0), help="Blur the CAM first.")


def test_every_field_is_declared_once_with_what_the_frontends_need():
    specs = param_specs()
    assert [s.name for s in specs] == [f.name for f in fields(PipelineParams)]
    for s in specs:
        assert s.stage in STAGES and s.label and s.help and s.flag.startswith("--")
        assert getattr(PipelineParams(), s.name) == s.default


def test_every_declared_method_runs():
    import numpy as np

    from labelassist.core.propose.cam import cam_class
    from labelassist.core.propose.perimeter import perimeter_map

    for name in CAM_METHOD_NAMES:
        assert callable(cam_class(name)), name
    img = np.zeros((32, 32), np.float32)
    img[8:20, 8:20] = 1.0
    for name in USS_METHOD_NAMES:
        assert perimeter_map(img, method=name, n_segments=8).regions.max() >= 2, name


def test_the_despeckle_names_are_the_despeckle_modules_and_each_runs():
    from labelassist.core.propose.despeckle import DESPECKLE_METHODS, despeckle

    assert DESPECKLE_NAMES == DESPECKLE_METHODS
    img = np.random.default_rng(0).random((16, 16))
    for name in DESPECKLE_NAMES:
        assert despeckle(img, method=name).shape == img.shape, name


def test_todays_flags_are_kept():
    flags = {s.name: s.flag for s in param_specs()}
    assert flags == {
        "cam_method": "--cam", "cam_shifts": "--cam-shifts", "cam_stride": "--cam-stride", "uss": "--uss",
        "n_segments": "--segments", "uss_cnn": "--uss-cnn", "threshold": "--threshold", "gate": "--gate",
        "fit": "--no-fit", "min_size": "--min-size", "fill_holes": "--fill-holes", "largest_only": "--largest-only",
        "refine": "--refine", "despeckle": "--despeckle",
    }


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"threshold": 1.5}, r"^threshold must be in \[0, 1\], got 1.5$"),
        ({"gate": -0.1}, r"^gate must be in \[0, 1\], got -0.1$"),
        ({"gate": "high"}, r"^gate must be a number in \[0, 1\], got 'high'$"),
        ({"cam_method": "nope"}, r"^cam_method must be one of gradcam, gradcam\+\+, .*; got 'nope'$"),
        ({"uss": "watershed"}, r"^uss must be one of slic, quickshift, felzenszwalb; got 'watershed'$"),
        ({"despeckle": "wavelet"}, r"^despeckle must be one of none, median, bilateral, .*; got 'wavelet'$"),
        ({"cam_stride": 4}, r"^cam_stride must be 8, 16 or 32; got 4$"),
        ({"cam_shifts": 0}, r"^cam_shifts must be an integer from 1 to 4, got 0$"),
        ({"cam_shifts": 2.5}, r"^cam_shifts must be an integer from 1 to 4, got 2.5$"),
        ({"cam_shifts": True}, r"^cam_shifts must be an integer from 1 to 4, got True$"),
        ({"n_segments": 1}, r"^n_segments must be at least 2, got 1$"),
        ({"min_size": -3}, r"^min_size must be at least 0, got -3$"),
        ({"fit": "yes"}, r"^fit must be True or False, got 'yes'$"),
        ({"threshold": float("nan")}, r"^threshold must be in \[0, 1\], got nan$"),
    ],
)
def test_generated_validation_is_one_line_naming_parameter_range_and_value(changes, match):
    with pytest.raises(ParameterError, match=match):
        PipelineParams(**changes)


def test_values_are_stored_as_the_declared_type():
    p = PipelineParams(gate=0, threshold=np.float32(0.25), n_segments=np.int64(50), fit=np.bool_(False))
    assert (type(p.gate), type(p.threshold), type(p.n_segments), type(p.fit)) == (float, float, int, bool)
    assert p.threshold == 0.25 and p.n_segments == 50 and p.fit is False


def test_parse_reads_text_and_names_the_flag():
    spec = {s.name: s for s in param_specs()}
    assert spec["cam_stride"].parse("16") == 16 and spec["threshold"].parse(" 0.3 ") == 0.3
    assert spec["fill_holes"].parse("on") is True
    with pytest.raises(ParameterError, match=r"^--segments must be an integer of at least 2, got '1.5'$"):
        spec["n_segments"].parse("1.5", name="--segments")
    with pytest.raises(ParameterError, match=r"^--threshold must be in \[0, 1\], got 2.0$"):
        spec["threshold"].parse("2", name="--threshold")


def test_stages_come_from_the_schema():
    assert invalidated_stages(["threshold", "min_size"]) == {"fit"}
    assert invalidated_stages(["uss", "cam_stride"]) == {"perimeter", "cam"}
    assert invalidated_stages([]) == set()
    with pytest.raises(ParameterError, match=r"unknown pipeline parameter 'nope'; known: cam_method, "):
        invalidated_stages(["nope"])


def test_changed_from_names_the_differences():
    a = PipelineParams()
    assert PipelineParams(threshold=0.3, uss="felzenszwalb").changed_from(a) == {"threshold", "uss"}
    assert a.changed_from(PipelineParams()) == set()


def test_a_field_added_to_a_params_class_is_validated_like_the_others():
    assert [s.name for s in param_specs(Extended)][-1] == "smoothing"
    assert Extended(smoothing=1).smoothing == 1.0 and asdict(Extended())["smoothing"] == 0.25
    with pytest.raises(ParameterError, match=r"^smoothing must be in \[0, 2\], got 3.0$"):
        Extended(smoothing=3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"stage": "paint"}, r"stage must be one of cam, perimeter, fit; got 'paint'"),
        ({"stage": "fit", "range": (0, 1), "choices": (0, 1)}, "give range or choices, not both"),
        ({"stage": "fit", "cli": "-s"}, "cli must be a long flag like --name"),
    ],
)
def test_bad_declarations_are_refused(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        param(1.0, label="x", help="x", **kwargs)


def test_a_default_outside_its_range_or_an_undeclared_field_is_refused():
    @dataclass(frozen=True)
    class BadDefault:
        x: float = param(2.0, stage="fit", label="x", help="x", range=(0.0, 1.0))

    @dataclass(frozen=True)
    class Undeclared:
        x: float = 1.0

    with pytest.raises(ParameterError, match=r"x must be in \[0, 1\], got 2.0"):
        param_specs(BadDefault)
    with pytest.raises(ParameterError, match=r"Undeclared.x must be declared with param\("):
        param_specs(Undeclared)


def test_the_schema_imports_no_torch():
    code = "import sys, labelassist.core.propose.params, labelassist.cli.run; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
