"""A checkpoint zip bomb (issue 27): a ~3.9 MB torch checkpoint whose weights inflate to ~4 GB is refused from its
zip central directory, in one line, before torch.load allocates or inflates anything; real checkpoints still load.

The bomb is made here in milliseconds and a few MB: one deflate block of 1 MiB of zeros, ended by a full flush
(which resets the compressor, so every next block is the same bytes), repeated; the member's sizes and method are
then written into its zip headers. Its CRC is left unset: nothing may read that far."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zipfile
import zlib

import pytest
import torch

import labelassist.core.nets.checkpoint as checkpoint
from labelassist.core.nets.checkpoint import (MAX_CHECKPOINT_BYTES, MAX_CHECKPOINT_RATIO, FORMAT, check_zip_size,
                                              default_meta, load_checkpoint, save_checkpoint)
from labelassist.core.nets.classifier import build_classifier
from labelassist.core.nets.segmenter_checkpoint import SEGMENTER_FORMAT, load_segmenter
from labelassist.errors import CheckpointError

MiB = 2**20
GB = 4_000_000_000  # what the bomb of the issue inflates to (fits the 32-bit zip fields, as that one did)


def _deflated_zeros(n: int, block: int = MiB) -> bytes:
    """A raw deflate stream of ``n`` zero bytes (``n`` a multiple of ``block``), made from one compressed block."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    return one * (n // block) + c.flush(zlib.Z_FINISH)


def _patch_member(raw: bytearray, name: str, *, method: int, size: int) -> None:
    """Set compression ``method`` and uncompressed ``size`` of member ``name`` in its local and central headers."""
    enc = name.encode()
    for signature, name_len_at, name_at, method_at, size_at in ((b"PK\x03\x04", 26, 30, 8, 22),
                                                               (b"PK\x01\x02", 28, 46, 10, 24)):
        at = 0
        while (at := raw.find(signature, at)) >= 0:
            n = struct.unpack_from("<H", raw, at + name_len_at)[0]
            if raw[at + name_at:at + name_at + n] == enc:
                struct.pack_into("<H", raw, at + method_at, method)
                struct.pack_into("<I", raw, at + size_at, size)
            at += 4


def make_bomb(path, *, fmt: str = FORMAT, inflated: int = GB):
    """A labelassist checkpoint (format, meta, state_dict) whose one tensor member inflates to ``inflated`` bytes."""
    real = io.BytesIO()
    torch.save({"format": fmt, "format_version": 1, "meta": default_meta(), "state_dict": {"w": torch.zeros(4)}},
               real)
    with zipfile.ZipFile(io.BytesIO(real.getvalue())) as src, zipfile.ZipFile(path, "w") as dst:
        names = [info.filename for info in src.infolist()]
        target = next(n for n in names if n.endswith("/data/0"))
        for name in names:
            dst.writestr(name, _deflated_zeros(inflated) if name == target else src.read(name))
    raw = bytearray(path.read_bytes())
    _patch_member(raw, target, method=zipfile.ZIP_DEFLATED, size=inflated)
    path.write_bytes(bytes(raw))
    return path, target


@pytest.fixture
def no_torch_load(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("torch.load was reached: the bomb would have been inflated")

    monkeypatch.setattr(torch, "load", fail)


def _one_line(info) -> str:
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_the_bomb_is_what_the_issue_describes(tmp_path):
    path, target = make_bomb(tmp_path / "bomb.pt")
    assert 3 * MiB < path.stat().st_size < 5 * MiB
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(target)
        assert info.file_size == GB and info.compress_type == zipfile.ZIP_DEFLATED
        with zf.open(info) as fh:  # a real deflate stream of zeros (only its start is read)
            assert fh.read(MiB) == bytes(MiB)


@pytest.mark.parametrize("load", [load_checkpoint, load_segmenter], ids=["classifier", "segmenter"])
def test_a_4_gb_zip_bomb_is_refused_at_once_before_torch_load(tmp_path, no_torch_load, load):
    path, _ = make_bomb(tmp_path / "bomb.pt", fmt=FORMAT if load is load_checkpoint else SEGMENTER_FORMAT)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(CheckpointError, match=rf"bomb\.pt: its members inflate to 4,000,000,\d{{3}} bytes, more "
                                                  rf"than a model checkpoint holds \({MAX_CHECKPOINT_BYTES:,}\): a zip "
                                                  r"bomb or not a labelassist model; use the model file you trained"
                           ) as info:
            load(path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _one_line(info)
    assert seconds < 1.0 and peak < 16 * MiB


def test_a_bomb_under_the_size_limit_is_refused_by_its_ratio(tmp_path, no_torch_load):
    # 256 MiB from 256 KB: below MAX_CHECKPOINT_BYTES, but no model's weights deflate 1000 times
    path, target = make_bomb(tmp_path / "small_bomb.pt", inflated=256 * MiB)
    assert 256 * MiB < MAX_CHECKPOINT_BYTES
    with pytest.raises(CheckpointError, match=rf"small_bomb\.pt: its member {target} inflates from [\d,]+ to "
                                              rf"268,435,456 bytes, \d+ times \(a model's weights do not compress; "
                                              rf"at most {MAX_CHECKPOINT_RATIO}\): a zip bomb") as info:
        load_checkpoint(path)
    _one_line(info)


def test_a_file_larger_than_any_model_is_refused_before_it_is_opened(tmp_path, monkeypatch, no_torch_load):
    path = tmp_path / "huge.pt"
    path.write_bytes(bytes(2 * MiB))
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", MiB)
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("the file must not be opened as a zip"))
    with pytest.raises(CheckpointError, match=r"huge\.pt: the file is 2,097,152 bytes, more than a model checkpoint "
                                              r"holds \(1,048,576\): not a labelassist model") as info:
        load_checkpoint(path)
    _one_line(info)


def test_a_legacy_checkpoint_is_not_handed_to_torch_load(tmp_path, no_torch_load):
    # the pre-zip format: torch.load would allocate every storage size its pickle claims
    path = tmp_path / "legacy.pt"
    torch.save({"format": FORMAT, "meta": default_meta(), "state_dict": {}}, str(path),
               _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"legacy\.pt: not a readable model checkpoint \(not a zip archive, "
                                              r"as torch\.save writes them\)") as info:
        load_checkpoint(path)
    _one_line(info)


def test_real_checkpoints_pass_the_check_and_load(tmp_path, tiny_model):
    check_zip_size(tiny_model)
    model, meta = load_checkpoint(tiny_model)
    assert meta["arch"] == "resnet18" and not model.training
    small = save_checkpoint(torch.nn.Conv2d(1, 1, 1), tmp_path / "m.pt", meta=default_meta())  # saved, then judged
    check_zip_size(small)
    # our largest model, a float32 ResNet50 (~100 MB), is far below the limit
    resnet50 = sum(t.numel() * t.element_size() for t in build_classifier("resnet50").state_dict().values())
    assert 80 * MiB < resnet50 < MAX_CHECKPOINT_BYTES / 4
