"""Run a batch on dask.distributed: an in-process ``LocalCluster`` (one single-threaded worker process per core,
or per GPU with each worker pinned to its own) or an existing cluster (``--scheduler tcp://host:8786``).

Each volume is one task (:func:`labelassist.batch.task.run_volume`) that gets a path and a
:class:`~labelassist.batch.task.BatchSpec` only. A task's own failure comes back as a ``failed`` row; a
lost worker's tasks are rescheduled by the scheduler (distributed's ``allowed-failures``), and only a task
that kept killing its workers (``KilledWorker``) is a failed row. The manifest is rewritten atomically as
rows land, so an interrupted batch leaves a manifest of what finished.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from labelassist.batch.inputs import output_names
from labelassist.batch.manifest import is_up_to_date, skipped_row, write_manifest
from labelassist.batch.task import BatchSpec, pin_device, run_volume
from labelassist.errors import ParameterError

__all__ = ["BatchResult", "plan_batch", "run_batch", "open_client", "default_workers", "gpu_count",
           "device_for_worker", "PinDevice", "MANIFEST_NAME"]

MANIFEST_NAME = "manifest.csv"


@dataclass
class BatchResult:
    """What :func:`run_batch` returns: one row per input (in input order), the dashboard address, wall time."""

    rows: list = field(default_factory=list)
    dashboard: str | None = None
    wall_s: float = 0.0
    workers: int = 0

    @property
    def failed(self) -> list:
        return [r for r in self.rows if r["status"] == "failed"]


def gpu_count() -> int:
    """CUDA devices visible to this process (0 without torch's CUDA)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def default_workers(n_gpus: int | None = None) -> int:
    """One worker per GPU when there are GPUs, else one per CPU core available to this process."""
    n_gpus = gpu_count() if n_gpus is None else n_gpus
    if n_gpus:
        return n_gpus
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores)


def device_for_worker(name, n_gpus: int) -> str | None:
    """The GPU a worker called ``name`` is pinned to: ``cuda:(name mod n_gpus)`` for a LocalCluster's integer
    names (0, 1, ...), a stable pick for other names; None without GPUs."""
    if n_gpus < 1:
        return None
    try:
        index = int(name)
    except (TypeError, ValueError):
        index = sum(str(name).encode())
    return f"cuda:{index % n_gpus}"


class PinDevice:
    """A distributed WorkerPlugin pinning each worker to its own GPU (see :func:`device_for_worker`)."""

    name = "labelassist-pin-device"

    def __init__(self, n_gpus: int):
        self.n_gpus = int(n_gpus)

    def setup(self, worker):
        pin_device(device_for_worker(worker.name, self.n_gpus))

    def teardown(self, worker):
        pin_device(None)


