"""The engine thread: jobs by signal, results on each job's handle, coalescing, cancel, errors as one line."""

import threading

import numpy as np
import pytest

from labelassist.engine import Engine
from labelassist.errors import ParameterError

pytestmark = pytest.mark.gui

WAIT = 60_000


def wait(qtbot, job):
    """Wait until ``job`` finished (whatever the outcome); returns it."""
    qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    return job


@pytest.fixture
def engine(qtbot, tiny_model, volume):
    eng = Engine(device="cpu", batch_size=4)
    eng.load_model(tiny_model)
    assert wait(qtbot, eng.open_volume(volume)).result["n_slices"] == 6
    yield eng
    eng.shutdown()


def test_volume_run_streams_slices_and_progress(qtbot, engine, volume):
    ready, progress, engine_progress, threads = [], [], [], set()
    engine.slice_ready.connect(lambda i: (ready.append(i), threads.add(threading.get_ident())))
    engine.progress.connect(lambda job, d, t: engine_progress.append(job))
    job = engine.compute_volume()
    job.progress.connect(lambda d, t: progress.append((d, t)))
    assert job.name == "volume" and not job.done
    wait(qtbot, job)
    assert job.state == "returned" and job.result == {"indices": list(range(6))}
    assert sorted(ready) == list(range(6))
    assert threads == {threading.get_ident()}  # signals arrive on the GUI thread
    assert progress[-1] == (12, 12) and all(d <= t for d, t in progress)
    assert set(engine_progress) == {"volume"}  # the status bar's view of the same progress
    view = engine.result(3)
    assert view.cam.shape == (64, 64) and view.perimeter.shape == (64, 64) and 0 <= view.probability <= 1
    mask = engine.refit(3)
    assert mask.shape == (64, 64) and mask.dtype == np.uint8
    assert engine.model_info["hash"] and engine.device_name == "CPU"


def test_refit_follows_threshold_without_worker(qtbot, engine):
    assert wait(qtbot, engine.compute_slice(2)).result == 2
    engine.set_params(gate=0.0, threshold=0.05, refine="boundaryfit")  # the gather (the CRF needs the engine thread)
    low = engine.refit(2)
    engine.set_params(threshold=0.95)
    high = engine.refit(2)
    assert low.sum() >= high.sum() and low.sum() > 0
    assert not (high & ~low).any()  # a higher threshold keeps a subset


def test_interactive_requests_coalesce(qtbot, engine):
    jobs = [engine.compute_slice(i) for i in range(6)]
    qtbot.waitUntil(lambda: all(j.done for j in jobs), timeout=WAIT)
    distinct = list({j.id: j for j in jobs}.values())
    assert len(distinct) < 6  # requests made while a slice job waited joined it
    assert jobs[-1].result == 5  # the newest won
    assert all(j.state == "returned" for j in distinct)


def test_cancel_yields_no_result(qtbot, engine):
    job = engine.compute_volume()
    returned = []
    job.returned.connect(returned.append)
    job.progress.connect(lambda *a: engine.cancel())
    wait(qtbot, job)
    assert job.state == "cancelled" and returned == [] and job.result is None


def test_worker_error_is_one_line_and_engine_survives(qtbot, engine, monkeypatch):
    import labelassist.core.propose.pipeline as pipeline

    def boom(*a, **k):
        raise RuntimeError("GPU on fire\nsecond line")

    monkeypatch.setattr(pipeline, "compute_cams", boom)
    job = engine.compute_slice(0)
    errors = []
    job.failed.connect(errors.append)
    wait(qtbot, job)
    assert errors == ["RuntimeError: GPU on fire"] and job.error == errors[0] and job.state == "failed"
    monkeypatch.undo()
    assert wait(qtbot, engine.compute_slice(0)).result == 0


def test_bad_checkpoint_and_params(qtbot, engine, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    job = wait(qtbot, engine.load_model(bad))
    assert job.name == "model" and job.state == "failed" and "not a readable model checkpoint" in job.error
    with pytest.raises(ParameterError, match="threshold must be in"):
        engine.set_params(threshold=2.0)


def test_calibrate_from_reference(qtbot, engine):
    wait(qtbot, engine.compute_volume())
    engine.set_params(gate=0.0, threshold=0.3, refine="boundaryfit")  # references from the GUI thread's gather
    ref = {i: engine.refit(i) for i in (1, 2, 3)}
    out = wait(qtbot, engine.calibrate(ref)).result
    assert out.n_slices == 3 and out.score == pytest.approx(1.0)


def test_two_calibrations_in_flight_each_get_their_own_result(qtbot, engine):
    wait(qtbot, engine.compute_volume())
    engine.set_params(gate=0.0, threshold=0.3, refine="boundaryfit")
    first = engine.calibrate({1: engine.refit(1)})
    second = engine.calibrate({i: engine.refit(i) for i in (2, 3, 4)})
    got = {}
    first.returned.connect(lambda r: got.setdefault("first", r.n_slices))
    second.returned.connect(lambda r: got.setdefault("second", r.n_slices))
    qtbot.waitUntil(lambda: first.done and second.done, timeout=WAIT)
    assert got == {"first": 1, "second": 3}


def test_shutdown_ends_the_jobs_left(qtbot, tiny_model):
    eng = Engine(device="cpu")
    job = eng.load_model(tiny_model)
    eng.shutdown()
    assert job.done and not eng.alive and not eng.busy
    with pytest.raises(ParameterError, match="shut down"):
        eng.compute_volume()
