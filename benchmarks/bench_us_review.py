"""Ultrasound demo cines: the first pass and what a simulated reviewer reaches after 1, 3 and 5 corrected frames.

    python benchmarks/bench_us_review.py [--data DIR] [--seed 1] [--cines 4] [--rounds 5]
    python benchmarks/bench_us_review.py --thresholds 0.3 0.4 0.5 0.6 --seed 2   # the first pass per CAM threshold

Per setting (easy, hard) ``--cines`` demo cines of ``--seed`` are written once to ``DIR/seed<N>``
(``write_demo_data(n_cine=...)``: DICOM screens, the scan area from the regions or, one in 4, from motion); the
shipped ultrasound demo model was trained on seed 0, so seeds 1 and 2 are held out. Each cine with a lesion runs
``labelassist simulate-review CINE --truth MASK --rounds R --interactions --json`` in this process: the command a
user runs, the one review loop of both GUIs, with the ultrasound demo model and defaults the file's modality picks.
Dice is whole-cine lesion Dice; "hand" is drawing the same number of frames by hand (largest lesion first).

``--thresholds``: the first pass only (``labelassist run``'s pipeline with the ultrasound defaults), once per CAM
threshold, to choose that default on a held-out seed other than the one reported.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np

from labelassist.cli import main
from labelassist.demo.data import write_demo_data


def demo_cines(data: Path, seed: int, n: int):
    folder = data / f"seed{seed}"
    if not (folder / "manifest.json").is_file():
        write_demo_data(folder, seed=seed, n_mri=0, n_us=0, n_cine=n)
    return folder, [e for e in json.loads((folder / "manifest.json").read_text())["us_cine"] if e["lesions"]]


def review(folder: Path, e: dict, rounds: int) -> dict:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["simulate-review", str(folder / e["path"]), "--truth", str(folder / e["mask"]),
                   "--rounds", str(rounds), "--interactions", "--json", "--device", "cpu"])
    if rc != 0:
        raise SystemExit(f"simulate-review failed on {e['path']}")
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def at(curve, k):
    """The Dice after ``k`` corrected frames (the last one reached when the review stopped sooner)."""
    got = [d for n, d in curve if n <= k]
    return got[-1] if got else float("nan")


def first_pass_grid(folder: Path, cines, thresholds):
    from labelassist.cli._simulation import proposal_pipeline
    from labelassist.core.evaluate.metrics import dice
    from labelassist.io import load_volume
    from labelassist.io.formats.us_regions import volume_area
    from labelassist.io.resources import demo_model_path

    rows = {t: [] for t in thresholds}
    for e in cines:
        vol, truth = load_volume(folder / e["path"]), load_volume(folder / e["mask"], labels=True).array > 0
        pipe = proposal_pipeline(vol.array, classifier=demo_model_path("US"), area=volume_area(vol), modality="US")
        for t in thresholds:
            pipe.set_params(threshold=t)
            rows[t].append((e["setting"], dice(pipe.run(), truth)))
    print("| CAM threshold | easy first pass | hard first pass |\n|---|---|---|")
    for t, got in rows.items():
        easy = [d for s, d in got if s == "easy"]
        hard = [d for s, d in got if s == "hard"]
        print(f"| {t:g} | {np.mean(easy):.3f} | {np.mean(hard):.3f} |")


def main_(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp/bench_us_review")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cines", type=int, default=4, help="cines per setting (one in 3 has no lesion)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--thresholds", type=float, nargs="+")
    args = ap.parse_args(argv)
    folder, cines = demo_cines(Path(args.data), args.seed, args.cines)
    if args.thresholds:
        first_pass_grid(folder, cines, args.thresholds)
        return
    print(f"seed {args.seed}, {len(cines)} cines with a lesion; lesion Dice per cine (24 frames)\n")
    print("| cine | lesions (frames) | first pass | after 1 | after 3 | after 5 | by hand, 5 frames | interactions (5) |")
    print("|---|---|---|---|---|---|---|---|")
    summary = {}
    for e in cines:
        t = time.perf_counter()
        out = review(folder, e, args.rounds)
        c, h = out["curve"], out["hand"]
        spent = [n for n, _ in out["interactions"]][-1]
        frames = sum(p["frames"][1] - p["frames"][0] + 1 for p in e["lesion_params"] if p["frames"])
        print(f"| {e['path']} | {e['lesions']} ({frames}) | {c[0][1]:.3f} | {at(c, 1):.3f} | {at(c, 3):.3f} | "
              f"{at(c, 5):.3f} | {at(h, 5):.3f} | {spent} | ({time.perf_counter() - t:.0f} s)", flush=True)
        summary.setdefault(e["setting"], []).append([c[0][1], at(c, 1), at(c, 3), at(c, 5), at(h, 5)])
    print("\n| setting | cines | first pass | after 1 | after 3 | after 5 | by hand, 5 |\n|---|---|---|---|---|---|---|")
    for s, rows in summary.items():
        m = np.mean(rows, axis=0)
        print(f"| {s} | {len(rows)} | " + " | ".join(f"{v:.3f}" for v in m) + " |")


if __name__ == "__main__":
    main_()
