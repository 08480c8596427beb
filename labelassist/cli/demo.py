"""``labelassist demo``: the whole pipeline on bundled demo data, with the shipped demo models.

Writes demo data (if DIR has none), proposes masks for one easy and one hard held-out MRI volume and ultrasound
cine (each modality with its own demo model and defaults), compares them with the truth, and saves a picture of
the four layers (image, grad-cam, perimeter, boundaryfit). Then a simulated reviewer corrects 3 slices of each MRI
volume and 1 frame of each cine (``labelassist simulate-review --interactions``: the review loop the GUIs run) and
the Dice it reaches is printed beside drawing the same number of slices by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["add_parser"]

DEMO_SEED = 1  # the shipped model was trained on seed 0: these volumes are held out
REVIEW_ROUNDS = 3
REVIEW_ROUNDS_US = 1  # each round trains the segmenter on a cine of 24 frames of a 320 x 416 screen: seconds on a CPU
WHY_LOW = {"hard": "the hard lesions are small (3-8 mm) and faint (8-25 % of the brain's intensity range, brighter or "
                   "darker): the heat map rarely points at them, so the first pass misses most; what the reviewer "
                   "corrects, the segmenter then finds on the other slices"}
WHY_LOW_US = ("the ultrasound classifier tells the lesion's frames from the others, but its heat map lands on the "
              "shadow or enhancement behind a lesion as much as on it; one corrected frame is where the masks come "
              "from (docs/benchmarks.md, Ultrasound)")


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the pipeline on demo data with the shipped model", description=__doc__)
    p.add_argument("out_dir", nargs="?", default="demo", metavar="DIR", help="where to put everything (demo)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args) -> int:
    from labelassist.cli._common import resolve_model_path
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.nets.device import device_name, resolve_device
    from labelassist.demo.data import MANIFEST, write_demo_data

    out = Path(args.out_dir)
    if not (out / MANIFEST).is_file() or "us_cine" not in json.loads((out / MANIFEST).read_text()):
        print(f"writing demo data to {out} ...")
        write_demo_data(out, seed=DEMO_SEED, n_mri=2, n_us=4, n_cine=1)
    manifest = json.loads((out / MANIFEST).read_text())
    device = resolve_device(args.device)
    (out / "labels").mkdir(exist_ok=True)
    for kind, modality in (("mri", ""), ("us_cine", "US")):
        path = resolve_model_path(None, modality=modality)
        if modality and not path.is_file():
            continue  # a checkout without the ultrasound model: the MRI demo alone
        model, meta = load_checkpoint(path, device=device)
        rec = meta.get("training", {})
        print(f"{'ultrasound' if modality else 'MRI'} demo model: {meta['arch']} {meta['input_size']}², validation "
              f"AUC {rec.get('val_auc')}, on {device_name(device)}")
        for setting in manifest["settings"]:
            entry = next((e for e in manifest[kind] if e["setting"] == setting and e["lesions"]), None)
            if entry is not None:
                _demo_volume(out, entry, model, meta, device)
    return 0


def _demo_volume(out: Path, entry: dict, model, meta, device) -> None:
    """Propose the masks of one demo volume, score them, draw its layers, and what 3 corrections reach."""
    import numpy as np

    from labelassist.core.evaluate.metrics import evaluate
    from labelassist.core.propose.pipeline import Pipeline
    from labelassist.core.propose.profiles import default_params
    from labelassist.demo.figures import layer_overview
    from labelassist.io import load_volume, save_labels
    from labelassist.io.formats.us_regions import volume_area, volume_modality

    setting = entry["setting"]
    volume, truth = load_volume(out / entry["path"]), load_volume(out / entry["mask"], labels=True)
    area = volume_area(volume)
    pipe = Pipeline(volume.array, model, meta, device=device, area=area,
                    params=default_params(volume_modality(volume)))
    labels = pipe.run()
    name = Path(entry["path"]).name.split(".")[0]
    target = out / "labels" / f"{setting}_{name}_labels.nii.gz"
    save_labels(labels, target, like=volume)
    m = evaluate(labels, truth.array > 0.5)
    print(f"{setting:>5}: {entry['path']} -> {target}: lesion Dice {m['dice_volume']:.3f} (3-D), "
          f"per slice {m['dice_slice_mean'] or 0:.3f}; paper mIoU {m['miou']:.3f}")
    hot = np.argsort(truth.array.reshape(len(truth.array), -1).sum(1))[::-1][:3]
    picture = out / f"overview_{setting}{'_us' if area is not None else ''}.png"
    layer_overview(pipe.image, np.stack([r.cam.astype(np.float32) for r in pipe.results]),
                   np.stack([r.perimeter for r in pipe.results]), labels, picture, truth=truth.array > 0.5,
                   slices=sorted(hot.tolist()), origin="lower" if area is None else "upper",
                   titles=None if area is None else {z: f"frame {z}" for z in range(len(labels))})
    print(f"       layers of three lesion {'slices' if area is None else 'frames'}: {picture}")
    why = WHY_LOW_US if area is not None else WHY_LOW.get(setting)
    if why and m["dice_volume"] < 0.5:
        print(f"       why so low: {why}")
    print("       " + _reviewed(pipe, labels, truth.array, device, area=area,
                                rounds=REVIEW_ROUNDS if area is None else REVIEW_ROUNDS_US))


def _reviewed(pipe, labels, truth, device, *, area=None, rounds=REVIEW_ROUNDS) -> str:
    """What a simulated reviewer reaches after ``rounds`` corrected slices, beside drawing by hand."""
    import numpy as np

    from labelassist.cli._simulation import hand_curve, review
    from labelassist.core.regions import VolumeRegions

    prob = np.array([r.probability for r in pipe.results], float)
    regions = VolumeRegions([r.perimeter for r in pipe.results], pipe.image)
    res = review(pipe.image, truth, fit=labels, probability=prob, rounds=rounds, device=device,
                 regions=regions, area=area)
    (k, dice), spent = res.curve[-1], res.interactions[-1][0]
    hand = hand_curve(truth > 0, k)[-1][1]
    slices = "slice" if k == 1 else "slices"
    return (f"after {k} corrected {slices} ({spent} clicks and strokes, simulated): lesion Dice {dice:.3f} with "
            f"the segmenter, {hand:.3f} drawing the {k} {slices} by hand")
