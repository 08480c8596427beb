"""The default window shows the tissue: air does not take its grey levels, the brightest tissue is not white."""

import numpy as np
import pytest

from labelassist.core.display import PRESETS_CT, body_window, window_presets
from labelassist.errors import ParameterError


def head(rng, air=0.7):
    """A volume that is ``air`` air (noise around 5) and tissue around 1000 with a brighter rim (1300)."""
    vol = rng.normal(5, 2, (20, 64, 64)).astype(np.float32)
    n = vol.size
    tissue = rng.random(vol.shape) > air
    vol[tissue] = rng.normal(1000, 60, int(tissue.sum()))
    rim = tissue & (rng.random(vol.shape) < 0.2)
    vol[rim] = rng.normal(1300, 30, int(rim.sum()))
    assert n == vol.size
    return vol, tissue


def test_the_body_window_spans_the_tissue_and_leaves_the_air_black():
    vol, tissue = head(np.random.default_rng(0))
    window, level = body_window(vol)
    lo, hi = level - window / 2, level + window / 2
    assert lo > np.percentile(vol[~tissue], 99.9)  # the air is below the window: black
    assert hi >= np.percentile(vol[tissue], 99.5)  # the brightest tissue is not saturated
    assert lo <= np.percentile(vol[tissue], 1)  # the darkest tissue is not black either
    assert window < 0.8 * (vol.max() - vol.min())  # the grey levels go to the tissue, not to the air


def test_flat_empty_and_bad_inputs():
    assert body_window(np.full((4, 4), 7.0)) == (1.0, 7.5)
    assert body_window(np.array([np.nan, np.inf])) == (1.0, 0.5)
    with pytest.raises(ParameterError, match="percentiles must be two numbers 0 <= low < high <= 100"):
        body_window(np.zeros(4), percentiles=(50, 10))


def test_presets_offer_full_range_and_ct_windows_only_on_ct():
    vol, _ = head(np.random.default_rng(1))
    mr, ct = window_presets(vol, modality="MR"), window_presets(vol, modality="CT")
    assert list(mr) == ["body", "full range"]
    assert ct["CT brain"] == (80.0, 40.0) and set(PRESETS_CT) <= set(ct)
    width, level = mr["full range"]
    assert level - width / 2 == pytest.approx(vol.min(), abs=1e-3) and level + width / 2 == pytest.approx(vol.max(), abs=1e-3)
