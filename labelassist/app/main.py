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

__all__ = ["run", "demo_volume", "cache_dir", "DEMO_SEED"]

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

    window = MainWindow(model=model, device=device)
    window.resize(*size)
    window.show()
    marks = {"window_shown": time.time()}
    canvas = window.view.canvas

    def on_frame():
        if "image_drawn" not in marks and canvas.layer_data("image") is not None:
            marks["image_drawn"] = time.time()
        if "overlays_drawn" not in marks and window.controller.state is not None and \
                window.controller.state.has_proposal(window.controller.current):
            marks["overlays_drawn"] = time.time()
            if timing:
                print("timing: " + " ".join(f"{k}={v - started:.3f}" for k, v in marks.items()), flush=True)
                print("timing-epoch: " + " ".join(f"{k}={v:.3f}" for k, v in marks.items()), flush=True)

    canvas.frame_drawn.connect(on_frame)
    if file is not None and not window.open_volume(file, start=slice_index) and screenshot is not None:
        return _shoot(app, window, screenshot, code=1)
    if screenshot is None:
        return app.exec()
    return _screenshot_when_ready(app, window, screenshot, timeout)


def _screenshot_when_ready(app, window, path: Path, timeout: float) -> int:
    from qtpy.QtCore import QTimer

    c = window.controller
    result = {"code": 0}

    def ready():
        return c.state is not None and c.state.has_proposal(c.current) and not c.engine.busy

    def check():
        if ready():
            done()

    def failed(job, text):
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

    c.engine.slice_ready.connect(lambda i: QTimer.singleShot(0, check))
    c.engine.busy_changed.connect(lambda busy: QTimer.singleShot(0, check))
    c.engine.failed.connect(failed)
    QTimer.singleShot(int(timeout * 1000), too_late)
    QTimer.singleShot(0, check)
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
