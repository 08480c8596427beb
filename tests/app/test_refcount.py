"""Repainting the app's widgets does not lose references to ``None`` (issue 27: no crash).

PySide6-Essentials 6.12.0 on Python 3.11 drops one reference to ``None`` in every call of a binding that returns
nothing (``QWidget.update()``, ``repaint()``, ``QPainter.fillRect``, ``processEvents()``, ...). ``None`` has some
220,000 references once the app has loaded torch and its model, and showing a slice loses about 130, so paging
slices aborts the interpreter ("Fatal Python error: none_dealloc") after some 1,500 slices
(``benchmarks/bench_soak.py``). pyproject.toml excludes that release; these tests fail if the installed binding
(a later release, a local install) does it again.

Each test repaints a widget of the app thousands of times (3000 paints; ``LABELASSIST_REFCOUNT_ROUNDS``), the way
the app does (``update()`` and the event loop, and ``repaint()``), through the paint paths the app uses
(``QPainter.fillRect`` of the slider's marks, of the canvas background and banner; ``drawImage`` of the canvas
layers), and checks that the count of references to ``None`` is the same afterwards, within a small slack. It
stops at once, and fails, when the count has fallen by ``STOP_AT``: tests/conftest.py gives ``None`` spare
references in the test process, so it cannot abort there, and it does not go on spending them.

From Python 3.12 ``None`` is immortal (its count never changes), so the tests are skipped there.

Run: ``unset QT_QPA_PLATFORM; .venv/bin/python -m pytest tests/app/test_refcount.py`` (pytest-xvfb gives the
X server).
"""

import gc
import os
import sys

import numpy as np
import pytest
from qtpy import API_NAME, PYQT_VERSION, PYSIDE_VERSION, QT_VERSION
from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QApplication

from labelassist.app.canvas import SliceCanvas
from labelassist.app.slider import StatusSlider
from labelassist.core.review import ACCEPTED, CORRECTED, REJECTED, UNREVIEWED
from labelassist.widgets.status_strip import PROPOSED

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(sys.version_info >= (3, 12),
                       reason="None is immortal from Python 3.12: its reference count never changes, so a binding "
                              "that drops references to it cannot abort the interpreter"),
]

# Each round: update() + the event loop (one paint), then repaint() (another paint). 1500 rounds: 3000 paints of
# each widget, some 10^5 calls of the binding that return nothing (fillRect, drawImage, setOpacity, ...), ~10 s for
# both tests on a 2-core CPU. A soak: LABELASSIST_REFCOUNT_ROUNDS=50000 (and benchmarks/bench_soak.py: the app).
ROUNDS = int(os.environ.get("LABELASSIST_REFCOUNT_ROUNDS", "1500"))
SLACK = 100  # references to None the count may fall by (caches, other threads); one lost a paint is 2 * ROUNDS
STOP_AT = 500  # fallen by this much: stop and fail (a broken binding gets there within a few paints)
BINDING = f"{API_NAME} {PYSIDE_VERSION or PYQT_VERSION} (Qt {QT_VERSION})"


class PaintCounter(QObject):
    """An event filter counting the paint events a widget receives (so the test knows it really painted)."""

    def __init__(self, widget):
        super().__init__()
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def repaint_many(widget, step, rounds: int = ROUNDS) -> dict:
    """Repaint ``widget`` ``2 * rounds`` times, calling ``step(i)`` first each round; follow the count of ``None``.

    Parameters
    ----------
    widget : QWidget
        A shown, exposed widget.
    step : callable
        ``step(i)`` changes what the widget shows in round ``i`` (the slice, the slider's value).
    rounds : int
        Rounds of ``update()`` + ``processEvents()`` then ``repaint()``.

    Returns
    -------
    dict
        ``lost``: references to ``None`` the count fell by (negative: it rose); ``rounds``: rounds done (fewer than
        asked when the count fell by ``STOP_AT``); ``paints``: paint events the widget received.
    """
    app = QApplication.instance()
    counter = PaintCounter(widget)
    gc.collect()  # garbage of earlier tests holding None is freed now, not during the loop
    start = sys.getrefcount(None)
    done = 0
    for i in range(rounds):
        step(i)
        widget.update()
        app.processEvents()
        widget.repaint()
        done = i + 1
        if start - sys.getrefcount(None) >= STOP_AT:
            break
    gc.collect()
    lost = start - sys.getrefcount(None)
    widget.removeEventFilter(counter)
    return {"lost": lost, "rounds": done, "paints": counter.paints}


def check(result: dict, what: str) -> None:
    print(f"{what}, {BINDING}: {result}")  # shown with -s, and under a failure
    assert result["lost"] <= SLACK, (
        f"{what}: {result['lost']} references to None lost in {result['paints']} paints ({result['rounds']} rounds) "
        f"with {BINDING}; on Python < 3.12 the app aborts ('Fatal Python error: none_dealloc') once None's references "
        f"are spent (after some 1,500 slices shown with PySide6-Essentials 6.12.0, which pyproject.toml excludes): "
        f"install a binding that keeps them")
    assert result["rounds"] == ROUNDS and result["paints"] >= 2 * ROUNDS, result  # it painted what it says it did


def test_slider_repaints_keep_references_to_none(qtbot):
    n = 181  # slices of a 1 mm brain MRI (the MNI152 template's 181 x 217 x 181)
    slider = StatusSlider()
    qtbot.addWidget(slider)
    slider.setMaximum(n - 1)
    marked = [PROPOSED, ACCEPTED, CORRECTED, REJECTED]
    statuses = [marked[i % len(marked)] if i < 60 else UNREVIEWED for i in range(n)]  # a third reviewed
    slider.set_statuses(statuses)  # each paint: a mark (a fillRect) under every slice but the unreviewed ones
    slider.resize(600, slider.minimumHeight())
    slider.show()
    qtbot.waitExposed(slider)

    result = repaint_many(slider, lambda i: slider.setValue(i % n))
    marks = sum(s != UNREVIEWED for s in statuses)
    check(result, f"StatusSlider (paging {n} slices, {marks} status marks)")


def test_canvas_repaints_keep_references_to_none(qtbot, tiny_volume):
    arr = tiny_volume.array
    rng = np.random.default_rng(1)
    cam = rng.random(arr.shape, dtype=np.float32)
    labels = (arr > 250).astype(np.uint8)
    perimeter = (rng.random(arr.shape) > 0.9).astype(np.uint8)
    canvas = SliceCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_window(300.0, 200.0)
    canvas.info_text = "slice 1 / 6"
    canvas.banner = "view only"  # the banner is a second fillRect (a QRectF) on top of the background's
    canvas.set_slice(arr[0], cam[0], perimeter[0], labels[0], aspect=(1.0, 1.0))
    assert canvas.shape == arr.shape[1:]  # an image is shown: every layer is drawn in each paint

    def page(i):
        k = i % arr.shape[0]
        canvas.set_slice(arr[k], cam[k], perimeter[k], labels[k], aspect=(1.0, 1.0))

    result = repaint_many(canvas, page)
    check(result, "SliceCanvas (paging slices with image, grad-cam, perimeter and boundaryfit shown)")
