"""Class activation maps from the ``grad-cam`` package, batched over slices, target class = lesion."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn as nn

from labelassist.core.nets.classifier import LESION, OUTPUT_STRIDES, finer_stride, model_output_stride, target_layer
from labelassist.core.nets.device import OomFallback, place
from labelassist.core.nets.inputs import resize_to, to_model_input
from labelassist.core.propose.params import CAM_METHODS
from labelassist.errors import Cancelled, ParameterError

__all__ = ["CAM_METHODS", "SLOW_METHODS", "cam_class", "compute_cams", "centre_cells", "shift_offsets"]

# One forward pass per activation channel (512 for a ResNet18): minutes a volume on a CPU.
SLOW_METHODS = ("scorecam", "ablationcam")


class GradTail(nn.Module):
    """A ResNet whose stem runs without autograd: gradients flow only through the head.

    Grad-CAM and its gradient-based siblings need the gradient at the target layer only; letting autograd
    record the whole network (as a plain model does) makes the backward pass cost as much as the forward
    pass again. Outputs equal the model's. Methods that need input gradients (FullGrad, ShapleyCAM) get
    the plain model.

    With ``tap=True`` even ``layer4[-1]`` runs without autograd and its output passes through :attr:`tap`
    (an identity), which is then the CAM's target layer: the activations are the same tensor and their
    gradient comes from the same pooling and ``fc`` backward, but no activation of ``layer4[-1]`` is kept for
    a backward pass and no weight gradient is computed (grad-cam retains the graph until its next call).
    """

    def __init__(self, model, *, tap: bool = False):
        super().__init__()
        self.inner = model
        self.tap = nn.Identity() if tap else None

    def forward(self, x):
        m = self.inner
        with torch.no_grad():
            x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
            x = m.layer3(m.layer2(m.layer1(x)))
            for block in m.layer4[:-1]:
                x = block(x)
            if self.tap is not None:
                x = m.layer4[-1](x)
        x = m.layer4[-1](x) if self.tap is None else self.tap(x.requires_grad_())
        return m.fc(torch.flatten(m.avgpool(x), 1))


_NEEDS_INPUT_GRADIENT = ("fullgrad", "shapleycam")
# Methods that read the target layer's activations (and gradients) only: they take the tapped GradTail.
# ScoreCAM and AblationCAM work on the target layer itself (AblationCAM swaps the module) and keep layer4[-1].
_UNTAPPED = (*_NEEDS_INPUT_GRADIENT, "scorecam", "ablationcam")


def centre_cells(maps, *, stride: float) -> np.ndarray:
    """Move an upsampled CAM half a feature cell up and left, onto the centres of the cells' receptive fields.

    grad-cam upsamples the target layer's map as an image (``cv2.resize``: cell ``i`` drawn at input pixel
    ``stride * i + (stride - 1) / 2``), but a torchvision ResNet's cell ``i`` looks at input pixel
    ``stride * i``: every strided convolution and the max-pool are padded ``k // 2``, so each halving maps
    output ``i`` to input ``2 i``. Left as it is, the heat map sits ``(stride - 1) / 2`` pixels (7.5 at output
    stride 16) below and to the right of what the classifier saw, half a cell beside every lesion.

    Parameters
    ----------
    maps : ndarray (N, S, S)
        CAMs at the model's input size.
    stride : float
        Input pixels per feature cell (``input_size / feature map size``).
    """
    import torch.nn.functional as F

    m = np.asarray(maps, dtype=np.float32)
    shift = (float(stride) - 1.0) / 2.0
    if m.ndim != 3 or shift <= 0:
        return m
    n, h, w = m.shape
    ys = (2.0 * (torch.arange(h, dtype=torch.float32) + shift) + 1.0) / h - 1.0
    xs = (2.0 * (torch.arange(w, dtype=torch.float32) + shift) + 1.0) / w - 1.0
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([gx, gy], -1)[None].expand(n, h, w, 2)
    out = F.grid_sample(torch.from_numpy(m)[:, None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[:, 0].numpy()


def shift_offsets(shifts: int, stride: float) -> list[tuple[int, int]]:
    """The ``shifts x shifts`` input offsets (pixels, down and right) that split one feature cell evenly."""
    steps = sorted({int(round(k * float(stride) / shifts)) for k in range(shifts)})
    return [(dy, dx) for dy in steps for dx in steps]


def _shift_input(x, dy: int, dx: int):
    """The input moved ``dy`` down and ``dx`` right, its first rows/columns repeated (no wrap-around)."""
    import torch.nn.functional as F

    if not dy and not dx:
        return x
    h, w = x.shape[-2:]
    return F.pad(x, (dx, 0, dy, 0), mode="replicate")[..., :h, :w]


def _unshift_maps(maps: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Maps of a shifted input back onto the unshifted input's pixels."""
    if not dy and not dx:
        return maps
    return np.pad(maps, ((0, 0), (0, dy), (0, dx)), mode="edge")[:, dy:, dx:]


