"""Killed at the worst moment, nothing is lost: the app is SIGKILLed at random moments while a reviewer paints
strokes and accepts slices (inside saves too), then the volume is opened again. Every action older than the
stroke in progress is in the restored session, and no slice comes back corrected with half a stroke.

CI runs a few kills; ``LABELASSIST_SIGKILL_RUNS=20 pytest -k sigkill`` is the soak run (see docs/benchmarks.md).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from labelassist.core.review import ACCEPTED, CORRECTED
from labelassist.io import load_volume
from labelassist.io.sessions.session import default_export_path, load_session, lock_path
from labelassist.io.sessions.lock import SessionLock

pytestmark = pytest.mark.gui
DRIVER = Path(__file__).with_name("sigkill_driver.py")
RUNS = int(os.environ.get("LABELASSIST_SIGKILL_RUNS", "1"))
sys.path.insert(0, str(DRIVER.parent))
from sigkill_driver import ACTIONS, stroke_row  # noqa: E402


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sigkill")
    rng = np.random.default_rng(3)
    data = (rng.random((96, 64, 16)) * 100).astype(np.float32)  # (x, y, z): 16 slices of 64 x 96
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.8, 2.0, 1.0])), str(folder / "scan.nii.gz"))
    return folder / "scan.nii.gz"


def _events(log: Path) -> list[tuple[str, int, int]]:
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def _kill_once(scan: Path, model, log: Path, delay: float) -> str:
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(scan), str(model), str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline().strip()
        assert first == "ready", first + proc.stdout.read()[-3000:]
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    return first


def _check(scan: Path, log: Path) -> tuple[int, int]:
    """Returns (actions that had to survive, actions found); fails on any loss or half stroke."""
    volume = load_volume(scan)
    export = default_export_path(volume)
    state = load_session(export, like=volume)  # never a damaged session
    events = _events(log)
    presses = [k for kind, k, _ in events if kind == "press"]
    must = presses[-1] if presses else 0  # every action before the stroke in progress
    if state is None:
        assert must == 0 or all(kind != "accept" and k >= must for kind, k, _ in events), events
        return 0, 0
    width = volume.shape[2]
    for k, (kind, z) in enumerate(ACTIONS[:must]):
        want = CORRECTED if kind == "stroke" else ACCEPTED
        assert state.status(z) == want, (k, kind, z, state.statuses, events)
    for z, status in enumerate(state.statuses):
        if status == CORRECTED:  # a corrected slice holds its whole stroke, never half of one
            row = state.labels[z, stroke_row(z), 3:width - 4]
            assert row.all(), (z, np.flatnonzero(row == 0))
    lock = SessionLock(lock_path(export))
    assert lock.acquire()  # the dead window's lock is gone
    lock.release()
    print(f"sigkill: {len(events)} events logged, {must} actions had to survive")
    return must, sum(s != "unreviewed" for s in state.statuses)


@pytest.mark.parametrize("run", range(RUNS))
def test_sigkill_at_random_moments_loses_nothing_older_than_the_stroke_in_progress(scan, tiny_model, tmp_path, run):
    work = tmp_path / "work"
    work.mkdir()
    copy = work / scan.name
    copy.write_bytes(scan.read_bytes())
    log = tmp_path / "events.log"
    rng = random.Random(1000 + run)
    delays = [rng.uniform(0.05, 1.6) for _ in range(2)]
    for delay in delays:  # killed, reopened and killed again: the second run resumes the first's session
        _kill_once(copy, tiny_model, log, delay)
        _check(copy, log)
        log.write_text("")
    # the survivor run: nothing was lost that the reviewer had finished before the kill
    _kill_once(copy, tiny_model, log, 2.5)
    must, found = _check(copy, log)
    assert found >= must
