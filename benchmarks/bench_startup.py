"""Start-up figures of the standalone app: command -> window -> first image -> first overlay, and the GUI's stalls
while a volume loads.

Run under a real X server (``xvfb-run -a .venv/bin/python benchmarks/bench_startup.py``) or a desktop. For the
demo volume and for a 512 x 512 x 300 volume written to a temporary .nii.gz, it runs
``labelassist app FILE --screenshot`` in a fresh process with ``LABELASSIST_TIMING`` set (the app's timing hook,
:class:`labelassist.app.main.Timing`) and prints, in seconds from the command:

- window: the window's first paint (and whether torch was imported by then: it should not be);
- image: the first slice's image drawn; engine: the engine made (torch imported, in a worker thread);
- overlay: the first slice's proposal (grad-cam, perimeter, boundaryfit) drawn;
- the GUI thread's stalls from the start of the load until the volume is on screen: the gaps between the ticks of a
  10 ms timer, their 99th percentile and the worst.

``--shape Z,Y,X`` changes the large volume (smaller: a quicker run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COLUMNS = ("window_shown", "image_drawn", "engine_started", "volume_loaded", "overlays_drawn")


def write_large_volume(path: Path, shape) -> Path:
    """A smooth int16 volume with a bright disc per slice (quick to write, about 20 % of its raw size)."""
    import nibabel as nib

    z, y, x = shape
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:y, :x]
    base = (200 * np.sin(yy / 23.0) * np.cos(xx / 31.0)).astype(np.int16)
    vol = np.empty(shape, np.int16)
    for k in range(z):
        vol[k] = base + rng.integers(0, 40, (y, x), dtype=np.int16)
        r = max(4, min(y, x) // 8 - abs(k - z // 2) // 3)
        vol[k][(yy - y // 2) ** 2 + (xx - x // 3) ** 2 <= r * r] += 600
    img = nib.Nifti1Image(vol.transpose(2, 1, 0), np.diag([0.8, 0.8, 1.5, 1.0]))
    nib.save(img, str(path))
    return path


def run_app(file: Path, folder: Path, *, slice_index: int | None = None, timeout: int = 600) -> dict:
    """``labelassist app FILE --screenshot`` in a fresh process; the moments of its timing hook, from the command."""
    events = folder / f"{file.stem}.events.jsonl"
    events.unlink(missing_ok=True)
    env = {**os.environ, "LABELASSIST_TIMING": str(events), "LABELASSIST_APP_SETTINGS": str(folder / "s.ini"),
           "LABELASSIST_DATA_DIR": str(folder / "data")}
    cmd = [sys.executable, "-m", "labelassist", "app", str(file), "--screenshot", str(folder / "shot.png"),
           "--timeout", str(timeout)]
    if slice_index is not None:
        cmd += ["--slice", str(slice_index)]
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout + 120)
    if proc.returncode != 0:
        print(f"  ({file.name}: exit {proc.returncode}: {proc.stderr.strip()[-300:]})")
    out = {}
    for line in events.read_text().splitlines():
        e = json.loads(line)
        out[e["event"]] = e
    return {"t": {k: e["t"] - t0 for k, e in out.items()}, "events": out}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="300,512,512", help="the large volume, Z,Y,X (300,512,512)")
    args = parser.parse_args(argv)
    shape = tuple(int(v) for v in args.shape.split(","))
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        sys.exit("bench_startup: no display: run it under 'xvfb-run -a'")
    print(f"labelassist app start-up ({os.cpu_count()} CPUs); seconds from the command")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "LABELASSIST_CACHE": str(folder / "cache")}
        os.environ.update(env)
        from labelassist.app.main import demo_volume

        demo, z = demo_volume()  # written once, outside the timing
        t = time.perf_counter()
        large = write_large_volume(folder / "large.nii.gz", shape)
        print(f"(wrote {large.name} {'x'.join(map(str, shape[::-1]))}, {large.stat().st_size / 1e6:.0f} MB, "
              f"in {time.perf_counter() - t:.1f} s)")
        rows = [(f"demo {demo.name}", run_app(demo, folder, slice_index=z)),
                (f"{'x'.join(map(str, shape[::-1]))} .nii.gz", run_app(large, folder))]
    head = f"{'volume':<28}" + "".join(f"{c.split('_')[0]:>9}" for c in COLUMNS) + f"{'torch@win':>10}{'stall p99':>11}{'worst':>9}"
    print(head)
    for name, r in rows:
        t, ev = r["t"], r["events"]
        stall = ev.get("gui_stall", {})
        cells = "".join(f"{t[c]:>9.2f}" if c in t else f"{'-':>9}" for c in COLUMNS)
        torch_then = ev.get("window_shown", {}).get("torch")
        print(f"{name:<28}{cells}{str(torch_then):>10}"
              f"{stall.get('p99_ms', float('nan')):>9.0f}ms{stall.get('worst_ms', float('nan')):>7.0f}ms")
    print("window/image/engine/volume/overlays: window painted, first image drawn, engine made, volume under review,"
          " first overlay drawn; stalls: GUI timer gaps (10 ms timer) from the load's start to the volume on screen")


if __name__ == "__main__":
    main()
