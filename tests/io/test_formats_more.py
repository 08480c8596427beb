"""Issue 16: detached headers read their data file (.nhdr/.mhd + .raw, .hdr + .img), FreeSurfer and MINC
through nibabel on their own geometry, and compressed DICOM through pydicom's pixel-data plugins."""

import gzip
import importlib.util
import shutil
import warnings

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from labelassist.errors import VolumeError
from labelassist.io import load_volume
from labelassist.io.formats.table import check_format, file_filter, sniff_file

AFFINE = np.array([[0.0, 0, 3, -10], [0, -2, 0, 20], [1.5, 0, 0, 5], [0, 0, 0, 1]])


def _data(shape=(5, 4, 3)):
    return (np.arange(np.prod(shape)) % 97).reshape(shape).astype(np.int16)


def _twin(tmp_path, suffix):
    """The same int16 volume (i, j, k) = (5, 4, 3) on AFFINE as a NIfTI file and as ``suffix``."""
    import SimpleITK as sitk

    ref = tmp_path / "ref.nii.gz"
    nib.save(nib.Nifti1Image(_data(), AFFINE), str(ref))
    out = tmp_path / f"pair{suffix}"
    sitk.WriteImage(sitk.ReadImage(str(ref)), str(out))
    return load_volume(ref), out


def _same(vol, ref, fmt):
    assert vol.format == fmt and vol.shape == ref.shape == (3, 4, 5)
    np.testing.assert_array_equal(vol.array, ref.array)
    np.testing.assert_allclose(vol.affine, ref.affine, atol=1e-5)
    np.testing.assert_allclose(vol.spacing, ref.spacing, atol=1e-6)


@pytest.mark.parametrize(("suffix", "fmt"), [(".nhdr", "nrrd"), (".mhd", "mha")])
def test_detached_itk_headers_read_their_data_file(tmp_path, suffix, fmt):
    ref, header = _twin(tmp_path, suffix)
    data = tmp_path / "pair.raw"
    assert data.is_file() and check_format(header).name == fmt
    _same(load_volume(header), ref, fmt)
    data.write_bytes(data.read_bytes()[:50])
    with pytest.raises(VolumeError, match=r"pair\.nhdr|pair\.mhd") as info:
        load_volume(header)
    assert f"its data file {data} holds 50 bytes" in str(info.value) and "\n" not in str(info.value)
    data.unlink()
    with pytest.raises(VolumeError, match=rf"{header.name}: its data file .*pair\.raw is missing"):
        load_volume(header)


@pytest.mark.parametrize("cls", [nib.Nifti1Pair, nib.AnalyzeImage])
@pytest.mark.parametrize("open_as", [".hdr", ".img"])
def test_analyze_and_nifti_pairs_read_through_either_file(tmp_path, cls, open_as):
    nib.save(cls(_data(), AFFINE if cls is nib.Nifti1Pair else np.diag([-3.0, 2, 1.5, 1])), str(tmp_path / "pair.img"))
    ref_path = tmp_path / "ref.nii"  # Analyze keeps no origin: the twin gets the affine nibabel reads back
    nib.save(nib.Nifti1Image(_data(), nib.load(str(tmp_path / "pair.hdr")).affine), str(ref_path))
    ref = load_volume(ref_path)
    if cls is nib.Nifti1Pair:
        np.testing.assert_allclose(ref.affine, AFFINE)
    assert (tmp_path / "pair.hdr").is_file() and (tmp_path / "pair.img").is_file()
    path = tmp_path / f"pair{open_as}"
    assert check_format(path).name == "nifti"
    vol = load_volume(path)
    _same(vol, ref, "nifti")
    assert vol.source_path == path
    assert ("nifti_header" in vol.header) == (cls is nib.Nifti1Pair)


def test_a_pair_with_its_other_half_missing_or_short_is_one_line(tmp_path):
    nib.save(nib.AnalyzeImage(_data(), np.eye(4)), str(tmp_path / "scan.img"))
    img, hdr = tmp_path / "scan.img", tmp_path / "scan.hdr"
    img.write_bytes(img.read_bytes()[:40])
    with pytest.raises(VolumeError, match=rf"scan\.hdr: its data file {img} holds 40 bytes but the header claims 120"):
        load_volume(hdr)
    img.unlink()
    with pytest.raises(VolumeError, match=rf"scan\.hdr: its data file {img} is missing"):
        load_volume(hdr)
    shutil.copy(data_path / "nifti1.hdr", tmp_path / "other.hdr")  # nibabel ships headers without data
    with pytest.raises(VolumeError, match=r"other\.hdr: its data file .*other\.img is missing"):
        load_volume(tmp_path / "other.hdr")
    lone = tmp_path / "lone.img"
    lone.write_bytes(bytes(120))
    with pytest.raises(VolumeError, match=r"lone\.img: an Analyze/NIfTI \.img holds voxels only and its header .*lone\.hdr is missing"):
        load_volume(lone)


