"""The viewer, shown, with the four layers on a slice of the demo MRI volume and the demo model."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_screenshot_of_a_demo_slice(make_napari_viewer, qtbot, monkeypatch, tmp_path):
    from labelassist.io.resources import demo_model_path

    if not demo_model_path().is_file():
        pytest.skip("no demo model in resources/")
    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget("labelassist", "LabelAssist")  # the demo model
    try:
        viewer.open_sample("labelassist", "demo_mri")
        c = widget.controller
        qtbot.waitUntil(lambda: c.volume is not None, timeout=60_000)
        folder = tmp_path / "data" / "samples"
        lesion = json.loads((folder / "manifest.json").read_text())["mri"][0]["lesion_params"][0]
        k = int(round(lesion["centre"][2]))  # voxel k = array z
        widget.view.set_current_index(k)
        qtbot.waitUntil(lambda: c.current == k and c.state.has_proposal(k), timeout=120_000)
        qtbot.wait(300)
        assert [ly.name for ly in viewer.layers] == ["image", "grad-cam", "perimeter", "boundaryfit", "suggested",
                                                 "orientation"]  # the edge letters on top
        assert all(ly.visible for ly in viewer.layers) and c.state.labels[k].any()
        shot = viewer.screenshot(canvas_only=False, flash=False)
        canvas = viewer.screenshot(canvas_only=True, flash=False)
        out = Path(os.environ.get("LABELASSIST_SCREENSHOT", tmp_path / "napari_review.png"))
        from skimage.io import imsave

        imsave(str(out), shot, check_contrast=False)
        assert shot.shape[0] > 500 and shot.shape[1] > 800
        rgb = canvas[..., :3].astype(int)
        warm = (rgb[..., 0] > 150) & (rgb[..., 2] < 100)  # the heat map (inferno) over the image
        assert warm.sum() > 50 and len(np.unique(rgb.reshape(-1, 3), axis=0)) > 200
    finally:
        widget.close_review()
