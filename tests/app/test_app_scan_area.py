"""An ultrasound still in the app: the scanner's screen around its scan area is dimmed and never exported."""

import warnings

import numpy as np
import pytest
from qtpy.QtCore import QRectF

pytestmark = pytest.mark.gui
pydicom_data = pytest.importorskip("pydicom.data")


def test_the_screen_around_the_scan_is_dimmed_and_never_exported(make_window, qtbot, tmp_path):
    import shutil

    from labelassist.io import load_volume

    src = pydicom_data.get_testdata_file("US1_UNCR.dcm")
    if src is None:
        pytest.skip("US1_UNCR.dcm is not installed (pydicom-data)")
    path = tmp_path / "us.dcm"
    shutil.copy(src, path)
    w = make_window()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert w.open_volume(path)
    c = w.controller
    canvas = w.view.canvas
    qtbot.waitUntil(lambda: c.area is not None, timeout=60_000)
    area = c.area
    assert area.shape == (480, 640) and not area[:40].any() and area.mean() > 0.2
    canvas.set_area(None)
    top = canvas.transform().mapRect(QRectF(0, 0, 640, 40)).toAlignedRect()  # the burned-in text along the top

    def lightness():
        img = canvas.grab().toImage().copy(top)
        return np.mean([img.pixelColor(i, j).lightness() for i in range(img.width()) for j in range(img.height())])

    bright = lightness()
    canvas.set_area(area)
    assert bright > 5 and lightness() < 0.6 * bright  # dimmed
    c.state.labels[0, :, :] = 1  # a label painted everywhere, the text too
    out = c.export(tmp_path / "us_labels.nii.gz")
    saved = np.asarray(load_volume(out, labels=True).array)[0] > 0
    np.testing.assert_array_equal(saved, area)  # only inside the scan area
