"""DICOM files written here with known pixels and geometry: enhanced multi-frame, rescale, MONOCHROME1, lies."""

import numpy as np
import pytest

from labelassist.errors import VolumeError
from labelassist.io import load_volume


def test_enhanced_multiframe_geometry_from_per_frame_positions(make_dicom):
    pixels = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    positions = [(10.0, 20.0, 30.0 + 2.5 * k) for k in range(3)]
    path = make_dicom(pixels, frame_positions=positions, pixel_spacing=(0.5, 0.7))
    vol = load_volume(path)
    assert vol.shape == (3, 4, 5)
    np.testing.assert_array_equal(vol.array, pixels.astype(np.float32))
    # frame k, row 0, column 0 sits at its own ImagePositionPatient (LPS -> RAS: x and y negated)
    for k, pos in enumerate(positions):
        np.testing.assert_allclose(vol.voxel_to_world(np.array([k, 0, 0])), np.array(pos) * [-1, -1, 1], atol=1e-6)
    np.testing.assert_allclose(vol.spacing, (2.5, 0.5, 0.7), atol=1e-6)
    # one column step moves 0.7 mm along the row direction (+x in LPS, so -x in RAS)
    step = vol.voxel_to_world(np.array([0, 0, 1])) - vol.voxel_to_world(np.array([0, 0, 0]))
    np.testing.assert_allclose(step, [-0.7, 0, 0], atol=1e-6)


def test_per_frame_rescale_is_applied_per_frame(make_dicom):
    pixels = np.full((2, 3, 3), 10, dtype=np.uint16)
    path = make_dicom(
        pixels, frame_positions=[(0, 0, 0), (0, 0, 1)], frame_rescale=[(1.0, 0.0), (2.0, -5.0)]
    )
    vol = load_volume(path)
    np.testing.assert_allclose(vol.array[0], 10.0)
    np.testing.assert_allclose(vol.array[1], 15.0)


def test_monochrome1_is_inverted_so_bright_means_high(make_dicom):
    pixels = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    vol = load_volume(make_dicom(pixels, photometric="MONOCHROME1"))
    np.testing.assert_array_equal(vol.array[0], 255.0 - pixels)


def test_ultrasound_without_patient_geometry_uses_pixel_spacing(make_dicom):
    pixels = np.arange(48, dtype=np.uint8).reshape(6, 8)
    vol = load_volume(make_dicom(pixels, modality="US", orientation=None, pixel_spacing=(0.3, 0.2)))
    assert vol.modality == "US" and vol.shape == (1, 6, 8)
    np.testing.assert_allclose(vol.spacing[1:], (0.3, 0.2), atol=1e-6)


@pytest.mark.parametrize(
    "tags, match",
    [
        ({"NumberOfFrames": 10**5}, "header claims|more pixel data|truncated"),
        ({"Rows": 65000, "Columns": 65000}, "header claims|more pixel data|truncated"),
        ({"BitsAllocated": 12}, "labelassist reads 1 or 3 samples"),
    ],
)
def test_lying_header_is_one_line_error_before_allocating(make_dicom, tags, match):
    path = make_dicom(np.zeros((4, 4), dtype=np.uint16), **tags)
    with pytest.raises(VolumeError, match=match) as info:
        load_volume(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
