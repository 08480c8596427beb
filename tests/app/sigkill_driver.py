"""Drives the app like a reviewer for the SIGKILL test: strokes and accepts on distinct slices, each logged.

    python sigkill_driver.py VOLUME MODEL LOG

Prints ``ready`` once the volume is on screen, then runs ``ACTIONS`` (a stroke is a press, several moves and a
release, a few milliseconds apart, so that a kill can land inside it). ``LOG`` gets one fsynced line per
event, written after the app handled it: ``press k z`` (stroke k began on slice z), ``release k z``,
``accept k z``. The parent kills this process at a random moment and checks the session on disk.
"""

import os
import sys

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication

ACTIONS = [("stroke", 1), ("accept", 2), ("stroke", 3), ("stroke", 4), ("accept", 5), ("stroke", 6),
           ("accept", 7), ("stroke", 8), ("stroke", 9), ("accept", 10), ("stroke", 11), ("stroke", 12)]
MOVES = 6


def stroke_row(z: int) -> int:
    """The row the stroke on slice z paints along (its whole length: columns 3 .. width - 4)."""
    return 4 + 2 * z


def main(volume_path, model_path, log_path) -> int:
    app = QApplication.instance() or QApplication([])
    from labelassist.app.window import MainWindow

    window = MainWindow(model=model_path, device="cpu")
    window.show()
    if not window.open_volume(volume_path, wait=True):
        print("could not open", window.last_error, flush=True)
        return 3
    c = window.controller
    width = c.volume.shape[2]
    log = open(log_path, "a", encoding="utf-8")

    def note(text):
        log.write(text + "\n")
        log.flush()
        os.fsync(log.fileno())

    steps = []
    for k, (kind, z) in enumerate(ACTIONS):
        steps.append(lambda z=z: c.show_slice(z))
        if kind == "accept":
            steps.append(lambda k=k, z=z: (c.accept(z), note(f"accept {k} {z}")))
            continue
        y, xs = stroke_row(z), [3 + (width - 7) * i / MOVES for i in range(MOVES + 1)]
        canvas = window.view.canvas
        steps.append(lambda k=k, z=z, y=y, x=xs[0]: (canvas.stroke_pressed.emit(float(y), float(x)),
                                                      note(f"press {k} {z}")))
        steps += [lambda y=y, x=x: canvas.stroke_moved.emit(float(y), float(x)) for x in xs[1:]]
        steps.append(lambda k=k, z=z: (canvas.stroke_released.emit(), note(f"release {k} {z}")))
    it = iter(steps)

    def tick():
        step = next(it, None)
        if step is None:
            note("done")
            return
        step()
        QTimer.singleShot(8, tick)

    print("ready", flush=True)
    QTimer.singleShot(0, tick)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
