"""The loop a radiologist runs is the loop we measure (issue 27): the GUI learns from the inputs simulate-review
gives, keeps every segmenter mask when a session is reopened, and never takes an empty propagation."""

import numpy as np
import pytest

from labelassist.core.review import CORRECTED, UNREVIEWED
from labelassist.engine.testing import propagation_result
from labelassist.widgets import ControlPanel, ReviewController, ReviewView

pytestmark = pytest.mark.gui
WAIT = 120_000


def wait(qtbot, job):
    qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    return job


@pytest.fixture
def make_ctl(qtbot, tiny_model, tmp_path):
    made = []

    def make(volume, **kwargs):
        panel = ControlPanel()
        qtbot.addWidget(panel)
        c = ReviewController(ReviewView(), panel=panel, model=tiny_model, device="cpu", **kwargs)
        c.open_volume(volume, export_path=tmp_path / "labels.nii.gz")
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def fake_propagate(monkeypatch, masks, posted=None):
    """``propagate`` returns ``masks`` (its inputs recorded in ``posted``)."""
    import labelassist.core.propagate.propagation as propagation

    def fake(image, labels, reviewed, **kwargs):
        if posted is not None:
            posted.append((labels.copy(), list(reviewed), kwargs))
        res = propagation_result(masks)
        res.masks[list(reviewed)] = labels[list(reviewed)]
        return res

    monkeypatch.setattr(propagation, "propagate", fake)


def review_three(c, lesion):
    c.state.labels[2] = lesion
    c.mark_corrected([2])
    c.accept(1)
    c.reject(4)


def test_the_gui_learns_from_the_inputs_simulate_review_gives(qtbot, make_ctl, volume, tiny_model, monkeypatch):
    """The same review in the GUI and in the simulated reviewer: the very same learner inputs (one code path)."""
    from labelassist.cli._simulation import proposal_pipeline, review_session

    c = make_ctl(volume, auto_compute=False)
    wait(qtbot, c.run_volume())
    lesion = np.zeros(volume.shape[1:], np.uint8)
    lesion[20:30, 20:30] = 1
    review_three(c, lesion)
    posted = []
    real_call = c.engine.call
    monkeypatch.setattr(c.engine, "call", lambda name, fn, **kw: (posted.append(kw), real_call(name, fn, **kw))[1])
    fake_propagate(monkeypatch, np.zeros(volume.shape, np.uint8))
    wait(qtbot, c.propagate())

    fit = proposal_pipeline(volume.array, classifier=tiny_model, device="cpu").masks()  # what simulate-review uses
    sim = review_session(fit)
    sim.review(2, CORRECTED, mask=lesion)
    sim.accept(1)
    sim.reject(4)
    gui = posted[0]["request"]
    assert gui.same_as(sim.propagation_request())
    assert gui.weak is not None and np.array_equal(np.nan_to_num(gui.weak), fit)  # the proposals, not the labels
    assert np.array_equal(gui.previous_masks, fit)  # what the reviewer saw: CAM + BoundaryFit


def test_a_reopened_session_keeps_every_segmenter_mask(qtbot, make_ctl, volume, monkeypatch):
    c = make_ctl(volume, auto_compute=True)
    wait(qtbot, c.run_volume())
    lesion = np.zeros(volume.shape[1:], np.uint8)
    lesion[20:30, 20:30] = 1
    review_three(c, lesion)
    net = np.zeros(volume.shape, np.uint8)
    net[:, 30:34, 30:34] = 1  # the segmenter's masks: unlike any CAM proposal
    fake_propagate(monkeypatch, net)
    wait(qtbot, c.propagate())
    learned = c.state.labels.copy()
    assert np.array_equal(learned[[0, 3, 5]], net[[0, 3, 5]])
    c.close()

    again = make_ctl(volume, auto_compute=True)  # reopened: the session is restored
    assert np.array_equal(again.state.labels, learned)
    for i in range(volume.shape[0]):  # every slice shown: each one's CAM + BoundaryFit proposal computed again
        again.show_slice(i)
        qtbot.waitUntil(lambda i=i: again.engine.result(i) is not None, timeout=WAIT)
    qtbot.waitUntil(lambda: not again.engine.busy, timeout=WAIT)
    again.set_params(threshold=0.2)  # a new setting re-proposes only slices whose mask is a proposal
    again.refit_stale(every=True)
    assert np.array_equal(again.state.labels, learned)
    assert sorted(again.learner.segmenter_slices) == [0, 3, 5]


def test_a_propagation_that_would_empty_every_slice_keeps_the_masks_and_says_so(qtbot, make_ctl, volume,
                                                                              monkeypatch):
    c = make_ctl(volume, auto_compute=False)
    wait(qtbot, c.run_volume())
    lesion = np.zeros(volume.shape[1:], np.uint8)
    lesion[20:30, 20:30] = 1
    review_three(c, lesion)
    before = c.state.labels.copy()
    assert before[[0, 3, 5]].any()
    fake_propagate(monkeypatch, np.zeros(volume.shape, np.uint8))
    wait(qtbot, c.propagate())
    assert np.array_equal(c.state.labels, before)
    assert c.state.status(0) == UNREVIEWED and not c.learner.segmenter_slices
    assert "predicted no lesion on any unreviewed slice: kept the previous masks" in c.panel.message.text()
