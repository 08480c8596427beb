"""Jobs with handles: every posted job reports to its own caller, whatever else is in flight."""

import threading

import pytest

from labelassist.engine import Engine
from labelassist.engine.jobs import Job
from labelassist.errors import Cancelled

pytestmark = pytest.mark.gui

WAIT = 60_000


def record(job):
    """Every signal of ``job``, in order."""
    events = []
    job.started.connect(lambda: events.append("started"))
    job.progress.connect(lambda d, t: events.append(("progress", d, t)))
    job.returned.connect(lambda r: events.append(("returned", r)))
    job.failed.connect(lambda m: events.append(("failed", m)))
    job.cancelled.connect(lambda: events.append("cancelled"))
    job.finished.connect(lambda: events.append("finished"))
    return events


def scale(ctx, progress, cancel, *, x, factor):
    progress(1, 1)
    return x * factor


def blocked(ctx, progress, cancel, *, release, ran):
    """Runs until ``release`` is set or the job is cancelled (then no result)."""
    ran.append(threading.get_ident())
    while not release.wait(0.01):
        if cancel():
            raise Cancelled()
    return "released"


@pytest.fixture
def engine(qtbot):
    eng = Engine(device="cpu")  # no model, no volume: calls need neither
    yield eng
    eng.shutdown()


def test_two_calls_of_the_same_name_each_reach_their_caller(qtbot, engine):
    a = engine.call("propagate", scale, x=2, factor=10)
    b = engine.call("propagate", scale, x=3, factor=100)
    ea, eb = record(a), record(b)
    assert a.name == b.name == "propagate" and a.id < b.id
    qtbot.waitUntil(lambda: a.done and b.done, timeout=WAIT)
    assert ea == ["started", ("progress", 1, 1), ("returned", 20), "finished"]
    assert eb == ["started", ("progress", 1, 1), ("returned", 300), "finished"]
    assert not engine.busy


def test_a_failed_job_reports_on_its_own_handle_and_the_engine_stays_usable(qtbot, engine):
    def boom(ctx, progress, cancel):
        raise RuntimeError("out of memory\nstack trace")

    bad = engine.call("train", boom)
    good = engine.call("train", scale, x=1, factor=7)
    eb, eg = record(bad), record(good)
    qtbot.waitUntil(lambda: good.done, timeout=WAIT)
    assert eb == ["started", ("failed", "RuntimeError: out of memory"), "finished"]
    assert bad.state == "failed" and bad.error == "RuntimeError: out of memory"
    assert eg[-2:] == [("returned", 7), "finished"]


def test_no_volume_open_is_a_clear_error_of_the_job(qtbot, engine):
    job = engine.call("propagate", lambda ctx, progress, cancel: ctx.pipeline)
    qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    assert job.error == "no volume is open: open a volume first"


def test_a_cancelled_job_emits_cancelled_and_never_returned(qtbot, engine):
    release, ran = threading.Event(), []
    running = engine.call("train", blocked, release=release, ran=ran)
    queued = engine.call("train", blocked, release=release, ran=ran)
    er, eq = record(running), record(queued)
    qtbot.waitUntil(lambda: running.state == "running", timeout=WAIT)
    queued.cancel()  # cancelled while it waits: it never runs
    running.cancel()  # cooperative: its cancel() returns True
    qtbot.waitUntil(lambda: running.done and queued.done, timeout=WAIT)
    release.set()
    assert er == ["started", "cancelled", "finished"] and running.result is None
    assert eq[-2:] == ["cancelled", "finished"] and queued.state == "cancelled"
    assert len(ran) == 1  # the queued job's function never ran
    running.cancel()  # a finished job ignores a cancel
    assert running.state == "cancelled"


def test_engine_cancel_stops_long_jobs_only(qtbot, engine, tiny_model):
    release, ran = threading.Event(), []
    long = engine.call("propagate", blocked, release=release, ran=ran)
    model = engine.load_model(tiny_model)
    qtbot.waitUntil(lambda: long.state == "running", timeout=WAIT)
    engine.cancel()
    qtbot.waitUntil(lambda: long.done and model.done, timeout=120_000)
    assert long.state == "cancelled" and model.state == "returned" and model.result["hash"]


def test_job_outcome_is_reported_once():
    job = Job("x", 1)
    events = record(job)
    job.set_running()
    job.set_result(5)
    job.set_cancelled()
    job.set_error("late")
    assert events == ["started", ("returned", 5), "finished"] and job.done and job.result == 5
