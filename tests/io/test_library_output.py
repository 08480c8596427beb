"""Issue 16: no C library's log line (libpng, libjpeg, ITK, GDCM) reaches the user's stderr; what is
useful becomes one warning of ours naming the file."""

from __future__ import annotations

import os
import struct
import warnings

import cv2
import numpy as np
import pytest

from labelassist.errors import VolumeError
from labelassist.io import load_volume
from labelassist.io.formats.quiet import library_output


def _png() -> bytes:
    ok, buf = cv2.imencode(".png", (np.arange(32 * 32).reshape(32, 32) % 251).astype(np.uint8))
    assert ok
    return buf.tobytes()


def _with_bad_text_chunk(png: bytes) -> bytes:
    """A tEXt chunk whose CRC is wrong, before IDAT: libpng warns, the pixels still decode."""
    at = png.find(b"IDAT") - 4
    body = b"tEXt" + b"Comment\x00hello"
    return png[:at] + struct.pack(">I", len(body) - 4) + body + b"\x00\x00\x00\x00" + png[at:]


def _with_bad_idat_crc(png: bytes) -> bytes:
    at = png.find(b"IDAT")
    n = struct.unpack(">I", png[at - 4:at])[0]
    out = bytearray(png)
    out[at + 4 + n] ^= 0xFF
    return bytes(out)


def test_a_png_with_a_damaged_text_chunk_reads_and_libpng_says_it_through_a_warning(tmp_path, capfd):
    path = tmp_path / "odd.png"
    path.write_bytes(_with_bad_text_chunk(_png()))
    with pytest.warns(UserWarning, match=r"odd\.png: the image decoder says: libpng warning: tEXt: CRC error"):
        vol = load_volume(path)
    assert vol.shape == (1, 32, 32)
    assert capfd.readouterr().err == ""


def test_a_png_with_damaged_pixels_is_refused_and_stderr_stays_clean(tmp_path, capfd):
    path = tmp_path / "broken.png"
    path.write_bytes(_with_bad_idat_crc(_png()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either: the error says it
        with pytest.raises(VolumeError, match=r"broken\.png: not a readable image"):
            load_volume(path)
    assert capfd.readouterr().err == ""


def test_a_truncated_jpeg_reads_and_libjpeg_says_it_through_a_warning(tmp_path, capfd):
    ok, buf = cv2.imencode(".jpg", (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8))
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.tobytes()[: len(buf) // 2] + b"\xff\xd9")
    with pytest.warns(UserWarning, match=r"cut\.jpg: .*Corrupt JPEG data"):
        load_volume(path)
    assert capfd.readouterr().err == ""


def test_a_truncated_tiff_is_refused_without_pillow_or_libtiff_lines(tmp_path, capfd):
    ok, buf = cv2.imencode(".tif", np.zeros((16, 16), np.uint8))
    path = tmp_path / "cut.tif"
    path.write_bytes(buf.tobytes()[: len(buf) // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(VolumeError, match=r"cut\.tif: not a readable image"):
            load_volume(path)
    assert capfd.readouterr().err == ""


def test_library_output_turns_an_itk_warning_into_one_line_of_ours(tmp_path, capfd):
    with pytest.warns(UserWarning) as record:
        with library_output(tmp_path / "scan.nrrd", library="ITK"):
            os.write(2, b"WARNING: In /src/itkNrrdImageIO.cxx, line 42\nNrrdImageIO (0x55d1c0ffee): odd header\n\n")
    assert [str(w.message) for w in record] == [f"{tmp_path / 'scan.nrrd'}: ITK says: NrrdImageIO: odd header"]
    assert capfd.readouterr().err == ""


def test_library_output_drops_the_lines_of_a_failed_read_and_restores_stderr(tmp_path, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeError, match="boom"):
            with library_output(tmp_path / "x.mha", library="ITK"):
                os.write(2, b"ERROR: something the error says better\n")
                raise RuntimeError("boom")
    os.write(2, b"after\n")  # descriptor 2 is the test's again
    assert capfd.readouterr().err == "after\n"


def test_a_nifti_header_nibabel_repairs_reads_and_says_so_once_without_its_log_line(tmp_path, capfd):
    import nibabel as nib

    raw = bytearray(nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4)).to_bytes())
    raw[0] = 0x5D  # sizeof_hdr 349 instead of 348: nibabel repairs it and logs the repair on stderr
    path = tmp_path / "odd.nii"
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match=r"odd\.nii: nibabel says: sizeof_hdr should be 348"):
        vol = load_volume(path)
    assert vol.shape == (4, 3, 2)
    assert capfd.readouterr().err == ""
