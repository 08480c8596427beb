"""``labelassist simulate-review``: play a reviewer on a volume with known truth and print how fast the masks get right.

Round 0 is CAM + BoundaryFit (or the segmenter given with --model). The reviewer first corrects the slice
showing the largest lesion (as one scrolls to a visible lesion), with a segmenter or without; then each round the
first slice of the review queue is corrected to the truth; every --retrain-every corrections the segmenter (a small
U-Net) learns from the reviewed slices (fine-tuned from the previous round) and re-predicts every unreviewed
slice. The whole volume's lesion Dice is printed after each number of corrected slices, beside that of a
reviewer who draws every lesion slice by hand (largest first, the best order for drawing by hand).
"""

from __future__ import annotations

import json
import sys

import numpy as np

from labelassist.cli._common import positive_int, resolve_model_path
from labelassist.core.propagate.training import NEW_SEGMENTER_STEPS

__all__ = ["add_parser", "simulate", "hand_curve", "cold_start"]


def add_parser(sub) -> None:
    p = sub.add_parser("simulate-review", help="play a reviewer against known truth: Dice per corrected slice",
                       description=__doc__)
    p.add_argument("volume", help="a volume (any format 'labelassist info' reads)")
    p.add_argument("--truth", required=True, metavar="MASK", help="the true label volume, on the same grid")
    p.add_argument("--model", metavar="CKPT", help="a segmenter to start from (saved by propagate --save-model)")
    p.add_argument("--classifier", metavar="CKPT", help="classifier for CAM + BoundaryFit (default: the demo model)")
    p.add_argument("--channel", type=int, help="which channel of a 4-D volume to use")
    p.add_argument("--rounds", type=positive_int("--rounds"), default=10, help="slices to correct (10)")
    p.add_argument("--retrain-every", type=positive_int("--retrain-every"), default=1, help="corrections per re-training (1)")
    p.add_argument("--steps", type=positive_int("--steps"),
                   help=f"training steps of the first segmenter ({NEW_SEGMENTER_STEPS}); later rounds fine-tune it")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-model", metavar="CKPT", help="write the final segmenter (to start the next volume from)")
    p.add_argument("--json", action="store_true", help='print {"curve": [[corrected_slices, dice], ...], "hand": ...}')
    p.add_argument("--plot", metavar="PNG", help="plot both curves")
    p.set_defaults(func=run)


def cold_start(image, *, classifier, device="cpu"):
    """CAM + BoundaryFit masks and p(lesion) per slice with the default parameters."""
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.propose.pipeline import Pipeline

    model, meta = load_checkpoint(classifier, device=device)
    pipe = Pipeline(image, model, meta, device=device)
    masks = pipe.run()
    return masks, np.array([r.probability for r in pipe.results], float)


def hand_curve(truth, rounds):
    """Dice after drawing k lesion slices by hand (largest first), k = 0..rounds."""
    area = np.asarray(truth).astype(bool).reshape(len(truth), -1).sum(1)
    total = int(area.sum())
    drawn = np.concatenate([[0], np.cumsum(np.sort(area)[::-1])])[: rounds + 1]
    drawn = np.concatenate([drawn, np.full(rounds + 1 - len(drawn), total)])
    return [[k, 1.0 if total == 0 else round(float(2 * d / (d + total)), 4)] for k, d in enumerate(drawn)]


def simulate(image, truth, *, fit, probability, model=None, rounds=10, retrain_every=1, steps=None,
             device="cpu", seed=0, log=None):
    """The reviewer's loop; returns ``(curve, final segmenter or None)``, curve = [[corrected, dice], ...].

    ``model`` is a segmenter to start from; ``fit`` and ``probability`` the cold start's masks and p(lesion)
    per slice (:func:`cold_start`); ``steps`` those of the first segmenter (later rounds fine-tune it).
    """
    from labelassist.core.evaluate.metrics import dice
    from labelassist.core.propagate.propagation import predict, propagate
    from labelassist.core.propagate.queue import review_queue

    truth = (np.nan_to_num(np.asarray(truth, np.float32)) > 0).astype(np.uint8)
    fit = np.asarray(fit, np.uint8)
    labels, reviewed = fit.copy(), []
    area = truth.reshape(len(truth), -1).sum(1)
    first = [int(np.argmax(area))] if area.any() else []
    if model is not None:
        labels, _, conf = predict(image, model, device=device)
        queue = review_queue(conf, segmenter_masks=labels, fit_masks=fit)
    else:
        queue = review_queue(1.0 - np.asarray(probability))
    # the reviewer opens the volume and scrolls to the lesion they see, with a segmenter's proposals or without:
    # the slice showing the largest lesion is corrected first; then the queue (the segmenter's, or the classifier's
    # likeliest slices) leads
    queue = first + [q for q in queue if q not in first]
    curve = [[0, round(float(dice(labels, truth)), 4)]]
    trained = model is not None
    for r in range(1, rounds + 1):
        if not queue:
            break
        i = queue[0]
        labels[i] = truth[i]
        reviewed.append(i)
        can_learn = model is not None or truth[reviewed].any()
        if can_learn and (len(reviewed) % retrain_every == 0 or not trained):
            res = propagate(image, labels, reviewed, weak=fit, model=model, device=device, seed=seed + r,
                            steps=steps if model is None else None)
            model, labels, trained = res.model, res.masks, True
            queue = review_queue(res.confidence, reviewed=reviewed, segmenter_masks=res.masks, fit_masks=fit)
        else:
            queue = [q for q in queue if q not in reviewed]
        curve.append([len(reviewed), round(float(dice(labels, truth)), 4)])
        if log is not None:
            log(f"corrected {len(reviewed):3d} (slice {i:3d}, {'lesion' if truth[i].any() else 'empty '}): "
                f"lesion Dice {curve[-1][1]:.3f}")
    return curve, model


def plot_curves(curve, hand, path, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=90)
    ax.plot(*zip(*curve), "o-", label="segmenter learns from corrections")
    ax.plot(*zip(*hand), "s--", color="grey", label="drawing by hand")
    ax.set_xlabel("corrected slices")
    ax.set_ylabel("lesion Dice (whole volume)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args) -> int:
    from labelassist.core.nets.device import resolve_device
    from labelassist.core.propagate.propagation import load_segmenter, save_segmenter
    from labelassist.errors import VolumeError
    from labelassist.io import load_volume

    volume = load_volume(args.volume, channel=args.channel)
    truth = load_volume(args.truth, labels=True)
    if truth.shape[:3] != volume.shape[:3]:
        raise VolumeError(f"{args.truth}: shape {truth.shape} does not match the volume {volume.shape}")
    device = resolve_device(args.device)
    model = load_segmenter(args.model, device=device) if args.model else None
    fit, prob = cold_start(volume.array, classifier=resolve_model_path(args.classifier), device=device)
    log = None if args.json else (lambda line: print(line, flush=True))
    curve, model = simulate(volume.array, truth.array, fit=fit, probability=prob, model=model, rounds=args.rounds,
                            retrain_every=args.retrain_every, steps=args.steps, device=device, seed=args.seed, log=log)
    hand = hand_curve(truth.array > 0, len(curve) - 1)
    if args.save_model and model is not None:
        save_segmenter(model, args.save_model)
    if args.plot:
        plot_curves(curve, hand, args.plot)
    if args.json:
        print(json.dumps({"curve": curve, "hand": hand}))
    else:
        print("corrected  segmenter  hand")
        for (k, d), (_, h) in zip(curve, hand):
            print(f"{k:9d}  {d:9.3f}  {h:.3f}")
    sys.stdout.flush()
    return 0
