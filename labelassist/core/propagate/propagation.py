"""Learning from the reviewer (docs/architecture.md, learning from corrections): a small U-Net trained on the reviewed slices of a volume
predicts every unreviewed slice, with a confidence per slice for the review queue.

Truth: accepted and corrected slices (their labels), rejected slices (empty). Optionally, weak targets:
the BoundaryFit pseudo-labels of unreviewed slices at a low weight. The net sees the slice with its
neighbours (``context``) and, optionally, the CAM; it trains at a working resolution of at most
``max_size`` pixels and its probabilities are mapped back to the slice grid. Reviewed slices are never
changed by a prediction. The net is kept per project (:func:`save_segmenter`) and fine-tuned volume
after volume (pass it back as ``model``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from labelassist.core.nets.inputs import MODEL_MEAN, MODEL_STD, normalise_volume
from labelassist.core.nets.segmenter_checkpoint import SEG_FORMAT, Segmenter, load_segmenter, save_segmenter
from labelassist.core.propagate.data import _augment, _crop, _loss, _resize_masks, _stack_inputs, _working_size
from labelassist.core.nets.unet import build_unet
from labelassist.errors import Cancelled, ParameterError

__all__ = ["Segmenter", "PropagationResult", "propagate", "predict", "slice_confidence", "NET_THRESHOLD",
           "keep_connected", "save_segmenter", "load_segmenter", "SEG_FORMAT"]

@dataclass
class PropagationResult:
    """What :func:`propagate` returns.

    Attributes
    ----------
    masks : ndarray (z, y, x) uint8
        The reviewer's labels on reviewed slices (empty on rejected ones), the net's masks elsewhere.
    probability : ndarray (z, y, x) float16
        The net's lesion probability on the slice grid (reviewed slices: their truth, 0 or 1).
    confidence : ndarray (z,) float
        Per slice in [0, 1]; 1 on reviewed slices. See :func:`slice_confidence`.
    model : Segmenter
        The trained net (save it with :func:`save_segmenter`, pass it back to fine-tune).
    meta : dict
        Figures of this run: slices used, steps, seconds, device, final loss.
    """

    masks: np.ndarray
    probability: np.ndarray
    confidence: np.ndarray
    model: Segmenter
    meta: dict = field(default_factory=dict)


# -- prediction -------------------------------------------------------------------------------------
# The net learns from batches half of which come from lesion slices, cropped around the lesion: it sees
# lesion far more often than a volume holds it, and at 0.5 it over-draws (false positives were most of its
# error on every demo volume looked at). 0.8, chosen on demo volumes of seed 7 (simulated review, Dice at 5
# corrections: 0.73 at 0.5, 0.82 at 0.8, 0.75 at 0.9), not on the benchmark's.
NET_THRESHOLD = 0.8


def slice_confidence(probability, *, low: float = 0.2, high: float = 0.8, prior: float = 10.0) -> np.ndarray:
    """Per-slice confidence in [0, 1]: one minus the share of undecided pixels in what the net calls lesion.

    ``1 - n(low < p < high) / (n(p > low) + prior)``: a slice the net calls empty everywhere, or a lesion
    with a crisp edge, is near 1; a faint blob or a ragged, half-sure lesion is low. ``prior`` (pixels)
    keeps a lone undecided pixel from making a slice look hopeless.
    """
    p = np.asarray(probability, dtype=np.float32)
    p = p.reshape(len(p), -1) if p.ndim > 1 else p[None]
    undecided = ((p > low) & (p < high)).sum(1)
    support = (p > low).sum(1)
    return 1.0 - undecided / (support + prior)


def _predict_tensor(net, x, device, batch_size, tta, progress=None, cancel=None, done=0, total=0):
    import torch

    net.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            if cancel is not None and cancel():
                raise Cancelled()
            xb = x[s : s + batch_size].to(device)
            p = net(xb).sigmoid()
            if tta:
                p = (p + net(xb.flip(-1)).sigmoid().flip(-1)) / 2
            out.append(p.float().cpu())
            if progress is not None:
                progress(done + s // batch_size + 1, total)
    return torch.cat(out)


def predict(image, model: Segmenter, *, cam=None, device="auto", threshold: float = NET_THRESHOLD, tta: bool = True,
            batch_size: int = 32):
    """The net's masks, probabilities (float16, slice grid) and per-slice confidence for every slice of ``image``."""
    from labelassist.core.nets.device import resolve_device

    device = resolve_device(device)
    norm = normalise_volume(_check_image(image))
    x = _stack_inputs(norm, _check_cam(cam, norm.shape[:3], model.meta), int(model.meta["context"]),
                      int(model.meta["input_size"]))
    model.net.to(device)
    p = _predict_tensor(model.net, x, device, batch_size, tta)
    return _to_grid(p, norm.shape[1:3], threshold)


