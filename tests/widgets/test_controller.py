"""The review logic both frontends share, driven through a recording view and the real control panel."""

import numpy as np
import pytest

from labelassist.core.review import ACCEPTED, CORRECTED, REJECTED, UNREVIEWED
from labelassist.io import load_volume
from labelassist.io.sessions.session import session_path
from labelassist.widgets import ControlPanel, ReviewController, ReviewView

pytestmark = pytest.mark.gui
WAIT = 60_000


class RecordingView(ReviewView):
    def __init__(self):
        self.refreshed, self.index, self.shortcuts, self.arrays = [], 0, [], None

    def show_volume(self, volume, *, cam, perimeter, labels):
        self.arrays = (cam, perimeter, labels)

    def refresh(self, index=None):
        self.refreshed.append(index)

    def current_index(self):
        return self.index

    def set_current_index(self, index):
        self.index = index

    def install_shortcuts(self, shortcuts):
        self.shortcuts = shortcuts


@pytest.fixture
def ctl(qtbot, tiny_model, volume):
    view, panel = RecordingView(), ControlPanel()
    qtbot.addWidget(panel)
    c = ReviewController(view, panel=panel, model=tiny_model, device="cpu", auto_compute=False)
    c.set_params(gate=0.0, threshold=0.3)
    c.open_volume(volume)
    yield c
    c.close()


def wait(qtbot, job):
    qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    return job


def run_volume(qtbot, c):
    return wait(qtbot, c.run_volume())


def test_volume_run_fills_the_arrays_and_the_strip(qtbot, ctl):
    run_volume(qtbot, ctl)
    cam, perimeter, labels = ctl.view.arrays
    assert labels is ctl.state.labels
    assert (cam.reshape(6, -1).max(axis=1) > 0.5).all() and perimeter.reshape(6, -1).any(axis=1).all()
    assert labels.any() and all(ctl.state.has_proposal(i) for i in range(6))
    assert ctl.panel.strip.marks == ["proposed"] * 6
    assert "Computed 6 slices" in ctl.panel.message.text()
    assert [s.key for s in ctl.view.shortcuts] == ["A", "R", "Y", "N", "S", "Shift+N"]


def test_threshold_refits_current_slice_only(qtbot, ctl):
    ctl.set_params(refine="boundaryfit")  # the gather on the GUI thread (the default CRF needs the engine's image)
    run_volume(qtbot, ctl)
    posted = []
    ctl.engine.job_posted.connect(lambda job: posted.append(job.name))
    before = ctl.state.labels.copy()
    ctl.panel.threshold.setValue(0.9)  # the user drags the slider
    qtbot.waitUntil(lambda: not np.array_equal(ctl.state.labels[0], before[0]), timeout=5000)
    assert posted == ["params"]  # no CAM or perimeter job
    np.testing.assert_array_equal(ctl.state.labels[1:], before[1:])  # others wait until shown
    assert ctl.state.slice_info[0]["params"]["threshold"] == 0.9
    ctl.go_to(2)
    assert not np.array_equal(ctl.state.labels[2], before[2]) and posted == ["params"]


def test_review_actions_and_recompute_never_overwrite(qtbot, ctl):
    run_volume(qtbot, ctl)
    ctl.accept()
    kept = ctl.state.labels[0].copy()
    ctl.show_slice(1)
    ctl.state.labels[1, :5, :5] = 1  # what a paint stroke does to the shared array
    ctl.mark_corrected([1])
    painted = ctl.state.labels[1].copy()
    ctl.next_unreviewed()
    assert ctl.current == 2 and ctl.view.index == 2
    ctl.reject()
    assert ctl.state.statuses[:4] == [ACCEPTED, CORRECTED, REJECTED, UNREVIEWED]
    ctl.accept(1)
    assert ctl.state.status(1) == CORRECTED  # accepting a correction keeps it a correction
    ctl.set_params(threshold=0.95)
    ctl.set_params(cam_method="gradcam++")
    run_volume(qtbot, ctl)
    np.testing.assert_array_equal(ctl.state.labels[0], kept)
    np.testing.assert_array_equal(ctl.state.labels[1], painted)
    assert not ctl.state.labels[2].any()
    assert ctl.panel.strip.marks[:3] == [ACCEPTED, CORRECTED, REJECTED]


