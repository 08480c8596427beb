"""Which speckle reduction before the perimeter map gives regions that follow ultrasound lesions.

    python benchmarks/bench_despeckle.py [--images 30] [--seed 0] [--quick]

On demo ultrasound images (``make_ultrasound_case``, 256 x 256, settings easy and hard, ``--images`` of each
that hold a lesion; uint8 / 255 as the pipeline sees them), for every despeckle method and strength x perimeter
method x n_segments: the perimeter map of the despeckled image, then per image

* **oracle** Dice: the regions more than half inside the true lesion, with the perimeter pixels that touch
  them (BoundaryFit's perimeter rule), against the truth. The best any CAM could get from these regions; it
  rises with the number of regions (single pixels would score 1).
* **fit** Dice: BoundaryFit of a coarse CAM, the truth dilated by ``--cam-margin`` pixels (a CAM overshoots by
  a cell or so): the regions wholly inside it, plus its touching perimeter pixels. This rewards regions that
  stop at the lesion's edge and punishes over-segmentation (tiny regions fill the whole CAM); the CAM alone
  scores the ``cam only`` line.
* the regions inside the sector (image > 0), and the milliseconds per image (despeckle + perimeter map).

Quickshift's superpixels ignore n_segments: it runs once per despeckle setting (``n`` shown as ``-``). The
winner is the row of the highest mean of the four Dice columns (oracle and fit, easy and hard). SLIC runs
from 200 superpixels: at 100 its superpixels are wider than the hard setting's lesions (oracle Dice about 0.35
there, despeckled). ``--quick``: 8 images per setting, strength 1 only, SLIC 800, Felzenszwalb 400 and
Quickshift. Set OMP_NUM_THREADS=1 for comparable times (OpenCV is set to one thread here).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
from scipy import ndimage

from labelassist.core.evaluate.metrics import dice
from labelassist.core.propose.boundaryfit import mask_inside, touching_perimeter
from labelassist.core.propose.despeckle import despeckle
from labelassist.core.propose.perimeter import perimeter_map

try:  # the ultrasound demo moved to its own module
    from labelassist.demo.us_synth import make_ultrasound_case
except ImportError:
    from labelassist.demo.synth import make_ultrasound_case

SETTINGS = ("easy", "hard")
METHODS = ("none", "median", "bilateral", "nlmeans", "diffusion", "gaussian")
STRENGTHS = {m: (1.0,) if m == "none" else (0.5, 1.0, 2.0) for m in METHODS}
PERIMETERS = (("slic", 200), ("slic", 400), ("slic", 800), ("slic", 1200), ("felzenszwalb", 100),
              ("felzenszwalb", 200), ("felzenszwalb", 400), ("quickshift", None))
QUICK_PERIMETERS = (("slic", 800), ("felzenszwalb", 400), ("quickshift", None))
DICE_COLUMNS = ("oracle easy", "oracle hard", "fit easy", "fit hard")


def cases(setting: str, n: int, seed: int):
    """``n`` (image float32 in [0, 1], truth bool, sector bool) of ``setting`` that hold a lesion."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        img, mask, _ = make_ultrasound_case(rng=rng, setting=setting, shape=(256, 256))
        if mask.any():
            out.append(((img / 255.0).astype(np.float32), mask > 0, ndimage.binary_dilation(img > 0, iterations=2)))
    return out


def oracle_dice(regions: np.ndarray, perimeter: np.ndarray, truth: np.ndarray) -> float:
    """Dice of the union of the regions more than half inside ``truth`` (with their touching perimeter)."""
    n = int(regions.max()) + 1
    inside = np.bincount(regions.ravel(), weights=truth.ravel(), minlength=n)
    size = np.maximum(np.bincount(regions.ravel(), minlength=n), 1)
    keep = inside / size > 0.5
    keep[0] = False
    kept = keep[regions]
    return dice(kept | touching_perimeter(kept, perimeter), truth)


def fit_dice(regions: np.ndarray, perimeter: np.ndarray, cam: np.ndarray, truth: np.ndarray) -> float:
    """Dice of BoundaryFit of the binary ``cam``: the regions wholly inside it, plus touching perimeter in it."""
    kept = mask_inside(cam, regions)[regions] >= 1
    return dice(kept | (touching_perimeter(kept, perimeter) & cam), truth)


def coarse_cam(truth: np.ndarray, sector: np.ndarray, margin: int) -> np.ndarray:
    """The truth dilated by a disc of radius ``margin`` pixels, inside the sector."""
    yy, xx = np.mgrid[-margin : margin + 1, -margin : margin + 1]
    return ndimage.binary_dilation(truth, np.hypot(yy, xx) <= margin) & sector


