"""File > Train: a classifier from the reviewer's yes/no slices, in the engine thread, then loaded."""

import re
import threading

import pytest
from qtpy.QtWidgets import QDialog

from labelassist.widgets import training
from labelassist.core.classify.params import TRAIN_PARAMS
from labelassist.core.nets.checkpoint import load_checkpoint
from labelassist.core.review import ReviewState
from labelassist.errors import ParameterError

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
    dlg = training.TrainDialog(w)  # every option of the dialog reaches the training, as File > Train passes them
    qtbot.addWidget(dlg)
    dlg.input_size.setValue(32)
    dlg.epochs.setValue(1)
    dlg.output.setText(str(out))
    options = dlg.options()
    assert set(options) == {*TRAIN_PARAMS.names, "output", "others"}
    with qtbot.waitSignal(c.engine.model_changed, timeout=300_000,
                          check_params_cb=lambda info, dev: info.get("path") == str(out)):
        assert training.start(w, **options) is not None
    assert out.is_file() and not w.training
    assert "mine.pt" in w.panel.model_label.text()
    assert load_checkpoint(out)[1]["input_size"] == 32


def test_the_dialogs_defaults_are_the_declared_ones_and_cores(make_window, volume_path, qtbot):
    """One widget per training option, showing its declared default, which is train_classifier's (and the
    command line's: tests/cli/test_train_cli.py); the advanced ones sit in the collapsed "More"."""
    import inspect

    from labelassist.core.classify.train import train_classifier

    w = make_window()
    w.open_volume(volume_path)
    dlg = training.TrainDialog(w)
    qtbot.addWidget(dlg)
    core = {k: p.default for k, p in inspect.signature(train_classifier).parameters.items() if k in TRAIN_PARAMS}
    assert list(dlg.controls) == list(TRAIN_PARAMS.names)
    assert dlg.values() == TRAIN_PARAMS.defaults() == core
    assert dlg.values()["input_size"] == 96
    for spec in TRAIN_PARAMS:
        widget = dlg.controls[spec.name].widget
        assert getattr(dlg, spec.name) is widget and spec.help in widget.toolTip()
        assert dlg.more.isAncestorOf(widget) == spec.advanced, spec.name
    assert (dlg.input_size.minimum(), dlg.input_size.maximum()) == TRAIN_PARAMS["input_size"].range


@pytest.mark.parametrize("name, text, said", [
    ("lr", "0", "Learning rate must be in (0, 1], got 0.0"),
    ("lr", "fast", "Learning rate must be a number in (0, 1], got 'fast'"),
    ("val_fraction", "1", "Validation share must be in [0, 1), got 1.0"),
])
def test_a_value_out_of_range_is_said_in_one_line_and_keeps_the_dialog_open(make_window, volume_path, qtbot, name,
                                                                             text, said):
    w = make_window()
    w.open_volume(volume_path)
    dlg = training.TrainDialog(w)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.controls[name].widget.setText(text)
    with pytest.raises(ParameterError, match=re.escape(said)):
        dlg.options()
    dlg.accept()  # Train
    assert dlg.isVisible() and dlg.result() != QDialog.DialogCode.Accepted
    assert dlg.error.isVisible() and dlg.error.text() == said
    dlg.controls[name].set(TRAIN_PARAMS[name].default)
    dlg.accept()
    assert not dlg.isVisible() and dlg.result() == QDialog.DialogCode.Accepted and not dlg.error.isVisible()


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


def test_a_slice_marked_lesion_is_a_yes_and_a_rejection_takes_the_mark_away():
    st = ReviewState.new((4, 8, 8))
    st.mark_lesion(1)  # Y: a lesion, nothing drawn
    st.set_status(2, "rejected")
    st.mark_lesion(3)
    st.set_status(3, "rejected")  # the reviewer's no replaces the yes
    idx, y = training.slice_labels(st)
    assert idx == [1, 2, 3] and y.tolist() == [1, 0, 0]
    assert st.lesion_marks == [1] and ReviewState.from_dict(st.to_dict(), st.labels).lesion_marks == [1]
    with pytest.raises(ParameterError, match="slice 2 is rejected .*accept or paint it before marking a lesion"):
        st.mark_lesion(2)


def test_y_marks_a_slice_lesion_and_training_gets_it_as_yes(make_window, volume_path, qtbot, monkeypatch):
    from qtpy.QtCore import Qt

    w = make_window()
    w.open_volume(volume_path, start=2)
    c = w.controller
    qtbot.keyClick(w.view.canvas, Qt.Key.Key_Y)
    assert c.state.lesion_marks == [2] and c.state.status(2) == "unreviewed" and not c.state.labels[2].any()
    assert w.view.slider.statuses()[2] == "lesion" and w.panel.strip.marks[2] == "lesion"
    w.view.show_slice(4)
    qtbot.waitUntil(lambda: c.current == 4)
    qtbot.keyClick(w.view.canvas, Qt.Key.Key_R)  # no lesion
    w.panel.lesion_clicked.emit(0)  # Shift+click on the strip: slice 0 shows a lesion too
    from types import SimpleNamespace

    posted, signal = {}, SimpleNamespace(connect=lambda slot: None)
    job = SimpleNamespace(returned=signal, cancelled=signal)  # the training itself is tested above
    monkeypatch.setattr(c.engine, "call", lambda name, fn, **kw: posted.update(kw) or job)
    training.start(w, output="unused.pt")
    assert posted["labels"][0].tolist() == [1, 1, 0]  # slices 0, 2 (yes) and 4 (no)
    assert posted["volumes"][0].shape[0] == 3
    c.sessions.flush()
    w.close()
    w2 = make_window()
    w2.open_volume(volume_path)
    assert w2.controller.state.lesion_marks == [0, 2]  # kept in the session
