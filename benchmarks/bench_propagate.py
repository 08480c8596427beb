"""Learning from the reviewer on demo MRI: simulated review curves, Dice at 5 corrections, corrections to
reach Dice 0.9, the largest drop between rounds, suggested lesions, and the time of one propagation over a
155-slice volume.

    python benchmarks/bench_propagate.py [--data DIR] [--seed 5] [--rounds 8] [--settings easy hard]
        [--volumes 0] [--plot docs/simulate_review.png] [--time-only] [--device cpu] [--project N]
        [--no-merge] [--gate-margin 0.05] [--save DIR]

Per volume it prints the curve, the **largest drop** (the largest fall of whole-volume Dice from one round to
the next; the goal is at most 0.02), and the **suggestions** of every round (:mod:`labelassist.core.propagate.suggest`):
recall (of the lesions, 3-D components of the truth, not on a reviewed slice after the first correction, the
share some suggestion touched before the reviewer reached them) and false suggestions (the most, in any one
round, that touch no lesion). For a lesion no suggestion touched, its contrast: mean intensity inside minus
that of a 2-voxel ring around it, in standard deviations of the volume's non-zero voxels.

The demo volumes come from ``labelassist.demo.data`` (seed 5; written to --data once). Each curve starts
from CAM + BoundaryFit with the shipped demo classifier; the simulated reviewer corrects the review queue's
first slice each round and the U-Net re-learns after every correction (warm-started).

``--project N``: a project that goes on. The net first learns volume after volume from N fully reviewed
volumes of the same setting (demo seed 11, lesion-free ones among them, as a reviewer would meet them),
and each benchmark volume then starts from that net (its proposals are round 0) instead of from scratch.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import labelassist.core.propagate.propagation as propagation
from labelassist.io.resources import demo_model_path
from labelassist.cli.simulate_review import cold_start, hand_curve, plot_curves, simulate
from labelassist.core.propagate.propagation import predict, propagate
from labelassist.io import load_volume
from labelassist.demo.data import write_demo_data


def time_155(device, steps=None):
    """One propagation over a 155 x 240 x 240 volume (a demo volume resampled), 8 reviewed slices."""
    from scipy import ndimage

    img = load_volume(Path(ARGS.data) / "mri/easy/vol_000.nii.gz").array
    truth = load_volume(Path(ARGS.data) / "mri/easy/vol_000_mask.nii.gz", labels=True).array > 0
    zoom = (155 / img.shape[0], 240 / img.shape[1], 240 / img.shape[2])
    big = ndimage.zoom(img, zoom, order=1).astype(np.float32)
    lab = (ndimage.zoom(truth.astype(np.float32), zoom, order=1) > 0.5).astype(np.uint8)
    pos = np.flatnonzero(lab.reshape(len(lab), -1).any(1))
    rev = sorted(set(pos[np.linspace(0, len(pos) - 1, 6).round().astype(int)].tolist()) | {10, 140})
    t = time.perf_counter()
    res = propagate(big, lab, rev, device=device, steps=steps)
    return time.perf_counter() - t, res.meta


def project_net(setting, n, device):
    """The net after N fully reviewed volumes of ``setting`` (demo seed 11), each fine-tuning the last."""
    from labelassist.core.evaluate.metrics import dice

    data = Path(ARGS.data).with_name(Path(ARGS.data).name + "-project")
    if not (data / "manifest.json").is_file():
        write_demo_data(data, seed=11, n_mri=9, n_us=0)
    man = json.loads((data / "manifest.json").read_text())
    model, t = None, time.perf_counter()
    for e in [e for e in man["mri"] if e["setting"] == setting][:n]:
        img = load_volume(data / e["path"]).array
        truth = load_volume(data / e["mask"], labels=True).array > 0
        if model is not None:
            print(f"  project {e['path']} ({e['lesions']} lesions): the net alone before it, Dice "
                  f"{dice(predict(img, model, device=device)[0], truth):.3f}", flush=True)
        model = propagate(img, truth.astype(np.uint8), range(len(truth)), model=model, device=device, seed=1).model
    print(f"  project net: {n} {setting} volumes in {time.perf_counter() - t:.0f} s", flush=True)
    return model


def recording(rounds, **options):
    """``simulate`` returns the curve only: wrap ``propagate`` (looked up at call time) to keep each round's result."""
    real = propagation.propagate

    def wrapped(*args, **kwargs):
        res = real(*args, **{**kwargs, **options})
        rounds.append((sorted(int(i) for i in args[2]), res))
        return res

    return real, wrapped


def max_drop(curve):
    """The largest fall of Dice from one round to the next (0 when it never falls)."""
    d = [b[1] - a[1] for a, b in zip(curve, curve[1:])]
    return round(max([0.0] + [-x for x in d]), 4)


def contrast(img, lesion):
    """Mean inside minus mean of a 2-voxel ring around, in standard deviations of the non-zero voxels."""
    from scipy import ndimage

    ring = ndimage.binary_dilation(lesion, iterations=2) & ~lesion
    body = img[img != 0]
    return float((img[lesion].mean() - img[ring].mean()) / body.std())