def _to_grid(p, shape, threshold):
    import torch.nn.functional as F

    conf = slice_confidence(p.numpy())
    if tuple(p.shape[-2:]) != tuple(shape):
        p = F.interpolate(p[:, None], size=tuple(shape), mode="bilinear", align_corners=False)[:, 0]
    prob = p.numpy()
    return (prob >= threshold).astype(np.uint8), prob.astype(np.float16), conf


def _check_image(image):
    a = np.asarray(image)
    if a.ndim not in (3, 4):
        raise ParameterError(f"image must be a volume (z, y, x) or (z, y, x, c), got shape {a.shape}")
    return a


def _check_cam(cam, shape, meta):
    if bool(meta.get("use_cam")) and cam is None:
        raise ParameterError("this net was trained with the CAM as an input: pass cam (z, y, x) too")
    if not meta.get("use_cam"):
        return None
    cam = np.asarray(cam, dtype=np.float32)
    if cam.shape != tuple(shape):
        raise ParameterError(f"cam has shape {cam.shape} but the volume's slices are {tuple(shape)}; they must match")
    return np.nan_to_num(cam)


# -- training ---------------------------------------------------------------------------------------
def propagate(
    image,
    labels,
    reviewed: Iterable[int],
    *,
    rejected: Iterable[int] = (),
    cam=None,
    weak=None,
    weak_weight: float = 0.1,
    model: Segmenter | None = None,
    steps: int | None = None,
    batch_size: int = 8,
    lr: float | None = None,
    context: int = 1,
    max_size: int = 128,
    crop: int | None = 64,
    base_channels: int = 8,
    depth: int = 3,
    threshold: float = NET_THRESHOLD,
    connected: bool = True,
    tta: bool = True,
    device="auto",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> PropagationResult:
    """Train (or fine-tune) the U-Net on the reviewed slices of a volume and predict every other slice.

    Parameters
    ----------
    image : ndarray (z, y, x) or (z, y, x, c)
        The volume's intensities (normalised here over the whole volume).
    labels : ndarray (z, y, x)
        The reviewer's label volume; non-zero is lesion. Only reviewed slices are read.
    reviewed : iterable of int
        Accepted, corrected and rejected slices: their labels are the truth.
    rejected : iterable of int
        Slices the reviewer rejected: truth is empty whatever ``labels`` holds there.
    cam : ndarray (z, y, x) in [0, 1], optional
        A second input channel for a new net (a loaded net uses it when it was trained with it).
    weak : ndarray (z, y, x), optional
        Pseudo-labels (e.g. BoundaryFit) used on unreviewed slices as targets of weight ``weak_weight`` times
        their Dice with the truth on the reviewed slices (pseudo-labels that missed what the reviewer drew
        teach nothing; ``meta["weak_weight"]`` is the weight used).
    model : Segmenter, optional
        A net to fine-tune (not modified: the result holds a trained copy); its inputs decide ``context``,
        ``max_size`` and the CAM channel. Until a reviewed slice shows a lesion it only predicts: fine-tuning
        on lesion-free slices alone would teach it to see no lesion anywhere (``meta["steps"]`` is then 0).
    steps, batch_size, lr
        Optimisation: default 200 steps from scratch, 100 to fine-tune; lr 1e-2 from scratch, 3e-3 to fine-tune.
    context : int
        Neighbouring slices on each side given as extra input channels (0: the slice alone).
    max_size, base_channels, depth
        Working resolution (longest side, pixels) and the U-Net's size.
    crop : int or None
        Train on squares of this side (pixels of the working grid; most around a lesion) rather than on whole
        slices: several times faster, and the lesion is not a speck in a sea of background.
    threshold : float
        Probability above which a pixel is lesion (:data:`NET_THRESHOLD`, 0.8: the net's training batches are
        rich in lesion, so its probabilities run high).
    connected : bool
        Keep only the lesions the reviewer has drawn, carried through the volume: the predicted voxels
        3-D-connected (faces) to a lesion on a reviewed slice. On small, faint lesions most of what a net
        trained on a few slices adds elsewhere is false (demo MRI, 3 lesion and 2 lesion-free slices given:
        mean Dice 0.46 kept whole, 0.72 kept connected, over 8 volumes). A lesion never drawn is then left
        out of the masks, not of ``probability`` and ``confidence``, which the review queue reads to send the
        reviewer there. Not applied while no reviewed slice shows a lesion.
    tta : bool
        Average the prediction with that of the mirrored slice.
    device : str or torch.device
        ``"auto"``: CUDA, then MPS, then the CPU.
    seed : int
        Makes initialisation, sampling and augmentation reproducible.
    progress : callable(done, total), optional
        Called after every training step and every prediction batch.
    cancel : callable() -> bool, optional
        Checked between steps and batches; a cancel raises :class:`~labelassist.errors.Cancelled` and
        nothing is returned (a ``model`` passed in is left as it was).

    Returns
    -------
    PropagationResult
    """
    import torch

    from labelassist.core.nets.device import resolve_device

    started = time.perf_counter()
    image = _check_image(image)
    z = image.shape[0]
    lab = np.asarray(labels)
    if lab.shape != image.shape[:3]:
        raise ParameterError(f"labels have shape {lab.shape} but the volume is {image.shape[:3]}; they must match")
    rev = sorted({_index(i, z, "reviewed") for i in reviewed})
    rej = {_index(i, z, "rejected") for i in rejected}
    if rej - set(rev):
        rev = sorted(set(rev) | rej)
    truth = np.zeros((len(rev), *lab.shape[1:]), np.float32)
    for k, i in enumerate(rev):
        if i not in rej:
            truth[k] = np.nan_to_num(np.asarray(lab[i], np.float32)) > 0
    positive = truth.reshape(len(rev), -1).any(1) if rev else np.zeros(0, bool)
    if model is None and not rev:
        raise ParameterError("reviewed is empty: accept or correct at least one slice that shows a lesion first")
    if model is None and not positive.any():
        raise ParameterError("no reviewed slice shows a lesion: accept or correct at least one slice with a lesion first")
    if weak is not None and np.shape(weak) != image.shape[:3]:
        raise ParameterError(f"weak has shape {np.shape(weak)} but the volume is {image.shape[:3]}; they must match")
    if not 0.0 <= weak_weight <= 1.0 or not 0.0 < threshold < 1.0:
        raise ParameterError(f"weak_weight must be in [0, 1] and threshold in (0, 1); got {weak_weight}, {threshold}")
    if context < 0 or batch_size < 1 or (steps is not None and steps < 0):
        raise ParameterError(f"context and steps must be >= 0 and batch_size >= 1; got {context}, {steps}, {batch_size}")
    device = resolve_device(device)
    n_image = (1 if image.ndim == 3 else image.shape[-1])
    if model is not None:
        meta = copy.deepcopy(model.meta)
        if int(meta["image_channels"]) != n_image * (2 * int(meta["context"]) + 1):
            raise ParameterError(f"the net was trained on {meta['image_channels']} image channels; this volume "
                                 f"gives {n_image * (2 * int(meta['context']) + 1)}: use a net trained on alike volumes")
        torch.manual_seed(seed)
        net = copy.deepcopy(model.net).to(device)
        # Lesion-free reviewed slices alone teach a net that nothing is lesion: 100 such steps after a
        # lesion-free volume wiped out all it had learnt from the volumes before (probability 0.00 on every
        # lesion, its training volumes' too). Without a reviewed lesion slice it only predicts.
        learn = bool(positive.any())
        steps = (100 if learn else 0) if steps is None else (steps if learn else 0)
        lr = 3e-3 if lr is None else lr
    else:
        size = _working_size(image.shape[1:3], max_size, depth)
        meta = {"arch": "unet", "in_channels": n_image * (2 * context + 1) + (cam is not None),
                "image_channels": n_image * (2 * context + 1), "base_channels": base_channels, "depth": depth,
                "input_size": size, "context": context, "use_cam": cam is not None, "threshold": threshold,
                "normalisation": {"method": "percentile", "low": 0.5, "high": 99.5, "mean": MODEL_MEAN,
                                  "std": MODEL_STD},
                "training": {"runs": 0, "reviewed_slices": 0, "steps": 0, "history": []}}
        torch.manual_seed(seed)
        net = build_unet(meta["in_channels"], base_channels=base_channels, depth=depth).to(device)
        steps = 200 if steps is None else steps
        lr = 1e-2 if lr is None else lr
    size, n_img_ch = int(meta["input_size"]), int(meta["image_channels"])
    norm = normalise_volume(image)
    x = _stack_inputs(norm, _check_cam(cam, image.shape[:3], meta), int(meta["context"]), size)

    # training set: reviewed slices (weight 1) and, optionally, weak targets on the others
    ys, ws, idx, pools = [], [], [], {"positive": [], "negative": [], "weak": []}
    if rev:
        ys.append(_resize_masks(truth, size))
        ws.append(torch.ones(len(rev), size, size))
        idx += rev
        for k in range(len(rev)):
            pools["positive" if positive[k] else "negative"].append(k)
    unrev = [i for i in range(z) if i not in set(rev)]
    agreement = _weak_agreement(weak, rev, truth)
    weight = float(weak_weight) * (1.0 if agreement is None else agreement)
    if weak is not None and weight > 0 and unrev and steps:
        ys.append(_resize_masks(np.nan_to_num(np.asarray(weak, np.float32)[unrev]) > 0, size))
        ws.append(torch.full((len(unrev), size, size), weight))
        pools["weak"] = list(range(len(idx), len(idx) + len(unrev)))
        idx += unrev
    share = {"positive": 0.5, "negative": 0.3, "weak": 0.2}
    names = [k for k in share if pools[k]]
    probs = np.array([share[k] for k in names]) / sum(share[k] for k in names) if names else None
    y_all = torch.cat(ys) if ys else None
    w_all = torch.cat(ws) if ws else None
    x_train = x[idx] if idx else None

    n_pred = -(-z // 32)
    total = steps + n_pred
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.15)
    losses = []
    net.train()
    for step in range(steps):
        if cancel is not None and cancel():
            raise Cancelled()
        pick = [pools[names[j]][rng.integers(len(pools[names[j]]))] for j in rng.choice(len(names), batch_size, p=probs)]
        xb, yb, wb = _augment(x_train[pick], y_all[pick], w_all[pick], gen, n_img_ch)
        if crop and crop < size:
            xb, yb, wb = _crop(xb, yb, wb, crop, rng)
        xb, yb, wb = xb.to(device), yb.to(device), wb.to(device)
        opt.zero_grad()
        loss = _loss(net(xb), yb, wb)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, total)
    p = _predict_tensor(net, x, device, 32, tta, progress, cancel, steps, total)
    masks, prob, conf = _to_grid(p, image.shape[1:3], threshold)
    for k, i in enumerate(rev):  # reviewed slices are never changed by a prediction
        masks[i] = 0 if i in rej else np.asarray(lab[i] > 0, np.uint8)
        prob[i] = truth[k]
        conf[i] = 1.0
    anchors = [i for k, i in enumerate(rev) if positive[k]]
    dropped = keep_connected(masks, anchors) if connected and anchors else 0
    net.eval()
    seconds = round(time.perf_counter() - started, 2)
    run = {"reviewed": len(rev), "positive": int(positive.sum()), "weak": len(pools["weak"]), "steps": steps,
           "weak_agreement": None if agreement is None else round(agreement, 3), "weak_weight": round(weight, 4),
           "connected": bool(connected), "dropped_components": dropped, "seconds": seconds, "device": str(device),
           "loss": round(float(np.mean(losses[-20:])), 4) if losses else None,
           "seed": seed}
    if steps:
        tr = meta["training"]
        tr["runs"] = int(tr.get("runs", 0)) + 1
        tr["reviewed_slices"] = int(tr.get("reviewed_slices", 0)) + len(rev)
        tr["steps"] = int(tr.get("steps", 0)) + steps
        tr["history"] = (list(tr.get("history", [])) + [run])[-50:]
    return PropagationResult(masks=masks, probability=prob, confidence=conf, model=Segmenter(net, meta), meta=run)


