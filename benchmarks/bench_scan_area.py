"""The scan area of the ultrasound files pydicom and pydicom-data ship (issue 31): how it was found, its size,
what else was done (colour Doppler kept out, grey B-mode in colour read as one channel), and the time of that step
(``labelassist.io.formats.us_frames.prepare_ultrasound``, run by ``load_volume``) apart from reading the file (the
120-frame echo cine is the slow one).

    python benchmarks/bench_scan_area.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

from pydicom.data import get_testdata_file

from pathlib import Path

from labelassist.io.formats.table import check_format
from labelassist.io.formats.us_frames import prepare_ultrasound

FILES = ("gdcm-US-ALOKA-16.dcm", "color3d_jpeg_baseline.dcm", "examples_ybr_color.dcm", "US1_UNCR.dcm")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for name in FILES:
        path = get_testdata_file(name)
        if path is None:
            print(f"{name}: not installed (pydicom-data)")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            raw = check_format(Path(path)).read(Path(path), channel=None)  # the file as stored
            read = time.perf_counter() - t
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                vol = prepare_ultrasound(raw)
                times.append(time.perf_counter() - t)
        area = vol.header["scan_area"]
        print(f"{name}: {' x '.join(map(str, raw.array.shape))}, read {read:.2f} s; {area.describe()}; "
              f"{'; '.join(area.notes)}; area and colour in {min(times):.2f} s (best of {args.repeat})")

if __name__ == "__main__":
    main()
