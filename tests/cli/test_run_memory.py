"""``labelassist run`` refuses, in one line and before the model is loaded, a volume that cannot fit in memory."""

import pytest

import labelassist.core.nets.checkpoint
import labelassist.io.formats.limits
from labelassist.batch.task import check_run_memory, run_memory_need
from labelassist.cli import main
from labelassist.errors import VolumeError


def test_run_refuses_a_volume_that_cannot_fit_before_loading_the_model(volume_path, tiny_model, tmp_path,
                                                                       monkeypatch, capsys):
    def must_not_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the memory check")

    monkeypatch.setattr(labelassist.io.formats.limits, "available_memory", lambda: 4 * 2**20)  # the volume reads
    monkeypatch.setattr(labelassist.core.nets.checkpoint, "load_checkpoint", must_not_load)
    out = tmp_path / "labels.nii.gz"
    assert main(["run", str(volume_path), "-o", str(out), "--model", str(tiny_model)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(volume_path) in err and "needs about" in err and "4 MiB available" in err
    assert not any(p.name.startswith("labels") for p in tmp_path.iterdir())


def test_memory_need_counts_the_voxels_and_the_model(volume, tiny_model, monkeypatch):
    small = run_memory_need((10, 64, 64))
    per_slice = run_memory_need((20, 64, 64)) - small
    assert per_slice > 64 * 64 * 4 and run_memory_need((30, 64, 64)) == small + 2 * per_slice  # the voxels
    assert run_memory_need((10, 64, 64, 3)) == small  # channels: the pipeline keeps one map per pixel
    assert run_memory_need((10, 64, 64), model_bytes=5) == small + 5
    need = run_memory_need(volume.array.shape, model_bytes=tiny_model.stat().st_size)
    monkeypatch.setattr(labelassist.io.formats.limits, "available_memory", lambda: need)
    check_run_memory(volume, model_path=tiny_model)  # just fits: no error
    monkeypatch.setattr(labelassist.io.formats.limits, "available_memory", lambda: need - 1)
    with pytest.raises(VolumeError, match=r"needs about \d+ MiB of memory, \d+ MiB available"):
        check_run_memory(volume, model_path=tiny_model)
