"""The 32-volume table of docs/benchmarks.md from the logs of ``bench_propagate.py`` runs (one volume a log):
mean Dice after 0..N corrected slices per setting, and the issue goals (no drop over 0.02, easy >= 0.9 within 3,
hard >= 0.75 after 5, 0.9 within half the hand's interactions).

    python benchmarks/summarise_reviews.py /tmp/b27/log_*.txt
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import numpy as np


def read(path: Path) -> list[dict]:
    rows, setting = [], None
    for line in path.read_text().splitlines():
        m = re.match(r"## (easy|hard) (vol_\d+)", line)
        if m:
            setting = m.group(1)
            rows.append({"setting": setting, "volume": m.group(2), "log": path.name})
        elif line.strip().startswith("curve ") and rows:
            rows[-1]["curve"] = [d for _, d in ast.literal_eval(line.strip()[len("curve "):])]
        elif "largest drop" in line and rows and "drop" not in rows[-1]:
            rows[-1]["drop"] = float(re.search(r"largest drop ([\d.]+)", line).group(1))
        elif "within half of by hand" in line and rows:
            rows[-1]["half"] = line.strip().endswith("yes")
    return [r for r in rows if "curve" in r]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="+", type=Path)
    rows = [r for p in ap.parse_args().logs for r in read(p)]
    print(f"{len(rows)} volumes")
    for setting in ("easy", "hard", None):
        sel = [r for r in rows if setting in (None, r["setting"])]
        if not sel:
            continue
        n = min(len(r["curve"]) for r in sel)
        mean = np.mean([r["curve"][:n] for r in sel], axis=0)
        print(f"{setting or 'all'} ({len(sel)}): Dice after 0..{n - 1} corrections " +
              " / ".join(f"{d:.3f}" for d in mean))
    drops = sum(r["drop"] <= 0.02 for r in rows)
    easy = [r for r in rows if r["setting"] == "easy"]
    hard = [r for r in rows if r["setting"] == "hard"]
    print(f"no drop over 0.02: {drops} of {len(rows)} (easy {sum(r['drop'] <= 0.02 for r in easy)} of {len(easy)}, "
          f"hard {sum(r['drop'] <= 0.02 for r in hard)} of {len(hard)})")
    print(f"easy >= 0.9 within 3: {sum(max(r['curve'][:4]) >= 0.9 for r in easy)} of {len(easy)} "
          f"(mean after 3 {np.mean([r['curve'][3] for r in easy]):.3f})")
    print(f"easy 0.9 within half the hand's interactions: {sum(r.get('half', False) for r in easy)} of {len(easy)}")
    print(f"hard >= 0.75 after 5: {sum(r['curve'][5] >= 0.75 for r in hard)} of {len(hard)} "
          f"(mean {np.mean([r['curve'][5] for r in hard]):.3f})")
    worst = sorted(rows, key=lambda r: -r["drop"])[:6]
    print("largest drops: " + ", ".join(f"{r['log']} {r['drop']:.3f}" for r in worst))


if __name__ == "__main__":
    main()