def cam_class(method: str):
    """The grad-cam class for a method name."""
    import pytorch_grad_cam

    if method not in CAM_METHODS:
        raise ParameterError(f"method must be one of {', '.join(CAM_METHODS)}; got {method!r}")
    return getattr(pytorch_grad_cam, CAM_METHODS[method])


def compute_cams(
    model,
    slices,
    *,
    method: str = "gradcam",
    input_size: int,
    in_channels: int,
    batch_size: int = 16,
    device="cpu",
    shifts: int = 1,
    cam_stride: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    fallback: OomFallback | None = None,
):
    """CAMs and p(lesion) of a stack of slices.

    Parameters
    ----------
    model : torch.nn.Module
        A 2-class ResNet (class 1 = lesion).
    slices : ndarray (N, H, W) or (N, H, W, C)
        Slices in [0, 1] (see :func:`~labelassist.core.nets.inputs.normalise_volume`).
    method : str
        A key of :data:`CAM_METHODS` (default Grad-CAM).
    input_size, in_channels : int
        The model's input (from its checkpoint metadata).
    batch_size : int
        Slices per forward/backward pass; one grad-cam object serves every batch.
    device : str or torch.device
    shifts : int
        Shift averaging: 1 is the plain CAM. ``n`` runs every slice ``n x n`` times, its input moved by
        fractions of one feature cell (``stride / n``: 0 and 8 pixels for ``n = 2`` at output stride 16), and
        averages the maps moved back. A CAM is one value per feature cell, so a lesion smaller than a cell
        lights its whole cell; shifted cells overlap, and their mean follows the lesion at ``stride / n``
        resolution. Costs ``n**2`` passes; p(lesion) stays that of the unshifted pass. Needs target layers
        (not FullGrad).
    cam_stride : {8, 16, 32}, optional
        Take the CAM at this output stride when it is finer than the model's own (see
        :func:`~labelassist.core.nets.classifier.finer_stride`): the CAM passes run with the last strides
        removed, p(lesion) still comes from the model as trained. None (default) is the model's own. Needs
        a target layer (not FullGrad).
    progress : callable(done, total), optional
        Called after each batch.
    cancel : callable() -> bool, optional
        Checked before each batch; True raises :class:`~labelassist.errors.Cancelled`.
    fallback : OomFallback, optional
        Batch size and device to use instead of ``batch_size`` and ``device``, kept across calls. Either way,
        a batch that runs out of memory is retried with half as many slices, then on the CPU
        (:class:`~labelassist.core.nets.device.OomFallback`, one line told per step).

    Returns
    -------
    cams : ndarray of float32 (N, H, W)
        Each min-max scaled to [0, 1] and resized back to the slice grid. Always has a hot spot: gate
        negative slices by ``probs``.
    probs : ndarray of float32 (N,)
        p(lesion) = softmax of the same forward pass (of a plain pass at the model's own stride when
        ``cam_stride`` is finer).
    """
    cls = cam_class(method)
    slices = np.asarray(slices, dtype=np.float32)
    if slices.ndim not in (3, 4):
        raise ParameterError(f"slices must be (N, H, W) or (N, H, W, C), got shape {slices.shape}")
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(shifts, bool) or not isinstance(shifts, (int, np.integer)) or not 1 <= shifts <= 4:
        raise ParameterError(f"shifts must be an integer from 1 (no shift averaging) to 4, got {shifts!r}")
    if shifts > 1 and method == "fullgrad":
        raise ParameterError("shifts > 1 needs a CAM taken at a target layer; FullGrad has none: use shifts=1")
    if cam_stride is not None and cam_stride not in OUTPUT_STRIDES:
        raise ParameterError(f"cam_stride must be 8, 16 or 32, got {cam_stride!r}")
    state = fallback or OomFallback(batch_size=batch_size, device=device)
    model = place(model, state.device).eval()
    finer = cam_stride is not None and int(cam_stride) < model_output_stride(model)
    if finer and method == "fullgrad":
        raise ParameterError("cam_stride finer than the model's needs a CAM taken at a target layer; FullGrad has "
                             "none: leave cam_stride unset")
    n, shape = len(slices), slices.shape[1:3]
    cams = np.zeros((n, *shape), np.float32)
    probs = np.zeros(n, np.float32)
    runner = model if method in _NEEDS_INPUT_GRADIENT else GradTail(model, tap=method not in _UNTAPPED).eval()
    if method == "fullgrad":
        layers = []
    else:
        layers = [runner.tap if getattr(runner, "tap", None) is not None else target_layer(model)]
    with cls(model=runner, target_layers=layers) as cam:

        def one_batch(start, stop, dev):
            if cancel is not None and cancel():
                raise Cancelled()
            place(model, dev)
            if hasattr(cam, "device"):  # grad-cam moves inputs to where the model was when it was made
                cam.device = next(model.parameters()).device
            if hasattr(cam, "batch_size"):
                cam.batch_size = state.batch_size
            x = place(to_model_input(slices[start:stop], input_size=input_size, in_channels=in_channels), dev)
            maps, logits = _batch_maps(cam, model, x, layers, input_size, int(shifts),
                                       int(cam_stride) if finer else None)
            with torch.no_grad():
                probs[start:stop] = torch.softmax(logits, dim=1)[:, LESION].cpu().numpy()
            cams[start:stop] = np.clip(resize_to(maps, shape), 0.0, 1.0)
            if progress is not None:
                progress(stop, n)

        state.run(one_batch, n)
    return cams, probs


