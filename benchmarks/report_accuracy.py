"""Accuracy report on held-out demo MRI, in the shape of the seed papers' tables, plus foreground Dice.

    python benchmarks/report_accuracy.py [--model CKPT] [--data DIR] [--volumes 4] [--seed 1]

Rows: Blank, Grad-CAM (thresholded), Grad-CAM + BoundaryFit, ensemble (Grad-CAM and Grad-CAM++,
'and') + BoundaryFit, and calibrated (thresholds and gate found on 5 slices with truth of one volume,
as a reviewer gives by accepting them; that volume is left out of every row), and calibrated per volume
(each held-out volume on 5 of its own slices, as the app's Calibrate does; every slice of it is then
predicted with those settings, the 5 included, and scored). Columns: the paper metric
(pooled two-class mIoU, "DSC") and the mean foreground (lesion) Dice per volume and per slice. The
classifier's own figures (slice AUC, accuracy) come first: with a weak classifier the CAM is weak.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from labelassist.cli._common import resolve_model_path
from labelassist.core.propose.boundaryfit import fit_from_minima, region_minima
from labelassist.core.evaluate.calibrate import calibrate
from labelassist.core.propose.cam import compute_cams
from labelassist.core.nets.checkpoint import load_checkpoint
from labelassist.core.propose.ensemble import ensemble_fit
from labelassist.core.evaluate.metrics import evaluate
from labelassist.core.propose.pipeline import Pipeline, PipelineParams
from labelassist.core.classify.train import labels_from_mask, roc_auc
from labelassist.io import load_volume
from labelassist.demo.data import write_demo_data


def analyse(array, truth, model, meta):
    pipe = Pipeline(array, model, meta, params=PipelineParams(gate=0.0))
    pipe.run()
    cams = np.stack([r.cam.astype(np.float32) for r in pipe.results])
    cams2, _ = compute_cams(model, pipe.image, method="gradcam++", input_size=meta["input_size"],
                            in_channels=meta["in_channels"], shifts=pipe.params.cam_shifts,
                              cam_stride=pipe.params.cam_stride)
    return {
        "truth": truth,
        "cams": cams,
        "cams2": cams2,
        "probs": np.array([r.probability for r in pipe.results]),
        "regions": np.stack([r.regions for r in pipe.results]),
        "perimeter": np.stack([r.perimeter for r in pipe.results]),
    }


def predict(case, kind, t=0.5, gate=0.5, t2=0.5):
    out = np.zeros(case["truth"].shape, np.uint8)
    for z in range(len(out)):
        if case["probs"][z] < gate:
            continue
        cam, reg, bnd = case["cams"][z], case["regions"][z], case["perimeter"][z]
        if kind == "cam":
            out[z] = cam >= t
        elif kind == "fit":
            out[z] = fit_from_minima(region_minima(cam, reg), reg, threshold=t, cam=cam, perimeter=bnd)
        elif kind == "ensemble":
            out[z] = ensemble_fit([cam, case["cams2"][z]], [t, t2], reg, rule="and", perimeter=bnd)
    return out


def reference_slices(truth, n=5):
    """What a reviewer accepts first: lesion slices spread through the lesion, and a couple without one.

    The lesion slices are the midpoints of equal parts of the lesion's extent, not its two end slices: those
    show a few pixels of lesion (7 and 9 px on the first held-out easy volume), and a reviewer calibrates
    on slices where the lesion is seen."""
    pos = np.flatnonzero(truth.reshape(len(truth), -1).any(1))
    neg = np.flatnonzero(~truth.reshape(len(truth), -1).any(1))
    n_pos = min(len(pos), n - 2) if len(neg) >= 2 else min(len(pos), n)
    chosen = list(pos[((np.arange(n_pos) + 0.5) * len(pos) / max(n_pos, 1)).astype(int)]) if n_pos else []
    near = neg[np.argsort(np.abs(neg - (pos.mean() if len(pos) else 0)))][: n - len(chosen)]
    return sorted(set(int(i) for i in chosen) | set(int(i) for i in near))


def row(name, preds, truths):
    m = evaluate(preds, truths)
    per_slice = [evaluate(p, t)["dice_slice_mean"] for p, t in zip(preds, truths)]
    per_slice = [v for v in per_slice if v is not None]
    return (f"| {name:<34} | {100 * m['miou']:5.1f} | {100 * m['dsc']:5.1f} | {m['dice_volume_mean']:.3f} | "
            f"{np.mean(per_slice) if per_slice else float('nan'):.3f} |")


def report(setting, cases, ref_case, ref_idx=None, unit="volumes"):
    truths = [c["truth"] for c in cases]
    labels = np.concatenate([labels_from_mask(t) for t in truths])
    probs = np.concatenate([c["probs"] for c in cases])
    acc_vol = np.mean([np.mean((c["probs"] >= 0.5) == labels_from_mask(c["truth"])) for c in cases])
    print(f"\n### {setting}: {len(cases)} held-out {unit}, {len(labels)} slices ({int(labels.sum())} with lesion)")
    print(f"classifier: slice AUC {roc_auc(labels, probs):.3f}, accuracy {np.mean((probs >= 0.5) == labels):.3f}, "
          f"mean accuracy per volume {acc_vol:.3f}")
    idx = reference_slices(ref_case["truth"]) if ref_idx is None else list(ref_idx)
    res = calibrate(np.stack([ref_case["cams"][idx], ref_case["cams2"][idx]]), ref_case["regions"][idx],
                    ref_case["truth"][idx], gates=[0.0, 0.2, 0.4, 0.5, 0.6, 0.8], probabilities=ref_case["probs"][idx],
                    perimeter=ref_case["perimeter"][idx], thresholds=np.round(np.linspace(0.1, 0.9, 9), 2))
    single = calibrate_fit(ref_case, idx)
    print(f"calibrated on reference slices {idx}: BoundaryFit t={single.thresholds[0]}, gate={single.gate}; "
          f"ensemble {res.rule} t={res.thresholds}, gate={res.gate}")
    print("\n| method                             |  mIoU |   DSC | Dice/vol | Dice/slice |")
    print("|------------------------------------|-------|-------|----------|------------|")
    print(row("Blank", [np.zeros_like(t) for t in truths], truths))
    print(row("Grad-CAM (t=0.5, gate 0.5)", [predict(c, "cam") for c in cases], truths))
    print(row("Grad-CAM + BoundaryFit", [predict(c, "fit") for c in cases], truths))
    print(row("ensemble (GC & GC++, and) + BF", [predict(c, "ensemble") for c in cases], truths))
    print(row("calibrated (5 slices) GC + BF",
              [predict(c, "fit", t=single.thresholds[0], gate=single.gate) for c in cases], truths))
    if res.rule == "and":
        ens = [predict(c, "ensemble", t=res.thresholds[0], t2=res.thresholds[1], gate=res.gate) for c in cases]
        print(row("calibrated (5 slices) ensemble + BF", ens, truths))
    if ref_idx is None:  # volumes: as in the app, the reviewer calibrates on 5 slices of the volume under review
        own = []
        for c in cases:
            fit = calibrate_fit(c, reference_slices(c["truth"]))
            own.append(predict(c, "fit", t=fit.thresholds[0], gate=fit.gate))
        print(row("calibrated per volume (5 slices)", own, truths))


def calibrate_fit(case, idx):
    """Threshold and gate of Grad-CAM + BoundaryFit that best reproduce the truth of slices ``idx``."""
    return calibrate(case["cams"][idx], case["regions"][idx], case["truth"][idx],
                     gates=[0.0, 0.2, 0.4, 0.5, 0.6, 0.8], probabilities=case["probs"][idx],
                     perimeter=case["perimeter"][idx], thresholds=np.round(np.linspace(0.1, 0.9, 17), 3))


def concat(cases):
    return {k: np.concatenate([c[k] for c in cases]) for k in cases[0]}


def ultrasound(args, workdir):
    """A classifier trained here on demo B-mode images (seed 0), evaluated on held-out ones (args.seed)."""
    import time

    from labelassist.core.classify.train import train_classifier

    train_dir, test_dir = workdir / "us-train", workdir / "us-test"
    if not (train_dir / "manifest.json").is_file():
        write_demo_data(train_dir, seed=0, n_mri=0, n_us=args.us_train)
    if not (test_dir / "manifest.json").is_file():
        write_demo_data(test_dir, seed=args.seed, n_mri=0, n_us=args.us_test + 5)
    import json

    def load(folder):
        entries = json.loads((folder / "manifest.json").read_text())["us"]
        return [(e["setting"], load_volume(folder / e["path"]).array, load_volume(folder / e["mask"], labels=True).array > 0)
                for e in entries]

    train = load(train_dir)
    t = time.perf_counter()
    result = train_classifier([im for _, im, _ in train], [labels_from_mask(m) for _, _, m in train], epochs=20,
                              patience=6, input_size=128, output_stride=16, pool=args.us_pool, seed=0)
    rec = result.meta["training"]
    print(f"\n## Ultrasound: classifier trained here on {len(train)} demo images in {time.perf_counter() - t:.0f} s "
          f"(validation AUC {rec['val_auc']:.3f}, best epoch {rec['best_epoch']}, pool {args.us_pool})")
    test = load(test_dir)
    for setting in sorted({s for s, _, _ in test}):
        items = [(im, m) for s, im, m in test if s == setting]
        cases = [analyse(im, m, result.model, result.meta) for im, m in items]
        ref = concat(cases[:5])
        report(setting, cases[5:], ref, ref_idx=range(5), unit="images")


def held_out_parser(description):
    """The options every held-out demo benchmark takes: --model, --data, --volumes, --seed."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", help="classifier checkpoint (default: the shipped demo model)")
    ap.add_argument("--data", help="a demo-data folder (default: made now with --seed)")
    ap.add_argument("--volumes", type=int, default=4, help="held-out volumes per setting")
    ap.add_argument("--seed", type=int, default=1, help="demo-data seed (the demo model was trained on seed 0)")
    return ap


