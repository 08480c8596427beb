"""Every format labelassist reads and writes, in one table (in the shape of nibabel's image classes).

Each :class:`Format` is a small record: its name (what ``Volume.format`` says), its suffixes (multi-part
ones such as ``.nii.gz`` first), how to sniff it (the magic bytes of a file, the files of a folder), its
reader, and the suffixes labels can be written with. Whatever asks "what is this path?" asks here:
:func:`labelassist.io.load_volume` (sniff the content, check that the suffix does not lie, then read),
the napari reader (:func:`by_suffix`), :func:`labelassist.io.save_labels` (:data:`WRITABLE_SUFFIXES`),
sessions' export names (:func:`split_suffix`) and ``labelassist info`` (:func:`get_format`).

A file is sniffed in the order of :data:`FORMATS`; MetaImage's test (a printable text header naming
``ObjectType`` or ``NDims``) cannot match the binary magic of the DICOM and image formats after it.
A folder is a DICOM series when it holds a DICOM file, else a stack when it holds an image.

Two-file formats: a detached NRRD (.nhdr) or MetaImage (.mhd) header names its data file, which the
reader checks; an Analyze/NIfTI pair is a ``.hdr`` and an ``.img`` of the same stem, and an ``.img``
(voxels only, no magic) is sniffed by its ``.hdr``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labelassist.errors import ParameterError, VolumeError
from labelassist.io.formats import sniff as _sniff

__all__ = [
    "Format", "FORMATS", "READABLE_SUFFIXES", "WRITABLE_SUFFIXES", "get_format", "by_suffix", "split_suffix",
    "sniff_file", "check_format", "find_format", "visible_files", "file_filter",
]


@dataclass(frozen=True)
class Format:
    """One format labelassist reads (and perhaps writes labels in).

    Attributes
    ----------
    name : str
        Short name; a Volume read in this format has it as its ``format`` (a folder of images: ``"image"``).
    title : str
        For people: ``"NIfTI"``, ``"DICOM series"``, ...
    what : str
        The same in a sentence: ``"a NIfTI file"`` (``"the extension says a NIfTI file but ..."``).
    suffixes : tuple of str
        Lower-case file suffixes, multi-part ones first; ``()`` for a folder format.
    sniff : callable
        A file format: ``sniff(head: bytes) -> bool`` on the file's first 1024 bytes (decompressed when
        the format is ``gzip`` and the file is gzip). A folder format: ``sniff(files: list[Path]) -> bool``
        on the folder's visible files (see :func:`visible_files`).
    read : callable
        ``read(path: Path, *, channel: int | None = None) -> Volume``; it imports its library when called.
    write_suffixes : tuple of str
        The suffixes labels (and maps) are written with in this format; ``()``: labelassist does not write it.
    folder : bool
        A folder format (DICOM series, image stack).
    gzip : bool
        The whole file may be gzip-compressed (``.nii.gz``).
    channels : bool
        The reader reads a 4th axis and takes ``channel=``; the others refuse ``channel``.
    trust_suffix : bool
        Content without any magic bytes is read when the suffix names this format (DICOM data sets
        written without the 128-byte preamble; the reader decides).
    listed_with : str
        The name of the format whose file-dialog entry lists this one's suffixes too (:func:`file_filter`);
        ``""``: an entry of its own.
    """

    name: str
    title: str
    what: str
    suffixes: tuple[str, ...]
    sniff: Callable
    read: Callable
    write_suffixes: tuple[str, ...] = ()
    folder: bool = False
    gzip: bool = False
    channels: bool = False
    trust_suffix: bool = False
    listed_with: str = ""

    @property
    def writes_labels(self) -> bool:
        """Whether :func:`labelassist.io.save_labels` writes labels in this format."""
        return bool(self.write_suffixes)


# -- readers (each imports its library only when it reads) ---------------------------------------------


_PAIR_HEADER, _PAIR_DATA = ".hdr", ".img"  # an Analyze/NIfTI pair (suffixes of the nifti format below)


def _pair_partner(path: Path, suffix: str) -> Path:
    """The other file of a .hdr/.img pair: same stem, ``suffix`` in the case of ``path``'s own suffix."""
    own = path.name[-4:]
    return path.with_name(path.name[:-4] + (suffix.upper() if own.isupper() else suffix))


def _read_nifti(path: Path, *, channel: int | None = None):
    name = path.name.lower()
    if name.endswith(_PAIR_HEADER) or name.endswith(_PAIR_DATA):
        from labelassist.io.formats.nibabel_formats import read_pair

        is_header = name.endswith(_PAIR_HEADER)
        header = path if is_header else _pair_partner(path, _PAIR_HEADER)
        data = _pair_partner(path, _PAIR_DATA) if is_header else path
        return read_pair(header, data, channel=channel, source=path)
    from labelassist.io.formats.nifti import read_nifti

    return read_nifti(path, channel=channel)


