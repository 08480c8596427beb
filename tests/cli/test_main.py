import subprocess
import sys

import pytest

from labelassist import __version__
from labelassist.cli import main


def test_version_flag():
    out = subprocess.run([sys.executable, "-m", "labelassist", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == f"labelassist {__version__}"


def test_no_command_prints_help_and_usage_exit(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


# -- the pipeline options are generated from the parameter schema ------------------------------------


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_run_offers_every_parameter_calibrate_the_cam_and_perimeter_ones(capsys):
    from labelassist.core.propose.params import param_specs

    run_help, calibrate_help = _help(capsys, "run"), _help(capsys, "calibrate")
    for spec in param_specs():
        assert spec.flag in run_help
        assert (spec.flag in calibrate_help) == (spec.stage in ("cam", "perimeter")), spec.flag
    for old in ("--cam", "--cam-shifts", "--cam-stride", "--uss", "--segments", "--uss-cnn", "--threshold", "--gate",
                "--no-fit", "--min-size", "--fill-holes", "--largest-only"):
        assert f"{old} " in run_help or f"{old}\n" in run_help


def test_options_parse_into_the_params_with_the_schemas_defaults():
    from labelassist.cli import build_parser
    from labelassist.cli.run import pipeline_params
    from labelassist.core.propose.params import PipelineParams

    parse = build_parser().parse_args
    args = parse(["run", "v.nii", "-o", "x.nii.gz", "--cam", "gradcam++", "--segments", "50", "--no-fit",
                  "--threshold", "0.3", "--fill-holes", "--cam-stride", "16"])
    assert pipeline_params(args) == PipelineParams(cam_method="gradcam++", n_segments=50, fit=False, threshold=0.3,
                                                   fill_holes=True, cam_stride=16)
    assert pipeline_params(parse(["run", "v.nii", "-o", "x.nii.gz"])) == PipelineParams()
    calibrate = parse(["calibrate", "v.nii", "--truth", "t.nii", "--uss-cnn"])
    assert pipeline_params(calibrate, gate=0.0) == PipelineParams(uss_cnn=True, gate=0.0)


def test_a_field_added_to_the_schema_appears_in_run_help_and_its_params(monkeypatch, capsys):
    from dataclasses import dataclass

    from labelassist.cli import build_parser
    from labelassist.cli.run import pipeline_params
    from labelassist.core.propose import params

    @dataclass(frozen=True)
    class Extended(params.PipelineParams):
        smoothing: float = params.param(0.25, stage="fit", label="Smoothing", range=(0.0, 2.0),
                                        help="Blur the CAM before the threshold.")

    monkeypatch.setattr(params, "PipelineParams", Extended)
    text = _help(capsys, "run")
    assert "--smoothing SMOOTHING" in text and "Blur the CAM before the threshold" in text
    assert "a number in [0, 2]; default 0.25" in " ".join(text.split())
    assert "--smoothing" not in _help(capsys, "calibrate")  # a fit parameter
    got = pipeline_params(build_parser().parse_args(["run", "v.nii", "-o", "x.nii.gz", "--smoothing", "1.5"]))
    assert isinstance(got, Extended) and got.smoothing == 1.5
    with pytest.raises(SystemExit) as exit_:
        main(["run", "v.nii", "-o", "x.nii.gz", "--smoothing", "3"])
    assert exit_.value.code == 2
    assert "--smoothing must be in [0, 2], got 3.0" in capsys.readouterr().err


def test_a_bad_value_is_one_line_naming_the_option():
    out = subprocess.run([sys.executable, "-m", "labelassist", "run", "v.nii", "-o", "x.nii.gz", "--threshold", "2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines == ["labelassist run: error: argument --threshold: --threshold must be in [0, 1], got 2.0 "
                     "(see --help)"]