def test_freesurfer_mgz_and_mgh_read_on_their_geometry(tmp_path):
    src = data_path / "test.mgz"
    img = nib.load(str(src))
    assert sniff_file(src) == "mgh" and check_format(src).name == "mgh"
    vol = load_volume(src, channel=1)
    want = np.asarray(img.dataobj, np.float32)[..., 1].transpose(2, 1, 0)
    assert vol.format == "mgh" and vol.shape == (5, 4, 3)
    np.testing.assert_array_equal(vol.array, want)
    np.testing.assert_allclose(vol.affine, img.affine)
    both = load_volume(src)
    assert both.array.shape == (5, 4, 3, 2) and both.channel_names == ("channel 0", "channel 1")
    plain = tmp_path / "test.mgh"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    np.testing.assert_array_equal(load_volume(plain, channel=1).array, want)
    short = tmp_path / "short.mgh"
    short.write_bytes(plain.read_bytes()[:300])
    with pytest.raises(VolumeError, match=r"short\.mgh: header claims 120 voxels .*the file is truncated"):
        load_volume(short)


def test_minc1_reads_on_its_geometry_and_minc2_needs_h5py():
    src = data_path / "minc1_1_scale.mnc"
    img = nib.load(str(src))
    vol = load_volume(src)
    assert check_format(src).name == "minc" and vol.format == "minc" and vol.shape == img.shape[::-1]
    np.testing.assert_allclose(vol.array, np.asarray(img.dataobj, np.float32).transpose(2, 1, 0), rtol=1e-6)
    np.testing.assert_allclose(vol.affine, img.affine)
    assert vol.spacing == (2.0, 2.0, 2.0)
    minc2 = data_path / "minc2_1_scale.mnc"
    assert check_format(minc2).name == "minc"
    if importlib.util.find_spec("h5py") is None:
        with pytest.raises(VolumeError, match=r"minc2_1_scale\.mnc: a MINC2 \(HDF5\) file; reading it needs h5py"):
            load_volume(minc2)
    else:
        np.testing.assert_allclose(load_volume(minc2).array, vol.array, rtol=1e-5)
    with pytest.raises(VolumeError, match=r"minc1_4d\.mnc: 4-D MINC data"):
        load_volume(data_path / "minc1_4d.mnc")


def test_the_file_dialog_lists_the_nibabel_formats_with_nifti():
    assert file_filter().startswith("NIfTI, FreeSurfer MGH, MINC (*.nii.gz *.nii *.hdr *.img *.mgz *.mgh *.mnc);;")


# -- compressed DICOM -------------------------------------------------------------------------------------


def _dicom(name):
    from pydicom.data import get_testdata_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom does not ship {name}")
    return path


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("JPGExtended.dcm", (1, 1024, 256)),  # JPEG extended (process 2 and 4), 12 bits
        ("JPEG-LL.dcm", (1, 1024, 256)),  # JPEG lossless
        ("SC_rgb_jpeg_dcmtk.dcm", (1, 100, 100, 3)),  # JPEG baseline, YBR
        ("emri_small_jpeg_ls_lossless.dcm", (10, 64, 64)),  # JPEG-LS, multi-frame
        ("GDCMJ2K_TextGBR.dcm", (1, 400, 400, 3)),  # JPEG 2000
    ],
)
def test_compressed_dicom_decodes(name, shape):
    vol = load_volume(_dicom(name))
    assert vol.format == "dicom" and vol.array.shape == shape and np.isfinite(vol.array).all()
    assert vol.array.max() > vol.array.min()


@pytest.mark.parametrize("name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_RLE.dcm"])
def test_lossless_dicom_equals_its_uncompressed_twin(name):
    ref = load_volume(_dicom("MR_small.dcm"))
    vol = load_volume(_dicom(name))
    np.testing.assert_array_equal(vol.array, ref.array)
    np.testing.assert_allclose(vol.affine, ref.affine)


def test_colour_jpeg_matches_its_uncompressed_twin_closely():
    ref = load_volume(_dicom("SC_rgb.dcm")).array
    vol = load_volume(_dicom("SC_rgb_jpeg_dcmtk.dcm")).array
    assert vol.shape == ref.shape and np.abs(vol - ref).mean() < 3


def test_an_undecodable_syntax_names_itself_and_what_to_install(monkeypatch):
    path = _dicom("JPEG-lossy.dcm")  # 12-bit extended JPEG that libjpeg rejects (a misplaced marker)
    with pytest.raises(VolumeError, match=r"cannot decode the JPEG Extended \(Process 2 and 4\) pixel data .*install gdcm"):
        load_volume(path)
    import pydicom.pixels

    class _Missing:
        is_available = False
        missing_dependencies = ["gdcm - requires gdcm>=3.0.10", "pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-openjpeg>=2.0"]

    monkeypatch.setattr(pydicom.pixels, "get_decoder", lambda syntax: _Missing())
    with pytest.raises(VolumeError, match=r"compressed as JPEG 2000.*install gdcm>=3\.0\.10 or pylibjpeg>=2\.0 and pylibjpeg-openjpeg"):
        load_volume(_dicom("MR_small_jp2klossless.dcm"))
