"""PNG, JPG, BMP and TIFF: one image is one slice, a folder of images is a stack.

Geometry of an image: 1 mm pixels, row axis (y) pointing to world anterior->posterior and column axis (x)
to right->left, as a radiological display: the affine is ``diag(-1, -1, 1)`` (orientation ``LPS``) with
slice ``z`` stacking upwards. Nothing about patient position is known; this only fixes a grid that the
NIfTI written beside the PNG masks shares with the images.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from labelassist.errors import VolumeError
from labelassist.io.volume import Volume

__all__ = ["read_image", "read_image_folder", "natural_key", "IMAGE_AFFINE"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
IMAGE_AFFINE = np.diag([-1.0, -1.0, 1.0, 1.0])


def natural_key(path: Path):
    """Sort key that puts ``img2`` before ``img10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", Path(path).name)]


def _planes(path: Path) -> list[np.ndarray]:
    import cv2

    if path.suffix.lower() in (".tif", ".tiff"):
        ok, pages = cv2.imreadmulti(str(path), flags=cv2.IMREAD_UNCHANGED)
        if ok and pages:
            return [np.asarray(p) for p in pages]
    buf = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise VolumeError(f"{path}: not a readable image (corrupt, truncated or not an image)")
    return [img]


def _to_rgb_or_grey(plane: np.ndarray) -> np.ndarray:
    """(y, x) grey or (y, x, 3) RGB float32; BGR(A) from OpenCV becomes RGB, alpha is dropped."""
    if plane.ndim == 3:
        if plane.shape[2] == 4:
            plane = plane[:, :, :3]
        if plane.shape[2] == 1:
            plane = plane[:, :, 0]
        else:
            plane = plane[:, :, ::-1]  # BGR -> RGB
            if np.array_equal(plane[..., 0], plane[..., 1]) and np.array_equal(plane[..., 0], plane[..., 2]):
                plane = plane[..., 0]
    return plane.astype(np.float32)


def _stack(planes: list[np.ndarray], names: list[Path], source: Path) -> np.ndarray:
    colour = any(p.ndim == 3 for p in planes)
    if colour:
        planes = [np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p for p in planes]
    first = planes[0].shape
    for p, name in zip(planes, names):
        if p.shape != first:
            raise VolumeError(
                f"{name}: image size {p.shape[:2]} differs from {names[0].name} {first[:2]}; a stack needs one size"
            )
    return np.ascontiguousarray(np.stack(planes))


def _volume(array: np.ndarray, source: Path, files: list[Path]) -> Volume:
    return Volume(
        array=array,
        affine=IMAGE_AFFINE.copy(),
        spacing=(1.0, 1.0, 1.0),
        source_path=source,
        format="image",
        modality="",
        channel_names=("R", "G", "B") if array.ndim == 4 else (),
        header={"image_files": files},
    )


def read_image(path) -> Volume:
    """One image (a multi-page TIFF: one slice per page) as a :class:`Volume` (1, y, x[, 3])."""
    path = Path(path)
    planes = [_to_rgb_or_grey(p) for p in _planes(path)]
    names = [path] * len(planes)
    return _volume(_stack(planes, names, path), path, [path])


def read_image_folder(folder) -> Volume:
    """A folder of images as a stack, sorted naturally (``img2`` before ``img10``); other files are ignored."""
    folder = Path(folder)
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
        key=natural_key,
    )
    if not files:
        raise VolumeError(f"{folder}: no images (PNG, JPG, BMP, TIFF) in this folder")
    planes, names = [], []
    for f in files:
        for p in _planes(f):
            planes.append(_to_rgb_or_grey(p))
            names.append(f)
    return _volume(_stack(planes, names, folder), folder, files)
