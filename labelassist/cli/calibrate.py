"""``labelassist calibrate``: the thresholds and gate that best reproduce reference masks of a volume."""

from __future__ import annotations

import json

from labelassist.cli.run import add_pipeline_options, open_pipeline

__all__ = ["add_parser", "parse_slices"]


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="grid-search thresholds against reference masks", description=__doc__)
    add_pipeline_options(p, stages=("cam", "perimeter"))  # threshold and gate are what it searches
    p.add_argument("--truth", required=True, metavar="MASKS", help="reference label volume on the same grid")
    p.add_argument("--slices", metavar="LIST", help="reference slices, e.g. 3,10,12-15 (default: every slice)")
    p.add_argument("--plot", metavar="PNG", help="save the grid as a heat map")
    p.add_argument("--objective", choices=("dice", "miou"), default="dice")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def parse_slices(text: str | None, n: int) -> list[int]:
    """'3,10,12-15' -> [3, 10, 12, 13, 14, 15]; every index must exist."""
    from labelassist.errors import ParameterError

    if not text:
        return list(range(n))
    out = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(v) for v in part.split("-", 1))
                out += list(range(a, b + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise ParameterError(f"--slices must look like 3,10,12-15, got {text!r}") from None
    bad = [i for i in out if not 0 <= i < n]
    if bad or not out:
        raise ParameterError(f"--slices must be in [0, {n - 1}] for this volume, got {bad or text!r}")
    return sorted(set(out))


def run(args) -> int:
    import numpy as np

    from labelassist.cli._common import check_output, writing
    from labelassist.core.evaluate.calibrate import calibrate, plot_grid
    from labelassist.errors import VolumeError
    from labelassist.io import load_volume

    if args.plot:
        check_output(args.plot, "--plot")
    volume, pipe = open_pipeline(args, gate=0.0)
    truth = load_volume(args.truth, labels=True)
    if truth.shape != volume.shape:
        raise VolumeError(f"{args.truth}: shape {truth.shape} does not match the volume {volume.shape}")
    idx = parse_slices(args.slices, pipe.n_slices)
    pipe.run(idx)
    res = [pipe.results[i] for i in idx]
    gates = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    result = calibrate(
        np.stack([r.cam.astype(np.float32) for r in res]),
        np.stack([r.regions for r in res]),
        np.nan_to_num(truth.array[idx]) > 0.5,
        gates=gates,
        probabilities=np.array([r.probability for r in res]),
        perimeter=np.stack([r.perimeter for r in res]),
        objective=args.objective,
    )
    if args.plot:
        with writing(args.plot, "--plot"):
            plot_grid(result, args.plot)
    if args.json:
        print(json.dumps({**result.as_dict(), "slices": idx}, indent=2))
    else:
        print(f"best threshold {result.thresholds[0]:.2f}, gate {result.gate:.2f}: "
              f"{args.objective} {result.score:.4f} over {len(idx)} slices")
        print(f"use: labelassist run {args.volume} --threshold {result.thresholds[0]:.2f} --gate {result.gate:.2f}")
    return 0
