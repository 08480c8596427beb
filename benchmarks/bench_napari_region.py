"""The napari region tool's click at 512 x 512 (issue 18; goal: the mask on screen within 16 ms).

Run in a real X server: ``xvfb-run -a .venv/bin/python benchmarks/bench_napari_region.py [--clicks 100]``.
A 3 x 512 x 512 ``boundaryfit`` Labels layer in a shown viewer; the perimeter walls cut each slice into squares
of ``--cell`` pixels (default 32 and 128: regions of ~1k and ~16k pixels). Each click alternately adds and
removes the region under a random pixel through :class:`labelassist.napari._regions.RegionTool` (one undo step:
``block_history`` + ``data_setitem``, which refreshes the changed box). Printed, in ms, median and p99 of:

- click: the tool's work (region lookup, ``data_setitem`` with its history and the layer's refresh);
- to screen: the click plus the canvas repaint it causes (Qt events processed until vispy has drawn).
"""

from __future__ import annotations

import argparse
import sys
import time
from types import SimpleNamespace

import numpy as np


def walls(shape, cell: int) -> np.ndarray:
    w = np.zeros(shape, bool)
    w[:, ::cell, :] = True
    w[:, :, ::cell] = True
    return w


def run(app, viewer, *, cell: int, clicks: int, rng) -> dict:
    from labelassist.napari._regions import RegionTool

    shape = (3, 512, 512)
    image = rng.uniform(100, 200, shape).astype(np.float32)  # all body: no air regions
    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    viewer.add_image(image, name="image")
    layer = viewer.add_labels(np.zeros(shape, np.uint8), name="boundaryfit", opacity=0.5)
    viewer.dims.set_point(0, 1)
    ctl = SimpleNamespace(volume=SimpleNamespace(array=image), perimeter=walls(shape, cell),
                          say=lambda *a, **k: None, begin_stroke=lambda z: None, end_stroke=lambda: None)
    tool = RegionTool(SimpleNamespace(layers={"boundaryfit": layer}, viewer=viewer), ctl)
    tool.source.region_map(1)  # the slice's map is cached when the slice is shown; not part of a click
    canvas = viewer.window._qt_viewer.canvas._scene_canvas
    drawn: list[float] = []
    canvas.events.draw.connect(lambda e: drawn.append(time.perf_counter()))
    click_ms, screen_ms = [], []
    for k in range(clicks):
        if k % 2 == 0:  # add a region, then remove it with the next click
            y, x = (int(v) for v in rng.integers(1, 511, 2))
        for _ in range(3):
            app.processEvents()
        drawn.clear()
        t0 = time.perf_counter()
        tool.click(1, y, x, add=k % 2 == 0)
        t1 = time.perf_counter()
        end = t1 + 2
        while not drawn and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.0002)
        click_ms.append(1000 * (t1 - t0))
        screen_ms.append(1000 * ((drawn[-1] if drawn else float("nan")) - t0))
    c, s = np.array(click_ms), np.array(screen_ms)
    return {"cell": cell, "click": (np.median(c), np.percentile(c, 99)),
            "screen": (np.nanmedian(s), np.nanpercentile(s, 99)), "missed": int(np.isnan(s).sum())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clicks", type=int, default=100)
    p.add_argument("--cell", type=int, nargs="+", default=[32, 128])
    args = p.parse_args(argv)
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    rng = np.random.default_rng(0)
    try:
        results = [run(app, viewer, cell=cell, clicks=args.clicks, rng=rng) for cell in args.cell]
    finally:
        viewer.close()
    print(f"region tool click at 512x512, {args.clicks} clicks each (goal: on screen within 16 ms):")
    for r in results:
        print(f"  regions {r['cell']}x{r['cell']} px: click median {r['click'][0]:.2f} ms, p99 {r['click'][1]:.2f} ms; "
              f"to screen median {r['screen'][0]:.1f} ms, p99 {r['screen'][1]:.1f} ms"
              + (f" ({r['missed']} clicks drew nothing within 2 s)" if r["missed"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
