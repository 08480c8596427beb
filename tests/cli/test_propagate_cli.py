"""propagate / simulate-review from the command line: labels out with reviewed slices unchanged, the segmenter
saved and reloaded, the curve as JSON and a plot, one-line errors."""

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from labelassist.cli import main
from labelassist.core.nets.checkpoint import default_meta, save_checkpoint
from labelassist.core.nets.classifier import build_classifier
from labelassist.core.propagate.propagation import load_segmenter
from labelassist.io import load_volume


def _save(path, arr):
    img = nib.Nifti1Image(arr, np.eye(4))
    img.header.set_qform(np.eye(4), code=1)
    img.header.set_sform(np.eye(4), code=1)
    nib.save(img, str(path))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prop")
    rng = np.random.default_rng(0)
    data = rng.normal(100, 5, (32, 32, 8)).astype(np.float32)  # nibabel (i, j, k): 8 slices of 32 x 32
    truth = np.zeros(data.shape, np.uint8)
    ii, jj = np.mgrid[:32, :32]
    for k in range(2, 6):
        disk = (ii - 12 - k) ** 2 + (jj - 16) ** 2 < 20
        data[..., k][disk] += 60
        truth[..., k][disk] = 1
    _save(tmp / "scan.nii.gz", data)
    _save(tmp / "truth.nii.gz", truth)
    labels = load_volume(tmp / "truth.nii.gz", labels=True).array.astype(np.uint8)
    reviewed = np.zeros_like(labels)
    reviewed[[0, 3]] = labels[[0, 3]]
    reviewed[6] = 1  # garbage on an unreviewed slice: must not matter
    _save(tmp / "reviewed.nii.gz", _to_nib(reviewed, tmp))
    torch.manual_seed(0)
    save_checkpoint(build_classifier("resnet18"), tmp / "clf.pt", meta=default_meta("resnet18", input_size=32))
    return tmp


def _to_nib(zyx, tmp):
    """Back from load_volume's (z, y, x) to the file's (i, j, k), checked on the truth file."""
    src = nib.load(str(tmp / "truth.nii.gz")).get_fdata()
    for perm in [(2, 1, 0), (2, 0, 1), (1, 2, 0), (0, 2, 1), (1, 0, 2), (0, 1, 2)]:
        back = np.transpose(load_volume(tmp / "truth.nii.gz", labels=True).array, perm)
        if back.shape == src.shape and np.array_equal(back, src):
            return np.transpose(zyx, perm).astype(np.uint8)
    raise AssertionError("cannot map (z, y, x) back to the file's axes")


def test_propagate_writes_labels_keeps_reviewed_slices_and_saves_the_net(files, capsys):
    out, ckpt = files / "out.nii.gz", files / "seg.pt"
    code = main(["propagate", str(files / "scan.nii.gz"), "--labels", str(files / "reviewed.nii.gz"),
                 "--reviewed", "0,3", "-o", str(out), "--steps", "40", "--device", "cpu", "--save-model", str(ckpt)])
    assert code == 0
    res = load_volume(out, labels=True).array
    lab = load_volume(files / "reviewed.nii.gz", labels=True).array
    np.testing.assert_array_equal(res[[0, 3]], lab[[0, 3]])
    assert res.shape == lab.shape and "learned from 2 reviewed slices" in capsys.readouterr().out
    assert load_segmenter(ckpt).meta["training"]["reviewed_slices"] == 2
    # fine-tune the saved net on the same volume, keeping lesions no reviewed lesion touches too
    assert main(["propagate", str(files / "scan.nii.gz"), "--labels", str(files / "reviewed.nii.gz"),
                 "--reviewed", "0,3", "-o", str(out), "--fine-tune-steps", "2", "--device", "cpu",
                 "--model", str(ckpt),
                 "--all-lesions", "--save-model", str(ckpt)]) == 0
    assert load_segmenter(ckpt).meta["training"]["history"][-1]["connected"] is False
    # only lesion-free slices reviewed: the saved net predicts but is not taught that nothing is lesion
    capsys.readouterr()
    assert main(["propagate", str(files / "scan.nii.gz"), "--labels", str(files / "reviewed.nii.gz"),
                 "--reviewed", "0,1", "-o", str(out), "--device", "cpu", "--model", str(ckpt),
                 "--save-model", str(ckpt)]) == 0
    assert "no reviewed slice shows a lesion, so the segmenter only predicted" in capsys.readouterr().out
    assert load_segmenter(ckpt).meta["training"]["runs"] == 2


