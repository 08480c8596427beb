"""The scan area of ultrasound files: from SequenceOfUltrasoundRegions when present (two views of a dual-view
still; a copied header clipped, with a warning), else from the image; nothing is proposed outside it."""

import warnings

import numpy as np
import pytest

from labelassist.core.scan_area import scan_area
from labelassist.io import load_volume

pydicom_data = pytest.importorskip("pydicom.data")


def _load(name, **kw):
    path = pydicom_data.get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom-data)")
    return load_volume(path, **kw)


def _inside(view, box):
    r0, c0, r1, c1 = box
    outside = view.copy()
    outside[r0:r1 + 1, c0:c1 + 1] = False
    return not outside.any()


def test_a_dual_view_still_gives_two_views_each_in_its_region():
    vol = _load("gdcm-US-ALOKA-16.dcm")
    regions = vol.header["us_regions"]
    assert [r["box"] for r in regions] == [(24, 32, 415, 335), (24, 336, 415, 639)]  # the small third is no scan
    area = scan_area(vol.array, regions=regions)
    assert len(area.views) == 2 and not (area.views[0] & area.views[1]).any()
    for view, r in zip(area.views, regions):
        r0, c0, r1, c1 = r["box"]
        assert _inside(view, r["box"]) and view.sum() > 0.5 * (r1 - r0 + 1) * (c1 - c0 + 1)
    assert "SequenceOfUltrasoundRegions" in area.describe()


def test_a_cine_gives_its_sector_not_the_screen_around_it():
    vol = _load("color3d_jpeg_baseline.dcm")
    area = scan_area(vol.array, regions=vol.header["us_regions"])
    m = area.mask
    assert _inside(m, (31, 84, 414, 595)) and 0.15 < m.mean() < 0.45  # a sector: far less than its rectangle
    assert not m[:30, :80].any() and not m[440:].any()  # the burned-in labels at the top left, the menu bar


def test_a_header_copied_from_a_larger_export_is_clipped_with_a_warning():
    with pytest.warns(UserWarning, match=r"names \(84, 31\)-\(595, 414\), beyond its 320 x 240 frames.*clipped"):
        vol = _load("examples_ybr_color.dcm")
    (region,) = vol.header["us_regions"]
    assert region["box"] == (31, 84, 239, 319) and region["clipped"]
    area = scan_area(vol.array, regions=vol.header["us_regions"])
    assert area.mask.shape == (240, 320) and area.mask.any() and "clipped" in area.notes[0]


def test_a_still_without_regions_gets_its_area_from_the_image():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vol = _load("US1_UNCR.dcm")
    assert vol.header["us_regions"] == []
    area = vol.header["scan_area"]  # found as the file was read, on its colour frames
    m = area.mask
    assert "from the image" in area.method and 0.2 < m.mean() < 0.8
    assert not m[:40].any()  # the text line across the top of the screen


def test_power_doppler_over_the_b_mode_is_kept_out_and_said():
    """US1_UNCR.dcm is a power-Doppler still: its orange flow is no B-mode, so never in the pipeline's input."""
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vol = _load("US1_UNCR.dcm")
    rgb = pydicom.dcmread(pydicom_data.get_testdata_file("US1_UNCR.dcm")).pixel_array.astype(int)
    flow = (rgb.max(-1) - rgb.min(-1)) > 80  # strongly coloured: the Doppler map (and the colour bars)
    area = vol.header["scan_area"]
    assert vol.array.ndim == 3  # the grey B-mode as one channel
    (note,) = [n for n in area.notes if "colour Doppler" in n]
    share = float(note.split("over ")[1].split(" %")[0])
    assert 5 < share < 20 and "kept out" in note
    assert (flow & area.mask).sum() < 0.02 * flow.sum()  # the flow is outside the area the pipeline sees


