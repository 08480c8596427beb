"""simulate-review through the real app against the command line's (issue 27): the same curve, or not.

Run under a real X server (``xvfb-run -a .venv/bin/python benchmarks/bench_app_review.py``)::

    xvfb-run -a .venv/bin/python benchmarks/bench_app_review.py --seed 7 --setting easy --volume 0 --rounds 5

Writes the demo data of ``--seed`` (MRI only), opens one volume in the app's main window with the shipped demo
classifier, and plays the simulated reviewer with Qt events (:func:`labelassist.app.testing.review_in_app`: Run
volume clicked, the arrow keys to the largest lesion, its truth drawn as one stroke, Propagate clicked, N for the
next slice). Then ``labelassist simulate-review``'s loop (:func:`labelassist.cli._simulation.review`) runs on the
same volume, seed and CPU, in the same process (so with the engine's thread count). Prints both curves, whether
they are the same, and the seconds each took.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7, help="demo data seed (7)")
    ap.add_argument("--setting", choices=("easy", "hard"), default="easy")
    ap.add_argument("--volume", type=int, default=0, help="which volume of the setting (0)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from qtpy.QtWidgets import QApplication

    from labelassist.app.testing import review_in_app, wait_until
    from labelassist.app.window import MainWindow
    from labelassist.cli._simulation import proposal_pipeline, review
    from labelassist.demo.data import write_demo_data
    from labelassist.engine import Engine, keep_triton_out
    from labelassist.io import load_volume
    from labelassist.io.resources import demo_model_path

    keep_triton_out()
    tmp = Path(tempfile.mkdtemp(prefix="bench-app-review-"))
    os.environ["LABELASSIST_APP_SETTINGS"] = str(tmp / "settings.ini")
    write_demo_data(tmp, seed=args.seed, settings=(args.setting,), n_mri=max(2, args.volume + 1), n_us=0)
    vol_path = tmp / "mri" / args.setting / f"vol_{args.volume:03d}.nii.gz"
    truth = load_volume(vol_path.with_name(vol_path.name.replace(".nii.gz", "_mask.nii.gz")), labels=True).array
    volume = load_volume(vol_path)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    engine = Engine(device="cpu")
    w = MainWindow(model=demo_model_path(), engine=engine)
    w.resize(1400, 860)
    w.show()
    w.activateWindow()
    assert w.open_volume(vol_path, start=0)
    wait_until(lambda: w.controller.state is not None)
    t0 = time.perf_counter()
    app_curve = review_in_app(w, truth, rounds=args.rounds, log=None if args.json else print)
    t_app = time.perf_counter() - t0
    w.close()
    engine.shutdown()

    t0 = time.perf_counter()
    pipe = proposal_pipeline(volume.array, classifier=demo_model_path(), device="cpu")
    cli = review(volume.array, truth, fit=pipe.masks(), probability=[r.probability for r in pipe.results],
                 rounds=args.rounds, device="cpu", seed=0, log=None if args.json else (lambda s: print("cli:", s)))
    t_cli = time.perf_counter() - t0
    out = {"volume": f"seed {args.seed} {args.setting} vol_{args.volume:03d}", "app": app_curve, "cli": cli.curve,
           "same": app_curve == cli.curve, "seconds_app": round(t_app, 1), "seconds_cli": round(t_cli, 1)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['volume']}: app {app_curve}")
        print(f"{' ' * len(out['volume'])}  cli {cli.curve}")
        print(f"same curve: {out['same']} (app {t_app:.0f} s, command line {t_cli:.0f} s, CPU)")
    app.quit()
    return 0 if out["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
