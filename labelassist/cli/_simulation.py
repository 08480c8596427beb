"""The simulated reviewer behind ``labelassist simulate-review`` (and benchmarks/bench_propagate.py).

Round 0 is CAM + BoundaryFit (or a segmenter's prediction). The reviewer first corrects the slice showing the
largest lesion (as one scrolls to a visible lesion), then each round the first slice of the review queue; every
``retrain_every`` corrections the segmenter learns from the reviewed slices and re-predicts the others. With the
slices' regions, each correction is also counted in interactions (region clicks, then brush strokes:
:mod:`labelassist.core.evaluate.interactions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Review", "review", "review_session", "simulate", "cold_start", "proposal_pipeline", "box_tool", "hand_curve",
           "plot_curves"]


@dataclass
class Review:
    """What :func:`review` returns.

    Attributes
    ----------
    curve : list of [int, float]
        ``[corrected slices, whole-volume lesion Dice]`` after each correction (round 0 first).
    interactions : list of [int, float] or None
        ``[interactions so far, Dice]`` at the same points; None without regions.
    model : Segmenter or None
        The last segmenter.
    rounds : list of dict
        Per point of ``curve``: ``corrected``, ``dice`` and the lesion counts of
        :func:`~labelassist.core.evaluate.lesions.lesion_counts` (``lesions``, ``lesions_found``: by the labels or a
        suggestion, ``false_suggestions``).
    """

    curve: list
    interactions: list | None
    model: object = None
    rounds: list = field(default_factory=list)


def proposal_pipeline(image, *, classifier, device="cpu", area=None, modality=""):
    """The CAM + BoundaryFit :class:`~labelassist.core.propose.pipeline.Pipeline` of the volume, run with the
    default parameters of its ``modality`` (its results hold each slice's mask, p(lesion) and perimeter map);
    ``area``: an ultrasound volume's scan area, as the GUIs and ``run`` use it."""
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.propose.pipeline import Pipeline
    from labelassist.core.propose.profiles import default_params

    model, meta = load_checkpoint(classifier, device=device)
    pipe = Pipeline(image, model, meta, device=device, area=area, params=default_params(modality))
    pipe.run()
    return pipe


def box_tool(image, *, device="cpu"):
    """The box tool of the GUIs (LiteMedSAM, :class:`~labelassist.core.prompt.BoxPrompter`, each slice embedded
    once) as the simulated reviewer's ``boxer(i, (r0, c0, r1, c1))`` -> bool mask of slice ``i``."""
    from labelassist.core.nets.inputs import check_channels, normalisation_ranges
    from labelassist.core.prompt import BoxPrompter, load_litemedsam

    image = np.asarray(image)
    check_channels(image.shape[3] if image.ndim == 4 else 1, 3)
    prompter = BoxPrompter(load_litemedsam(device=device))
    ranges = normalisation_ranges(image)

    def boxer(i, box):
        return prompter.segment(image[i], box, ranges=ranges, key=("volume", int(i))).mask

    return boxer


def cold_start(image, *, classifier, device="cpu"):
    """CAM + BoundaryFit masks and p(lesion) per slice with the default parameters."""
    pipe = proposal_pipeline(image, classifier=classifier, device=device)
    return pipe.masks(), np.array([r.probability for r in pipe.results], float)


def hand_curve(truth, rounds=None):
    """Dice after drawing k lesion slices by hand (largest first), k = 0..rounds (None: every lesion slice)."""
    area = np.asarray(truth).astype(bool).reshape(len(truth), -1).sum(1)
    total = int(area.sum())
    rounds = int(np.count_nonzero(area)) if rounds is None else rounds
    drawn = np.concatenate([[0], np.cumsum(np.sort(area)[::-1])])[: rounds + 1]
    drawn = np.concatenate([drawn, np.full(rounds + 1 - len(drawn), total)])
    return [[k, 1.0 if total == 0 else round(float(2 * d / (d + total)), 4)] for k, d in enumerate(drawn)]


def _first_queue(session, image, truth, probability, model, device):
    """The reviewer's order at round 0 (a segmenter's prediction put on ``session`` first, when there is one):
    the largest lesion's slice, then the queue."""
    from labelassist.core.propagate.propagation import predict
    from labelassist.core.propagate.queue import review_queue

    area = truth.reshape(len(truth), -1).sum(1)
    first = [int(np.argmax(area))] if area.any() else []
    if model is not None:
        masks, _, conf = predict(image, model, device=device)
        session.set_prediction(masks)
        queue = review_queue(conf, segmenter_masks=masks, fit_masks=session.proposals)
    else:
        queue = review_queue(1.0 - np.asarray(probability))
    # the reviewer opens the volume and scrolls to the lesion they see, with a segmenter's proposals or without:
    # the slice showing the largest lesion is corrected first; then the queue (the segmenter's, or the classifier's
    # likeliest slices) leads
    return first + [q for q in queue if q not in first]


def review_session(fit, *, seed=0):
    """A :class:`~labelassist.core.loop.ReviewSession` of a volume whose every slice has its CAM + BoundaryFit
    proposal ``fit[i]`` (what the GUIs hold once every slice is computed)."""
    from labelassist.core.loop import ReviewSession

    fit = np.asarray(fit, np.uint8)
    session = ReviewSession.new(fit.shape, seed=seed)
    for i in range(len(fit)):
        session.set_proposal(i, fit[i])
    return session


def _look_at_suggestions(result, truth, queue, reviewed, dismissed):
    """The reviewer looks at each suggested lesion not seen before (Shift+N: one interaction each): one that lies
    on a lesion (a quarter of it or more) puts its peak slice first in ``queue``; the others are remembered in
    ``dismissed`` (edited in place) and not looked at again. Returns the interactions spent and the slice put
    first (None)."""
    looks = 0
    for s in result.suggestions:
        here = np.asarray(result.suggested) == s.label
        if (here & dismissed).any():
            continue
        looks += 1
        if 4 * int((here & (truth > 0)).sum()) >= int(here.sum()) and int(s.peak) not in reviewed:
            queue[:] = [int(s.peak)] + [q for q in queue if q != int(s.peak)]
            return looks, int(s.peak)
        dismissed |= here
    return looks, None


def review(image, truth, *, fit, probability, model=None, rounds=10, retrain_every=1, steps=None,
           device="cpu", seed=0, log=None, regions=None, cheapest=True, follow_suggestions=False,
           boxer=None, on_round=None, area=None, appearance=True) -> Review:
    """The reviewer's loop (module docstring); ``regions[i]`` (e.g. a
    :class:`~labelassist.core.regions.VolumeRegions`) are slice ``i``'s regions, to count interactions
    (``cheapest``: see :func:`~labelassist.core.evaluate.interactions.correct_slice`); with ``boxer``
    (:func:`box_tool`) the reviewer boxes each missed lesion part first. With
    ``follow_suggestions`` the reviewer looks at the suggested lesions after each propagation and corrects the
    peak slice of one that is a lesion next (:func:`_look_at_suggestions`; each look is an interaction).
    ``on_round(corrected, labels)`` is called with the labels after each round (round 0 too). ``area``: an
    ultrasound scan area (bool (y, x)), which the session holds its learner's masks to, as the GUIs do.
    ``appearance=False``: the segmenter alone, without the appearance learner's suggestions (benchmarks)."""
    from labelassist.core.evaluate.interactions import correct_slice
    from labelassist.core.evaluate.metrics import dice
    from labelassist.core.loop import run_request
    from labelassist.core.review import CORRECTED

    truth = (np.nan_to_num(np.asarray(truth, np.float32)) > 0).astype(np.uint8)
    session = review_session(fit, seed=seed)  # the one loop the GUIs run (labelassist.core.loop)
    session.area = area
    queue = _first_queue(session, image, truth, probability, model, device)
    trained, effort = model is not None, 0
    curve = [[0, round(float(dice(session.labels, truth)), 4)]]
    inter = None if regions is None else [[0, curve[0][1]]]
    rounds_info = [_round_record(session, truth, 0, curve[0][1], on_round)]
    dismissed, looks, lead = np.zeros(truth.shape, bool), 0, None  # false suggestions seen; looks not yet counted
    for _ in range(rounds):
        if not queue:
            break
        i = queue[0]
        note = ", a suggested lesion" if i == lead else ""
        if regions is not None:
            box = None if boxer is None else (lambda b, k=i: boxer(k, b))
            done = correct_slice(session.labels[i], truth[i], regions[i], cheapest=cheapest, boxer=box)
            effort += done.interactions + looks
            looks = 0
            boxes = f"{done.boxes} boxes + " if boxer is not None else ""
            note += f", {'R + ' if done.cleared else ''}{boxes}{done.clicks} clicks + {done.strokes} strokes"
        session.review(i, CORRECTED, mask=truth[i])
        reviewed = session.state.reviewed_indices()
        can_learn = model is not None or truth[reviewed].any()
        if can_learn and (len(reviewed) % retrain_every == 0 or not trained):
            res = run_request(image, session.propagation_request(steps=steps), model=model, device=device,
                              appearance=appearance)
            outcome = session.apply_propagation(res)
            model, trained = res.model, True
            queue = list(session.queue)  # a lesion nobody drew weighs in
            if not outcome.applied:
                note += ", kept the previous masks (the result was empty)"
                queue = [q for q in queue if q not in reviewed] or [q for q in range(len(truth)) if q not in reviewed]
            if follow_suggestions and res.suggested is not None:
                looks, lead = _look_at_suggestions(res, truth, queue, reviewed, dismissed)  # before the next one
        else:
            queue = [q for q in queue if q not in reviewed]
        curve.append([len(reviewed), round(float(dice(session.labels, truth)), 4)])
        rounds_info.append(_round_record(session, truth, len(reviewed), curve[-1][1], on_round))
        if inter is not None:
            inter.append([effort, curve[-1][1]])
        if log is not None:
            log(f"corrected {len(reviewed):3d} (slice {i:3d}, {'lesion' if truth[i].any() else 'empty '}{note}): "
                f"lesion Dice {curve[-1][1]:.3f}")
    return Review(curve=curve, interactions=inter, model=model, rounds=rounds_info)


def _round_record(session, truth, corrected: int, score: float, on_round=None) -> dict:
    """One round's record (:attr:`Review.rounds`); ``on_round(corrected, labels)`` sees the labels (``--save``)."""
    from labelassist.core.evaluate.lesions import lesion_counts

    if on_round is not None:
        on_round(corrected, session.labels)
    return {"corrected": corrected, "dice": score, **lesion_counts(session.labels, truth, suggested=session.suggested)}


def simulate(image, truth, *, fit, probability, model=None, rounds=10, retrain_every=1, steps=None,
             device="cpu", seed=0, log=None):
    """The reviewer's loop; returns ``(curve, final segmenter or None)``, curve = [[corrected, dice], ...].

    ``model`` is a segmenter to start from; ``fit`` and ``probability`` the cold start's masks and p(lesion)
    per slice (:func:`cold_start`); ``steps`` those of the first segmenter (later rounds fine-tune it).
    :func:`review` does the same and counts interactions too.
    """
    res = review(image, truth, fit=fit, probability=probability, model=model, rounds=rounds,
                 retrain_every=retrain_every, steps=steps, device=device, seed=seed, log=log)
    return res.curve, res.model


def _panel(ax, learner, hand, xlabel):
    ax.plot(*zip(*learner), "o-", label="segmenter learns from corrections")
    ax.plot(*zip(*hand), "s--", color="grey", label="drawing by hand")
    ax.set_xlabel(xlabel)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)


def plot_curves(curve, hand, path, title="", *, interactions=None, hand_interactions=None):
    """Plot Dice over corrected slices; with ``interactions`` and ``hand_interactions`` a second panel over
    interactions (region clicks and brush strokes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    both = interactions is not None and hand_interactions is not None
    fig, axes = plt.subplots(1, 2 if both else 1, figsize=(9.5 if both else 5, 3.2), dpi=90, squeeze=False)
    _panel(axes[0, 0], curve, hand, "corrected slices")
    axes[0, 0].set_ylabel("lesion Dice (whole volume)")
    if both:
        _panel(axes[0, 1], interactions, hand_interactions, "interactions (region clicks + brush strokes)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
