"""``labelassist demo``: the whole pipeline on bundled demo data, with the shipped demo model.

Writes demo volumes (if DIR has none), proposes masks for one easy and one hard held-out volume, compares
them with the truth, and saves a picture of the four layers (image, grad-cam, perimeter, boundaryfit). Then a
simulated reviewer corrects 3 slices of each (``labelassist simulate-review --rounds 3 --interactions``: the
review loop the GUIs run) and the Dice it reaches is printed beside drawing the same number of slices by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["add_parser"]

DEMO_SEED = 1  # the shipped model was trained on seed 0: these volumes are held out
REVIEW_ROUNDS = 3
WHY_LOW = {"hard": "the hard lesions are small (3-8 mm) and faint (8-25 % of the brain's intensity range, brighter or "
                   "darker): the heat map rarely points at them, so the first pass misses most; what the reviewer "
                   "corrects, the segmenter then finds on the other slices"}


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the pipeline on demo data with the shipped model", description=__doc__)
    p.add_argument("out_dir", nargs="?", default="demo", metavar="DIR", help="where to put everything (demo)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from labelassist.cli._common import resolve_model_path
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.nets.device import device_name, resolve_device
    from labelassist.demo.figures import layer_overview
    from labelassist.core.evaluate.metrics import evaluate
    from labelassist.core.propose.pipeline import Pipeline
    from labelassist.io import load_volume, save_labels
    from labelassist.demo.data import MANIFEST, write_demo_data

    out = Path(args.out_dir)
    if not (out / MANIFEST).is_file():
        print(f"writing demo data to {out} ...")
        write_demo_data(out, seed=DEMO_SEED, n_mri=2, n_us=4)
    manifest = json.loads((out / MANIFEST).read_text())
    device = resolve_device(args.device)
    model, meta = load_checkpoint(resolve_model_path(None), device=device)
    rec = meta.get("training", {})
    print(f"demo model: {meta['arch']} {meta['input_size']}², validation AUC {rec.get('val_auc')}, on {device_name(device)}")
    (out / "labels").mkdir(exist_ok=True)
    for setting in manifest["settings"]:
        entry = next(e for e in manifest["mri"] if e["setting"] == setting and e["lesions"])
        volume, truth = load_volume(out / entry["path"]), load_volume(out / entry["mask"], labels=True)
        pipe = Pipeline(volume.array, model, meta, device=device)
        labels = pipe.run()
        target = out / "labels" / f"{setting}_{Path(entry['path']).name.replace('.nii.gz', '_labels.nii.gz')}"
        save_labels(labels, target, like=volume)
        m = evaluate(labels, truth.array > 0.5)
        print(f"{setting:>5}: {entry['path']} -> {target}: lesion Dice {m['dice_volume']:.3f} (3-D), "
              f"per slice {m['dice_slice_mean'] or 0:.3f}; paper mIoU {m['miou']:.3f}")
        hot = np.argsort(truth.array.reshape(len(truth.array), -1).sum(1))[::-1][:3]
        picture = out / f"overview_{setting}.png"
        layer_overview(pipe.image, np.stack([r.cam.astype(np.float32) for r in pipe.results]),
                       np.stack([r.perimeter for r in pipe.results]), labels, picture, truth=truth.array > 0.5,
                       slices=sorted(hot.tolist()))
        print(f"       layers of three lesion slices: {picture}")
        if setting in WHY_LOW and m["dice_volume"] < 0.5:
            print(f"       why so low: {WHY_LOW[setting]}")
        print("       " + _reviewed(pipe, labels, truth.array, device))
    return 0


def _reviewed(pipe, labels, truth, device) -> str:
    """What a simulated reviewer reaches after :data:`REVIEW_ROUNDS` corrected slices, beside drawing by hand."""
    import numpy as np

    from labelassist.cli._simulation import hand_curve, review
    from labelassist.core.regions import VolumeRegions

    prob = np.array([r.probability for r in pipe.results], float)
    regions = VolumeRegions([r.perimeter for r in pipe.results], pipe.image)
    res = review(pipe.image, truth, fit=labels, probability=prob, rounds=REVIEW_ROUNDS, device=device,
                 regions=regions)
    (k, dice), spent = res.curve[-1], res.interactions[-1][0]
    hand = hand_curve(truth > 0, k)[-1][1]
    return (f"after {k} corrected slices ({spent} clicks and strokes, simulated): lesion Dice {dice:.3f} with "
            f"the segmenter, {hand:.3f} drawing the {k} slices by hand")
