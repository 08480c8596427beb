"""Review state and sessions: reviewed slices are never overwritten; sessions round-trip atomically and
refuse another volume."""

import json

import numpy as np
import pytest

from labelassist.core.review import ACCEPTED, CORRECTED, REJECTED, UNREVIEWED, ReviewState
from labelassist.errors import ParameterError, VolumeError
from labelassist.io import load_volume
from labelassist.io.sessions.session import (
    default_export_path, find_session, load_session, save_session, session_path, set_aside,
)


@pytest.fixture
def volume(tmp_path):
    import nibabel as nib

    data = np.random.default_rng(0).random((16, 12, 4)).astype(np.float32)  # (x, y, z)
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), str(tmp_path / "scan.nii.gz"))
    return load_volume(tmp_path / "scan.nii.gz")


def test_reviewed_slices_refuse_proposals():
    st = ReviewState.new((3, 4, 5))
    mask = np.ones((4, 5))
    assert st.set_proposal(0, mask, params={"threshold": 0.5}, model_hash="h")
    st.set_status(0, ACCEPTED)
    assert not st.set_proposal(0, np.zeros((4, 5)))
    assert st.labels[0].sum() == 20
    st.set_status(1, REJECTED)
    assert st.labels[1].sum() == 0 and not st.set_proposal(1, mask)
    st.set_status(2, CORRECTED, mask=np.eye(4, 5))
    assert st.reviewed_indices() == [0, 1, 2] and st.unreviewed_indices() == []
    assert st.next_unreviewed(0) is None
    st.set_status(2, UNREVIEWED)
    assert st.next_unreviewed(0) == 2 and st.counts()[UNREVIEWED] == 1


def test_review_errors_name_the_fix():
    st = ReviewState.new((2, 3, 3))
    with pytest.raises(ParameterError, match="slice index must be in"):
        st.set_status(5, ACCEPTED)
    with pytest.raises(ParameterError, match="status must be one of"):
        st.set_status(0, "maybe")
    with pytest.raises(ParameterError, match="slice shape"):
        st.set_proposal(0, np.ones((2, 2)))


def test_session_round_trip_beside_export(volume, tmp_path):
    export = default_export_path(volume)
    assert export == tmp_path / "scan_labels.nii.gz"
    assert find_session(volume) is None and load_session(export, like=volume) is None
    st = ReviewState.new(volume.shape, params={"threshold": 0.4}, model_hash="abc")
    st.set_proposal(1, np.ones(volume.shape[1:]), params={"threshold": 0.4}, model_hash="abc")
    st.set_status(1, CORRECTED)
    save_session(st, export, like=volume)
    assert session_path(export) == tmp_path / "scan_labels.review-session.npz"
    assert session_path(export).is_file() and find_session(volume) == export
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.nii.gz", "scan_labels.review-session.npz"]
    back = load_session(export, like=volume)
    assert back.statuses == st.statuses and back.params == {"threshold": 0.4} and back.model_hash == "abc"
    np.testing.assert_array_equal(back.labels, st.labels)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_session_of_another_volume_or_damaged(volume, tmp_path):
    export = default_export_path(volume)
    save_session(ReviewState.new(volume.shape), export, like=volume)
    other = load_volume(volume.source_path)
    other.array[0, 0, 0] += 1  # same file name and shape, other content
    with pytest.raises(VolumeError, match="belongs to another volume .content differs"):
        load_session(export, like=other)
    fresh = load_volume(volume.source_path)
    assert load_session(export, like=fresh) is not None
    path = session_path(export)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(VolumeError, match="session"):
        load_session(export, like=fresh)
    path.write_bytes(b"{not a zip")
    with pytest.raises(VolumeError, match="not a readable review session"):
        load_session(export, like=fresh)
    moved = set_aside(export)
    assert len(moved) == 1 and moved[0].exists() and find_session(fresh) is None


def test_export_path_falls_back_to_user_data_dir(volume, tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    path = default_export_path(volume)
    assert path.parent == tmp_path / "data" / "exports" and path.name.endswith("_labels.nii.gz")
    json.dumps(ReviewState.new((1, 2, 2)).to_dict())  # JSON-ready
