"""What the saved rounds of simulated reviews tell (``bench_propagate.py --save DIR``), without training again.

    python benchmarks/analyse_reviews.py DIR [--data-root /tmp/labelassist-bench-propagate] [--round 3] [--regions]
        [--grow 0.5 ...]

1. **Where the Dice goes** at ``--round`` corrections, per volume: false positives, and the lesion voxels missed
   on slices where the masks mark nothing of that lesion (a lesion's ends, or a lesion nobody drew) against those
   missed at the edge of a lesion the masks do carry.
2. **The floor's rules, replayed**: each round's masks are rebuilt from its saved probability (threshold 0.8,
   the reviewed slices' truth, the lesions connected to a drawn one) and the previous round's masks are held
   under each rule of :func:`hold`; prints the mean Dice per round and how many volumes fall by more than 0.02
   in some round. ``strict`` is the shipped rule and reproduces the saved masks.
3. **Which slice to correct next**: the error (wrong pixels) of the slice the queue chose, against the slice with
   the largest error, and what truth-free scores of the saved round would have chosen instead.
4. **Other ways to draw the masks from the same probabilities**: grown from the kept lesions into every
   face-connected voxel above a lower threshold (hysteresis); with ``--regions``, snapped to the perimeter
   map's regions (a region is lesion where more than a share of it is; runs CAM + BoundaryFit again).
5. **The lesions**, drawn first, found by the last round (in a mask or on a reviewed slice) or never found:
   their size, contrast and polarity as the demo drew them (``manifest.json`` under ``--data-root``-seedN), their
   contrast to a 2-voxel ring around them, and the highest probability the net gave any of their voxels; and the
   classifier's slice AUC.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from bench_propagate import contrast, manifest_lesions  # this folder: run as a script
from labelassist.core.evaluate.metrics import dice
from labelassist.core.propagate.keeps import hold_previous
from labelassist.core.propagate.propagation import keep_connected
from labelassist.core.propagate.targets import reviewed_slices

CUBE = np.ones((3, 3, 3), bool)
RULES = ("strict", "mostly wrong", "summed", "near the slice", "unconfirmed too")


def load(path):
    d = np.load(path)
    return {k: d[k] for k in d.files} | {"truth": d["truth"] > 0, "probability": d["probability"].astype(np.float32)}


def where_dice_goes(d, r):
    """Dice, false positives, misses on slices empty of that lesion and misses at a carried lesion's edge."""
    t, m = d["truth"], d["masks"][r] > 0
    lab, n = ndi.label(t, structure=CUBE)
    empty = 0
    for k in range(1, n + 1):
        les = lab == k
        bare = ~(m & les).reshape(len(m), -1).any(1)  # slices where the masks hold none of this lesion
        empty += int((les & ~m)[bare].sum())
    fn = int((t & ~m).sum())
    return round(dice(m, t), 3), int((m & ~t).sum()), empty, fn - empty


def hold(rule, masks, previous, truth, first):
    """The floor under ``rule`` (the first round's previous masks are proposals)."""
    if rule == "strict":
        return hold_previous(masks, previous, truth, proposals=first)
    if rule == "mostly wrong":
        return hold_previous(masks, previous, truth, proposals=True)
    comp, n = ndi.label(np.asarray(previous) > 0)
    right, wrong = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    near = np.zeros((len(masks), n + 1), bool)
    refuted = np.zeros(n + 1, bool)
    for i, tt in zip(truth.indices, truth.truth):
        lesion = np.asarray(tt) > 0
        w, ok = np.bincount(comp[i][~lesion], minlength=n + 1), np.bincount(comp[i][lesion], minlength=n + 1)
        right, wrong = right + ok, wrong + w
        bad = w > (np.maximum(4, ok) if first else 4)
        refuted |= bad
        near[max(0, i - 2):i + 3] |= bad
    if rule == "summed":  # refuted where all reviewed slices together hold more of it wrong than right
        keep = (right > 0) & ~(wrong > np.maximum(4, right))
    elif rule == "unconfirmed too":  # held unless refuted, whether a reviewed slice confirmed it or not
        keep = ~refuted
    else:  # "near the slice": refuted only within 2 slices of where it was shown wrong
        keep = right > 0
    keep[0] = False
    held = keep[comp] & (masks == 0)
    if rule == "near the slice":
        held &= ~np.take_along_axis(near[:, None, :], comp.reshape(len(comp), 1, -1), 2).reshape(comp.shape)
    held[list(truth.indices)] = False
    masks[held] = 1
    return {}


