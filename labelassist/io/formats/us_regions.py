"""The scan areas a DICOM ultrasound file declares: ``SequenceOfUltrasoundRegions`` (0018,6011).

Each item is a rectangle of the frame (``RegionLocationMinX0`` ... ``MaxY1``, inclusive pixel columns and rows)
with what it holds: ``RegionSpatialFormat`` (1: a 2-D image, as B-mode; 0: none, e.g. a trace or a colour bar) and
``RegionDataType`` (1: tissue, 2: colour flow, 3: PW Doppler, ...), and its physical spacing. Only spatial regions
are scan areas. A region that reaches past the frame (a header copied from a larger export, as pydicom's
``examples_ybr_color.dcm``: a 596 x 415 region on 320 x 240 frames) is clipped to it and said once; one wholly
outside is dropped.
"""

from __future__ import annotations

import warnings

__all__ = ["ultrasound_regions", "volume_regions", "volume_area", "volume_modality", "scan_view", "SPATIAL_2D",
           "TISSUE"]

SPATIAL_2D = 1  # RegionSpatialFormat: a 2-D image (B-mode, colour flow)
TISSUE = 1  # RegionDataType: tissue
_UNITS_CM = 3  # PhysicalUnitsX/YDirection: centimetres


def _int(item, name):
    try:
        return int(item.get(name))
    except (TypeError, ValueError):
        return None


def ultrasound_regions(ds, rows: int, cols: int, path) -> list[dict]:
    """The spatial regions of ``ds`` clipped to a ``rows`` x ``cols`` frame: a list of ``{"box": (r0, c0, r1, c1)``
    (inclusive), ``"data_type"``, ``"spacing_mm"``: (dy, dx) or None, ``"clipped"``: bool}``; [] when none."""
    out, clipped = [], []
    for item in ds.get("SequenceOfUltrasoundRegions", None) or []:
        if _int(item, "RegionSpatialFormat") != SPATIAL_2D:
            continue
        x0, y0 = _int(item, "RegionLocationMinX0"), _int(item, "RegionLocationMinY0")
        x1, y1 = _int(item, "RegionLocationMaxX1"), _int(item, "RegionLocationMaxY1")
        if None in (x0, y0, x1, y1) or x1 < x0 or y1 < y0:
            continue
        box = (max(y0, 0), max(x0, 0), min(y1, rows - 1), min(x1, cols - 1))
        if box[2] < box[0] or box[3] < box[1]:
            continue  # wholly outside the frame
        cut = box != (y0, x0, y1, x1)
        if cut:
            clipped.append(f"({x0}, {y0})-({x1}, {y1})")
        spacing = None
        if _int(item, "PhysicalUnitsXDirection") == _UNITS_CM and _int(item, "PhysicalUnitsYDirection") == _UNITS_CM:
            try:
                spacing = (10 * float(item.PhysicalDeltaY), 10 * float(item.PhysicalDeltaX))
            except (AttributeError, TypeError, ValueError):
                spacing = None
        out.append({"box": box, "data_type": _int(item, "RegionDataType"), "spacing_mm": spacing, "clipped": cut})
    if clipped:
        warnings.warn(f"{path}: SequenceOfUltrasoundRegions names {', '.join(clipped)}, beyond its {cols} x {rows} "
                      "frames (a header copied from a larger export?): clipped to the frame", stacklevel=3)
    return out


def volume_regions(volume) -> list | None:
    """The scan-area regions of an ultrasound volume (``header["us_regions"]``; [] when it declares none, as a
    still exported without them), or None for a volume that is not ultrasound (no scan area to find)."""
    header = volume.header if isinstance(getattr(volume, "header", None), dict) else {}
    regions = header.get("us_regions")
    if regions or str(getattr(volume, "modality", "")).upper() == "US":
        return list(regions or [])
    return None


def volume_area(volume):
    """An ultrasound volume's scan area (int8 (H, W), 0 outside, ``k`` in view ``k``: ``ScanArea.labels`` of
    :func:`labelassist.core.scan_area.scan_area`; read it as a mask), None for any other volume (the whole slice)."""
    regions = volume_regions(volume)
    if regions is None:
        return None
    found = volume.header.get("scan_area") if isinstance(getattr(volume, "header", None), dict) else None
    if found is not None:  # found as the file was read (labelassist.io.formats.us_frames)
        return found.labels
    from labelassist.core.scan_area import scan_area

    return scan_area(volume.array, regions=regions).labels


def scan_view(volume):
    """What the classifier sees of a volume: an ultrasound volume's frames cut to the bounding box of its scan area
    (the pipeline's CAM input is cut the same way), any other volume's whole array."""
    area = volume_area(volume)
    if area is None:
        return volume.array
    from labelassist.core.scan_area import area_box

    rows, cols = area_box(area)
    return volume.array[:, rows, cols]


def volume_modality(volume) -> str:
    """``"US"`` for an ultrasound volume (its modality, or regions it declares), else its modality (``""``
    unknown): what picks the demo model and the pipeline's defaults."""
    return "US" if volume_regions(volume) is not None else str(getattr(volume, "modality", "") or "")
