"""Learning from the reviewer on demo MRI: simulated review curves, Dice at 5 corrections, corrections to
reach Dice 0.9, the largest drop between rounds, suggested lesions, and the time of one propagation over a
155-slice volume and the appearance learner's budgets (features once, one round, 181 x 217 x 181).

    python benchmarks/bench_propagate.py [--data DIR] [--seed 5] [--rounds 8] [--settings easy hard]
        [--volumes 0] [--plot docs/simulate_review.png] [--time-only] [--device cpu] [--project N]
        [--no-merge] [--no-hold] [--strict-proposals] [--gate-margin 0.05] [--no-cheapest]
        [--suggestion-weight W] [--follow-suggestions] [--no-appearance] [--save DIR]

``--no-appearance``: the segmenter alone, without the appearance learner (``core.propagate.appearance``), to
measure what it adds: the review loop is otherwise the one the GUIs run. Per volume a line gives the lesions found
per round (in the labels or a suggestion, ``simulate-review``'s ``lesions_found``) and the false suggestions.

Per volume it prints the curve, the **largest drop** (the largest fall of whole-volume Dice from one round to
the next; the goal is at most 0.02), and the **suggestions** of every round (:mod:`labelassist.core.propagate.suggest`):
recall (of the lesions, 3-D components of the truth, not on a reviewed slice after the first correction, the
share some suggestion touched before the reviewer reached them) and false suggestions (the most, in any one
round, that touch no lesion). For a lesion no suggestion touched, its contrast: mean intensity inside minus
that of a 2-voxel ring around it, in standard deviations of the volume's non-zero voxels.

It also counts the reviewer's **interactions** (:mod:`labelassist.core.evaluate.interactions`: region clicks on
the slice's perimeter regions, then a brush stroke per connected error left; or, where that is cheaper, R to
empty the slice and drawing it again) and prints them as
``[[interactions so far, Dice], ...]`` beside drawing by hand (a stroke per lesion outline, largest slice
first), with the interactions each needs to reach Dice 0.9. A ROW line per volume and a SUMMARY table at the end
hold the figures. ``--plot PNG`` draws the first volume's curves over corrected slices and over interactions,
and the first hard volume's at ``PNG`` with the suffix ``_hard``.

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
from labelassist.cli._simulation import hand_curve, plot_curves, proposal_pipeline, review
from labelassist.core.evaluate.interactions import hand_interactions
from labelassist.core.propagate.propagation import predict, propagate
from labelassist.core.regions import VolumeRegions
from labelassist.io import load_volume
from labelassist.demo.data import write_demo_data


def resampled_demo(shape):
    """The first easy demo volume resampled to ``shape``, its truth, and 8 reviewed slices (6 across the lesion,
    slice 10 and the 15th from the end)."""
    from scipy import ndimage

    img = load_volume(Path(ARGS.data) / "mri/easy/vol_000.nii.gz").array
    truth = load_volume(Path(ARGS.data) / "mri/easy/vol_000_mask.nii.gz", labels=True).array > 0
    zoom = [n / s for n, s in zip(shape, img.shape)]
    big = ndimage.zoom(img, zoom, order=1).astype(np.float32)
    lab = (ndimage.zoom(truth.astype(np.float32), zoom, order=1) > 0.5).astype(np.uint8)
    pos = np.flatnonzero(lab.reshape(len(lab), -1).any(1))
    rev = sorted(set(pos[np.linspace(0, len(pos) - 1, 6).round().astype(int)].tolist()) | {10, shape[0] - 15})
    return big, lab, rev


def time_155(device, steps=None):
    """One propagation over a 155 x 240 x 240 volume (a demo volume resampled), 8 reviewed slices."""
    big, lab, rev = resampled_demo((155, 240, 240))
    t = time.perf_counter()
    res = propagate(big, lab, rev, device=device, steps=steps)
    return time.perf_counter() - t, res.meta


def time_appearance(device, shape=(181, 217, 181)):
    """The appearance learner's budgets (issue 28) on a demo volume resampled to ``shape`` (MNI 1 mm): features once
    (``FeatureCache``, as the review loop computes them on its first round), then one round of the loop (train +
    predict + the appearance learner, features cached), 8 reviewed slices."""
    from labelassist.core.nets.inputs import normalise_volume
    from labelassist.core.propagate.appearance import FeatureCache

    big, lab, rev = resampled_demo(shape)
    cache = FeatureCache()
    t = time.perf_counter()
    cache.get(normalise_volume(big))
    features = time.perf_counter() - t
    t = time.perf_counter()
    res = propagate(big, lab, rev, device=device, appearance=cache)
    return features, time.perf_counter() - t, res.meta


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
    """``review`` returns the curves only: wrap ``propagate`` (looked up at call time) to keep each round's result."""
    real = propagation.propagate

    def wrapped(*args, **kwargs):
        res = real(*args, **{**kwargs, **options})
        # the masks as this round returned them: the reviewer's next correction is written into res.masks in place
        rounds.append((sorted(int(i) for i in args[2]), res, res.masks.copy()))
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
    for rev, res, _ in rounds:
        sug = res.suggested if res.suggested is not None else np.zeros(truth.shape, np.int32)
        grown = ndimage.grey_dilation(sug, size=(3, 3, 3))
        hits = {s.label: {int(k) for k in np.unique(lab[grown == s.label]) if k} for s in res.suggestions}
        false = max(false, sum(not h for h in hits.values()))
        found |= (set().union(*hits.values()) if hits else set()) - seen(rev)
    missed = sorted(targets - found)
    recall = None if not targets else round(len(targets & found) / len(targets), 3)
    return recall, false, [(k, int((lab == k).sum()), round(contrast(img, lab == k), 2)) for k in missed]


