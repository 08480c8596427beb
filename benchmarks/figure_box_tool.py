"""The README's picture of the box tool: the app on the demo volume (``labelassist app --demo``), tool B, a box
dragged around the largest lesion (LiteMedSAM's mask appears), then a second box being dragged, and the window saved.

    xvfb-run -a .venv/bin/python benchmarks/figure_box_tool.py [--out docs/box_tool.png]

It also prints the lesion Dice of the box's mask on that slice and the time from the release to the mask (the first
box loads the model and embeds the slice; the second is the decoder alone when the slice is embedded ahead).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/box_tool.png")
    args = ap.parse_args()

    from qtpy.QtCore import QPoint, QPointF, Qt
    from qtpy.QtTest import QTest

    from labelassist.app.main import demo_volume
    from labelassist.app.testing import wait_until
    from labelassist.app.window import MainWindow
    from labelassist.core.evaluate.metrics import dice
    from labelassist.core.review import CORRECTED
    from labelassist.engine import Engine, demo_model_path
    from labelassist.io import load_volume
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    path, z = demo_volume()
    truth = load_volume(path.parent / path.name.replace(".nii.gz", "_mask.nii.gz")).array[z] > 0
    w = MainWindow(model=demo_model_path(), engine=Engine(device="cpu"))
    w.resize(1400, 900)
    w.show()
    w.activateWindow()  # the window's shortcuts (B) need an active window
    wait_until(w.isActiveWindow, timeout_s=30)
    assert w.open_volume(path, start=z)
    c = w.controller
    job = c.run_slice()
    wait_until(lambda: job.done and not c.engine.busy)
    ys, xs = np.nonzero(truth)
    r0, c0, r1, c1 = ys.min() - 3, xs.min() - 3, ys.max() + 3, xs.max() + 3

    def at(y, x):
        p = w.view.canvas.transform().map(QPointF(x + 0.5, y + 0.5))
        return QPoint(int(p.x()), int(p.y()))

    w.focus_canvas()
    QTest.keyClick(w.view.canvas, Qt.Key.Key_B)
    canvas = w.view.canvas
    assert canvas.tool == "box", f"B did not choose the box tool ({canvas.tool})"
    for attempt in range(2):
        before = c.state.slice_info[z].get("prompt", {}).get("boxes", [])
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(r0, c0))
        QTest.mouseMove(canvas, at((r0 + r1) / 2, (c0 + c1) / 2))
        QTest.mouseMove(canvas, at(r1, c1))
        t0 = time.perf_counter()
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(r1, c1))
        wait_until(lambda: len(c.state.slice_info[z].get("prompt", {}).get("boxes", [])) > len(before)
                   or "nothing new" in w.statusBar().currentMessage(), timeout_s=300)
        print(f"box {attempt + 1}: {time.perf_counter() - t0:.2f} s from the release to the mask, "
              f"Dice {dice(c.state.labels[z] > 0, truth):.3f} on slice {z}, status {c.state.status(z)}")
        if attempt == 0:
            c.state.labels[z] = 0  # the second box draws it again, from the embedding cached by the first
            w.view.refresh(z)
    assert c.state.status(z) == CORRECTED
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(r0 - 2, c0 - 2))
    QTest.mouseMove(canvas, at(r1 + 2, c1 + 2))  # a box being dragged, for the picture
    app.processEvents()
    w.grab().save(args.out)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(r1 + 2, c1 + 2))
    print(f"saved {args.out}")
    w.close()


if __name__ == "__main__":
    main()