def replay(d, rule):
    """Dice per round (round 0: the proposals) with the floor under ``rule``."""
    t, prev = d["truth"], d["fit"].astype(np.uint8)
    curve = [dice(prev, t)]
    for r, rev_mask in enumerate(d["reviewed"]):
        rev = np.flatnonzero(rev_mask)
        labels = np.zeros(t.shape, np.uint8)
        labels[rev] = t[rev]
        truth = reviewed_slices(labels, rev, shape=t.shape)
        m = (d["probability"][r] >= 0.8).astype(np.uint8)
        m[rev] = t[rev]
        if truth.anchors:
            keep_connected(m, truth.anchors)
        hold(rule, m, prev, truth, first=r == 0)
        curve.append(dice(m, t))
        prev = m
    return curve


def next_slice_scores(d):
    """Per round, (score name, error of the slice it picks / the largest error, that slice's error)."""
    t, fit = d["truth"], d["fit"] > 0
    out = []
    for r in range(len(d["masks"]) - 1):
        m, p, todo = d["masks"][r] > 0, d["probability"][r], ~d["reviewed"][r]
        err = (m ^ t).reshape(len(t), -1).sum(1).astype(float)
        undecided = ((p > 0.2) & (p < 0.8)).reshape(len(t), -1).sum(1).astype(float)
        lab, _ = ndi.label(m)
        ends = np.zeros(len(t))  # the slice beyond each end of a kept lesion: that end's area
        for k, sl in enumerate(ndi.find_objects(lab), start=1):
            area = (lab[sl] == k).reshape(sl[0].stop - sl[0].start, -1).sum(1)
            for z, a in ((sl[0].start - 1, area[0]), (sl[0].stop, area[-1])):
                if 0 <= z < len(t):
                    ends[z] = max(ends[z], a)
        chosen = int(np.flatnonzero(d["reviewed"][r + 1] & todo)[0])
        scores = {"the queue": None, "undecided pixels": undecided,
                  "expected error": np.abs(p - m).reshape(len(t), -1).sum(1),
                  "undecided + pixels unlike BoundaryFit": undecided + (m ^ fit).reshape(len(t), -1).sum(1),
                  "beyond a kept lesion's end": ends}
        best = err[todo].max()
        for name, score in scores.items():
            i = chosen if score is None else int(np.flatnonzero(todo)[np.argmax(score[todo])])
            out.append((name, err[i] / max(best, 1.0), err[i]))
    return out


def redrawn(d, regions=None, grow=(0.5,)):
    """Dice per round of the saved masks, of those grown into p >= each of ``grow`` (face-connected), and of those
    snapped to ``regions`` at half."""
    t, out = d["truth"], []
    face = ndi.generate_binary_structure(3, 1)
    for r, m in enumerate(d["masks"]):
        m, rev = m > 0, d["reviewed"][r]
        row = [dice(m, t)]
        for low in grow:
            g = (d["probability"][r] >= low) | m
            g[rev] = m[rev]
            lab, _ = ndi.label(g, structure=face)
            grown = np.isin(lab, np.unique(lab[m])) & (lab > 0)
            grown[rev] = m[rev]
            row.append(dice(grown, t))
        if regions is not None:
            snapped = m.copy()
            for i in np.flatnonzero(~rev & m.reshape(len(m), -1).any(1)):
                labels = np.asarray(regions[i].labels)
                inside = np.bincount(labels[m[i]], minlength=labels.max() + 1)
                share = inside / np.maximum(np.bincount(labels.ravel()), 1)
                share[0] = 0
                snapped[i] = (share > 0.5)[labels]
            row.append(dice(snapped, t))
        out.append(row)
    return out


def lesions(d, manifest_entry):
    """Per lesion: (drawn first / found / never found, voxels, contrast as drawn, polarity, abs(contrast to a
    2-voxel ring) in SD of the body, highest probability the net gave it in any round)."""
    t, last, rev, img = d["truth"], d["masks"][-1] > 0, d["reviewed"][-1], d["image"]
    lab, n = ndi.label(t, structure=CUBE)
    drawn = manifest_lesions(manifest_entry, lab)
    first = int(np.flatnonzero(d["reviewed"][0])[0])
    first_label = int(np.bincount(lab[first][t[first]], minlength=2).argmax())
    out = []
    for k in range(1, n + 1):
        les = lab == k
        found = (last & les).any() or les[rev].any()
        kind = "drawn first" if k == first_label else ("found" if found else "never found")
        p = drawn.get(k, {})
        out.append((kind, int(les.sum()), p.get("contrast"), p.get("polarity"),
                    round(abs(contrast(img, les)), 2),
                    round(float(d["probability"][:, les].max()), 2)))
    return out


def volume_regions(image):
    """The perimeter regions of every slice, from CAM + BoundaryFit with the demo model (as the bench ran it)."""
    from labelassist.cli._simulation import proposal_pipeline
    from labelassist.core.regions import VolumeRegions
    from labelassist.io.resources import demo_model_path

    pipe = proposal_pipeline(image, classifier=demo_model_path())
    return VolumeRegions([r.perimeter for r in pipe.results], image)


