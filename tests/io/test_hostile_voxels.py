"""Issue 16: MetaImage files with a short header read; complex voxels are refused in one line."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from labelassist.errors import VolumeError
from labelassist.io import load_volume
from labelassist.io.formats.table import sniff_file

PIXELS = np.array([[[200, 201, 202], [250, 251, 252]], [[0, 1, 2], [10, 13, 255]]], np.uint8)  # binary-looking


def _sitk_short_header(path):
    """A MetaImage written by SimpleITK, its optional lines dropped: a header of under 256 bytes."""
    img = sitk.GetImageFromArray(PIXELS)
    img.SetSpacing((0.5, 0.7, 2.0))
    sitk.WriteImage(img, str(path))
    raw = path.read_bytes()
    header, data = raw[: -PIXELS.size], raw[-PIXELS.size:]
    keep = [ln for ln in header.split(b"\n") if not ln.startswith((b"CenterOfRotation", b"AnatomicalOrientation",
                                                                   b"BinaryDataByteOrderMSB", b"CompressedData"))]
    path.write_bytes(b"\n".join(keep) + data)
    assert len(b"\n".join(keep)) < 256
    return path


def _hand_short_header(path):
    path.write_bytes(b"NDims = 3\nDimSize = 3 2 2\nElementSpacing = 0.5 0.7 2\nElementType = MET_UCHAR\n"
                     b"ElementDataFile = LOCAL\n" + PIXELS.tobytes())
    return path


@pytest.mark.parametrize("make", [_sitk_short_header, _hand_short_header], ids=["simpleitk", "by hand"])
def test_a_metaimage_with_a_short_header_reads(tmp_path, make):
    path = make(tmp_path / "tiny.mha")
    assert sniff_file(path) == "mha"
    vol = load_volume(path)
    np.testing.assert_array_equal(vol.array, PIXELS)
    assert vol.spacing == pytest.approx((2.0, 0.7, 0.5))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))), PIXELS)  # ITK agrees


def test_a_detached_short_header_reads(tmp_path):
    (tmp_path / "tiny.raw").write_bytes(PIXELS.tobytes())
    (tmp_path / "tiny.mhd").write_bytes(b"NDims = 3\nDimSize = 3 2 2\nElementType = MET_UCHAR\n"
                                        b"ElementDataFile = tiny.raw\n")
    np.testing.assert_array_equal(load_volume(tmp_path / "tiny.mhd").array, PIXELS)


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 4,                                             # binary
    b"\x00\x01\x02ObjectType = Image\nNDims = 3\n" + bytes(200),         # keywords after binary bytes
    b"NDims = 3\nDimSize = 2 2 2\n\x00\x07\x1b" + bytes(range(256)),     # text then binary, no ElementDataFile
], ids=["binary", "keywords after binary", "no ElementDataFile"])
def test_a_binary_file_is_not_taken_for_a_metaimage(tmp_path, content):
    path = tmp_path / "scan.mha"
    path.write_bytes(content)
    assert sniff_file(path) == "unknown"
    with pytest.raises(VolumeError, match=r"scan\.mha: the extension says a MetaImage file but the content is an unkn"):
        load_volume(path)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_a_complex_nifti_is_refused_naming_the_dtype_and_the_fix(tmp_path, dtype):
    path = tmp_path / "phase.nii.gz"
    nib.save(nib.Nifti1Image((np.ones((3, 4, 5)) * (1 + 2j)).astype(dtype), np.eye(4)), str(path))
    with pytest.raises(VolumeError, match=rf"phase\.nii\.gz: complex voxels \({np.dtype(dtype).name}\); .*save the "
                                          r"magnitude \(or the real part\) with another tool first"):
        load_volume(path)


def test_a_complex_analyze_pair_is_refused(tmp_path):
    img = nib.AnalyzeImage((np.ones((3, 4, 5)) * 1j).astype(np.complex64), np.eye(4))
    nib.save(img, str(tmp_path / "phase.hdr"))
    with pytest.raises(VolumeError, match=r"phase\.img: complex voxels \(complex64\)"):
        load_volume(tmp_path / "phase.img")


def test_a_complex_nrrd_is_refused_before_its_voxels_are_read(tmp_path):
    path = tmp_path / "phase.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray((np.ones((3, 4, 5)) * (1 - 1j)).astype(np.complex64)), str(path))
    path.write_bytes(path.read_bytes()[:-8])  # even truncated: the header alone decides
    with pytest.raises(VolumeError, match=r"phase\.nrrd: complex voxels \(complex of 32-bit float\); .*magnitude"):
        load_volume(path)


NRRD = (b"NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\nsizes: 3 2 2\n"
        b"space directions: (0.5,0,0) (0,0.7,0) (0,0,2)\nkinds: domain domain domain\nencoding: raw\n"
        b"space origin: (0,0,0)\n")


@pytest.mark.parametrize("units", [b'"cm" "cm" "cm"', b'"mm" "mm" "m"'])
def test_an_nrrd_in_other_units_than_millimetres_is_refused(tmp_path, units):
    path = tmp_path / "scan.nrrd"
    path.write_bytes(NRRD + b"space units: " + units + b"\n\n" + PIXELS.tobytes())
    with pytest.raises(VolumeError, match=r"scan\.nrrd: its space units are c?m; labelassist reads millimetres"):
        load_volume(path)


def test_an_nrrd_in_millimetres_reads(tmp_path):
    path = tmp_path / "scan.nrrd"
    path.write_bytes(NRRD + b'space units: "mm" "mm" "mm"\n\n' + PIXELS.tobytes())
    vol = load_volume(path)
    np.testing.assert_array_equal(vol.array, PIXELS)
    assert vol.spacing == pytest.approx((2.0, 0.7, 0.5))
