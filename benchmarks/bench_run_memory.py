"""Peak memory of ``labelassist run`` against its budget (issue 16): 4x the volume's float32 size above the model.

    python benchmarks/bench_run_memory.py [--slices 155] [--size 240] [--batch 16] [--no-cli] [--stages]

A demo MRI case (:func:`labelassist.demo.synth.make_mri_case`, a lesion in it) is resampled to
``slices x size x size`` and written as NIfTI to a temporary folder. Then, in a fresh process: import what
``run`` imports, load the shipped demo model, read the resident memory (the baseline: "the process with the
model loaded", before the volume is read), reset the high-water mark (``/proc/self/clear_refs``; where
that is refused, a thread samples VmRSS every 5 ms) and do exactly what ``labelassist run`` does: read the
volume, :func:`~labelassist.batch.task.propose_volume`, :func:`~labelassist.io.save_labels` to a temporary
file. Printed: the volume's float32 size, the budget, the peak above the baseline, pass/fail and the wall
time. ``--stages`` also prints the resident memory after each step (read, normalise, CAMs, perimeter + fit,
write). Unless ``--no-cli``, the same is measured through the command line: the peak RSS of a
``labelassist run VOLUME -o OUT`` subprocess minus the peak RSS of a subprocess that only imports and loads
the model. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

MIB = 2**20


def make_volume(path: Path, slices: int, size: int) -> None:
    """A demo MRI case with lesions, resampled (linear) to ``slices x size x size`` and written as NIfTI."""
    import nibabel as nib
    from scipy import ndimage

    from labelassist.demo.data import load_template
    from labelassist.demo.synth import make_mri_case

    t1, brain, _ = load_template()
    image, _, _ = make_mri_case(t1, brain, rng=np.random.default_rng(0), setting="easy")
    zyx = image.T  # the readers give (z, y, x) of a NIfTI's (x, y, z)
    big = ndimage.zoom(zyx, (slices / zyx.shape[0], size / zyx.shape[1], size / zyx.shape[2]), order=1)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(big.astype(np.float32).T), np.diag([0.8, 0.8, 1.0, 1.0])), path)


def status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


class PeakRss:
    """The peak resident memory (KiB) from now on: VmHWM after a reset, else a 5 ms sampling thread."""

    def __init__(self):
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
                fh.write("5")
            self.sampled = status_kb("VmHWM") > status_kb("VmRSS") + 1024  # the reset did not take
        except OSError:
            self.sampled = True
        self._peak, self._stop = status_kb("VmRSS"), threading.Event()
        if self.sampled:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, status_kb("VmRSS"))

    def peak(self) -> int:
        if not self.sampled:
            return status_kb("VmHWM")
        self._stop.set()
        self._thread.join()
        return max(self._peak, status_kb("VmRSS"))


def import_all() -> None:
    """Import what ``labelassist run`` imports, its lazy imports too (grad-cam alone brings matplotlib, sklearn
    and pandas: about 120 MiB), so that the baseline holds the code and the measured peak is the run's data."""
    import cv2  # noqa: F401
    import pytorch_grad_cam  # noqa: F401
    import skimage.segmentation  # noqa: F401
    import tqdm  # noqa: F401

    import labelassist.batch.task  # noqa: F401
    import labelassist.cli  # noqa: F401
    import labelassist.cli.run  # noqa: F401
    import labelassist.core.propose.pipeline  # noqa: F401
    import labelassist.io  # noqa: F401


def _load_model():
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.nets.device import resolve_device
    from labelassist.io.resources import demo_model_path

    device = resolve_device("cpu")
    model, meta = load_checkpoint(demo_model_path(), device=device)  # what 'run' loads without --model
    return model, meta, device