def _read_mgh(path: Path, *, channel: int | None = None):
    from labelassist.io.formats.nibabel_formats import read_mgh

    return read_mgh(path, channel=channel)


def _read_minc(path: Path, *, channel: int | None = None):
    from labelassist.io.formats.nibabel_formats import read_minc

    return read_minc(path, channel=channel)


def _read_nrrd(path: Path, *, channel: int | None = None):
    from labelassist.io.formats.itk import read_itk

    return read_itk(path, "nrrd", channel=channel)


def _read_mha(path: Path, *, channel: int | None = None):
    from labelassist.io.formats.itk import read_itk

    return read_itk(path, "mha", channel=channel)


def _read_dicom(path: Path, *, channel: int | None = None):
    from labelassist.errors import LabelAssistError
    from labelassist.io.formats.dicom import read_dicom_file

    try:
        return read_dicom_file(path)
    except (LabelAssistError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom parses elements when they are first used: any use may fail
        first = (str(exc).splitlines() or [""])[0][:160]
        raise VolumeError(f"{path}: a damaged DICOM data element ({type(exc).__name__}: {first}); "
                          "the file is corrupt: export it again") from None


def _read_image(path: Path, *, channel: int | None = None):
    from labelassist.io.formats.images import read_image

    return read_image(path)


def _read_dicom_folder(folder: Path, *, channel: int | None = None):
    """One DICOM file in the folder: that file (single- or multi-frame); more: the largest series."""
    dicoms = []
    for p in visible_files(folder):
        if _is_dicom_file(p):
            dicoms.append(p)
            if len(dicoms) > 1:
                from labelassist.io.formats.itk import read_dicom_series

                return read_dicom_series(folder)
    if not dicoms:
        raise VolumeError(f"{folder}: no DICOM files in this folder")
    return _read_dicom(dicoms[0])


def _read_image_folder(folder: Path, *, channel: int | None = None):
    from labelassist.io.formats.images import read_image_folder

    return read_image_folder(folder)


# -- folder sniffing -------------------------------------------------------------------------------------


def _is_dicom_file(path: Path) -> bool:
    if by_suffix(path) is _DICOM:
        return True
    try:
        with open(path, "rb") as fh:
            return _sniff.is_dicom(fh.read(132))
    except OSError:
        return False


def _has_dicom(files: list[Path]) -> bool:
    return any(_is_dicom_file(p) for p in files)


def _has_image(files: list[Path]) -> bool:
    return any(by_suffix(p) is _IMAGE for p in files)


# -- the table -------------------------------------------------------------------------------------------

_DICOM = Format(
    "dicom", "DICOM", "a DICOM file", (".dcm", ".dicom", ".ima"), _sniff.is_dicom, _read_dicom, trust_suffix=True
)
_IMAGE = Format(
    "image", "PNG, JPG, BMP, TIFF", "an image", (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"),
    _sniff.is_image, _read_image,
)

FORMATS: tuple[Format, ...] = (
    Format("nifti", "NIfTI", "a NIfTI file", (".nii.gz", ".nii", _PAIR_HEADER, _PAIR_DATA), _sniff.is_nifti_or_analyze,
           _read_nifti, write_suffixes=(".nii.gz", ".nii"), gzip=True, channels=True),
    Format("nrrd", "NRRD", "an NRRD file", (".nrrd", ".nhdr"), _sniff.is_nrrd, _read_nrrd,
           write_suffixes=(".nrrd",), channels=True),
    Format("mha", "MetaImage", "a MetaImage file", (".mha", ".mhd"), _sniff.is_metaimage, _read_mha,
           write_suffixes=(".mha",), channels=True),
    _DICOM,
    _IMAGE,
    Format("mgh", "FreeSurfer MGH", "a FreeSurfer MGH file", (".mgz", ".mgh"), _sniff.is_mgh, _read_mgh,
           gzip=True, channels=True, listed_with="nifti"),
    Format("minc", "MINC", "a MINC file", (".mnc",), _sniff.is_minc, _read_minc, listed_with="nifti"),
    Format("dicom-series", "DICOM series", "a DICOM folder", (), _has_dicom, _read_dicom_folder, folder=True),
    Format("image-folder", "folder of images", "a folder of images", (), _has_image, _read_image_folder, folder=True),
)
"""Every format, files first, in the order a file (a folder) is sniffed."""

READABLE_SUFFIXES: tuple[str, ...] = tuple(s for f in FORMATS for s in f.suffixes)
"""Every file suffix labelassist reads (lower case)."""
WRITABLE_SUFFIXES: tuple[str, ...] = tuple(s for f in FORMATS for s in f.write_suffixes)
"""Every suffix labels can be written with (lower case): ``.nii.gz``, ``.nii``, ``.nrrd``, ``.mha``."""

_LONGEST_FIRST = sorted(((s, f) for f in FORMATS for s in f.suffixes), key=lambda sf: -len(sf[0]))
_OTHER_KINDS = {"gzip": "a gzip file", "text": "a text file", "unknown": "an unknown kind of file"}


def get_format(name: str) -> Format:
    """The format called ``name`` (``"nifti"``, ``"dicom-series"``, ...; a Volume's ``format``)."""
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise ParameterError(f"format must be one of {', '.join(f.name for f in FORMATS)}; got {name!r}")


def by_suffix(path) -> Format | None:
    """The file format ``path``'s name promises (case-insensitive; no file is opened), or None."""
    name = Path(path).name.lower()
    return next((fmt for suffix, fmt in _LONGEST_FIRST if name.endswith(suffix)), None)


def split_suffix(path) -> tuple[str, str]:
    """``(stem, suffix)`` of a file name: a known suffix whole (``scan.nii.gz`` -> ``("scan", ".nii.gz")``),
    else the last one (``a.b.txt`` -> ``("a.b", ".txt")``), else none (``("folder", "")``). The suffix
    keeps the name's case."""
    name = Path(path).name
    lower = name.lower()
    for suffix, _ in _LONGEST_FIRST:
        if lower.endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix):]
    p = Path(name)
    return (p.stem, p.suffix) if p.suffix else (name, "")


