"""The appearance learner (docs/architecture.md, learning from corrections): a pixel classifier on multiscale
filter features, trained on the reviewed slices, that looks for lesions of the drawn ones' appearance anywhere
in the volume, joined to a drawn lesion or not.

The segmenter (a small U-Net trained on a handful of slices) learns the drawn lesions' shapes and places and
gives a lesion nobody drew a probability near 0. What generalises from so little is appearance. As ilastik's
pixel classification and scikit-image's ``multiscale_basic_features`` + ``fit_segmenter`` do, each voxel gets
the filter responses of its slice at several scales (intensity, gradient, Hessian eigenvalues), the smoothed
intensity of the slices around it and differences of Gaussians (brighter or darker than around it), and an
extra-trees forest learns lesion against background from the reviewer's own voxels:

- **lesion**: the lesion voxels of the reviewed slices;
- **background**: only where the reviewer saw and judged: a rejected slice's body, and a corrected or accepted
  slice's body farther than :data:`EDGE_PX` from its lesions (the drawn edge is the reviewer's approximation).
  Unreviewed slices teach nothing, so a lesion nobody drew is never learnt as background.

Its probability joins the evidence of the suggested lesions (:mod:`~labelassist.core.propagate.suggest`), never
the masks: the segmenter keeps the shape of the drawn lesions, the appearance learner points at the others.
Extra trees rather than a random forest, gradient boosting or a logistic model (``benchmarks/bench_appearance.py``,
15 demo volumes, one corrected slice): the most undrawn easy lesions found (2 of 3) with the fewest false
suggestions, and 0.6 s to fit and predict a volume against 3.7 s for a random forest and 17 s for boosting. The
features are computed once per volume (:class:`FeatureCache`): about 2 s for a demo volume, float16.

Public API::

    features = appearance_features(image)                 # (z, y, x, F) float16, image normalised to [0, 1]
    p = appearance_probability(features, image, truth)    # truth: targets.ReviewedSlices; None: nothing to learn
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import ndimage

from labelassist.errors import Cancelled, ParameterError

__all__ = ["appearance_features", "appearance_probability", "training_voxels", "FeatureCache", "SIGMAS",
           "NEIGHBOURS", "DOG", "EDGE_PX", "BODY", "MAX_FEATURE_VOXELS", "N_FEATURES"]

SIGMAS = (1.0, 2.0, 4.0, 8.0)  # in-plane scales of the filter responses, pixels
NEIGHBOURS = (-2, -1, 1, 2)  # slices whose smoothed intensity joins each voxel's features
DOG = ((1.0, 4.0), (2.0, 8.0), (4.0, 16.0))  # differences of Gaussians: brighter or darker than around it
N_FEATURES = 4 * len(SIGMAS) + len(NEIGHBOURS) + len(DOG)
EDGE_PX = 3  # background is taken this far from a drawn lesion, no nearer
MAX_POSITIVE, MAX_NEGATIVE = 20_000, 60_000  # training voxels (a random sample when there are more)
BODY = 0.05  # normalised intensity below which a voxel is air: never lesion, never a training voxel
# Larger volumes get no appearance learner (features of 12 M voxels: 0.6 GB float16); the segmenter goes on.
MAX_FEATURE_VOXELS = 12_000_000
TREES, DEPTH, LEAF = 32, 12, 5  # the forest: fits in about a second on 80 000 voxels (2 cores)
PREDICT_CHUNK = 500_000  # voxels predicted in one call (a cancel is seen between chunks)


def _grey(image) -> np.ndarray:
    vol = np.asarray(image, np.float32)
    if vol.ndim == 4:
        vol = vol.mean(-1)
    if vol.ndim != 3:
        raise ParameterError(f"image must be (z, y, x) or (z, y, x, c), got shape {np.shape(image)}")
    return vol


def appearance_features(image, *, cancel=None) -> np.ndarray:
    """Per-voxel features of ``image``, a volume normalised to [0, 1]
    (:func:`~labelassist.core.nets.inputs.normalise_volume`).

    Parameters
    ----------
    image : ndarray (z, y, x) or (z, y, x, c)
        Channels are averaged.
    cancel : callable() -> bool, optional
        Checked between slices; a cancel raises :class:`~labelassist.errors.Cancelled`.

    Returns
    -------
    ndarray (z, y, x, :data:`N_FEATURES`) float16
        Per scale of :data:`SIGMAS`: intensity, gradient and two Hessian eigenvalues; the smoothed intensity of
        the slices :data:`NEIGHBOURS`; the differences of Gaussians :data:`DOG`.
    """
    from skimage.feature import multiscale_basic_features

    vol = _grey(image)
    z = len(vol)
    out = np.empty((*vol.shape, N_FEATURES), np.float16)
    smooth = ndimage.gaussian_filter(vol, (0, 2.0, 2.0))
    base = 4 * len(SIGMAS)
    for k in range(z):
        if cancel is not None and cancel():
            raise Cancelled()
        out[k, ..., :base] = multiscale_basic_features(vol[k], intensity=True, edges=True, texture=True,
                                                       sigma_min=SIGMAS[0], sigma_max=SIGMAS[-1],
                                                       num_sigma=len(SIGMAS))
        for j, d in enumerate(NEIGHBOURS):
            out[k, ..., base + j] = smooth[min(max(k + d, 0), z - 1)]
        for j, (a, b) in enumerate(DOG):
            out[k, ..., base + len(NEIGHBOURS) + j] = (ndimage.gaussian_filter(vol[k], a)
                                                       - ndimage.gaussian_filter(vol[k], b))
    return out


def training_voxels(image, truth, *, seed: int = 0):
    """``(indices, targets)``: the flat voxel indices the learner trains on and their 0/1 targets.

    Lesion: the lesion voxels of the reviewed slices of ``truth`` (a
    :class:`~labelassist.core.propagate.targets.ReviewedSlices`); background: the body voxels (above
    :data:`BODY`) of the rejected slices and of the other reviewed slices farther than :data:`EDGE_PX` from their
    lesions. Nothing of an unreviewed slice. At most :data:`MAX_POSITIVE` and :data:`MAX_NEGATIVE`, sampled with
    ``seed``.
    """
    vol = _grey(image)
    plane = int(np.prod(vol.shape[1:]))
    pos, neg = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for k, i in enumerate(truth.indices):
        lesion = np.asarray(truth.truth[k]) > 0.5
        far = ~ndimage.binary_dilation(lesion, iterations=EDGE_PX) if lesion.any() else np.ones_like(lesion)
        pos.append(np.flatnonzero(lesion) + i * plane)
        neg.append(np.flatnonzero((vol[i] > BODY) & far) + i * plane)
    rng = np.random.default_rng(seed)
    pos, neg = np.concatenate(pos), np.concatenate(neg)
    pos = rng.choice(pos, MAX_POSITIVE, replace=False) if len(pos) > MAX_POSITIVE else pos
    neg = rng.choice(neg, MAX_NEGATIVE, replace=False) if len(neg) > MAX_NEGATIVE else neg
    return np.concatenate([pos, neg]), np.concatenate([np.ones(len(pos), np.uint8), np.zeros(len(neg), np.uint8)])


def appearance_probability(features, image, truth, *, seed: int = 0, n_jobs: int = 2,
                           cancel=None) -> np.ndarray | None:
    """p(lesion) of every voxel from an extra-trees forest trained on :func:`training_voxels`.

    Parameters
    ----------
    features : ndarray (z, y, x, F)
        :func:`appearance_features` of ``image``.
    image : ndarray (z, y, x) or (z, y, x, c)
        The volume, normalised to [0, 1].
    truth : ReviewedSlices
        The reviewer's slices (:func:`~labelassist.core.propagate.targets.reviewed_slices`).
    seed, n_jobs
        The forest's randomness and threads.
    cancel : callable() -> bool, optional
        Checked between chunks of the prediction (:data:`PREDICT_CHUNK` voxels).

    Returns
    -------
    ndarray (z, y, x) float32 or None
        0 on the reviewed slices and in air. None when the reviewed slices show no lesion or no background.
    """
    from sklearn.ensemble import ExtraTreesClassifier

    feats = np.asarray(features)
    vol = _grey(image)
    if feats.shape[:3] != vol.shape:
        raise ParameterError(f"features have shape {feats.shape} but the image {vol.shape}: compute them from "
                             "this image (appearance_features)")
    idx, y = training_voxels(vol, truth, seed=seed)
    if not y.any() or y.all():
        return None
    flat = feats.reshape(-1, feats.shape[-1])
    forest = ExtraTreesClassifier(n_estimators=TREES, max_depth=DEPTH, min_samples_leaf=LEAF,
                                  class_weight="balanced", n_jobs=n_jobs, random_state=seed)
    forest.fit(flat[idx].astype(np.float32), y)
    prob = np.zeros(vol.shape, np.float32)
    todo = np.ones(len(vol), bool)
    todo[list(truth.indices)] = False
    where = np.flatnonzero((vol > BODY) & todo[:, None, None])  # the body of the unreviewed slices
    for start in range(0, len(where), PREDICT_CHUNK):  # in chunks: one call each (per slice, joblib's overhead)
        if cancel is not None and cancel():
            raise Cancelled()
        part = where[start:start + PREDICT_CHUNK]
        prob.reshape(-1)[part] = forest.predict_proba(flat[part].astype(np.float32))[:, 1]
    return prob


class FeatureCache:
    """The features of one volume, computed the first time they are asked for and kept while the same volume
    comes back (the review of a volume asks for them every round). Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key = None
        self._features = None

    @staticmethod
    def key(image) -> tuple:
        """What tells volumes apart: shape, dtype and a digest of a strided sample of the voxels."""
        a = np.asarray(image)
        sample = np.ascontiguousarray(a[tuple(slice(None, None, max(1, s // 16)) for s in a.shape[:3])])
        return a.shape, str(a.dtype), hash(sample.tobytes()), float(a.sum(dtype=np.float64))

    def get(self, image, *, cancel=None) -> np.ndarray | None:
        """:func:`appearance_features` of ``image`` (normalised to [0, 1]), or None for a volume larger than
        :data:`MAX_FEATURE_VOXELS`."""
        if int(np.prod(np.shape(image)[:3])) > MAX_FEATURE_VOXELS:
            return None
        key = self.key(image)
        with self._lock:
            if key != self._key:
                self._features = None
                self._features = appearance_features(image, cancel=cancel)
                self._key = key
            return self._features
