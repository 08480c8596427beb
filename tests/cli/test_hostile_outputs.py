"""Outputs that cannot be written (issue 27): a path under /proc or /sys, a read-only or full disk, no permission,
a folder gone. Each is one line naming the file (and the option) and the fix, exit code 2 on the command line,
never a traceback; checked before any work where the command checks its outputs, and caught when the file is
written all the same (any OSError, any errno), leaving no temporary file and an earlier file untouched."""

from __future__ import annotations

import errno
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

import labelassist.batch.task
import labelassist.core.nets.checkpoint
import labelassist.io
import labelassist.io.save as save
import labelassist.io.writable as writable
from labelassist.cli import main
from labelassist.cli._common import check_output, writing
from labelassist.core.nets.checkpoint import default_meta, save_checkpoint
from labelassist.core.nets.segmenter_checkpoint import Segmenter, save_segmenter
from labelassist.engine.testing import make_test_volume
from labelassist.errors import CheckpointError, ParameterError, VolumeError
from labelassist.io import load_volume, save_labels
from labelassist.io.save import check_output_path, check_writable, kernel_file_system

needs_proc = pytest.mark.skipif(kernel_file_system("/proc/x") != ("/proc", "proc"),
                                reason="no proc file system at /proc (not Linux)")
needs_sys = pytest.mark.skipif(kernel_file_system("/sys/x") != ("/sys", "sysfs"),
                               reason="no sysfs at /sys (not Linux)")
KERNEL = "cannot write there: {} is not a place for files (a kernel file system, {}); choose another folder"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labelassist: error: "), err
    return err[0]


