"""The segmenter's architecture: a small 2-D U-Net (docs/architecture.md, learning from corrections).

The segmenter (:class:`~labelassist.core.nets.segmenter_checkpoint.Segmenter`) is the model that learns from
the reviewer's slices; this module only builds its layers. Small on purpose (:data:`BASE_CHANNELS` = 8
base channels, :data:`DEPTH` = 3 down-sampling levels: about 0.12 M parameters for the usual 3 or 4 input
channels), so that it trains in well under a minute on two CPU cores at 96-128 pixels and still has the
receptive field to see a lesion against the anatomy around it.
"""

from __future__ import annotations

from labelassist.errors import ParameterError

__all__ = ["build_unet", "BASE_CHANNELS", "DEPTH", "UNET_DEFAULTS"]

# Channels of the first level, doubled at every level down: 8 keeps the segmenter at about 0.12 M
# parameters (16 would be about 0.49 M, 4 times the compute for the few slices it learns from).
BASE_CHANNELS = 8
# 2x down-sampling steps: 3 gives a receptive field of a lesion and the anatomy around it at 96-128 pixels.
DEPTH = 3
UNET_DEFAULTS = {"base_channels": BASE_CHANNELS, "depth": DEPTH}


def _block(cin, cout):
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def build_unet(in_channels: int, *, base_channels: int = BASE_CHANNELS, depth: int = DEPTH):
    """The segmenter's U-Net with ``in_channels`` inputs and one output (the lesion logit per pixel).

    Parameters
    ----------
    in_channels : int
        Image channels (modalities x neighbouring slices) plus one when the CAM is an input.
    base_channels : int
        Channels of the first level; doubled at every level down.
    depth : int
        Number of 2x down-sampling steps (the input side must be a multiple of ``2 ** depth``).

    Returns
    -------
    torch.nn.Module
        Maps (n, in_channels, s, s) to logits (n, s, s).

    Raises
    ------
    ParameterError
        When ``in_channels``, ``base_channels`` or ``depth`` is below 1.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            chans = [base_channels * 2**i for i in range(depth + 1)]
            self.down = nn.ModuleList([_block(in_channels, chans[0])] +
                                      [_block(chans[i], chans[i + 1]) for i in range(depth)])
            self.up = nn.ModuleList([_block(chans[i + 1] + chans[i], chans[i]) for i in reversed(range(depth))])
            self.head = nn.Conv2d(chans[0], 1, 1)

        def forward(self, x):
            skips = []
            for i, block in enumerate(self.down):
                x = block(x if i == 0 else F.max_pool2d(x, 2))
                skips.append(x)
            skips.pop()
            for block in self.up:
                skip = skips.pop()
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
                x = block(torch.cat([x, skip], 1))
            return self.head(x)[:, 0]

    if in_channels < 1 or base_channels < 1 or depth < 1:
        raise ParameterError(f"in_channels, base_channels and depth must each be >= 1; got {in_channels}, "
                             f"{base_channels}, {depth}")
    return UNet()