def test_session_autosaves_and_restores(qtbot, ctl, volume_path, tiny_model):
    run_volume(qtbot, ctl)
    ctl.reject(3)
    ctl.state.labels[4, 10:20, 10:20] = 1
    ctl.mark_corrected([4])
    ctl.sessions.flush()
    meta = session_path(ctl.export_path)
    assert meta.is_file() and meta.parent == volume_path.parent
    again = ReviewController(RecordingView(), model=tiny_model, device="cpu", auto_compute=False)
    try:
        again.open_volume(load_volume(volume_path))
        assert again.state.statuses[3:5] == [REJECTED, CORRECTED]
        np.testing.assert_array_equal(again.state.labels[4], ctl.state.labels[4])
        assert again.engine.params.threshold == 0.3 and again.engine.params.gate == 0.0
    finally:
        again.close()


def test_export_round_trip_and_never_the_source(qtbot, ctl, volume_path, tmp_path):
    run_volume(qtbot, ctl)
    ctl.accept(2)
    out = ctl.export()
    assert out == tmp_path / "vol_labels.nii.gz"
    back = load_volume(out, labels=True)
    np.testing.assert_array_equal(back.array.astype(np.uint8), ctl.state.labels)
    np.testing.assert_allclose(back.affine, ctl.volume.affine)
    assert session_path(out).is_file()
    assert ctl.export(volume_path) is None and "refusing to overwrite the source" in ctl.panel.message.text()


def test_calibrate_from_reviewed_then_refit_the_rest(qtbot, ctl):
    run_volume(qtbot, ctl)
    for i in (1, 2):
        ctl.accept(i)
    ctl.reject(5)
    with qtbot.waitSignal(ctl.calibrated, timeout=WAIT) as blocker:
        ctl.calibrate()
    result = blocker.args[0]
    assert result.n_slices == 3 and 0 <= result.score <= 1
    assert ctl.panel.threshold.value() == pytest.approx(result.threshold)
    assert ctl.panel.gate.value() == pytest.approx(result.gate)
    assert not ctl.state.labels[5].any()


def test_no_volume_and_bad_values_are_one_line(qtbot, tiny_model):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    c = ReviewController(panel=panel, model=tiny_model, device="cpu")
    try:
        c.accept()
        assert panel.message.text() == "Open a volume first"
        c.calibrate()
        c.set_params(n_segments=1)
        assert "n_segments must be at least 2" in panel.message.text()
        assert panel.n_segments.value() == 200
    finally:
        c.close()


def test_learn_from_reviewed_repredicts_unreviewed_and_queues(qtbot, ctl):
    run_volume(qtbot, ctl)
    disc = np.asarray(ctl.volume.array) > 0.9  # the bright disc on every slice: the lesion the reviewer draws
    ctl.state.labels[1] = disc[1]
    ctl.mark_corrected([1])
    ctl.state.labels[2] = disc[2]  # the proposal (a random tiny classifier's) made right, then accepted
    ctl.accept(2)
    ctl.reject(4)
    kept = ctl.state.labels[[1, 2, 4]].copy()
    job = wait(qtbot, ctl.propagate(steps=60))
    assert job.name == "propagate" and job.state == "returned"
    np.testing.assert_array_equal(ctl.state.labels[[1, 2, 4]], kept)  # reviewed slices untouched
    net = sorted(ctl.learner.segmenter_slices)
    assert net == [0, 3, 5] and all(ctl.state.slice_info[i]["params"]["source"] == "unet" for i in net)
    queue = ctl.learner.queue
    assert sorted(queue) == [0, 3, 5] and "Propagated from 3 reviewed slices" in ctl.panel.message.text()
    first = queue[0]
    ctl.next_unreviewed()
    assert ctl.current == first
    before = ctl.state.labels[first].copy()
    ctl.set_params(threshold=0.99)
    ctl.go_to(first)
    np.testing.assert_array_equal(ctl.state.labels[first], before)  # a re-fit does not replace the net's proposal


def hold_engine(qtbot, engine):
    """Keep the engine thread busy until the returned event is set (what is posted meanwhile waits)."""
    import threading

    release = threading.Event()
    job = engine.call("hold", lambda ctx, progress, cancel: release.wait(WAIT / 1000))
    qtbot.waitUntil(lambda: job.state == "running", timeout=WAIT)
    return release


def test_a_cancelled_training_on_the_same_engine_is_not_the_reviews_business(qtbot, ctl):
    from labelassist.widgets.training import train_job

    run_volume(qtbot, ctl)
    ctl.accept(1)
    said = []
    ctl.message.connect(lambda text, error: said.append(text))
    release = hold_engine(qtbot, ctl.engine)
    training = ctl.engine.call("train", train_job, volumes=[ctl.volume.array[[1]]], labels=[np.array([1])],
                               output=ctl.export_path.with_name("never.pt"))
    training.cancel()  # the reviewer pressed Esc before the first epoch
    failing = ctl.engine.call("train", lambda ctx, progress, cancel: 1 / 0)
    release.set()
    qtbot.waitUntil(lambda: training.done and failing.done, timeout=WAIT)
    assert training.state == "cancelled" and failing.error == "ZeroDivisionError: division by zero"
    assert said == []  # neither "Propagation cancelled" nor the other job's error
    release = hold_engine(qtbot, ctl.engine)
    learning = ctl.propagate(steps=1)
    ctl.cancel()
    release.set()
    wait(qtbot, learning)
    assert said[-1] == "Propagation cancelled" and learning.state == "cancelled"