@pytest.mark.parametrize("args, match", [
    (["--reviewed", "0,1"], "no reviewed slice shows a lesion"),
    (["--reviewed", "3,99"], "--reviewed must be in"),
    (["--reviewed", "3", "--labels-other"], "does not match the volume"),
    (["--reviewed", "3", "--model-bad"], "not a readable model checkpoint"),
])
def test_propagate_bad_input_is_one_line(files, capsys, tmp_path, args, match):
    labels = str(files / "reviewed.nii.gz")
    extra = []
    if "--labels-other" in args:
        args = [a for a in args if a != "--labels-other"]
        _save(tmp_path / "small.nii.gz", np.zeros((8, 8, 8), np.uint8))
        labels = str(tmp_path / "small.nii.gz")
    if "--model-bad" in args:
        args = [a for a in args if a != "--model-bad"]
        (tmp_path / "bad.pt").write_text("nope")
        extra = ["--model", str(tmp_path / "bad.pt")]
    code = main(["propagate", str(files / "scan.nii.gz"), "--labels", labels, "-o", str(tmp_path / "o.nii.gz"),
                 "--steps", "1", "--device", "cpu", *args, *extra])
    err = capsys.readouterr().err
    assert code == 2 and match in err and err.count("\n") == 1


def test_simulate_review_prints_the_curve_as_json_and_plots(files, capsys):
    png = files / "curve.png"
    code = main(["simulate-review", str(files / "scan.nii.gz"), "--truth", str(files / "truth.nii.gz"),
                 "--classifier", str(files / "clf.pt"), "--rounds", "3", "--steps", "20", "--device", "cpu",
                 "--json", "--plot", str(png)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [k for k, _ in out["curve"]] == [0, 1, 2, 3] and all(0 <= d <= 1 for _, d in out["curve"])
    assert out["hand"][0] == [0, 0.0] and out["hand"][-1][1] > 0
    assert png.stat().st_size > 1000


def test_simulated_reviewer_starts_at_the_largest_lesion_with_a_net_too(files):
    """A net from earlier volumes that marks nothing here: the reviewer scrolls to the visible lesion first,
    as with no net at all, instead of rejecting the empty slices the net's queue offers."""
    from labelassist.cli.simulate_review import simulate
    from labelassist.core.propagate.propagation import propagate

    image = load_volume(files / "scan.nii.gz").array
    truth = load_volume(files / "truth.nii.gz", labels=True).array.astype(np.uint8)
    blind = propagate(image, truth, [3], steps=0, device="cpu").model
    with torch.no_grad():
        blind.net.head.bias.fill_(-30.0)  # sigmoid 0 everywhere: no lesion anywhere
    lines = []
    area = truth.reshape(len(truth), -1).sum(1)
    curve, _ = simulate(image, truth, fit=np.zeros_like(truth), probability=np.zeros(len(truth)), model=blind,
                        rounds=1, device="cpu", log=lines.append)
    assert f"slice {int(np.argmax(area)):3d}, lesion" in lines[0]
    assert curve[1][1] > curve[0][1] == 0.0


def test_simulate_review_with_the_box_tool_costs_no_more_and_gives_the_same_masks(files, capsys):
    """--tools box: the reviewer boxes the missed disc with LiteMedSAM (the real weights) before clicks and
    strokes; the corrected slices are the truth either way, so the curve is the same and the effort no larger."""
    args = ["simulate-review", str(files / "scan.nii.gz"), "--truth", str(files / "truth.nii.gz"),
            "--classifier", str(files / "clf.pt"), "--rounds", "2", "--steps", "20", "--device", "cpu", "--json"]
    assert main([*args, "--interactions"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*args, "--tools", "box"]) == 0  # implies --interactions
    boxed = json.loads(capsys.readouterr().out)
    assert boxed["curve"] == plain["curve"]
    assert boxed["interactions"][-1][0] <= plain["interactions"][-1][0]
    assert main([*args[:-1], "--tools", "box", "--rounds", "1"]) == 0  # the log names the boxes of each slice
    assert " boxes + " in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main([*args[:-1], "--tools", "boxes"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "invalid choice: 'boxes'" in err and err.count("\n") == 1


def test_simulate_review_save_writes_one_mask_per_round_and_lesion_counts(files, capsys, tmp_path):
    from labelassist.io import load_volume

    out = tmp_path / "rounds"
    args = ["simulate-review", str(files / "scan.nii.gz"), "--truth", str(files / "truth.nii.gz"),
            "--classifier", str(files / "clf.pt"), "--rounds", "2", "--steps", "20", "--device", "cpu", "--json",
            "--save", str(out)]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "review.json").read_text())
    assert saved == printed and [r["corrected"] for r in saved["rounds"]] == [0, 1, 2]
    scan, truth = load_volume(files / "scan.nii.gz"), load_volume(files / "truth.nii.gz", labels=True)
    for r, (k, score) in zip(saved["rounds"], saved["curve"]):
        assert r["corrected"] == k and r["dice"] == score and r["lesions"] >= 1
        assert 0 <= r["lesions_found"] <= r["lesions"] and r["false_suggestions"] >= 0
        mask = load_volume(out / f"round_{k}.nii.gz", labels=True)
        np.testing.assert_allclose(mask.affine, scan.affine)  # on the source's grid
        if k:
            assert (np.asarray(mask.array)[np.asarray(truth.array).reshape(len(truth.array), -1).any(1)] > 0).any()
