"""simulate-review played through the real app (issue 27): the buttons clicked and the keys pressed, the controller
driven by Qt events, gives the very curve of the command line's simulated reviewer on the same volume and seed."""

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_the_app_gives_the_command_lines_review_curve(make_window, volume_path, tiny_model, monkeypatch):
    import labelassist.core.propagate.training as training
    from labelassist.app.testing import review_in_app
    from labelassist.cli._simulation import proposal_pipeline, review
    from labelassist.io import load_volume

    monkeypatch.setattr(training, "NEW_SEGMENTER_STEPS", 40)  # the defaults both take, shortened for the test
    monkeypatch.setattr(training, "FINE_TUNE_STEPS", 20)
    volume = load_volume(volume_path)
    truth = np.zeros(volume.shape, np.uint8)
    yy, xx = np.mgrid[: volume.shape[1], : volume.shape[2]]
    truth[1:5] = ((yy - 32) ** 2 + (xx - 32) ** 2 <= 36)[None]  # a lesion on slices 1-4, larger on 2
    truth[2] |= ((yy - 32) ** 2 + (xx - 32) ** 2 <= 64).astype(np.uint8)
    w = make_window()
    assert w.open_volume(volume_path, start=0)
    app_curve = review_in_app(w, truth, rounds=2)

    pipe = proposal_pipeline(volume.array, classifier=tiny_model, device="cpu")
    cli = review(volume.array, truth, fit=pipe.masks(), probability=[r.probability for r in pipe.results],
                 rounds=2, device="cpu", seed=0)
    assert len(app_curve) == 3 and app_curve[1][0] == 1
    assert app_curve == cli.curve


def test_a_reopened_session_keeps_every_segmenter_mask_in_the_app(make_window, volume_path, qtbot, monkeypatch):
    """Reopening a volume and paging through it never replaces the segmenter's masks by CAM proposals."""
    import labelassist.core.propagate.propagation as propagation
    from labelassist.engine.testing import propagation_result

    w = make_window()
    assert w.open_volume(volume_path, start=0)
    c = w.controller
    job = c.run_volume()
    qtbot.waitUntil(lambda: job.done and not c.engine.busy, timeout=120_000)
    c.state.labels[2, 20:30, 20:30] = 1
    c.mark_corrected([2])
    net = np.zeros(c.state.labels.shape, np.uint8)
    net[:, 40:44, 40:44] = 1  # unlike any CAM proposal

    def fake(image, labels, reviewed, **kwargs):
        res = propagation_result(net)
        res.masks[list(reviewed)] = labels[list(reviewed)]
        return res

    monkeypatch.setattr(propagation, "propagate", fake)
    job = c.propagate()
    qtbot.waitUntil(lambda: job.done, timeout=120_000)
    learned = c.state.labels.copy()
    assert learned[[0, 1, 3, 4, 5], 40:44, 40:44].all()
    w.close()

    again = make_window()
    assert again.open_volume(volume_path, start=0)
    c2 = again.controller
    for i in range(learned.shape[0]):  # paged through with the arrow keys: every slice computed again
        again.view.show_slice(i)
        qtbot.waitUntil(lambda i=i: c2.engine.result(i) is not None, timeout=120_000)
    qtbot.waitUntil(lambda: not c2.engine.busy, timeout=120_000)
    qtbot.wait(100)
    np.testing.assert_array_equal(c2.state.labels, learned)
