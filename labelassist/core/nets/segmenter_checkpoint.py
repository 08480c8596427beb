"""The segmenter and its checkpoints: the small U-Net (:func:`~labelassist.core.nets.unet.build_unet`) that
learns from the reviewer's corrections, with its metadata record; saved as state dict plus metadata and
loaded with ``weights_only=True``."""

from __future__ import annotations

from dataclasses import dataclass

from labelassist.core.nets.checkpoint import atomic_torch_save, read_torch_blob
from labelassist.core.nets.unet import build_unet
from labelassist.errors import CheckpointError

__all__ = ["Segmenter", "save_segmenter", "load_segmenter", "SEGMENTER_FORMAT"]

# The "format" field of a segmenter checkpoint (a classifier's is "labelassist-classifier").
SEGMENTER_FORMAT = "labelassist-segmenter"
# Bumped when a checkpoint's layout changes in a way older readers cannot follow.
SEGMENTER_FORMAT_VERSION = 1
# Metadata keys a segmenter checkpoint must hold to rebuild its U-Net and feed it.
_REQUIRED = ("arch", "in_channels", "image_channels", "base_channels", "depth", "input_size", "context", "use_cam")


@dataclass
class Segmenter:
    """The segmenter: its U-Net and its metadata record (what it sees, how it was trained).

    Attributes
    ----------
    net : torch.nn.Module
        The U-Net (:func:`~labelassist.core.nets.unet.build_unet`): logits (n, s, s) of inputs (n, c, s, s).
    meta : dict
        ``in_channels``, ``image_channels``, ``base_channels``, ``depth``, ``input_size``, ``context``,
        ``use_cam``, ``threshold``, ``normalisation`` and the ``training`` record.
    """

    net: object
    meta: dict


def save_segmenter(model: Segmenter, path):
    """Write the segmenter and its metadata atomically (temp file, then rename); returns the path."""
    state = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}
    return atomic_torch_save({"format": SEGMENTER_FORMAT, "format_version": SEGMENTER_FORMAT_VERSION,
                              "meta": model.meta, "state_dict": state}, path)


def load_segmenter(path, *, device="cpu") -> Segmenter:
    """Load a segmenter saved by :func:`save_segmenter` (``weights_only=True``).

    Raises
    ------
    CheckpointError
        One line, when the file is missing, unreadable, not a segmenter, or its weights do not fit its meta.
    """
    meta, state = read_torch_blob(path, fmt=SEGMENTER_FORMAT, what="segmenter",
                                  hint="save one with 'labelassist propagate --save-model'")
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: the segmenter's meta lacks {', '.join(missing)}; save it again with "
                              "'labelassist propagate --save-model'")
    try:
        net = build_unet(int(meta["in_channels"]), base_channels=int(meta["base_channels"]), depth=int(meta["depth"]))
        net.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the U-Net its meta describes "
                              f"({str(exc).splitlines()[0]})") from None
    return Segmenter(net.to(device).eval(), meta)