def manifest_lesions(entry, lab):
    """``{label: the manifest's parameters}`` of each lesion the demo drew (``entry["lesion_params"]``), keyed by the
    component of ``lab`` nearest its centre (the manifest's voxel indices are (x, y, z); the arrays are (z, y, x))."""
    where = np.argwhere(lab > 0)
    out = {}
    for p in entry.get("lesion_params", []):
        c = np.array(p["centre"][::-1])
        out[int(lab[tuple(where[np.argmin(((where - c) ** 2).sum(1))])])] = p
    return out


def drawn_contrast(data, setting, v, truth, missed):
    """The demo's own figures of each missed lesion (``(label, ...)``): its contrast as drawn (a fraction of the
    brain's 1-99 % intensity range) and polarity, from the manifest."""
    from scipy import ndimage

    entry = next(e for e in json.loads((data / "manifest.json").read_text())["mri"]
                 if e["path"] == f"mri/{setting}/vol_{v:03d}.nii.gz")
    lab, _ = ndimage.label(truth, structure=np.ones((3, 3, 3), bool))
    drawn = manifest_lesions(entry, lab)
    return [(k, drawn[k]["contrast"], drawn[k]["polarity"]) for k, *_ in missed if k in drawn]


def reach(curve, goal=0.9):
    """The first x of ``[[x, dice], ...]`` where Dice reaches ``goal`` (None: never)."""
    return next((x for x, d in curve if d >= goal), None)


