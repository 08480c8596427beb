"""A small 2-D U-Net: the segmentation net that learns from the reviewer's slices (docs/architecture.md, learning from corrections).

Small on purpose (16 base channels, 3 down-sampling levels, about 0.5 M parameters): it trains in
well under a minute on two CPU cores at 96-128 pixels and still has the receptive field to see a
lesion against the anatomy around it.
"""

from __future__ import annotations

__all__ = ["UNet", "build_unet", "UNET_DEFAULTS"]

UNET_DEFAULTS = {"base_channels": 16, "depth": 3}


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


def build_unet(in_channels: int, *, base_channels: int = 16, depth: int = 3):
    """A :class:`UNet` with ``in_channels`` inputs and one output (the lesion logit per pixel).

    Parameters
    ----------
    in_channels : int
        Image channels (modalities x neighbouring slices) plus one when the CAM is an input.
    base_channels : int
        Channels of the first level; doubled at every level down.
    depth : int
        Number of 2x down-sampling steps (the input side must be a multiple of ``2 ** depth``).
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
        raise ValueError(f"in_channels, base_channels and depth must be >= 1, got {in_channels}, {base_channels}, {depth}")
    return UNet()


def UNet(in_channels: int, **kwargs):  # noqa: N802 - a constructor by its usual name
    """Alias of :func:`build_unet`."""
    return build_unet(in_channels, **kwargs)
