"""Single- and multi-frame DICOM files through pydicom (ultrasound cine, palette and YBR colour).

Each frame is a slice. Geometry comes from the patient tags (LPS, converted to RAS here) when they are
present, per frame for enhanced multi-frame files; ultrasound without patient geometry gets its pixel
size from PixelSpacing or the ultrasound regions (cm -> mm), else 1 mm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelassist.errors import VolumeError
from labelassist.io.volume import Volume, spacing_zyx

__all__ = ["read_dicom_file"]

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _dataset(path: Path):
    import pydicom

    try:
        ds = pydicom.dcmread(str(path), force=True)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds
        raise VolumeError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        raise VolumeError(f"{path}: a DICOM file without an image (no pixel data)")
    return ds


def _check_claim(ds, path: Path) -> int:
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.get("BitsAllocated", 8) or 8)
    if rows <= 0 or cols <= 0:
        raise VolumeError(f"{path}: DICOM header gives an empty image ({rows} x {cols})")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    compressed = bool(syntax is not None and syntax.is_compressed)
    need = rows * cols * frames * spp * max(bits // 8, 1)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "YBR_FULL_422" and not compressed:
        need = need * 2 // 3  # chroma subsampled 2:1 horizontally
    have = len(ds.PixelData) if "PixelData" in ds else need
    # Image codecs can beat deflate by far on flat images, hence the generous factor when compressed.
    if need > 2**33 or (not compressed and need > have + 1) or (compressed and need > have * 20000):
        raise VolumeError(
            f"{path}: header claims {frames} frame(s) of {rows} x {cols} x {spp} ({need:,} bytes) "
            f"but the pixel data holds {have:,} bytes; the file is truncated or its header lies"
        )
    return frames


def _pixels(ds, path: Path) -> np.ndarray:
    from pydicom.pixels import pixel_array

    try:
        # as_rgb: YBR (uncompressed or decoded JPEG) comes back as RGB, converted once, by pydicom.
        arr = pixel_array(ds, as_rgb=True)
    except Exception as exc:  # noqa: BLE001
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", str(syntax))
        raise VolumeError(
            f"{path}: cannot decode the pixel data (transfer syntax {name}): {exc}".splitlines()[0]
        ) from None
    return np.asarray(arr)


def _colour(ds, arr: np.ndarray, frames: int) -> tuple[np.ndarray, bool]:
    """Pixels as float32 (frames, y, x) grey or (frames, y, x, 3) RGB."""
    from pydicom.pixels import apply_color_lut

    pi = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames == 1:
        arr = arr[None]
    if pi == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        spp = 3
    if spp == 3:
        out = arr.astype(np.float32)
        if np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2]):
            return out[..., 0], False
        return out, True
    out = arr.astype(np.float32)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    out = out * slope + intercept
    if pi == "MONOCHROME1":
        out = out.max() + out.min() - out
    return out, False


def _frame_positions(ds, frames: int):
    """Per-frame ImagePositionPatient (LPS) and the orientation, when the file has them."""
    orient = ds.get("ImageOrientationPatient")
    positions = None
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    spacing = ds.get("PixelSpacing")
    if shared:
        g = shared[0]
        if orient is None and "PlaneOrientationSequence" in g:
            orient = g.PlaneOrientationSequence[0].get("ImageOrientationPatient")
        if spacing is None and "PixelMeasuresSequence" in g:
            spacing = g.PixelMeasuresSequence[0].get("PixelSpacing")
    if per_frame and len(per_frame) == frames:
        try:
            positions = [np.asarray(f.PlanePositionSequence[0].ImagePositionPatient, float) for f in per_frame]
        except (AttributeError, IndexError):
            positions = None
        if orient is None and "PlaneOrientationSequence" in per_frame[0]:
            orient = per_frame[0].PlaneOrientationSequence[0].get("ImageOrientationPatient")
        if spacing is None and "PixelMeasuresSequence" in per_frame[0]:
            spacing = per_frame[0].PixelMeasuresSequence[0].get("PixelSpacing")
    if positions is None and ds.get("ImagePositionPatient") is not None:
        positions = [np.asarray(ds.ImagePositionPatient, float)]
    return orient, positions, spacing


def _ultrasound_spacing(ds):
    regions = ds.get("SequenceOfUltrasoundRegions")
    if regions:
        r = regions[0]
        dx, dy = r.get("PhysicalDeltaX"), r.get("PhysicalDeltaY")
        # units 3 = cm
        if dx and dy and int(r.get("PhysicalUnitsXDirection", 3)) == 3:
            return float(dy) * 10.0, float(dx) * 10.0
    return None


def _affine(ds, frames: int) -> np.ndarray:
    orient, positions, spacing = _frame_positions(ds, frames)
    if spacing is not None:
        dy, dx = (float(v) for v in spacing)
    else:
        dy, dx = _ultrasound_spacing(ds) or (1.0, 1.0)
    dz = float(ds.get("SpacingBetweenSlices", 0) or ds.get("SliceThickness", 0) or 1.0)
    if orient is None or positions is None:
        return np.diag([-dx, -dy, dz, 1.0])  # same display convention as images: LPS, upright
    row = np.asarray(orient[:3], float)  # direction of increasing column index (x)
    col = np.asarray(orient[3:6], float)  # direction of increasing row index (y)
    normal = np.cross(row, col)
    if len(positions) > 1:
        step = positions[1] - positions[0]
        dz_vec = step if np.linalg.norm(step) > 0 else normal * dz
    else:
        dz_vec = normal * dz
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2] = row * dx, col * dy, dz_vec
    lps[:3, 3] = positions[0]
    return _LPS_TO_RAS @ lps


def read_dicom_file(path) -> Volume:
    """One DICOM file as a :class:`Volume`: (frames, y, x) grey or (frames, y, x, 3) colour."""
    path = Path(path)
    ds = _dataset(path)
    frames = _check_claim(ds, path)
    arr = _pixels(ds, path)
    if arr.ndim > 4:
        raise VolumeError(f"{path}: {arr.ndim}-D pixel data {arr.shape}; labelassist reads frames of 2-D images")
    array, colour = _colour(ds, arr, frames)
    if array.ndim == 3 + colour and array.shape[0] != frames:
        array = array.reshape((frames,) + array.shape[-(2 + colour):])
    affine = _affine(ds, frames)
    return Volume(
        array=np.ascontiguousarray(array, dtype=np.float32),
        affine=affine,
        spacing=spacing_zyx(affine),
        source_path=path,
        format="dicom",
        modality=str(ds.get("Modality", "") or ""),
        channel_names=("R", "G", "B") if colour else (),
        header={"dicom_files": [path]},
    )