def child(args) -> None:
    """In a fresh process: the baseline, then exactly what ``labelassist run`` does; one JSON line out."""
    from labelassist.batch.task import propose_volume
    from labelassist.core.propose.params import PipelineParams
    from labelassist.io import load_volume, save_labels

    import_all()
    model, meta, device = _load_model()
    base = status_kb("VmRSS")
    stages = []

    def mark(name):
        if args.stages:
            stages.append((name, status_kb("VmRSS") - base))

    peak = PeakRss()
    t = time.perf_counter()
    volume = load_volume(args.child)
    mark("read")
    out = Path(tempfile.mkdtemp()) / "labels.nii.gz"

    def progress(done, total):
        if done == total // 2:
            mark("CAMs")

    result = propose_volume(volume, model, meta, PipelineParams(), device=device, batch_size=args.batch,
                            progress=progress if args.stages else None)
    mark("perimeter + fit")
    save_labels(result.labels, out, like=volume)
    mark("write")
    wall = time.perf_counter() - t
    print(json.dumps({"base_kb": base, "peak_kb": peak.peak(), "sampled": peak.sampled, "wall_s": wall,
                      "volume_bytes": int(np.prod(volume.array.shape)) * 4, "stages": stages,
                      "lesion_voxels": int(np.count_nonzero(result.labels))}))


def baseline_child() -> None:
    """In a fresh process: import what ``labelassist run`` imports and load the model; the RSS (KiB) then."""
    import_all()
    _load_model()
    print(json.dumps({"rss_kb": status_kb("VmRSS")}))


def cli_peak(volume: Path, folder: Path) -> tuple[int, float]:
    """Peak RSS (KiB) of ``labelassist run`` as a subprocess, and its wall time."""
    exe = [sys.executable, "-c", "import sys; from labelassist.cli import main; sys.exit(main())"]
    peak, wall, _ = _waited(exe + ["run", str(volume), "-o", str(folder / "cli_labels.nii.gz"), "--device", "cpu"])
    return peak, wall


def _waited(cmd) -> tuple[int, float, str]:
    """Run ``cmd``; its own peak RSS (KiB, from ``os.wait4``), wall time and stdout."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        out.seek(0), err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{err.read()[-2000:]}")
        return usage.ru_maxrss, wall, out.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=155)
    ap.add_argument("--size", type=int, default=240)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--no-cli", action="store_true", help="skip the measurement through the command line")
    ap.add_argument("--cli-only", action="store_true", help="only the measurement through the command line")
    ap.add_argument("--stages", action="store_true", help="print the resident memory after each step")
    ap.add_argument("--volume", help="use this volume instead of a generated one")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--baseline-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_child:
        return baseline_child()
    if args.child:
        return child(args)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        volume = Path(args.volume) if args.volume else folder / "volume.nii.gz"
        if not args.volume:
            make_volume(volume, args.slices, args.size)
        if not args.cli_only:
            in_process(volume, args)
        if args.no_cli:
            return
        _, _, out = _waited([sys.executable, __file__, "--baseline-child"])
        base = json.loads(out.strip().splitlines()[-1])["rss_kb"]
        peak, wall = cli_peak(volume, folder)
        above = (peak - base) * 1024
        budget = 4 * _volume_bytes(volume)
        print(f"  command line    : peak {above / MIB:6.1f} MiB above import + model ({base / 1024:.0f} MiB, another "
              f"process)  {'PASS' if above <= budget else 'FAIL'}  wall {wall:.1f} s")


def _volume_bytes(path: Path) -> int:
    import nibabel as nib

    return int(np.prod(nib.load(path).shape[:3])) * 4


def in_process(volume: Path, args) -> None:
    """The run in a fresh process (:func:`child`), against the budget."""
    cmd = [sys.executable, __file__, "--child", str(volume), "--batch", str(args.batch)]
    _, _, out = _waited(cmd + (["--stages"] if args.stages else []))
    m = json.loads(out.strip().splitlines()[-1])
    vol, above = m["volume_bytes"], (m["peak_kb"] - m["base_kb"]) * 1024
    budget = 4 * vol
    how = "sampled every 5 ms" if m["sampled"] else "VmHWM"
    print(f"labelassist run, {volume.name}: float32 volume {vol / MIB:.1f} MiB, budget 4x = {budget / MIB:.1f} MiB")
    print(f"  in-process run  : peak {above / MIB:6.1f} MiB above the loaded model ({how}; model loaded: "
          f"{m['base_kb'] / 1024:.0f} MiB)  {'PASS' if above <= budget else 'FAIL'}  wall {m['wall_s']:.1f} s  "
          f"({m['lesion_voxels']} lesion voxels)")
    for name, kb in m["stages"]:
        print(f"    after {name:<16}: {kb / 1024:6.1f} MiB above the model")


if __name__ == "__main__":
    main()
