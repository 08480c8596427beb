"""Fixtures for io tests: real DICOM test files found on disk (never downloaded) and small synthetic DICOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

_FOLDERS: list[Path] = []
try:
    import pydicom

    _FOLDERS.append(Path(pydicom.__file__).parent / "data" / "test_files")
except ImportError:  # pragma: no cover
    pass
try:  # pydicom-data keeps its files here; its fetch functions may download, so we never call them
    import data_store

    _FOLDERS.append(Path(data_store.__file__).parent / "data")
except ImportError:  # pragma: no cover
    pass


def dicom_test_path(name: str) -> Path:
    """Path of a pydicom / pydicom-data test file that is on disk; skips the test when it is not."""
    for folder in _FOLDERS:
        if (folder / name).is_file():
            return folder / name
    pytest.skip(f"DICOM test file {name} is not on disk (pydicom or pydicom-data)")


@pytest.fixture
def dicom_testfile():
    """``dicom_testfile("MR_small.dcm") -> Path``: a real test file on disk, or the test is skipped."""
    return dicom_test_path


def write_dicom(
    path,
    pixels: np.ndarray,
    *,
    modality: str = "MR",
    photometric: str | None = None,
    pixel_spacing=(0.5, 0.7),
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    position=(10.0, 20.0, 30.0),
    frame_positions=None,
    frame_rescale=None,
    **tags,
) -> Path:
    """Write a small uncompressed DICOM file with known pixels and geometry.

    ``pixels`` is (rows, cols) (single frame), (frames, rows, cols) (multi-frame), with a last axis
    of 3 for RGB. A multi-frame file gets enhanced functional groups: shared orientation and pixel
    measures, per-frame ``frame_positions`` (PlanePositionSequence) and per-frame ``frame_rescale``
    ((slope, intercept) per frame) when given. ``orientation=None`` leaves out patient geometry (as in
    ultrasound); ``pixel_spacing=None`` leaves out PixelSpacing. Other keyword arguments are set as
    tags on the data set (e.g. ``NumberOfFrames=10**5`` to make the header lie).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.asarray(pixels)
    colour = photometric in ("RGB", "YBR_FULL") or (photometric is None and pixels.shape[-1] == 3 and pixels.ndim >= 3 and pixels.ndim == (4 if frame_positions else 3) and False)
    colour = photometric in ("RGB", "YBR_FULL")
    spatial = pixels.shape[:-1] if colour else pixels.shape
    frames = spatial[0] if len(spatial) == 3 else 1
    rows, cols = spatial[-2:]
    enhanced = frames > 1 or frame_positions is not None

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1" if enhanced else "1.2.840.10008.5.1.4.1.1.4"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.Rows, ds.Columns = rows, cols
    if enhanced:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric or "MONOCHROME2"
    if colour:
        ds.PlanarConfiguration = 0
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()

    if enhanced:
        shared = Dataset()
        if orientation is not None:
            plane = Dataset()
            plane.ImageOrientationPatient = list(orientation)
            shared.PlaneOrientationSequence = [plane]
        if pixel_spacing is not None:
            measures = Dataset()
            measures.PixelSpacing = list(pixel_spacing)
            shared.PixelMeasuresSequence = [measures]
        ds.SharedFunctionalGroupsSequence = [shared]
        per_frame = []
        for k in range(frames):
            item = Dataset()
            if frame_positions is not None:
                pos = Dataset()
                pos.ImagePositionPatient = [float(v) for v in frame_positions[k]]
                item.PlanePositionSequence = [pos]
            if frame_rescale is not None:
                pvt = Dataset()
                pvt.RescaleSlope, pvt.RescaleIntercept = frame_rescale[k]
                pvt.RescaleType = "US"
                item.PixelValueTransformationSequence = [pvt]
            per_frame.append(item)
        ds.PerFrameFunctionalGroupsSequence = per_frame
    else:
        if orientation is not None:
            ds.ImageOrientationPatient = list(orientation)
            ds.ImagePositionPatient = list(position)
        if pixel_spacing is not None:
            ds.PixelSpacing = list(pixel_spacing)
    for key, value in tags.items():
        setattr(ds, key, value)
    path = Path(path)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def make_dicom(tmp_path):
    """``make_dicom(pixels, name="x.dcm", **options) -> Path``: see :func:`write_dicom`."""

    def make(pixels, name: str = "synthetic.dcm", **options) -> Path:
        return write_dicom(tmp_path / name, pixels, **options)

    return make
