"""Demo ultrasound cines as a scanner exports them: DICOM Ultrasound Multi-frame Image Storage, RGB frames of the
whole screen, with (or, for some, without) ``SequenceOfUltrasoundRegions`` naming the scan's rectangle and its
physical spacing; their masks as NIfTI on the very grid labelassist reads the cine on (written through
:func:`labelassist.io.save_labels`, so a mask lies on its cine as an export does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelassist.demo.us_synth import DEPTH_CM, burn_in_screen, make_ultrasound_cine
from labelassist.io.save import atomic_write

__all__ = ["write_ultrasound_cine"]

_US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"  # Ultrasound Multi-frame Image Storage
FRAME_TIME_MS = 40.0


def _region(box, spacing_cm):
    from pydicom.dataset import Dataset

    (r0, c0), (h, w) = box
    item = Dataset()
    item.RegionSpatialFormat, item.RegionDataType, item.RegionFlags = 1, 1, 0  # 2-D tissue
    item.RegionLocationMinX0, item.RegionLocationMinY0 = c0, r0
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = c0 + w - 1, r0 + h - 1
    item.PhysicalUnitsXDirection = item.PhysicalUnitsYDirection = 3  # cm
    item.PhysicalDeltaX = item.PhysicalDeltaY = float(spacing_cm)
    return item


def _dataset(rgb: np.ndarray, name: str, uid_seed: str, region=None):
    from pydicom.dataset import FileMetaDataset
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _US_MULTIFRAME
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[uid_seed, "instance"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = _US_MULTIFRAME, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[uid_seed, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[uid_seed, "series"])
    ds.Modality, ds.PatientName, ds.PatientID = "US", "Demo^Ultrasound", name
    ds.SeriesDescription = "labelassist demo cine (synthetic)"
    ds.Rows, ds.Columns = rgb.shape[1:3]
    ds.NumberOfFrames, ds.FrameTime = rgb.shape[0], FRAME_TIME_MS
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    if region is not None:
        ds.SequenceOfUltrasoundRegions = [region]
    ds.PixelData = np.ascontiguousarray(rgb, np.uint8).tobytes()
    ds.compress(RLELossless)  # lossless, a third of the size (the screen is mostly black)
    return ds


def write_ultrasound_cine(folder, name: str, *, rng, setting: str, frames: int = 24, lesions=None,
                          regions: bool = True) -> dict:
    """Write ``folder/name.dcm`` (the cine on its screen) and ``folder/name_mask.nii.gz``; returns its manifest entry
    (``path``, ``mask`` as file names, ``lesions``, ``positive_slices``, ``slices``, ``regions``, ``lesion_params``
    with ``centre`` as (frame, row, column) of the screen)."""
    from labelassist.io import load_volume, save_labels

    folder = Path(folder)
    scan, mask, params = make_ultrasound_cine(rng=rng, setting=setting, frames=frames, lesions=lesions)
    rgb, (r0, c0) = burn_in_screen(scan, rng=rng)
    spacing_cm = DEPTH_CM / scan.shape[1]
    region = _region(((r0, c0), scan.shape[1:]), spacing_cm) if regions else None
    ds = _dataset(rgb, name, f"{name}-{setting}-{int(rng.integers(1 << 30))}", region)
    path, mask_path = folder / f"{name}.dcm", folder / f"{name}_mask.nii.gz"
    atomic_write(path, lambda tmp: ds.save_as(str(tmp), enforce_file_format=True), ".dcm")
    full = np.zeros(rgb.shape[:3], np.uint8)
    full[:, r0:r0 + scan.shape[1], c0:c0 + scan.shape[2]] = mask
    save_labels(full, mask_path, like=load_volume(path))
    for p in params:
        p["centre"] = [p["centre"][0], round(p["centre"][1] + r0, 1), round(p["centre"][2] + c0, 1)]
    return {"path": path.name, "mask": mask_path.name, "setting": setting, "lesions": len(params),
            "positive_slices": int(full.any(axis=(1, 2)).sum()), "slices": int(full.shape[0]),
            "regions": bool(regions), "lesion_params": params}
