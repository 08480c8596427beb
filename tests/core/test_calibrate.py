import numpy as np
import pytest

from labelassist.core.evaluate.calibrate import calibrate, plot_grid
from labelassist.errors import ParameterError


def _case(n=4, planted=0.6, seed=0):
    """Slices whose CAM ramps up inside a lesion square; the truth is exactly the pixels with CAM >= planted."""
    rng = np.random.default_rng(seed)
    h = w = 24
    regions = np.arange(h * w).reshape(h, w) + 1  # every pixel its own region: fit == threshold
    cams, truths = [], []
    for _ in range(n):
        cam = rng.random((h, w)).astype(np.float32)
        cams.append(cam)
        truths.append(cam >= planted)
    return np.stack(cams), np.stack([regions] * n), np.stack(truths)


def test_finds_a_planted_threshold():
    cams, regions, truths = _case()
    res = calibrate(cams, regions, truths, thresholds=np.round(np.linspace(0.1, 0.9, 9), 2))
    assert res.thresholds == (0.6,) and res.score == pytest.approx(1.0)
    assert res.grid.shape == (1, 1, 9) and res.rule is None


def test_finds_a_planted_gate_and_rule():
    cams, regions, truths = _case()
    probs = np.array([0.9, 0.9, 0.2, 0.2])
    truths[2:] = False  # slices the classifier calls negative have no lesion
    other = np.where(truths, 0.95, cams * 0.5)  # a second CAM that is hot only on the lesion
    cams[2:] = other[2:] = 0.97  # CAMs always have a hot spot: only the gate can empty a negative slice
    res = calibrate(
        np.stack([cams, other]), regions, truths, thresholds=[0.3, 0.6, 0.9], gates=[0.0, 0.5],
        probabilities=probs, rules=["and", "or"],
    )
    assert res.gate == 0.5 and res.score == pytest.approx(1.0)
    assert res.grid.shape == (2, 2, 3, 3)


def test_ties_keep_the_setting_nearest_the_defaults():
    """Five slices often cannot tell gates apart; the lowest tied gate would let lesion-free slices in elsewhere."""
    cams, regions, truths = _case()
    probs = np.array([0.9, 0.9, 0.1, 0.1])
    truths[2:] = False
    cams[2:] = 0.97
    res = calibrate(cams, regions, truths, thresholds=[0.3, 0.6, 0.9], gates=[0.0, 0.2, 0.4, 0.5, 0.6, 0.8],
                    probabilities=probs)
    assert res.score == pytest.approx(1.0)
    tied = [g for g, v in zip(res.axes["gate"], res.grid[0, :, 1]) if v == pytest.approx(1.0)]
    assert tied == [0.2, 0.4, 0.5, 0.6, 0.8] and res.gate == 0.5 and res.thresholds == (0.6,)


def test_plot_grid_writes_a_png(tmp_path):
    cams, regions, truths = _case(n=2)
    res = calibrate(np.stack([cams, cams]), regions, truths, thresholds=[0.2, 0.6], rules=["and", "<"])
    out = plot_grid(res, tmp_path / "grid.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"thresholds": [1.2]}, "thresholds must be a non-empty list of values in"),
        ({"objective": "f1"}, "objective must be one of"),
        ({"gates": [0.5]}, "gates above 0 need probabilities"),
    ],
)
def test_bad_parameters(kwargs, match):
    cams, regions, truths = _case(n=2)
    with pytest.raises(ParameterError, match=match):
        calibrate(cams, regions, truths, **kwargs)


@pytest.mark.parametrize("objective", ["dice", "miou"])
def test_finds_a_planted_pair_of_thresholds_and_rule(objective):
    # The 2-D grid of the ensemble paper's Fig. 6: truth is where CAM 1 >= 0.3 and CAM 2 >= 0.7.
    cams, regions, _ = _case(n=3, seed=1)
    other = np.random.default_rng(7).random(cams.shape).astype(np.float32)
    truths = (cams >= 0.3) & (other >= 0.7)
    ts = np.round(np.linspace(0.1, 0.9, 9), 2)
    res = calibrate(np.stack([cams, other]), regions, truths, thresholds=ts, objective=objective)
    assert res.rule == "and" and res.thresholds == (0.3, 0.7) and res.score == pytest.approx(1.0)
    assert res.grid.shape == (4, 1, 9, 9) and res.axes["rule"] == ["and", "or", "<", ">"]
    assert np.count_nonzero(res.grid == res.grid.max()) == 1  # the optimum is a single point


def test_region_fit_is_used():
    # Regions make a coarser fit than the threshold: the truth is a whole region whose CAM dips to 0.45.
    cam = np.full((1, 6, 6), 0.9, np.float32)
    cam[0, :, 3:] = 0.2
    cam[0, 2, 1] = 0.45
    regions = np.ones((1, 6, 6), int)
    regions[0, :, 3:] = 2
    truth = regions == 1
    res = calibrate(cam, regions, truth, thresholds=[0.3, 0.5, 0.7])
    assert res.thresholds == (0.3,) and res.score == pytest.approx(1.0)
    assert res.grid[0, 0, 1] == pytest.approx(0.0)  # at 0.5 the dip removes the whole region