def test_colour_flow_found_inside_the_area_only_and_a_tinted_map_is_not_flow():
    from labelassist.core.scan_area import colour_flow, without_colour_flow

    frames, sector = synthetic_cine(np.random.default_rng(1))
    rgb = np.repeat(frames[..., None], 3, axis=-1)
    rgb[2:5, 30:40, 28:36] = (250.0, 60.0, 20.0)  # flow in three frames, inside the sector
    rgb[:, 2:6, 40:50] = (20.0, 120.0, 250.0)  # a coloured logo outside it
    area = scan_area(rgb)
    flow = colour_flow(rgb, area.mask)
    assert flow[30:40, 28:36].all() and flow.sum() <= 12 * 10  # the blob (and its rim), in any frame; not the logo
    kept = without_colour_flow(area, flow)
    assert not (kept.mask & flow).any() and "colour Doppler over" in kept.notes[-1]
    tinted = rgb * np.array([1.0, 0.75, 0.45], np.float32)  # a sepia map: coloured everywhere
    t_area = scan_area(tinted)
    assert without_colour_flow(t_area, colour_flow(tinted, t_area.mask)).mask.sum() == t_area.mask.sum()
    assert colour_flow(frames, area.mask).sum() == 0  # grey frames hold no flow


def synthetic_cine(rng, n=6, size=64):
    """Speckle that changes every frame inside a sector, and burned-in text and a bar that never change."""
    yy, xx = np.mgrid[:size, :size]
    sector = ((yy - 4) ** 2 + (xx - size // 2) ** 2 < (size - 10) ** 2) & (np.abs(xx - size // 2) < (yy - 2) * 0.9)
    frames = np.zeros((n, size, size), np.float32)
    for k in range(n):
        frames[k][sector] = rng.rayleigh(40.0, int(sector.sum()))
    frames[:, 2:6, 2:20] = 255.0  # "text"
    frames[:, 10:60, 60:63] = np.linspace(0, 255, 50)[:, None]  # a grey bar
    return frames, sector


def test_no_cam_perimeter_or_mask_outside_the_scan_area(tiny_model):
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.propose.params import PipelineParams
    from labelassist.core.propose.pipeline import Pipeline

    frames, sector = synthetic_cine(np.random.default_rng(0))
    area = scan_area(frames)
    assert "motion" in area.method and (area.mask & ~sector).sum() < 0.05 * sector.sum()
    assert not area.mask[2:6, 2:20].any() and not area.mask[10:60, 60:63].any()
    model, meta = load_checkpoint(tiny_model)
    pipe = Pipeline(frames, model, meta, params=PipelineParams(gate=0.0, threshold=0.05), area=area.mask)
    masks = pipe.run()
    outside = ~area.mask
    assert not any(np.asarray(r.cam, np.float32)[outside].any() for r in pipe.results)
    assert not any(np.asarray(r.perimeter)[outside].any() for r in pipe.results)
    assert not masks[:, outside].any() and masks.any()
    with pytest.raises(Exception, match="area must be a mask of the slice's shape"):
        Pipeline(frames, model, meta, area=area.mask[:10])


def test_the_review_session_keeps_learner_and_prompt_masks_inside_the_area():
    from labelassist.core.loop import ReviewSession

    session = ReviewSession.new((3, 10, 12))
    session.area = np.zeros((10, 12), bool)
    session.area[2:8, 3:9] = True
    assert session.set_prediction(np.ones((3, 10, 12), np.uint8)) == 3
    np.testing.assert_array_equal(session.state.labels[0] > 0, session.area)  # a prediction: inside only
    assert session.carry_prompt({1: np.ones((10, 12), bool)}, {"name": "test"}, {1: (0, 0, 9, 11)}) == []  # no new px
    session.state.labels[2] = 0
    assert session.carry_prompt({2: np.ones((10, 12), bool)}, {"name": "test"}, {2: (0, 0, 9, 11)}) == [2]
    np.testing.assert_array_equal(session.state.labels[2] > 0, session.area)
