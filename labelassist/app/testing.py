"""The simulated reviewer of ``labelassist simulate-review``, played through the app's window with Qt events (for
tests and ``benchmarks/bench_app_review.py``): the buttons are clicked and the keys pressed as a person would, so
the review controller runs exactly as it does for a radiologist, not the core object behind it.

The reviewer computes every slice (Run volume), pages with the arrow keys to the slice showing the largest lesion,
draws its truth as one stroke (the label editor's undo step, reported as a finished stroke is), clicks Propagate,
then goes on with N (the review queue's next slice): the order ``simulate-review`` follows. Its curve is the whole
volume's lesion Dice after each correction, as ``simulate-review`` prints it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from qtpy.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
from qtpy.QtTest import QTest

__all__ = ["review_in_app", "wait_until"]


def wait_until(condition: Callable[[], bool], *, timeout_s: float = 600.0) -> None:
    """Process Qt events until ``condition()`` holds; TimeoutError after ``timeout_s``."""
    timer = QElapsedTimer()
    timer.start()
    loop = QEventLoop()
    while not condition():
        QTimer.singleShot(20, loop.quit)
        loop.exec()  # waits in Qt's event loop, which lets go of the GIL (QTest.qWait holds it: the engine
        # thread then waited for it at every tensor freed, and a propagation took 10-20 times as long)
        if timer.elapsed() > timeout_s * 1000:
            raise TimeoutError(f"the app did not get there within {timeout_s:.0f} s")


def _key(window, key) -> None:
    window.focus_canvas()
    QTest.keyClick(window.view.canvas, key)


def _page_to(window, index: int) -> None:
    """Arrow keys on the canvas until slice ``index`` is shown."""
    view = window.view
    while view.current != index:
        before = view.current
        _key(window, Qt.Key.Key_Up if index > view.current else Qt.Key.Key_Down)
        if view.current == before:  # the keys go the other way on this view
            _key(window, Qt.Key.Key_Down if index > view.current else Qt.Key.Key_Up)
            if view.current == before:
                raise RuntimeError(f"the arrow keys do not move the slice (at {before}, going to {index})")


def _click(button) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def review_in_app(window, truth, *, rounds: int = 5, log=None, timeout_s: float = 900.0) -> list:
    """Play the simulated reviewer on the volume open in ``window`` (a shown
    :class:`~labelassist.app.window.MainWindow`); returns ``[[corrected slices, lesion Dice], ...]`` (round 0
    first), as ``simulate-review``'s curve."""
    from labelassist.core.evaluate.metrics import dice

    c, panel = window.controller, window.panel
    truth = (np.nan_to_num(np.asarray(truth, np.float32)) > 0).astype(np.uint8)
    idle = lambda: not c.engine.busy  # noqa: E731
    started = time.perf_counter()
    _click(panel.run_volume_button)
    wait_until(lambda: idle() and all(c.engine.result(i) is not None for i in range(c.state.n_slices)),
               timeout_s=timeout_s)
    QTest.qWait(50)
    if log is not None:
        log(f"app: every slice computed in {time.perf_counter() - started:.1f} s")
    curve = [[0, round(float(dice(c.state.labels, truth)), 4)]]
    area = truth.reshape(len(truth), -1).sum(1)
    _page_to(window, int(np.argmax(area)))  # the reviewer scrolls to the lesion they see
    for r in range(1, rounds + 1):
        i = window.view.current
        window.view.edit_slice(i, truth[i])  # the truth drawn: one stroke of the label editor
        window.view.edited.emit(i)  # reported as a finished stroke is
        posted = []
        c.engine.job_posted.connect(posted.append)
        _click(panel.propagate_button)
        c.engine.job_posted.disconnect(posted.append)
        if not posted:
            raise RuntimeError(f"Propagate posted no job: {panel.message.text()}")
        job, started = posted[0], time.perf_counter()
        wait_until(lambda job=job: job.done and idle(), timeout_s=timeout_s)
        took = time.perf_counter() - started
        QTest.qWait(20)  # the result is applied in the GUI thread
        curve.append([len(c.state.reviewed_indices()), round(float(dice(c.state.labels, truth)), 4)])
        if log is not None:
            log(f"app: corrected {curve[-1][0]:3d} (slice {i:3d}): lesion Dice {curve[-1][1]:.3f} ({took:.1f} s)")
        if r < rounds:
            before = window.view.current
            _key(window, Qt.Key.Key_N)  # the review queue's next slice
            if window.view.current == before and c.state.is_reviewed(before):
                break  # every slice reviewed
    return curve
