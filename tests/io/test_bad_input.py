"""Every bad input is one line naming the file and the problem: from Python, and from the CLI with exit code 2."""

import gzip
import os
import subprocess
import sys
import time
import warnings

import nibabel as nib
import numpy as np
import pytest

from labelassist.errors import LabelAssistError, VolumeError
from labelassist.io import load_volume


def _nifti_bytes(shape=(4, 5, 6), data=None):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) if data is None else data
    img = nib.Nifti1Image(data, np.eye(4))
    return img.to_bytes()


def missing(tmp):
    return tmp / "nope.nii.gz"


def empty(tmp):
    p = tmp / "empty.nii.gz"
    p.write_bytes(b"")
    return p


def truncated_gz(tmp):
    p = tmp / "trunc.nii.gz"
    full = gzip.compress(_nifti_bytes((20, 20, 20)))
    p.write_bytes(full[: len(full) // 2])
    return p


def png_named_nifti(tmp):
    p = tmp / "picture.nii.gz"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    return p


def text_named_nrrd(tmp):
    p = tmp / "notes.nrrd"
    p.write_text("this is not a volume\n")
    return p


def lying_header(tmp):
    hdr = nib.Nifti2Header()
    hdr.set_data_shape((100000, 100000, 100000))
    hdr.set_data_dtype(np.float32)
    p = tmp / "liar.nii"
    p.write_bytes(hdr.binaryblock + b"\x00" * 4 + b"\x00" * 1000)
    return p


def lying_header_gz(tmp):
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((1000, 1000, 1000))
    hdr.set_data_dtype(np.float32)
    p = tmp / "liar.nii.gz"
    p.write_bytes(gzip.compress(hdr.binaryblock + b"\x00" * 4 + b"\x00" * 100000))
    return p


def five_d(tmp):
    p = tmp / "five.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3, 2, 2), np.float32), np.eye(4)), str(p))
    return p


def five_d_nrrd(tmp):
    p = tmp / "five.nrrd"
    p.write_bytes(
        b"NRRD0004\ntype: uint8\ndimension: 5\nsizes: 2 2 2 2 2\nencoding: raw\n\n" + bytes(32)
    )
    return p


def not_an_image(tmp):
    p = tmp / "report.pdf"
    p.write_bytes(b"%PDF-1.4 not an image at all")
    return p


def folder_without_images(tmp):
    d = tmp / "docs"
    d.mkdir()
    (d / "readme.txt").write_text("hello")
    return d


def corrupt_png(tmp):
    p = tmp / "broken.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x13" * 100)
    return p


def truncated_dicom(tmp):
    import pydicom.data

    src = pydicom.data.get_testdata_file("MR_truncated.dcm")
    p = tmp / "mr.dcm"
    p.write_bytes(open(src, "rb").read())
    return p


BAD = [
    (missing, "no such file"),
    (empty, "empty"),
    (truncated_gz, "truncated|corrupt"),
    (png_named_nifti, "extension says a NIfTI file but the content is an image"),
    (text_named_nrrd, "extension says an NRRD file but the content is a text file"),
    (lying_header, "header claims 1,000,000,000,000,000 voxels"),
    (lying_header_gz, r"header claims 1,000,000,000 voxels \(4,000,000,000 bytes\) but the file holds only"),
    (five_d, "5-D data"),
    (five_d_nrrd, "5-D data"),
    (not_an_image, "not an image or volume"),
    (folder_without_images, "no DICOM files or images"),
    (corrupt_png, "not a readable image"),
    (truncated_dicom, "truncated"),
]


@pytest.mark.parametrize("make, match", BAD, ids=[m.__name__ for m, _ in BAD])
def test_bad_input_is_one_line_naming_the_file(tmp_path, make, match):
    path = make(tmp_path)
    start = time.perf_counter()
    with pytest.raises(VolumeError, match=match) as info:
        load_volume(path)
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 folder")
def test_unreadable_folder(tmp_path):
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0)
    try:
        with pytest.raises(VolumeError, match="permission denied"):
            load_volume(d)
    finally:
        d.chmod(0o755)


def test_unreadable_folder_even_as_root(tmp_path, monkeypatch):
    d = tmp_path / "locked"
    d.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(d) else real_access(p, m))
    with pytest.raises(VolumeError, match="permission denied"):
        load_volume(d)


@pytest.mark.parametrize(
    "data, match",
    [(np.full((4, 4, 4), np.nan, np.float32), "NaN"), (np.full((4, 4, 4), 7, np.float32), "constant data")],
    ids=["all-nan", "constant"],
)
def test_degenerate_data_warns_but_loads(tmp_path, data, match):
    p = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(p))
    with pytest.warns(UserWarning, match=match):
        vol = load_volume(p)
    assert vol.shape == (4, 4, 4)


@pytest.mark.parametrize("make, match", [BAD[0], BAD[3], BAD[5], BAD[7]], ids=lambda x: getattr(x, "__name__", ""))
def test_cli_info_bad_input_exit_code_2_one_line(tmp_path, make, match):
    path = make(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "labelassist", "info", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert lines[0].startswith("labelassist: error: ") and str(path) in lines[0]


def test_every_error_is_a_labelassist_error():
    assert issubclass(VolumeError, LabelAssistError)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert issubclass(VolumeError, ValueError)


def test_an_empty_label_volume_is_not_a_warning(tmp_path):
    p = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4)), str(p))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not load_volume(p, labels=True).array.any()
