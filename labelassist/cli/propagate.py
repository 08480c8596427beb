"""``labelassist propagate``: the segmenter learns from the reviewed slices of a label volume and predicts the others.

The reviewed slices (--reviewed) of LABELS are the truth (an empty reviewed slice says "no lesion here");
every other slice gets the segmenter's mask. Reviewed slices are written back unchanged. The segmenter is a
small U-Net; keep it with the project (--save-model) and fine-tune it on the next volume (--model).
"""

from __future__ import annotations

from labelassist.cli._common import add_param_option
from labelassist.core.propagate.params import SEGMENTER_PARAMS

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    p = sub.add_parser("propagate", help="the segmenter learns from reviewed slices, predicts the rest",
                       description=__doc__)
    p.add_argument("volume", help="a volume (any format 'labelassist info' reads)")
    p.add_argument("--labels", required=True, metavar="LABELS", help="the reviewer's label volume, same grid")
    p.add_argument("--reviewed", required=True, metavar="LIST", help="reviewed slices, e.g. 34,40,51 or 30-35")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="label volume to write (.nii.gz)")
    p.add_argument("--model", metavar="CKPT", help="a segmenter to fine-tune (the project's, saved by --save-model)")
    p.add_argument("--save-model", metavar="CKPT", help="write the trained segmenter here (keep it with the project)")
    p.add_argument("--weak", metavar="LABELS", help="pseudo-labels (e.g. 'labelassist run' output) as weak targets")
    for name in ("steps", "fine_tune_steps"):  # declared once in core/propagate/params.py
        add_param_option(p, SEGMENTER_PARAMS[name])
    p.add_argument("--channel", type=int, help="which channel of a 4-D volume to use")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--all-lesions", action="store_true",
                   help="also keep lesions the segmenter finds that no reviewed lesion touches (default: only the "
                        "lesions drawn on reviewed slices, carried through the volume)")
    add_param_option(p, SEGMENTER_PARAMS["seed"])
    p.set_defaults(func=run)


def _load_like(path, volume, name):
    from labelassist.errors import VolumeError
    from labelassist.io import load_volume

    lab = load_volume(path, labels=True)
    if lab.shape[:3] != volume.shape[:3]:
        raise VolumeError(f"{path}: {name} shape {lab.shape} does not match the volume {volume.shape}")
    return lab.array


def _session(labels, reviewed, weak, *, seed):
    """The :class:`~labelassist.core.loop.ReviewSession` of a label volume whose ``reviewed`` slices are the
    reviewer's (corrected) and whose other slices are what the reviewer saw; ``weak``: the proposals."""
    import numpy as np

    from labelassist.core.loop import ReviewSession
    from labelassist.core.review import CORRECTED, ReviewState

    state = ReviewState(np.asarray(labels > 0, np.uint8))
    for i in range(state.n_slices):
        if i not in set(reviewed):
            state.set_proposal(i, state.labels[i], params={"source": "labels file"})
    session = ReviewSession(state, seed=seed - len(reviewed))  # the seed given is the seed used
    for i in reviewed:
        session.review(i, CORRECTED)
    if weak is not None:
        session.keep_proposals(weak)
    return session


def _summary(out, res, reviewed) -> str:
    """The line printed once the labels are written."""
    unrev = [i for i in range(len(res.masks)) if i not in set(reviewed)]
    found = int(res.masks[unrev].reshape(len(unrev), -1).any(1).sum()) if unrev else 0
    low = int((res.confidence[unrev] < 0.5).sum()) if unrev else 0
    how = (f"learned from {len(reviewed)} reviewed slices" if res.meta["steps"] else
           "no reviewed slice shows a lesion, so the segmenter only predicted (fine-tuning on lesion-free slices alone "
           "would teach it to see none)")
    return (f"{out}: {how} in {res.meta['seconds']:.0f} s on {res.meta['device']}; "
            f"{found} of {len(unrev)} other slices with a lesion, {low} uncertain"
            + (f"; {res.meta['dropped_components']} spots apart from the reviewed lesions left out (--all-lesions "
               "keeps them)" if res.meta.get("dropped_components") else ""))


def run(args) -> int:
    import sys

    from labelassist.cli._common import check_output
    from labelassist.io.save import check_output_path

    check_output_path(args.output, source=args.volume)  # before any work: bad outputs are one line, at once
    if args.save_model:
        check_output(args.save_model, "--save-model")

    import numpy as np
    from tqdm import tqdm

    from labelassist.cli.calibrate import parse_slices
    from labelassist.core.nets.device import resolve_device
    from labelassist.core.loop import run_request
    from labelassist.core.propagate.propagation import load_segmenter, save_segmenter
    from labelassist.errors import ParameterError
    from labelassist.io import load_volume, save_labels

    volume = load_volume(args.volume, channel=args.channel)
    labels = _load_like(args.labels, volume, "labels")
    if not args.reviewed.strip():
        raise ParameterError("--reviewed is empty: name the slices the reviewer accepted or corrected, e.g. 34,40,51")
    try:
        reviewed = parse_slices(args.reviewed, volume.shape[0])
    except ParameterError as exc:
        raise ParameterError(str(exc).replace("--slices", "--reviewed")) from None
    weak = _load_like(args.weak, volume, "weak") if args.weak else None
    device = resolve_device(args.device)
    model = load_segmenter(args.model, device=device) if args.model else None
    bar = tqdm(desc="propagate", unit="step", file=sys.stderr, disable=None)

    def update(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    session = _session(np.nan_to_num(labels), reviewed, weak, seed=args.seed)
    request = session.propagation_request(steps=args.steps, fine_tune_steps=args.fine_tune_steps)
    try:
        res = run_request(volume.array, request, model=model, device=device, progress=update,
                          connected=not args.all_lesions)
    finally:
        bar.close()
    outcome = session.apply_propagation(res)
    if not outcome.applied:
        print(f"{args.output}: {outcome.message(len(reviewed))}; the labels' other slices are written as given",
              file=sys.stderr)
    res.masks = session.labels
    out = save_labels(res.masks, args.output, like=volume)
    if args.save_model:
        save_segmenter(res.model, args.save_model)
    print(_summary(out, res, reviewed))
    return 0
