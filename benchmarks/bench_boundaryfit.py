"""BoundaryFit by region minima against a faithful per-pixel flood fill (BFS from every negative pixel).

Prints: identical masks on random and real-image slices, the time of a whole fit (region minima
included) and of a re-fit from cached minima, at 256^2 and 512^2.  Goals: whole fit >= 30x faster
than the flood fill, re-fit < 2 ms at 512^2.

    python benchmarks/bench_boundaryfit.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
from collections import deque

import numpy as np
from scipy import ndimage

from labelassist.core.propose.boundaryfit import boundary_fit, fit_from_minima, region_minima
from labelassist.core.propose.perimeter import perimeter_map

FOUR = ((1, 0), (-1, 0), (0, 1), (0, -1))


def flood_fill(cam, perimeter, t):
    """The papers' removal: flood from every negative pixel through non-perimeter pixels (BFS)."""
    h, w = cam.shape
    positive = cam >= t
    removed = ~positive  # every negative pixel is removed, and floods its region
    queue = deque((int(y), int(x)) for y, x in zip(*np.nonzero(~positive & ~perimeter)))
    while queue:
        y, x = queue.popleft()
        for dy, dx in FOUR:
            v, u = y + dy, x + dx
            if 0 <= v < h and 0 <= u < w and not removed[v, u] and not perimeter[v, u]:
                removed[v, u] = True
                queue.append((v, u))
    kept = positive & ~removed & ~perimeter
    near = ndimage.binary_dilation(kept, structure=ndimage.generate_binary_structure(2, 1))
    return (kept | (perimeter & positive & near)).astype(np.uint8)


def slices(size, rng, n_random=3, methods=("slic",)):
    """Real slices (scikit-image's camera, MNI152 T1 axial slices shipped with nilearn) and smooth random images."""
    from nilearn.datasets import load_mni152_template
    from skimage import data, transform

    imgs = [transform.resize(data.camera() / 255.0, (size, size), anti_aliasing=True)]
    t1 = load_mni152_template(resolution=1).get_fdata()
    for k in (60, 90):
        sl = t1[:, :, k].T[::-1]
        imgs.append(transform.resize(sl / sl.max(), (size, size), anti_aliasing=True))
    for _ in range(n_random):
        g = ndimage.gaussian_filter(rng.random((size, size)), size / rng.uniform(8, 64))
        imgs.append((g - g.min()) / np.ptp(g))
    out = []
    for i, img in enumerate(imgs):
        pm = perimeter_map(img, method=methods[i % len(methods)], n_segments=300)
        cam = ndimage.gaussian_filter(rng.random((size, size)), size / 8)
        cam = ((cam - cam.min()) / np.ptp(cam)).astype(np.float32)
        out.append((cam, pm.regions, pm.perimeter))
    return out


def timeit(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--check", type=int, default=24, help="random slices checked for identical masks (256²)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    checked = mismatches = 0
    methods = ("slic", "felzenszwalb", "quickshift")
    for cam, regions, perimeter in slices(256, rng, n_random=args.check, methods=methods):
        for t in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
            checked += 1
            mismatches += not np.array_equal(boundary_fit(cam, regions, threshold=t, perimeter=perimeter),
                                              flood_fill(cam, perimeter, t))
    print(f"identity check: {checked} fits ({args.check + 3} slices at 256², {', '.join(methods)} perimeters, "
          f"7 thresholds each): {mismatches} mismatches")
    print(f"{'size':>6} {'slices':>6} {'identical':>9} {'flood fill':>11} {'whole fit':>10} {'speed-up':>9} {'re-fit':>9}")
    for size in (256, 512):
        cases = slices(size, rng)
        same, t_ref, t_fit, t_refit = True, [], [], []
        for cam, regions, perimeter in cases:
            for t in (0.3, 0.5, 0.7):
                same &= np.array_equal(boundary_fit(cam, regions, threshold=t, perimeter=perimeter),
                                       flood_fill(cam, perimeter, t))
            t_ref.append(timeit(lambda: flood_fill(cam, perimeter, 0.5), max(1, args.repeats // 2)))
            t_fit.append(timeit(lambda: boundary_fit(cam, regions, threshold=0.5, perimeter=perimeter), args.repeats))
            minima = region_minima(cam, regions)
            t_refit.append(timeit(lambda: fit_from_minima(minima, regions, threshold=0.42, cam=cam, perimeter=perimeter),
                                  args.repeats * 4))
        ref, fit, refit = np.median(t_ref), np.median(t_fit), np.median(t_refit)
        print(f"{size:>5}² {len(cases):>6} {str(same):>9} {ref * 1e3:>9.1f}ms {fit * 1e3:>8.2f}ms "
              f"{ref / fit:>8.0f}x {refit * 1e3:>7.2f}ms")


if __name__ == "__main__":
    main()