def visible_files(folder) -> list[Path]:
    """The folder's regular, non-hidden files, sorted by name (a one-line error when it cannot be listed)."""
    folder = Path(folder)
    if not os.access(folder, os.R_OK | os.X_OK):
        raise VolumeError(f"{folder}: permission denied (cannot list the folder)")
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        raise VolumeError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None


def sniff_file(path) -> str:
    """The name of the format a file's content is in (its first bytes), else ``"gzip"``, ``"text"`` or
    ``"unknown"``. The suffix is not looked at."""
    path = Path(path)
    head = _sniff.read_head(path)
    compressed = head.startswith(_sniff.GZIP_MAGIC)
    if compressed:
        head = _sniff.gunzip_head(path)
    for fmt in FORMATS:
        if not fmt.folder and (fmt.gzip or not compressed) and fmt.sniff(head):
            return fmt.name
    if compressed:
        return "gzip"
    return "text" if _sniff.is_text(head) else "unknown"


def _what(kind: str) -> str:
    return next((f.what for f in FORMATS if f.name == kind), _OTHER_KINDS.get(kind, kind))


def check_format(path) -> Format:
    """The format labelassist reads ``path`` in, checked before any reader sees it.

    A folder is sniffed by its files; a file by its content, which must agree with what its suffix
    promises (a file with no or an unknown suffix is read as what its content is).

    Raises
    ------
    VolumeError
        One line starting with the path: missing, empty or unreadable; a suffix that lies about the
        content; content labelassist does not read; a folder with no DICOM file and no image.
    """
    path = Path(path)
    if path.is_dir():
        files = visible_files(path)
        fmt = next((f for f in FORMATS if f.folder and f.sniff(files)), None)
        if fmt is None:
            raise VolumeError(f"{path}: no DICOM files or images ({_IMAGE.title}) in this folder")
        return fmt
    _sniff.check_readable_file(path)
    promised = by_suffix(path)
    sniffed = path
    if path.name.lower().endswith(_PAIR_DATA):  # voxels only: the pair's header says what it is
        sniffed = _pair_partner(path, _PAIR_HEADER)
        if not sniffed.is_file():
            raise VolumeError(f"{path}: an Analyze/NIfTI .img holds voxels only and its header {sniffed} is missing; "
                              "put the .hdr next to it")
    actual = sniff_file(sniffed)
    if promised is not None and actual != promised.name:
        if promised.trust_suffix and actual == "unknown":
            return promised
        raise VolumeError(f"{path}: the extension says {promised.what} but the content is {_what(actual)}")
    if actual in _OTHER_KINDS:
        expected = ", ".join(f.title for f in FORMATS if not f.folder)
        raise VolumeError(
            f"{path}: not an image or volume labelassist reads ({_what(actual)}); "
            f"expected {' or '.join(expected.rsplit(', ', 1))}"
        )
    return get_format(actual)


def find_format(path) -> Format | None:
    """The format labelassist would read ``path`` in (as :func:`check_format`), or None when it cannot."""
    try:
        return check_format(path)
    except VolumeError:
        return None


def file_filter(*, writable: bool = False) -> str:
    """A file dialog's name filter: one entry per format (``"NIfTI (*.nii.gz *.nii);;NRRD (*.nrrd)..."``),
    with the formats ``listed_with`` it, of the suffixes read, or with ``writable=True`` of those labels are
    written with."""
    entries = []
    for fmt in FORMATS:
        if fmt.listed_with:
            continue
        group = [fmt, *(f for f in FORMATS if f.listed_with == fmt.name)]
        group = [f for f in group if (f.write_suffixes if writable else f.suffixes)]
        suffixes = [s for f in group for s in (f.write_suffixes if writable else f.suffixes)]
        if suffixes:
            entries.append(f"{', '.join(f.title for f in group)} ({' '.join('*' + s for s in suffixes)})")
    return ";;".join(entries)
