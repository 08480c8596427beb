"""The napari plugin end to end in a real X server: manifest, layers, geometry, review, export, threads."""

import os
import subprocess
import sys

import numpy as np
import pytest

from labelassist.core.review import ACCEPTED, CORRECTED, REJECTED
from labelassist.io import load_volume

WAIT = 60_000

pytestmark = pytest.mark.gui


def test_manifest_validates_and_widget_opens_from_plugin(make_napari_viewer, labelassist_plugin):
    # npe2 prints a check mark: UTF-8 both ways, whatever the locale (CI may have none)
    env = {**os.environ, "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"}
    out = subprocess.run([sys.executable, "-m", "npe2", "validate", "labelassist"], capture_output=True,
                         encoding="utf-8", errors="replace", env=env)
    assert out.returncode == 0 and "valid" in out.stdout + out.stderr, out.stdout + out.stderr
    mf = labelassist_plugin.get_manifest("labelassist")
    c = mf.contributions
    assert [w.display_name for w in c.widgets] == ["LabelAssist"]
    assert c.readers and c.writers[0].layer_types == ["labels"]
    assert {s.key for s in c.sample_data} == {"demo_mri", "demo_ultrasound", "demo_ultrasound_cine"}
    viewer = make_napari_viewer()
    dock_widget, widget = viewer.window.add_plugin_dock_widget("labelassist", "LabelAssist")
    from labelassist.napari._widget import LabelAssistWidget

    assert isinstance(widget, LabelAssistWidget) and widget.panel.isVisibleTo(dock_widget)
    widget.close_review()


def test_reader_claims_volumes_only(volume_path, tmp_path):
    from labelassist.napari._reader import get_reader

    assert get_reader(str(volume_path)) is not None and get_reader(str(tmp_path)) is not None
    assert get_reader(str(tmp_path / "notes.txt")) is None


def test_volume_run_fills_the_four_layers_on_the_volume_grid(qtbot, dock, run_volume):
    viewer, widget = dock
    assert run_volume(widget) == {"indices": list(range(6))}
    assert [ly.name for ly in viewer.layers] == ["image", "grad-cam", "perimeter", "boundaryfit", "suggested",
                                                 "orientation"]  # the edge letters on top
    cam, perim, labels = (viewer.layers[n] for n in ("grad-cam", "perimeter", "boundaryfit"))
    assert cam.data.max() > 0.5 and tuple(cam.contrast_limits) == (0.0, 1.0) and cam.blending == "translucent"
    assert perim.data.any() and labels.data.any()
    assert labels.data is widget.controller.state.labels  # painting edits the review's labels directly
    volume = widget.controller.volume
    for voxel in ([0, 0, 0], [5, 10, 40]):  # a voxel of every layer lands on the volume's world point
        ras = volume.voxel_to_world(np.array(voxel, float))
        for layer in viewer.layers:
            world = np.asarray(layer.data_to_world(voxel))
            np.testing.assert_allclose(sorted(world), sorted(ras), atol=1e-6)
        np.testing.assert_allclose(labels.data_to_world(voxel), ras[[2, 1, 0]], atol=1e-6)  # axes S, A, R
    assert "nifti_header" in labels.metadata["labelassist_geometry"]["header"]


def test_slider_change_refits_only(qtbot, dock, run_volume):
    viewer, widget = dock
    run_volume(widget)
    c = widget.controller
    jobs = []
    c.engine.job_posted.connect(lambda job: jobs.append(job.name))
    i = c.current
    before, cam, perimeter = viewer.layers["boundaryfit"].data.copy(), c.cam.copy(), c.perimeter.copy()
    widget.panel.threshold.setValue(0.95)
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers["boundaryfit"].data[i], before[i]), timeout=5000)
    # a parameter update, then the shown slice re-fitted (the default CRF needs the slice's image: the engine's)
    assert jobs[0] == "params" and set(jobs) <= {"params", "slice"}
    np.testing.assert_array_equal(c.cam, cam)  # no CAM, no perimeter computed again
    np.testing.assert_array_equal(c.perimeter, perimeter)
    np.testing.assert_array_equal(viewer.layers["grad-cam"].data, c.cam)


