"""One format table: every suffix names one format, content decides over a missing or unknown suffix, a
suffix that lies is refused, and load, save, sessions, the napari reader and ``info`` all follow the table."""

import ast
import gzip
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import labelassist
from labelassist.errors import ParameterError, VolumeError
from labelassist.io import load_volume, save_labels
from labelassist.io.formats.table import (
    FORMATS, READABLE_SUFFIXES, WRITABLE_SUFFIXES, by_suffix, check_format, file_filter, find_format, get_format,
    sniff_file, split_suffix,
)

PACKAGE = Path(labelassist.__file__).parent


def _nifti_bytes(shape=(4, 5, 6)):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    return nib.Nifti1Image(data, np.diag([2.0, 2.0, 3.0, 1.0])).to_bytes()


def _png_bytes():
    import cv2

    ok, buf = cv2.imencode(".png", np.arange(48, dtype=np.uint8).reshape(6, 8))
    assert ok
    return buf.tobytes()


def test_every_suffix_names_exactly_one_format():
    assert len(READABLE_SUFFIXES) == len(set(READABLE_SUFFIXES))
    for suffix in READABLE_SUFFIXES:
        owners = [f.name for f in FORMATS if suffix in f.suffixes]
        assert len(owners) == 1, (suffix, owners)
        assert suffix == suffix.lower() and suffix.startswith(".")
        assert by_suffix(f"scan{suffix}").name == owners[0]
        assert by_suffix(f"/data/Scan{suffix.upper()}").name == owners[0]  # case does not matter
    assert {".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm", ".png", ".jpg", ".tif"} <= set(READABLE_SUFFIXES)


def test_folder_formats_have_no_suffix_and_file_formats_do():
    for fmt in FORMATS:
        assert bool(fmt.suffixes) != fmt.folder, fmt.name
    assert by_suffix("notes.txt") is None and by_suffix("archive.gz") is None and by_suffix("series") is None


def test_multi_part_suffixes_win_over_their_last_part():
    assert by_suffix("scan.nii.gz").name == "nifti"
    assert split_suffix("Scan.NII.GZ") == ("Scan", ".NII.GZ")
    assert split_suffix("/d/scan.nii") == ("scan", ".nii")
    assert split_suffix("report.v2.txt") == ("report.v2", ".txt")
    assert split_suffix("/d/series") == ("series", "")


def test_labels_are_written_in_exactly_the_writable_suffixes(tmp_path):
    assert WRITABLE_SUFFIXES == (".nii.gz", ".nii", ".nrrd", ".mha")
    for fmt in FORMATS:
        assert set(fmt.write_suffixes) <= set(fmt.suffixes)
        assert fmt.writes_labels == (fmt.name in ("nifti", "nrrd", "mha"))
    (tmp_path / "scan.nii.gz").write_bytes(gzip.compress(_nifti_bytes()))
    like = load_volume(tmp_path / "scan.nii.gz")
    labels = (like.array > 50).astype(np.uint8)
    for suffix in WRITABLE_SUFFIXES:
        out = save_labels(labels, tmp_path / f"labels{suffix}", like=like)
        back = load_volume(out, labels=True)
        assert back.format == by_suffix(out).name
        np.testing.assert_array_equal(back.array, labels)
        np.testing.assert_allclose(back.affine, like.affine, atol=1e-5)
    for suffix in set(READABLE_SUFFIXES) - set(WRITABLE_SUFFIXES):
        with pytest.raises(VolumeError, match=r"unsupported output extension; use one of \.nii\.gz, \.nii, \.nrrd, \.mha"):
            save_labels(labels, tmp_path / f"labels{suffix}", like=like)


@pytest.mark.parametrize("name", ["scan.dat", "scan", "scan.gz"])
def test_content_decides_when_the_suffix_is_missing_or_unknown(tmp_path, name):
    data = _nifti_bytes()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert sniff_file(path) == "nifti" and check_format(path).name == "nifti"
    vol = load_volume(path)
    assert vol.format == "nifti" and vol.shape == (6, 5, 4)


