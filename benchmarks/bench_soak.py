"""Soak of the app: page through every slice of the demo volume 50 times with the arrow keys, then Ctrl+Q.

What it measures (issue 27, "no crash"): the real app (``labelassist.app.main.run``, as ``labelassist app FILE``
starts it) on the app's demo MRI volume, driven by key events (``QTest.keyClick`` of Up, then Down, on the
canvas: one pass goes from one end of the volume to the other), with the engine computing each slice shown as
it does for a user. It prints

- slices shown per second (each key press: the slice changes and its frame is drawn before the next press),
- the resident memory (RSS) at the start, every 10 passes and at the end: flat once every slice is computed?
- ``sys.getrefcount(None)`` at the same points: a binding that loses references to ``None`` (PySide6-Essentials
  6.12.0 on Python 3.11 loses one a call) makes it fall until the interpreter aborts with "Fatal Python error:
  none_dealloc",
- whether Ctrl+Q closed the window and the process exited cleanly.

The app runs in a child process, so that a crash is seen and reported as one (the signal, the last figures
before it, the fatal error line) instead of ending the benchmark. Run it under a real X server or a desktop::

    xvfb-run -a .venv/bin/python benchmarks/bench_soak.py                    # 50 passes of the demo volume
    xvfb-run -a .venv/bin/python benchmarks/bench_soak.py --python /tmp/v612/bin/python   # another interpreter
    xvfb-run -a .venv/bin/python benchmarks/bench_soak.py --volume scan.nii.gz --passes 10 --no-compute

Its exit code is 0 when the app ran every pass and exited cleanly, 1 when it crashed, hung, missed a slice or lost
references to ``None`` (more than ``REFS_SLACK`` from the start to the end).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = "soak-json: "  # the child's figures, one JSON record a line on stdout
REFS_SLACK = 1000  # references to None the count may fall by from start to end (objects freed); a leak is far more
MB = 1 << 20


# -- the child: the app, driven by key events -----------------------------------------------------------------------


def _emit(event: str, **fields) -> None:
    print(TAG + json.dumps({"event": event, **fields}), flush=True)


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def child(volume: str, passes: int, compute: bool, device: str) -> int:
    """Start the app on ``volume``, page through it ``passes`` times with the arrow keys, quit with Ctrl+Q.

    Parameters
    ----------
    volume : str
        The volume to open (as ``labelassist app FILE``).
    passes : int
        Passes through the volume: Up from the first slice to the last, then Down back, and so on.
    compute : bool
        Leave the engine computing each slice shown (what the app does); False: paging only.
    device : str
        The engine's device (``auto``, ``cpu``, ``cuda``).

    Returns
    -------
    int
        The app's exit code (``run``'s); the figures go to stdout as JSON lines (``soak-json: {...}``).
    """
    refs_at_launch = sys.getrefcount(None)
    os.environ.setdefault("QT_API", "pyside6")
    from qtpy import API_NAME, PYQT_VERSION, PYSIDE_VERSION, QT_VERSION
    from qtpy.QtCore import Qt, QTimer
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    from labelassist.app.main import run
    from labelassist.app.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])  # run() uses this one
    _emit("launch", refs_none=refs_at_launch, rss=_rss(), binding=f"{API_NAME} {PYSIDE_VERSION or PYQT_VERSION}",
          qt=QT_VERSION, python=sys.version.split()[0])

    def wait(until, timeout: float) -> bool:
        end = time.perf_counter() + timeout
        while not until():
            if time.perf_counter() > end:
                return False
            app.processEvents()
            time.sleep(0.005)
        return True

    def drive() -> None:
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        view, canvas = window.view, window.view.canvas

        def ready():
            c = window.controller if window.controller_started else None
            if c is None or c.state is None or window.path is None or canvas.layer_data("image") is None:
                return False
            # the model loaded (torch, weights: their memory is in the start figures) and the first slice computed
            return not c.engine.busy and c.state.has_proposal(c.current)

        t0 = time.perf_counter()
        if not wait(ready, 600):
            _emit("error", what="the volume or its first slice was not on screen within 600 s")
            window.close()
            return
        c = window.controller
        c.auto_compute = compute  # False: the engine computes no other slice (paging alone)
        n = c.state.n_slices
        frames = [0]
        canvas.frame_drawn.connect(lambda: frames.__setitem__(0, frames[0] + 1))

        def figures(**fields):
            return {"rss": _rss(), "refs_none": sys.getrefcount(None), "frames": frames[0],
                    "proposals": sum(c.state.has_proposal(i) for i in range(n)), **fields}

        window.activateWindow()  # the arrow keys are shortcuts of the view: they need the window active
        if not wait(window.isActiveWindow, 10):
            _emit("error", what="the window did not become active: the arrow keys would go nowhere")
        canvas.setFocus()
        _emit("start", slices=n, ready_s=time.perf_counter() - t0, current=view.current, **figures())
        shown = missed = late = 0
        t_start = time.perf_counter()
        for p in range(1, passes + 1):
            key, step = (Qt.Key.Key_Up, 1) if p % 2 else (Qt.Key.Key_Down, -1)
            for _ in range(n - 1):
                expected, before = view.current + step, frames[0]
                QTest.keyClick(canvas, key)
                app.processEvents()  # the slice's repaint, and whatever the engine posted meanwhile
                if frames[0] == before:  # not drawn yet: let the event loop draw it
                    late += 1
                    wait(lambda b=before: frames[0] > b, 1.0)
                if view.current == expected:
                    shown += 1
                else:
                    missed += 1
            _emit("pass", n=p, shown=shown, missed=missed, seconds=time.perf_counter() - t_start, **figures())
        seconds = time.perf_counter() - t_start
        idle = wait(lambda: not c.engine.busy, 120)
        _emit("end", shown=shown, missed=missed, late=late, seconds=seconds, engine_idle=idle, **figures())

        window.activateWindow()
        wait(window.isActiveWindow, 5)  # the Quit action is a window shortcut (a message box may have taken it)
        QTest.keyClick(canvas, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
        closed = wait(lambda: not window.isVisible(), 30)
        _emit("quit", closed_by_ctrl_q=closed, refs_none=sys.getrefcount(None), rss=_rss())
        if not closed:
            window.close()

    QTimer.singleShot(0, drive)
    code = run(volume, slice_index=0, device=device)
    _emit("exit", code=code, refs_none=sys.getrefcount(None), rss=_rss())
    return code


# -- the parent: starts the child, reads its figures, reports a crash -------------------------------------------------


def _clip(line: str, width: int = 160) -> str:
    line = line.rstrip()
    return line if len(line) <= width else line[:width - 3] + "..."


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def soak(python: str, volume: str, passes: int, compute: bool, device: str, timeout: float) -> int:
    """Run :func:`child` in ``python``; print its figures as they come and what became of the process.

    Parameters
    ----------
    python : str
        The interpreter of the app (another virtual environment: another Qt binding).
    volume : str
        The volume the app opens.
    passes : int
        Passes through the volume.
    compute : bool
        Whether the engine computes each slice shown.
    device : str
        The engine's device.
    timeout : float
        Seconds before the app is taken for hung and killed.

    Returns
    -------
    int
        0: every pass ran, every key press showed its slice, Ctrl+Q closed the window and the process exited 0;
        else 1.
    """
    cache = tempfile.mkdtemp(prefix="labelassist-soak-")
    env = {**os.environ, "LABELASSIST_APP_SETTINGS": str(Path(cache) / "settings.ini"), "PYTHONFAULTHANDLER": "1"}
    cmd = [python, str(Path(__file__).resolve()), "--child", "--volume", volume, "--passes", str(passes),
           "--device", device] + ([] if compute else ["--no-compute"])
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr_tail: deque[str] = deque(maxlen=400)
    reader = threading.Thread(target=lambda: stderr_tail.extend(proc.stderr), daemon=True)
    reader.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    records: dict[str, dict] = {}
    last: dict = {}
    t0 = time.perf_counter()
    for line in proc.stdout:
        if not line.startswith(TAG):
            continue
        r = json.loads(line[len(TAG):])
        records[r["event"]] = last = r
        if r["event"] == "pass":
            records.setdefault("passes", []).append(r)
        _report(r, records)
    code = proc.wait()
    timer.cancel()
    reader.join(5)
    wall = time.perf_counter() - t0

    fatal = next((ln.strip() for ln in stderr_tail if "Fatal Python error" in ln), None)
    where = (f"after {last.get('shown', 0)} slices shown (pass {last['n']})" if last.get("event") == "pass"
             else f"after the '{last.get('event', 'nothing')}' record")
    if code < 0 and wall >= timeout:
        print(f"HUNG: killed after {timeout:.0f} s, {where}")
        return 1
    if code < 0 or code >= 128:
        sig = _signal_name(code if code < 0 else -(code - 128))
        print(f"CRASHED: the app's process died of {sig} {where}"
              + (f", last refs to None {last['refs_none']}" if "refs_none" in last else "")
              + (f": {fatal}" if fatal else ""))
        tail = [_clip(ln) for ln in stderr_tail if ln.strip()][-12:]
        if tail:
            print("  last lines of its stderr:\n    " + "\n    ".join(tail))
        return 1
    lost = records["start"]["refs_none"] - records["end"]["refs_none"] if "end" in records else 0
    if lost > REFS_SLACK:
        per_slice = lost / max(records["end"]["shown"], 1)
        print(f"LEAK: {lost} references to None lost, {per_slice:.0f} a slice shown: on Python < 3.12 the app aborts "
              f"('Fatal Python error: none_dealloc') after about {records['start']['refs_none'] / per_slice:.0f} "
              f"slices shown")
    ok = (code == 0 and "exit" in records and records["exit"]["code"] == 0 and "end" in records
          and records["end"]["missed"] == 0 and records.get("quit", {}).get("closed_by_ctrl_q", False)
          and lost <= REFS_SLACK)
    print(("no crash: " if ok else "FAILED: ") + f"process exit code {code}, app exit code "
          f"{records.get('exit', {}).get('code')}, Ctrl+Q closed the window: "
          f"{records.get('quit', {}).get('closed_by_ctrl_q')}, {wall:.0f} s in all")
    if not ok:
        tail = [_clip(ln) for ln in stderr_tail if ln.strip()][-12:]
        if tail:
            print("  last lines of its stderr:\n    " + "\n    ".join(tail))
    return 0 if ok else 1


def _report(r: dict, records: dict) -> None:
    e = r["event"]
    if e == "launch":
        print(f"app: {r['binding']} (Qt {r['qt']}), Python {r['python']}; at launch RSS {r['rss'] / MB:.0f} MB, "
              f"refs to None {r['refs_none']}")
    elif e == "start":
        print(f"start: {r['slices']} slices on screen after {r['ready_s']:.1f} s (slice {r['current']} computed, "
              f"engine idle); RSS {r['rss'] / MB:.0f} MB, refs to None {r['refs_none']}, slices with a proposal "
              f"{r['proposals']}/{r['slices']}")
    elif e == "pass" and (r["n"] % 10 == 0 or r["n"] == 1):
        n = records["start"]["slices"]
        print(f"pass {r['n']:3d}: {r['shown']} slices shown, {r['shown'] / r['seconds']:.1f} slices/s, "
              f"RSS {r['rss'] / MB:.0f} MB, refs to None {r['refs_none']}, slices with a proposal {r['proposals']}/{n}"
              + (f", {r['missed']} key presses missed" if r["missed"] else ""))
    elif e == "end":
        s, passes = records["start"], records.get("passes", [])
        later = passes[9] if len(passes) > 10 else None  # warmed up by then (first allocations): flat from there?
        print(f"end: {r['shown']} slices shown in {r['seconds']:.1f} s: {r['shown'] / max(r['seconds'], 1e-9):.1f} "
              f"slices/s, {r['frames'] - s['frames']} frames drawn ({r['late']} after more than one round of the event "
              f"loop), {r['missed']} key presses missed; engine idle at the end: {r['engine_idle']}")
        print(f"     RSS {s['rss'] / MB:.0f} -> {r['rss'] / MB:.0f} MB ({(r['rss'] - s['rss']) / MB:+.0f} MB); refs to "
              f"None {s['refs_none']} -> {r['refs_none']} ({r['refs_none'] - s['refs_none']:+d})"
              + (f"; from pass 10 to the end RSS {(r['rss'] - later['rss']) / MB:+.1f} MB, refs to None "
                 f"{r['refs_none'] - later['refs_none']:+d}" if later else ""))
    elif e == "quit":
        print(f"Ctrl+Q: window closed {r['closed_by_ctrl_q']}; refs to None {r['refs_none']}")
    elif e == "exit":
        print(f"app returned {r['code']}; refs to None {r['refs_none']}, RSS {r['rss'] / MB:.0f} MB")
    elif e == "error":
        print(f"error: {r['what']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=50, help="passes through the volume (50)")
    parser.add_argument("--volume", help="the volume the app opens (default: the app's demo MRI volume)")
    parser.add_argument("--python", default=sys.executable, help="the app's interpreter (default: this one)")
    parser.add_argument("--device", default="auto", help="the engine's device (auto)")
    parser.add_argument("--no-compute", dest="compute", action="store_false",
                        help="the engine does not compute the slices shown: paging alone")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before the app counts as hung")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.volume, args.passes, args.compute, args.device)
    volume = args.volume
    if volume is None:
        from labelassist.app.main import demo_volume

        volume = str(demo_volume()[0])  # written once into the cache (LABELASSIST_CACHE), as `labelassist app --demo`
    print(f"labelassist soak: {args.passes} passes of the arrow keys through {volume} "
          f"({os.cpu_count()} CPUs, engine {'computing the slices shown' if args.compute else 'idle'})", flush=True)
    return soak(args.python, volume, args.passes, args.compute, args.device, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
