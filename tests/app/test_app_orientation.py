"""The app shows slices the radiological way, from the affine: a marker at the patient's right-anterior is at the
screen's upper left whether the file stores RAS or LPS; one slice number in the header, slider and status."""

import nibabel as nib
import numpy as np
import pytest
from qtpy.QtCore import QPointF, QRectF

from labelassist.app.render import LAYERS

pytestmark = pytest.mark.gui


def marker_volume(path, stored):
    """(5, 40, 60) zeros with a bright block at the patient's right-anterior on every slice, stored ``stored``."""
    ras = np.zeros((5, 40, 60), np.float32)
    ras[:, 30:38, 50:58] = 100.0  # (z, y, x): high y = anterior, high x = right in RAS storage
    if stored == "RAS":
        data, affine = ras, np.diag([1.0, 1.0, 2.0, 1.0])
    else:  # LPS: x to the left, y to posterior, the same world
        data, affine = ras[:, ::-1, ::-1], np.diag([-1.0, -1.0, 2.0, 1.0])
        affine[:2, 3] = 59, 39
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data.transpose(2, 1, 0)), affine), str(path))
    return path


def marker_quadrant(w):
    """(top?, left?) of the marker's bright pixels within the image's rectangle on the canvas."""
    c = w.view.canvas
    for name in LAYERS:
        c.set_visible(name, name == "image")
    c.set_window(100.0, 50.0)
    img = c.grab().toImage()
    grey = np.array([[img.pixelColor(x, y).red() for x in range(img.width())] for y in range(img.height())])
    rect = c.transform().mapRect(QRectF(0, 0, c.shape[1], c.shape[0]))
    ys, xs = np.nonzero(grey[int(rect.top()) + 1:int(rect.bottom()) - 1, int(rect.left()) + 1:int(rect.right()) - 1] > 200)
    assert len(ys) > 20, "the marker is drawn"
    return ys.mean() < rect.height() / 2, xs.mean() < rect.width() / 2


@pytest.mark.parametrize("stored", ["RAS", "LPS"])
def test_the_patients_right_anterior_is_drawn_at_the_upper_left(make_window, tmp_path, qtbot, stored):
    w = make_window()
    assert w.open_volume(marker_volume(tmp_path / f"{stored}.nii.gz", stored), start=2)
    assert w.view.canvas.orientation.letters == ("R", "L", "A", "P")
    assert marker_quadrant(w) == (True, True)
    w.convention_action.trigger()  # View > Neurological convention
    assert w.view.canvas.orientation.letters[:2] == ("L", "R")
    assert marker_quadrant(w) == (True, False)


def test_the_convention_is_remembered(make_window, tmp_path):
    w = make_window()
    w.convention_action.trigger()
    assert make_window().view.convention == "neurological"


def test_header_slider_and_status_give_one_slice_number(make_window, tmp_path, qtbot):
    w = make_window()
    assert w.open_volume(marker_volume(tmp_path / "m.nii.gz", "LPS"), start=3)
    assert w.view.position.text() == "slice 3 (0-4)"
    assert w.view.canvas.info_text.startswith("axial slice 3")
    assert w.slice_label.text().startswith("slice 3:")
    c = w.view.canvas
    at = c.transform().map(QPointF(10.5, 20.5))  # the pixel of row 20, column 10
    c.cursor_moved.emit(*c.to_image(at))
    assert w.cursor_label.text().startswith("voxel (10, 20, 3)   RAS (49.0, 19.0, 6.0) mm")