def test_a_png_without_a_suffix_is_read_as_an_image(tmp_path):
    path = tmp_path / "frame"
    path.write_bytes(_png_bytes())
    vol = load_volume(path)
    assert vol.format == "image" and vol.shape == (1, 6, 8)


def test_a_suffix_that_lies_is_refused_even_when_the_content_is_readable(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(_nifti_bytes())
    assert sniff_file(path) == "nifti"
    with pytest.raises(VolumeError, match="the extension says an image but the content is a NIfTI file"):
        check_format(path)
    assert find_format(path) is None


def test_a_dicom_suffix_is_trusted_for_a_data_set_without_preamble(tmp_path):
    raw = bytes([8, 0, 0x60, 0, 2, 0, 0, 0]) + b"MR"  # (0008,0060) Modality, implicit VR, no preamble
    named = tmp_path / "raw.dcm"
    named.write_bytes(raw)
    assert sniff_file(named) == "unknown" and check_format(named).name == "dicom"
    unnamed = tmp_path / "raw.bin"
    unnamed.write_bytes(raw)
    with pytest.raises(VolumeError, match="not an image or volume labelassist reads .*expected NIfTI, NRRD, MetaImage, DICOM"):
        check_format(unnamed)


def test_text_named_as_a_volume_is_not_sniffed_as_one(tmp_path):
    path = tmp_path / "notes.mha"
    path.write_text("just some notes\n")
    with pytest.raises(VolumeError, match="the extension says a MetaImage file but the content is a text file"):
        check_format(path)


def test_each_magic_is_claimed_by_its_own_format_only():
    heads = {
        "nifti": _nifti_bytes()[:1024],
        "nrrd": b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n\n",
        "mha": b"ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementDataFile = LOCAL\n",
        "dicom": bytes(128) + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00",
        "image": _png_bytes()[:1024],
    }
    file_formats = [f for f in FORMATS if not f.folder]
    for name, head in heads.items():
        assert [f.name for f in file_formats if f.sniff(head)] == [name]
    for head in (b"\xff\xd8\xff\xe0", b"BM\x36\x00\x00\x00\x00\x00", b"II*\x00\x08\x00", b"MM\x00*\x00\x08"):
        assert [f.name for f in file_formats if f.sniff(head)] == ["image"]  # JPEG, BMP, TIFF (both orders)


def test_folders_are_sniffed_by_their_files(tmp_path, make_dicom):
    images = tmp_path / "images"
    images.mkdir()
    (images / "b.png").write_bytes(_png_bytes())
    (images / "notes.txt").write_text("not an image")
    assert check_format(images).name == "image-folder"
    series = tmp_path / "series"
    series.mkdir()
    write = make_dicom(np.arange(20, dtype=np.uint16).reshape(4, 5), name="series/slice")  # no suffix: found by its magic
    assert write.parent == series and check_format(series).name == "dicom-series"
    vol = load_volume(series)
    assert vol.format == "dicom" and vol.shape == (1, 4, 5)  # one DICOM file in the folder: that file
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VolumeError, match=r"no DICOM files or images \(PNG, JPG, BMP, TIFF\) in this folder"):
        check_format(empty)
    assert find_format(empty) is None and find_format(tmp_path / "missing.nii") is None


def test_channel_is_refused_by_formats_without_a_channel_axis(tmp_path):
    path = tmp_path / "img.png"
    path.write_bytes(_png_bytes())
    assert not get_format("image").channels and get_format("nifti").channels
    with pytest.raises(ParameterError, match="channel applies to 4-D volumes only"):
        load_volume(path, channel=0)


def test_get_format_names_the_choices():
    assert get_format("dicom-series").folder and get_format("nifti").title == "NIfTI"
    with pytest.raises(ParameterError, match="format must be one of nifti, nrrd, mha, dicom, image"):
        get_format("jpeg2000")


