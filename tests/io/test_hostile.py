"""Hostile files refused cleanly (issue 16), library side: one line naming the file and the fix, never a
traceback or a silently wrong result. Every bad file is made here, in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from labelassist.core.nets.checkpoint import load_checkpoint
from labelassist.engine.testing import make_test_volume, make_tiny_checkpoint
from labelassist.errors import CheckpointError, VolumeError
from labelassist.io import load_volume
from labelassist.io.save import check_output_path
from labelassist.io.volume import check_affine


def write_nifti_with_sform(path: Path, affine: np.ndarray, *, qform_code: int = 0) -> Path:
    """A NIfTI file whose sform is exactly ``affine`` (nibabel's constructor refuses NaN/singular ones, so the
    header fields are set by hand)."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((5, 4, 3))
    hdr.set_data_dtype(np.float32)
    hdr["sform_code"], hdr["qform_code"] = 1, qform_code
    hdr["srow_x"], hdr["srow_y"], hdr["srow_z"] = affine[0], affine[1], affine[2]
    data = np.arange(60, dtype=np.float32).reshape(5, 4, 3)
    nib.save(nib.Nifti1Image(data, None, header=hdr), str(path))
    return path


BAD_AFFINES = {
    "nan": (np.diag([np.nan, 1.0, 1.0, 1.0]), "NaN/Inf"),
    "inf": (np.diag([1.0, np.inf, 1.0, 1.0]), "NaN/Inf"),
    "zero-column": (np.diag([1.0, 0.0, 1.0, 1.0]), "singular"),
    "repeated-axis": (np.array([[1.0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "singular"),
}


@pytest.mark.parametrize("name", sorted(BAD_AFFINES))
def test_a_nifti_with_a_nan_inf_or_singular_affine_is_refused_naming_the_file(tmp_path, name):
    affine, what = BAD_AFFINES[name]
    path = write_nifti_with_sform(tmp_path / f"{name}.nii.gz", affine)
    assert nib.load(str(path)).header.get_sform(coded=True)[1] == 1  # the bad form is what nibabel would use
    pattern = rf"^{path}: its voxel-to-world affine .*{what}.*fix the header \(qform/sform\)"
    with pytest.raises(VolumeError, match=pattern):
        load_volume(path)


def test_a_qform_with_nan_voxel_size_is_refused(tmp_path):
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((4, 4, 3))
    hdr.set_data_dtype(np.float32)
    hdr["sform_code"], hdr["qform_code"] = 0, 1
    hdr["pixdim"][1] = np.nan
    path = tmp_path / "q.nii"
    nib.save(nib.Nifti1Image(np.ones((4, 4, 3), np.float32), None, header=hdr), str(path))
    with pytest.raises(VolumeError, match=r"q\.nii: its voxel-to-world affine has NaN/Inf"):
        load_volume(path)


def test_check_affine_passes_a_good_oblique_affine_and_keeps_it():
    a = np.array([[0.0, 0, -2, 10], [1.5, 0.1, 0, -3], [0, 1, 0.2, 7], [0, 0, 0, 1]])
    np.testing.assert_array_equal(check_affine(a, "x.nii"), a)
    with pytest.raises(VolumeError, match=r"x\.nii: .* shape \(3, 3\)"):
        check_affine(np.eye(3), "x.nii")


# --- classifier checkpoints (core/nets/checkpoint.py): meta fields in range, finite weights -------------


def _tamper(path: Path, *, meta=None, weights=None) -> Path:
    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    blob["meta"].update(meta or {})
    for name, value in (weights or {}).items():
        blob["state_dict"][name].view(-1)[0] = value
    torch.save(blob, str(path))
    return path


@pytest.mark.parametrize("value", [0, -5, "big", 100000, 1.5, True, None])
def test_a_checkpoint_with_a_bad_input_size_is_refused_naming_field_value_and_range(tmp_path, value):
    path = _tamper(make_tiny_checkpoint(tmp_path / "m.pt"), meta={"input_size": value})
    with pytest.raises(CheckpointError, match=rf"m\.pt: checkpoint meta input_size is {value!r}; .*\[16, 1024\]"):
        load_checkpoint(path)


@pytest.mark.parametrize("value", [0, -1, "3", 64, 2.0])
def test_a_checkpoint_with_a_bad_in_channels_is_refused(tmp_path, value):
    path = _tamper(make_tiny_checkpoint(tmp_path / "m.pt"), meta={"in_channels": value})
    with pytest.raises(CheckpointError, match=rf"meta in_channels is {value!r}; .*\[1, 16\]"):
        load_checkpoint(path)


@pytest.mark.parametrize(("field", "value"), [("output_stride", 7), ("output_stride", "16"), ("pool", "median")])
def test_a_checkpoint_with_a_bad_output_stride_or_pool_is_refused(tmp_path, field, value):
    path = _tamper(make_tiny_checkpoint(tmp_path / "m.pt"), meta={field: value})
    with pytest.raises(CheckpointError, match=rf"meta {field} is {value!r}; it must be one of"):
        load_checkpoint(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_checkpoint_whose_weights_hold_nan_or_inf_is_refused(tmp_path, value):
    path = _tamper(make_tiny_checkpoint(tmp_path / "m.pt"), weights={"layer2.0.conv1.weight": value})
    with pytest.raises(CheckpointError, match=r"m\.pt: weights hold NaN/Inf values \(layer2\.0\.conv1\.weight\): "
                                              r"the checkpoint is damaged; retrain or reload it"):
        load_checkpoint(path)


def test_a_good_tiny_checkpoint_still_loads(tmp_path):
    model, meta = load_checkpoint(make_tiny_checkpoint(tmp_path / "m.pt", input_size=32))
    assert meta["input_size"] == 32 and not model.training


# --- the output path, checked before any work (io/save.py check_output_path) ------------------------------


@pytest.fixture
def source(tmp_path):
    return make_test_volume(tmp_path / "scan.nii.gz", shape=(2, 8, 8))


def test_check_output_path_accepts_a_new_file_beside_the_source(tmp_path, source):
    assert check_output_path(tmp_path / "labels.nii.gz", source=source) == tmp_path / "labels.nii.gz"
    assert check_output_path(str(tmp_path / "labels.mha")) == tmp_path / "labels.mha"


def test_check_output_path_refuses_an_existing_folder(tmp_path, source):
    (tmp_path / "out").mkdir()
    with pytest.raises(VolumeError, match=r"out: is a folder; name the label file to write, e\.g\. .*labels\.nii\.gz"):
        check_output_path(tmp_path / "out", source=source)


def test_check_output_path_refuses_a_missing_folder(tmp_path, source):
    with pytest.raises(VolumeError, match=r"the folder .*nowhere does not exist; create it first"):
        check_output_path(tmp_path / "nowhere" / "labels.nii.gz", source=source)


@pytest.mark.parametrize("name", ["labels.png", "labels.txt", "labels", "labels.nii.bz2"])
def test_check_output_path_refuses_a_suffix_labels_are_not_written_in(tmp_path, name):
    with pytest.raises(VolumeError, match=r"unsupported output extension; use one of \.nii\.gz, \.nii, \.nrrd, \.mha"):
        check_output_path(tmp_path / name)


def test_check_output_path_refuses_the_source_itself(source):
    with pytest.raises(VolumeError, match=r"scan\.nii\.gz: refusing to overwrite the source"):
        check_output_path(source, source=source)


def test_check_output_path_refuses_a_folder_it_cannot_write_in(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # root may write anywhere, so the permission is faked for this one folder
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else real_access(p, mode, **kw))
    with pytest.raises(VolumeError, match=r"labels\.nii\.gz: permission denied \(cannot write in .*locked\)"):
        check_output_path(locked / "labels.nii.gz")


def test_check_output_path_refuses_a_file_inside_the_source_dicom_folder(tmp_path, make_dicom):
    (tmp_path / "series").mkdir()
    for i in range(2):
        make_dicom(np.full((4, 4), i, np.uint16), name=f"series/{i}.dcm", position=(0.0, 0.0, float(i)),
                   InstanceNumber=i + 1)
    series = tmp_path / "series"
    with pytest.raises(VolumeError, match=r"refusing to write into the source DICOM folder"):
        check_output_path(series / "labels.nii.gz", source=series)
    assert check_output_path(tmp_path / "labels.nii.gz", source=series) == tmp_path / "labels.nii.gz"
