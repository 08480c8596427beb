"""Standalone app figures: command to first drawn slice, worst GUI stall while a volume runs, brush latency at 512².

Run under a real X server (``xvfb-run -a .venv/bin/python benchmarks/bench_app.py``) or a desktop:

1. ``labelassist app --demo`` in a fresh process, from the command to the window shown, the demo slice's
   image drawn and its overlays (grad-cam, perimeter, boundaryfit proposal) drawn.
2. While "Run volume" computes every slice of the demo volume in the engine thread, a 2 ms GUI timer
   measures the gaps between its ticks: the worst gap minus 2 ms is the worst stall a user could feel.
3. A brush stroke on a 512 x 512 slice (all four layers shown, 900 x 900 canvas): each mouse move event is
   sent and the pending repaint (the stroke's dirty rectangle) processed at once; the time of the two together
   is the latency from the mouse to the painted pixels on screen.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def startup(cache: Path) -> dict:
    env = {**os.environ, "LABELASSIST_CACHE": str(cache), "LABELASSIST_APP_SETTINGS": str(cache / "s.ini")}
    subprocess.run([sys.executable, "-c", "from labelassist.app.main import demo_volume; demo_volume()"],
                   env=env, check=True)  # write the demo volume once, outside the timing
    shot = cache / "shot.png"
    t0 = time.time()
    out = subprocess.run([sys.executable, "-m", "labelassist", "app", "--demo", "--screenshot", str(shot), "--timing"],
                         env=env, capture_output=True, text=True, timeout=900)
    line = next(x for x in out.stdout.splitlines() if x.startswith("timing-epoch:"))
    marks = dict(kv.split("=") for kv in line.split(":", 1)[1].split())
    return {k: float(v) - t0 for k, v in marks.items()}


def stall_during_volume_run(cache: Path) -> dict:
    from qtpy.QtCore import QElapsedTimer, QTimer
    from qtpy.QtWidgets import QApplication

    from labelassist.app.main import demo_volume
    from labelassist.app.window import MainWindow

    os.environ["LABELASSIST_CACHE"] = str(cache)
    app = QApplication.instance() or QApplication([])
    w = MainWindow()
    w.show()
    path, z = demo_volume()
    w.open_volume(path, start=z)
    c, e = w.controller, w.controller.engine
    while not (c.state.has_proposal(c.current) and not e.busy):
        app.processEvents()
        time.sleep(0.005)
    gaps, clock, last = [], QElapsedTimer(), [0]
    clock.start()

    def tick():
        now = clock.nsecsElapsed() / 1e6
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(tick)
    t0 = time.perf_counter()
    timer.start()
    run = c.run_volume()
    while not run.done:
        app.processEvents()
        time.sleep(0.001)
    seconds = time.perf_counter() - t0
    timer.stop()
    n = c.state.n_slices
    w.close()
    gaps = np.array(gaps[1:])
    return {"slices": n, "seconds": seconds, "worst_stall_ms": float(gaps.max() - 2), "p99_gap_ms": float(np.percentile(gaps, 99)),
            "ticks": len(gaps)}


def brush_latency() -> dict:
    from qtpy.QtCore import QPointF, Qt
    from qtpy.QtGui import QMouseEvent
    from qtpy.QtWidgets import QApplication

    from labelassist.app.view import VolumeView
    from labelassist.io import Volume

    app = QApplication.instance() or QApplication([])
    vol = Volume(np.random.default_rng(0).random((4, 512, 512), dtype=np.float32), np.eye(4), (1.0, 1.0, 1.0),
                 Path("bench.nii.gz"), "nifti")
    v = VolumeView()
    v.resize(900, 900)
    v.show()
    labels = np.zeros(vol.shape, np.uint8)
    v.set_volume(vol, labels, cam=np.random.default_rng(1).random(vol.shape, dtype=np.float32),
                 perimeter=(np.random.default_rng(2).random(vol.shape) > 0.9).astype(np.uint8))
    app.processEvents()
    c = v.canvas
    v.editor.radius = 8

    def event(kind, y, x):
        p = c.transform().map(QPointF(x, y))
        button = Qt.MouseButton.LeftButton
        buttons = Qt.MouseButton.LeftButton if kind != QMouseEvent.Type.MouseButtonRelease else Qt.MouseButton.NoButton
        return QMouseEvent(kind, p, c.mapToGlobal(p), button, buttons, Qt.KeyboardModifier.NoModifier)

    frames = []
    c.frame_drawn.connect(lambda: frames.append(1))
    QApplication.sendEvent(c, event(QMouseEvent.Type.MouseButtonPress, 100, 100))
    app.processEvents()
    frames.clear()
    times = []
    for k in range(300):
        y, x = 100 + 300 * np.sin(k / 50) ** 2, 100 + k
        t = time.perf_counter()
        QApplication.sendEvent(c, event(QMouseEvent.Type.MouseMove, y, x))
        app.processEvents()  # the canvas repaints the stroke's dirty rectangle, as it does for a real mouse
        times.append((time.perf_counter() - t) * 1000)
    QApplication.sendEvent(c, event(QMouseEvent.Type.MouseButtonRelease, y, x))
    painted, n_frames = int(labels.sum()), len(frames)
    t = time.perf_counter()
    v.undo()
    c.repaint()
    undo_ms = (time.perf_counter() - t) * 1000
    v.close()
    return {"median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95)), "max_ms": max(times),
            "undo_ms": undo_ms, "painted": painted, "frames": n_frames}


def main() -> None:
    import torch

    print(f"labelassist app benchmark ({os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'})")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        s = startup(cache)
        print(f"command -> window shown {s['window_shown']:.2f} s, image drawn {s['image_drawn']:.2f} s, "
              f"first slice with overlays drawn {s['overlays_drawn']:.2f} s (labelassist app --demo, fresh process)")
        b = brush_latency()
        print(f"brush stroke at 512x512 (radius 8, 300 moves): mouse move -> pixels on screen median {b['median_ms']:.2f} ms, "
              f"p95 {b['p95_ms']:.2f} ms, max {b['max_ms']:.2f} ms ({b['frames']} frames drawn for 300 moves); "
              f"undo of the stroke (full repaint) {b['undo_ms']:.2f} ms")
        r = stall_during_volume_run(cache)
        print(f"run volume ({r['slices']} slices, {r['seconds']:.1f} s): worst GUI stall {r['worst_stall_ms']:.1f} ms, "
              f"99th percentile timer gap {r['p99_gap_ms']:.1f} ms over {r['ticks']} ticks (goal: stall <= 50 ms)")


if __name__ == "__main__":
    main()
