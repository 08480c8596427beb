"""File > Train: a classifier from the reviewer's yes/no slices, in the engine thread, then loaded."""

import threading

import pytest

from labelassist.app import training
from labelassist.core.review import ReviewState

pytestmark = pytest.mark.gui


def test_slice_labels_from_the_review():
    st = ReviewState.new((5, 8, 8))
    st.labels[0, 2, 2] = 1
    st.set_status(0, "accepted")
    st.set_status(1, "accepted")  # accepted empty: no lesion
    st.labels[2, 1, 1] = 1
    st.set_status(2, "rejected")  # rejected: no lesion, whatever the proposal was
    st.labels[3, 4, 4] = 1
    st.set_status(3, "corrected")
    idx, y = training.slice_labels(st)
    assert idx == [0, 1, 2, 3] and y.tolist() == [1, 0, 0, 1]


def test_train_from_reviewed_slices_loads_the_new_model(make_window, volume_path, qtbot, tmp_path):
    w = make_window()
    w.open_volume(volume_path, start=0)
    c = w.controller
    qtbot.waitUntil(lambda: bool(c.engine.model_info), timeout=120_000)
    for i in range(6):
        c.state.labels[i] = 0
        if i % 2:
            c.state.labels[i, 20:30, 20:30] = 1
        c.state.set_status(i, "corrected" if i % 2 else "rejected")
    out = tmp_path / "mine.pt"
    with qtbot.waitSignal(c.engine.model_changed, timeout=300_000,
                          check_params_cb=lambda info, dev: info.get("path") == str(out)):
        assert training.start(w, output=out, arch="resnet18", input_size=32, epochs=1) is not None
    assert out.is_file() and not w.training
    assert "mine.pt" in w.panel.model_label.text()


def test_train_without_reviewed_slices_says_so(make_window, volume_path, qtbot):
    w = make_window()
    w.open_volume(volume_path)
    assert training.start(w, output="x.pt") is None
    assert "reviewed slices" in w.last_error


def test_cancelled_training_is_said_as_training_not_learning(make_window, volume_path, qtbot, tmp_path):
    w = make_window()
    w.open_volume(volume_path, start=0)
    c = w.controller
    qtbot.waitUntil(lambda: bool(c.engine.model_info), timeout=120_000)
    for i in (1, 2):
        c.state.set_status(i, "rejected")
    release = threading.Event()  # the engine thread is busy: the training job waits in the queue
    hold = c.engine.call("hold", lambda ctx, progress, cancel: release.wait(60))
    qtbot.waitUntil(lambda: hold.state == "running", timeout=120_000)
    said = []
    c.message.connect(lambda text, error: said.append(text))
    out = tmp_path / "mine.pt"
    job = training.start(w, output=out, arch="resnet18", input_size=32, epochs=1)
    assert job.name == training.JOB and w.training and w.cancel_action.isEnabled()
    w.cancel_action.trigger()  # Esc
    release.set()
    qtbot.waitUntil(lambda: job.done, timeout=120_000)
    assert job.state == "cancelled" and not w.training and not out.exists()
    assert w.statusBar().currentMessage() == "Training cancelled before the first epoch ended: no model"
    assert not any("earning" in text or "ropagat" in text for text in said)  # the review's learning was never involved
