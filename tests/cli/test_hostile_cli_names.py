"""Issue 16, command-line side: a mask with a 4th axis is refused by eval in one line, and a file name
holding bytes that are not text prints without a crash under a strict stdout encoding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from labelassist.cli import main

AFFINE = np.diag([1.0, 1.0, 2.0, 1.0])


def write(path: Path, data) -> Path:
    nib.save(nib.Nifti1Image(np.asarray(data, np.uint8), AFFINE), str(path))
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labelassist: error: "), err
    return err[0]


@pytest.fixture
def mask():
    m = np.zeros((8, 8, 3), np.uint8)
    m[2:4, 2:4, 1] = 1
    return m


@pytest.mark.parametrize("n", [2, 6])  # kept as channels by the reader / more than a reader keeps
@pytest.mark.parametrize("side", ["pred", "truth"])
def test_eval_refuses_a_mask_with_a_4th_axis(tmp_path, mask, capsys, n, side):
    four = write(tmp_path / "four.nii.gz", np.repeat(mask[..., None], n, axis=3))
    three = write(tmp_path / "three.nii.gz", mask)
    pair = [four, three] if side == "pred" else [three, four]
    assert main(["eval", *map(str, pair)]) == 2
    line = one_error_line(capsys)
    assert f"{four}: " in line
    assert "a mask with a 4th axis (channels or time points); eval compares one 3-D mask" in line


def test_eval_reads_a_mask_with_a_singleton_4th_axis(tmp_path, mask, capsys):
    four = write(tmp_path / "four.nii.gz", mask[..., None])
    three = write(tmp_path / "three.nii.gz", mask)
    assert main(["eval", str(four), str(three), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dice_volume"] == 1.0


def test_eval_folders_report_a_4d_mask_as_a_failed_row(tmp_path, mask, capsys):
    preds, truths = tmp_path / "pred", tmp_path / "truth"
    preds.mkdir()
    truths.mkdir()
    write(preds / "x.nii.gz", np.stack([mask, 1 - mask], axis=3))
    write(truths / "x.nii.gz", mask)
    write(preds / "y.nii.gz", mask)
    write(truths / "y.nii.gz", mask)
    assert main(["eval", str(preds), str(truths), "--json"]) == 1
    rows = {r["pred"]: r for r in json.loads(capsys.readouterr().out)["volumes"]}
    assert "2 entries along a 4th axis" in rows["x.nii.gz"]["error"]
    assert rows["y.nii.gz"]["error"] is None


def _name_that_is_not_text(folder: Path, stem: str) -> str:
    return os.fsdecode(os.fsencode(folder) + b"/" + stem.encode() + b"_\xff\xfe.nii.gz")  # surrogateescape


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_info_prints_a_name_that_is_not_text_under_a_strict_stdout(tmp_path):
    from labelassist.engine.testing import make_test_volume

    name = _name_that_is_not_text(tmp_path, "scan")
    make_test_volume(Path(name), shape=(2, 16, 16))
    code = "import sys; from labelassist.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "info", name], capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr.decode("utf-8", "replace")[-2000:]
    assert proc.stdout.startswith(os.fsencode(tmp_path) + b"/scan_\\udcff\\udcfe.nii.gz\n")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_run_prints_a_name_that_is_not_text_under_a_strict_stdout(tmp_path, tiny_model, monkeypatch):
    """In-process, the proposal stubbed (printing is what is tested): stdout is a strict UTF-8 stream, as
    under PYTHONIOENCODING=utf-8:strict; main makes it escape what it cannot encode."""
    import io
    from types import SimpleNamespace

    import labelassist.batch.task
    from labelassist.engine.testing import make_test_volume

    def propose(volume, *args, **kwargs):
        labels = np.zeros(volume.shape, np.uint8)
        labels[1, 30:34, 30:34] = 1
        return SimpleNamespace(labels=labels, pipeline=SimpleNamespace(n_slices=volume.shape[0]))

    monkeypatch.setattr(labelassist.batch.task, "propose_volume", propose)

    name, out = _name_that_is_not_text(tmp_path, "scan"), _name_that_is_not_text(tmp_path, "labels")
    make_test_volume(Path(name), shape=(2, 64, 64))
    raw = io.BytesIO()
    strict = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    monkeypatch.setattr(sys, "stdout", strict)
    assert main(["run", name, "--model", str(tiny_model), "--device", "cpu", "-o", out]) == 0
    assert b"labels_\\udcff\\udcfe.nii.gz: 1 of 2 slices with a lesion, 16 voxels" in raw.getvalue()  # escaped
    assert Path(out).is_file()
