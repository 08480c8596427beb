"""``labelassist app FILE --screenshot OUT.png`` in a real X server: the overlays are drawn, the file is a PNG."""

import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_screenshot_draws_the_overlays(volume_path, tiny_model, tmp_path):
    out = tmp_path / "shot.png"
    env = {**os.environ, "LABELASSIST_APP_SETTINGS": str(tmp_path / "s.ini")}
    env.pop("QT_QPA_PLATFORM", None)  # the X server pytest-xvfb started: DISPLAY is set
    assert env.get("DISPLAY")
    proc = subprocess.run(
        [sys.executable, "-m", "labelassist", "app", str(volume_path), "--model", str(tiny_model), "--device", "cpu",
         "--slice", "3", "--screenshot", str(out), "--size", "1000x700"],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.is_file() and "screenshot:" in proc.stdout

    import cv2

    img = cv2.imread(str(out), cv2.IMREAD_COLOR)[..., ::-1].astype(int)  # RGB
    assert img.shape[:2] == (700, 1000)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    heat = (np.abs(r - g) > 60) | (np.abs(g - b) > 60)  # saturated colours: the heat map and the overlays
    magenta = (r > g + 60) & (b > g + 60)
    yellowish = (r > b + 50) & (g > b + 50)
    assert heat.sum() > 2000, "no heat map drawn"
    assert magenta.sum() > 50, "no boundaryfit drawn"
    assert yellowish.sum() > 200, "no perimeter drawn"
    assert (np.abs(r - g) < 8).sum() > 10000  # and plenty of plain grey: image and widgets


def test_screenshot_of_a_bad_file_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "labelassist", "app", str(tmp_path / "nope.nii.gz"),
                           "--screenshot", str(tmp_path / "x.png")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "nope.nii.gz" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "labelassist", "app", "--screenshot", str(tmp_path / "x.jpg")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "must end in .png" in proc.stderr


def test_no_display_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "labelassist", "app", "--demo"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 2 and "no display" in proc.stderr and proc.stderr.count("\n") == 1
