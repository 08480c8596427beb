"""Issue 16: a DICOM series that is not one regular grid is refused in one line, before any pixel is read."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelassist.errors import VolumeError
from labelassist.io import load_volume
from labelassist.io.formats.dicom_series import check_series_geometry

UID = "1.2.826.0.1.3680043.2.1125.77"


@pytest.fixture
def series(tmp_path, make_dicom):
    """``series(z_positions, **per_file_overrides) -> folder``: one file per slice, 4 x 5 pixels, slice k's
    pixels all k; ``overrides`` maps a slice index to the write_dicom options that differ for it."""

    def make(zs, overrides=None, **common):
        folder = tmp_path / "series"
        folder.mkdir()
        for k, z in enumerate(zs):
            options = {"position": (10.0, 20.0, float(z)), "SeriesInstanceUID": UID, "InstanceNumber": k + 1,
                       **common, **(overrides or {}).get(k, {})}
            rows, cols = options.pop("shape", (4, 5))
            # file names run against z, so that order comes from the positions, not the names
            make_dicom(np.full((rows, cols), k, np.uint16), name=f"series/IM{len(zs) - k:03d}.dcm", **options)
        return folder

    return make


def test_a_regular_series_reads_with_its_spacing_in_position_order(series, capfd):
    folder = series([0.0, 2.5, 5.0, 7.5, 10.0])
    vol = load_volume(folder)
    assert vol.shape == (5, 4, 5)
    assert vol.spacing == pytest.approx((2.5, 0.5, 0.7))
    assert [vol.array[k, 0, 0] for k in range(5)] == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(vol.voxel_to_world(np.array([4, 0, 0])), [-10.0, -20.0, 10.0], atol=1e-4)
    assert capfd.readouterr().err == ""


def test_rounding_within_tolerance_still_reads_without_itk_noise(series, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ITK's complaint about the 0.002 mm is dropped: we judged the spacing
        vol = load_volume(series([0.0, 2.501, 4.999, 7.5005]))
    assert vol.shape[0] == 4 and vol.spacing[0] == pytest.approx(2.5, abs=0.01)
    assert capfd.readouterr().err == ""


CASES = {
    "missing slice": (
        dict(zs=[0.0, 2.5, 5.0, 10.0, 12.5]),
        r"series: slices 2-3 \(.*\) are 5 mm apart where the others are 2\.5 mm \(a missing slice\?\); "
        r"the series is not one regular grid"),
    "uneven spacing": (
        dict(zs=[0.0, 2.5, 5.0, 7.2, 9.7]),
        r"slices 2-3 .* are 2\.2 mm apart where the others are 2\.5 mm \(uneven spacing\); the series is not one"),
    "duplicate position": (
        dict(zs=[0.0, 2.5, 2.5, 5.0]),
        r"series: two slices share position z=2\.5 mm .*; the series is not one regular grid"),
    "mixed pixel spacing": (
        dict(zs=[0.0, 2.5, 5.0], overrides={1: {"pixel_spacing": (0.5, 0.9)}}),
        r"series: PixelSpacing differs between files \(0\.7 vs 0\.9 mm .*\); the series is not one regular grid"),
    "mixed orientation": (
        dict(zs=[0.0, 2.5, 5.0], overrides={2: {"orientation": (1.0, 0.0, 0.0, 0.0, 0.9950042, 0.0998334)}}),
        r"series: ImageOrientationPatient differs between files \(.*\); the series is not one regular grid"),
    "mixed size": (
        dict(zs=[0.0, 2.5, 5.0], overrides={0: {"shape": (4, 6)}}),
        r"series: Rows/Columns differ between files \(4x6 .* vs 4x5 .*\); the series is not one regular grid"),
    "tilted gantry": (
        dict(zs=[0.0, 2.5, 5.0], overrides={k: {"position": (10.0, 20.0 + 0.5 * k, 2.5 * k)} for k in range(3)}),
        r"series: the slices do not stack along their normal .* shifted 0\.5 mm in-plane .*a tilted gantry\?"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_series_that_is_not_one_regular_grid_is_refused_in_one_line(series, capfd, case):
    options, message = CASES[case]
    folder = series(options["zs"], options.get("overrides"))
    with pytest.raises(VolumeError, match=message) as info:
        load_volume(folder)
    assert "\n" not in str(info.value) and str(folder) in str(info.value)
    assert capfd.readouterr().err == ""  # no GDCM/ITK line leaks


def test_the_check_reads_no_pixels(series, monkeypatch):
    """The refusal comes from the headers alone: the pixel data of every file may be garbage."""
    folder = series([0.0, 2.5, 5.0, 10.0])
    files = sorted(folder.iterdir())
    for f in files:  # cut every file inside its pixel data
        f.write_bytes(f.read_bytes()[:-7])
    with pytest.raises(VolumeError, match="a missing slice"):
        check_series_geometry(folder, files)


def test_a_series_without_patient_geometry_is_not_checked(tmp_path, make_dicom):
    """Ultrasound-like files with no position or orientation: nothing to check, nothing refused."""
    files = [make_dicom(np.zeros((3, 3), np.uint8), name=f"{k}.dcm", orientation=None, pixel_spacing=None)
             for k in range(3)]
    check_series_geometry(tmp_path, files)


def test_a_file_missing_its_orientation_is_named(tmp_path, make_dicom):
    files = [make_dicom(np.zeros((3, 3), np.uint8), name=f"{k}.dcm", position=(0, 0, k)) for k in range(2)]
    files.append(make_dicom(np.zeros((3, 3), np.uint8), name="2.dcm", orientation=None))
    with pytest.raises(VolumeError, match=r"ImageOrientationPatient is missing in 1 of 3 files \(e\.g\. 2\.dcm\)"):
        check_series_geometry(tmp_path, files)
