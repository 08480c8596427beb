"""A study list: the volumes of a folder or CSV, and where each review stands, from the session files."""

import numpy as np
import pytest

from labelassist.core.review import ReviewState
from labelassist.errors import VolumeError
from labelassist.io import load_volume
from labelassist.io.sessions.session import default_export_path, save_session
from labelassist.io.sessions.study import EXPORTED, IN_REVIEW, UNTOUCHED, read_study, study_entries


@pytest.fixture
def folder(tmp_path):
    from labelassist.engine.testing import make_test_volume

    for name in ("scan10.nii.gz", "scan2.nii.gz", "scan1.nii.gz"):
        make_test_volume(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a volume")
    return tmp_path


def test_a_folder_lists_its_volumes_naturally_and_leaves_out_our_own_files(folder):
    vol = load_volume(folder / "scan2.nii.gz")
    st = ReviewState.new(vol.shape)
    st.set_status(0, "accepted")
    st.set_status(3, "rejected")
    save_session(st, default_export_path(vol), like=vol)
    volumes = read_study(folder)
    assert [p.name for p in volumes] == ["scan1.nii.gz", "scan2.nii.gz", "scan10.nii.gz"]  # no session, no notes
    entries = study_entries(volumes)
    assert [(e.state, e.reviewed, e.n_slices) for e in entries] == [(UNTOUCHED, 0, 0), (IN_REVIEW, 2, 6),
                                                                      (UNTOUCHED, 0, 0)]
    assert entries[1].text() == "scan2.nii.gz: in review, 2 of 6 slices"
    default_export_path(vol).write_bytes(b"")  # the export exists
    assert study_entries(volumes)[1].state == EXPORTED


def test_a_csv_lists_paths_relative_to_it_and_a_missing_one_is_one_line(folder):
    (folder / "list.csv").write_text("path,note\nscan10.nii.gz,first\nscan1.nii.gz,\n")
    assert [p.name for p in read_study(folder / "list.csv")] == ["scan10.nii.gz", "scan1.nii.gz"]
    (folder / "bad.csv").write_text("path\nscan1.nii.gz\nnope.nii.gz\n")
    with pytest.raises(VolumeError, match=r"bad.csv: row 3 names .*nope.nii.gz, which does not exist$"):
        read_study(folder / "bad.csv")
    with pytest.raises(VolumeError, match="no such folder or CSV file"):
        read_study(folder / "missing")
    empty = folder / "empty"
    empty.mkdir()
    with pytest.raises(VolumeError, match="no volume in it"):
        read_study(empty)
    assert np.all([p.exists() for p in read_study(folder)])
