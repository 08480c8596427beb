"""Is a DICOM series one regular grid? Checked from the files' headers before any pixel is read.

A folder of single-slice files becomes one volume only when every slice has the same size, pixel spacing
and orientation, and the slice positions (ImagePositionPatient projected on the slice normal) are evenly
spaced along the normal. Otherwise ITK would read the slices as one regular grid anyway, and labels drawn
on it would land millimetres away from where they belong; labelassist refuses such a series (it does not
resample) with a one-line :class:`~labelassist.errors.VolumeError` that says what differs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelassist.errors import VolumeError

__all__ = ["check_series_geometry", "REL_TOL", "ABS_TOL_MM"]

REL_TOL = 0.01  # a slice step may differ from the others by 1% ...
ABS_TOL_MM = 0.01  # ... or by 0.01 mm, whichever is larger
_DIRECTION_TOL = 1e-4  # direction cosines (unit vectors) agree to this

_FIX = "the series is not one regular grid; export it again complete (or as one NIfTI) - labelassist does not resample"
_TAGS = ("Rows", "Columns", "PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient")


def _floats(ds, name: str, n: int, path: Path) -> np.ndarray | None:
    value = ds.get(name)
    if value is None or value == "":
        return None
    try:
        items = list(value) if hasattr(value, "__len__") and not isinstance(value, (str, bytes)) else [value]
        out = np.array([float(v) for v in items], dtype=float)
    except (TypeError, ValueError):
        raise VolumeError(f"{path}: its {name} is not {n} numbers ({str(value)[:40]!r}); "
                          "fix or remove this file") from None
    if out.shape != (n,) or not np.all(np.isfinite(out)):
        raise VolumeError(f"{path}: its {name} is not {n} finite numbers ({str(value)[:40]!r}); "
                          "fix or remove this file")
    return out


def _headers(files) -> list[dict]:
    """Rows, Columns, PixelSpacing, orientation and position of every file (no pixel data is read)."""
    import pydicom

    out = []
    for f in files:
        path = Path(f)
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(_TAGS), force=True)
            rows, cols = ds.get("Rows"), ds.get("Columns")
            out.append({
                "path": path, "size": (None if rows is None else int(rows), None if cols is None else int(cols)),
                "spacing": _floats(ds, "PixelSpacing", 2, path),
                "orientation": _floats(ds, "ImageOrientationPatient", 6, path),
                "position": _floats(ds, "ImagePositionPatient", 3, path),
            })
        except VolumeError:
            raise
        except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on a damaged file
            first = (str(exc).splitlines() or [""])[0][:160]
            raise VolumeError(f"{path}: cannot read its DICOM header ({type(exc).__name__}: {first}); "
                              "fix or remove this file") from None
    return out


def _mm(x: float) -> str:
    return f"{x:.4g}"


def _check_same(folder: Path, heads: list[dict]) -> None:
    first = heads[0]
    for h in heads[1:]:
        if h["size"] != first["size"]:
            (r0, c0), (r1, c1) = first["size"], h["size"]
            raise VolumeError(f"{folder}: Rows/Columns differ between files ({r0}x{c0} in {first['path'].name} vs "
                              f"{r1}x{c1} in {h['path'].name}); {_FIX}")
    for key, tag in (("orientation", "ImageOrientationPatient"), ("spacing", "PixelSpacing")):
        missing = [h for h in heads if h[key] is None]
        if missing and len(missing) < len(heads):
            raise VolumeError(f"{folder}: {tag} is missing in {len(missing)} of {len(heads)} files "
                              f"(e.g. {missing[0]['path'].name}); {_FIX}")
    if first["orientation"] is not None:
        for h in heads[1:]:
            if np.max(np.abs(h["orientation"] - first["orientation"])) > _DIRECTION_TOL:
                raise VolumeError(f"{folder}: ImageOrientationPatient differs between files ({first['path'].name} vs "
                                  f"{h['path'].name}); {_FIX}")
    if first["spacing"] is not None:
        for h in heads[1:]:
            a, b = first["spacing"], h["spacing"]
            if np.any(np.abs(a - b) > np.maximum(REL_TOL * np.abs(a), ABS_TOL_MM)):
                i = int(np.argmax(np.abs(a - b)))
                raise VolumeError(f"{folder}: PixelSpacing differs between files ({_mm(a[i])} vs {_mm(b[i])} mm in "
                                  f"{first['path'].name} and {h['path'].name}); {_FIX}")


def _reference_step(steps: np.ndarray) -> float:
    """The step most gaps share (within tolerance); on a tie, the smallest."""
    tol = np.maximum(REL_TOL * np.abs(steps), ABS_TOL_MM)
    counts = (np.abs(steps[:, None] - steps[None, :]) <= tol[:, None]).sum(axis=1)
    best = counts == counts.max()
    return float(np.min(steps[best]))


def _check_positions(folder: Path, heads: list[dict]) -> None:
    missing = [h for h in heads if h["position"] is None]
    if len(missing) == len(heads) or heads[0]["orientation"] is None:
        return  # no patient geometry at all (e.g. ultrasound): nothing to check
    if missing:
        raise VolumeError(f"{folder}: ImagePositionPatient is missing in {len(missing)} of {len(heads)} files "
                          f"(e.g. {missing[0]['path'].name}); {_FIX}")
    o = heads[0]["orientation"]
    normal = np.cross(o[:3], o[3:])
    if np.linalg.norm(normal) < 0.5:
        raise VolumeError(f"{folder}: ImageOrientationPatient of {heads[0]['path'].name} is not two perpendicular unit "
                          f"vectors ({', '.join(_mm(v) for v in o)}); fix the files' orientation")
    normal /= np.linalg.norm(normal)
    pos = np.array([h["position"] for h in heads])
    z = pos @ normal
    order = np.argsort(z, kind="stable")
    z, pos = z[order], pos[order]
    names = [heads[i]["path"].name for i in order]
    steps = np.diff(z)
    for k, d in enumerate(steps):
        if d <= ABS_TOL_MM:
            raise VolumeError(f"{folder}: two slices share position z={_mm(z[k])} mm along the slice normal "
                              f"({names[k]} and {names[k + 1]}; a duplicate file or two series mixed?); {_FIX}")
    ref = _reference_step(steps)
    bad = np.abs(steps - ref) > max(REL_TOL * ref, ABS_TOL_MM)
    if bad.any():
        k = int(np.argmax(bad))
        ratio = steps[k] / ref
        whole = round(ratio) >= 2 and abs(ratio - round(ratio)) <= REL_TOL * ratio
        why = "a missing slice?" if whole else "uneven spacing"
        others = "the others" if len(steps) > 2 else "the other"
        raise VolumeError(f"{folder}: slices {k}-{k + 1} ({names[k]}, {names[k + 1]}) are {_mm(steps[k])} mm apart "
                          f"where {others} are {_mm(ref)} mm ({why}); {_FIX}")
    in_plane = pos - z[:, None] * normal[None, :]
    shift = np.linalg.norm(np.diff(in_plane, axis=0), axis=1)
    if shift.max() > max(REL_TOL * ref, ABS_TOL_MM):
        k = int(np.argmax(shift))
        raise VolumeError(f"{folder}: the slices do not stack along their normal ({names[k + 1]} is shifted "
                          f"{_mm(shift[k])} mm in-plane from {names[k]}; a tilted gantry?); {_FIX}")

def check_series_geometry(folder, files) -> None:
    """Refuse, in one line, a DICOM series that is not one regular grid.

    Parameters
    ----------
    folder : str or Path
        The series' folder (named in the message).
    files : sequence of str or Path
        The series' files (any order).

    Raises
    ------
    VolumeError
        Rows/Columns, PixelSpacing or ImageOrientationPatient differ between files; two slices share a
        position; the slice steps differ by more than 1% (or 0.01 mm), e.g. a missing slice; or the
        slices drift in-plane (a tilted gantry). A file whose header cannot be read is named.
    """
    folder = Path(folder)
    heads = _headers(files)
    if len(heads) < 2:
        return
    _check_same(folder, heads)
    _check_positions(folder, heads)
