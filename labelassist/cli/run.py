"""``labelassist run``: CAM + perimeter map + BoundaryFit over a volume, labels out with the source's geometry."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labelassist.cli._common import positive_int, resolve_model_path, unit_float

__all__ = ["add_parser", "add_pipeline_options", "pipeline_params", "open_pipeline"]


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``calibrate``: model, CAM method, perimeter method, device."""
    p.add_argument("volume", help="a volume or image (any format 'labelassist info' reads)")
    p.add_argument("--model", metavar="CKPT", help="classifier checkpoint (default: the shipped demo model)")
    p.add_argument("--channel", type=int, help="which channel of a 4-D volume to use (default: all)")
    p.add_argument("--cam", default="gradcam", help="CAM method (default: gradcam)")
    p.add_argument("--cam-shifts", type=int, choices=range(1, 5), default=2, metavar="{1,2,3,4}",
                   help="shift averaging of the CAM: n x n passes at 1/n-cell offsets (default 2; 1 = plain CAM)")
    p.add_argument("--cam-stride", type=int, choices=(8, 16, 32), default=8,
                   help="the CAM's output stride when finer than the classifier's (default 8; p(lesion) is the model's)")
    p.add_argument("--uss", default="slic", help="perimeter method: slic, quickshift, felzenszwalb")
    p.add_argument("--segments", type=positive_int("--segments"), default=200, help="superpixels per slice")
    p.add_argument("--uss-cnn", action="store_true", help="refine superpixels with the unsupervised CNN")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--batch-size", type=positive_int("--batch-size"), default=16)


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="propose lesion masks for a volume", description=__doc__)
    add_pipeline_options(p)
    p.add_argument("-o", "--output", required=True, metavar="LABELS", help="label volume to write (.nii.gz)")
    p.add_argument("--threshold", type=unit_float("--threshold"), default=0.5, help="CAM threshold (0.5)")
    p.add_argument("--gate", type=unit_float("--gate"), default=0.5, help="minimum p(lesion) of a slice (0.5)")
    p.add_argument("--no-fit", action="store_true", help="the thresholded CAM alone, without BoundaryFit")
    p.add_argument("--min-size", type=int, default=0, help="drop lesion components smaller than this (pixels)")
    p.add_argument("--save-maps", metavar="DIR", help="also write the CAM, perimeter and p(lesion) to DIR")
    p.set_defaults(func=run)


def pipeline_params(args, **extra):
    from labelassist.core.propose.pipeline import PipelineParams

    return PipelineParams(
        cam_method=args.cam, cam_shifts=args.cam_shifts, cam_stride=args.cam_stride, uss=args.uss, n_segments=args.segments, uss_cnn=args.uss_cnn, **extra
    )


def open_pipeline(args, params):
    """Load the volume and model named in ``args`` and build a :class:`Pipeline` (errors are one line)."""
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.nets.device import resolve_device
    from labelassist.core.propose.pipeline import Pipeline
    from labelassist.io import load_volume

    volume = load_volume(args.volume, channel=args.channel)
    device = resolve_device(args.device)
    model, meta = load_checkpoint(resolve_model_path(args.model), device=device)
    pipe = Pipeline(volume.array, model, meta, device=device, params=params, batch_size=args.batch_size)
    return volume, pipe


def _progress_bar(total_slices: int, desc: str):
    from tqdm import tqdm

    bar = tqdm(total=total_slices * 2, desc=desc, unit="step", file=sys.stderr, disable=None)

    def update(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def run(args) -> int:
    import numpy as np

    from labelassist.io import save_labels

    params = pipeline_params(
        args, threshold=args.threshold, gate=args.gate, fit=not args.no_fit, min_size=args.min_size
    )
    volume, pipe = open_pipeline(args, params)
    bar, update = _progress_bar(pipe.n_slices, Path(args.volume).name)
    try:
        labels = pipe.run(progress=update)
    finally:
        bar.close()
    out = save_labels(labels, args.output, like=volume)
    if args.save_maps:
        _save_maps(pipe, volume, Path(args.save_maps))
    positive = int(np.count_nonzero(labels.reshape(len(labels), -1).any(axis=1)))
    print(f"{out}: {positive} of {pipe.n_slices} slices with a lesion, {int(labels.sum())} voxels")
    return 0


def _save_maps(pipe, volume, folder: Path) -> None:
    import numpy as np

    from labelassist.io import save_labels, save_map

    folder.mkdir(parents=True, exist_ok=True)
    cams = np.stack([r.cam.astype(np.float32) for r in pipe.results])
    save_map(cams, folder / "cam.nii.gz", like=volume)
    if all(r.perimeter is not None for r in pipe.results):
        perimeter = np.stack([r.perimeter for r in pipe.results]).astype(np.uint8)
        save_labels(perimeter, folder / "perimeter.nii.gz", like=volume)
    with open(folder / "probabilities.csv", "w", encoding="utf-8") as fh:
        fh.write("slice,p_lesion\n")
        for i, r in enumerate(pipe.results):
            fh.write(f"{i},{r.probability:.6f}\n")