def test_calibration_and_volume_run_cancelled_say_so(qtbot, ctl):
    run_volume(qtbot, ctl)
    ctl.accept(1)
    said = []
    ctl.message.connect(lambda text, error: said.append(text))
    release = hold_engine(qtbot, ctl.engine)
    calibration, run = ctl.calibrate(), ctl.run_volume()
    calibration.cancel()
    run.cancel()
    release.set()
    qtbot.waitUntil(lambda: calibration.done and run.done, timeout=WAIT)
    assert calibration.state == run.state == "cancelled"
    assert said[-2:] == ["Calibration cancelled", "Run cancelled"]


def test_a_failed_job_of_the_review_is_said_with_its_name(qtbot, ctl, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    job = wait(qtbot, ctl.load_model(bad))
    assert job.state == "failed"
    assert ctl.panel.message.text() == f"model: {job.error}" and "broken.pt" in job.error
    assert wait(qtbot, ctl.run_slice(3)).result == 3  # the engine stays usable


def test_a_crf_refiner_chosen_in_the_panel_refines_the_slice_in_the_engine_thread(qtbot, ctl):
    pytest.importorskip("pydensecrf", reason="the crf refiner needs pydensecrf2")
    ctl.set_params(refine="boundaryfit")  # from BoundaryFit to the CRF (the default) and back
    run_volume(qtbot, ctl)
    posted = []
    ctl.engine.job_posted.connect(lambda job: posted.append(job.name))
    before = ctl.state.labels.copy()
    ctl.set_params(refine="crf")  # what the panel's Refine box sends
    qtbot.waitUntil(lambda: ctl.state.slice_info[0]["params"].get("refine") == "crf", timeout=WAIT)
    assert "slice" in posted  # the image is needed: the engine thread fits it, not the GUI thread
    assert "needs the slice's image" not in ctl.panel.message.text()
    crf = ctl.state.labels[0].copy()
    assert crf.any() and not np.array_equal(crf, before[0])
    ctl.set_params(refine="boundaryfit")  # back: the GUI thread's gather again, the first mask again
    qtbot.waitUntil(lambda: np.array_equal(ctl.state.labels[0], before[0]), timeout=WAIT)


def test_the_strip_shows_p_lesion_once_the_classifier_has_run(qtbot, ctl):
    assert ctl.panel.strip.probability in ([], [None] * 6)
    run_volume(qtbot, ctl)
    shown = ctl.panel.strip.probability
    assert len(shown) == 6 and all(p is not None and 0 <= p <= 1 for p in shown)
    assert shown == [ctl.engine.result(i).probability for i in range(6)]


def test_untouched_parameters_follow_the_volumes_modality(qtbot, tiny_model, volume, tmp_path):
    """An ultrasound cine opened after an MRI volume gets the ultrasound defaults (panel and engine), and the MRI
    volume after it the MRI ones; a parameter the user changed stays as set."""
    from dataclasses import asdict, replace

    from labelassist.core.propose.profiles import default_params
    from labelassist.demo.us_files import write_ultrasound_cine

    e = write_ultrasound_cine(tmp_path, "cine", rng=np.random.default_rng(0), setting="easy", frames=6)
    cine = load_volume(tmp_path / e["path"])
    view, panel = RecordingView(), ControlPanel()
    qtbot.addWidget(panel)
    c = ReviewController(view, panel=panel, model=tiny_model, device="cpu", auto_compute=False)
    try:
        c.open_volume(volume)
        assert c.engine.params == default_params("")
        c.open_volume(cine)
        assert c.engine.params == default_params("US") != default_params("")
        assert panel.params()["despeckle"] == "median" == asdict(c.engine.params)["despeckle"]
        c.open_volume(volume)
        assert c.engine.params == default_params("")
        c.set_params(threshold=0.42)  # the user's own choice
        other = write_ultrasound_cine(tmp_path, "other", rng=np.random.default_rng(1), setting="easy", frames=6)
        c.open_volume(load_volume(tmp_path / other["path"]))  # a new cine (the first has its session's own)
        assert c.engine.params == replace(default_params(""), threshold=0.42)
    finally:
        c.close()
