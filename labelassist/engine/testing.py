"""Small, fast inputs for tests and benchmarks of the GUI rooms: a random classifier checkpoint and a
synthetic volume with a bright blob, written as NIfTI (2 mm voxels, an offset origin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["make_tiny_checkpoint", "make_test_volume", "propagation_result"]


def make_tiny_checkpoint(path, *, seed: int = 0, input_size: int = 64) -> Path:
    """A randomly initialised ResNet18 checkpoint (seconds of CPU per volume at ``input_size``)."""
    import torch

    from labelassist.core.nets.checkpoint import default_meta, save_checkpoint
    from labelassist.core.nets.classifier import build_classifier

    torch.manual_seed(seed)
    model = build_classifier("resnet18", output_stride=16).eval()
    with torch.no_grad():  # make p(lesion) mostly high so that masks are not all gated away
        model.fc.bias[:] = torch.tensor([-2.0, 2.0])
    meta = default_meta("resnet18", input_size=input_size, output_stride=16)
    return save_checkpoint(model, Path(path), meta=meta)


def make_test_volume(path, *, shape=(6, 64, 64), seed: int = 0) -> Path:
    """A NIfTI volume (z, y, x) = ``shape``: smooth noise plus a bright disc on every slice."""
    import nibabel as nib
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    z, y, x = shape
    vol = ndimage.gaussian_filter(rng.random(shape).astype(np.float32), (0, 2, 2))
    yy, xx = np.mgrid[:y, :x]
    for k in range(z):
        r = max(3, min(y, x) // 6 - abs(k - z // 2))
        vol[k][(yy - y // 2) ** 2 + (xx - x // 3) ** 2 <= r * r] += 1.0
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    affine[:3, 3] = [-40.0, -50.0, 10.0]
    img = nib.Nifti1Image(vol.transpose(2, 1, 0).copy(), affine)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=2)
    path = Path(path)
    nib.save(img, str(path))
    return path


def propagation_result(masks, *, suggested=None, ranges=(), steps: int = 10):
    """A :class:`~labelassist.core.propagate.PropagationResult` with these masks, full confidence and the suggested
    lesions ``suggested`` (``k`` on the k-th) spanning the slice ``ranges`` (one ``(first, last)`` each), as a
    propagation returns them: for tests of what a review does with a result."""
    import numpy as np

    from labelassist.core.propagate.propagation import PropagationResult
    from labelassist.core.propagate.suggest import Suggestion

    masks = np.asarray(masks, np.uint8).copy()
    found = []
    for k, (a, b) in enumerate(ranges, start=1):
        here = np.asarray(suggested) == k
        area = here.reshape(len(here), -1).sum(1)
        found.append(Suggestion(label=k, slices=(int(a), int(b)), peak=int(np.argmax(area)), size=int(area.sum()),
                                score=1.0))
    return PropagationResult(masks=masks, probability=masks.astype(np.float16), confidence=np.ones(len(masks)),
                             model=None, meta={"steps": steps}, suggested=None if suggested is None else
                             np.asarray(suggested, np.int32), suggestions=found)
