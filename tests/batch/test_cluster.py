"""labelassist batch against a real cluster: a ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

The workers preload a file that makes every volume take at least DELAY seconds (wrapping the task module's
``propose_volume``; nothing in labelassist knows), so that work spreads over the workers and a worker can
be killed in the middle of a volume.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import nibabel as nib
import pytest

from labelassist.batch.manifest import read_manifest
from labelassist.batch.task import provenance_path
from labelassist.cli import main
from labelassist.engine.testing import make_test_volume

DELAY = 1.5
PRELOAD = f"""
import time
import labelassist.batch.task as task


def slow_propose(*args, original=task.propose_volume, **kwargs):
    time.sleep({DELAY})
    return original(*args, **kwargs)


slow_propose.slowed = True
if not getattr(task.propose_volume, "slowed", False):  # distributed may run a preload file twice
    task.propose_volume = slow_propose
"""


def _wait_for(condition, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Cluster:
    """A scheduler and named workers, each a subprocess of this test; :meth:`close` kills every one."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        self.preload = folder / "slow_preload.py"
        self.preload.write_text(PRELOAD)
        self.procs: dict[str, subprocess.Popen] = {}
        self._start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--scheduler-file", str(self.scheduler_file), "--no-dashboard"])
        self.address = _wait_for(self._address, 60, "the scheduler")

    def _start(self, name, args):
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def _address(self):
        with contextlib.suppress(OSError, ValueError):
            return json.loads(self.scheduler_file.read_text())["address"]
        return None

    def add_worker(self, name: str):
        # --no-nanny: the process killed is the worker itself (a nanny would start a new one)
        self._start(name, ["distributed.cli.dask_worker", "--scheduler-file", str(self.scheduler_file),
                           "--nthreads", "1", "--name", name, "--no-dashboard", "--no-nanny",
                           "--preload", str(self.preload)])

    def wait_for_workers(self, n: int):
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(n, timeout=90)

    def kill(self, name: str):
        self.procs[name].kill()
        self.procs[name].wait(10)

    def close(self):
        for proc in reversed(list(self.procs.values())):
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        for name in ("w1", "w2"):
            c.add_worker(name)
        c.wait_for_workers(2)
        yield c
    finally:
        c.close()


def _volumes(folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    return [make_test_volume(folder / f"v{i}.nii.gz", shape=(4, 48, 48), seed=i) for i in range(n)]


OPTS = ["--segments", "40", "--cam-shifts", "1"]


def test_batch_on_a_scheduler_spreads_the_volumes_over_its_workers(cluster, tmp_path, tiny_model):
    vols = _volumes(tmp_path / "in", 4)
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny_model),
                 "--scheduler", cluster.address, *OPTS]) == 0
    rows = read_manifest(out / "manifest.csv")
    assert [Path(r["input"]).name for r in rows] == [v.name for v in vols]
    assert {r["status"] for r in rows} == {"done"}
    assert {r["worker"] for r in rows} == {"w1", "w2"}


def test_a_killed_worker_loses_no_volume_and_leaves_no_half_written_file(cluster, tmp_path, tiny_model):
    cluster.add_worker("w3")
    cluster.wait_for_workers(3)
    vols = _volumes(tmp_path / "in", 8)
    out = tmp_path / "out"
    argv = ["batch", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny_model), "--scheduler",
            cluster.address, *OPTS]
    codes = []
    run = threading.Thread(target=lambda: codes.append(main(argv)), daemon=True)
    run.start()
    def w3_rows():
        with contextlib.suppress(OSError):
            return [r for r in read_manifest(out / "manifest.csv") if r["worker"] == "w3"]

    _wait_for(w3_rows, 120, "a first volume done by w3")
    # w3 took the next queued volume as it returned that one (each takes >= DELAY s; 8 over 3 workers)
    cluster.kill("w3")
    run.join(180)
    assert not run.is_alive() and codes == [0]
    rows = read_manifest(out / "manifest.csv")
    assert len(rows) == len(vols) and {r["status"] for r in rows} == {"done"}
    assert {"w1", "w2"} <= {r["worker"] for r in rows}
    assert 1 <= sum(r["worker"] == "w3" for r in rows) <= 2  # a kill between its 1st row and the next read
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]
    for r in rows:
        assert nib.load(r["output"]).shape == (48, 48, 4)
        assert json.loads(provenance_path(r["output"]).read_text())["output"] == r["output"]
