"""The review's session from the reviewer's side: a stroke is saved whole when it ends, threshold changes are
saved, saves coalesce, a second window is read-only, Export As never silently takes another volume's file."""

import threading

import numpy as np
import pytest

from labelassist.core.review import ACCEPTED, CORRECTED, UNREVIEWED
from labelassist.io import load_volume
from labelassist.io.sessions.session import load_session, session_path
from labelassist.widgets import ReviewController
from labelassist.widgets import session_actions

pytestmark = pytest.mark.gui


@pytest.fixture
def make(qtbot, tiny_model):
    made = []

    def factory(volume):
        c = ReviewController(model=tiny_model, device="cpu", auto_compute=False)
        c.open_volume(volume)
        made.append(c)
        return c

    yield factory
    for c in reversed(made):
        c.close()


def on_disk(c, volume=None):
    return load_session(c.export_path, like=volume or c.volume)


def test_a_stroke_is_saved_whole_when_it_ends_never_half(make, volume):
    c = make(volume)
    c.accept(0)
    c.sessions.flush()
    c.begin_stroke(3)
    assert c.state.status(3) == CORRECTED  # a proposal cannot replace a half-drawn stroke
    c.state.labels[3, 2:6, 2:6] = 1  # the brush, half way
    c.accept(1)  # anything that saves meanwhile waits for the stroke's end
    c.sessions.flush()
    disk = on_disk(c)
    assert disk.status(3) == UNREVIEWED and disk.status(1) == UNREVIEWED and not disk.labels[3].any()
    c.state.labels[3, 6:9, 2:6] = 1
    c.end_stroke()
    c.sessions.flush()
    disk = on_disk(c)
    assert disk.status(3) == CORRECTED and disk.status(1) == ACCEPTED
    np.testing.assert_array_equal(disk.labels[3], c.state.labels[3])


def test_threshold_and_gate_changes_are_saved(make, volume):
    c = make(volume)
    c.set_params(threshold=0.61)
    c.set_params(gate=0.15)
    c.sessions.flush()
    disk = on_disk(c)
    assert disk.params["threshold"] == 0.61 and disk.params["gate"] == 0.15


def test_saves_coalesce_and_the_newest_state_wins(make, volume, monkeypatch):
    writes, gate = [], threading.Event()
    real = session_actions.save_session

    def slow(state, path, **kw):
        gate.wait(5)
        writes.append(list(state.statuses))
        return real(state, path, **kw)

    monkeypatch.setattr(session_actions, "save_session", slow)
    c = make(volume)
    for z in range(volume.shape[0]):
        c.accept(z)  # each asks for a save while the first is still writing
    gate.set()
    c.sessions.flush()
    assert len(writes) <= 2 and writes[-1] == [ACCEPTED] * volume.shape[0]
    assert on_disk(c).statuses == [ACCEPTED] * volume.shape[0]


def test_a_second_window_on_the_same_volume_is_read_only(make, volume, volume_path):
    first = make(volume)
    first.accept(0)
    first.sessions.flush()
    second = make(load_volume(volume_path))
    assert second.sessions.read_only and second.state.status(0) == ACCEPTED  # it sees the review
    second.reject(0)
    second.accept(4)
    second.sessions.flush()
    assert second.export() is None
    disk = on_disk(first)
    assert disk.status(0) == ACCEPTED and disk.status(4) == UNREVIEWED
    first.accept(5)
    first.sessions.flush()
    assert on_disk(first).status(5) == ACCEPTED  # the first window still writes


def test_the_session_lock_goes_with_the_window(make, volume, volume_path):
    first = make(volume)
    first.close()
    second = make(load_volume(volume_path))
    assert not second.sessions.read_only


def test_export_as_onto_another_volumes_export_asks_first(make, volume, tmp_path, rng):
    import nibabel as nib

    other_path = tmp_path / "other.nii.gz"
    nib.save(nib.Nifti1Image(rng.random((20, 16, 6)).astype(np.float32), np.eye(4)), str(other_path))
    other = make(load_volume(other_path))
    other.accept(2)
    theirs = other.export()
    other.close()
    c = make(volume)
    c.accept(1)
    asked = []
    assert c.export(theirs) is None  # no way to ask: refused
    assert c.export(theirs, confirm=lambda text: asked.append(text) or False) is None
    assert "holds the labels of another volume" in asked[0]
    assert load_session(theirs, like=load_volume(other_path)).status(2) == ACCEPTED
    assert c.export(theirs, confirm=lambda text: True) == theirs
    kept = list(tmp_path.glob("other_labels.review-session.npz.*.bak"))
    backups = list(tmp_path.glob("other_labels.backup-*.nii.gz"))
    assert len(kept) == 1 and len(backups) == 1  # the other volume's session and labels are both kept
    assert load_session(theirs, like=c.volume).status(1) == ACCEPTED


def test_export_keeps_the_earlier_export(make, volume):
    c = make(volume)
    c.accept(0)
    out = c.export()
    c.reject(0)
    assert c.export() == out
    assert [p.name for p in out.parent.glob("*.backup-*")] == [out.name.replace("_labels", "_labels.backup-1")]


def test_closing_saves_a_threshold_change_still_waiting(make, volume, volume_path):
    c = make(volume)
    c.set_params(threshold=0.77)
    c.close()
    assert load_session(c.export_path, like=load_volume(volume_path)).params["threshold"] == 0.77
    assert session_path(c.export_path).is_file()
