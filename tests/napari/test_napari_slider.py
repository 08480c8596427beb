"""napari's slider shows the volume's slice numbers (issue 18), while every layer stays on the scan in world space."""

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _slider_numbers():
    """The numbers napari's slice slider shows: (current, last) from its two slice labels."""
    from qtpy.QtWidgets import QApplication, QLabel, QLineEdit

    for top in QApplication.topLevelWidgets():
        current = [w for w in top.findChildren(QLineEdit, "slice_label") if w.isVisible()]
        last = [w for w in top.findChildren(QLabel, "slice_label") if w.isVisible()]
        if current and last:
            return int(current[0].text()), int(last[0].text())
    return None


def test_slider_shows_the_slice_index_and_names_it_where_it_cannot(qtbot, dock):
    viewer, widget = dock
    c, view = widget.controller, widget.view
    viewer.window.show()
    n = c.state.n_slices
    assert viewer.dims.axis_labels == ("slice", "A", "R")  # napari's default reads "-3", "-2", "-1"
    assert all(layer.axis_labels == ("slice", "A", "R") for layer in viewer.layers)
    for i in (0, 3, n - 1):
        view.set_current_index(i)
        qtbot.waitUntil(lambda: c.current == i, timeout=5000)
        assert viewer.dims.current_step[0] == i and view.current_index() == i
        qtbot.waitUntil(lambda: _slider_numbers() == (i, n - 1), timeout=5000)
    image = widget.view.image_layer
    for layer in viewer.layers:  # the geometry is untouched: each voxel of each layer on the scan's world point
        np.testing.assert_allclose(layer.data_to_world([2, 5, 7]), image.data_to_world([2, 5, 7]))

    # A volume whose slices run down the world axis: napari's slider counts from the world's low end, so the
    # label names the slice under review.
    from labelassist.io import Volume, load_volume
    from labelassist.napari._reader import image_layer_data

    volume = load_volume(c.volume.source_path)
    affine = np.array(volume.affine, float)
    affine[:3, 2] *= -1  # voxel k = array z runs down S
    flipped = Volume(array=volume.array, affine=affine, spacing=volume.spacing,
                     source_path=volume.source_path.with_name("down.nii.gz"), format=volume.format, header={})
    data, meta, _ = image_layer_data(flipped, name="down")
    viewer.layers.remove(widget.view.image_layer)  # only the new scan in the viewer: the range is its own
    viewer.add_image(data, **meta)
    qtbot.waitUntil(lambda: c.volume is not None and c.volume.source_path.name == "down.nii.gz", timeout=60_000)
    n = c.state.n_slices
    widget.view.set_current_index(1)
    qtbot.waitUntil(lambda: c.current == 1, timeout=5000)
    assert viewer.dims.current_step[0] == n - 2 and viewer.dims.axis_labels[0] == "slice 1"
    image = widget.view.image_layer
    np.testing.assert_allclose(viewer.layers["boundaryfit"].data_to_world([1, 5, 7]), image.data_to_world([1, 5, 7]))
