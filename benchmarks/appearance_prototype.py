"""A PROTOTYPE of issue 28's appearance learner, measured and not shipped (docs/benchmarks.md, "An appearance
learner, first try"): a pixel classifier on multiscale filter features, trained on the reviewed slices, meant to
find lesions of the drawn ones' appearance anywhere in the volume, joined to a drawn one or not.

    python benchmarks/appearance_prototype.py [--data DIR] [--volumes seed31/mri/hard/vol_000 ...]

prints, per volume, after the slice with the largest lesion is corrected, each true lesion's mean and highest
p(lesion), the background's 99th and 99.9th percentiles, and what suggestions (the learner's components away from
the drawn lesion, :func:`labelassist.core.propagate.suggest.suggest_lesions`) find.

A U-Net that sees a handful of slices learns those lesions' shapes and places; what generalises from so little is
their appearance. As ilastik's pixel classification and scikit-image's ``multiscale_basic_features`` +
``fit_segmenter`` do, each voxel gets filter responses of its slice at several scales (intensity, edges, texture:
Gaussian, gradient magnitude, Hessian eigenvalues) and the smoothed intensities of the slices around it, and an
extra-trees forest learns lesion against background from the reviewer's own voxels:

- **lesion**: the lesion voxels of the reviewed slices;
- **background**: only where the reviewer saw and judged: a rejected slice's body, and a corrected or accepted
  slice's body away from its lesions (beyond :data:`EDGE_PX`: the drawn edge is the reviewer's approximation).
  Unreviewed slices teach nothing, so an undrawn lesion is never learnt as background.

The features take under a second for a demo volume (float16); a fit and a prediction of the volume 1-2 s.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labelassist.errors import Cancelled, ParameterError


SIGMAS = (1.0, 2.0, 4.0, 8.0)  # in-plane scales of the filter responses, pixels
NEIGHBOURS = (-2, -1, 1, 2)  # slices whose smoothed intensity joins each voxel's features
DOG = ((1.0, 4.0), (2.0, 8.0), (4.0, 16.0))  # differences of Gaussians: brighter or darker than around it
EDGE_PX = 3  # background is taken this far from a drawn lesion, no nearer
MAX_POSITIVE, MAX_NEGATIVE = 20_000, 60_000  # training voxels (a random sample when there are more)
BODY = 0.05  # normalised intensity below which a voxel is air: never lesion, never a training voxel


def appearance_features(image, *, cancel=None) -> np.ndarray:
    """Per-voxel features of a volume normalised to [0, 1] (:func:`~labelassist.core.nets.inputs.normalise_volume`):
    (z, y, x, F) float16, F = 4 x len(SIGMAS) + len(NEIGHBOURS) + len(DOG) (intensity, gradient, two Hessian
    eigenvalues per scale; the neighbours' smoothed intensity; differences of Gaussians: local contrast).
    ``cancel()`` is checked between slices."""
    from skimage.feature import multiscale_basic_features

    vol = np.asarray(image, np.float32)
    if vol.ndim == 4:
        vol = vol.mean(-1)
    if vol.ndim != 3:
        raise ParameterError(f"image must be (z, y, x) or (z, y, x, c), got shape {np.shape(image)}")
    z = len(vol)
    n = 4 * len(SIGMAS) + len(NEIGHBOURS) + len(DOG)
    out = np.empty((*vol.shape, n), np.float16)
    smooth = ndimage.gaussian_filter(vol, (0, 2.0, 2.0))
    for k in range(z):
        if cancel is not None and cancel():
            raise Cancelled()
        f = multiscale_basic_features(vol[k], intensity=True, edges=True, texture=True, sigma_min=SIGMAS[0],
                                      sigma_max=SIGMAS[-1], num_sigma=len(SIGMAS))
        out[k, ..., : f.shape[-1]] = f
        for j, d in enumerate(NEIGHBOURS):
            out[k, ..., f.shape[-1] + j] = smooth[min(max(k + d, 0), z - 1)]
        for j, (a, b) in enumerate(DOG):
            out[k, ..., f.shape[-1] + len(NEIGHBOURS) + j] = (ndimage.gaussian_filter(vol[k], a)
                                                             - ndimage.gaussian_filter(vol[k], b))
    return out


def training_voxels(image, labels, reviewed, *, rejected=(), seed: int = 0):
    """``(indices, targets)``: the flat voxel indices the learner trains on and their 0/1 targets.

    Lesion: the lesion voxels of the ``reviewed`` slices (not ``rejected``); background: the body voxels of the
    rejected slices and of the other reviewed slices farther than :data:`EDGE_PX` from their lesions. Nothing of an
    unreviewed slice. At most :data:`MAX_POSITIVE` and :data:`MAX_NEGATIVE`, sampled with ``seed``.
    """
    vol = np.asarray(image, np.float32)
    vol = vol.mean(-1) if vol.ndim == 4 else vol
    lab = np.asarray(labels) > 0
    rejected = {int(i) for i in rejected}
    pos, neg = [], []
    plane = int(np.prod(vol.shape[1:]))
    for i in sorted({int(i) for i in reviewed} | rejected):
        body = vol[i] > BODY
        lesion = lab[i] & (i not in rejected)
        far = ~ndimage.binary_dilation(lesion, iterations=EDGE_PX) if lesion.any() else np.ones_like(lesion)
        pos.append(np.flatnonzero(lesion) + i * plane)
        neg.append(np.flatnonzero(body & far) + i * plane)
    rng = np.random.default_rng(seed)
    pos = np.concatenate(pos) if pos else np.zeros(0, np.int64)
    neg = np.concatenate(neg) if neg else np.zeros(0, np.int64)
    pos = rng.choice(pos, MAX_POSITIVE, replace=False) if len(pos) > MAX_POSITIVE else pos
    neg = rng.choice(neg, MAX_NEGATIVE, replace=False) if len(neg) > MAX_NEGATIVE else neg
    return np.concatenate([pos, neg]), np.concatenate([np.ones(len(pos), np.uint8), np.zeros(len(neg), np.uint8)])


def appearance_probability(features, image, labels, reviewed, *, rejected=(), seed: int = 0, n_jobs: int = 2,
                           cancel=None) -> np.ndarray | None:
    """p(lesion) of every voxel (float32 (z, y, x); 0 on the reviewed slices and in air) from an extra-trees forest
    trained on :func:`training_voxels`; None when the reviewed slices show no lesion or no background."""
    from sklearn.ensemble import ExtraTreesClassifier

    feats = np.asarray(features)
    shape = feats.shape[:3]
    idx, y = training_voxels(image, labels, reviewed, rejected=rejected, seed=seed)
    if not y.any() or y.all():
        return None
    flat = feats.reshape(-1, feats.shape[-1])
    forest = ExtraTreesClassifier(n_estimators=32, max_depth=12, min_samples_leaf=5, class_weight="balanced",
                                  n_jobs=n_jobs, random_state=seed)
    forest.fit(flat[idx].astype(np.float32), y)
    vol = np.asarray(image, np.float32)
    vol = vol.mean(-1) if vol.ndim == 4 else vol
    prob = np.zeros(shape, np.float32)
    done = {int(i) for i in reviewed} | {int(i) for i in rejected}
    for k in range(shape[0]):
        if cancel is not None and cancel():
            raise Cancelled()
        body = vol[k] > BODY
        if k in done or not body.any():
            continue
        prob[k][body] = forest.predict_proba(feats[k][body].astype(np.float32))[:, 1]
    return prob


def main():
    import argparse
    import json
    from pathlib import Path

    from labelassist.core.nets.inputs import normalise_volume
    from labelassist.core.propagate.suggest import suggest_lesions
    from labelassist.io import load_volume

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/labelassist-bench-refine", help="bench_refine.py's demo data")
    ap.add_argument("--volumes", nargs="+", default=["seed29/mri/hard/vol_000", "seed31/mri/hard/vol_000",
                                                     "seed37/mri/hard/vol_001", "seed31/mri/easy/vol_001"])
    args = ap.parse_args()
    for name in args.volumes:
        seed, rel = name.split("/", 1)
        manifest = json.loads((Path(args.data) / seed / "manifest.json").read_text())
        entry = next(e for e in manifest["mri"] if e["path"] == f"{rel}.nii.gz")
        image = normalise_volume(load_volume(Path(args.data) / f"{name}.nii.gz").array)
        truth = load_volume(Path(args.data) / f"{name}_mask.nii.gz", labels=True).array > 0
        feats = appearance_features(image)
        lesions, n = ndimage.label(truth, structure=np.ones((3, 3, 3)))
        first = int(np.argmax(truth.reshape(len(truth), -1).sum(1)))
        labels = np.zeros(truth.shape, np.uint8)
        labels[first] = truth[first]
        p = appearance_probability(feats, image, labels, [first])
        body = image > BODY
        print(f"{name}: lesions {[(x['polarity'], x['contrast']) for x in entry['lesion_params']]}, corrected slice "
              f"{first}; background p 99th / 99.9th percentile {np.percentile(p[body & ~truth], [99, 99.9]).round(2)}")
        for k in range(1, n + 1):
            m = lesions == k
            print(f"  lesion {k}: {int(m.sum())} voxels, {'drawn' if m[first].any() else 'undrawn'}, "
                  f"mean p {p[m].mean():.2f}, highest {p[m].max():.2f}")
        for thr in (0.5, 0.7):
            sug, found = suggest_lesions(np.zeros_like(p), labels, [first], cam=p, cam_threshold=thr, threshold=thr,
                                         max_suggestions=5)
            hit = sum(1 for k in range(1, n + 1) if not (lesions == k)[first].any()
                      and ((sug > 0) & (lesions == k)).sum() >= 0.2 * (lesions == k).sum())
            false = sum(1 for s in found if not truth[sug == s.label].any())
            print(f"  suggestions at p >= {thr}: {len(found)}, undrawn lesions found {hit}, false {false}")


if __name__ == "__main__":
    main()
