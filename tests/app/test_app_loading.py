"""Opening a volume in the app without freezing it: the file is read in a worker thread, with progress and Cancel,
and the window is shown before torch is imported."""

import json
import os
import subprocess
import sys
import threading

import pytest
from qtpy.QtCore import Qt, QTimer

import labelassist.io
from labelassist.io import load_volume

pytestmark = pytest.mark.gui
WAIT = 120_000  # ms


@pytest.fixture
def gated_reader(monkeypatch):
    """``labelassist.io.load_volume`` replaced by a reader that waits until the test calls ``release()``."""

    class Gate:
        def __init__(self):
            self.event = threading.Event()
            self.entered = threading.Event()
            self.left = threading.Event()
            self.thread = None

        def release(self):
            self.event.set()

    gate = Gate()

    def slow_read(path, **kwargs):
        gate.thread = threading.current_thread()
        gate.entered.set()
        try:
            assert gate.event.wait(60), "the test never released the reader"
            return load_volume(path, **kwargs)
        finally:
            gate.left.set()

    monkeypatch.setattr(labelassist.io, "load_volume", slow_read)
    yield gate
    gate.release()


def test_the_window_keeps_processing_events_while_a_volume_loads(make_window, volume_path, gated_reader, qtbot):
    w = make_window()
    seen = {"ticks": 0, "progress_shown": False}

    def tick():  # the GUI thread's timer: the reader may finish only after it fired a few times
        seen["ticks"] += 1
        seen["progress_shown"] |= w.load_progress.isVisible() and w.load_progress.cancel_button.isVisible()
        if seen["ticks"] >= 5:
            gated_reader.release()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    assert w.open_volume(volume_path, start=2)  # returns once the volume is open; events ran meanwhile
    timer.stop()
    assert seen["ticks"] >= 5 and seen["progress_shown"]
    assert gated_reader.thread is not threading.main_thread()  # read off the GUI thread
    assert w.path == volume_path and w.controller.state.n_slices == 6 and w.view.current == 2
    assert w.loading.state == "returned" and not w.load_progress.isVisible()


def test_cancel_during_a_load_keeps_the_previous_volume_and_says_so(make_window, volume_path, gated_reader, tmp_path,
                                                                    qtbot):
    from labelassist.engine.testing import make_test_volume

    w = make_window()
    gated_reader.release()
    assert w.open_volume(volume_path, start=1)
    first = w.controller.volume
    gated_reader.event.clear()
    gated_reader.entered.clear()
    gated_reader.left.clear()
    other = make_test_volume(tmp_path / "other.nii.gz", shape=(4, 32, 32))
    assert w.open_volume(other, wait=False)  # returns at once: the reader waits for the test
    load, returned = w.loading, []
    load.returned.connect(returned.append)
    qtbot.waitUntil(gated_reader.entered.is_set, timeout=WAIT)
    assert not load.done and w.load_progress.isVisible()
    with qtbot.waitSignal(load.finished, timeout=WAIT):
        qtbot.mouseClick(w.load_progress.cancel_button, Qt.MouseButton.LeftButton)
    assert load.state == "cancelled" and not w.load_progress.isVisible()
    assert "cancelled" in w.statusBar().currentMessage() and "vol.nii.gz" in w.statusBar().currentMessage()
    gated_reader.release()  # the reader finishes its file: its volume is dropped
    qtbot.waitUntil(gated_reader.left.is_set, timeout=WAIT)
    qtbot.wait(100)  # let a (wrongly) queued result arrive
    assert returned == [] and load.result is None
    assert w.path == volume_path and w.controller.volume is first and w.controller.state.n_slices == 6


def test_cancel_of_a_first_load_leaves_no_volume(make_window, volume_path, gated_reader, qtbot):
    w = make_window()
    assert w.open_volume(volume_path, wait=False)
    qtbot.waitUntil(gated_reader.entered.is_set, timeout=WAIT)
    w.loading.cancel()
    assert w.loading.state == "cancelled"
    assert "no volume open" in w.statusBar().currentMessage()
    assert w.path is None and w.controller.state is None


def test_opening_a_second_volume_while_one_loads_cancels_the_first(make_window, volume_path, gated_reader, tmp_path,
                                                                    qtbot):
    from labelassist.engine.testing import make_test_volume

    w = make_window()
    w.open_volume(volume_path, wait=False)
    first = w.loading
    other = make_test_volume(tmp_path / "other.nii.gz", shape=(4, 32, 32))
    gated_reader.release()
    assert w.open_volume(other, start=0)
    assert first.state == "cancelled" and w.loading.state == "returned"
    assert w.path == other and w.controller.state.n_slices == 4


def test_a_failing_load_shows_its_one_line(make_window, tmp_path, qtbot):
    w = make_window()
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"this is not a NIfTI file at all" * 20)
    with qtbot.waitSignal(w.error_shown, timeout=WAIT) as sig:
        assert not w.open_volume(bad)
    text = sig.args[0]
    assert "broken.nii.gz" in text and "\n" not in text and "Traceback" not in text
    assert w.loading.state == "failed" and w.loading.error == text
    assert w.path is None and w.last_error == text and not w.load_progress.isVisible()


@pytest.mark.slow
def test_the_window_is_shown_before_torch_is_imported(volume_path, tiny_model, tmp_path):
    events_file = tmp_path / "events.jsonl"
    env = {**os.environ, "LABELASSIST_APP_SETTINGS": str(tmp_path / "s.ini"), "LABELASSIST_TIMING": str(events_file)}
    env.pop("QT_QPA_PLATFORM", None)  # the X server pytest-xvfb started
    proc = subprocess.run(
        [sys.executable, "-m", "labelassist", "app", str(volume_path), "--model", str(tiny_model), "--device", "cpu",
         "--slice", "3", "--screenshot", str(tmp_path / "shot.png"), "--size", "800x600"],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    at = {e["event"]: e for e in events}
    assert at["window_shown"]["torch"] is False  # painted before the engine (and torch) started
    order = ["window_shown", "engine_started", "volume_loaded", "overlays_drawn"]
    assert [at[name]["t"] for name in order] == sorted(at[name]["t"] for name in order)
    assert at["load_started"]["t"] <= at["image_drawn"]["t"] <= at["overlays_drawn"]["t"]
    assert at["gui_stall"]["ticks"] >= 1 and at["gui_stall"]["worst_ms"] >= at["gui_stall"]["p99_ms"] > 0
