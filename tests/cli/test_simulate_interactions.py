"""``simulate-review --interactions``: the effort in region clicks and brush strokes beside the Dice curves, the hand
curve going on until every lesion slice is drawn (Dice 1.0), and a plot over both x-axes."""

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from labelassist.cli import main
from labelassist.core.nets.checkpoint import default_meta, save_checkpoint
from labelassist.core.nets.classifier import build_classifier

pytestmark = pytest.mark.slow  # each test runs the whole loop (a pipeline and a short training)


def _save(path, arr):
    img = nib.Nifti1Image(arr, np.eye(4))
    img.header.set_qform(np.eye(4), code=1)
    img.header.set_sform(np.eye(4), code=1)
    nib.save(img, str(path))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """8 slices of 32 x 32, a bright disc on slices 1..6 (6 lesion slices), and a random tiny classifier."""
    tmp = tmp_path_factory.mktemp("sim")
    rng = np.random.default_rng(0)
    data = rng.normal(100, 5, (32, 32, 8)).astype(np.float32)
    truth = np.zeros(data.shape, np.uint8)
    ii, jj = np.mgrid[:32, :32]
    for k in range(1, 7):
        disk = (ii - 12 - k) ** 2 + (jj - 16) ** 2 < 12 + 4 * k
        data[..., k][disk] += 60
        truth[..., k][disk] = 1
    _save(tmp / "scan.nii.gz", data)
    _save(tmp / "truth.nii.gz", truth)
    torch.manual_seed(0)
    save_checkpoint(build_classifier("resnet18"), tmp / "clf.pt", meta=default_meta("resnet18", input_size=32))
    return tmp


def _args(files, *extra):
    return ["simulate-review", str(files / "scan.nii.gz"), "--truth", str(files / "truth.nii.gz"),
            "--classifier", str(files / "clf.pt"), "--steps", "10", "--device", "cpu", *extra]


def test_interactions_json_has_both_effort_curves_and_the_hand_curve_ends_at_one(files, capsys):
    png = files / "curves.png"
    # one training only (10 steps): the second correction comes before the next re-training
    args = _args(files, "--rounds", "2", "--retrain-every", "3", "--interactions", "--json", "--plot", str(png))
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"curve", "hand", "interactions", "hand_interactions"} <= set(out)
    curve, effort = out["curve"], out["interactions"]
    assert [d for _, d in effort] == [d for _, d in curve]  # the same corrections, counted in interactions
    counts = [n for n, _ in effort]
    assert counts[0] == 0 and counts == sorted(counts) and counts[-1] >= 1  # the first slice needs a correction
    hand = out["hand_interactions"]
    assert hand[0] == [0, 0.0] and hand[-1][1] == 1.0 and len(hand) == 6 + 1  # every lesion slice drawn
    assert [n for n, _ in hand] == sorted(n for n, _ in hand) and hand[-1][0] >= 6  # one outline per slice at least
    assert len(out["hand"]) == 6 + 1 and out["hand"][-1] == [6, 1.0]  # per slice too, until every one is drawn
    assert png.stat().st_size > 1000


def test_the_text_output_shows_the_effort_per_correction_and_to_dice_0_9(files, capsys):
    assert main(_args(files, "--rounds", "1", "--interactions")) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("corrected   1") and " clicks + " in lines[0] and " strokes)" in lines[0]
    assert lines[1].split() == ["corrected", "segmenter", "hand", "interactions"]
    assert len(lines) == 2 + 7 + 1  # the hand column goes on to all 6 lesion slices
    assert lines[-1].startswith("to lesion Dice 0.9:") and "drawing by hand" in lines[-1]
