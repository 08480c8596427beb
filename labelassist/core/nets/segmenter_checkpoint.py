"""Checkpoints of the review loop's segmentation net: state dict plus metadata, ``weights_only=True``."""

from __future__ import annotations

from dataclasses import dataclass

from labelassist.core.nets.checkpoint import atomic_torch_save, read_torch_blob
from labelassist.core.nets.unet import build_unet
from labelassist.errors import CheckpointError

__all__ = ["Segmenter", "save_segmenter", "load_segmenter", "SEG_FORMAT"]

SEG_FORMAT = "labelassist-segmenter"
SEG_FORMAT_VERSION = 1
_REQUIRED = ("arch", "in_channels", "image_channels", "base_channels", "depth", "input_size", "context", "use_cam")


@dataclass
class Segmenter:
    """The segmentation net and its metadata record (what it sees, how it was trained)."""

    net: object
    meta: dict


def save_segmenter(model: Segmenter, path):
    """Write the net and its metadata atomically (temp file, then rename); returns the path."""
    state = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}
    return atomic_torch_save({"format": SEG_FORMAT, "format_version": SEG_FORMAT_VERSION, "meta": model.meta,
                              "state_dict": state}, path)


def load_segmenter(path, *, device="cpu") -> Segmenter:
    """Load a net saved by :func:`save_segmenter` (``weights_only=True``); a wrong or corrupt file is one line."""
    meta, state = read_torch_blob(path, fmt=SEG_FORMAT, what="segmentation net",
                                  hint="save one with 'labelassist propagate --save-model'")
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: segmentation net meta lacks {', '.join(missing)}")
    try:
        net = build_unet(int(meta["in_channels"]), base_channels=int(meta["base_channels"]), depth=int(meta["depth"]))
        net.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the U-Net its meta describes ({str(exc).splitlines()[0]})") from None
    return Segmenter(net.to(device).eval(), meta)
