"""Out of GPU memory inside a job: the work goes on and the engine says each step once on ``notice``."""

import numpy as np
import pytest
import torch

from labelassist.core.nets.device import run_with_fallback
from labelassist.engine import Engine

pytestmark = pytest.mark.gui

WAIT = 60_000


def _oom():
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.fixture
def engine(qtbot, tiny_model, volume):
    eng = Engine(device="cpu", batch_size=4)
    eng.load_model(tiny_model)
    job = eng.open_volume(volume)
    qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    yield eng
    eng.shutdown()


def test_a_volume_run_out_of_memory_finishes_and_says_each_step_once(qtbot, engine):
    model = engine._worker.context.model

    def hook(_mod, args):
        if len(args[0]) > 1:
            raise _oom()

    handle = model.conv1.register_forward_pre_hook(hook)
    heard, failed = [], []
    engine.notice.connect(heard.append)
    engine.failed.connect(lambda name, text: failed.append(text))
    try:
        job = engine.compute_volume()
        qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    finally:
        handle.remove()
    assert job.state == "returned" and not failed
    qtbot.waitUntil(lambda: len(heard) == 2, timeout=WAIT)
    assert heard == ["CPU out of memory at batch 4: retrying with 2", "CPU out of memory at batch 2: retrying with 1"]
    assert all(engine.result(i) is not None for i in range(6))


def test_a_call_job_reports_fallbacks_of_any_stage(qtbot, engine):
    def fn(ctx, progress, cancel):
        def step(a, b, dev):
            if b - a > 2:
                raise _oom()
            return np.arange(a, b)

        return np.concatenate(run_with_fallback(step, 5, batch_size=8, device="cpu"))

    heard = []
    engine.notice.connect(heard.append)
    job = engine.call("propagate", fn)
    qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    assert job.state == "returned" and list(job.result) == list(range(5))
    qtbot.waitUntil(lambda: len(heard) == 2, timeout=WAIT)
    assert heard == ["CPU out of memory at batch 8: retrying with 4", "CPU out of memory at batch 4: retrying with 2"]
