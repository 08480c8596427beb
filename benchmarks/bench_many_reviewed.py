"""Many reviewed slices (issue 27): the true masks on every 6th slice of a demo volume, one propagation, the
lesion Dice of the other slices, for a chosen start probability of a new segmenter.

    .venv/bin/labelassist demo-data /tmp/many37 --seed 37 --mri 1 --us 0
    .venv/bin/python benchmarks/bench_many_reviewed.py /tmp/many37 easy --prior 0.3

Prints one line: reviewed slices, how many show the lesion, unreviewed lesion slices found, Dice, false voxels.
"""

import argparse
import time

import numpy as np

import labelassist.core.propagate.training as training
from labelassist.core.evaluate.metrics import dice
from labelassist.core.propagate.propagation import propagate
from labelassist.io import load_volume


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="a folder written by 'labelassist demo-data'")
    ap.add_argument("setting", choices=["easy", "hard"])
    ap.add_argument("--volume", default="vol_000")
    ap.add_argument("--every", type=int, default=6, help="review every Nth slice (6)")
    ap.add_argument("--prior", type=float, default=training.PRIOR_PROBABILITY,
                    help="a new segmenter's start probability (the shipped one)")
    args = ap.parse_args(argv)
    training.PRIOR_PROBABILITY = args.prior
    base = f"{args.data}/mri/{args.setting}/{args.volume}"
    img = np.moveaxis(np.asarray(load_volume(f"{base}.nii.gz").array, np.float32), -1, 0)
    mask = np.moveaxis((np.asarray(load_volume(f"{base}_mask.nii.gz").array) > 0).astype(np.uint8), -1, 0)
    reviewed = list(range(3, img.shape[0], args.every))
    labels = np.zeros_like(mask)
    labels[reviewed] = mask[reviewed]
    t = time.perf_counter()
    res = propagate(img, labels, reviewed, seed=0, device="cpu")
    other = [i for i in range(len(img)) if i not in reviewed]
    lesion = [i for i in other if mask[i].any()]
    found = [i for i in lesion if res.masks[i].any()]
    false = int((res.masks[other] & (mask[other] == 0)).sum())
    print(f"prior {args.prior} {args.setting} {args.volume}: {len(reviewed)} reviewed "
          f"({sum(bool(mask[i].any()) for i in reviewed)} with the lesion), found {len(found)} of {len(lesion)} "
          f"lesion slices, Dice {dice(res.masks[other], mask[other]):.3f}, {false} false voxels, "
          f"{time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
