"""save_labels: dtype, atomic write, never over the source, clear errors."""

import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from labelassist.errors import VolumeError
from labelassist.io import load_volume, save_labels


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((4, 5, 6)).astype(np.float32), np.diag([2, 2, 3, 1])), str(path))
    return load_volume(path)


def test_uint8_and_uint16_over_255_labels(tmp_path, source):
    small = np.zeros(source.shape, np.int64)
    small[0, 0, 0] = 255
    assert nib.load(str(save_labels(small, tmp_path / "a.nii.gz", like=source))).get_data_dtype() == np.uint8
    big = small.copy()
    big[1, 1, 1] = 300
    out = save_labels(big, tmp_path / "b.nii.gz", like=source)
    assert nib.load(str(out)).get_data_dtype() == np.uint16
    np.testing.assert_array_equal(load_volume(out).array, big)


def test_bool_labels_are_written_as_ones(tmp_path, source):
    mask = np.zeros(source.shape, bool)
    mask[5, 3, 2] = True
    out = save_labels(mask, tmp_path / "m.nii", like=source)
    np.testing.assert_array_equal(load_volume(out).array, mask.astype(np.float32))


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.zeros((1, 2, 3), np.uint8), r"labels have shape \(1, 2, 3\) but the source volume is \(6, 5, 4\)"),
        (np.full((6, 5, 4), -1), r"label values must be in \[0, 65535\]"),
        (np.full((6, 5, 4), 0.5), "whole numbers"),
    ],
)
def test_bad_labels(tmp_path, source, labels, match):
    with pytest.raises(VolumeError, match=match):
        save_labels(labels, tmp_path / "x.nii.gz", like=source)
    assert not list(tmp_path.glob("x.nii.gz*")) and not list(tmp_path.glob(".x.nii.gz*"))


def test_refuses_to_overwrite_the_source(source):
    before = source.source_path.read_bytes()
    with pytest.raises(VolumeError, match="refusing to overwrite the source"):
        save_labels(np.zeros(source.shape, np.uint8), source.source_path, like=source)
    assert source.source_path.read_bytes() == before


@pytest.mark.parametrize("name, match", [("labels.txt", "unsupported output extension"), ("nowhere/l.nii.gz", "does not exist")])
def test_bad_output_path(tmp_path, source, name, match):
    with pytest.raises(VolumeError, match=match):
        save_labels(np.zeros(source.shape, np.uint8), tmp_path / name, like=source)


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, source, monkeypatch):
    out = tmp_path / "labels.nii.gz"
    save_labels(np.ones(source.shape, np.uint8), out, like=source)
    before = out.read_bytes()

    def broken_save(img, filename):
        open(filename, "wb").write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(nib, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_labels(np.zeros(source.shape, np.uint8), out, like=source)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.nii.gz", "scan.nii.gz"]


def test_info_reports_format_shape_spacing_orientation_range(tmp_path, source):
    out = subprocess.run(
        [sys.executable, "-m", "labelassist", "info", str(source.source_path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "nifti" in text and "6 x 5 x 4 (z, y, x)" in text and "3 x 2 x 2 mm" in text and "RAS" in text
    lo, hi = source.array.min(), source.array.max()
    assert f"[{lo:.6g}, {hi:.6g}]" in text


def test_info_goes_on_after_a_bad_file(tmp_path, source):
    out = subprocess.run(
        [sys.executable, "-m", "labelassist", "info", str(tmp_path / "missing.nii"), str(source.source_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2 and "no such file" in out.stderr and "RAS" in out.stdout
