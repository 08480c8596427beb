"""``labelassist app``: the standalone review app (PySide6), on FILE or on the bundled demo volume.

With --screenshot the app loads FILE, computes the slice on screen, saves a picture of the window and
exits (for tests, bug reports and the README's picture). The window shows at once: FILE is read in a worker
thread and torch is imported after the first paint. With LABELASSIST_TIMING=PATH the app appends its start-up
moments to PATH as JSON lines (see labelassist.app.main.Timing; benchmarks/bench_startup.py reads them).
"""

from __future__ import annotations

import sys

__all__ = ["add_parser", "run", "main"]


def _size(text: str):
    import argparse

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        w = h = 0
    if w < 200 or h < 200:
        raise argparse.ArgumentTypeError(f"--size must be WIDTHxHEIGHT with both at least 200, got {text!r}")
    return w, h


def add_parser(sub) -> None:
    from labelassist.cli._common import positive_int

    p = sub.add_parser("app", help="review and correct masks in the standalone app", description=__doc__)
    p.add_argument("file", nargs="?", metavar="FILE", help="a volume, image or folder (any format labelassist reads)")
    p.add_argument("--demo", action="store_true",
                   help="open a demo MRI volume (written once to the cache folder) with the demo model")
    p.add_argument("--model", metavar="CKPT", help="classifier checkpoint (default: the shipped demo model)")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--slice", type=int, default=None, metavar="Z", help="slice to show first (default: the middle)")
    p.add_argument("--screenshot", metavar="OUT.png", help="compute the slice on screen, save the window as PNG, exit")
    p.add_argument("--size", type=_size, default=(1400, 860), metavar="WxH", help="window size (1400x860)")
    p.add_argument("--timeout", type=positive_int("--timeout"), default=300,
                   help="--screenshot: seconds to wait for the slice (300)")
    p.add_argument("--timing", action="store_true", help=argparse_suppress())
    p.set_defaults(func=run)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def run(args) -> int:
    from labelassist.app.main import run as run_app

    return run_app(args.file, model=args.model, device=args.device, demo=args.demo, screenshot=args.screenshot,
                   slice_index=args.slice, size=args.size, timeout=args.timeout, timing=args.timing)


def main(argv=None) -> int:
    """``labelassist-app [FILE] [options]``: the same as ``labelassist app``.

    An entry point of its own (a console script): the process set-up torch needs is done by ``cli.main``.
    """
    from labelassist.cli import main as cli_main

    return cli_main(["app", *(sys.argv[1:] if argv is None else argv)])