def main():
    ap = held_out_parser(__doc__.splitlines()[0])
    ap.add_argument("--us-train", type=int, default=60, help="ultrasound training images per setting")
    ap.add_argument("--us-test", type=int, default=30, help="held-out ultrasound images per setting")
    ap.add_argument("--no-us", action="store_true", help="skip the ultrasound part")
    ap.add_argument("--us-pool", choices=("avg", "max"), default="max", help="pooling of the ultrasound classifier")
    args = ap.parse_args()
    model, meta = load_checkpoint(resolve_model_path(args.model))
    print(f"model: {meta['arch']} {meta['input_size']}², training record: {meta.get('training', {})}")
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="labelassist-report-")) / "demo"
    if not (data / "manifest.json").is_file():
        write_demo_data(data, seed=args.seed, n_mri=args.volumes + 1, n_us=0)
    import json

    manifest = json.loads((data / "manifest.json").read_text())
    for setting in manifest["settings"]:
        entries = [e for e in manifest["mri"] if e["setting"] == setting]
        ref_entry = next(e for e in entries if e["lesions"])
        cases = []
        ref_case = None
        for e in entries:
            case = analyse(load_volume(data / e["path"]).array, load_volume(data / e["mask"], labels=True).array > 0.5,
                           model, meta)
            if e is ref_entry:
                ref_case = case
            else:
                cases.append(case)
        report(setting, cases, ref_case)
    if not args.no_us:
        ultrasound(args, data.parent)


if __name__ == "__main__":
    main()
