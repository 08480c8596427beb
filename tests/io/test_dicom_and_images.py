"""Real DICOM files (pydicom, pydicom-data) and images written here: values, colour, frames, geometry."""

from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from labelassist.errors import VolumeError
from labelassist.io import load_volume, save_labels

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
try:  # pydicom-data's files, on disk (never downloaded)
    import data_store

    DATA_STORE = Path(data_store.__file__).parent / "data"
except ImportError:  # pragma: no cover
    DATA_STORE = Path("/nonexistent")


def _file(folder, name):
    path = folder / name
    if not path.is_file():
        pytest.skip(f"{name} is not on disk")
    return path


@pytest.mark.parametrize("name, modality", [("MR_small.dcm", "MR"), ("CT_small.dcm", "CT")])
def test_real_mr_and_ct(name, modality):
    path = _file(TEST_FILES, name)
    ds = pydicom.dcmread(path)
    vol = load_volume(path)
    assert vol.format == "dicom" and vol.modality == modality and vol.shape == (1, ds.Rows, ds.Columns)
    want = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    np.testing.assert_allclose(vol.array[0], want)
    # pixel (row 0, col 0) sits at ImagePositionPatient (LPS), i.e. (-x, -y, z) in RAS
    np.testing.assert_allclose(vol.voxel_to_world(np.array([0, 0, 0])), np.array(ds.ImagePositionPatient) * [-1, -1, 1])
    # one column step moves along the row direction cosines by the column spacing
    step = vol.voxel_to_world(np.array([0, 0, 1])) - vol.voxel_to_world(np.array([0, 0, 0]))
    np.testing.assert_allclose(step, np.array(ds.ImageOrientationPatient[:3]) * float(ds.PixelSpacing[1]) * [-1, -1, 1], atol=1e-6)


def test_palette_ultrasound_becomes_rgb_then_one_grey_channel():
    path = _file(TEST_FILES, "examples_palette.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "PALETTE COLOR"
    vol = load_volume(path)
    from pydicom.pixels import apply_color_lut

    # ultrasound B-mode in colour is read as one channel: the mean of the palette's RGB
    assert vol.array.shape == (1, ds.Rows, ds.Columns) and vol.channel_names == ()
    np.testing.assert_allclose(vol.array[0], apply_color_lut(ds.pixel_array, ds).mean(-1), rtol=1e-6)
    assert "read as one channel" in " ".join(vol.header["scan_area"].notes)


@pytest.mark.parametrize("folder, name", [(TEST_FILES, "SC_ybr_full_422_uncompressed.dcm"), (TEST_FILES, "examples_ybr_color.dcm")])
def test_ybr_is_converted_to_rgb_once(folder, name):
    path = _file(folder, name)
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation.startswith("YBR")
    from pydicom.pixels import pixel_array

    rgb = pixel_array(ds, as_rgb=True)
    vol = load_volume(path)
    frames = int(ds.get("NumberOfFrames", 1))
    assert vol.shape[0] == frames
    if vol.modality == "US":  # grey B-mode in colour: one channel, the mean of the RGB (converted once)
        np.testing.assert_allclose(vol.array.reshape(rgb.shape[:-1]), rgb.mean(-1), rtol=1e-6)
    else:
        assert vol.array.shape[-1] == 3
        np.testing.assert_array_equal(vol.array.reshape(rgb.shape), rgb)


def test_real_ultrasound_cine_frames_are_slices():
    path = _file(TEST_FILES, "examples_ybr_color.dcm")
    vol = load_volume(path)
    assert vol.modality == "US" and vol.shape[0] == int(pydicom.dcmread(path).NumberOfFrames) > 1


def test_pydicom_data_ultrasound():
    path = _file(DATA_STORE, "US1_UNCR.dcm")
    vol = load_volume(path)
    assert vol.modality == "US" and vol.array.ndim == 3 and vol.array.max() <= 255  # grey: one channel


def _multiframe(tmp_path, frames=4, rows=5, cols=6):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # enhanced MR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    pixels = (np.arange(frames)[:, None, None] * 100 + np.arange(rows * cols).reshape(rows, cols)).astype(np.uint16)
    ds.PixelData = pixels.tobytes()
    shared = Dataset()
    orient, measures = Dataset(), Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing = [0.5, 0.7]
    shared.PlaneOrientationSequence, shared.PixelMeasuresSequence = [orient], [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    per = []
    for k in range(frames):
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = [10.0, 20.0, 30.0 + 2.5 * k]
        item.PlanePositionSequence = [pos]
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = per
    path = tmp_path / "cine.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, pixels


def test_synthetic_multiframe_frames_and_geometry(tmp_path):
    path, pixels = _multiframe(tmp_path)
    vol = load_volume(path)
    np.testing.assert_array_equal(vol.array, pixels.astype(np.float32))
    assert vol.spacing == pytest.approx((2.5, 0.5, 0.7))
    np.testing.assert_allclose(vol.voxel_to_world(np.array([3, 1, 2])), [-(10 + 2 * 0.7), -(20 + 1 * 0.5), 30 + 3 * 2.5])
    out = save_labels(np.ones(vol.shape, np.uint8), tmp_path / "cine_labels.nii.gz", like=vol)
    import nibabel as nib

    np.testing.assert_allclose(nib.load(str(out)).affine, vol.affine, atol=1e-5)


def test_multiframe_header_claiming_more_frames_is_refused(tmp_path):
    path, _ = _multiframe(tmp_path)
    ds = pydicom.dcmread(path)
    ds.NumberOfFrames = 100000
    ds.save_as(path)
    with pytest.raises(VolumeError, match="header claims 100000 frame"):
        load_volume(path)


# -- images ---------------------------------------------------------------------------------------


def test_png_grey_8_and_16_bit_exact(tmp_path):
    img8 = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    img16 = np.random.default_rng(1).integers(0, 65536, (20, 30), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), img8)
    cv2.imwrite(str(tmp_path / "b.png"), img16)
    np.testing.assert_array_equal(load_volume(tmp_path / "a.png").array[0], img8)
    np.testing.assert_array_equal(load_volume(tmp_path / "b.png").array[0], img16)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif"])
def test_colour_image_is_rgb_not_bgr_and_upright(tmp_path, ext):
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[2, 5] = (255, 0, 0)  # a red marker at row 2, column 5
    path = tmp_path / f"c{ext}"
    cv2.imwrite(str(path), rgb[..., ::-1])  # OpenCV writes BGR
    vol = load_volume(path)
    assert vol.array.shape == (1, 12, 16, 3) and vol.channel_names == ("R", "G", "B")
    np.testing.assert_array_equal(vol.array[0, 2, 5], [255, 0, 0])


def test_rgba_drops_alpha_and_grey_rgb_is_grey(tmp_path):
    grey = np.random.default_rng(2).integers(0, 256, (8, 9), dtype=np.uint8)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 7)])
    cv2.imwrite(str(tmp_path / "g.png"), rgba)
    vol = load_volume(tmp_path / "g.png")
    assert vol.array.shape == (1, 8, 9)
    np.testing.assert_array_equal(vol.array[0], grey)