def run_volume(data, setting, v, start):
    """Play the reviewer on one demo volume, print its lines, and return its summary row (a dict)."""
    img = load_volume(data / f"mri/{setting}/vol_{v:03d}.nii.gz").array
    truth = load_volume(data / f"mri/{setting}/vol_{v:03d}_mask.nii.gz", labels=True).array > 0
    n_les = int(truth.reshape(len(truth), -1).any(1).sum())
    print(f"\n## {setting} vol_{v:03d}: {img.shape}, {n_les} lesion slices, {int(truth.sum())} lesion voxels",
          flush=True)
    t = time.perf_counter()
    pipe = proposal_pipeline(img, classifier=demo_model_path(), device=ARGS.device)  # cold start and regions
    fit, prob = pipe.masks(), np.array([r.probability for r in pipe.results], float)
    regions = VolumeRegions([r.perimeter for r in pipe.results], img)
    options = {"merge": False} if ARGS.no_merge else {}
    options.update({"previous_masks": None} if ARGS.no_hold else {})
    options.update({} if ARGS.gate_margin is None else {"gate_margin": ARGS.gate_margin})
    rounds = []
    real, propagation.propagate = recording(rounds, **options)
    try:
        res = review(img, truth, fit=fit, probability=prob, model=start, rounds=ARGS.rounds, device=ARGS.device,
                     log=lambda s: print("  " + s, flush=True), regions=regions,
                     cheapest=not ARGS.no_cheapest, follow_suggestions=ARGS.follow_suggestions,
                     appearance=not ARGS.no_appearance)
    finally:
        propagation.propagate = real
    curve, inter, hand_inter = res.curve, res.interactions, hand_interactions(truth)
    recall, false, missed = suggestion_figures(img, truth, rounds)
    print("  lesions found per round (in the labels or a suggestion, of "
          f"{res.rounds[0]['lesions'] if res.rounds else 0}): {[r['lesions_found'] for r in res.rounds]}; "
          f"false suggestions per round {[r['false_suggestions'] for r in res.rounds]}; appearance learner s per "
          f"round {[r.meta.get('appearance_s') for _, r, _ in rounds]}", flush=True)
    if ARGS.save:
        Path(ARGS.save).mkdir(parents=True, exist_ok=True)
        np.savez_compressed(Path(ARGS.save) / f"{setting}_seed{ARGS.seed}_vol{v:03d}.npz", image=img, truth=truth,
                            fit=fit, p_lesion=prob,
                            probability=np.stack([r.probability for _, r, _ in rounds]),
                            masks=np.stack([m for _, _, m in rounds]),
                            reviewed=np.array([np.isin(np.arange(len(img)), rev) for rev, _, _ in rounds]))
    kept = sum(r.meta.get("kept_previous", False) for _, r, _ in rounds)
    held = [r.meta.get("held_previous", 0) for _, r, _ in rounds]  # voxels the floor kept, per round
    hand = hand_curve(truth, len(curve) - 1)
    d, drop = dict(curve), max_drop(curve)
    i9, h9 = reach(inter), reach(hand_inter)
    if i9 is not None and h9 is not None:
        half = "yes" if i9 <= h9 / 2 else "no"
    else:  # not reached in the rounds: undecided only while fewer than half the hand's interactions were spent
        half = "no (not reached)" if h9 is not None and inter[-1][0] > h9 / 2 else "not reached in the rounds"
    print(f"  curve {json.dumps(curve)}\n  hand  {json.dumps(hand)}")
    print(f"  interactions {json.dumps(inter)}\n  hand_interactions {json.dumps(hand_inter)}")
    print(f"  largest drop {drop} (after round 1: {max_drop(curve[1:])}); previous prediction kept in {kept} of "
          f"{len(rounds)} rounds; floor held voxels in {sum(h > 0 for h in held)} rounds {held}; "
          f"suggestions: recall {recall}, false {false} (most in a round); missed lesions "
          f"(label, voxels, contrast to a 2-voxel ring in SD): {missed}; as drawn (label, contrast, polarity): "
          f"{drawn_contrast(data, setting, v, truth, missed)}")
    print(f"  interactions to Dice 0.9: learner {i9 if i9 is not None else f'> {inter[-1][0]}'}, by hand {h9}; "
          f"within half of by hand: {half}")
    print(f"  ROW {setting} seed {ARGS.seed} vol_{v:03d}: Dice@3 {d.get(3)} Dice@5 {d.get(5)} "
          f"drop {drop} recall {recall} false {false} inter@0.9 {i9} hand@0.9 {h9}", flush=True)
    print(f"  Dice at 5 corrections: {d.get(5)}; corrections to Dice 0.9: "
          f"{reach(curve) if reach(curve) is not None else f'> {curve[-1][0]}'} (a quarter of the lesion slices: "
          f"{n_les / 4:.1f}); {time.perf_counter() - t:.0f} s", flush=True)
    title = f"demo MRI seed {ARGS.seed}, {setting} lesions, vol_{v:03d} ({n_les} lesion slices)"
    return {"setting": setting, "vol": v, "d3": d.get(3), "d5": d.get(5), "drop": drop, "recall": recall,
            "false": false, "i9": i9, "h9": h9, "plot": (curve, hand, title, inter, hand_inter)}


def plot_rows(rows, path):
    """The first volume's curves at ``path`` (two panels); the first hard volume's at PATH_hard.png too."""
    hard = next((r for r in rows if r["setting"] == "hard"), None)
    todo = [(rows[0], Path(path))] if rows else []
    if hard is not None and hard is not rows[0]:
        todo.append((hard, Path(path).with_name(Path(path).stem + "_hard" + Path(path).suffix)))
    for row, out in todo:
        curve, hand, title, inter, hand_inter = row["plot"]
        plot_curves(curve, hand, out, title=title, interactions=inter, hand_interactions=hand_inter)
        print(f"plot: {out}", flush=True)


