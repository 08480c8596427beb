"""The scan area of the ultrasound files pydicom and pydicom-data ship (issue 31): how it was found, its size,
and the time to find it (the 120-frame echo cine is the slow one).

    python benchmarks/bench_scan_area.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

from pydicom.data import get_testdata_file

from labelassist.core.scan_area import scan_area
from labelassist.io import load_volume

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
            vol = load_volume(path)
            read = time.perf_counter() - t
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            area = scan_area(vol.array, regions=vol.header.get("us_regions"))
            times.append(time.perf_counter() - t)
        print(f"{name}: {' x '.join(map(str, vol.array.shape))}, read {read:.2f} s; {area.describe()}; "
              f"found in {min(times):.2f} s (best of {args.repeat})")


if __name__ == "__main__":
    main()
