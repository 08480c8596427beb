"""``labelassist demo-data``: writes the files and the manifest; a bad OUT_DIR is one line and exit 2."""

import json
import subprocess
import sys

import pytest

from labelassist.cli import main


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "labelassist", "demo-data", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_writes_files_and_manifest(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo-data", str(out), "--seed", "2", "--setting", "easy", "--mri", "1", "--us", "2",
                 "--cine", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 2 and manifest["settings"] == ["easy"]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["manifest.json", "mri/easy/vol_000.nii.gz", "mri/easy/vol_000_mask.nii.gz",
                     "us/easy/cine_000.dcm", "us/easy/cine_000_mask.nii.gz",
                     "us/easy/img_000.png", "us/easy/img_000_mask.png", "us/easy/img_001.png", "us/easy/img_001_mask.png"]
    assert "1 MRI volumes, 2 ultrasound images and 1 ultrasound cines" in capsys.readouterr().out


def test_both_settings_by_default_and_rerun_into_own_output(tmp_path):
    out = tmp_path / "demo"
    first = _cli(out, "--mri", "0", "--us", "1", "--cine", "0")
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (out / "us").iterdir()) == ["easy", "hard"]
    assert _cli(out, "--mri", "0", "--us", "1", "--cine", "0", "--seed", "1").returncode == 0  # its own output: replaced
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1


@pytest.mark.parametrize("setup, match", [("file", "exists and is not a folder"),
                                          ("unrelated", "folder is not empty and holds no demo data")])
def test_bad_out_dir_is_one_line_exit_2(tmp_path, setup, match):
    target = tmp_path / "out"
    if setup == "file":
        target.write_text("x")
    else:
        target.mkdir()
        (target / "thesis.docx").write_text("precious")
    res = _cli(target, "--mri", "0", "--us", "1")
    assert res.returncode == 2 and match in res.stderr and str(target) in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("labelassist: error:")
    if setup == "unrelated":
        assert [p.name for p in target.iterdir()] == ["thesis.docx"]
    else:
        assert target.read_text() == "x"


def test_bad_options_are_usage_errors(tmp_path):
    res = _cli(tmp_path / "d", "--setting", "medium")
    assert res.returncode == 2 and "invalid choice: 'medium'" in res.stderr
    res = _cli(tmp_path / "d", "--us", "-1")
    assert res.returncode == 2 and "argument --us: '-1' is not a whole number >= 0" in res.stderr
