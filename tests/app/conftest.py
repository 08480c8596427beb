"""Fixtures of the app's tests: an in-memory volume, an isolated settings file, a main window.

``tiny_model`` and ``volume_path`` are shared by every folder (tests/conftest.py).
"""

import numpy as np
import pytest

from labelassist.io import Volume


@pytest.fixture
def tiny_volume():
    """A 6 x 64 x 48 in-memory volume (anisotropic voxels) with a bright disc."""
    rng = np.random.default_rng(0)
    arr = rng.normal(100, 10, (6, 64, 48)).astype(np.float32)
    yy, xx = np.mgrid[:64, :48]
    arr[:, (yy - 32) ** 2 + (xx - 20) ** 2 <= 64] += 200
    affine = np.diag([1.0, 1.0, 3.0, 1.0])
    return Volume(arr, affine, (3.0, 1.0, 1.0), source_path="mem.nii.gz", format="nifti")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Recent files and window state go to a file of this test only."""
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("LABELASSIST_APP_SETTINGS", str(path))
    return path


@pytest.fixture
def make_window(qtbot, tiny_model):
    """``make_window(**engine_options)``: a shown main window on the tiny model, closed at teardown."""
    from labelassist.app.window import MainWindow
    from labelassist.engine import Engine

    made = []

    def make(**engine_options):
        engine = Engine(device="cpu", **engine_options)
        w = MainWindow(model=tiny_model, engine=engine)
        w.resize(1200, 800)
        qtbot.addWidget(w)
        w.show()
        qtbot.waitExposed(w)
        w.activateWindow()
        qtbot.waitUntil(w.isActiveWindow)  # window shortcuts (A, R, N, Ctrl+Z...) need an active window
        made.append((w, engine))
        return w

    yield make
    for w, engine in made:
        w.close()
        engine.shutdown()