def _batch_maps(cam, model, x, layers, input_size: int, shifts: int, finer: int | None):
    """The CAMs (at the input size) and the logits of one batch; ``finer``: the finer output stride, or None."""
    if finer:
        with torch.no_grad():
            logits = model(x).detach().float()
    with finer_stride(model, finer) if finer else nullcontext():
        maps, stride = _cam_maps(cam, x, len(x), layers, input_size)
        if not finer:
            logits = cam.outputs.detach().float()
        if shifts > 1:
            for dy, dx in shift_offsets(shifts, stride)[1:]:
                moved, _ = _cam_maps(cam, _shift_input(x, dy, dx), len(x), layers, input_size)
                maps = maps + _unshift_maps(moved, dy, dx)
            maps = _rescale(maps)
    return maps, logits


def _cam_maps(cam, x, n: int, layers, input_size: int):
    """One grad-cam pass: maps at the input size, moved onto their cells' centres, and the cells' stride
    (input pixels per feature cell; None without a target layer)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(LESION)] * n)
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32))
    if not layers:
        return maps, None
    stride = input_size / max(int(cam.activations_and_grads.activations[-1].shape[-1]), 1)
    return centre_cells(maps, stride=stride), stride


def _rescale(maps: np.ndarray) -> np.ndarray:
    """Each map min-max scaled to [0, 1] (as grad-cam scales every single map)."""
    flat = maps.reshape(len(maps), -1)
    low, high = flat.min(1)[:, None, None], flat.max(1)[:, None, None]
    return ((maps - low) / np.maximum(high - low, 1e-7)).astype(np.float32)
