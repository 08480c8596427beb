"""The engine thread: jobs by signal, results by signal, coalescing, cancel, errors as one line."""

import threading

import numpy as np
import pytest

from labelassist.engine import Engine
from labelassist.errors import ParameterError

pytestmark = pytest.mark.gui

WAIT = 60_000


@pytest.fixture
def engine(qtbot, tiny_model, volume):
    eng = Engine(device="cpu", batch_size=4)
    with qtbot.waitSignal(eng.finished, timeout=WAIT, check_params_cb=lambda n, r: n == "volume_open"):
        eng.load_model(tiny_model)
        eng.open_volume(volume)
    yield eng
    eng.shutdown()


def test_volume_run_streams_slices_and_progress(qtbot, engine, volume):
    ready, progress, threads = [], [], set()
    engine.slice_ready.connect(lambda i: (ready.append(i), threads.add(threading.get_ident())))
    engine.progress.connect(lambda job, d, t: progress.append((job, d, t)))
    with qtbot.waitSignal(engine.finished, timeout=WAIT, check_params_cb=lambda n, r: n == "volume") as blocker:
        engine.compute_volume()
    assert blocker.args[1] == {"indices": list(range(6))}
    assert sorted(ready) == list(range(6))
    assert threads == {threading.get_ident()}  # signals arrive on the GUI thread
    assert progress[-1] == ("volume", 12, 12) and all(d <= t for _, d, t in progress)
    view = engine.result(3)
    assert view.cam.shape == (64, 64) and view.perimeter.shape == (64, 64) and 0 <= view.probability <= 1
    mask = engine.refit(3)
    assert mask.shape == (64, 64) and mask.dtype == np.uint8
    assert engine.model_info["hash"] and engine.device_name == "CPU"


def test_refit_follows_threshold_without_worker(qtbot, engine):
    with qtbot.waitSignal(engine.finished, timeout=WAIT, check_params_cb=lambda n, r: n == "slice"):
        engine.compute_slice(2)
    engine.set_params(gate=0.0, threshold=0.05)
    low = engine.refit(2)
    engine.set_params(threshold=0.95)
    high = engine.refit(2)
    assert low.sum() >= high.sum() and low.sum() > 0
    assert not (high & ~low).any()  # a higher threshold keeps a subset


def test_interactive_requests_coalesce(qtbot, engine):
    done = []
    engine.finished.connect(lambda n, r: done.append(r) if n == "slice" else None)
    for i in range(6):
        engine.compute_slice(i)
    qtbot.waitUntil(lambda: not engine.busy, timeout=WAIT)
    assert 5 in done and len([d for d in done if d is not None]) < 6  # the newest won, some were dropped


def test_cancel_yields_no_result(qtbot, engine):
    engine.progress.connect(lambda *a: engine.cancel())
    with qtbot.waitSignal(engine.finished, timeout=WAIT, check_params_cb=lambda n, r: n == "volume") as blocker:
        engine.compute_volume()
    assert blocker.args[1] is None


def test_worker_error_is_one_line_and_engine_survives(qtbot, engine, monkeypatch):
    import labelassist.core.propose.pipeline as pipeline

    def boom(*a, **k):
        raise RuntimeError("GPU on fire\nsecond line")

    monkeypatch.setattr(pipeline, "compute_cams", boom)
    with qtbot.waitSignal(engine.failed, timeout=WAIT) as blocker:
        engine.compute_slice(0)
    assert blocker.args == ["slice", "RuntimeError: GPU on fire"]
    monkeypatch.undo()
    with qtbot.waitSignal(engine.slice_ready, timeout=WAIT):
        engine.compute_slice(0)


def test_bad_checkpoint_and_params(qtbot, engine, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with qtbot.waitSignal(engine.failed, timeout=WAIT) as blocker:
        engine.load_model(bad)
    assert blocker.args[0] == "model" and "not a readable model checkpoint" in blocker.args[1]
    with pytest.raises(ParameterError, match="threshold must be in"):
        engine.set_params(threshold=2.0)


def test_calibrate_from_reference(qtbot, engine):
    with qtbot.waitSignal(engine.finished, timeout=WAIT, check_params_cb=lambda n, r: n == "volume"):
        engine.compute_volume()
    engine.set_params(gate=0.0, threshold=0.3)
    ref = {i: engine.refit(i) for i in (1, 2, 3)}
    with qtbot.waitSignal(engine.finished, timeout=WAIT, check_params_cb=lambda n, r: n == "calibrate") as b:
        engine.calibrate(ref)
    out = b.args[1]
    assert out["n_slices"] == 3 and out["score"] == pytest.approx(1.0)