def test_jpg_reads_close_to_what_was_written(tmp_path):
    img = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (32, 1))
    cv2.imwrite(str(tmp_path / "u.jpg"), img)
    assert np.abs(load_volume(tmp_path / "u.jpg").array[0] - img).mean() < 3


def test_multipage_tiff_gives_slices(tmp_path):
    pages = [np.full((6, 7), v, np.uint8) for v in (10, 20, 30)]
    assert cv2.imwritemulti(str(tmp_path / "m.tiff"), pages)
    vol = load_volume(tmp_path / "m.tiff")
    assert vol.shape == (3, 6, 7) and [vol.array[i, 0, 0] for i in range(3)] == [10, 20, 30]


def test_folder_is_a_naturally_sorted_stack(tmp_path):
    d = tmp_path / "stack"
    d.mkdir()
    for i in (1, 2, 10):
        cv2.imwrite(str(d / f"img{i}.png"), np.full((5, 6), i, np.uint8))
    (d / "notes.txt").write_text("ignored")
    vol = load_volume(d)
    assert [vol.array[k, 0, 0] for k in range(3)] == [1, 2, 10]
    assert [p.name for p in vol.header["image_files"]] == ["img1.png", "img2.png", "img10.png"]


def test_folder_with_mismatched_sizes_names_the_file(tmp_path):
    d = tmp_path / "stack"
    d.mkdir()
    cv2.imwrite(str(d / "a.png"), np.zeros((5, 6), np.uint8))
    cv2.imwrite(str(d / "b.png"), np.zeros((7, 6), np.uint8))
    with pytest.raises(VolumeError, match=r"b\.png: image size \(7, 6\) differs"):
        load_volume(d)


def test_image_labels_get_png_masks_beside_the_nifti(tmp_path):
    d = tmp_path / "stack"
    d.mkdir()
    for i in (1, 2):
        cv2.imwrite(str(d / f"frame{i}.png"), np.full((5, 6), 50 + i, np.uint8))
    vol = load_volume(d)
    lab = np.zeros(vol.shape, np.uint8)
    lab[1, 2, 3] = 1
    out = save_labels(lab, tmp_path / "labels.nii.gz", like=vol)
    masks = tmp_path / "labels_masks"
    assert out.is_file() and sorted(p.name for p in masks.iterdir()) == ["frame1.png", "frame2.png"]
    np.testing.assert_array_equal(cv2.imread(str(masks / "frame2.png"), cv2.IMREAD_UNCHANGED), lab[1])
    assert cv2.imread(str(d / "frame2.png"), cv2.IMREAD_UNCHANGED).max() == 52  # the source is untouched
