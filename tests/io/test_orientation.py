"""Screen orientation from the affine: the radiological convention whatever the stored voxel order."""

import numpy as np
import pytest

from labelassist.errors import ParameterError
from labelassist.io import Volume
from labelassist.io.orientation import cursor_text, slice_orientation, voxel_ijk

RAS = np.diag([1.0, 1.0, 1.0, 1.0])
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def marker_slice(affine, shape=(40, 60)):
    """A slice with a marker in the patient's right-anterior corner, stored in ``affine``'s voxel order."""
    h, w = shape
    ras = np.zeros(shape)
    ras[30:38, 50:58] = 1  # RAS storage: high x = right, high y = anterior
    return ras if affine is RAS else ras[::-1, ::-1]


@pytest.mark.parametrize("affine", [RAS, LPS], ids=["RAS", "LPS"])
def test_the_patients_right_anterior_is_on_the_screens_upper_left_in_both_stored_orders(affine):
    o = slice_orientation(affine, 0)
    screen = o.to_screen(marker_slice(affine))
    rows, cols = np.nonzero(screen)
    assert o.plane == "axial" and o.letters == ("R", "L", "A", "P")
    assert rows.max() < 10 and cols.max() < 10  # upper left


def test_neurological_puts_the_patients_right_on_the_screens_right():
    o = slice_orientation(LPS, 0, convention="neurological")
    rows, cols = np.nonzero(o.to_screen(marker_slice(LPS)))
    assert o.letters[:2] == ("L", "R")
    assert rows.max() < 10 and cols.min() >= 50  # upper right


def test_coronal_and_sagittal_slices_of_a_ras_volume():
    coronal, sagittal = slice_orientation(RAS, 1), slice_orientation(RAS, 2)
    assert (coronal.plane, coronal.letters) == ("coronal", ("R", "L", "S", "I"))
    assert (sagittal.plane, sagittal.letters) == ("sagittal", ("A", "P", "S", "I"))
    # a sagittal slice array[:, :, i] has rows z (superior up: flipped) and columns y (anterior on the left)
    assert (sagittal.transpose, sagittal.flip_y, sagittal.flip_x) == (False, True, True)
    assert slice_orientation(RAS, 2, convention="neurological") == sagittal  # no left or right on it


def test_a_volume_stored_coronally_says_so_and_a_transposed_slice_is_turned():
    m = np.zeros((4, 4))
    m[0, 0], m[2, 1], m[1, 2], m[3, 3] = -1, 1, 1, 1  # x -> L, y -> S, z -> A: slices are coronal
    assert slice_orientation(m, 0).plane == "coronal"
    sag = slice_orientation(m, 2)  # rows z (A), columns y (S): the rows run across
    assert sag.plane == "sagittal" and sag.transpose
    image = np.zeros((30, 20))  # (z: A, y: S)
    image[25, 15] = 1  # most anterior, most superior
    rows, cols = np.nonzero(sag.to_screen(image))
    assert (rows[0], cols[0]) == (20 - 1 - 15, 30 - 1 - 25)  # top (superior) and left (anterior)


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(ParameterError, match="convention must be one of radiological, neurological"):
        slice_orientation(RAS, convention="radiologic")
    with pytest.raises(ParameterError, match="axis must be 0, 1 or 2"):
        slice_orientation(RAS, 3)


def test_the_cursor_reads_voxel_indices_millimetres_and_value():
    arr = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    affine = np.diag([2.0, 3.0, 5.0, 1.0])
    affine[:3, 3] = (10, 20, 30)
    vol = Volume(arr, affine, (5.0, 3.0, 2.0), source_path="mem.nii.gz", format="nifti")
    assert voxel_ijk(0, 1, 2, 3) == (3, 2, 1)
    assert cursor_text(vol, 0, 1, 2.2, 2.8) == f"voxel (3, 2, 1)   RAS (16.0, 26.0, 35.0) mm   = {arr[1, 2, 3]:.4g}"
    assert cursor_text(vol, 1, 2, 0, 1) == f"voxel (1, 2, 0)   RAS (12.0, 26.0, 30.0) mm   = {arr[0, 2, 1]:.4g}"
    assert cursor_text(vol, 0, 0, -1, 0) == ""
