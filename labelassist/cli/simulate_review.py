"""``labelassist simulate-review``: play a reviewer on a volume with known truth and print how fast the masks get right.

Round 0 is CAM + BoundaryFit (or the segmenter given with --model). The reviewer first corrects the slice
showing the largest lesion (as one scrolls to a visible lesion), with a segmenter or without; then each round the
first slice of the review queue is corrected to the truth; every --retrain-every corrections the segmenter (a small
U-Net) learns from the reviewed slices (fine-tuned from the previous round) and re-predicts every unreviewed
slice. The whole volume's lesion Dice is printed after each number of corrected slices, beside that of a
reviewer who draws every lesion slice by hand (largest first, the best order for drawing by hand).

With --interactions the reviewer's effort is counted too: each corrected slice takes region clicks first
(a click adds or removes a region of the perimeter map), then a brush stroke per connected error left of more
than 4 pixels, or, where that is cheaper, R (one key: the slice's label becomes empty) and drawing it again;
drawing by hand takes a stroke per lesion outline (of more than 4 pixels) per slice, and its
curves go on until every lesion slice is drawn.

With --tools box the reviewer has the box tool too (the GUIs' B, LiteMedSAM): each lesion part a slice misses
by half or more is boxed first (one interaction; one more to undo a box that made the slice worse), then region
clicks and strokes; it implies --interactions.

With --follow-suggestions the reviewer also looks at each new suggested lesion after a propagation (Shift+N: one
interaction, counted with --interactions) and corrects the slice of one that lies on a lesion next; a false one is
looked at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from labelassist.cli._common import add_param_option, positive_int, resolve_model_path
from labelassist.cli._simulation import (box_tool, cold_start, hand_curve, plot_curves, proposal_pipeline, review,
                                         simulate)
from labelassist.core.propagate.params import SEGMENTER_PARAMS

# simulate, cold_start, hand_curve and plot_curves live in ._simulation; benchmarks import them from here
__all__ = ["add_parser", "simulate", "review", "hand_curve", "cold_start", "plot_curves"]


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
    add_param_option(p, SEGMENTER_PARAMS["steps"])  # the first segmenter's; later rounds fine-tune it
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    add_param_option(p, SEGMENTER_PARAMS["seed"])
    p.add_argument("--save-model", metavar="CKPT", help="write the final segmenter (to start the next volume from)")
    p.add_argument("--interactions", action="store_true",
                   help="count region clicks and brush strokes too (JSON: interactions, hand_interactions)")
    p.add_argument("--tools", choices=["regions", "box"], default="regions",
                   help="regions: region clicks, then strokes (the default); box: the box tool first, then region "
                        "clicks and strokes (implies --interactions)")
    p.add_argument("--follow-suggestions", action="store_true",
                   help="the reviewer looks at each new suggested lesion (Shift+N, one interaction) and corrects "
                        "the slice of one that is a lesion next")
    p.add_argument("--json", action="store_true", help='print {"curve": [[corrected_slices, dice], ...], "hand": ...}')
    p.add_argument("--plot", metavar="PNG", help="plot both curves (with --interactions, a panel over interactions)")
    p.add_argument("--save", metavar="DIR", help="write each round's masks as DIR/round_N.nii.gz (N corrected "
                                                 "slices; on the source's grid) and DIR/review.json")
    p.set_defaults(func=run)


def run(args) -> int:
    from labelassist.cli._common import check_output, writing
    from labelassist.core.nets.device import resolve_device
    from labelassist.core.evaluate.interactions import hand_interactions
    from labelassist.core.propagate.propagation import load_segmenter, save_segmenter
    from labelassist.core.regions import VolumeRegions
    from labelassist.errors import VolumeError
    from labelassist.io import load_volume

    args.interactions = args.interactions or args.tools == "box"
    for path, option in ((args.save_model, "--save-model"), (args.plot, "--plot"),
                         (args.save, "--save")):  # --save: a folder made here, its parent checked
        if path:
            check_output(path, option)  # before any work: an output that cannot be written is one line, at once
    volume = load_volume(args.volume, channel=args.channel)
    truth = load_volume(args.truth, labels=True)
    if truth.shape[:3] != volume.shape[:3]:
        raise VolumeError(f"{args.truth}: shape {truth.shape} does not match the volume {volume.shape}")
    device = resolve_device(args.device)
    model = load_segmenter(args.model, device=device) if args.model else None
    from labelassist.io.formats.us_regions import volume_area, volume_modality

    area, modality = volume_area(volume), volume_modality(volume)
    classifier = resolve_model_path(args.classifier, modality=modality)
    pipe = proposal_pipeline(volume.array, classifier=classifier, device=device, area=area, modality=modality)
    fit, prob = pipe.masks(), np.array([r.probability for r in pipe.results], float)
    regions = VolumeRegions([r.perimeter for r in pipe.results], volume.array) if args.interactions else None
    boxer = box_tool(volume.array, device=device) if args.tools == "box" else None
    log = None if args.json else (lambda line: print(line, flush=True))
    on_round = _round_saver(args.save, volume) if args.save else None
    res = review(volume.array, truth.array, fit=fit, probability=prob, model=model, rounds=args.rounds,
                 retrain_every=args.retrain_every, steps=args.steps, device=device, seed=args.seed, log=log,
                 regions=regions, follow_suggestions=args.follow_suggestions, boxer=boxer, on_round=on_round,
                 area=area)
    lesion = truth.array > 0
    n_lesion_slices = int(np.count_nonzero(lesion.reshape(len(lesion), -1).any(1)))
    hand = hand_curve(lesion, max(len(res.curve) - 1, n_lesion_slices if args.interactions else 0))
    hand_inter = hand_interactions(lesion) if args.interactions else None
    if args.save_model and res.model is not None:
        save_segmenter(res.model, args.save_model)
    if args.plot:
        with writing(args.plot, "--plot"):
            plot_curves(res.curve, hand, args.plot, interactions=res.interactions, hand_interactions=hand_inter)
    out = {"curve": res.curve, "hand": hand, "rounds": res.rounds}
    if args.interactions:
        out.update(interactions=res.interactions, hand_interactions=hand_inter)
    if args.save:
        with writing(Path(args.save) / "review.json", "--save"):
            (Path(args.save) / "review.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out) if args.json else _table(out))
    sys.stdout.flush()
    return 0


def _round_saver(folder, volume):
    """``--save``: the folder made (one line when it cannot be), and ``on_round(k, labels)`` that writes each
    round's masks as ``round_k.nii.gz`` on ``volume``'s grid."""
    from labelassist.cli._common import writing
    from labelassist.errors import VolumeError
    from labelassist.io import save_labels

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise VolumeError(f"--save {folder}: a file is there; name a folder (made if missing)")
    with writing(folder, "--save"):
        folder.mkdir(parents=True, exist_ok=True)

    def on_round(k, labels):
        with writing(folder / f"round_{k}.nii.gz", "--save"):
            save_labels(labels, folder / f"round_{k}.nii.gz", like=volume)

    return on_round


def _reach(curve, goal=0.9):
    return next((str(x) for x, d in curve if d >= goal), f"> {curve[-1][0]}")


def _table(out) -> str:
    """The curves as text: Dice per corrected slice (and interactions so far), then the effort to Dice 0.9."""
    inter = out.get("interactions")
    lines = ["corrected  segmenter  hand" + ("  interactions" if inter else "")]
    for k, (_, h) in enumerate(out["hand"]):
        d = f"{out['curve'][k][1]:9.3f}" if k < len(out["curve"]) else " " * 9
        n = f"  {inter[k][0]:12d}" if inter and k < len(inter) else ""
        lines.append(f"{k:9d}  {d}  {h:.3f}{n}")
    if inter:
        lines.append(f"to lesion Dice 0.9: {_reach(inter)} interactions with the segmenter, "
                     f"{_reach(out['hand_interactions'])} drawing by hand")
    return "\n".join(lines)