def measure(data, method: str, strength: float, margin: int, perimeters=PERIMETERS):
    """``{(uss, n): {"oracle easy": [...], ..., "regions": [...], "ms": [...]}}`` of one despeckle setting."""
    out = defaultdict(lambda: defaultdict(list))
    for setting, items in data.items():
        for img, truth, sector in items:
            cam = coarse_cam(truth, sector, margin)
            t0 = time.perf_counter()
            smooth = despeckle(img, method=method, strength=strength)
            t_despeckle = time.perf_counter() - t0
            for uss, n in perimeters:
                t0 = time.perf_counter()
                pm = perimeter_map(smooth, method=uss, n_segments=n or 200)
                row = out[(uss, n)]
                row["ms"].append((t_despeckle + time.perf_counter() - t0) * 1e3)
                row[f"oracle {setting}"].append(oracle_dice(pm.regions, pm.perimeter, truth))
                row[f"fit {setting}"].append(fit_dice(pm.regions, pm.perimeter, cam, truth))
                row["regions"].append(len(np.unique(pm.regions[sector & (pm.regions > 0)])))
    return out


def table(results) -> list[dict]:
    """One row per setting: its Dice means, regions, ms, score and per-image scores; best score first."""
    rows = []
    for (method, strength), per in results.items():
        for (uss, n), cols in per.items():
            per_image = np.concatenate([(np.array(cols[f"oracle {s}"]) + cols[f"fit {s}"]) / 2 for s in SETTINGS])
            rows.append({"method": method, "strength": strength, "uss": uss, "n": n,
                         "dice": [float(np.mean(cols[c])) for c in DICE_COLUMNS],
                         "regions": float(np.mean(cols["regions"])), "ms": float(np.mean(cols["ms"])),
                         "score": float(per_image.mean()), "per_image": per_image})
    return sorted(rows, key=lambda r: -r["score"])


def _name(r: dict) -> str:
    return f"{r['method']} strength {r['strength']:g}, {r['uss']} n={r['n'] or '-'}"


def report(rows, cam_only, n_images: int) -> None:
    print(f"{n_images} images per setting (easy, hard), 256 x 256; Dice means; score = mean of the four Dice")
    print(f"cam only (truth dilated): fit easy {cam_only['easy']:.3f}, fit hard {cam_only['hard']:.3f}")
    head = f"{'despeckle':>10} {'str':>4} {'perimeter':>12} {'n':>4} " + " ".join(f"{c:>11}" for c in DICE_COLUMNS)
    print(head + f" {'regions':>8} {'ms':>7} {'score':>6}")
    for r in rows:
        print(f"{r['method']:>10} {r['strength']:>4g} {r['uss']:>12} {r['n'] or '-':>4} "
              + " ".join(f"{m:>11.3f}" for m in r["dice"]) + f" {r['regions']:>8.0f} {r['ms']:>7.1f} {r['score']:>6.3f}")
    w = rows[0]
    best = {}
    for r in rows:  # rows are best first: the first row of each method is its best
        best.setdefault(r["method"], r)
    print(f"\nbest of each despeckle method (score minus the winner's, +- its paired standard error over the "
          f"{len(w['per_image'])} images):")
    for r in best.values():
        d = r["per_image"] - w["per_image"]
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
        o, f = r["dice"][:2], r["dice"][2:]
        print(f"  {_name(r)}: score {r['score']:.3f} ({d.mean():+.3f} +- {se:.3f}; oracle {o[0]:.3f}/{o[1]:.3f}, "
              f"fit {f[0]:.3f}/{f[1]:.3f}, {r['regions']:.0f} regions, {r['ms']:.0f} ms)")
    print(f"\nwinner: despeckle={w['method']} strength={w['strength']:g}, uss={w['uss']}, "
          f"n_segments={w['n'] or '-'} (score {w['score']:.3f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=30, help="images with a lesion per setting")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cam-margin", type=int, default=6, help="pixels the coarse CAM of the fit Dice overshoots")
    ap.add_argument("--quick", action="store_true", help="8 images per setting, strength 1, three perimeters")
    args = ap.parse_args()
    import cv2

    cv2.setNumThreads(1)
    strengths, perimeters, n_images = STRENGTHS, PERIMETERS, args.images
    if args.quick:
        n_images, strengths = min(n_images, 8), {m: (1.0,) for m in STRENGTHS}
        perimeters = QUICK_PERIMETERS
    data = {s: cases(s, n_images, args.seed + k) for k, s in enumerate(SETTINGS)}
    cam_only = {s: float(np.mean([dice(coarse_cam(t, sec, args.cam_margin), t) for _, t, sec in items]))
                for s, items in data.items()}
    t0 = time.perf_counter()
    results = {(m, s): measure(data, m, s, args.cam_margin, perimeters) for m, ss in strengths.items() for s in ss}
    report(table(results), cam_only, n_images)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
