"""The plugin shows its volume the radiological way: the patient's right-anterior at the screen's upper left
whether the file stores RAS or LPS, edge letters beside the image, neurological on request."""

import nibabel as nib
import numpy as np
import pytest

pytestmark = pytest.mark.gui


def marker_volume(path, stored):
    ras = np.full((5, 40, 60), 20.0, np.float32)
    ras[:, 30:38, 50:58] = 100.0  # (z, y, x): high y = anterior, high x = right in RAS storage
    if stored == "RAS":
        data, affine = ras, np.diag([1.0, 1.0, 2.0, 1.0])
    else:
        data, affine = ras[:, ::-1, ::-1], np.diag([-1.0, -1.0, 2.0, 1.0])
        affine[:2, 3] = 59, 39
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data.transpose(2, 1, 0)), affine), str(path))
    return path


def marker_quadrant(viewer, qtbot):
    """(top?, left?) of the marker within the image's grey rectangle in a screenshot of the canvas."""
    for layer in viewer.layers:
        layer.visible = layer.name == "image"
    viewer.layers["image"].contrast_limits = (0, 100)
    viewer.reset_view()
    qtbot.wait(100)
    rgb = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    grey = (rgb.max(-1) - rgb.min(-1) < 8)
    image = grey & (rgb[..., 0] > 30)
    ys, xs = np.nonzero(image)
    marker_y, marker_x = np.nonzero(grey & (rgb[..., 0] > 200))
    assert len(marker_y) > 20, "the marker is drawn"
    return marker_y.mean() < (ys.min() + ys.max()) / 2, marker_x.mean() < (xs.min() + xs.max()) / 2


@pytest.mark.parametrize("stored", ["RAS", "LPS"])
def test_the_patients_right_anterior_is_at_the_upper_left(make_napari_viewer, tiny_model, tmp_path, monkeypatch,
                                                          qtbot, stored):
    from labelassist.napari._orient import LETTERS_LAYER
    from labelassist.napari._reader import read
    from labelassist.napari._widget import LabelAssistWidget

    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer(show=True)
    data, meta, _ = read(str(marker_volume(tmp_path / f"{stored}.nii.gz", stored)))[0]
    viewer.add_image(data, **meta)
    widget = LabelAssistWidget(viewer, model=tiny_model, device="cpu", auto_compute=False)
    viewer.window.add_dock_widget(widget, name="LabelAssist")
    try:
        qtbot.waitUntil(lambda: widget.controller.state is not None, timeout=60_000)
        letters = viewer.layers[LETTERS_LAYER]
        assert sorted(set(letters.features["letter"])) == ["A", "L", "P", "R"] and len(letters.data) == 4 * 5
        assert marker_quadrant(viewer, qtbot) == (True, True)
        widget.neurological.setChecked(True)  # the dock's option, remembered for the next dock
        assert marker_quadrant(viewer, qtbot) == (True, False)
        from labelassist.widgets.preferences import convention

        assert convention() == "neurological"
    finally:
        widget.close_review()


def test_the_contrast_limits_are_the_sessions_window(dock, make_napari_viewer, tiny_model, volume_path, qtbot):
    """Contrast limits changed in napari come back when the volume is reviewed again."""
    from labelassist.napari._reader import read
    from labelassist.napari._widget import LabelAssistWidget

    viewer, widget = dock
    image = widget.view.image_layer
    image.contrast_limits = (0.25, 0.75)
    widget.close_review()
    viewer2 = make_napari_viewer()
    data, meta, _ = read(str(volume_path))[0]
    viewer2.add_image(data, **meta)
    widget2 = LabelAssistWidget(viewer2, model=tiny_model, device="cpu", auto_compute=False)
    try:
        qtbot.waitUntil(lambda: widget2.controller.state is not None, timeout=60_000)
        assert tuple(widget2.view.image_layer.contrast_limits) == pytest.approx((0.25, 0.75))
    finally:
        widget2.close_review()


@pytest.mark.parametrize("world, swap, orientation", [
    ("SAR", False, ("up", "left")),   # axial: anterior up, R to the left
    ("SRA", True, ("up", "left")),    # axial stored across: the dims swap
    ("ASR", False, ("up", "left")),   # coronal: superior up
    ("ARS", True, ("up", "left")),
    ("RSA", False, ("up", "left")),   # sagittal: superior up, anterior on the left
    ("RAS", True, ("up", "left")),
])
def test_the_camera_of_each_plane(world, swap, orientation):
    from labelassist.napari._orient import camera_orientation

    assert camera_orientation(world) == (swap, orientation)
    mirrored = camera_orientation(world, convention="neurological")[1]
    assert mirrored == (("up", "left") if world[0] == "R" else ("up", "right"))  # a sagittal slice has no sides


def test_an_ultrasound_still_gets_its_screen_dimmed(make_napari_viewer, tiny_model, tmp_path, monkeypatch, qtbot):
    import shutil
    import warnings

    from labelassist.napari._reader import read
    from labelassist.napari._widget import LabelAssistWidget

    src = pytest.importorskip("pydicom.data").get_testdata_file("US1_UNCR.dcm")
    if src is None:
        pytest.skip("US1_UNCR.dcm is not installed (pydicom-data)")
    path = tmp_path / "us.dcm"
    shutil.copy(src, path)
    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, meta, _ = read(str(path))[0]
    viewer.add_image(data, **meta)
    widget = LabelAssistWidget(viewer, model=tiny_model, device="cpu", auto_compute=False)
    try:
        qtbot.waitUntil(lambda: "outside" in [ly.name for ly in viewer.layers], timeout=60_000)
        outside = viewer.layers["outside"]
        area = widget.controller.area
        np.testing.assert_array_equal(np.asarray(outside.data[0]) > 0, ~area)
        assert not outside.editable and viewer.layers.selection.active is viewer.layers["boundaryfit"]
    finally:
        widget.close_review()


def test_another_readers_layer_is_shown_as_stored(make_napari_viewer, tiny_model, tmp_path, monkeypatch, qtbot):
    """A layer napari (or another plugin) read has no patient axes: its picture is not turned."""
    from labelassist.napari._widget import LabelAssistWidget

    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer(show=True)
    data = np.full((5, 40, 60), 20.0, np.float32)
    data[:, 2:10, 2:10] = 100.0  # top left as stored
    viewer.add_image(data, name="image")
    widget = LabelAssistWidget(viewer, model=tiny_model, device="cpu", auto_compute=False)
    viewer.window.add_dock_widget(widget, name="LabelAssist")
    try:
        qtbot.waitUntil(lambda: widget.controller.state is not None, timeout=60_000)
        assert "orientation" not in [ly.name for ly in viewer.layers]
        assert marker_quadrant(viewer, qtbot) == (True, True)
    finally:
        widget.close_review()
