"""Hostile files refused cleanly (issue 16), command-line side: one line on stderr and exit code 2, checked
before any work; eval prints a clear value where a metric is not defined. Every bad file is made here."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

import labelassist.batch.task
import labelassist.core.nets.checkpoint
import labelassist.io
from labelassist.cli import main
from labelassist.engine.testing import make_test_volume, make_tiny_checkpoint

AFFINE = np.diag([1.0, 1.0, 2.0, 1.0])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labelassist: error: "), err
    return err[0]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the volume is read, the model loaded or the pipeline started."""

    def fail(*args, **kwargs):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(labelassist.io, "load_volume", fail)
    monkeypatch.setattr(labelassist.core.nets.checkpoint, "load_checkpoint", fail)
    monkeypatch.setattr(labelassist.batch.task, "propose_volume", fail)


@pytest.fixture
def scan(tmp_path):
    return make_test_volume(tmp_path / "scan.nii.gz", shape=(2, 16, 16))


# --- run: the output path ----------------------------------------------------------------------------------


def test_run_refuses_an_output_that_is_an_existing_folder(tmp_path, scan, no_work, capsys):
    (tmp_path / "out").mkdir()
    assert main(["run", str(scan), "-o", str(tmp_path / "out")]) == 2
    assert "out: is a folder; name the label file to write" in one_error_line(capsys)


def test_run_refuses_an_output_in_a_missing_folder(tmp_path, scan, no_work, capsys):
    assert main(["run", str(scan), "-o", str(tmp_path / "missing" / "labels.nii.gz")]) == 2
    assert "missing does not exist; create it first" in one_error_line(capsys)


def test_run_refuses_an_output_in_a_folder_it_cannot_write_in(tmp_path, scan, no_work, capsys, monkeypatch):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # root may write anywhere, so the permission is faked for this one folder
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else real_access(p, mode, **kw))
    assert main(["run", str(scan), "-o", str(locked / "labels.nii.gz")]) == 2
    assert "permission denied (cannot write in" in one_error_line(capsys)


@pytest.mark.parametrize("name", ["labels.png", "labels.csv", "labels"])
def test_run_refuses_an_output_suffix_labels_are_not_written_in(tmp_path, scan, no_work, capsys, name):
    assert main(["run", str(scan), "-o", str(tmp_path / name)]) == 2
    assert "unsupported output extension; use one of .nii.gz, .nii, .nrrd, .mha" in one_error_line(capsys)


def test_run_refuses_to_overwrite_its_source(scan, no_work, capsys):
    before = scan.read_bytes()
    assert main(["run", str(scan), "-o", str(scan)]) == 2
    assert "refusing to overwrite the source" in one_error_line(capsys)
    assert scan.read_bytes() == before


def test_run_refuses_save_maps_naming_an_existing_file(tmp_path, scan, no_work, capsys):
    maps = tmp_path / "maps.txt"
    maps.write_text("not a folder")
    assert main(["run", str(scan), "-o", str(tmp_path / "labels.nii.gz"), "--save-maps", str(maps)]) == 2
    assert "--save-maps" in (line := one_error_line(capsys)) and "is a file, not a folder" in line
    assert not (tmp_path / "labels.nii.gz").exists()


# --- run / info: hostile inputs -----------------------------------------------------------------------------


def nan_affine_nifti(path: Path) -> Path:
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((16, 16, 2))
    hdr.set_data_dtype(np.float32)
    hdr["sform_code"], hdr["qform_code"] = 1, 0
    hdr["srow_x"], hdr["srow_y"], hdr["srow_z"] = [np.nan, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]
    nib.save(nib.Nifti1Image(np.ones((16, 16, 2), np.float32), None, header=hdr), str(path))
    return path


@pytest.mark.parametrize("command", ["info", "run"])
def test_info_and_run_refuse_a_nan_affine_and_write_nothing(tmp_path, capsys, command):
    bad = nan_affine_nifti(tmp_path / "bad.nii.gz")
    out = tmp_path / "labels.nii.gz"
    argv = ["info", str(bad)] if command == "info" else ["run", str(bad), "-o", str(out)]
    assert main(argv) == 2
    assert "bad.nii.gz: its voxel-to-world affine has NaN/Inf values; fix the header (qform/sform)" in \
        one_error_line(capsys)
    assert not out.exists()