def summary(rows):
    """A compact table of every volume's figures (markdown, to quote in docs/benchmarks.md)."""
    show = lambda x: "-" if x is None else str(x)  # noqa: E731
    lines = ["| setting | vol | Dice@3 | Dice@5 | largest drop | recall | false "
             "| interactions to 0.9: learner / hand |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        i9 = f"> {r['plot'][3][-1][0]}" if r["i9"] is None else r["i9"]
        lines.append(f"| {r['setting']} | {r['vol']:03d} | {show(r['d3'])} | {show(r['d5'])} | {r['drop']} | "
                     f"{show(r['recall'])} | {r['false']} | {i9} / {show(r['h9'])} |")
    print(f"\nSUMMARY (seed {ARGS.seed}, {ARGS.rounds} rounds)\n" + "\n".join(lines), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/labelassist-bench-propagate")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--settings", nargs="+", default=["easy", "hard"])
    ap.add_argument("--volumes", nargs="+", type=int, default=[0])
    ap.add_argument("--seed", type=int, default=5, help="demo data seed (5; pick one not tuned on for figures)")
    ap.add_argument("--plot", metavar="PNG", help="the first volume's curves over corrected slices and over "
                    "interactions; the first hard volume's at PNG with the suffix _hard too")
    ap.add_argument("--time-only", action="store_true")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-appearance", action="store_true", help="the segmenter alone: no appearance learner")
    ap.add_argument("--no-merge", action="store_true", help="propagate's merge=False: the new net alone")
    ap.add_argument("--no-hold", action="store_true", help="propagate without previous_masks: no floor")
    ap.add_argument("--gate-margin", type=float, help="propagate's gate_margin (inf: no gate)")
    ap.add_argument("--strict-proposals", action="store_true", help="the first propagation's floor refutes a "
                    "proposed lesion at more than 4 pixels left out, like a net's (default: where mostly wrong)")
    ap.add_argument("--no-cheapest", action="store_true", help="the reviewer always edits the proposal (region "
                    "clicks, then strokes), never empties the slice (R) to draw it again")
    ap.add_argument("--suggestion-weight", type=float, help="the review queue's suggestion_weight (default "
                    "SUGGESTION_WEIGHT)")
    ap.add_argument("--follow-suggestions", action="store_true", help="the reviewer looks at each new suggested "
                    "lesion (one interaction) and corrects the peak slice of one that is a lesion next")
    ap.add_argument("--save", metavar="DIR", help="write each round's probability, masks and reviewed slices, and the "
                    "proposals (npz)")
    ap.add_argument("--project", type=int, default=0, metavar="N",
                    help="start every volume from a net that learned N fully reviewed volumes first")
    global ARGS
    ARGS = ap.parse_args()
    if ARGS.suggestion_weight is not None:  # review() calls review_queue with its default
        from labelassist.core.propagate.queue import review_queue

        review_queue.__kwdefaults__["suggestion_weight"] = ARGS.suggestion_weight
    if ARGS.strict_proposals:  # propagate() calls hold_previous(..., proposals=model is None)
        strict = propagation.hold_previous
        propagation.hold_previous = lambda *a, **k: strict(*a, **{**k, "proposals": False})
    data = Path(ARGS.data + ("" if ARGS.seed == 5 else f"-seed{ARGS.seed}"))
    if not (data / "manifest.json").is_file():
        write_demo_data(data, seed=ARGS.seed, n_mri=3, n_us=0)
    rows = []
    for setting in [] if ARGS.time_only else ARGS.settings:
        start = project_net(setting, ARGS.project, ARGS.device) if ARGS.project else None
        rows += [run_volume(data, setting, v, start) for v in ARGS.volumes]
    if rows:
        summary(rows)
    if ARGS.plot and rows:
        plot_rows(rows, ARGS.plot)
    if not ARGS.no_time:
        sec, meta = time_155(ARGS.device)
        print(f"\npropagation over 155 x 240 x 240 ({meta['reviewed']} reviewed slices, {meta['steps']} steps, "
              f"{meta['device']}): {sec:.1f} s", flush=True)
        feat, sec, meta = time_appearance(ARGS.device)
        print(f"appearance learner, 181 x 217 x 181: features {feat:.1f} s once per volume; a round (segmenter "
              f"{meta['steps']} steps + appearance learner {meta.get('appearance_s')} s, {meta['device']}): {sec:.1f} s",
              flush=True)


if __name__ == "__main__":
    main()
