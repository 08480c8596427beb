"""The app's region tool at 512²: the time from a click (press, release) to the edited mask painted on screen.

A :class:`~labelassist.app.view.VolumeView` (900 x 900 canvas, all four layers shown) over a 512 x 512 slice whose
perimeter map is computed once (outside the timing, like the app's engine does); each click, at a random point in
the body, alternately adds and removes (Shift) the region under it: the mouse press and release events are sent,
then the pending repaint (the region's dirty rectangle) is processed. Prints the median and the 99th percentile.
Goal: 16 ms (a frame at 60 Hz).

    xvfb-run -a .venv/bin/python benchmarks/bench_app_region.py [--clicks 300] [--size 512]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def slice_image(size: int) -> tuple[np.ndarray, str]:
    """The demo template's middle slice (as bench_region_click.py), else smooth noise with discs."""
    try:
        from bench_region_click import test_slice

        return test_slice(size), "the demo template's middle slice"
    except Exception:  # no template here: a synthetic slice of similar structure
        from scipy import ndimage

        rng = np.random.default_rng(0)
        img = ndimage.gaussian_filter(rng.random((size, size)).astype(np.float32), 6)
        yy, xx = np.mgrid[:size, :size]
        for cy, cx, r in rng.integers(size // 8, size - size // 8, (12, 3)):
            img[(yy - cy) ** 2 + (xx - cx) ** 2 <= (r // 6) ** 2] += 0.5
        return (img - img.min()) / float(np.ptp(img)), "smooth noise with discs (no template here)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=300)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()

    from qtpy.QtCore import QPoint, QPointF, Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    from labelassist.app.view import VolumeView
    from labelassist.core.propose.perimeter import perimeter_map
    from labelassist.core.regions import RegionMap, slice_regions
    from labelassist.io import Volume

    app = QApplication.instance() or QApplication([])
    img, source = slice_image(args.size)
    walls = perimeter_map(img, n_segments=200).perimeter
    rmap = RegionMap(slice_regions(walls, image=img))
    vol = Volume(np.repeat(img[None], 3, 0), np.eye(4), (1.0, 1.0, 1.0), Path("bench.nii.gz"), "nifti")
    labels = np.zeros(vol.shape, np.uint8)
    v = VolumeView()
    v.resize(900, 900)
    v.show()
    v.set_volume(vol, labels, cam=np.random.default_rng(1).random(vol.shape, dtype=np.float32),
                 perimeter=np.repeat(walls[None].astype(np.uint8), 3, 0), start=1)
    v.editor.set_region_source(lambda z: rmap)
    v.editor.set_tool("region")
    v.canvas.tool = "region"
    app.processEvents()
    c = v.canvas
    frames = []
    c.frame_drawn.connect(lambda: frames.append(1))

    def pos(y, x):
        p = c.transform().map(QPointF(x + 0.5, y + 0.5))
        return QPoint(int(p.x()), int(p.y()))

    rng = np.random.default_rng(0)
    body = np.argwhere(rmap.labels > 0)
    times, changed = [], 0
    y, x = body[rng.integers(0, len(body))]
    for k in range(args.clicks):  # odd clicks remove a region an even click added
        if k % 2 == 0 and k:
            y, x = body[rng.integers(0, len(body))]
        before = int(labels[1].sum())
        t = time.perf_counter()
        mods = Qt.KeyboardModifier.ShiftModifier if k % 2 else Qt.KeyboardModifier.NoModifier  # Shift: remove
        QTest.mousePress(c, Qt.MouseButton.LeftButton, mods, pos(y, x))  # through the window system, as a mouse
        QTest.mouseRelease(c, Qt.MouseButton.LeftButton, mods, pos(y, x))
        app.processEvents()  # the canvas repaints the region's dirty rectangle
        times.append((time.perf_counter() - t) * 1000)
        changed += int(labels[1].sum()) != before
    v.close()
    ms = np.array(times)
    sizes = np.bincount(rmap.labels.ravel())[1:]
    print(f"region click at {args.size}² in the app (press -> release -> repaint), {args.clicks} clicks on "
          f"{rmap.n_regions} regions (median {np.median(sizes):.0f} px): median {np.median(ms):.2f} ms, "
          f"p99 {np.percentile(ms, 99):.2f} ms, max {ms.max():.2f} ms; {changed} clicks changed the mask, "
          f"{len(frames)} frames drawn; slice: {source}")


if __name__ == "__main__":
    main()
