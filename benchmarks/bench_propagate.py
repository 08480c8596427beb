"""Learning from the reviewer on demo MRI: simulated review curves, Dice at 5 corrections, corrections to
reach Dice 0.9, and the time of one propagation over a 155-slice volume.

    python benchmarks/bench_propagate.py [--data DIR] [--rounds 8] [--settings easy hard] [--volumes 0]
        [--plot docs/simulate_review.png] [--time-only] [--device cpu] [--project N]

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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/labelassist-bench-propagate")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--settings", nargs="+", default=["easy", "hard"])
    ap.add_argument("--volumes", nargs="+", type=int, default=[0])
    ap.add_argument("--plot", help="PNG of the first curve")
    ap.add_argument("--time-only", action="store_true")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--project", type=int, default=0, metavar="N",
                    help="start every volume from a net that learned N fully reviewed volumes first")
    global ARGS
    ARGS = ap.parse_args()
    data = Path(ARGS.data)
    if not (data / "manifest.json").is_file():
        write_demo_data(data, seed=5, n_mri=3, n_us=0)
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
            curve, _ = simulate(img, truth, fit=fit, probability=prob, model=start, rounds=ARGS.rounds,
                                device=ARGS.device, log=lambda s: print("  " + s, flush=True))
            hand = hand_curve(truth, len(curve) - 1)
            at5 = dict(curve).get(5)
            reach = next((k for k, d in curve if d >= 0.9), None)
            print(f"  curve {json.dumps(curve)}\n  hand  {json.dumps(hand)}")
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
