"""Does the classifier's CAM point at the lesion? Figures on held-out demo MRI, per setting.

    python benchmarks/cam_pointing.py [--model CKPT] [--data DIR] [--volumes 4] [--seed 1] [--shifts 2]

A classifier can tell lesion slices from the rest by something other than the lesion (which slices of
the head show one, the brain's size there): then its AUC is high and its CAM is elsewhere, and no
threshold or BoundaryFit can make a mask of it. On every lesion slice of held-out volumes this prints:

- pointing game: the CAM's maximum lies in the lesion (dilated by 2 voxels), the share of slices;
- in/mean: mean CAM inside the lesion over its mean over the slice (1 = no better than chance);
- CAM mass: the share of the CAM's sum that falls in the lesion, beside the lesion's share of the slice;
- the classifier's slice AUC and mean p(lesion) on lesion and on lesion-free slices.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from labelassist.cli._common import resolve_model_path
from labelassist.core.propose.cam import compute_cams
from labelassist.core.nets.checkpoint import load_checkpoint
from labelassist.core.nets.inputs import normalise_volume
from labelassist.core.classify.train import labels_from_mask, roc_auc
from labelassist.io import load_volume
from labelassist.demo.data import write_demo_data
from report_accuracy import held_out_parser  # a sibling script: benchmarks/ is on sys.path when run


def pointing(cams, truth):
    """Figures over the lesion slices of one volume: lists of (hit, in/mean, mass share, area share)."""
    out = []
    for cam, mask in zip(cams, truth):
        if not mask.any():
            continue
        near = ndi.binary_dilation(mask, iterations=2)
        peak = np.unravel_index(np.argmax(cam), cam.shape)
        mean = float(cam.mean()) or 1e-9
        out.append((bool(near[peak]), float(cam[mask].mean()) / mean, float(cam[mask].sum() / max(cam.sum(), 1e-9)),
                    float(mask.mean())))
    return out


def main():
    ap = held_out_parser(__doc__.splitlines()[0])
    ap.add_argument("--method", default="gradcam", help="a grad-cam method (default gradcam)")
    ap.add_argument("--shifts", type=int, default=2, help="shift averaging, as the pipeline's cam_shifts (default 2)")
    ap.add_argument("--stride", type=int, default=8, help="the CAM's stride, as the pipeline's cam_stride (default 8)")
    args = ap.parse_args()
    model, meta = load_checkpoint(resolve_model_path(args.model))
    rec = meta.get("training", {})
    print(f"model: {meta['arch']} {meta['input_size']}² stride {meta.get('output_stride', 32)}, "
          f"validation AUC {rec.get('val_auc')}, epochs {rec.get('epochs_run')}, {rec.get('seconds')} s")
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="labelassist-pointing-")) / "demo"
    if not (data / "manifest.json").is_file():
        write_demo_data(data, seed=args.seed, n_mri=args.volumes, n_us=0)
    manifest = json.loads((data / "manifest.json").read_text())
    print("\n| setting | lesion slices | pointing | in/mean | CAM mass in lesion | lesion area | AUC | p(les) pos / neg |")
    print("|---------|---------------|----------|---------|--------------------|-------------|-----|------------------|")
    for setting in manifest["settings"]:
        entries = [e for e in manifest["mri"] if e["setting"] == setting and not e.get("twin_of")]
        figures, labels, probs = [], [], []
        for e in entries:
            image = normalise_volume(load_volume(data / e["path"]).array)
            truth = load_volume(data / e["mask"], labels=True).array > 0.5
            cams, p = compute_cams(model, image, method=args.method, shifts=args.shifts, cam_stride=args.stride, input_size=meta["input_size"],
                                   in_channels=meta["in_channels"])
            figures += pointing(cams, truth)
            labels.append(labels_from_mask(truth))
            probs.append(p)
        y, p = np.concatenate(labels), np.concatenate(probs)
        f = np.array(figures) if figures else np.zeros((0, 4))
        auc = roc_auc(y, p)
        print(f"| {setting:<7} | {len(f):13d} | {f[:, 0].mean():8.2f} | {f[:, 1].mean():7.2f} | "
              f"{f[:, 2].mean():18.3f} | {f[:, 3].mean():11.3f} | {auc if auc is not None else float('nan'):.3f} | "
              f"{p[y == 1].mean():.2f} / {p[y == 0].mean():.2f} |")


if __name__ == "__main__":
    main()
