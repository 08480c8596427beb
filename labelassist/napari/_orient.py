"""The radiological view in napari: the camera and the dims order for the plugin's layers, and edge letters.

napari's world axes are the volume's RAS axes, permuted to follow the array axes (:mod:`._geometry`), and it
shows the last two with the first increasing down and the second to the right. So an axial volume (world S, A,
R) is shown with anterior at the bottom and the patient's right on the screen's right. :func:`orient_viewer`
puts the plane's up axis (A for axial, S for coronal and sagittal) on the vertical (swapping the displayed dims
where the volume stores it across) and turns the camera so it increases upwards, and the horizontal axis
increases to the left (radiological: R to the left on axial and coronal; anterior on the left on sagittal) or to
the right (neurological, axial and coronal). The letters are a Points layer of text at the middle of each edge
of the image (just inside it), on the image's grid, so they follow pan, zoom and the camera.
"""

from __future__ import annotations

import numpy as np

from labelassist.io.orientation import CONVENTIONS, PLANES

__all__ = ["orient_viewer", "LETTERS_LAYER", "camera_orientation"]

LETTERS_LAYER = "orientation"
_UP = {"axial": "A", "coronal": "S", "sagittal": "S"}
_LOW = {"R": "L", "A": "P", "S": "I"}  # the world direction at a RAS axis' low end


def camera_orientation(world: str, *, convention: str = "radiological") -> tuple[bool, tuple[str, str]]:
    """(swap the displayed dims, napari's ``camera.orientation2d``) for world axes ``world`` (e.g. ``"SAR"``)."""
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}; got {convention!r}")
    plane = PLANES[world[0]]
    swap = world[1] != _UP[plane]
    mirror = convention == "neurological" and plane != "sagittal"
    return swap, ("up", "right" if mirror else "left")


def _letter_points(layer, world: str) -> tuple[np.ndarray, list[str]]:
    """Four letters per slice of ``layer`` (3-D), just inside the middle of each edge (so they are in view
    whenever the image is), in its data coordinates."""
    lo, hi = (np.asarray(e, float) for e in layer.extent.world)
    mid, pad = (lo + hi) / 2, -0.04 * float(np.max((hi - lo)[1:]))
    edges = []
    for axis in (1, 2):  # the displayed world axes: a letter at each end, midway along the other
        for end, letter in ((lo[axis] - pad, _LOW[world[axis]]), (hi[axis] + pad, world[axis])):
            point = mid.copy()
            point[axis] = end
            edges.append((point, letter))
    points, letters = [], []
    for k in range(int(layer.data.shape[0])):
        at = float(layer.data_to_world([k, 0, 0])[0])  # the slice's world position (slicing is orthogonal)
        for point, letter in edges:
            points.append(np.asarray(layer.world_to_data([at, point[1], point[2]]), float))
            letters.append(letter)
    return np.array(points), letters


def orient_viewer(viewer, layer, world: str, *, convention: str = "radiological", geometry: dict | None = None,
                  letters: bool = True, as_stored: bool = False):
    """Show ``layer`` (3-D, world axes ``world``) in ``convention`` and label its edges; returns the letters'
    Points layer (on ``layer``'s grid: ``geometry`` is its world transform, as the overlays'), replacing an older
    one; None with ``letters`` False (ultrasound, pictures: no patient axes to name). ``as_stored``: napari's own
    camera (a layer another reader made, whose axes say nothing of the patient)."""
    swap, orientation = (False, ("down", "right")) if as_stored else camera_orientation(world, convention=convention)
    order = list(range(viewer.dims.ndim))
    if swap and len(order) >= 2:
        order[-2], order[-1] = order[-1], order[-2]
    viewer.dims.order = tuple(order)
    getattr(viewer, "scene", viewer).camera.orientation2d = orientation  # napari 0.9: viewer.scene.camera
    old = next((ly for ly in viewer.layers if ly.name == LETTERS_LAYER), None)
    if old is not None:
        viewer.layers.remove(old)
    if not letters:
        return None
    points, letters = _letter_points(layer, world)
    active = viewer.layers.selection.active
    out = viewer.add_points(points, name=LETTERS_LAYER, features={"letter": letters}, size=0.01,
                            face_color="transparent", border_color="transparent",
                            text={"string": "{letter}", "color": "#ffdc78", "size": 14}, **(geometry or {}))
    out.editable = False
    viewer.layers.selection.active = active
    return out
