"""Memory bombs and bad geometry in every reader (issue 16): a header's claim is judged against the file and
the memory available BEFORE anything is inflated or allocated; every reader checks its affine. Every bad file
is made here, in tmp_path, small on disk (the memory available is patched down where a claim must pass the
file-size checks)."""

from __future__ import annotations

import gzip
import struct
import time
import zipfile
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import labelassist.core.nets.checkpoint as checkpoint
import labelassist.io.formats.limits as limits
from labelassist.core.nets.checkpoint import load_checkpoint
from labelassist.engine.testing import make_tiny_checkpoint
from labelassist.errors import CheckpointError, VolumeError
from labelassist.io import load_volume
from labelassist.io.formats.images import _png_ihdr

MiB = 2**20


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


@pytest.fixture
def little_memory(monkeypatch):
    """``little_memory(n)``: the machine has ``n`` bytes available from now on."""

    def set_available(n: int) -> None:
        monkeypatch.setattr(limits, "available_memory", lambda: n)

    return set_available


def test_available_memory_is_a_positive_number_of_bytes():
    assert limits.available_memory() > 0


# -- NIfTI ---------------------------------------------------------------------------------------------


def _nifti_header(shape, dtype=np.uint8) -> bytes:
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(dtype)
    hdr.set_qform(np.eye(4), code=1)
    hdr["vox_offset"] = 352
    return hdr.binaryblock + b"\0" * 4


def test_a_gzip_nifti_claiming_64_gb_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.nii.gz"
    path.write_bytes(gzip.compress(_nifti_header((4000, 4000, 4000)) + bytes(4096)))
    start = time.perf_counter()
    with pytest.raises(VolumeError, match=r"bomb\.nii\.gz: header claims 64,000,000,000 voxels") as exc:
        load_volume(path)
    assert time.perf_counter() - start < 5
    _one_line(exc)


def test_a_gzip_nifti_that_inflates_beyond_the_memory_available_is_refused_before_inflating(tmp_path, little_memory):
    path = tmp_path / "zeros.nii.gz"  # 8 MB of zeros in about 8 KB: a ratio deflate really reaches
    path.write_bytes(gzip.compress(_nifti_header((200, 200, 200)) + bytes(200**3), compresslevel=9))
    assert path.stat().st_size < 64 * 1024
    little_memory(4 * MiB)
    with pytest.raises(VolumeError, match=r"zeros\.nii\.gz: reading its 8,000,000 voxels needs 38\.1 MiB of memory "
                                          r"but only 4\.0 MiB is available; free memory") as exc:
        load_volume(path)
    _one_line(exc)


def test_a_sparse_2_gib_nifti_is_refused_when_memory_cannot_hold_it(tmp_path, little_memory):
    path = tmp_path / "sparse.nii"
    with open(path, "wb") as fh:
        fh.write(_nifti_header((1024, 1024, 1024), np.int16))
    with open(path, "r+b") as fh:
        fh.truncate(352 + 2 * 1024**3)  # a hole: nothing is written
    little_memory(1024 * MiB)
    with pytest.raises(VolumeError, match=r"sparse\.nii: reading its 1,073,741,824 voxels needs 6\.0 GiB of memory "
                                          r"but only 1\.0 GiB is available") as exc:
        load_volume(path)
    _one_line(exc)


def test_a_nifti_that_fits_in_memory_still_reads(tmp_path):
    path = tmp_path / "ok.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(120, dtype=np.float32).reshape(4, 5, 6), np.eye(4)), str(path))
    assert load_volume(path).shape == (6, 5, 4)


