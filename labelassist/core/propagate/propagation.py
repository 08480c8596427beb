"""Propagate (docs/architecture.md, learning from corrections): the segmenter, a small U-Net, learns from the
reviewed slices of a volume and predicts every unreviewed slice, with a confidence per slice for the review
queue.

Truth: accepted and corrected slices (their labels), rejected slices (empty). Optionally, weak targets:
the BoundaryFit pseudo-labels of unreviewed slices at a low weight. The segmenter sees the slice with its
neighbours (``context``) and, optionally, the CAM; it trains at a working resolution of at most
``max_size`` pixels and its probabilities are mapped back to the slice grid. Reviewed slices are never
changed by a prediction. The segmenter is kept per project (:func:`save_segmenter`) and fine-tuned volume
after volume, and correction after correction (pass it back as ``model``): a fine-tuned net never undoes the
reviewer (:mod:`~labelassist.core.propagate.keeps`), and what it finds away from every drawn lesion comes back
as suggestions, not masks (:mod:`~labelassist.core.propagate.suggest`).

The steps live in the package's modules: :mod:`~labelassist.core.propagate.checks` (arguments),
:mod:`~labelassist.core.propagate.targets` (truth, weak targets, batches),
:mod:`~labelassist.core.propagate.data` (inputs, augmentation, crops, loss),
:mod:`~labelassist.core.propagate.training` (making and training the segmenter),
:mod:`~labelassist.core.propagate.predict` (prediction, confidence), ``keeps`` and ``suggest``; this module
runs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from labelassist.core.nets.inputs import normalise_volume
from labelassist.core.nets.segmenter_checkpoint import SEGMENTER_FORMAT, Segmenter, load_segmenter, save_segmenter
from labelassist.core.nets.unet import BASE_CHANNELS, DEPTH
from labelassist.core.propagate.checks import check_cam, check_image, check_options, check_previous
from labelassist.core.propagate.data import stack_inputs
from labelassist.core.propagate.keeps import GATE_MARGIN, hold_found, hold_previous, keep_or_merge, previous_net
from labelassist.core.propagate.predict import (PREDICT_BATCH_SIZE, SEGMENTER_THRESHOLD, predict, predict_tensor,
                                                slice_confidence, to_grid)
from labelassist.core.propagate.suggest import Suggestion, suggest_lesions
from labelassist.core.propagate.targets import (WEAK_WEIGHT, ReviewedSlices, reviewed_slices, training_set,
                                                weak_agreement, weak_target_weight)
from labelassist.core.propagate.training import (BATCH_SIZE, CONTEXT, CROP, MAX_SIZE, fine_tune_copy, new_segmenter,
                                                 record_training, run_loss, train_segmenter, training_settings)

__all__ = ["Segmenter", "PropagationResult", "Suggestion", "propagate", "predict", "slice_confidence", "SEGMENTER_THRESHOLD",
           "keep_connected", "save_segmenter", "load_segmenter", "SEGMENTER_FORMAT", "PREDICT_BATCH_SIZE"]


@dataclass
class PropagationResult:
    """What :func:`propagate` returns.

    Attributes
    ----------
    masks : ndarray (z, y, x) uint8
        The reviewer's labels on reviewed slices (empty on rejected ones), the segmenter's masks elsewhere.
    probability : ndarray (z, y, x) float16
        The segmenter's lesion probability on the slice grid (reviewed slices: their truth, 0 or 1).
    confidence : ndarray (z,) float
        Per slice in [0, 1]; 1 on reviewed slices. See :func:`slice_confidence`.
    model : Segmenter
        The trained segmenter (save it with :func:`save_segmenter`, pass it back to fine-tune).
    meta : dict
        Figures of this run: slices used, steps, seconds, device, final loss, whether the previous prediction
        was kept (:mod:`~labelassist.core.propagate.keeps`).
    suggested : ndarray (z, y, x) int32 or None
        Suggested lesions (:mod:`~labelassist.core.propagate.suggest`): ``k`` on the k-th of ``suggestions``,
        0 elsewhere. Never part of ``masks``: the reviewer accepts one or it is not exported.
    suggestions : list of Suggestion
        Best first: slices spanned, peak slice, size, score.
    """

    masks: np.ndarray
    probability: np.ndarray
    confidence: np.ndarray
    model: Segmenter
    meta: dict = field(default_factory=dict)
    suggested: np.ndarray | None = None
    suggestions: list = field(default_factory=list)


def keep_connected(masks, anchors) -> int:
    """Clear, in place, every 3-D lesion component of ``masks`` that touches no lesion on the slices ``anchors``.

    Components are face-connected (6-connectivity). Returns how many components were cleared.
    """
    from scipy import ndimage as ndi

    lab, n = ndi.label(masks)
    kept = np.unique(lab[list(anchors)])
    keep = np.zeros(n + 1, bool)
    keep[kept] = True
    keep[0] = False
    masks[~keep[lab]] = 0
    return int(n - np.count_nonzero(keep))


def _keep_reviewed(masks, prob, conf, reviewed: ReviewedSlices) -> None:
    """Reviewed slices are never changed by a prediction: their own masks, truth and full confidence."""
    for k, i in enumerate(reviewed.indices):
        masks[i] = reviewed.drawn[k]
        prob[i] = reviewed.truth[k]
        conf[i] = 1.0


def _appearance(norm, truth: ReviewedSlices, appearance, *, seed: int, cancel):
    """The appearance learner's p(lesion) (None without ``appearance``, or when the volume is too large for its
    features) and its figures (``appearance_s``: features, when computed now, + fit + prediction)."""
    from labelassist.core.propagate.appearance import FeatureCache, appearance_probability

    if appearance is None:
        return None, {}
    t = time.perf_counter()
    features = appearance.get(norm, cancel=cancel) if isinstance(appearance, FeatureCache) else appearance
    p_app = None if features is None else appearance_probability(features, norm, truth, seed=seed, cancel=cancel)
    return p_app, {"appearance_s": round(time.perf_counter() - t, 2), "appearance": p_app is not None}


# -- propagate --------------------------------------------------------------------------------------
def propagate(
    image,
    labels,
    reviewed: Iterable[int],
    *,
    rejected: Iterable[int] = (),
    cam=None,
    weak=None,
    weak_weight: float = WEAK_WEIGHT,
    model: Segmenter | None = None,
    steps: int | None = None,
    batch_size: int = BATCH_SIZE,
    lr: float | None = None,
    context: int = CONTEXT,
    max_size: int = MAX_SIZE,
    crop: int | None = CROP,
    base_channels: int = BASE_CHANNELS,
    depth: int = DEPTH,
    threshold: float = SEGMENTER_THRESHOLD,
    connected: bool = True,
    merge: bool = True,
    gate_margin: float = GATE_MARGIN,
    previous_masks=None,
    appearance=None,
    tta: bool = True,
    device="auto",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> PropagationResult:
    """Train (or fine-tune) the segmenter on the reviewed slices of a volume and predict every other slice.

    Parameters
    ----------
    image : ndarray (z, y, x) or (z, y, x, c)
        The volume's intensities (normalised here over the whole volume).
    labels : ndarray (z, y, x)
        The reviewer's label volume; non-zero is lesion. Only reviewed slices are read.
    reviewed : iterable of int
        Accepted, corrected and rejected slices: their labels are the truth.
    rejected : iterable of int
        Slices the reviewer rejected: truth is empty whatever ``labels`` holds there.
    cam : ndarray (z, y, x) in [0, 1], optional
        A second input channel for a new segmenter (a loaded one uses it when it was trained with it).
    weak : ndarray (z, y, x), optional
        Pseudo-labels (e.g. BoundaryFit) used on unreviewed slices as targets of weight ``weak_weight`` times
        their Dice with the truth on the reviewed slices (pseudo-labels that missed what the reviewer drew
        teach nothing; ``meta["weak_weight"]`` is the weight used). NaN means no pseudo-label (e.g. a slice not
        proposed yet): an unreviewed slice that is NaN everywhere is no weak target at all, not an empty one
        (``meta["weak"]`` counts the slices used), and NaN is left out of the agreement.
    weak_weight : float in [0, 1]
        :data:`~labelassist.core.propagate.targets.WEAK_WEIGHT` (0.1) of a reviewed slice's weight.
    model : Segmenter, optional
        A segmenter to fine-tune (not modified: the result holds a trained copy); its inputs decide
        ``context``, ``max_size`` and the CAM channel. Until a reviewed slice shows a lesion it only predicts:
        fine-tuning on lesion-free slices alone would teach it to see no lesion anywhere (``meta["steps"]`` is
        then 0).
    steps, batch_size, lr
        Optimisation (:mod:`~labelassist.core.propagate.training`): by default 200 steps for a new segmenter,
        100 to fine-tune one; peak lr 1e-2 new, 3e-3 fine-tuning; 8 samples a step.
    context : int
        Neighbouring slices on each side given as extra input channels (0: the slice alone; default 1).
    max_size, base_channels, depth
        Working resolution (longest side, pixels; 128) and the U-Net's size (8 base channels, 3 levels:
        about 0.12 M parameters; :mod:`~labelassist.core.nets.unet`).
    crop : int or None
        Train on squares of this side (pixels of the working grid, 64; most around a lesion) rather than on
        whole slices: several times faster, and the lesion is not a speck in a sea of background.
    threshold : float
        Probability above which a pixel is lesion (:data:`SEGMENTER_THRESHOLD`, 0.8: the segmenter's training
        batches are rich in lesion, so its probabilities run high).
    connected : bool
        Keep only the lesions the reviewer has drawn, carried through the volume: the predicted voxels
        3-D-connected (faces) to a lesion on a reviewed slice. On small, faint lesions most of what a segmenter
        trained on a few slices adds elsewhere is false (demo MRI, 3 lesion and 2 lesion-free slices given:
        mean Dice 0.46 kept whole, 0.72 kept connected, over 8 volumes). A lesion never drawn is then left
        out of the masks, not of ``probability`` and ``confidence``, which the review queue reads to send the
        reviewer there, and the components away from every kept lesion come back as ``suggested``
        (:func:`~labelassist.core.propagate.suggest.suggest_lesions`). Not applied while no reviewed slice
        shows a lesion.
    merge, gate_margin
        A learner that never undoes the reviewer (:mod:`~labelassist.core.propagate.keeps`): when ``model`` is
        fine-tuned, its previous prediction of this volume is recomputed; a new net whose Dice on the reviewed
        slices falls more than ``gate_margin`` (0.05) below the previous net's is refused (the previous
        prediction and net are kept, ``meta["kept_previous"]``); otherwise, with ``merge``, each voxel takes
        the higher of the two nets' probabilities (what one noisy fine-tune loses stays until the next net
        agrees). ``merge=False`` and ``gate_margin=inf``: the new net alone.
    previous_masks : ndarray (z, y, x), optional
        The previous propagation's masks as the reviewer saw them (before this round's corrections): its lesion
        voxels on unreviewed slices stay lesion unless a reviewed slice shows it over-predicted
        (:func:`~labelassist.core.propagate.keeps.hold_previous`; ``meta["held_previous"]``). Without ``model``
        they are the proposals the reviewer saw, drawn slice by slice: refuted only where mostly wrong.
    appearance : FeatureCache or ndarray (z, y, x, F), optional
        The appearance learner (:mod:`~labelassist.core.propagate.appearance`): a
        :class:`~labelassist.core.propagate.appearance.FeatureCache` (computes the features of this volume once
        and keeps them) or the features of ``normalise_volume(image)``. Trained on the reviewed slices, its
        p(lesion) joins the evidence of the suggested lesions (never the masks). None: the segmenter alone.
    tta : bool
        Average the prediction with that of the mirrored slice.
    device : str or torch.device
        ``"auto"``: CUDA, then MPS, then the CPU.
    seed : int
        Makes initialisation, sampling and augmentation reproducible.
    progress : callable(done, total), optional
        Called after every training step and every prediction batch.
    cancel : callable() -> bool, optional
        Checked between steps and batches; a cancel raises :class:`~labelassist.errors.Cancelled` and
        nothing is returned (a ``model`` passed in is left as it was).

    Returns
    -------
    PropagationResult

    Raises
    ------
    ParameterError
        One line naming the argument: no reviewed lesion slice for a new segmenter, shapes that differ from
        the volume's, a slice outside it, options out of range, a segmenter trained on other channels.
    """
    from labelassist.core.nets.device import resolve_device

    started = time.perf_counter()
    image = check_image(image)
    truth = reviewed_slices(labels, reviewed, rejected=rejected, shape=image.shape[:3])
    check_options(truth, new=model is None, weak=weak, shape=image.shape[:3], weak_weight=weak_weight,
                  threshold=threshold, context=context, batch_size=batch_size, steps=steps,
                  gate_margin=gate_margin)
    previous_masks = None if previous_masks is None else check_previous(previous_masks, image.shape[:3])
    device = resolve_device(device)
    n_image = 1 if image.ndim == 3 else image.shape[-1]
    if model is None:
        segmenter = new_segmenter(n_image, image.shape[1:3], use_cam=cam is not None, context=context,
                                  max_size=max_size, base_channels=base_channels, depth=depth, threshold=threshold,
                                  seed=seed, device=device)
    else:
        segmenter = fine_tune_copy(model, n_image, seed=seed, device=device)
    settings = training_settings(fine_tune=model is not None, learn=bool(truth.positive.any()), steps=steps, lr=lr,
                                 batch_size=batch_size, crop=crop, seed=seed)
    meta = segmenter.meta
    norm = normalise_volume(image)
    x = stack_inputs(norm, check_cam(cam, image.shape[:3], meta), int(meta["context"]),
                     int(meta["input_size"]))
    agreement = weak_agreement(weak, truth)
    weight = weak_target_weight(weak_weight, agreement)
    data = training_set(x, truth, weak=weak if settings.steps else None, weight=weight)  # no steps: no weak targets
    previous = previous_net(model, settings.steps, device)
    batches = -(-len(x) // PREDICT_BATCH_SIZE)
    total = settings.steps + batches * (1 if previous is None else 2)
    losses = train_segmenter(segmenter, data, settings, device=device, progress=progress, cancel=cancel, total=total)
    p = predict_tensor(segmenter.net, x, device, PREDICT_BATCH_SIZE, tta, progress, cancel, settings.steps, total)
    kept = {"kept_previous": False}
    if previous is not None:
        p_old = predict_tensor(previous.net, x, device, PREDICT_BATCH_SIZE, tta, progress, cancel,
                               settings.steps + batches, total)
        p, kept = keep_or_merge(p, p_old, truth, image.shape[1:3], threshold=threshold, margin=gate_margin, merge=merge)
        segmenter = previous if kept["kept_previous"] else segmenter
    masks, prob, conf = to_grid(p, image.shape[1:3], threshold)
    _keep_reviewed(masks, prob, conf, truth)
    dropped = keep_connected(masks, truth.anchors) if connected and truth.anchors else 0
    p_app, found = (_appearance(norm, truth, appearance, seed=seed, cancel=cancel) if connected and truth.anchors
                    else (None, {}))
    if previous_masks is not None:
        kept.update(hold_previous(masks, previous_masks, truth, proposals=model is None))
        if p_app is not None:  # a lesion found before, away from the drawn ones, stays while it looks like them
            kept.update(hold_found(masks, previous_masks, truth, p_app))
    suggested, suggestions = (suggest_lesions(prob, masks, truth.indices, appearance=p_app)
                              if connected and truth.anchors else (None, []))
    segmenter.net.eval()
    run = {"reviewed": len(truth.indices), "positive": int(truth.positive.sum()), "weak": len(data.pools["weak"]),
           "steps": settings.steps, "weak_agreement": None if agreement is None else round(agreement, 3),
           "weak_weight": round(weight, 4), "connected": bool(connected), "dropped_components": dropped,
           "seconds": round(time.perf_counter() - started, 2), "device": str(device), "loss": run_loss(losses),
           "seed": seed, **kept, **found}
    if settings.steps:  # a refused run too, in the net that goes on (its record says kept_previous)
        record_training(segmenter.meta, run, reviewed=len(truth.indices), steps=settings.steps)
    return PropagationResult(masks=masks, probability=prob, confidence=conf, model=segmenter, meta=run,
                             suggested=suggested, suggestions=suggestions)
