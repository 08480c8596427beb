"""The slice classifier: a torchvision ResNet with a 2-class head (background / lesion), never pretrained."""

from __future__ import annotations

from contextlib import contextmanager

from labelassist.errors import ParameterError

__all__ = ["ARCHS", "OUTPUT_STRIDES", "POOLS", "CLASS_NAMES", "LESION", "build_classifier", "target_layer",
           "model_output_stride", "finer_stride"]

ARCHS = ("resnet18", "resnet34", "resnet50")
CLASS_NAMES = ("background", "lesion")
LESION = 1
POOLS = ("avg", "max")
OUTPUT_STRIDES = (8, 16, 32)


def build_classifier(arch: str = "resnet18", *, in_channels: int = 3, num_classes: int = 2, output_stride: int = 32,
                     pool: str = "avg"):
    """A randomly initialised ResNet (``weights=None``: nothing is ever downloaded).

    Parameters
    ----------
    arch : {"resnet18", "resnet34", "resnet50"}
    in_channels : int
        Channels of the input (3 for grey replicated or RGB; the number of modalities otherwise).
    num_classes : int
        2: class 0 background, class 1 lesion.
    output_stride : {32, 16, 8}
        32 is torchvision's ResNet. 16 removes the stride of ``layer4``: the CAM (taken there) gets twice
        the resolution (8 x 8 at a 128 input instead of 4 x 4) for about 1.7x the compute. 8 removes the
        stride of ``layer3`` too (16 x 16 at 128, about 3x the compute of 16). The weights of all three
        have the same shapes, so one can start from another (``train_classifier(init=...)``).
    pool : {"avg", "max"}
        How the last feature map becomes the slice's features. "avg" is torchvision's ResNet. "max" makes the
        classifier a multiple-instance learner: a slice is as lesion-like as its most lesion-like place, so
        every place of a lesion-free slice must look lesion-free and the evidence stays where the lesion is.
        Grad-CAM's channel weights are the same either way (the mean gradient is ``fc weight / (h w)``).
    """
    import torch.nn as nn
    import torchvision.models as tvm

    if arch not in ARCHS:
        raise ParameterError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if int(in_channels) < 1:
        raise ParameterError(f"in_channels must be >= 1, got {in_channels}")
    if pool not in POOLS:
        raise ParameterError(f"pool must be one of {', '.join(POOLS)}; got {pool!r}")
    if output_stride not in OUTPUT_STRIDES:
        raise ParameterError(f"output_stride must be 8, 16 or 32, got {output_stride}")
    model = getattr(tvm, arch)(weights=None, num_classes=num_classes)
    unstrided = {32: (), 16: (model.layer4,), 8: (model.layer3, model.layer4)}[output_stride]
    for layer in unstrided:
        for conv in _strided_convs(layer[0]):
            conv.stride = (1, 1)
    if pool == "max":
        model.avgpool = nn.AdaptiveMaxPool2d(1)  # the name stays: GradTail and torchvision's forward call it
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


def target_layer(model):
    """The CAM's target layer: ``layer4[-1]``."""
    return model.layer4[-1]


def _strided_convs(block) -> list:
    """The convolutions of a ResNet stage's first block that carry its stride (conv1/conv2 and the shortcut)."""
    convs = [c for c in (block.conv1, getattr(block, "conv2", None)) if c is not None and c.stride != (1, 1)]
    if block.downsample is not None and block.downsample[0].stride != (1, 1):
        convs.append(block.downsample[0])
    return convs


def model_output_stride(model) -> int:
    """Input pixels per cell of ``layer4``'s feature map: 32 for torchvision's ResNet, 16 or 8 with fewer strides."""
    stride = 4  # conv1 and the max-pool
    for layer in (model.layer2, model.layer3, model.layer4):
        stride *= 2 if _strided_convs(layer[0]) else 1
    return stride


@contextmanager
def finer_stride(model, output_stride: int):
    """Run ``model`` at a finer output stride inside the ``with`` block: the strides of ``layer4`` (then
    ``layer3``) are removed and restored afterwards, the weights untouched.

    The CAM of a stride-16 classifier taken at stride 8 has four times as many cells, each looking at half
    the context; nothing is retrained. A stride at or above the model's own changes nothing.
    """
    if output_stride not in OUTPUT_STRIDES:
        raise ParameterError(f"output_stride must be 8, 16 or 32, got {output_stride}")
    changed = []
    try:
        for layer in (model.layer4, model.layer3):
            if model_output_stride(model) <= output_stride:
                break
            for conv in _strided_convs(layer[0]):
                changed.append((conv, conv.stride))
                conv.stride = (1, 1)
        yield model
    finally:
        for conv, stride in changed:
            conv.stride = stride
