"""Demo data files: deterministic, on the template's geometry, a manifest that matches the files,
lesions inside the brain, the template read offline, and safe about where it writes."""

import json
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
import pytest

from labelassist.errors import LabelAssistError, ParameterError
from labelassist.io import load_volume
from labelassist.demo.data import load_template, write_demo_data


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "data"
    return out, write_demo_data(out, seed=3, n_mri=1, n_us=2, n_cine=4)


def test_template_is_the_packaged_file_not_a_download(monkeypatch):
    import nilearn.datasets._utils as utils
    import nilearn.datasets.struct as struct

    for module in (utils, struct):
        monkeypatch.setattr(module, "fetch_files", lambda *a, **k: pytest.fail("would download"), raising=False)
    assert Path(struct.MNI152_FILE_PATH).is_file()
    t1, brain, affine = load_template()
    assert t1.shape == brain.shape and 70 <= t1.shape[2] <= 90 and brain.mean() > 0.3  # cropped to the brain (0.27 uncropped)
    np.testing.assert_allclose(np.abs(np.diag(affine)[:3]), 2.0)


def test_files_geometry_and_manifest(demo):
    out, manifest = demo
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["seed"] == 3 and manifest["settings"] == ["easy", "hard"]
    assert [e["path"] for e in manifest["mri"]] == ["mri/easy/vol_000.nii.gz", "mri/hard/vol_000.nii.gz"]
    assert len(manifest["us"]) == 4
    for e in manifest["mri"]:
        raw, raw_mask = nib.load(out / e["path"]), nib.load(out / e["mask"])
        assert raw.header["qform_code"] == 1 and raw.header["sform_code"] == 1
        assert raw_mask.get_data_dtype() == np.uint8 and raw_mask.header["sform_code"] == 1
        vol, mask = load_volume(out / e["path"]), load_volume(out / e["mask"], labels=True)
        np.testing.assert_allclose(vol.affine, mask.affine)
        assert vol.shape == mask.shape and vol.shape[0] == e["slices"]  # slices = the axial k axis
        positive = mask.array.reshape(len(mask.array), -1).any(axis=1)
        assert positive.sum() == e["positive_slices"] > 0 and not positive.all()  # some slices have none
        assert (mask.array > 0).any() == (e["lesions"] > 0)
        for p in e["lesion_params"]:
            assert {"centre", "centre_mm", "radius_mm", "contrast", "polarity"} <= set(p)
            i, j, k = (int(round(c)) for c in p["centre"])
            assert mask.array[k, j, i] > 0 or p["voxels"] < 30  # the mask covers the lesion's centre
    for e in manifest["us"]:
        img, mask = cv2.imread(str(out / e["path"]), cv2.IMREAD_UNCHANGED), cv2.imread(str(out / e["mask"]), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.shape == mask.shape == (256, 256)
        assert set(np.unique(mask)) <= {0, 1} and mask.any() == (e["lesions"] > 0)


def test_mri_lesions_inside_the_brain(demo):
    out, manifest = demo
    for e in manifest["mri"]:
        vol, mask = load_volume(out / e["path"]).array, load_volume(out / e["mask"], labels=True).array > 0
        background = np.percentile(vol, 5)  # outside the head: only noise
        assert np.percentile(vol[mask], 1) > 5 * max(background, 1e-3)


def test_same_seed_same_bytes_other_seed_other_data(demo, tmp_path):
    out, manifest = demo
    again = write_demo_data(tmp_path / "again", seed=3, n_mri=1, n_us=2)
    other = write_demo_data(tmp_path / "other", seed=4, n_mri=1, n_us=2)
    assert again == {**manifest, "us_cine": []}  # the cines, written last, change nothing else
    for e in manifest["mri"] + manifest["us"]:
        for key in ("path", "mask"):
            a = load_volume(out / e[key]).array
            np.testing.assert_array_equal(a, load_volume(tmp_path / "again" / e[key]).array)
    assert not np.array_equal(load_volume(out / "mri/easy/vol_000.nii.gz").array,
                              load_volume(tmp_path / "other/mri/easy/vol_000.nii.gz").array)
    assert other["mri"][0]["lesion_params"] != manifest["mri"][0]["lesion_params"]


def test_every_third_volume_has_no_lesion(tmp_path):
    m = write_demo_data(tmp_path / "d", seed=0, settings=("hard",), n_mri=6, n_us=0)
    assert [e["lesions"] == 0 for e in m["mri"]] == [False, False, True] * 2
    assert m["mri"][2]["positive_slices"] == 0 and not (tmp_path / "d" / "us").exists()


def test_rewrite_replaces_a_previous_output_and_refuses_others(tmp_path):
    out = tmp_path / "d"
    write_demo_data(out, seed=0, settings="easy", n_mri=0, n_us=3)
    write_demo_data(out, seed=1, settings="easy", n_mri=0, n_us=1)  # a previous output: replaced
    assert sorted(p.name for p in (out / "us" / "easy").iterdir()) == ["img_000.png", "img_000_mask.png"]
    assert not list(out.rglob("*.tmp*"))  # no temporary files left
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    with pytest.raises(LabelAssistError, match="not empty and holds no demo data; choose an empty or new folder"):
        write_demo_data(tmp_path / "mine", n_mri=0, n_us=1)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.docx"]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LabelAssistError, match="exists and is not a folder"):
        write_demo_data(tmp_path / "afile", n_mri=0, n_us=1)
    with pytest.raises(ParameterError, match="settings must be among easy, hard"):
        write_demo_data(tmp_path / "new", settings=("medium",), n_mri=0, n_us=1)


def test_twins_differ_from_their_lesion_volume_only_at_the_lesions(demo, tmp_path):
    out, manifest = demo
    m = write_demo_data(tmp_path / "t", seed=3, settings="easy", n_mri=1, n_us=0, twins=True)
    assert [e["path"] for e in m["mri"]] == ["mri/easy/vol_000.nii.gz", "mri/easy/vol_000_twin.nii.gz"]
    lesion, twin = (load_volume(tmp_path / "t" / e["path"]).array for e in m["mri"])
    mask = load_volume(tmp_path / "t" / m["mri"][0]["mask"], labels=True).array > 0
    assert not load_volume(tmp_path / "t" / m["mri"][1]["mask"], labels=True).array.any()
    from scipy import ndimage

    changed = lesion != twin
    far = ~ndimage.binary_dilation(mask, iterations=8)  # soft lesion edges reach past the mask
    assert changed[mask].all() and not changed[far].any()  # the same image, the lesions taken out
    # the twins option leaves the other outputs as they were
    np.testing.assert_array_equal(lesion, load_volume(out / manifest["mri"][0]["path"]).array)


def test_ultrasound_cines_are_dicom_screens_with_masks_on_their_grid(demo):
    """A demo cine reads as a scanner's export: modality US, 24 frames, grey (one channel), its scan area from
    the declared region or (one in 4) found by motion; the mask lies inside that area, on the lesion."""
    out, manifest = demo
    cines = manifest["us_cine"]
    assert [e["path"] for e in cines[:4]] == [f"us/easy/cine_{i:03d}.dcm" for i in range(4)]
    assert [e["regions"] for e in cines[:4]] == [True, True, True, False]
    assert [e["lesions"] == 0 for e in cines[:4]] == [False, False, True, False]
    for e in cines:
        vol, mask = load_volume(out / e["path"]), load_volume(out / e["mask"], labels=True)
        assert vol.modality == "US" and vol.array.shape == (24, 320, 416) and mask.shape == vol.shape
        np.testing.assert_allclose(mask.affine, vol.affine)
        area = vol.header["scan_area"]
        assert ("SequenceOfUltrasoundRegions" in area.method) == e["regions"]
        assert "motion" in area.method  # the sector inside the rectangle: what moves
        assert 0.25 < area.mask.mean() < 0.45  # the sector, not the screen
        lesion = mask.array > 0
        assert not (lesion & ~area.mask).any() and int(lesion.any(axis=(1, 2)).sum()) == e["positive_slices"]
        if e["regions"]:
            assert abs(vol.spacing[1] - 0.3125) < 1e-6 and abs(vol.spacing[2] - 0.3125) < 1e-6
        for p in e["lesion_params"]:
            t, r, c = (int(round(v)) for v in p["centre"])
            if lesion[t, r, c]:
                ring = ndimage_ring(lesion[t])
                darker = vol.array[t][lesion[t]].mean() < vol.array[t][ring].mean()
                assert darker == (p["polarity"] == "hypo") or len(e["lesion_params"]) > 1


def ndimage_ring(mask):
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=12) & ~ndimage.binary_dilation(mask, iterations=4)
