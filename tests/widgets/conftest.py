"""Engine tests: a tiny random classifier and a 6 x 64 x 64 volume (seconds on 2 shared cores)."""

import pytest

from labelassist.engine.testing import make_test_volume, make_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture
def volume_path(tmp_path):
    return make_test_volume(tmp_path / "vol.nii.gz")


@pytest.fixture
def volume(volume_path):
    from labelassist.io import load_volume

    return load_volume(volume_path)