def _one_line(info) -> str:
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the volume is read, the model loaded or the pipeline started."""

    def fail(*args, **kwargs):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(labelassist.io, "load_volume", fail)
    monkeypatch.setattr(labelassist.core.nets.checkpoint, "load_checkpoint", fail)
    monkeypatch.setattr(labelassist.batch.task, "propose_volume", fail)


@pytest.fixture
def scan(tmp_path):
    return make_test_volume(tmp_path / "scan.nii.gz", shape=(2, 16, 16))


# --- before any work: the kernel file systems ------------------------------------------------------------------


@needs_proc
@pytest.mark.parametrize("out", ["/proc/x.nii.gz", "/proc/no/such/folder/x.nii.gz", "/proc/self/fd/x.nii.gz"])
def test_run_refuses_an_output_under_proc_before_any_work(scan, no_work, capsys, out):
    assert main(["run", str(scan), "-o", out]) == 2
    assert f"{out}: {KERNEL.format('/proc', 'proc')}" in one_error_line(capsys)


@needs_sys
def test_run_refuses_an_output_under_sys_before_any_work(scan, no_work, capsys):
    assert main(["run", str(scan), "-o", "/sys/x.nii.gz"]) == 2
    assert f"/sys/x.nii.gz: {KERNEL.format('/sys', 'sysfs')}" in one_error_line(capsys)


@needs_proc
def test_a_link_out_of_proc_to_a_real_folder_is_followed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # /proc/self/cwd is this folder
    out = Path("/proc/self/cwd/labels.nii.gz")
    assert kernel_file_system(out) is None
    assert check_output_path(out) == out


def test_the_mount_table_says_which_folders_are_kernel_file_systems(tmp_path, monkeypatch):
    root = tmp_path.resolve()  # the table lists real paths
    kernel, inner, plain = root / "k dir", root / "k dir" / "fs" / "cgroup", root / "plain"
    for folder in (inner / "unified", plain):  # a mount point is a folder that exists
        folder.mkdir(parents=True)
    escaped = str(kernel).replace(" ", "\\040")
    table = tmp_path / "mountinfo"
    table.write_text(f"22 1 0:21 / / rw - ext4 /dev/vda rw\n"
                     f"23 22 0:22 / {escaped} rw,relatime - sysfs sysfs rw\n"
                     f"24 23 0:23 / {escaped}/fs/cgroup rw - tmpfs tmpfs rw\n"  # a tmpfs inside it: files are fine
                     f"25 24 0:24 / {escaped}/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw\n")
    monkeypatch.setattr(writable, "MOUNTINFO", str(table))
    assert kernel_file_system(kernel / "x.nii.gz") == (str(kernel), "sysfs")
    assert kernel_file_system(kernel / "missing" / "deeper" / "x.nii.gz") == (str(kernel), "sysfs")
    assert kernel_file_system(inner / "x.nii.gz") is None
    assert kernel_file_system(inner / "unified" / "x") == (f"{kernel}/fs/cgroup/unified", "cgroup2")
    assert kernel_file_system(plain / "x.nii.gz") is None
    with pytest.raises(VolumeError, match=re.escape(f"x.nii.gz: {KERNEL.format(kernel, 'sysfs')}")) as info:
        check_output_path(kernel / "x.nii.gz")
    _one_line(info)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and /sys are Linux's")
def test_without_a_mount_table_proc_and_sys_are_still_known(tmp_path, monkeypatch):
    monkeypatch.setattr(writable, "MOUNTINFO", str(tmp_path / "no-mountinfo"))
    assert kernel_file_system("/proc/x.nii.gz") == ("/proc", "proc")
    assert kernel_file_system("/sys/class/x.nii.gz") == ("/sys", "sysfs")
    assert kernel_file_system(tmp_path / "x.nii.gz") is None


# --- before any work: the check the commands call for their other outputs (cli/_common.py check_output) ----------


@needs_proc
@pytest.mark.parametrize("option, path, folder", [
    ("-o", "/proc/model.pt", False),           # train -o
    ("--save-model", "/proc/seg.pt", False),   # propagate, simulate-review
    ("--csv", "/proc/metrics.csv", False),     # eval
    ("--plot", "/proc/self/plot.png", False),  # calibrate, simulate-review
    ("-o", "/proc/out", True),                 # batch -o
    ("--save-maps", "/proc/maps/deeper", True),  # run --save-maps
])
def test_check_output_refuses_proc_for_every_option(option, path, folder):
    with pytest.raises(ParameterError, match="^" + re.escape(f"{option} {path}: {KERNEL.format('/proc', 'proc')}")) \
            as info:
        check_output(path, option, folder=folder)
    _one_line(info)


def test_check_output_names_the_option_and_the_fix(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_folder").mkdir()
    cases = [
        (("", "--plot"), r"^--plot is empty; name the file to write$"),
        ((tmp_path / "a_folder", "--save-model"), r"^--save-model .*a_folder: is a folder; name the file to write"),
        ((tmp_path / "missing" / "m.pt", "-o"), r"^-o .*m\.pt: the folder .*missing does not exist; create it first"),
        ((tmp_path / "a_file", "-o", True), r"^-o .*a_file: is a file, not a folder; name a folder to write in"),
        ((tmp_path / "a_file" / "sub", "--save-maps", True), r"a_file is a file, not a folder"),
    ]
    for args, match in cases:
        with pytest.raises(ParameterError, match=match) as info:
            check_output(*args[:2], folder=args[2] if len(args) > 2 else False)
        _one_line(info)
    assert check_output(tmp_path / "new" / "deeper", "-o", folder=True) == tmp_path / "new" / "deeper"
    assert check_output(str(tmp_path / "m.pt"), "-o") == tmp_path / "m.pt"


def test_a_read_only_folder_is_named_as_such(tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access",
                        lambda p, mode, **kw: False if Path(p) == tmp_path else real_access(p, mode, **kw))
    monkeypatch.setattr(writable, "_read_only", lambda folder: Path(folder) == tmp_path)
    with pytest.raises(VolumeError, match=r"labels\.nii\.gz: .* is on a read-only file system; choose another folder"):
        check_output_path(tmp_path / "labels.nii.gz")
    with pytest.raises(ParameterError, match=r"^--save-maps .*maps: .* is on a read-only file system"):
        check_output(tmp_path / "maps", "--save-maps", folder=True)


def test_writing_turns_a_foreign_writers_os_error_into_one_line(tmp_path):
    path = tmp_path / "plot.png"
    with pytest.raises(VolumeError, match=r"^--plot .*plot\.png: not written, .* is on a read-only file system "
                                          r"\(Read-only file system\): choose another folder") as info:
        with writing(path, "--plot"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    _one_line(info)


@needs_proc
def test_writing_into_proc_for_real_is_one_line():
    with pytest.raises(VolumeError, match=re.escape(f"--csv /proc/x.csv: {KERNEL.format('/proc', 'proc')}")):
        with writing("/proc/x.csv", "--csv"), open("/proc/x.csv", "w", encoding="utf-8") as fh:
            fh.write("x")


# --- at write time: labels and maps (io/save.py atomic_write; the GUI's export and sessions go through it) --------

ERRNOS = [
    (errno.EACCES, r"permission denied in .* \(Permission denied\): choose a folder you can write in"),
    (errno.EPERM, r"permission denied in .* \(Operation not permitted\)"),
    (errno.EROFS, r".* is on a read-only file system \(Read-only file system\): choose another folder"),
    (errno.ENOSPC, r"the disk is full \(No space left on device\): free some space or choose another folder"),
    (errno.EDQUOT, r"the disk is full \(Disk quota exceeded\)"),
    (errno.EINVAL, r"the file system refused it \(Invalid argument\): choose another folder"),
    (errno.ENOENT, r"the folder .* takes no new files \(No such file or directory\): choose another folder"),
    (errno.EIO, r"the file system refused it \(Input/output error\)"),
    (errno.ENAMETOOLONG, r"the name is too long \(File name too long\): choose a shorter file name"),
]


def _raise(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize("code, words", ERRNOS, ids=[errno.errorcode[c] for c, _ in ERRNOS])
@pytest.mark.parametrize("where", ["create", "rename"])
def test_a_label_write_that_fails_is_one_line_and_keeps_the_earlier_file(tmp_path, scan, monkeypatch, code, words,
                                                                        where):
    volume = load_volume(scan)
    out = tmp_path / "labels.nii.gz"
    save_labels(np.ones(volume.shape, np.uint8), out, like=volume)
    before = out.read_bytes()
    monkeypatch.setattr(tempfile if where == "create" else os, "mkstemp" if where == "create" else "replace",
                        _raise(code))
    with pytest.raises(VolumeError, match=rf"labels\.nii\.gz: not written, {words}.*\(the earlier file, if any, "
                                          r"is untouched\)$") as info:
        save_labels(np.zeros(volume.shape, np.uint8), out, like=volume)
    monkeypatch.undo()
    _one_line(info)
    assert out.read_bytes() == before and _leftovers(tmp_path) == []


@needs_proc
def test_a_label_write_into_proc_that_slips_past_the_check_is_one_line(scan, monkeypatch):
    volume = load_volume(scan)
    monkeypatch.setattr(save, "refuse_kernel_file_system", lambda path: None)  # as if nothing had checked
    monkeypatch.setattr(save, "check_folder", lambda path: None)
    with pytest.raises(VolumeError, match=re.escape(f"/proc/x.nii.gz: {KERNEL.format('/proc', 'proc')}")) as info:
        save_labels(np.zeros(volume.shape, np.uint8), "/proc/x.nii.gz", like=volume)
    _one_line(info)


def test_a_map_write_that_fails_is_one_line(tmp_path, scan, monkeypatch):
    volume = load_volume(scan)
    monkeypatch.setattr(os, "replace", _raise(errno.EROFS))
    with pytest.raises(VolumeError, match=r"cam\.nii\.gz: not written, .* read-only file system") as info:
        save.save_map(np.zeros(volume.shape, np.float32), tmp_path / "cam.nii.gz", like=volume)
    monkeypatch.undo()
    _one_line(info)
    assert _leftovers(tmp_path) == []


def test_check_writable_accepts_a_new_file_and_a_new_folder(tmp_path):
    assert check_writable(tmp_path / "x.nii.gz") == tmp_path / "x.nii.gz"
    assert check_writable(tmp_path / "a" / "b", folder=True) == tmp_path / "a" / "b"


# --- at write time: checkpoints (core/nets/checkpoint.py atomic_torch_save) --------------------------------------


def _tiny_net():
    return torch.nn.Conv2d(1, 1, 1)


def _save_model(kind, path):
    if kind == "classifier":
        return save_checkpoint(_tiny_net(), path, meta=default_meta())
    return save_segmenter(Segmenter(_tiny_net(), {"arch": "unet"}), path)


@needs_proc
@pytest.mark.parametrize("kind", ["classifier", "segmenter"])
def test_a_model_saved_under_proc_is_one_line(kind):
    with pytest.raises(CheckpointError, match=r"^/proc/m\.pt: model not written, /proc is not a place for files "
                                              r"\(a kernel file system; .*\): choose another folder") as info:
        _save_model(kind, "/proc/m.pt")
    _one_line(info)


@needs_sys
def test_a_model_saved_under_sys_is_one_line():
    with pytest.raises(CheckpointError, match=r"^/sys/m\.pt: model not written, /sys is not a place for files"):
        _save_model("classifier", "/sys/m.pt")


@pytest.mark.parametrize("code, words", ERRNOS, ids=[errno.errorcode[c] for c, _ in ERRNOS])
@pytest.mark.parametrize("where", ["create", "write", "rename"])
def test_a_model_write_that_fails_is_one_line_and_keeps_the_earlier_model(tmp_path, monkeypatch, code, words, where):
    out = _save_model("segmenter", tmp_path / "seg.pt")
    before = out.read_bytes()
    if where == "write":  # the disk fills while torch.save writes: an OSError from the file object
        def half_then_fail(obj, f, *args, **kwargs):
            f.write(b"PK\x03\x04 part of a zip")
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(torch, "save", half_then_fail)
    else:
        monkeypatch.setattr(tempfile if where == "create" else os, "mkstemp" if where == "create" else "replace",
                            _raise(code))
    with pytest.raises(CheckpointError, match=rf"seg\.pt: model not written, {words}.*\(the earlier file, if any, "
                                              r"is untouched\)$") as info:
        _save_model("segmenter", out)
    monkeypatch.undo()
    _one_line(info)
    assert out.read_bytes() == before and _leftovers(tmp_path) == []


def test_a_model_in_a_missing_folder_says_so(tmp_path):
    with pytest.raises(CheckpointError, match=r"m\.pt: model not written, the folder .*gone does not exist "
                                              r"\(No such file or directory\): create it or choose another folder"):
        _save_model("classifier", tmp_path / "gone" / "m.pt")


# --- the command line, at write time: exit code 2 and one line -------------------------------------------------


def _quick_proposal(monkeypatch):
    """``labelassist run`` without the network: an empty proposal at once (what is tested is the write)."""
    from types import SimpleNamespace

    def propose(volume, *args, **kwargs):
        return SimpleNamespace(labels=np.zeros(volume.shape, np.uint8), pipeline=SimpleNamespace(n_slices=2))

    monkeypatch.setattr(labelassist.core.nets.checkpoint, "load_checkpoint", lambda *a, **k: (None, {}))
    monkeypatch.setattr(labelassist.batch.task, "propose_volume", propose)


def test_run_whose_labels_cannot_be_written_is_one_line_exit_2_and_keeps_the_earlier_labels(tmp_path, scan, capsys,
                                                                                            monkeypatch):
    _quick_proposal(monkeypatch)
    out = tmp_path / "labels.nii.gz"
    out.write_bytes(b"the earlier labels")
    real_replace = os.replace
    # the disk turns read-only while the proposal runs: only the rename into place fails
    monkeypatch.setattr(os, "replace", lambda src, dst, *a, **k: _raise(errno.EROFS)() if Path(dst) == out
                        else real_replace(src, dst, *a, **k))
    assert main(["run", str(scan), "-o", str(out), "--model", str(scan), "--device", "cpu"]) == 2
    line = one_error_line(capsys)
    monkeypatch.undo()
    assert "labels.nii.gz: not written, " in line and "read-only file system" in line
    assert out.read_bytes() == b"the earlier labels" and _leftovers(tmp_path) == []


@needs_proc
def test_run_writing_into_proc_past_every_check_is_one_line_exit_2(scan, capsys, monkeypatch):
    _quick_proposal(monkeypatch)
    monkeypatch.setattr(save, "refuse_kernel_file_system", lambda path: None)  # as if nothing had checked
    monkeypatch.setattr(save, "check_folder", lambda path: None)
    assert main(["run", str(scan), "-o", "/proc/x.nii.gz", "--model", str(scan), "--device", "cpu"]) == 2
    assert f"/proc/x.nii.gz: {KERNEL.format('/proc', 'proc')}" in one_error_line(capsys)


@needs_proc
@pytest.mark.parametrize("argv", [
    ["train", "{vol}", "--masks", "{vol}", "-o", "/proc/m.pt"],
    ["propagate", "{vol}", "--labels", "{vol}", "--reviewed", "1", "-o", "/proc/x.nii.gz"],
    ["propagate", "{vol}", "--labels", "{vol}", "--reviewed", "1", "-o", "{tmp}/x.nii.gz", "--save-model", "/proc/s.pt"],
    ["simulate-review", "{vol}", "--truth", "{vol}", "--plot", "/proc/p.png"],
    ["calibrate", "{vol}", "--truth", "{vol}", "--plot", "/proc/p.png"],
    ["batch", "{vol}", "-o", "/proc/out"],
    ["demo-data", "/proc/demo"],
])
def test_every_command_refuses_an_output_under_proc_before_any_work(argv, tmp_path, capsys):
    vol = make_test_volume(tmp_path / "vol.nii.gz")
    args = [a.format(vol=vol, tmp=tmp_path) for a in argv]
    assert main(args) == 2
    assert "/proc is not a place for files" in one_error_line(capsys)
