"""Single- and multi-frame DICOM files through pydicom: MR/CT slices, enhanced multi-frame, ultrasound cine.

Each frame is a slice (``array[z]`` is frame ``z``, in file order). Pixels:

- grey: the modality LUT (RescaleSlope/Intercept, per frame for enhanced files) is applied, and
  MONOCHROME1 is inverted over the stored value range so that bright means high everywhere;
- PALETTE COLOR: expanded through the file's colour LUT to RGB;
- YBR_FULL / YBR_FULL_422 / YBR_ICT / YBR_RCT: converted to RGB ONCE, by pydicom (``as_rgb``), which
  knows whether its decoder already did it; a colour image whose three channels are equal is grey.

Geometry (LPS in DICOM, RAS here: x and y negated): ImageOrientationPatient, ImagePositionPatient and
PixelSpacing, taken per frame from the functional groups of enhanced files (PlanePositionSequence,
PlaneOrientationSequence, PixelMeasuresSequence) or from GridFrameOffsetVector (RT dose); the slice step
is the step between the first two frame positions, else SpacingBetweenSlices / SliceThickness, else 1 mm.
A file without patient geometry (ultrasound, secondary capture) gets the image convention of
:mod:`labelassist.io.formats.images` (``diag(-dx, -dy, dz)``, an upright radiological display) with its pixel
size from PixelSpacing, ImagerPixelSpacing or the ultrasound regions (PhysicalDeltaX/Y, cm -> mm), else
1 mm.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from labelassist.errors import VolumeError
from labelassist.io.formats.limits import FLOAT_BYTES, check_memory
from labelassist.io.formats.us_regions import ultrasound_regions
from labelassist.io.volume import LPS_TO_RAS, Volume, check_affine, spacing_zyx

__all__ = ["read_dicom_file"]

# Most voxels any header may make us allocate (as float32: 8 GiB), the same cap as the other readers.
_MAX_VOXELS = 2**31
# An image codec can beat deflate by far on a flat image, hence a generous ratio for encapsulated data.
_MAX_CODEC_RATIO = 20000
_CONVERT_HINT = "or convert the file to uncompressed DICOM (gdcmconv --raw, or dcmtk's dcmdjpeg / dcmdjpls)"


def read_dicom_file(path) -> Volume:
    """Read one DICOM file, single- or multi-frame, as a :class:`Volume`.

    Parameters
    ----------
    path : str or Path
        A DICOM file (Part 10, or a raw data set without the preamble) holding an image.

    Returns
    -------
    Volume
        ``format="dicom"``; ``array`` is float32 ``(frames, rows, columns)`` for grey images or
        ``(frames, rows, columns, 3)`` with ``channel_names=("R", "G", "B")`` for colour ones;
        ``modality`` is the file's Modality; ``header`` holds ``dicom_files`` (``[path]``),
        ``transfer_syntax``, ``photometric_interpretation``, ``us_regions`` (the scan areas the file declares,
        :func:`~labelassist.io.formats.us_regions.ultrasound_regions`) and, for a cine, ``frame_time_ms``.

    Raises
    ------
    VolumeError
        One line starting with the path: not DICOM, no image in it, a header that claims more pixel
        data than the file holds (checked before anything is allocated), a compressed transfer
        syntax no installed decoder reads (naming the syntax and what to install), corrupt data.

    Warns
    -----
    UserWarning
        Frames whose positions are not evenly spaced along one line (the affine uses the first step).
    """
    path = Path(path)
    ds = _dataset(path)
    rows, cols, frames = _check_claim(ds, path)
    arr = _pixels(ds, path)
    array, colour = _to_float(ds, arr, rows, cols, frames, path)
    affine = check_affine(_affine(ds, frames, path), path, fix="fix the header's ImageOrientationPatient, "
                          "ImagePositionPatient and PixelSpacing")
    header = {
        "dicom_files": [path],
        "transfer_syntax": str(_syntax(ds) or ""),
        "photometric_interpretation": str(ds.get("PhotometricInterpretation", "") or ""),
    }
    frame_time = _number(ds, "FrameTime", None, path)
    if frame_time is not None and frames > 1:
        header["frame_time_ms"] = frame_time
    header["us_regions"] = ultrasound_regions(ds, rows, cols, path)  # where the scan is (ultrasound), or []
    return Volume(
        array=np.ascontiguousarray(array, dtype=np.float32),
        affine=affine,
        spacing=spacing_zyx(affine),
        source_path=path,
        format="dicom",
        modality=str(ds.get("Modality", "") or ""),
        channel_names=("R", "G", "B") if colour else (),
        header=header,
    )


# -- reading and checking ----------------------------------------------------------------------------


def _dataset(path: Path):
    import pydicom
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if not path.is_file():
        raise VolumeError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise VolumeError(f"{path}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about every oddity of real-world files
            ds = pydicom.dcmread(str(path), force=True)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds
        raise VolumeError(_one_line(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})")) from None
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise VolumeError(f"{path}: {_why_no_pixels(ds)}")
    if _syntax(ds) is None:  # no file meta (a raw data set): tell pydicom how it was encoded
        implicit, little = getattr(ds, "original_encoding", (True, True))
        if not hasattr(ds, "file_meta") or ds.file_meta is None:
            from pydicom.dataset import FileMetaDataset

            ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return ds


def _why_no_pixels(ds) -> str:
    from pydicom.datadict import dictionary_has_tag

    if "Rows" in ds and "Columns" in ds:
        return "the header describes an image but there is no pixel data; the file is truncated"
    standard = any(tag.group % 2 == 0 and dictionary_has_tag(tag) for tag in ds.keys())  # values unparsed
    if _syntax(ds) is not None and not standard:
        return "a DICOM file with no image and no standard data element; it is truncated or corrupt"
    if standard:
        return "a DICOM file without an image (no pixel data: a report, a plan, a structure set?)"
    return "not a DICOM file (no DICOM data elements found)"


def _syntax(ds):
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return uid or None


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(ds, keyword: str, default, path: Path, *, integer: bool = False):
    """A numeric tag as int/float, ``default`` when absent or empty; a one-line error when malformed."""
    value = ds.get(keyword) if ds is not None else None
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise VolumeError(f"{path}: DICOM tag {keyword} holds {str(value)!r}, not a number; the header is corrupt") from None
    if not math.isfinite(number) or (integer and number != int(number)):
        raise VolumeError(f"{path}: DICOM tag {keyword} holds {str(value)!r}; the header is corrupt")
    return int(number) if integer else number


def _check_claim(ds, path: Path) -> tuple[int, int, int]:
    """Rows, columns and frames, once the header's claim fits the pixel data the file holds."""
    rows = _number(ds, "Rows", 0, path, integer=True)
    cols = _number(ds, "Columns", 0, path, integer=True)
    frames = _number(ds, "NumberOfFrames", 1, path, integer=True) or 1
    spp = _number(ds, "SamplesPerPixel", 1, path, integer=True)
    bits = _number(ds, "BitsAllocated", 8, path, integer=True)
    if rows <= 0 or cols <= 0 or frames < 0 or spp not in (1, 3) or bits not in (1, 8, 16, 32, 64):
        raise VolumeError(
            f"{path}: DICOM header gives an image of {frames} frame(s) of {rows} x {cols} with {spp} sample(s) "
            f"of {bits} bits; labelassist reads 1 or 3 samples of 1, 8, 16, 32 or 64 bits"
        )
    if rows * cols * frames > _MAX_VOXELS:
        raise VolumeError(
            f"{path}: header claims {frames} frame(s) of {rows} x {cols} ({rows * cols * frames:,} pixels), "
            f"more than labelassist reads ({_MAX_VOXELS:,}); the header is corrupt or the file must be split"
        )
    syntax = _syntax(ds)
    compressed = bool(syntax is not None and syntax.is_compressed)
    samples = spp
    if str(ds.get("PhotometricInterpretation", "")).upper() == "YBR_FULL_422" and not compressed:
        samples = 2  # chroma subsampled 2:1 horizontally: two samples per pixel on average
    need = math.ceil(rows * cols * frames * samples * bits / 8)
    key = next(k for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData") if k in ds)
    have = len(ds[key].value or b"")
    if (not compressed and need > have + 1) or (compressed and need > have * _MAX_CODEC_RATIO):
        raise VolumeError(
            f"{path}: header claims {frames} frame(s) of {rows} x {cols} x {spp} ({need:,} bytes) "
            f"but the pixel data holds {have:,} bytes; the file is truncated or its header lies"
        )
    colour = spp == 3 or str(ds.get("PhotometricInterpretation", "")).upper() == "PALETTE COLOR"
    pixels = rows * cols * frames
    check_memory(path, pixels * (spp * max(bits // 8, 1) + FLOAT_BYTES * (3 if colour else 1)),
                 f"its {frames} frame(s) of {rows} x {cols}")
    return rows, cols, frames


def _pixels(ds, path: Path) -> np.ndarray:
    from pydicom.pixels import get_decoder, pixel_array

    syntax = _syntax(ds)
    name = getattr(syntax, "name", str(syntax))
    if syntax is not None and syntax.is_compressed:
        try:
            decoder = get_decoder(syntax)
        except NotImplementedError:
            raise VolumeError(f"{path}: pixel data in transfer syntax {name}, which pydicom cannot decode; {_CONVERT_HINT}") from None
        if not decoder.is_available:
            raise VolumeError(
                f"{path}: pixel data compressed as {name}, which no installed decoder reads; "
                f"install {_alternatives(decoder.missing_dependencies)}, {_CONVERT_HINT}"
            )
    needs = ""
    if syntax is not None and syntax.is_compressed:
        missing = get_decoder(syntax).missing_dependencies
        needs = f"; another decoder may read it: install {_alternatives(missing)}, {_CONVERT_HINT}" if missing else ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # as_rgb: YBR comes back as RGB, converted once by pydicom (it knows if the codec already did).
            return np.asarray(pixel_array(ds, as_rgb=True))
    except MemoryError:
        raise VolumeError(f"{path}: not enough memory to decode the pixel data") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise many kinds
        reason = _one_line(str(exc), 160)
        raise VolumeError(f"{path}: cannot decode the {name} pixel data ({reason}){needs}") from None


def _alternatives(missing) -> str:
    """'gdcm>=3.0.10 or pylibjpeg>=2.0 and ...' from pydicom's list of missing decoder dependencies."""
    return " or ".join(m.split(" - requires ", 1)[-1] for m in missing)


def _to_float(ds, arr: np.ndarray, rows: int, cols: int, frames: int, path: Path) -> tuple[np.ndarray, bool]:
    """Pixels as float32 (frames, y, x) grey or (frames, y, x, 3) RGB; the flag says colour."""
    from pydicom.pixels import apply_color_lut

    pi = str(ds.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2").upper()
    if pi == "PALETTE COLOR":
        try:
            arr = apply_color_lut(arr, ds)
        except Exception as exc:  # noqa: BLE001
            raise VolumeError(_one_line(f"{path}: the palette colour lookup table is unusable ({exc})")) from None
    colour = arr.ndim >= 3 and arr.shape[-1] == 3 and arr.shape[-3:-1] == (rows, cols)
    want = (frames, rows, cols) + ((3,) if colour else ())
    if arr.size != math.prod(want):
        raise VolumeError(f"{path}: decoded pixel data has shape {arr.shape}, the header says {want}")
    arr = arr.reshape(want)
    if colour:
        out = arr.astype(np.float32)
        if np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2]):
            return out[..., 0], False
        return out, True
    out = arr.astype(np.float32)
    if pi == "MONOCHROME1":  # low values are white: flip over the stored range
        bits = _number(ds, "BitsStored", None, path, integer=True) or int(arr.dtype.itemsize * 8)
        if arr.dtype.kind == "f":
            lo, hi = float(out.min()), float(out.max())
        elif _number(ds, "PixelRepresentation", 0, path, integer=True) == 1:
            lo, hi = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
        else:
            lo, hi = 0.0, 2.0**bits - 1
        out = np.float32(lo + hi) - out
    slope, intercept = _rescale(ds, frames, path)
    if np.any(slope != 1) or np.any(intercept != 0):
        out = out * slope[:, None, None].astype(np.float32) + intercept[:, None, None].astype(np.float32)
    return out, False


def _rescale(ds, frames: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame RescaleSlope and RescaleIntercept (enhanced files keep them in functional groups)."""
    slopes, intercepts = [], []
    for item in _group_items(ds, "PixelValueTransformationSequence", frames):
        src = item if item is not None and "RescaleSlope" in item else ds
        slopes.append(_number(src, "RescaleSlope", 1.0, path))
        intercepts.append(_number(src, "RescaleIntercept", 0.0, path))
    return np.asarray(slopes, float), np.asarray(intercepts, float)


# -- geometry ------------------------------------------------------------------------------------------


def _group_items(ds, name: str, frames: int) -> list:
    """Per frame, the first item of functional group ``name`` (per-frame over shared), or ``None``."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    default = None
    if shared and shared[0].get(name):
        default = shared[0].get(name)[0]
    items = [default] * frames
    if per_frame and len(per_frame) == frames:
        items = [f.get(name)[0] if f.get(name) else default for f in per_frame]
    return items


def _vector(value, n: int) -> np.ndarray | None:
    try:
        v = np.asarray([float(x) for x in value], float)
    except (TypeError, ValueError):
        return None
    return v if v.shape == (n,) and np.all(np.isfinite(v)) else None


def _pixel_spacing(ds, measures) -> tuple[float, float]:
    """(dy, dx) in mm: PixelSpacing (frame or file), ImagerPixelSpacing, ultrasound regions, else 1 mm."""
    for src, key in ((measures, "PixelSpacing"), (ds, "PixelSpacing"), (ds, "ImagerPixelSpacing")):
        v = _vector(src.get(key), 2) if src is not None and src.get(key) is not None else None
        if v is not None and np.all(v > 0):
            return float(v[0]), float(v[1])
    for region in ds.get("SequenceOfUltrasoundRegions") or ():
        # a 2-D region (RegionSpatialFormat 1) measured in cm (PhysicalUnits 3) in both directions
        if int(region.get("RegionSpatialFormat", 1) or 1) != 1:
            continue
        if int(region.get("PhysicalUnitsXDirection", 0) or 0) != 3 or int(region.get("PhysicalUnitsYDirection", 0) or 0) != 3:
            continue
        dx, dy = region.get("PhysicalDeltaX"), region.get("PhysicalDeltaY")
        if dx and dy and float(dx) > 0 and float(dy) > 0:
            return float(dy) * 10.0, float(dx) * 10.0
    return 1.0, 1.0


def _slice_step(ds, measures) -> float:
    for src in (measures, ds):
        for key in ("SpacingBetweenSlices", "SliceThickness"):
            try:
                value = float(src.get(key) or 0) if src is not None else 0.0
            except (TypeError, ValueError):
                value = 0.0
            if math.isfinite(value) and value > 0:
                return value
    return 1.0


def _positions(ds, frames: int, normal: np.ndarray) -> list[np.ndarray] | None:
    """Frame origins (LPS) from the per-frame plane positions, GridFrameOffsetVector or the file's IPP."""
    items = _group_items(ds, "PlanePositionSequence", frames)
    if all(it is not None for it in items):
        pos = [_vector(it.get("ImagePositionPatient"), 3) for it in items]
        if all(p is not None for p in pos):
            return pos
    ipp = _vector(ds.get("ImagePositionPatient"), 3) if ds.get("ImagePositionPatient") is not None else None
    if ipp is None:
        return None
    offsets = _vector(ds.get("GridFrameOffsetVector"), frames) if ds.get("GridFrameOffsetVector") is not None else None
    if offsets is not None and frames > 1:
        return [ipp + (o - offsets[0]) * normal for o in offsets]
    return [ipp] * frames


def _orientation(ds, frames: int) -> tuple[np.ndarray, np.ndarray] | None:
    value = ds.get("ImageOrientationPatient")
    if value is None:
        item = _group_items(ds, "PlaneOrientationSequence", frames)[0] if frames else None
        value = item.get("ImageOrientationPatient") if item is not None else None
    v = _vector(value, 6) if value is not None else None
    if v is None:
        return None
    row, col = v[:3], v[3:]
    if np.linalg.norm(row) < 1e-6 or np.linalg.norm(col) < 1e-6 or np.linalg.norm(np.cross(row, col)) < 1e-6:
        return None
    return row / np.linalg.norm(row), col / np.linalg.norm(col)


def _affine(ds, frames: int, path: Path) -> np.ndarray:
    measures = _group_items(ds, "PixelMeasuresSequence", frames)[0] if frames else None
    dy, dx = _pixel_spacing(ds, measures)
    dz = _slice_step(ds, measures)
    orient = _orientation(ds, frames)
    if orient is None:
        return np.diag([-dx, -dy, dz, 1.0])  # no patient geometry: the image convention (LPS, upright)
    row, col = orient  # row: direction of increasing column index (x); col: of increasing row index (y)
    normal = np.cross(row, col)
    positions = _positions(ds, frames, normal) or [np.zeros(3)] * frames
    step = normal * dz
    if frames > 1:
        first = positions[1] - positions[0]
        if np.linalg.norm(first) > 1e-6:
            step = first
        expected = positions[0] + np.arange(frames)[:, None] * step
        error = np.abs(np.asarray(positions) - expected).max()
        if np.linalg.norm(first) > 1e-6 and error > 0.01 * np.linalg.norm(step) + 1e-3 or (
            np.linalg.norm(first) <= 1e-6 and error > 1e-3
        ):
            warnings.warn(
                f"{path}: frame positions are not evenly spaced along one line (off by up to {error:.3g} mm); "
                "the affine uses the step between the first two frames",
                stacklevel=3,
            )
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2] = row * dx, col * dy, step
    lps[:3, 3] = positions[0]
    return LPS_TO_RAS @ lps
