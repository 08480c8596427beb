"""PNG, JPG, BMP and TIFF: one image is one slice, a multi-page TIFF or a folder of images is a stack.

Pixels are read by OpenCV (``IMREAD_UNCHANGED``: 16-bit and float values are kept as they are; BGR is
turned into RGB, alpha is dropped, an RGB image whose three channels are equal is grey).

Geometry of an image: 1 mm pixels, the row axis (y, top to bottom) pointing to world posterior and the
column axis (x, left to right) to the patient's left, slices stacking upwards: the affine is
``diag(-1, -1, 1, 1)``, orientation ``LPS``. A NIfTI viewer's radiological display (patient right on the
screen's left, anterior at the top) then shows the image exactly as an image viewer does: upright, not
mirrored. Nothing about the patient's position is known; this only fixes a grid that the label NIfTI
written beside the PNG masks shares with the images.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from labelassist.errors import VolumeError
from labelassist.io.formats.table import by_suffix
from labelassist.io.formats.limits import FLOAT_BYTES, MAX_SLICE_PIXELS, check_memory
from labelassist.io.formats.quiet import library_output
from labelassist.io.formats.sniff import TIFF_MAGIC
from labelassist.io.volume import Volume

__all__ = ["read_image", "read_image_folder", "natural_key", "IMAGE_AFFINE"]

IMAGE_AFFINE = np.diag([-1.0, -1.0, 1.0, 1.0])
# Largest image (pixels per page) labelassist reads: 16384 x 16384 = 2**28, i.e. 1 GiB per channel as float32.
MAX_PIXELS = MAX_SLICE_PIXELS
# No image codec here packs real pixels this much better than deflate's ~1000:1: a header asking for
# more than this many bytes per byte of file (and for more than 256 MiB) is lying.
_MAX_RATIO = 2000


def natural_key(path) -> list:
    """Sort key that puts ``img2`` before ``img10`` (digit runs compare as numbers, text ignores case)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", Path(path).name)]


def read_image(path) -> Volume:
    """Read one image as a :class:`Volume` of one slice (a multi-page TIFF: one slice per page).

    Parameters
    ----------
    path : str or Path
        A PNG, JPG/JPEG, BMP or TIFF/TIF file (8- or 16-bit, grey, RGB or RGBA; float TIFF too).

    Returns
    -------
    Volume
        ``format="image"``, ``array`` float32 ``(pages, y, x)`` for grey or ``(pages, y, x, 3)`` RGB with
        ``channel_names=("R", "G", "B")``; affine :data:`IMAGE_AFFINE` (1 mm, ``LPS``, upright);
        ``header["image_files"] == [path]``.

    Raises
    ------
    VolumeError
        One line starting with the path: missing, empty, corrupt, truncated or not an image, a header
        claiming more pixels than the file holds (before anything is allocated), pages of different
        sizes, an unsupported number of channels.
    """
    path = Path(path)
    planes = [_to_rgb_or_grey(p, path) for p in _planes(path)]
    names = [f"{path} (page {k + 1})" for k in range(len(planes))] if len(planes) > 1 else [str(path)]
    return _volume(_stack(planes, names), path, [path])


def read_image_folder(folder) -> Volume:
    """Read a folder of images as a stack, one slice per image (per page of a multi-page TIFF).

    Parameters
    ----------
    folder : str or Path
        A folder holding PNG, JPG/JPEG, BMP or TIFF files; other files (and hidden ones) are ignored.
        Images are stacked in natural order of their names (``img2`` before ``img10``).

    Returns
    -------
    Volume
        As :func:`read_image`; grey images are promoted to RGB when any image of the folder is colour;
        ``source_path`` is the folder and ``header["image_files"]`` the sorted list of image files.

    Raises
    ------
    VolumeError
        No image in the folder; an unreadable image (named); an image whose size differs from the
        first one (naming both files and both sizes).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise VolumeError(f"{folder}: not a folder" if folder.exists() else f"{folder}: no such folder")
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise VolumeError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    files = sorted(
        (p for p in entries if _is_image_name(p) and not p.name.startswith(".") and p.is_file()),
        key=natural_key,
    )
    if not files:
        raise VolumeError(f"{folder}: no images (PNG, JPG, BMP, TIFF) in this folder")
    planes, names = [], []
    for f in files:
        pages = _planes(f)
        for k, p in enumerate(pages):
            planes.append(_to_rgb_or_grey(p, f))
            names.append(f"{f} (page {k + 1})" if len(pages) > 1 else str(f))
    return _volume(_stack(planes, names), folder, files)


# -- helpers -------------------------------------------------------------------------------------------


@contextmanager
def _quiet_opencv(path: Path):
    """OpenCV and its codecs (libpng, libtiff...) print their complaints on stderr: OpenCV's own log is
    silenced, the codecs' lines become one warning when the image reads (our one-line error says it better
    when it does not)."""
    import cv2

    with library_output(path, library="the image decoder"), _silent_opencv_log(cv2):
        yield


@contextmanager
def _silent_opencv_log(cv2):
    try:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # pragma: no cover - very old OpenCV
        yield
        return
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _check_file(path: Path) -> int:
    if not path.exists():
        raise VolumeError(f"{path}: no such file")
    if not path.is_file():
        raise VolumeError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise VolumeError(f"{path}: the file is empty")
    return size


def _is_image_name(path: Path) -> bool:
    fmt = by_suffix(path)
    return fmt is not None and fmt.name == "image"


def _png_ihdr(path: Path) -> tuple[int, int, int, int] | None:
    """(width, height, pages, bands) from a PNG's IHDR chunk (the first 33 bytes), else None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(33)
    except OSError:
        return None
    if len(head) < 33 or not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return None
    bands = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(head[25], 4)
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"), 1, bands


