"""Demo data: deterministic, masks where the lesions are, easy lesions bigger and brighter than hard ones."""

import json
import subprocess
import sys

import numpy as np
import pytest

from labelassist.core.synth import make_mri_case, make_ultrasound_case
from labelassist.io import load_volume
from labelassist.io.demo import load_template, write_demo_data


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    a = write_demo_data(tmp_path / "a", seed=3, settings=("easy",), n_mri=1, n_us=2)
    b = write_demo_data(tmp_path / "b", seed=3, settings=("easy",), n_mri=1, n_us=2)
    c = write_demo_data(tmp_path / "c", seed=4, settings=("easy",), n_mri=1, n_us=2)
    assert a == b
    for rel in (a["mri"][0]["path"], a["us"][1]["path"]):
        np.testing.assert_array_equal(load_volume(tmp_path / "a" / rel).array, load_volume(tmp_path / "b" / rel).array)
    assert not np.array_equal(load_volume(tmp_path / "a" / a["mri"][0]["path"]).array,
                              load_volume(tmp_path / "c" / c["mri"][0]["path"]).array)
    vol, mask = load_volume(tmp_path / "a" / a["mri"][0]["path"]), load_volume(tmp_path / "a" / a["mri"][0]["mask"])
    np.testing.assert_allclose(vol.affine, mask.affine)
    assert vol.shape == mask.shape and json.loads((tmp_path / "a" / "manifest.json").read_text()) == a


def test_mask_is_where_the_lesion_changed_the_image(template):
    t1, brain, _ = template
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    img, mask, params = make_mri_case(t1, brain, rng=rng_a, setting="easy", lesions=1)
    assert params and mask.any() and mask.sum() == params[0]["voxels"]
    # the same draw without its lesion: change the contrast to zero by drawing a lesion-free case
    clean, none, _ = make_mri_case(t1, brain, rng=rng_b, setting="easy", lesions=0)
    assert not none.any()
    from scipy import ndimage

    far = ~ndimage.binary_dilation(mask.astype(bool), iterations=6)
    inside = np.abs(img - clean)[mask.astype(bool)].mean()
    outside = np.abs(img - clean)[far & (clean > 0)].mean()
    assert inside > 3 * outside
    assert brain.shape == mask.shape


def test_easy_lesions_are_larger_and_stronger_than_hard(template):
    t1, brain, _ = template
    rng = np.random.default_rng(1)
    size = {"easy": [], "hard": []}
    contrast = {"easy": [], "hard": []}
    for setting in size:
        for _ in range(3):
            _, _, params = make_mri_case(t1, brain, rng=rng, setting=setting)
            size[setting] += [p["voxels"] for p in params]
            contrast[setting] += [p["contrast"] for p in params]
    assert np.mean(size["easy"]) > 3 * np.mean(size["hard"])
    assert np.mean(contrast["easy"]) > 2 * np.mean(contrast["hard"])


def test_ultrasound_has_speckle_and_dark_lesions():
    img, mask, params = make_ultrasound_case(rng=np.random.default_rng(0), setting="easy", lesions=1)
    assert img.dtype == np.uint8 and mask.any() and set(np.unique(mask)) <= {0, 1}
    patch = img[60:90, 110:150].astype(float)
    assert 0.08 < patch.std() / patch.mean() < 0.8  # speckle: a grainy, not flat, texture
    ring = np.zeros_like(mask, bool)
    from scipy import ndimage

    ring = ndimage.binary_dilation(mask, iterations=8) & ~ndimage.binary_dilation(mask, iterations=3) & (img > 0)
    assert img[mask.astype(bool)].mean() < img[ring].mean()  # hypoechoic


@pytest.mark.parametrize("setup, match", [("file", "is not a folder"), ("unrelated", "not empty and holds no demo data")])
def test_bad_out_dir_is_one_line_exit_2(tmp_path, setup, match):
    target = tmp_path / "out"
    if setup == "file":
        target.write_text("x")
    else:
        target.mkdir()
        (target / "thesis.docx").write_text("precious")
    out = subprocess.run([sys.executable, "-m", "labelassist", "demo-data", str(target), "--mri", "0", "--us", "1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and match in out.stderr and len(out.stderr.strip().splitlines()) == 1
    if setup == "unrelated":
        assert sorted(p.name for p in target.iterdir()) == ["thesis.docx"]
