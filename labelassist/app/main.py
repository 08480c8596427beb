"""Starting the app: the QApplication, the demo volume, and the ``--screenshot`` path.

``run(...)`` is what ``labelassist app`` and ``labelassist-app`` call.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["run", "demo_volume", "cache_dir", "DEMO_SEED", "Timing"]

DEMO_SEED = 1  # the shipped model was trained on seed 0: the demo volume is held out
DEMO_FOLDER = "demo-app"
DEMO_VOLUMES = 2  # the easy volumes of ``labelassist demo`` (seed 1): the second has the larger lesions


def cache_dir() -> Path:
    """``LABELASSIST_CACHE``, else ``$XDG_CACHE_HOME/labelassist``, else ``~/.cache/labelassist``."""
    env = os.environ.get("LABELASSIST_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "labelassist"


def demo_volume(folder=None) -> tuple[Path, int]:
    """The demo MRI volume (written on first use, about a second) and the slice through its largest lesion."""
    from labelassist.demo.data import MANIFEST, write_demo_data

    folder = Path(folder) if folder else cache_dir() / DEMO_FOLDER
    manifest = _manifest(folder / MANIFEST)
    if manifest is None or len(manifest["mri"]) != DEMO_VOLUMES:
        manifest = write_demo_data(folder, seed=DEMO_SEED, settings=("easy",), n_mri=DEMO_VOLUMES, n_us=0)
    # the volume with the largest lesion, at the slice through that lesion's centre (voxel k = array z)
    lesions = [(max(np.atleast_1d(p["radius_mm"])), e, p) for e in manifest["mri"] for p in e["lesion_params"]]
    _, entry, lesion = max(lesions, key=lambda t: t[0])
    return folder / entry["path"], int(round(lesion["centre"][2]))


def _manifest(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _check_display() -> None:
    """A one-line error instead of Qt's abort when there is no screen to open a window on."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ParameterError("no display (DISPLAY is not set): run it on a desktop, under 'xvfb-run -a', "
                             "or with QT_QPA_PLATFORM=offscreen for --screenshot")


def _application():
    os.environ.setdefault("QT_API", "pyside6")
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("labelassist")
    app.setOrganizationName("labelassist")
    return app


def run(file=None, *, model=None, device="auto", demo=False, screenshot=None, slice_index=None,
        size=(1400, 860), timeout=300.0, timing=False) -> int:
    """Open the main window (on ``file``, or the demo volume); with ``screenshot`` save a PNG and exit.

    Returns the process exit code: 0, or 1 when the screenshot was taken after an engine error or a timeout.
    """
    started = time.time()
    if demo and file:
        raise ParameterError("give FILE or --demo, not both")
    if screenshot is not None:
        screenshot = Path(screenshot)
        if screenshot.suffix.lower() != ".png":
            raise ParameterError(f"--screenshot {screenshot}: the file name must end in .png")
        if not screenshot.parent.is_dir():
            raise ParameterError(f"--screenshot {screenshot}: the folder {screenshot.parent} does not exist")
    if file is not None and not Path(file).exists():
        raise ParameterError(f"{file}: no such file or folder")
    if model is not None and not Path(model).is_file():
        raise ParameterError(f"--model {model}: no such file")
    _check_display()
    if demo:
        file, found = demo_volume()
        slice_index = found if slice_index is None else slice_index

    app = _application()
    from labelassist.app.window import MainWindow

    log = Timing.from_env()
    window = MainWindow(model=model, device=device)
    window.resize(*size)
    window.show()
    marks = {"window_shown": time.time()}
    canvas = window.view.canvas

    def on_frame():
        log.event("window_shown", torch="torch" in sys.modules)  # the first paint (torch comes after it)
        if "image_drawn" not in marks and canvas.layer_data("image") is not None:
            marks["image_drawn"] = time.time()
            log.event("image_drawn")
        c = window.controller if window.controller_started else None
        if "overlays_drawn" not in marks and c is not None and c.state is not None and c.state.has_proposal(c.current):
            marks["overlays_drawn"] = time.time()
            log.event("overlays_drawn")
            if timing:
                print("timing: " + " ".join(f"{k}={v - started:.3f}" for k, v in marks.items()), flush=True)
                print("timing-epoch: " + " ".join(f"{k}={v:.3f}" for k, v in marks.items()), flush=True)

    canvas.frame_drawn.connect(on_frame)
    window.controller_ready.connect(lambda c: log.event("engine_started"))
    window.volume_loaded.connect(lambda p: log.event("volume_loaded"))
    if file is not None:
        window.open_volume(file, start=slice_index, wait=False)  # read in a worker thread: the window paints
        log.event("load_started")
        log.watch_stalls(window.loading, window.volume_loaded)
    if screenshot is None:
        return app.exec()
    return _screenshot_when_ready(app, window, screenshot, timeout)


