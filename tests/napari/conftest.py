"""napari tests: a viewer with the dock widget on the shared ``tiny_model`` and ``volume_path`` (tests/conftest.py)."""

import pytest

WAIT = 60_000


@pytest.fixture
def dock(make_napari_viewer, tiny_model, volume_path, monkeypatch, tmp_path, qtbot):
    """A viewer with the volume read by the plugin's reader and the LabelAssist widget reviewing it (the
    widget prepares a layer's volume in a worker thread: this waits for it)."""
    from labelassist.napari._reader import read
    from labelassist.napari._widget import LabelAssistWidget

    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer()
    data, meta, _ = read(str(volume_path))[0]
    viewer.add_image(data, **meta)
    widget = LabelAssistWidget(viewer, model=tiny_model, device="cpu", auto_compute=False)
    viewer.window.add_dock_widget(widget, name="LabelAssist")
    qtbot.waitUntil(lambda: widget.controller.state is not None, timeout=WAIT)
    widget.controller.set_params(gate=0.0, threshold=0.3)
    yield viewer, widget
    widget.close_review()


@pytest.fixture
def run_volume(qtbot):
    """``run_volume(widget)``: run the whole volume from the controller, wait for its job and return its result."""
    from labelassist.engine.jobs import RETURNED

    def run(widget):
        job = widget.controller.run_volume()
        assert job is not None, widget.panel.message.text()
        qtbot.waitUntil(lambda: job.done, timeout=WAIT)
        assert job.state == RETURNED, f"the volume run {job.state}: {job.error}"
        return job.result

    return run


@pytest.fixture(autouse=True)
def labelassist_plugin(npe2pm):
    """napari's test plugin manager blocks discovery: register the installed labelassist manifest."""
    from npe2 import PluginManifest

    if "labelassist" not in npe2pm._manifests:
        npe2pm.register(PluginManifest.from_distribution("labelassist"))
    return npe2pm


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """The display convention (and the app's recent files) go to a file of this test only."""
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("LABELASSIST_APP_SETTINGS", str(path))
    return path
