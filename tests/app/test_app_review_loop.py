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