class Timing:
    """``LABELASSIST_TIMING=path``: the app appends JSON lines ``{"event": name, "t": seconds since the epoch}``
    to ``path`` (benchmarks/bench_startup.py reads them). Events, each once: ``window_shown`` (the first paint;
    ``"torch"``: whether torch was imported by then), ``engine_started``, ``load_started``, ``volume_loaded``
    (on screen), ``image_drawn``, ``overlays_drawn`` (the slice's proposal drawn), ``gui_stall`` (``p99_ms``,
    ``worst_ms``, ``ticks``: the gaps between the ticks of a 10 ms timer of the GUI thread, from the start of
    the load to the first tick after the volume is on screen). Without the variable nothing is recorded."""

    def __init__(self, path=None):
        self.path = Path(path) if path else None
        self._seen: set[str] = set()

    @classmethod
    def from_env(cls) -> Timing:
        return cls(os.environ.get("LABELASSIST_TIMING") or None)

    def event(self, name: str, **fields) -> None:
        if self.path is None or name in self._seen:
            return
        self._seen.add(name)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": name, "t": time.time(), **fields}) + "\n")

    def watch_stalls(self, load, shown) -> None:
        """Record the GUI thread's stalls from now until the first tick after ``shown`` (a signal: the volume
        is on screen) or the end of ``load`` (a VolumeLoad) without a volume: ``gui_stall``."""
        if self.path is None or load is None:
            return
        from qtpy.QtCore import QTimer

        timer, ticks, state = QTimer(), [time.perf_counter()], {"shown": False}
        shown.connect(lambda *args: state.update(shown=True))

        def tick():
            ticks.append(time.perf_counter())
            if state["shown"] or load.state in ("failed", "cancelled"):
                timer.stop()
                gaps = np.diff(ticks) * 1000
                self.event("gui_stall", p99_ms=round(float(np.percentile(gaps, 99)), 1),
                           worst_ms=round(float(gaps.max()), 1), ticks=len(gaps), outcome=load.state)

        timer.setInterval(10)
        timer.timeout.connect(tick)
        timer.start()
        self._timer = timer  # kept alive with this object


def _when_controller(window, fn) -> None:
    """Call ``fn(controller)`` once the window has made its controller (after its first paint)."""
    if window.controller_started:
        fn(window.controller)
    else:
        window.controller_ready.connect(fn)


def _screenshot_when_ready(app, window, path: Path, timeout: float) -> int:
    from qtpy.QtCore import QTimer

    result = {"code": 0}

    def ready():
        c = window.controller if window.controller_started else None
        return c is not None and c.state is not None and c.state.has_proposal(c.current) and not c.engine.busy

    def check():
        if ready():
            done()

    def failed(*args):
        result["code"] = 1
        QTimer.singleShot(200, done)

    def done():
        if result.get("shot"):
            return
        result["shot"] = True
        QTimer.singleShot(150, lambda: app.exit(_shoot(app, window, path, code=result["code"])))

    def too_late():
        print(f"labelassist: warning: no slice computed after {timeout:.0f} s; screenshot taken anyway",
              file=sys.stderr)
        result["code"] = 1
        done()

    def wire(c):
        c.engine.slice_ready.connect(lambda i: QTimer.singleShot(0, check))
        c.engine.busy_changed.connect(lambda busy: QTimer.singleShot(0, check))
        c.engine.failed.connect(failed)
        QTimer.singleShot(0, check)

    if window.loading is not None:
        window.loading.failed.connect(failed)  # a file that cannot be read: its line, and the window as it is
    _when_controller(window, wire)
    QTimer.singleShot(int(timeout * 1000), too_late)
    return app.exec()


def _shoot(app, window, path: Path, *, code: int) -> int:
    app.processEvents()
    window.view.canvas.repaint()
    image = window.grab()
    if not image.save(str(path)):
        print(f"labelassist: error: could not write {path}", file=sys.stderr)
        code = 2
    else:
        print(f"screenshot: {path} ({image.width()}x{image.height()})")
    window.close()
    return code
