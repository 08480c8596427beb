"""labelassist batch on dask.distributed: one worker against two, on 12 demo MRI volumes with the demo model.

Prints volumes per minute, Dask's overhead per task (1 - the sum of in-task seconds over wall time x workers,
cluster start-up excluded: the cluster is started first and the batch submitted to it), each worker's peak
memory above the loaded model (the RSS high-water mark read inside the task, against the goal of 4x the
largest volume's float32 size) and the projected wall time of 1,251 BraTS-sized volumes (4 x 240 x 240 x 155)
on 1, 8 and 64 workers from the measured cost per voxel.

    .venv/bin/python benchmarks/bench_batch.py [--workers 1 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

BRATS_VOLUMES = 1251
BRATS_SHAPE = (4, 240, 240, 155)  # modalities x 240 x 240 x 155 slices


def _model_rss(path: str, sha: str) -> float:
    """Run on each worker before the batch: load the model into the worker's cache, return its peak RSS."""
    from labelassist.batch.task import load_model, peak_rss_mb

    load_model("classifier", path, sha, "cpu")
    return peak_rss_mb()


def run_once(volumes, spec, n_workers: int) -> dict:
    from distributed import Client, LocalCluster

    from labelassist.batch.runner import run_batch

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            baseline = client.run(_model_rss, spec.model_path, spec.model_sha256)
            t0 = time.perf_counter()
            result = run_batch(volumes, spec, scheduler=cluster.scheduler_address, progress=False)
            wall = time.perf_counter() - t0
            names = {addr: str(info["name"]) for addr, info in client.scheduler_info()["workers"].items()}
    baseline = {names[a]: mb for a, mb in baseline.items()}
    rows = result.rows
    failed = [r for r in rows if r["status"] != "done"]
    if failed:
        raise SystemExit(f"{len(failed)} volume(s) failed: {failed[0]['error']}")
    in_task = sum(float(r["seconds"]) for r in rows)
    per_worker_peak = {}
    for r in rows:
        w = r["worker"]
        per_worker_peak[w] = max(per_worker_peak.get(w, 0.0), r["provenance"]["peak_rss_mb"])
    return {"workers": n_workers, "wall_s": wall, "in_task_s": in_task, "rows": rows,
            "overhead": 1.0 - in_task / (wall * n_workers), "baseline_mb": baseline, "peak_mb": per_worker_peak,
            "propose_s": sum(r["provenance"]["timings_s"]["propose_s"] for r in rows),
            "voxels": sum(r["provenance"]["voxels"] for r in rows),
            "largest_mb": max(r["provenance"]["volume_float32_mb"] for r in rows)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda (one worker per GPU: --workers 1 on one GPU), auto")
    ap.add_argument("--data", help="demo data folder (written there when it has no manifest.json; default: a temp folder)")
    args = ap.parse_args(argv)

    from labelassist.batch.inputs import expand_inputs
    from labelassist.batch.task import BatchSpec
    from labelassist.core.nets.checkpoint import checkpoint_hash
    from labelassist.core.propose.params import PipelineParams
    from labelassist.demo.data import write_demo_data
    from labelassist.io.resources import demo_model_path

    model = demo_model_path()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else Path(tmp) / "data"
        if (data / "manifest.json").is_file():
            manifest = json.loads((data / "manifest.json").read_text())
        else:
            manifest = write_demo_data(data, seed=args.seed, n_mri=6, n_us=0)
        volumes = expand_inputs([data / e["path"] for e in manifest["mri"]])
        print(f"{len(volumes)} demo MRI volumes, demo model {model.name}, {args.device}, single-threaded workers")
        results = []
        for n in args.workers:
            spec = BatchSpec(model_path=str(model), model_sha256=checkpoint_hash(model), params=PipelineParams(),
                             out_dir=str(Path(tmp) / f"out{n}"), device=args.device)
            res = run_once(volumes, spec, n)
            results.append(res)
            print(f"{n} worker(s): {res['wall_s']:.1f} s wall, {60 * len(volumes) / res['wall_s']:.2f} volumes/min, "
                  f"in-task {res['in_task_s']:.1f} s, Dask overhead {100 * res['overhead']:.1f}% "
                  f"({res['wall_s'] * n - res['in_task_s']:.2f} worker-s over {len(volumes)} tasks = "
                  f"{(res['wall_s'] * n - res['in_task_s']) / len(volumes):.2f} s/task)")
            goal = 4 * res["largest_mb"]
            for w in sorted(res["peak_mb"]):
                above = res["peak_mb"][w] - res["baseline_mb"][w]
                print(f"  worker {w}: peak RSS {res['peak_mb'][w]:.0f} MiB, {res['baseline_mb'][w]:.0f} MiB with the "
                      f"model loaded, {above:.0f} MiB above it; goal <= 4 x {res['largest_mb']:.1f} = {goal:.1f} MiB: "
                      f"{'met' if above <= goal else 'NOT met'}")
        base = results[0]
        if len(results) > 1:
            print(f"speed-up {results[0]['workers']} -> {results[-1]['workers']} workers: "
                  f"{base['wall_s'] / results[-1]['wall_s']:.2f}x (the machine has "
                  f"{len(__import__('os').sched_getaffinity(0))} cores)")
        per_voxel = base["in_task_s"] / base["voxels"]
        brats_voxels = BRATS_SHAPE[1] * BRATS_SHAPE[2] * BRATS_SHAPE[3]
        per_volume = per_voxel * brats_voxels
        print(f"cost {1e6 * per_voxel:.2f} s per million voxels (in-task, one single-threaded worker; the "
              f"4 modalities are channels of one pass) -> {per_volume:.0f} s per BraTS volume")
        for n in (1, 8, 64):
            hours = BRATS_VOLUMES * per_volume / n / (1 - max(base["overhead"], 0.0)) / 3600
            print(f"  {BRATS_VOLUMES} BraTS volumes on {n:>2} worker(s): {hours:.1f} h")
        print(json.dumps({"volumes": len(volumes), "runs": [{k: v for k, v in r.items() if k != "rows"}
                                                              for r in results]}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