# -- images --------------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(path: Path, width: int, height: int, colour_type: int = 0) -> Path:
    """A PNG whose IHDR claims ``width x height`` with a tiny IDAT (the pixels are never there)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(64)))
                     + _chunk(b"IEND", b""))
    return path


def test_a_12000_square_png_is_refused_from_its_header_when_memory_cannot_hold_it(tmp_path, little_memory):
    path = _png(tmp_path / "big.png", 12000, 12000)
    little_memory(256 * MiB)
    start = time.perf_counter()
    with pytest.raises(VolumeError, match=r"big\.png: reading its 1 page\(s\) of 12000 x 12000 needs 686\.6 MiB "
                                          r"of memory but only 256\.0 MiB is available") as exc:
        load_volume(path)
    assert time.perf_counter() - start < 5
    _one_line(exc)


def test_a_colour_png_claiming_far_more_than_its_bytes_is_refused(tmp_path):
    path = _png(tmp_path / "rgb.png", 12000, 12000, colour_type=2)
    with pytest.raises(VolumeError, match=r"rgb\.png: header claims 1 page\(s\) of 12000 x 12000 x 3 .* the file is "
                                          r"corrupt or its header lies") as exc:
        load_volume(path)
    _one_line(exc)


def test_a_png_over_the_slice_cap_is_refused(tmp_path):
    path = _png(tmp_path / "huge.png", 20000, 20000)
    with pytest.raises(VolumeError, match=r"huge\.png: header claims an image too large to read") as exc:
        load_volume(path)
    _one_line(exc)


def test_the_png_header_is_read_without_pillow(tmp_path):
    assert _png_ihdr(_png(tmp_path / "a.png", 12000, 7000, colour_type=6)) == (12000, 7000, 1, 4)
    (tmp_path / "b.png").write_bytes(b"not a png at all, not at all, no")
    assert _png_ihdr(tmp_path / "b.png") is None


# -- DICOM ---------------------------------------------------------------------------------------------


def test_a_dicom_file_is_refused_when_memory_cannot_hold_it(make_dicom, little_memory):
    path = make_dicom(np.zeros((3, 16, 16), np.uint16), name="d.dcm",
                      frame_positions=[(0.0, 0.0, float(k)) for k in range(3)])
    little_memory(1000)
    with pytest.raises(VolumeError, match=r"d\.dcm: reading its 3 frame\(s\) of 16 x 16 needs .* but only 1000 bytes"):
        load_volume(path)


def test_a_dicom_file_whose_frame_step_overflows_is_refused_by_check_affine(make_dicom):
    path = make_dicom(np.zeros((2, 4, 4), np.uint16), name="far.dcm",
                      frame_positions=[(1e308, 0.0, 0.0), (-1e308, 0.0, 0.0)])
    with np.errstate(all="ignore"), pytest.raises(VolumeError, match=r"far\.dcm: its voxel-to-world affine has "
                                                                     r"NaN/Inf values; fix the header's "
                                                                     r"ImageOrientationPatient") as exc:
        load_volume(path)
    _one_line(exc)


# -- MetaImage -----------------------------------------------------------------------------------------


def _mha(path: Path, *, spacing="1 1 1", direction="1 0 0 0 1 0 0 0 1") -> Path:
    header = (f"ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
              f"CompressedData = False\nTransformMatrix = {direction}\nOffset = 0 0 0\nCenterOfRotation = 0 0 0\n"
              f"AnatomicalOrientation = RAI\nElementSpacing = {spacing}\n"
              "DimSize = 4 3 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n")
    path.write_bytes(header.encode() + bytes(range(24)))
    return path


@pytest.mark.parametrize("name, options", [
    ("nan-spacing", {"spacing": "nan 1 1"}),
    ("zero-spacing", {"spacing": "1 0 1"}),
    ("zero-direction", {"direction": "0 0 0 0 0 0 0 0 0"}),
    ("repeated-direction", {"direction": "1 0 0 1 0 0 0 0 1"}),
])
def test_a_metaimage_with_bad_geometry_is_refused_in_one_line(tmp_path, name, options):
    path = _mha(tmp_path / f"{name}.mha", **options)
    with pytest.raises(VolumeError, match=rf"{name}\.mha: its voxel-to-world affine is singular .*; fix the "
                                          r"header's spacing, direction and origin") as exc:
        load_volume(path)
    _one_line(exc)


def test_a_good_metaimage_still_reads(tmp_path):
    vol = load_volume(_mha(tmp_path / "ok.mha", spacing="0.5 1 2"))
    assert vol.shape == (2, 3, 4)
    np.testing.assert_allclose(vol.spacing, (2.0, 1.0, 0.5))


def test_a_metaimage_is_refused_when_memory_cannot_hold_it(tmp_path, little_memory):
    little_memory(10)
    with pytest.raises(VolumeError, match=r"ok\.mha: reading its 24 voxels needs 120 bytes of memory but only 10"):
        load_volume(_mha(tmp_path / "ok.mha"))


# -- checkpoints ---------------------------------------------------------------------------------------


def test_a_zip_bomb_checkpoint_is_refused_before_torch_load(tmp_path, monkeypatch):
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data/0", bytes(8 * MiB))
    assert path.stat().st_size < 64 * 1024
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 1 * MiB)
    monkeypatch.setattr("torch.load", lambda *a, **k: pytest.fail("torch.load must not be reached"))
    with pytest.raises(CheckpointError, match=r"bomb\.pt: its members inflate to 8,388,608 bytes, more than a model "
                                              r"checkpoint holds \(1,048,576\): a zip bomb") as exc:
        load_checkpoint(path)
    _one_line(exc)


def test_a_checkpoint_whose_zip_declares_gigabytes_is_refused(tmp_path):
    path = tmp_path / "liar.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data/0", b"x" * 16)
        zf.writestr("archive/data/1", b"y" * 16)
    raw = bytearray(path.read_bytes())
    at = 0
    while (at := raw.find(b"PK\x01\x02", at)) >= 0:  # central directory: uncompressed size at +24
        raw[at + 24 : at + 28] = struct.pack("<I", 4_000_000_000)
        at += 4
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"liar\.pt: its members inflate to 8,000,000,000 bytes") as exc:
        load_checkpoint(path)
    _one_line(exc)


def test_a_checkpoint_with_input_size_4000_is_refused_by_the_meta_range(tmp_path):
    import torch

    path = make_tiny_checkpoint(tmp_path / "m.pt")
    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    blob["meta"]["input_size"] = 4000
    torch.save(blob, str(path))
    with pytest.raises(CheckpointError, match=r"m\.pt: checkpoint meta input_size is 4000; .*\[16, 1024\]"):
        load_checkpoint(path)


def test_a_real_checkpoint_still_loads(tmp_path):
    model, meta = load_checkpoint(make_tiny_checkpoint(tmp_path / "m.pt"))
    assert meta["input_size"] == 64 and not model.training


def test_a_container_memory_limit_lowers_the_memory_available(tmp_path, monkeypatch):
    (tmp_path / "max").write_text("1000000\n")
    (tmp_path / "current").write_text("250000\n")
    monkeypatch.setattr(limits, "CGROUP_FILES", ((str(tmp_path / "max"), str(tmp_path / "current")),))
    assert limits.available_memory() == 750000
    (tmp_path / "max").write_text("max\n")
    assert limits.available_memory() > 750000