def _stroke(viewer, qtbot, start, end):
    """A mouse drag on the canvas (one stroke) in canvas pixels."""
    from vispy.app.canvas import MouseEvent

    canvas = viewer.window._qt_viewer.canvas._scene_canvas
    canvas.events.mouse_press(pos=start, modifiers=(), button=1)
    for t in np.linspace(0, 1, 6)[1:]:
        pos = tuple(np.round(np.add(start, t * np.subtract(end, start))).astype(int))
        canvas.events.mouse_move(pos=pos, modifiers=(), button=1,
                                 press_event=MouseEvent(pos=start, modifiers=(), button=1, type="mouse_press"))
    canvas.events.mouse_release(pos=end, modifiers=(), button=1)
    qtbot.wait(20)


def test_painting_marks_corrected_in_one_undo_step_and_survives_recompute(qtbot, dock, run_volume):
    viewer, widget = dock
    c = widget.controller
    c.set_params(gate=1.0)  # every proposal empty: whatever the stroke paints is a change
    run_volume(widget)
    layer = viewer.layers["boundaryfit"]
    viewer.layers.selection.active = layer
    layer.mode, layer.brush_size, layer.selected_label = "paint", 6, 1
    i = c.current
    w, h = viewer.window._qt_viewer.canvas._scene_canvas.size
    undo_before = len(layer._undo_history)
    _stroke(viewer, qtbot, (w // 2 - 20, h // 2), (w // 2 + 20, h // 2))
    painted = layer.data[i].copy()
    assert painted.sum() > 0 and c.state.status(i) == CORRECTED
    assert len(layer._undo_history) == undo_before + 1  # the stroke is one undo step
    c.set_params(gate=0.0, threshold=0.1, cam_method="gradcam++")
    run_volume(widget)
    np.testing.assert_array_equal(layer.data[i], painted)  # the recompute left the correction alone
    assert c.state.status(i) == CORRECTED and any(layer.data[j].any() for j in range(6) if j != i)
    c.sessions.flush()
    assert c.state.slice_info[i]["reviewed"]


def test_undo_of_a_brush_stroke_gives_the_slice_back_its_status(qtbot, dock, run_volume):
    viewer, widget = dock
    c = widget.controller
    c.set_params(gate=1.0)
    run_volume(widget)
    layer = viewer.layers["boundaryfit"]
    viewer.layers.selection.active = layer
    layer.mode, layer.brush_size, layer.selected_label = "paint", 6, 1
    i = c.current
    status, mask = c.state.status(i), layer.data[i].copy()
    assert status != CORRECTED
    w, h = viewer.window._qt_viewer.canvas._scene_canvas.size
    _stroke(viewer, qtbot, (w // 2 - 20, h // 2), (w // 2 + 20, h // 2))
    assert c.state.status(i) == CORRECTED and layer.data[i].sum() > mask.sum()
    layer.undo()  # Ctrl+Z: the stroke is gone, and so is its "corrected" (it would be learned and exported)
    np.testing.assert_array_equal(layer.data[i], mask)
    assert c.state.status(i) == status
    layer.redo()
    assert c.state.status(i) == CORRECTED and layer.data[i].sum() > mask.sum()


def test_keyboard_accept_reject_next(qtbot, dock, run_volume):
    from qtpy.QtCore import Qt

    viewer, widget = dock
    run_volume(widget)
    c = widget.controller
    canvas = viewer.window._qt_viewer.canvas.native
    widget.view.set_current_index(0)
    qtbot.keyClick(canvas, Qt.Key_A)
    assert c.state.status(0) == ACCEPTED
    qtbot.keyClick(canvas, Qt.Key_N)
    assert c.current == 1 and widget.view.current_index() == 1
    qtbot.keyClick(canvas, Qt.Key_R)
    assert c.state.status(1) == REJECTED and not viewer.layers["boundaryfit"].data[1].any()
    qtbot.keyClick(widget.panel.accept_button, Qt.Key_N)  # from the dock too
    assert c.current == 2
    assert widget.panel.strip.marks[:2] == [ACCEPTED, REJECTED]


def test_r_then_painting_redraws_the_slice_as_corrected(qtbot, dock, run_volume):
    """R empties a proposal too wrong to fix; the stroke painted after it is the slice's label, corrected."""
    from qtpy.QtCore import Qt

    viewer, widget = dock
    run_volume(widget)
    c = widget.controller
    widget.view.set_current_index(1)
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key_R)
    assert c.state.status(1) == REJECTED
    layer = viewer.layers["boundaryfit"]
    viewer.layers.selection.active = layer
    layer.mode, layer.brush_size, layer.selected_label = "paint", 6, 1
    w, h = viewer.window._qt_viewer.canvas._scene_canvas.size
    _stroke(viewer, qtbot, (w // 2 - 20, h // 2), (w // 2 + 20, h // 2))
    assert c.state.status(1) == CORRECTED and c.state.labels[1].sum() > 0
    np.testing.assert_array_equal(layer.data[1], c.state.labels[1])


def test_export_then_reread_same_labels_same_grid_and_session_restored(qtbot, dock, volume_path, tmp_path, run_volume):
    viewer, widget = dock
    run_volume(widget)
    c = widget.controller
    c.accept(1)
    c.reject(2)
    out = c.export()
    assert out == tmp_path / "vol_labels.nii.gz"
    for path in (out, tmp_path / "via_writer.nii.gz"):
        if path != out:
            viewer.layers["boundaryfit"].save(str(path), plugin="labelassist")
        back = load_volume(path, labels=True)
        np.testing.assert_array_equal(back.array.astype(np.uint8), c.state.labels)
        np.testing.assert_allclose(back.affine, c.volume.affine)
        hdr, src = back.header["nifti_header"], c.volume.header["nifti_header"]
        assert (int(hdr["qform_code"]), int(hdr["sform_code"])) == (int(src["qform_code"]), int(src["sform_code"])) == (1, 2)
    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    viewer.open(str(volume_path), plugin="labelassist")  # the same volume again: the session comes back
    qtbot.waitUntil(lambda: "Restored the review session" in widget.panel.message.text(), timeout=WAIT)
    assert c.volume.source_path == volume_path and c.state.statuses[1:3] == [ACCEPTED, REJECTED]


def test_cancel_stops_a_run(qtbot, dock):
    viewer, widget = dock
    c = widget.controller
    c.engine.progress.connect(lambda *a: widget.panel.cancel_button.click())
    posted = []
    c.engine.job_posted.connect(posted.append)
    widget.panel.run_volume_button.click()
    run = next(job for job in posted if job.name == "volume")
    qtbot.waitUntil(lambda: run.done, timeout=WAIT)
    assert run.state == "cancelled" and run.result is None and widget.panel.message.text() == "Run cancelled"
    assert not any(c.state.has_proposal(i) for i in range(6))


def test_worker_exception_shows_error_and_viewer_stays_usable(qtbot, dock, monkeypatch, run_volume):
    import labelassist.core.propose.pipeline as pipeline

    viewer, widget = dock

    def boom(*a, **k):
        raise RuntimeError("CUDA error: an illegal memory access\n(traceback...)")

    monkeypatch.setattr(pipeline, "compute_cams", boom)
    with qtbot.waitSignal(widget.controller.engine.failed, timeout=WAIT):
        widget.panel.run_volume_button.click()
    text = widget.panel.message.text()
    assert text == "volume: RuntimeError: CUDA error: an illegal memory access" and "color" in widget.panel.message.styleSheet()
    monkeypatch.undo()
    assert run_volume(widget) == {"indices": list(range(6))}
    viewer.add_points([[0, 1, 1]])
    viewer.dims.set_point(0, viewer.layers["image"].data_to_world([4, 0, 0])[0])  # the user moves the slider
    assert widget.controller.current == 4


def test_samples_open_as_volumes_with_geometry(make_napari_viewer, monkeypatch, tmp_path):
    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer()
    viewer.open_sample("labelassist", "demo_ultrasound")
    viewer.open_sample("labelassist", "demo_mri")
    viewer.open_sample("labelassist", "demo_ultrasound_cine")
    us, mri, cine = viewer.layers
    assert us.data.shape == (1, 256, 256) and mri.data.ndim == 3 and mri.data.shape[0] > 40
    assert cine.data.shape == (24, 320, 416)  # frames of a screen, grey: one channel
    assert cine.metadata["labelassist_volume"].header["scan_area"].mask.mean() < 0.45  # the sector, not the screen
    vol = mri.metadata["labelassist_volume"]
    np.testing.assert_allclose(mri.data_to_world([0, 0, 0]), vol.voxel_to_world(np.zeros(3))[[2, 1, 0]])