def slice_auc(positive, score, body):
    """The area under the ROC curve of ``score`` telling ``positive`` slices from the others, among ``body``."""
    from scipy.stats import rankdata

    pos, score = positive[body], score[body]
    ranks = rankdata(score)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return (ranks[pos].sum() - n1 * (n1 + 1) / 2) / max(n1 * n0, 1)


def summarise(curves, picks, drawn, missed, grow):
    """Print the tables of sections 2-5 (module docstring)."""
    print("\nthe floor's rules replayed | mean Dice after 0, 1, ... corrections | volumes with a drop over 0.02")
    for rule, cs in curves.items():
        c = np.array(cs)
        drops = int(sum(np.max(np.maximum(0, c[i, :-1] - c[i, 1:])) > 0.02 for i in range(len(c))))
        print(f"{rule} | {' / '.join(f'{x:.3f}' for x in c.mean(0))} | {drops} of {len(c)}")
    print("\nnext slice | setting | error of the slice picked / largest error (mean) | wrong pixels it fixes (mean)")
    for (setting, name), v in picks.items():
        a = np.array(v)
        print(f"{name} | {setting} | {a[:, 0].mean():.2f} | {a[:, 1].mean():.0f}")
    print("\nmasks drawn otherwise | setting | mean Dice after 1, 2, ... corrections: as saved; grown into p >= "
          + ", ".join(str(g) for g in grow) + "; snapped to regions (--regions)")
    for setting, rows in drawn.items():
        a = np.array(rows).mean(0)  # (round, variant)
        print(f"{setting} | " + " | ".join(" / ".join(f"{x:.3f}" for x in a[:, j]) for j in range(a.shape[1])))
    print("\nlesions | setting | count | voxels, median (range) | contrast as drawn, median (range) | "
          "abs(ring contrast), median | highest probability, median (max)")
    for (setting, kind), rows in sorted(missed.items()):
        vox, con = np.array([r[1] for r in rows]), np.array([r[2] for r in rows if r[2] is not None])
        ring, top = np.array([r[4] for r in rows]), np.array([r[5] for r in rows])
        print(f"{kind} | {setting} | {len(rows)} | {np.median(vox):.0f} ({vox.min()}-{vox.max()}) | "
              f"{np.median(con):.3f} ({con.min():.3f}-{con.max():.3f}) | {np.median(ring):.2f} | "
              f"{np.median(top):.2f} ({top.max():.2f})")
    never = {k: v for k, v in missed.items() if k[1] == "never found"}
    for (setting, _), rows in never.items():
        print(f"never found ({setting}): " + ", ".join(f"{r[1]} voxels {r[3]} p {r[5]}" for r in rows))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("saved", help="the folder bench_propagate.py --save wrote")
    ap.add_argument("--data-root", default="/tmp/labelassist-bench-propagate")
    ap.add_argument("--round", type=int, default=3, help="corrections at which to split the Dice (3)")
    ap.add_argument("--regions", action="store_true", help="also snap the masks to the perimeter regions (slow)")
    ap.add_argument("--grow", type=float, nargs="+", default=[0.5], help="thresholds to grow the masks into (0.5)")
    args = ap.parse_args()
    curves, picks, drawn, auc, missed = {rule: [] for rule in RULES}, {}, {}, {}, {}
    print("volume | Dice | false positive voxels | missed on slices bare of that lesion | missed at a carried edge")
    for f in sorted(Path(args.saved).glob("*.npz")):
        setting, seed, v = re.match(r"(\w+)_seed(\d+)_vol(\d+)", f.stem).groups()
        d = load(f)
        print(f"{f.stem} | " + " | ".join(str(x) for x in where_dice_goes(d, min(args.round, len(d["masks"])) - 1)))
        for rule in RULES:
            curves[rule].append(replay(d, rule))
        for name, ratio, err in next_slice_scores(d):
            picks.setdefault((setting, name), []).append((ratio, err))
        drawn.setdefault(setting, []).append(redrawn(d, volume_regions(d["image"]) if args.regions else None,
                                                     grow=args.grow))
        auc.setdefault(setting, []).append((d["truth"].reshape(len(d["truth"]), -1).any(1), d["p_lesion"],
                                            d["image"].reshape(len(d["truth"]), -1).any(1)))
        manifest = json.loads((Path(f"{args.data_root}-seed{int(seed)}") / "manifest.json").read_text())
        entry = next(e for e in manifest["mri"] if e["path"] == f"mri/{setting}/vol_{int(v):03d}.nii.gz")
        for row in lesions(d, entry):
            missed.setdefault((setting, row[0]), []).append(row)
    summarise(curves, picks, drawn, missed, args.grow)
    for setting, v in auc.items():
        print(f"the classifier's p(lesion), lesion slices against lesion-free ones with signal: slice AUC "
              f"{slice_auc(*[np.concatenate([x[j] for x in v]) for j in range(3)]):.3f} ({setting})")


if __name__ == "__main__":
    main()
