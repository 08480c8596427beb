"""run / eval / calibrate from the command line: labels with the source's geometry, metrics, bad options."""

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch

from labelassist.cli import main
from labelassist.core.nets.checkpoint import default_meta, save_checkpoint
from labelassist.core.nets.classifier import build_classifier
from labelassist.io import load_volume

LSA = np.array([[-1.0, 0, 0, 30], [0, 0, 1.5, -20], [0, 2.0, 0, 10], [0, 0, 0, 1]])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    data = rng.normal(100, 5, (40, 36, 6)).astype(np.float32)  # nibabel (i, j, k): 6 slices
    truth = np.zeros(data.shape, np.uint8)
    ii, jj = np.mgrid[:40, :36]
    disk = (ii - 20) ** 2 + (jj - 18) ** 2 < 49
    for k in (2, 3):
        data[..., k][disk] += 50
        truth[..., k][disk] = 1
    for name, arr in (("scan.nii.gz", data), ("truth.nii.gz", truth)):
        img = nib.Nifti1Image(arr, LSA)
        img.header.set_qform(LSA, code=1)
        img.header.set_sform(LSA, code=1)
        nib.save(img, str(tmp / name))
    torch.manual_seed(0)
    model = build_classifier("resnet18")
    save_checkpoint(model, tmp / "model.pt", meta=default_meta("resnet18", input_size=64))
    return tmp


def test_run_writes_labels_info_reports_with_the_sources_shape_and_orientation(files, capsys):
    out = files / "labels.nii.gz"
    code = main(["run", str(files / "scan.nii.gz"), "--model", str(files / "model.pt"), "-o", str(out),
                 "--gate", "0", "--threshold", "0.6", "--save-maps", str(files / "maps")])
    assert code == 0
    src, lab = load_volume(files / "scan.nii.gz"), load_volume(out)
    assert lab.shape == src.shape and lab.orientation == src.orientation == "LSA"
    np.testing.assert_allclose(lab.affine, src.affine)
    assert set(np.unique(lab.array)) <= {0, 1} and lab.array.any()
    assert (files / "maps" / "cam.nii.gz").is_file() and (files / "maps" / "probabilities.csv").is_file()
    assert load_volume(files / "maps" / "cam.nii.gz").array.max() <= 1.0
    info = subprocess.run([sys.executable, "-m", "labelassist", "info", str(out)], capture_output=True, text=True)
    assert "6 x 36 x 40 (z, y, x)" in info.stdout and "LSA" in info.stdout


def test_no_fit_gives_the_thresholded_cam_which_is_never_smaller(files):
    fit, raw = files / "fit.nii.gz", files / "raw.nii.gz"
    common = [str(files / "scan.nii.gz"), "--model", str(files / "model.pt"), "--gate", "0"]
    assert main(["run", *common, "--refine", "boundaryfit", "-o", str(fit)]) == 0  # the CRF may grow an edge
    assert main(["run", *common, "-o", str(raw), "--no-fit"]) == 0
    a, b = load_volume(fit).array, load_volume(raw).array
    assert (a <= b).all()  # BoundaryFit only removes


def test_eval_json_matches_the_metrics(files, capsys):
    assert main(["eval", str(files / "truth.nii.gz"), str(files / "truth.nii.gz"), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["dice_volume"] == 1.0 and m["miou"] == 1.0 and m["fp"] == m["fn"] == 0 and m["tp"] > 0


def test_eval_text(files, capsys):
    assert main(["eval", str(files / "truth.nii.gz"), str(files / "truth.nii.gz")]) == 0
    assert "foreground Dice, volume (3-D)" in capsys.readouterr().out


def test_calibrate_prints_best_parameters(files, capsys):
    code = main(["calibrate", str(files / "scan.nii.gz"), "--model", str(files / "model.pt"),
                 "--truth", str(files / "truth.nii.gz"), "--slices", "1-4", "--json", "--plot", str(files / "g.png")])
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert 0 <= res["thresholds"][0] <= 1 and 0 <= res["gate"] <= 1 and res["slices"] == [1, 2, 3, 4]
    assert (files / "g.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--threshold", "1.5"], r"--threshold must be in \[0, 1\], got 1.5"),
        (["--gate", "x"], "--gate must be a number"),
        (["--cam", "nope"], r"--cam must be one of gradcam, gradcam\+\+, .*; got 'nope'"),
        (["--uss", "watershed"], "--uss must be one of slic, quickshift, felzenszwalb; got 'watershed'"),
        (["--segments", "1"], "--segments must be at least 2, got 1"),
        (["--cam-stride", "12"], "--cam-stride must be 8, 16 or 32; got 12"),
        (["--device", "tpu"], "device 'tpu' is not available"),
        (["--channel", "1"], "channel was given but"),
    ],
)
def test_bad_options_are_one_line_exit_2(files, tmp_path, extra, match):
    out = subprocess.run(
        [sys.executable, "-m", "labelassist", "run", str(files / "scan.nii.gz"), "--model", str(files / "model.pt"),
         "-o", str(tmp_path / "x.nii.gz"), *extra], capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr
    import re

    assert re.search(match, lines[0]), lines[0]


def test_model_channel_mismatch(files, tmp_path):
    torch.manual_seed(0)
    two = tmp_path / "two.pt"
    save_checkpoint(build_classifier("resnet18", in_channels=2), two, meta=default_meta("resnet18", in_channels=2, input_size=64))
    assert main(["run", str(files / "scan.nii.gz"), "--model", str(two), "-o", str(tmp_path / "y.nii.gz")]) == 2


def test_post_filter_flags_from_the_schema_reach_the_pipeline(files):
    from scipy import ndimage

    out = files / "filtered.nii.gz"
    common = [str(files / "scan.nii.gz"), "--model", str(files / "model.pt"), "--gate", "0", "--threshold", "0.2"]
    assert main(["run", *common, "-o", str(out), "--largest-only", "--fill-holes", "--min-size", "5"]) == 0
    labels = load_volume(out).array  # (z, y, x)
    for k in range(labels.shape[0]):
        components, n = ndimage.label(labels[k])
        assert n <= 1  # --largest-only
        assert (ndimage.binary_fill_holes(labels[k]) == labels[k].astype(bool)).all()  # --fill-holes
        assert n == 0 or labels[k].sum() >= 5  # --min-size
