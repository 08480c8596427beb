"""Nothing a reviewer made is lost on disk: one session file, old sessions still read, same-stem sources apart,
set-aside copies and export backups never overwrite each other, a full disk said in one line, one writer."""

import json
import os
import subprocess
import sys
import textwrap

import nibabel as nib
import numpy as np
import pytest

from labelassist.core.review import ACCEPTED, CORRECTED, ReviewState
from labelassist.errors import VolumeError
from labelassist.io import load_volume
from labelassist.io.save import keep_backup, save_labels
from labelassist.io.sessions.session import (
    SliceCompressor, default_export_path, legacy_session_paths, load_session, lock_path, save_session,
    session_path, session_source, set_aside, volume_identity,
)
from labelassist.io.sessions.lock import SessionLock


def _nifti(path, seed=0, shape=(16, 12, 6)):
    data = np.random.default_rng(seed).random(shape).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), str(path))
    return load_volume(path)


@pytest.fixture
def volume(tmp_path):
    return _nifti(tmp_path / "scan.nii.gz")


def _reviewed(volume, z=2):
    st = ReviewState.new(volume.shape, params={"threshold": 0.4})
    st.set_status(z, CORRECTED, mask=np.eye(*volume.shape[1:]))
    return st


def test_a_version_1_session_is_still_restored_and_replaced_by_one_file(volume, tmp_path):
    import hashlib
    import io

    st = _reviewed(volume)
    export = default_export_path(volume)
    meta, labels = legacy_session_paths(export)
    buf = io.BytesIO()
    np.savez_compressed(buf, labels=st.labels)
    labels.write_bytes(buf.getvalue())
    meta.write_text(json.dumps({"format": "labelassist-review-session", "format_version": 1,
                                "volume": volume_identity(volume), "labels_file": labels.name,
                                "labels_sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
                                "review": st.to_dict()}))
    back = load_session(export, like=volume)
    assert back.statuses == st.statuses and np.array_equal(back.labels, st.labels)
    save_session(back, export, like=volume)
    assert not meta.exists() and not labels.exists() and session_path(export).is_file()
    assert np.array_equal(load_session(export, like=volume).labels, st.labels)


def test_a_save_compresses_only_the_slices_that_changed(volume):
    comp = SliceCompressor()
    st = _reviewed(volume)
    first = comp.blobs(st.labels.copy())
    st.labels[4, 1:5, 1:5] = 1
    second = comp.blobs(st.labels.copy())
    assert [a is b for a, b in zip(first, second)] == [z != 4 for z in range(volume.shape[0])]


def test_a_truncated_session_file_is_refused_in_one_line(volume):
    export = default_export_path(volume)
    save_session(_reviewed(volume), export, like=volume)
    path = session_path(export)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(VolumeError, match=r"review-session.npz: .*session") as info:
        load_session(export, like=volume)
    assert "\n" not in str(info.value)


def test_sources_that_share_a_stem_get_distinct_sessions(tmp_path):
    a = _nifti(tmp_path / "scan.nii", seed=1)
    b = _nifti(tmp_path / "scan.nii.gz", seed=2)
    export_a = default_export_path(a)
    save_session(_reviewed(a, z=1), export_a, like=a)
    export_b = default_export_path(b)
    assert export_b != export_a and export_b.name == "scan-nii-gz_labels.nii.gz"
    save_session(_reviewed(b, z=3), export_b, like=b)
    # both come back, each on its own, whichever is opened first
    assert default_export_path(load_volume(tmp_path / "scan.nii")) == export_a
    assert default_export_path(load_volume(tmp_path / "scan.nii.gz")) == export_b
    assert load_session(export_a, like=a).statuses[1] == CORRECTED
    assert load_session(export_b, like=b).statuses[3] == CORRECTED
    assert session_source(export_a) == str((tmp_path / "scan.nii").resolve())


def test_set_aside_copies_never_overwrite_each_other(volume):
    export = default_export_path(volume)
    names = []
    for i in range(3):  # three in the same second
        st = _reviewed(volume, z=i)
        save_session(st, export, like=volume)
        names += set_aside(export)
    assert len(set(names)) == 3 and all(p.exists() for p in names)
    firsts = [np.flatnonzero([s != "unreviewed" for s in
                              json.loads(np.load(p)["record"].tobytes())["review"]["statuses"]])[0] for p in names]
    assert firsts == [0, 1, 2]


def test_an_export_over_an_earlier_one_keeps_numbered_backups(volume, tmp_path):
    out = tmp_path / "scan_labels.nii.gz"
    for value in (1, 2, 3):
        save_labels(np.full(volume.shape, value, np.uint8), out, like=volume, backup=True)
    backups = sorted(tmp_path.glob("scan_labels.backup-*.nii.gz"))
    assert [p.name for p in backups] == ["scan_labels.backup-1.nii.gz", "scan_labels.backup-2.nii.gz"]
    values = [int(load_volume(p, labels=True).array.max()) for p in (*backups, out)]
    assert values == [1, 2, 3]
    assert keep_backup(tmp_path / "missing.nii.gz") is None


def test_a_full_disk_is_one_line_and_leaves_the_earlier_session(volume, monkeypatch):
    export = default_export_path(volume)
    save_session(_reviewed(volume, z=1), export, like=volume)
    before = session_path(export).read_bytes()
    real_savez = np.savez

    def full(f, **arrays):
        real_savez(f, **arrays)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(VolumeError, match=r"not written, the disk is full \(No space left on device\)") as info:
        save_session(_reviewed(volume, z=4), export, like=volume)
    assert "\n" not in str(info.value)
    assert session_path(export).read_bytes() == before
    assert [p.name for p in export.parent.iterdir() if p.name.startswith(".")] == []


def test_a_file_size_limit_in_run_is_one_line_exit_2(tmp_path, volume_path, tiny_model):
    """A real full disk, as the kernel says it: writes beyond RLIMIT_FSIZE fail with EFBIG."""
    out = tmp_path / "out_labels.nii.gz"
    code = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
        from labelassist.cli import main
        sys.exit(main(["run", {str(volume_path)!r}, "-o", {str(out)!r}, "--model", {str(tiny_model)!r},
                       "--device", "cpu"]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr and "disk is full" in lines[-1]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_one_writer_per_session_and_a_killed_holder_frees_it(volume, tmp_path):
    path = lock_path(default_export_path(volume))
    first = SessionLock(path)
    assert first.acquire()
    second = SessionLock(path)
    assert not second.acquire() and second.owner() == str(os.getpid())
    first.release()
    assert second.acquire()
    second.release()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from labelassist.io.sessions.lock import SessionLock
        lock = SessionLock({str(path)!r})
        assert lock.acquire()
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not SessionLock(path).acquire()
    finally:
        holder.kill()
        holder.wait()
    third = SessionLock(path)
    assert third.acquire()  # the operating system let the dead window's lock go
    third.release()


def test_statuses_and_parameters_travel_in_the_one_file(volume):
    st = _reviewed(volume)
    st.set_status(0, ACCEPTED)
    st.params = {"threshold": 0.7, "gate": 0.2}
    export = default_export_path(volume)
    save_session(st, export, like=volume)
    back = load_session(export, like=volume)
    assert back.params == {"threshold": 0.7, "gate": 0.2} and back.statuses[:3] == ["accepted", "unreviewed", "corrected"]
