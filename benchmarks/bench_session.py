"""Session saves on a big volume: what the GUI thread pays per save and how long the saving thread writes.

    python benchmarks/bench_session.py [--shape 200 512 512] [--repeat 10]

A label volume with a lesion on a third of the slices; a save after one stroke (one slice changed) and after a
propagation (every slice changed), the first save of the volume, and a restore. The GUI thread's share of a
save is the snapshot (a copy of the labels); the rest runs in the saving thread. The volume's content hash is
computed once when the volume opens (timed apart).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from labelassist.core.review import CORRECTED, ReviewState
from labelassist.io.sessions.session import SliceCompressor, load_session, save_session, session_path, volume_identity
from labelassist.io.volume import Volume
from labelassist.widgets.session_actions import snapshot


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=[200, 512, 512])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    z, y, x = args.shape
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp())
    volume = Volume(array=rng.random((z, y, x), dtype=np.float32), affine=np.eye(4), spacing=(1.0, 1.0, 1.0),
                    source_path=folder / "big.nii.gz", format="nifti")
    state = ReviewState.new((z, y, x))
    for i in range(0, z, 3):
        state.labels[i, y // 3:y // 2, x // 3:x // 2] = 1
    export = folder / "big_labels.nii.gz"
    rows = []
    t = time.perf_counter()
    volume_identity(volume)
    rows.append(("content hash, once per opened volume", (time.perf_counter() - t) * 1000, None))
    rows.append(("GUI thread: snapshot per save", *timed(lambda: snapshot(state), args.repeat)))
    comp = SliceCompressor()
    t = time.perf_counter()
    save_session(snapshot(state), export, like=volume, compressor=comp)
    rows.append(("saving thread: first save", (time.perf_counter() - t) * 1000, None))

    def one_stroke():
        i = int(rng.integers(z))
        state.labels[i, 10:20, 10:20] ^= 1
        state.set_status(i, CORRECTED)
        save_session(snapshot(state), export, like=volume, compressor=comp)

    rows.append(("saving thread: save after one stroke", *timed(one_stroke, args.repeat)))

    def every_slice():
        state.labels[:, 5, 5] ^= 1
        save_session(snapshot(state), export, like=volume, compressor=comp)

    rows.append(("saving thread: save after a propagation (every slice)", *timed(every_slice, max(2, args.repeat // 3))))
    rows.append(("restore (read + check)", *timed(lambda: load_session(export, like=volume), max(2, args.repeat // 3))))
    size = session_path(export).stat().st_size / 2**20
    print(f"session of {z} x {y} x {x} labels: {size:.1f} MiB on disk")
    print("| step | median ms | worst ms |\n|---|---|---|")
    for name, med, worst in rows:
        print(f"| {name} | {med:.1f} | {'' if worst is None else f'{worst:.1f}'} |")


if __name__ == "__main__":
    main()
