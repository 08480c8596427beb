"""The appearance learner (``labelassist.core.propagate.appearance``) on its own, without the review loop: which
classifier, which threshold, and why the demo's hard lesions stay out of its reach (docs/benchmarks.md, the
appearance learner).

    python benchmarks/bench_appearance.py [--seeds 5 7 11 29 31 37] [--data /tmp/labelassist-bench-appearance]
        [--corrected 1 3] [--classifiers extra-trees random-forest boosting logistic] [--salience]

Per seed the demo data are written once (``write_demo_data(n_mri=4, n_us=0)``); every volume with two lesions or
more is used. The reviewer has corrected the ``--corrected`` slices showing the most lesion (so the other lesions
are mostly undrawn); the learner is trained on them (``training_voxels``: their lesion voxels, their body away from
the lesions) and predicts the volume; suggestions are ``suggest_lesions`` with its probability as the only
evidence (the shipped threshold and smallest size). Printed per setting and number of corrected slices: the
undrawn lesions a suggestion touches by 20 % of their voxels, the false suggestions (touching no lesion), and the
classifier's fit + prediction time.

``--salience``: for each lesion, the rank of its strongest blob among all blobs of the volume (scale-normalised
3-D Laplacian of Gaussian, sigma 1.5-3 voxels, local extrema of either sign in the brain): a lesion ranked below
the first few is not salient at the object level either.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from labelassist.core.nets.inputs import normalise_volume
from labelassist.core.propagate import appearance as A
from labelassist.core.propagate.suggest import suggest_lesions
from labelassist.core.propagate.targets import reviewed_slices
from labelassist.demo.data import write_demo_data
from labelassist.io import load_volume


def classifier(name):
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    trees = dict(n_estimators=A.TREES, max_depth=A.DEPTH, min_samples_leaf=A.LEAF, class_weight="balanced",
                 n_jobs=2, random_state=0)
    return {"extra-trees": lambda: ExtraTreesClassifier(**trees),
            "random-forest": lambda: RandomForestClassifier(**trees),
            "boosting": lambda: HistGradientBoostingClassifier(max_iter=100, class_weight="balanced", random_state=0),
            "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced",
                                                                                    max_iter=300))}[name]()


def probability(name, feats, img, truth):
    """As ``appearance_probability`` with another classifier (extra-trees: the shipped function itself)."""
    if name == "extra-trees":
        return A.appearance_probability(feats, img, truth)
    idx, y = A.training_voxels(img, truth)
    flat = feats.reshape(-1, feats.shape[-1])
    clf = classifier(name)
    clf.fit(flat[idx].astype(np.float32), y)
    prob = np.zeros(img.shape, np.float32)
    for k in range(len(img)):
        body = img[k] > A.BODY
        if k not in truth.indices and body.any():
            prob[k][body] = clf.predict_proba(feats[k][body].astype(np.float32))[:, 1]
    return prob


def volumes(root: Path, seeds):
    for s in seeds:
        data = root / f"seed{s}"
        if not (data / "manifest.json").is_file():
            write_demo_data(data, seed=s, n_mri=4, n_us=0)
        for e in json.loads((data / "manifest.json").read_text())["mri"]:
            if e["lesions"] >= 2:
                img = normalise_volume(load_volume(data / e["path"]).array)
                truth = load_volume(data / e["mask"], labels=True).array > 0
                yield s, e, img, truth


def salience(img, truth):
    """{lesion: rank of its strongest blob among the volume's blobs of its sign} (0 = the most salient)."""
    body = ndimage.binary_erosion(img > A.BODY, iterations=2)
    best = None
    for s in (1.5, 2.0, 3.0):
        r = -s * s * ndimage.gaussian_laplace(img, s)
        best = r if best is None else np.where(np.abs(r) > np.abs(best), r, best)
    lab, _ = ndimage.label(truth, structure=np.ones((3, 3, 3)))
    ranks = {}
    for sign in (1, -1):
        v = sign * best
        peaks = (v == ndimage.maximum_filter(v, size=5)) & body & (v > 0)
        where, vals = np.argwhere(peaks), v[peaks]
        for rank, i in enumerate(np.argsort(-vals)):
            k = int(lab[tuple(where[i])])
            if k:
                ranks[k] = min(ranks.get(k, rank), rank)
    return ranks


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/labelassist-bench-appearance")
    ap.add_argument("--seeds", nargs="+", type=int, default=[5, 7, 11, 29, 31, 37])
    ap.add_argument("--corrected", nargs="+", type=int, default=[1, 3])
    ap.add_argument("--classifiers", nargs="+", default=["extra-trees", "random-forest", "boosting", "logistic"])
    ap.add_argument("--salience", action="store_true")
    args = ap.parse_args()
    totals, times, feat_s = {}, {}, []
    for seed, e, img, truth in volumes(Path(args.data), args.seeds):
        t = time.perf_counter()
        feats = A.appearance_features(img)
        feat_s.append(time.perf_counter() - t)
        lab, n = ndimage.label(truth, structure=np.ones((3, 3, 3)))
        order = np.argsort(-truth.reshape(len(truth), -1).sum(1))
        if args.salience:
            print(f"seed {seed} {e['path']}: salience ranks {salience(img, truth)}, lesions "
                  f"{[(p['polarity'], p['contrast'], p['radius_mm']) for p in e['lesion_params']]}", flush=True)
        for k in args.corrected:
            rev = sorted(order[:k].tolist())
            labels = np.zeros(truth.shape, np.uint8)
            labels[rev] = truth[rev]
            rs = reviewed_slices(labels, rev, shape=truth.shape)
            undrawn = [j for j in range(1, n + 1) if not (lab == j)[rev].any()]
            for name in args.classifiers:
                t = time.perf_counter()
                p = probability(name, feats, img, rs)
                times.setdefault(name, []).append(time.perf_counter() - t)
                sug, found = suggest_lesions(np.zeros_like(p), labels, rev, appearance=p)
                hit = sum(1 for j in undrawn if ((sug > 0) & (lab == j)).sum() >= 0.2 * (lab == j).sum())
                false = sum(1 for s in found if not truth[sug == s.label].any())
                a = totals.setdefault((name, e["setting"], k), [0, 0, 0, 0])
                a[0], a[1], a[2], a[3] = a[0] + hit, a[1] + len(undrawn), a[2] + false, a[3] + 1
    print(f"\nfeatures {np.mean(feat_s):.2f} s a volume (mean of {len(feat_s)})")
    print("| classifier | setting | corrected slices | undrawn lesions found | false suggestions (volumes) |")
    print("|---|---|---|---|---|")
    for (name, setting, k), (hit, n, false, vols) in sorted(totals.items()):
        print(f"| {name} | {setting} | {k} | {hit} of {n} | {false} ({vols}) |")
    for name, ts in times.items():
        print(f"{name}: fit + predict {np.mean(ts):.2f} s a volume")


if __name__ == "__main__":
    main()
