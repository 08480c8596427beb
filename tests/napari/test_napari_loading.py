"""The LabelAssist dock loads volumes off napari's GUI thread: its Open button, and a layer's volume and hash."""

import threading

import numpy as np
import pytest
from qtpy.QtCore import Qt

import labelassist.io
import labelassist.io.sessions.session
from labelassist.io import load_volume

pytestmark = pytest.mark.gui
WAIT = 60_000


@pytest.fixture
def bare_dock(make_napari_viewer, tiny_model, monkeypatch, tmp_path, qtbot):
    """A viewer without layers and the LabelAssist widget on it (its model loaded)."""
    from labelassist.napari._widget import LabelAssistWidget

    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer()
    widget = LabelAssistWidget(viewer, model=tiny_model, device="cpu", auto_compute=False)
    viewer.window.add_dock_widget(widget, name="LabelAssist")
    qtbot.waitUntil(lambda: bool(widget.controller.engine.model_info), timeout=WAIT)
    yield viewer, widget
    widget.close_review()


def test_open_reads_in_the_background_reviews_it_says_failures_and_cancels(bare_dock, volume_path, monkeypatch,
                                                                          qtbot):
    viewer, widget = bare_dock
    gate, entered, left, readers = threading.Event(), threading.Event(), threading.Event(), []

    def gated_read(path, **kwargs):
        readers.append(threading.current_thread())
        entered.set()
        try:
            assert gate.wait(60)
            return load_volume(path, **kwargs)
        finally:
            left.set()

    monkeypatch.setattr(labelassist.io, "load_volume", gated_read)
    assert widget.open_button.text() == "Open volume..."
    load = widget.open_file(volume_path)
    qtbot.waitUntil(entered.is_set, timeout=WAIT)
    assert not load.done and widget.load_progress.isVisibleTo(widget) and len(viewer.layers) == 0  # viewer free
    gate.set()
    qtbot.waitUntil(lambda: widget.controller.state is not None, timeout=WAIT)
    assert readers[0] is not threading.main_thread()
    assert load.state == "returned" and not widget.load_progress.isVisibleTo(widget)
    assert [ly.name for ly in viewer.layers] == ["vol.nii.gz", "grad-cam", "perimeter", "boundaryfit", "suggested",
                                                 "orientation"]  # the edge letters on top
    assert widget.view.image_layer is viewer.layers[0] and widget.controller.state.n_slices == 6
    assert widget.source.currentText() == "vol.nii.gz"

    bad = volume_path.with_name("broken.nii.gz")  # a failing load: its one line in the dock, nothing else changes
    bad.write_bytes(b"not a volume" * 50)
    failed = widget.open_file(bad)
    qtbot.waitUntil(lambda: failed.done, timeout=WAIT)
    text = widget.panel.message.text()
    assert failed.state == "failed" and "broken.nii.gz" in text and "\n" not in text
    assert len(viewer.layers) == 6 and widget.controller.state.n_slices == 6

    gate.clear(), entered.clear(), left.clear()  # Cancel: nothing added, the review goes on
    cancelled = widget.open_file(volume_path)
    qtbot.waitUntil(entered.is_set, timeout=WAIT)
    returned = []
    cancelled.returned.connect(returned.append)
    qtbot.mouseClick(widget.load_progress.cancel_button, Qt.MouseButton.LeftButton)
    assert cancelled.state == "cancelled" and "cancelled" in widget.panel.message.text()
    gate.set()  # the reader finishes its file: its volume must be dropped
    qtbot.waitUntil(left.is_set, timeout=WAIT)
    qtbot.wait(100)  # let a (wrongly) queued result arrive
    assert returned == [] and len(viewer.layers) == 6 and widget.controller.state.n_slices == 6


def test_a_layer_already_in_napari_is_hashed_off_the_gui_thread(bare_dock, monkeypatch, qtbot):
    viewer, widget = bare_dock
    real, calls = labelassist.io.sessions.session.volume_identity, []

    def recording_identity(volume):
        calls.append(threading.current_thread())
        return real(volume)

    monkeypatch.setattr(labelassist.io.sessions.session, "volume_identity", recording_identity)
    data = np.random.default_rng(0).normal(100, 10, (5, 40, 40)).astype(np.float32)
    layer = viewer.add_image(data, name="scan", scale=(3, 1, 1))  # a plain layer, chosen in the dock
    load = widget.open_layer(layer)
    qtbot.waitUntil(lambda: widget.controller.state is not None, timeout=WAIT)
    assert calls and calls[0] is not threading.main_thread()  # the identity's hash, first made by the loader
    assert widget.view.image_layer is layer and widget.controller.volume.shape == (5, 40, 40)
    assert load is widget.loading and load.state == "returned"