def test_file_filter_lists_the_tables_suffixes():
    assert file_filter(writable=True) == "NIfTI (*.nii.gz *.nii);;NRRD (*.nrrd);;MetaImage (*.mha)"
    read = file_filter()
    assert all(f"*{s}" in read for s in READABLE_SUFFIXES) and read.count(";;") == 4


def test_napari_reader_accepts_exactly_the_tables_suffixes(tmp_path):
    from labelassist.napari._reader import get_reader, read

    for suffix in READABLE_SUFFIXES:
        assert get_reader(str(tmp_path / f"x{suffix}")) is read, suffix
        assert get_reader([str(tmp_path / f"X{suffix.upper()}")]) is read, suffix
    for suffix in (".txt", ".gz", ".json", ".npz", ".pdf", ".nii.zip", ".raw", ""):
        assert get_reader(str(tmp_path / f"x{suffix}")) is None, suffix
    assert get_reader(str(tmp_path)) is read  # a folder: a DICOM series or images, decided when read


def test_napari_manifest_patterns_are_the_tables_suffixes():
    import yaml

    manifest = yaml.safe_load((PACKAGE / "napari" / "napari.yaml").read_text())
    patterns = manifest["contributions"]["readers"][0]["filename_patterns"]
    assert sorted(patterns) == sorted(f"*{s}" for s in READABLE_SUFFIXES)


@pytest.mark.parametrize("name", ["scan.nii.gz", "scan.nii", "scan.NII.GZ"])
def test_session_stems_are_as_before(tmp_path, name):
    from labelassist.io.sessions.session import default_export_path, session_path

    path = tmp_path / name
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((4, 5, 3)).astype(np.float32), np.eye(4)), str(path))
    export = default_export_path(load_volume(path))
    stem = name[: -len(split_suffix(name)[1])]
    assert export == tmp_path / f"{stem}_labels.nii.gz"
    assert session_path(export) == tmp_path / f"{stem}_labels.review-session.npz"


def test_info_names_the_format_from_the_table(tmp_path):
    from labelassist.cli.info import describe

    (tmp_path / "scan.nii").write_bytes(_nifti_bytes())
    text = describe(load_volume(tmp_path / "scan.nii"))
    assert "format       nifti (NIfTI)" in text and "6 x 5 x 4 (z, y, x)" in text


def _suffix_lists(path: Path) -> list[list[str]]:
    """The tuple, list, set and dict literals of a module that hold a format suffix (a suffix table)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)) and items:
            strings = [n.value.lower() for n in items if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if set(strings) & set(READABLE_SUFFIXES):
                found.append(strings)
    return found


def test_no_other_suffix_list_and_one_lps_to_ras():
    modules = [*(PACKAGE / "io").glob("*.py"), PACKAGE / "napari" / "_reader.py", PACKAGE / "cli" / "info.py"]
    for path in modules:
        if path.name == "formats.py":
            continue
        found = _suffix_lists(path)
        assert not found, f"{path.name} has its own suffix list {found}; ask labelassist.io.formats.table instead"
    from labelassist.io import volume
    from labelassist.io.formats import dicom, itk

    assert dicom.LPS_TO_RAS is volume.LPS_TO_RAS and itk.LPS_TO_RAS is volume.LPS_TO_RAS
    np.testing.assert_array_equal(volume.LPS_TO_RAS, np.diag([-1.0, -1.0, 1.0, 1.0]))


def test_import_labelassist_io_is_cheap_and_keeps_its_names():
    code = (
        "import sys, labelassist.io.resources, labelassist.io\n"
        "assert 'numpy' not in sys.modules and 'torch' not in sys.modules, 'io imported too much'\n"
        "from labelassist.io import load_volume, save_labels, save_map, Volume, orientation_code\n"
        "assert 'torch' not in sys.modules\n"
        "import labelassist.io as io\n"
        "assert {'load_volume', 'Volume'} <= set(dir(io))\n"
        "try:\n    io.nothing_here\nexcept AttributeError as e:\n    assert 'nothing_here' in str(e)\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
