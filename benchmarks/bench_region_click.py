"""The region tool's click at 512²: the time from a click to the edited mask (core part; the GUIs add the redraw).

Prints the once-per-slice cost (perimeter map, then :func:`slice_regions` and the :class:`RegionMap` boxes), and
the median and 99th percentile of one click (:func:`apply_region` on the cached map, the region under the pixel
looked up first), of one click given only the label image (boxes found anew), and of a drag across the slice.
Goal: a click within 16 ms (a frame at 60 Hz).

    python benchmarks/bench_region_click.py [--clicks 500] [--size 512] [--n-segments 200]

The slice is the middle axial slice of the MNI152 template that nilearn ships (as the demo data), resized.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from labelassist.core.propose.perimeter import perimeter_map
from labelassist.core.regions import RegionMap, apply_region, regions_along, slice_regions


def test_slice(size):
    from skimage.transform import resize

    from labelassist.demo.data import load_template

    t1, _, _ = load_template()
    img = t1[:, :, t1.shape[2] // 2].astype(np.float32)
    img = resize(img, (size, size), order=1, preserve_range=True).astype(np.float32)
    return (img - img.min()) / max(float(np.ptp(img)), 1e-6)


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.array(out) * 1e3


def summary(ms):
    return f"median {np.median(ms):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms, max {ms.max():.3f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=500)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--n-segments", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    img = test_slice(args.size)
    t = time.perf_counter()
    pm = perimeter_map(img, n_segments=args.n_segments)
    t_perimeter = time.perf_counter() - t
    once = timed(lambda: RegionMap(slice_regions(pm.perimeter, image=img)), 5)
    rmap = RegionMap(slice_regions(pm.perimeter, image=img))
    sizes = np.bincount(rmap.labels.ravel())[1:]
    print(f"{args.size}² slice: perimeter map {t_perimeter * 1e3:.0f} ms ({pm.n_regions} regions); once per slice, "
          f"slice_regions + RegionMap: median {np.median(once):.1f} ms -> {rmap.n_regions} regions in the body "
          f"(median {np.median(sizes):.0f} px, largest {sizes.max()} px)")
    body = np.argwhere(rmap.labels > 0)
    picks = body[rng.integers(0, len(body), args.clicks)]
    mask = np.zeros(img.shape, np.uint8)
    state = iter(range(10**9))

    def click(labels_only=False):
        y, x = picks[next(state) % len(picks)]
        add = bool(rng.integers(0, 2))
        if labels_only:
            apply_region(mask, rmap.labels, int(rmap.labels[y, x]), add=add)
        else:
            apply_region(mask, rmap, rmap.at(int(y), int(x)), add=add)

    print(f"click, cached RegionMap ({args.clicks} clicks): {summary(timed(click, args.clicks))}")
    plain = timed(lambda: click(True), max(args.clicks // 10, 5))
    print(f"click, label image only (boxes found anew): {summary(plain)}")
    path = np.stack([np.linspace(args.size * 0.2, args.size * 0.8, 40),
                     np.linspace(args.size * 0.3, args.size * 0.7, 40)], 1)

    def drag():
        for label in regions_along(rmap, path):
            apply_region(mask, rmap, label, add=True)

    n_drag = len(regions_along(rmap, path))
    print(f"drag across the slice ({n_drag} regions, 40 mouse positions): {summary(timed(drag, 50))}")


if __name__ == "__main__":
    main()