def _declared_size(path: Path, *, tiff: bool) -> tuple[int, int, int, int] | None:
    """(width, height, pages, bands) the header declares, read without decoding a pixel; None if unknown."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return _png_ihdr(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bombs: the limits below judge; damaged EXIF & co: OpenCV judges
            with Image.open(path) as im:
                width, height = im.size
                pages = int(getattr(im, "n_frames", 1) or 1) if tiff else 1
                return width, height, pages, len(im.getbands())
    except Image.DecompressionBombError:
        raise VolumeError(f"{path}: header claims an image too large to read (Pillow's decompression-bomb "
                          "limit); the file is corrupt or must be cropped first") from None
    except Exception:  # noqa: BLE001 - Pillow cannot parse it: the PNG header, else let OpenCV try and judge
        return _png_ihdr(path)


def _check_claim(path: Path, size: int, *, tiff: bool) -> None:
    """Refuse a header claiming an absurd image, or one the memory cannot hold, from the header alone."""
    declared = _declared_size(path, tiff=tiff)
    if declared is None:
        return
    width, height, pages, bands = declared
    pixels = width * height
    need = pixels * pages * bands
    if pixels > MAX_PIXELS or (need > 2**28 and need > size * _MAX_RATIO):
        raise VolumeError(
            f"{path}: header claims {pages} page(s) of {width} x {height} x {bands} ({need:,} bytes) but the "
            f"file holds {size:,} bytes (at most {MAX_PIXELS:,} pixels a page are read); the file is corrupt "
            "or its header lies"
        )
    out_channels = 1 if bands <= 2 else 3
    check_memory(path, pixels * pages * (bands + FLOAT_BYTES * out_channels),
                 f"its {pages} page(s) of {width} x {height}")


def _planes(path: Path) -> list[np.ndarray]:
    """The decoded pages of an image file, as OpenCV gives them (BGR[A] for colour)."""
    import cv2

    size = _check_file(path)
    try:
        buf = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise VolumeError(f"{path}: cannot read ({exc.strerror or exc})") from None
    tiff = buf[:4].tobytes().startswith(TIFF_MAGIC)  # the content says TIFF (pages), whatever the name says
    _check_claim(path, size, tiff=tiff)
    with _quiet_opencv(path):
        try:
            if tiff:
                ok, pages = cv2.imdecodemulti(buf, cv2.IMREAD_UNCHANGED)
                if ok and pages:
                    return [np.asarray(p) for p in pages]
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:
            raise VolumeError(f"{path}: not a readable image ({' '.join(str(exc).split())[-120:]})") from None
        if img is None:
            raise VolumeError(f"{path}: not a readable image (corrupt, truncated or not an image)")
    return [img]


def _to_rgb_or_grey(plane: np.ndarray, path: Path) -> np.ndarray:
    """(y, x) grey or (y, x, 3) RGB float32; BGR(A) from OpenCV becomes RGB, alpha is dropped."""
    if plane.ndim == 3:
        channels = plane.shape[2]
        if channels in (1, 2):  # grey, grey + alpha
            plane = plane[:, :, 0]
        elif channels in (3, 4):
            plane = plane[:, :, 2::-1]  # BGR(A) -> RGB
            if np.array_equal(plane[..., 0], plane[..., 1]) and np.array_equal(plane[..., 0], plane[..., 2]):
                plane = plane[..., 0]
        else:
            raise VolumeError(f"{path}: an image with {channels} channels; labelassist reads grey, RGB or RGBA")
    elif plane.ndim != 2:
        raise VolumeError(f"{path}: {plane.ndim}-D image data {plane.shape}; labelassist reads 2-D images")
    return plane.astype(np.float32)


def _stack(planes: list[np.ndarray], names: list[str]) -> np.ndarray:
    if any(p.ndim == 3 for p in planes):  # mixed grey and colour: promote the grey ones
        planes = [np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p for p in planes]
    first = planes[0].shape[:2]
    for p, name in zip(planes, names):
        if p.shape[:2] != first:
            raise VolumeError(
                f"{name}: image size {p.shape[:2]} differs from {names[0]} {first} (rows, columns); "
                "a stack needs images of one size"
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
