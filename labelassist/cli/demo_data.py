"""``labelassist demo-data``: MRI volumes, ultrasound images and cines with synthetic lesions and their masks."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def add_parser(sub) -> None:
    p = sub.add_parser("demo-data", help="write demo volumes and images with lesion masks", description=__doc__)
    p.add_argument("out_dir", metavar="OUT_DIR", help="an empty or new folder")
    p.add_argument("--seed", type=int, default=0, help="the same seed writes the same data (0)")
    p.add_argument("--setting", choices=("easy", "hard", "both"), default="both",
                   help="easy: large, bright lesions; hard: small, subtle ones (both)")
    p.add_argument("--mri", type=_count, default=8, help="MRI volumes per setting (8)")
    p.add_argument("--us", type=_count, default=40, help="ultrasound images per setting (40)")
    p.add_argument("--cine", type=_count, default=2,
                   help="ultrasound cines per setting: DICOM, 24 frames on a scanner's screen (2)")
    p.add_argument("--twins", action="store_true",
                   help="also write each lesion volume's lesion-free twin (same anatomy and noise), for training")
    p.set_defaults(func=run)


def run(args) -> int:
    from labelassist.cli._common import check_output
    from labelassist.demo.data import write_demo_data

    from pathlib import Path

    if not Path(args.out_dir).is_file():  # a file there is named by write_demo_data's own check
        check_output(args.out_dir, "OUT_DIR", folder=True)

    settings = ("easy", "hard") if args.setting == "both" else (args.setting,)
    m = write_demo_data(args.out_dir, seed=args.seed, settings=settings, n_mri=args.mri, n_us=args.us,
                        n_cine=args.cine, twins=args.twins)
    print(f"{args.out_dir}: {len(m['mri'])} MRI volumes, {len(m['us'])} ultrasound images and "
          f"{len(m['us_cine'])} ultrasound cines ({', '.join(settings)}), manifest.json")
    return 0
