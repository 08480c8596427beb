"""How a slice is put on the screen, worked out from the volume's affine (not its voxel order).

A slice of a volume (array axis 0, 1 or 2 held fixed) has two in-plane voxel axes: its rows and its columns.
:func:`slice_orientation` says which of them runs across the screen and in which direction, so that every
slice is shown in the radiological convention (ITK-SNAP's, 3D Slicer's):

========  ====================  ====================
plane     screen up             screen right
========  ====================  ====================
axial     anterior              patient's left (the patient's right is on the screen's left)
coronal   superior              patient's left
sagittal  superior              posterior (anterior on the left)
========  ====================  ====================

The neurological convention mirrors left and right on axial and coronal slices (the patient's right on the
screen's right); a sagittal slice has no left and right and looks the same in both.

The plane is the world axis (R, A or S) that the slice's normal voxel axis points along most, as nibabel's
``aff2axcodes`` assigns them; an oblique volume is shown as the plane it is closest to. Files without patient
geometry (images, ultrasound, DICOM without ImageOrientationPatient) carry the image convention (x to the left,
y to posterior, as :data:`labelassist.io.formats.images.IMAGE_AFFINE`), which this rule shows as stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["SliceOrientation", "slice_orientation", "CONVENTIONS", "PLANES", "voxel_ijk", "cursor_text",
           "is_display_image"]

CONVENTIONS = ("radiological", "neurological")
PLANES = {"S": "axial", "A": "coronal", "R": "sagittal"}  # the world axis a slice's normal runs along
_OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}
_AXIS = {"R": "R", "L": "R", "A": "A", "P": "A", "S": "S", "I": "S"}
# (screen right, screen down) world directions per plane, radiological
_SCREEN = {"axial": ("L", "P"), "coronal": ("L", "I"), "sagittal": ("P", "I")}
_IN_PLANE = {0: (1, 2), 1: (0, 2), 2: (0, 1)}  # array axis held -> (rows, columns) array axes


@dataclass(frozen=True)
class SliceOrientation:
    """How the slice's pixel grid (rows, columns) is put on the screen.

    Attributes
    ----------
    plane : str
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    transpose : bool
        The slice's rows run across the screen (its columns down): the first in-plane axis is horizontal.
    flip_x, flip_y : bool
        After the transpose, the screen's horizontal (vertical) axis runs against the voxel index.
    letters : tuple of 4 str
        The world direction at the screen's (left, right, top, bottom) edge, e.g. ``("R", "L", "A", "P")``.
    """

    plane: str
    transpose: bool = False
    flip_x: bool = False
    flip_y: bool = False
    letters: tuple[str, str, str, str] = ("", "", "", "")

    def to_screen(self, array2d: np.ndarray) -> np.ndarray:
        """``array2d`` (rows, columns, ...) as the screen shows it (a view: no copy)."""
        out = np.swapaxes(array2d, 0, 1) if self.transpose else array2d
        if self.flip_y:
            out = out[::-1]
        if self.flip_x:
            out = out[:, ::-1]
        return out


def _codes(affine) -> str:
    import nibabel.orientations as nio

    return "".join(nio.aff2axcodes(np.asarray(affine, dtype=float)))


def slice_orientation(affine, axis: int = 0, *, convention: str = "radiological") -> SliceOrientation:
    """The screen orientation of slices taken along array ``axis`` of a volume with voxel-to-world ``affine``.

    Parameters
    ----------
    affine : array (4, 4)
        Voxel (x, y, z) to world (RAS+, mm), as :attr:`labelassist.io.Volume.affine`.
    axis : int
        The array axis held fixed: 0 (z, the volume's slices), 1 (y) or 2 (x). The slice is ``array[k]``,
        ``array[:, k]`` or ``array[:, :, k]``: rows and columns are the other two array axes, in order.
    convention : {"radiological", "neurological"}
        Radiological: the patient's right on the screen's left; neurological: on the right.

    Returns
    -------
    SliceOrientation

    Examples
    --------
    >>> o = slice_orientation(np.diag([1.0, 1.0, 1.0, 1.0]))  # RAS: x to the right, y anterior
    >>> o.plane, o.transpose, o.flip_x, o.flip_y, o.letters
    ('axial', False, True, True, ('R', 'L', 'A', 'P'))
    """
    if convention not in CONVENTIONS:
        raise ParameterError(f"convention must be one of {', '.join(CONVENTIONS)}; got {convention!r}")
    if axis not in _IN_PLANE:
        raise ParameterError(f"axis must be 0, 1 or 2 (the array axis held fixed); got {axis!r}")
    codes = _codes(affine)  # per voxel axis x, y, z = array axes 2, 1, 0
    letter = {2 - v: codes[v] for v in range(3)}  # array axis -> the world direction it increases towards
    plane = PLANES[_AXIS[letter[axis]]]
    right, down = _SCREEN[plane]
    if convention == "neurological" and plane != "sagittal":
        right = _OPPOSITE[right]
    rows, cols = _IN_PLANE[axis]
    transpose = _AXIS[letter[rows]] == _AXIS[right]  # the rows' axis runs across the screen
    across, updown = (rows, cols) if transpose else (cols, rows)
    flip_x, flip_y = letter[across] != right, letter[updown] != down
    return SliceOrientation(plane, transpose, flip_x, flip_y,
                            (_OPPOSITE[right], right, _OPPOSITE[down], down))


def voxel_ijk(axis: int, index: int, row: int, col: int) -> tuple[int, int, int]:
    """Voxel indices (i, j, k) = (x, y, z) of pixel (``row``, ``col``) of slice ``index`` along array ``axis``."""
    zyx = [0, 0, 0]
    rows, cols = _IN_PLANE[axis]
    zyx[axis], zyx[rows], zyx[cols] = int(index), int(row), int(col)
    return zyx[2], zyx[1], zyx[0]


def cursor_text(volume, axis: int, index: int, row: float, col: float) -> str:
    """``voxel (i, j, k)  RAS (x, y, z) mm  = value`` under the cursor, or ``""`` outside the slice."""
    r, c = int(round(row)), int(round(col))
    i, j, k = voxel_ijk(axis, index, r, c)
    z, y, x = volume.shape
    if not (0 <= i < x and 0 <= j < y and 0 <= k < z):
        return ""
    value = volume.array[k, j, i]
    shown = f"{float(value):.4g}" if np.ndim(value) == 0 else ", ".join(f"{float(v):.3g}" for v in value)
    ras = volume.voxel_to_world(np.array([k, j, i]))
    return (f"voxel ({i}, {j}, {k})   RAS ({ras[0]:.1f}, {ras[1]:.1f}, {ras[2]:.1f}) mm   = {shown}")


def is_display_image(volume) -> bool:
    """True for pictures already mapped for a screen (ultrasound, photographs and image stacks): shown over their
    full range, not through a body window."""
    return str(getattr(volume, "modality", "")).upper() == "US" or getattr(volume, "format", "") == "image"
