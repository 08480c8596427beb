"""First-pass lesion Dice of each refiner (``refine``: boundaryfit, crf, sam) on held-out demo MRI, and the time
each takes per volume.

    python benchmarks/bench_refine.py [--data DIR] [--seeds 19 23] [--settings easy hard]
        [--refiners boundaryfit crf sam] [--device cpu]

Per seed, the demo data are written once to ``DIR/seed<N>`` (``write_demo_data(n_mri=2, n_us=0)``: two MRI
volumes per setting, both with lesions). Each volume gets the first pass of ``labelassist run`` with the
shipped demo classifier and the default parameters (``cli._simulation.proposal_pipeline``: CAM + BoundaryFit),
then each refiner in turn on the same pipeline: a change of ``refine`` redoes only the fit stage, so the CAMs
and perimeter maps are computed once and every refiner sees the same fitted masks. Dice is whole-volume lesion
Dice against the demo's truth. The refiners only touch slices with a fitted lesion (``refined`` slices); the
SAM refiner's LiteMedSAM is loaded once for the whole run (its load time printed apart) and its embedding cache
cleared after each volume, so its time per volume is the encoder on each refined slice plus a decoder pass
per lesion component.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from labelassist.cli._simulation import proposal_pipeline
from labelassist.core.evaluate.metrics import dice
from labelassist.core.propose.params import REFINE_NAMES
from labelassist.core.propose.refine import make_refiner
from labelassist.demo.data import write_demo_data
from labelassist.io import load_volume
from labelassist.io.resources import demo_model_path


def demo_volumes(data: Path, seed: int, settings):
    """``(entry, image, truth)`` of each demo MRI volume of ``seed`` in ``settings`` (written on first use)."""
    folder = data / f"seed{seed}"
    if not (folder / "manifest.json").is_file():
        write_demo_data(folder, seed=seed, n_mri=2, n_us=0)
    for e in json.loads((folder / "manifest.json").read_text())["mri"]:
        if e["setting"] in settings:
            yield e, load_volume(folder / e["path"]).array, load_volume(folder / e["mask"], labels=True).array > 0


def bench_volume(image, truth, refiners, shared, device):
    """``{refiner: (Dice, seconds)}`` for one volume, the first pass's seconds and how many slices were refined."""
    t = time.perf_counter()
    pipe = proposal_pipeline(image, classifier=demo_model_path(), device=device)
    first = time.perf_counter() - t
    refined = int(pipe.masks().any(axis=(1, 2)).sum())
    pipe.refiners.update(shared)  # one LiteMedSAM for every volume
    out = {}
    for name in refiners:
        t = time.perf_counter()
        pipe.set_params(refine=name)
        masks = pipe.run()
        out[name] = (dice(masks, truth), time.perf_counter() - t)
    if "sam" in shared:
        shared["sam"].prompter.clear_cache()
    return out, first, refined


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp/labelassist-bench-refine", help="where the demo data are written")
    ap.add_argument("--seeds", type=int, nargs="+", default=[19, 23])
    ap.add_argument("--settings", nargs="+", default=["easy", "hard"], choices=["easy", "hard"])
    ap.add_argument("--refiners", nargs="+", default=list(REFINE_NAMES), choices=list(REFINE_NAMES))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    shared = {}
    if "sam" in args.refiners:
        t = time.perf_counter()
        shared["sam"] = make_refiner("sam", device=args.device)
        _ = shared["sam"].prompter  # load LiteMedSAM now, not inside the first volume's time
        print(f"LiteMedSAM loaded in {time.perf_counter() - t:.1f} s", flush=True)
    head = " | ".join(f"{n} Dice / s" for n in args.refiners)
    print(f"| volume | lesion slices | refined slices | first pass s | {head} |", flush=True)
    rows = []
    for seed in args.seeds:
        for e, image, truth in demo_volumes(Path(args.data), seed, args.settings):
            res, first, refined = bench_volume(image, truth, args.refiners, shared, args.device)
            lesion = int(truth.any(axis=(1, 2)).sum())
            cells = " | ".join(f"{d:.3f} / {s:.1f}" for d, s in res.values())
            print(f"| seed {seed} {e['path']} | {lesion} | {refined} | {first:.1f} | {cells} |", flush=True)
            rows.append((e["setting"], res))
    print("\nmean Dice (mean s per volume):")
    for setting in [*args.settings, "all"]:
        sel = [r for s, r in rows if setting in (s, "all")]
        if not sel:
            continue
        cells = ", ".join(f"{n} {np.mean([r[n][0] for r in sel]):.3f} ({np.mean([r[n][1] for r in sel]):.1f} s)"
                          for n in args.refiners)
        print(f"  {setting} ({len(sel)} volumes): {cells}")


if __name__ == "__main__":
    main()
