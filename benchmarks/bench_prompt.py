"""Box prompts with LiteMedSAM (issue 29) on demo MRI: encoder time, box-to-mask time, cache memory, Dice.

    python benchmarks/bench_prompt.py [--data DIR] [--seeds 19 23] [--threads 2] [--device cpu]

Prints:

- the **encoder** time per slice (torch threads = ``--threads``; every slice the Dice runs below embed);
- **box -> mask** once the embedding is cached, on a 512 x 512 slice (the goal is at most 100 ms);
- the **cache**'s memory per slice (and in all at the end);
- **Dice** per volume (3-D, all lesions of the volume together) of (a) a box on every lesion slice: the lesion's
  bounding box on that slice plus 3 px; (b) one box per lesion on its largest slice (plus 3 px), carried to the
  neighbouring slices by :func:`labelassist.core.prompt.carry_lesion` with its default stop rule. A lesion is a
  3-D connected component (26-neighbours) of the truth mask (touching lesions count as one). For (b) also the
  slices carried past a lesion's ends and the lesion slices the carry did not reach, and why it stopped.

The demo volumes come from ``labelassist.demo.data.write_demo_data(seed=..., n_mri=2, n_us=0)``: 2 volumes of
each setting (easy, hard) per seed, written under ``--data`` (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import ndimage

from labelassist.core.nets.inputs import normalisation_ranges
from labelassist.core.prompt import BoxPrompter, carry_lesion, identity, load_litemedsam, mask_box


def _dice(a, b) -> float:
    total = int(a.sum() + b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


class TimedPrompter(BoxPrompter):
    """A :class:`BoxPrompter` that times each encoder run (a cache hit is not timed)."""

    def __init__(self, model, **kwargs):
        super().__init__(model, **kwargs)
        self.times = []

    def embed(self, slice2d, *, ranges=None, key=None, cancel=None):
        fresh = key is None or self.cached(key) is None
        t0 = time.perf_counter()
        emb = super().embed(slice2d, ranges=ranges, key=key, cancel=cancel)
        if fresh:
            self.times.append(time.perf_counter() - t0)
        return emb


def box_to_mask_time(prompter, *, size=512, repeats=20):
    """Median and 90th percentile (ms) of :meth:`segment` with a cached embedding of a ``size``² slice."""
    rng = np.random.default_rng(0)
    img = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), 4) * 50 + 100
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - 300) ** 2 + (xx - 200) ** 2 <= 40**2
    img[disc] += 100
    emb = prompter.embed(img, key=("bench-512", 0))
    box = (300 - 44, 200 - 44, 300 + 44, 200 + 44)
    prompter.segment(emb, box)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = prompter.segment(emb, box)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times)), 1000 * float(np.percentile(times, 90)), _dice(res.mask, disc), emb.nbytes


def lesions(truth):
    lab, n = ndimage.label(truth, structure=np.ones((3, 3, 3)))
    return [lab == i for i in range(1, n + 1)]


# (b) is also run with the prototype's rule (no contrast check) for comparison, capped at the lesion's extent
# plus CAP slices on each side (without the contrast check a carry may run on to the volume's end).
CAP = 5
RULES = {"default": {}, "no contrast check": {"min_contrast": 0.0}}


def run_volume(prompter, name, vol, truth):
    """Dice of (a) and of (b) per rule on one volume, and the carry's record of each lesion and rule."""
    ranges = normalisation_ranges(vol)
    pred_a = np.zeros_like(truth)
    pred_b = {rule: np.zeros_like(truth) for rule in RULES}
    record = []
    for lesion in lesions(truth):
        area = lesion.sum((1, 2))
        pos = np.nonzero(area)[0]
        for k in pos:
            pred_a[k] |= prompter.segment(vol[k], mask_box(lesion[k], margin=3), ranges=ranges, key=(name, int(k))).mask
        k = int(area.argmax())
        for rule, options in RULES.items():
            cap = None if rule == "default" else int(max(k - pos[0], pos[-1] - k)) + CAP
            carried = carry_lesion(vol, k, mask_box(lesion[k], margin=3), prompter, volume_key=name, ranges=ranges,
                                   max_slices=cap, **options)
            pred_b[rule][carried.slices] |= carried.masks
            got = set(carried.slices.tolist())
            record.append({"rule": rule, "slices": f"{pos[0]}-{pos[-1]}", "start": k,
                           "carried": f"{min(got)}-{max(got)}", "past": len(got - set(pos.tolist())),
                           "missed": len(set(pos.tolist()) - got), "stopped": carried.stopped})
    return _dice(pred_a, truth), {rule: _dice(p, truth) for rule, p in pred_b.items()}, record


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="folder for the demo data (default: a temporary folder)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[19, 23])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import torch

    from labelassist.demo.data import write_demo_data
    from labelassist.io import load_volume

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = load_litemedsam(device=args.device)
    print(f"model: {json.dumps(identity())}")
    print(f"load (size + sha256 check, torch.load weights_only): {time.perf_counter() - t0:.1f} s; "
          f"torch threads {torch.get_num_threads()}, device {args.device}, {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every time below)")
    prompter = TimedPrompter(model, cache_mb=1024)  # a whole demo volume's slices (cleared after each)
    med, p90, dice512, nbytes = box_to_mask_time(prompter)
    print(f"box -> mask, embedding cached, 512 x 512 slice: median {med:.0f} ms, 90th percentile {p90:.0f} ms "
          f"(goal <= 100 ms; Dice of the disc {dice512:.2f})")
    print(f"cache memory per slice: {nbytes / 2**20:.2f} MiB ({nbytes:,} bytes: 256 x 64 x 64 float32)")
    root = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="bench_prompt_"))
    table = {}
    counts = {rule: {"reasons": Counter(), "past": 0, "missed": 0, "lesions": 0} for rule in RULES}
    for seed in args.seeds:
        folder = root / f"seed{seed}"
        manifest = write_demo_data(folder, seed=seed, n_mri=2, n_us=0)
        for entry in manifest["mri"]:
            vol = load_volume(folder / entry["path"]).array
            truth = load_volume(folder / entry["mask"], labels=True).array > 0
            if not truth.any():
                continue
            name = f"seed {seed} {entry['setting']} {Path(entry['path']).name}"
            t1 = time.perf_counter()
            da, db, record = run_volume(prompter, name, vol, truth)
            table.setdefault(entry["setting"], []).append((da, db["default"], db["no contrast check"]))
            print(f"{name}: shape {vol.shape}, {len(record) // len(RULES)} lesion(s), "
                  f"{int(truth.any((1, 2)).sum())} lesion slices; Dice (a) box per slice {da:.3f}, (b) one box + "
                  f"carry {db['default']:.3f} (no contrast check: {db['no contrast check']:.3f}) "
                  f"({time.perf_counter() - t1:.0f} s)")
            for r in record:
                c = counts[r["rule"]]
                c["reasons"].update(r["stopped"].values())
                c["past"], c["missed"], c["lesions"] = c["past"] + r["past"], c["missed"] + r["missed"], c["lesions"] + 1
                print(f"    [{r['rule']}] lesion on {r['slices']}, boxed {r['start']}, carried {r['carried']}: "
                      f"{r['past']} slice(s) past its ends, {r['missed']} missed; stopped below: "
                      f"{r['stopped']['below']}, above: {r['stopped']['above']}")
            prompter.clear_cache(name)
    times = np.asarray(prompter.times[1:])  # the first is the 512² slice of the timing above
    print(f"load average now {os.getloadavg()[0]:.1f}")
    print(f"encoder per slice: median {np.median(times):.2f} s, mean {times.mean():.2f} s, "
          f"range {times.min():.2f}-{times.max():.2f} s over {len(times)} slices")
    for rule, c in counts.items():
        print(f"carry [{rule}] over {c['lesions']} lesions: {c['past']} slice(s) past a lesion's ends, "
              f"{c['missed']} lesion slice(s) missed; stops: {dict(c['reasons'])}"
              + ("" if rule == "default" else f" (capped at the lesion's extent + {CAP})"))
    print("SUMMARY (mean Dice over volumes)")
    print(f"{'setting':8} {'volumes':>7} {'(a) box per slice':>18} {'(b) one box + carry':>20} "
          f"{'(b) no contrast check':>22}")
    for setting, rows in table.items():
        a, b, b0 = (np.mean([r[i] for r in rows]) for i in range(3))
        print(f"{setting:8} {len(rows):7d} {a:18.3f} {b:20.3f} {b0:22.3f}")


if __name__ == "__main__":
    main()
