"""napari tests: a tiny random classifier, a 6 x 64 x 64 NIfTI volume, and a viewer with the dock widget."""

import pytest

from labelassist.engine.testing import make_test_volume, make_tiny_checkpoint

WAIT = 60_000


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture
def volume_path(tmp_path):
    return make_test_volume(tmp_path / "vol.nii.gz")


@pytest.fixture
def dock(make_napari_viewer, tiny_model, volume_path, monkeypatch, tmp_path):
    """A viewer with the volume read by the plugin's reader and the LabelAssist widget on it."""
    from labelassist.napari._reader import read
    from labelassist.napari._widget import LabelAssistWidget

    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer()
    data, meta, _ = read(str(volume_path))[0]
    viewer.add_image(data, **meta)
    widget = LabelAssistWidget(viewer, model=tiny_model, device="cpu", auto_compute=False)
    viewer.window.add_dock_widget(widget, name="LabelAssist")
    widget.controller.set_params(gate=0.0, threshold=0.3)
    yield viewer, widget
    widget.close_review()


@pytest.fixture
def run_volume(qtbot):
    """Run the whole volume from the controller and wait for the result."""

    def run(widget):
        c = widget.controller
        with qtbot.waitSignal(c.engine.finished, timeout=WAIT, check_params_cb=lambda n, r: n == "volume") as b:
            c.run_volume()
        return b.args[1]

    return run


@pytest.fixture(autouse=True)
def labelassist_plugin(npe2pm):
    """napari's test plugin manager blocks discovery: register the installed labelassist manifest."""
    from npe2 import PluginManifest

    if "labelassist" not in npe2pm._manifests:
        npe2pm.register(PluginManifest.from_distribution("labelassist"))
    return npe2pm