def keep_connected(masks, anchors) -> int:
    """Clear, in place, every 3-D lesion component of ``masks`` that touches no lesion on the slices ``anchors``.

    Components are face-connected (6-connectivity). Returns how many components were cleared.
    """
    from scipy import ndimage as ndi

    lab, n = ndi.label(masks)
    kept = np.unique(lab[list(anchors)])
    keep = np.zeros(n + 1, bool)
    keep[kept] = True
    keep[0] = False
    masks[~keep[lab]] = 0
    return int(n - np.count_nonzero(keep))


def _weak_agreement(weak, rev, truth):
    """How far the weak targets agree with the reviewer on the reviewed slices: their pooled Dice in [0, 1].

    Pseudo-labels are worth learning from only as far as they were right where the reviewer looked; a cold
    start that missed every reviewed lesion would otherwise teach the net to miss the rest. None when there
    is nothing to compare (no weak targets, or neither they nor the truth mark anything on reviewed slices).
    """
    if weak is None or not rev:
        return None
    w = np.nan_to_num(np.asarray(weak, np.float32)[rev]) > 0
    t = truth > 0
    total = int(w.sum()) + int(t.sum())
    return None if total == 0 else 2.0 * int((w & t).sum()) / total


def _index(i, z, name):
    try:
        k = int(i)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must hold slice indices, got {i!r}") from None
    if not 0 <= k < z:
        raise ParameterError(f"{name} slice {i} is outside the volume's 0-{z - 1}")
    return k
