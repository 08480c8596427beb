"""Fixtures of the app's tests: tiny volumes, a tiny random classifier, an isolated settings file."""

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
