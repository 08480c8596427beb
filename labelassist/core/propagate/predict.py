"""The segmenter's prediction (docs/architecture.md, learning from corrections): probabilities in batches with
the out-of-memory fallback, mapped back to the slice grid, and the per-slice confidence the review queue reads."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labelassist.core.nets.inputs import normalise_volume
from labelassist.core.nets.segmenter_checkpoint import Segmenter
from labelassist.core.propagate.checks import check_cam, check_image
from labelassist.core.propagate.data import stack_inputs
from labelassist.errors import Cancelled

__all__ = ["predict", "predict_tensor", "to_grid", "slice_confidence", "SEGMENTER_THRESHOLD", "PREDICT_BATCH_SIZE"]

# The segmenter learns from batches half of which come from lesion slices, cropped around the lesion: it sees
# lesion far more often than a volume holds it, and at 0.5 it over-draws (false positives were most of its
# error on every demo volume looked at). 0.8, chosen on demo volumes of seed 7 (simulated review, Dice at 5
# corrections: 0.73 at 0.5, 0.82 at 0.8, 0.75 at 0.9), not on the benchmark's.
SEGMENTER_THRESHOLD = 0.8
# Slices per prediction batch during propagate (no gradients: memory allows many).
PREDICT_BATCH_SIZE = 32
# slice_confidence: probabilities between these are undecided; the prior (pixels) keeps a lone undecided
# pixel from making a slice look hopeless.
UNDECIDED_LOW, UNDECIDED_HIGH, CONFIDENCE_PRIOR = 0.2, 0.8, 10.0


def slice_confidence(probability, *, low: float = UNDECIDED_LOW, high: float = UNDECIDED_HIGH,
                     prior: float = CONFIDENCE_PRIOR) -> np.ndarray:
    """Per-slice confidence in [0, 1]: one minus the share of undecided pixels in what the segmenter calls lesion.

    ``1 - n(low < p < high) / (n(p > low) + prior)``: a slice the segmenter calls empty everywhere, or a
    lesion with a crisp edge, is near 1; a faint blob or a ragged, half-sure lesion is low. ``prior`` (pixels)
    keeps a lone undecided pixel from making a slice look hopeless.
    """
    p = np.asarray(probability, dtype=np.float32)
    p = p.reshape(len(p), -1) if p.ndim > 1 else p[None]
    undecided = ((p > low) & (p < high)).sum(1)
    support = (p > low).sum(1)
    return 1.0 - undecided / (support + prior)


def predict_tensor(net, x, device, batch_size, tta, progress=None, cancel=None, done=0, total=0,
                   on_fallback=None):
    """Probabilities of ``x`` in batches; out of memory: smaller batches, then the CPU (``OomFallback``).
    ``progress`` counts batches of the first ``batch_size``, whatever size they shrink to."""
    import torch

    from labelassist.core.nets.device import OomFallback, place

    net.eval()

    def one_batch(start, stop, dev):
        if cancel is not None and cancel():
            raise Cancelled()
        place(net, dev)
        xb = place(x[start:stop], dev)
        p = net(xb).sigmoid()
        if tta:
            p = (p + net(xb.flip(-1)).sigmoid().flip(-1)) / 2
        p = p.float().cpu()
        if progress is not None:
            progress(done + -(-stop // batch_size), total)
        return p

    with torch.no_grad():
        out = OomFallback(batch_size=batch_size, device=device, on_fallback=on_fallback).run(one_batch, len(x))
    return torch.cat(out)


def predict(image, model: Segmenter, *, cam=None, device="auto", threshold: float = SEGMENTER_THRESHOLD,
            tta: bool = True, batch_size: int = PREDICT_BATCH_SIZE, on_fallback: Callable[[str], None] | None = None):
    """The segmenter's masks, probabilities and per-slice confidence for every slice of ``image``.

    A batch that runs out of GPU memory is retried with half as many slices, then on the CPU, each step told
    in one line to ``on_fallback`` (by default a :class:`~labelassist.errors.DeviceFallback` warning; see
    :class:`~labelassist.core.nets.device.OomFallback`).

    Returns
    -------
    masks : ndarray (z, y, x) uint8
        Probability at or above ``threshold``.
    probability : ndarray (z, y, x) float16
        On the slice grid.
    confidence : ndarray (z,)
        :func:`slice_confidence` of the probabilities at the working size.
    """
    from labelassist.core.nets.device import resolve_device

    device = resolve_device(device)
    norm = normalise_volume(check_image(image))
    x = stack_inputs(norm, check_cam(cam, norm.shape[:3], model.meta), int(model.meta["context"]),
                     int(model.meta["input_size"]))
    p = predict_tensor(model.net, x, device, batch_size, tta, on_fallback=on_fallback)
    return to_grid(p, norm.shape[1:3], threshold)


def to_grid(p, shape, threshold):
    """Working-grid probabilities (tensor (z, S, S)) to ``(masks, probability float16, confidence)`` on the slice grid
    ``shape``; the confidence is :func:`slice_confidence` at the working size."""
    import torch.nn.functional as F

    conf = slice_confidence(p.numpy())
    if tuple(p.shape[-2:]) != tuple(shape):
        p = F.interpolate(p[:, None], size=tuple(shape), mode="bilinear", align_corners=False)[:, 0]
    prob = p.numpy()
    return (prob >= threshold).astype(np.uint8), prob.astype(np.float16), conf