def _dashboard_available() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def open_client(*, workers: int | None = None, scheduler: str | None = None):
    """A distributed Client: on ``scheduler`` (an address, or a scheduler file), else on a new LocalCluster of
    ``workers`` single-threaded worker processes (default :func:`default_workers`), closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        if workers is not None:
            raise ParameterError("--workers and --scheduler exclude each other: the cluster's workers are its own")
        try:
            client = (Client(scheduler_file=scheduler, timeout="30s") if Path(scheduler).is_file()
                      else Client(scheduler, timeout="30s"))
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParameterError(f"--scheduler {scheduler}: cannot connect ({exc}); start one with "
                                 "'dask scheduler' and 'dask worker ADDRESS'") from None
        with client:
            yield client
        return
    n_gpus = gpu_count()
    n = workers or default_workers(n_gpus)
    # ":0": a free port (several batches may run on one machine); without bokeh the dashboard has no pages
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        with Client(cluster) as client:
            if n_gpus:
                client.register_plugin(_as_worker_plugin(PinDevice(n_gpus)))
            yield client
    finally:
        cluster.close()


def _as_worker_plugin(plugin):
    from distributed.diagnostics.plugin import WorkerPlugin

    class _Plugin(WorkerPlugin):
        name = plugin.name

        def setup(self, worker):
            plugin.setup(worker)

        def teardown(self, worker):
            plugin.teardown(worker)

    return _Plugin()


def plan_batch(volumes, spec: BatchSpec, *, resume: bool = False):
    """``(outputs, todo, skipped)``: each volume's output path, the indices to compute, and the rows of the
    inputs ``resume`` finds up to date (:func:`labelassist.batch.manifest.is_up_to_date`) by index."""
    out_dir = Path(spec.out_dir)
    outputs = [out_dir / name for name in output_names(volumes)]
    keys = spec.keys() if resume else None
    todo, skipped = [], {}
    for i, (v, out) in enumerate(zip(volumes, outputs)):
        if resume and is_up_to_date(out, keys):
            skipped[i] = skipped_row(v, out, spec.model_sha256)
        else:
            todo.append(i)
    return outputs, todo, skipped


def run_batch(volumes, spec: BatchSpec, *, workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, progress: bool | None = None, on_dashboard=None) -> BatchResult:
    """Propose labels for every volume of ``volumes`` on a Dask cluster; write ``OUT_DIR/manifest.csv``.

    Parameters
    ----------
    volumes : list of Path
        The inputs (see :func:`labelassist.batch.inputs.expand_inputs`).
    spec : BatchSpec
        Model, parameters, output folder, device.
    workers : int or None, keyword-only
        Workers of the in-process LocalCluster (default :func:`default_workers`).
    scheduler : str or None, keyword-only
        An existing cluster's scheduler address (or scheduler file) instead of a LocalCluster.
    resume : bool, keyword-only
        Skip inputs whose output is up to date (no cluster is started when all are).
    progress : bool or None, keyword-only
        A tqdm bar on stderr (None: only on a terminal).
    on_dashboard : callable or None, keyword-only
        Called with the dashboard address, when the cluster has one.
    """
    t0 = time.perf_counter()
    Path(spec.out_dir).mkdir(parents=True, exist_ok=True)
    outputs, todo, rows = plan_batch(volumes, spec, resume=resume)
    manifest = Path(spec.out_dir) / MANIFEST_NAME
    result = BatchResult()
    if todo:
        with open_client(workers=workers, scheduler=scheduler) as client:
            result.dashboard = _dashboard(client)
            if result.dashboard and on_dashboard is not None:
                on_dashboard(result.dashboard)
            result.workers = len(client.scheduler_info().get("workers", {}))
            _collect(client, volumes, outputs, todo, spec, rows, manifest, progress)
    result.rows = [rows[i] for i in sorted(rows)]
    write_manifest(result.rows, manifest)
    result.wall_s = time.perf_counter() - t0
    return result


def _dashboard(client) -> str | None:
    """The dashboard's address, when the scheduler serves one (its HTTP server runs without bokeh too, with no
    pages: ask the scheduler whether it has bokeh)."""
    with contextlib.suppress(Exception):
        if client.scheduler_info().get("services", {}).get("dashboard") and client.run_on_scheduler(
                _dashboard_available):
            return client.dashboard_link
    return None


def _collect(client, volumes, outputs, todo, spec, rows, manifest, progress) -> None:
    from distributed import as_completed
    from tqdm import tqdm

    # No retries= : a task's own error is already a row; a lost worker's task is rescheduled by the scheduler.
    futures = {client.submit(run_volume, str(volumes[i]), str(outputs[i]), spec, pure=False,
                             key=f"labelassist-volume-{i}-{os.urandom(4).hex()}"): i for i in todo}
    bar = tqdm(total=len(todo), desc="batch", unit="vol", file=sys.stderr,
               disable=None if progress is None else not progress)
    counts = {"done": 0, "failed": 0}
    try:
        for fut in as_completed(list(futures)):
            i = futures[fut]
            try:
                row = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost connection: a failed row
                first = str(exc).splitlines()[0] if str(exc) else ""
                row = {"input": str(volumes[i]), "status": "failed", "output": str(outputs[i]),
                       "error": f"{type(exc).__name__}: {first}", "seconds": "", "worker": "",
                       "model_sha256": spec.model_sha256}
            rows[i] = row
            counts[row["status"]] += 1
            bar.set_postfix(done=counts["done"], failed=counts["failed"], refresh=False)
            bar.update(1)
            write_manifest([rows[k] for k in sorted(rows)], manifest)
    except BaseException:
        client.cancel(list(futures))
        write_manifest([rows[k] for k in sorted(rows)], manifest)
        raise
    finally:
        bar.close()