def suggestion_figures(img, truth, rounds):
    """Recall, false suggestions (most in a round), and the contrast of the lesions no suggestion touched."""
    from scipy import ndimage

    lab, n = ndimage.label(truth, structure=np.ones((3, 3, 3), bool))
    if not rounds or n == 0:
        return None, 0, []
    seen = lambda rev: {int(k) for k in np.unique(lab[rev]) if k}  # noqa: E731  lesions on reviewed slices
    targets = set(range(1, n + 1)) - seen(rounds[0][0])
    found, false = set(), 0
    for rev, res in rounds:
        sug = res.suggested if res.suggested is not None else np.zeros(truth.shape, np.int32)
        grown = ndimage.grey_dilation(sug, size=(3, 3, 3))
        hits = {s.label: {int(k) for k in np.unique(lab[grown == s.label]) if k} for s in res.suggestions}
        false = max(false, sum(not h for h in hits.values()))
        found |= (set().union(*hits.values()) if hits else set()) - seen(rev)
    missed = sorted(targets - found)
    recall = None if not targets else round(len(targets & found) / len(targets), 3)
    return recall, false, [(k, int((lab == k).sum()), round(contrast(img, lab == k), 2)) for k in missed]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/labelassist-bench-propagate")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--settings", nargs="+", default=["easy", "hard"])
    ap.add_argument("--volumes", nargs="+", type=int, default=[0])
    ap.add_argument("--seed", type=int, default=5, help="demo data seed (5; pick one not tuned on for figures)")
    ap.add_argument("--plot", help="PNG of the first curve")
    ap.add_argument("--time-only", action="store_true")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-merge", action="store_true", help="propagate's merge=False: the new net alone")
    ap.add_argument("--gate-margin", type=float, help="propagate's gate_margin (inf: no gate)")
    ap.add_argument("--save", metavar="DIR", help="write each round's probability, masks and reviewed slices (npz)")
    ap.add_argument("--project", type=int, default=0, metavar="N",
                    help="start every volume from a net that learned N fully reviewed volumes first")
    global ARGS
    ARGS = ap.parse_args()
    data = Path(ARGS.data + ("" if ARGS.seed == 5 else f"-seed{ARGS.seed}"))
    if not (data / "manifest.json").is_file():
        write_demo_data(data, seed=ARGS.seed, n_mri=3, n_us=0)
    results = {}
    for setting in [] if ARGS.time_only else ARGS.settings:
        start = project_net(setting, ARGS.project, ARGS.device) if ARGS.project else None
        for v in ARGS.volumes:
            img = load_volume(data / f"mri/{setting}/vol_{v:03d}.nii.gz").array
            truth = load_volume(data / f"mri/{setting}/vol_{v:03d}_mask.nii.gz", labels=True).array > 0
            n_les = int(truth.reshape(len(truth), -1).any(1).sum())
            print(f"\n## {setting} vol_{v:03d}: {img.shape}, {n_les} lesion slices, {int(truth.sum())} lesion voxels",
                  flush=True)
            t = time.perf_counter()
            fit, prob = cold_start(img, classifier=demo_model_path(), device=ARGS.device)
            options = {"merge": False} if ARGS.no_merge else {}
            options.update({} if ARGS.gate_margin is None else {"gate_margin": ARGS.gate_margin})
            rounds = []
            real, propagation.propagate = recording(rounds, **options)
            try:
                curve, _ = simulate(img, truth, fit=fit, probability=prob, model=start, rounds=ARGS.rounds,
                                    device=ARGS.device, log=lambda s: print("  " + s, flush=True))
            finally:
                propagation.propagate = real
            recall, false, missed = suggestion_figures(img, truth, rounds)
            if ARGS.save:
                Path(ARGS.save).mkdir(parents=True, exist_ok=True)
                np.savez_compressed(Path(ARGS.save) / f"{setting}_seed{ARGS.seed}_vol{v:03d}.npz", image=img, truth=truth,
                                    probability=np.stack([r.probability for _, r in rounds]),
                                    masks=np.stack([r.masks for _, r in rounds]),
                                    reviewed=np.array([np.isin(np.arange(len(img)), rev) for rev, _ in rounds]))
            kept = sum(r.meta.get("kept_previous", False) for _, r in rounds)
            hand = hand_curve(truth, len(curve) - 1)
            at5 = dict(curve).get(5)
            reach = next((k for k, d in curve if d >= 0.9), None)
            print(f"  curve {json.dumps(curve)}\n  hand  {json.dumps(hand)}")
            print(f"  largest drop {max_drop(curve)}; previous prediction kept in {kept} of {len(rounds)} rounds; "
                  f"suggestions: recall {recall}, false {false} (most in a round); missed lesions "
                  f"(label, voxels, contrast in SD): {missed}")
            d = dict(curve)
            print(f"  ROW {setting} seed {ARGS.seed} vol_{v:03d}: Dice@3 {d.get(3)} Dice@5 {d.get(5)} "
                  f"drop {max_drop(curve)} recall {recall} false {false}", flush=True)
            print(f"  Dice at 5 corrections: {at5}; corrections to Dice 0.9: "
                  f"{reach if reach is not None else f'> {curve[-1][0]}'} (a quarter of the lesion slices: {n_les / 4:.1f}); "
                  f"{time.perf_counter() - t:.0f} s", flush=True)
            results[(setting, v)] = (curve, hand)
            if ARGS.plot and len(results) == 1:
                plot_curves(curve, hand, ARGS.plot, title=f"demo MRI, {setting} lesions ({n_les} lesion slices)")
    if not ARGS.no_time:
        sec, meta = time_155(ARGS.device)
        print(f"\npropagation over 155 x 240 x 240 ({meta['reviewed']} reviewed slices, {meta['steps']} steps, "
              f"{meta['device']}): {sec:.1f} s", flush=True)


if __name__ == "__main__":
    main()