def test_run_refuses_a_checkpoint_with_a_bad_input_size(tmp_path, scan, capsys):
    model = make_tiny_checkpoint(tmp_path / "m.pt")
    blob = torch.load(str(model), weights_only=True)
    blob["meta"]["input_size"] = 100000
    torch.save(blob, str(model))
    assert main(["run", str(scan), "--model", str(model), "-o", str(tmp_path / "labels.nii.gz")]) == 2
    assert "m.pt: checkpoint meta input_size is 100000; it must be a whole number in [16, 1024]" in \
        one_error_line(capsys)


# --- eval ---------------------------------------------------------------------------------------------------


def write(path: Path, data, dtype=np.uint8) -> Path:
    nib.save(nib.Nifti1Image(np.asarray(data, dtype), AFFINE), str(path))
    return path


@pytest.fixture
def masks(tmp_path):
    empty = np.zeros((8, 8, 3))
    a, b = empty.copy(), empty.copy()
    a[1:3, 1:3, 1] = 1
    b[5:7, 5:7, 1] = 1
    return {name: write(tmp_path / f"{name}.nii.gz", arr) for name, arr in
            (("empty", empty), ("a", a), ("b", b))}


@pytest.mark.parametrize(("pred", "truth", "why"), [
    ("a", "empty", "n/a (no lesion in the truth)"),
    ("empty", "a", "n/a (no lesion predicted)"),
    ("empty", "empty", "n/a (no lesion in either mask)"),
    ("a", "b", "n/a (no overlap with the truth: TP = 0)"),
])
def test_eval_text_says_why_mfp_and_mfn_are_not_defined(masks, capsys, pred, truth, why):
    assert main(["eval", str(masks[pred]), str(masks[truth])]) == 0
    lines = capsys.readouterr().out.splitlines()
    for label in ("mFP = FP / TP", "mFN = FN / TP"):
        line = next(x for x in lines if x.startswith(label))
        assert line[len(label):].strip() == why
    assert not any("None" in x for x in lines)
    assert main(["eval", str(masks[pred]), str(masks[truth]), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["mfp"] is None and m["mfn"] is None  # the JSON keeps null


@pytest.mark.parametrize("side", ["pred", "truth"])
def test_eval_refuses_an_intensity_volume_given_as_a_mask(tmp_path, masks, capsys, side):
    scan = write(tmp_path / "scan.nii.gz", np.random.default_rng(0).normal(100, 20, (8, 8, 3)), np.float32)
    pair = [str(scan), str(masks["a"])] if side == "pred" else [str(masks["a"]), str(scan)]
    assert main(["eval", *pair]) == 2
    line = one_error_line(capsys)
    assert "scan.nii.gz does not look like a label volume: 192 distinct values in [" in line
    assert line.endswith("pass a mask (0 = background, whole-number labels)")


def test_eval_refuses_a_ct_like_integer_volume_and_accepts_a_multi_label_mask(tmp_path, masks, capsys):
    ct = write(tmp_path / "ct.nii.gz", np.arange(192).reshape(8, 8, 3) * 7 - 1000, np.int16)
    assert main(["eval", str(ct), str(masks["a"])]) == 2
    assert "ct.nii.gz does not look like a label volume: 192 distinct values in [-1000, 337]" in \
        one_error_line(capsys)
    multi = write(tmp_path / "multi.nii.gz", np.arange(192).reshape(8, 8, 3) % 5)  # labels 0..4
    assert main(["eval", str(multi), str(masks["a"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tp"] > 0


def test_eval_folders_report_an_intensity_volume_as_a_failed_row(tmp_path, capsys):
    preds, truths = tmp_path / "pred", tmp_path / "truth"
    preds.mkdir()
    truths.mkdir()
    mask = np.zeros((8, 8, 3))
    mask[2:4, 2:4, 1] = 1
    write(preds / "x.nii.gz", np.random.default_rng(1).normal(5, 1, (8, 8, 3)), np.float32)
    write(truths / "x.nii.gz", mask)
    write(preds / "y.nii.gz", mask)
    write(truths / "y.nii.gz", mask)
    assert main(["eval", str(preds), str(truths), "--json"]) == 1
    rows = {r["pred"]: r for r in json.loads(capsys.readouterr().out)["volumes"]}
    assert "does not look like a label volume" in rows["x.nii.gz"]["error"]
    assert rows["y.nii.gz"]["error"] is None and rows["y.nii.gz"]["dice_volume"] == 1.0
