"""Peak memory of ``labelassist train`` for a small and a four times larger data set (issue 17, item 7).

Writes N synthetic volumes (z, y, x) with masks (a bright square on a third of the slices), runs
``python -m labelassist train`` on the first 6 and on all 24 in fresh processes (1 epoch, resnet18, small
input size, CPU) and prints each child's peak resident memory (``ru_maxrss`` from ``os.wait4``) and their
ratio. The goal is a ratio <= 1.2: training streams the slices from disk instead of holding every volume.

The child imports ``labelassist`` from the current folder first (``-m``): run it from another checkout to
measure that one.

Usage::

    python benchmarks/bench_train_memory.py [--shape 64 320 320] [--sizes 6 24] [--input-size 64] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The goal: peak memory for the large data set at most this many times that for the small one.
GOAL_RATIO = 1.2


def write_volumes(folder: Path, n: int, shape) -> list[tuple[Path, Path]]:
    """``n`` NIfTI volumes with their masks in ``folder``: noise plus a bright square on a third of the slices."""
    import nibabel as nib

    out = []
    z, y, x = shape
    for k in range(n):
        rng = np.random.default_rng(k)
        vol = rng.normal(100, 10, shape).astype(np.float32)
        mask = np.zeros(shape, np.uint8)
        first = int(rng.integers(0, z - z // 3))
        cy, cx = int(rng.integers(y // 4, 3 * y // 4)), int(rng.integers(x // 4, 3 * x // 4))
        mask[first : first + z // 3, cy - y // 10 : cy + y // 10, cx - x // 10 : cx + x // 10] = 1
        vol[mask > 0] += 40
        v, m = folder / f"v{k:02d}.nii", folder / f"v{k:02d}_mask.nii"
        nib.save(nib.Nifti1Image(vol.transpose(2, 1, 0).copy(), np.eye(4)), str(v))
        nib.save(nib.Nifti1Image(mask.transpose(2, 1, 0).copy(), np.eye(4)), str(m))
        out.append((v, m))
    return out


def peak_rss_of_training(pairs, output: Path, *, input_size: int) -> tuple[float, float]:
    """``(peak RSS in MiB, seconds)`` of one ``labelassist train`` run in a fresh process."""
    cmd = [sys.executable, "-m", "labelassist", "train", *[str(v) for v, _ in pairs],
           "--masks", *[str(m) for _, m in pairs], "-o", str(output), "--epochs", "1", "--arch", "resnet18",
           "--input-size", str(input_size), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    out, err = child.stdout.read().decode(), child.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"labelassist train failed ({status}): {err.strip()[-2000:]}")
    print("   ", out.strip().splitlines()[-1])
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=int, nargs=3, default=(64, 320, 320), metavar=("Z", "Y", "X"))
    p.add_argument("--sizes", type=int, nargs=2, default=(6, 24), metavar=("SMALL", "LARGE"))
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--keep", metavar="DIR", help="write the volumes here and keep them (default: a temporary folder)")
    args = p.parse_args(argv)
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench_train_memory_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        small, large = args.sizes
        pairs = write_volumes(folder, large, tuple(args.shape))
        mib = np.prod(args.shape) * 4 / 2**20
        print(f"volumes {tuple(args.shape)} float32 ({mib:.1f} MiB each), input size {args.input_size}, 1 epoch resnet18")
        peaks = {}
        for n in (small, large):
            peak, seconds = peak_rss_of_training(pairs[:n], folder / f"model_{n}.pt", input_size=args.input_size)
            peaks[n] = peak
            print(f"{n:3d} volumes ({n * mib:7.1f} MiB of voxels): peak RSS {peak:8.1f} MiB, {seconds:6.1f} s")
        ratio = peaks[large] / peaks[small]
        print(f"ratio {large}/{small}: {ratio:.3f} (goal <= {GOAL_RATIO}): {'ok' if ratio <= GOAL_RATIO else 'OVER'}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
