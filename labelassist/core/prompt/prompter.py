"""Box prompts on one slice: the image embedding (cached), then a box to a mask on the slice's own grid.

:class:`BoxPrompter` owns the mechanics (normalise, pad, encode, cache, decode, map back); a variant overrides
one method, :meth:`BoxPrompter.prepare` (how a normalised slice becomes the encoder's input), in the way a
pytorch-grad-cam variant overrides ``get_cam_weights``.

Geometry. A slice is a 2-D array ``(rows, columns)`` (``volume[k]`` of a ``(z, y, x)`` volume: rows along y,
the volume's array axis 1, columns along x, its axis 2). A box is ``(r0, c0, r1, c1)``, inclusive indices of
that array. The slice is scaled so that its longer side is 256 pixels (the aspect ratio kept) and padded at the
bottom and right with zeros to 256 x 256; pixel centre ``p`` goes to ``(p + 0.5) * s - 0.5`` with ``s = 256 /
max(rows, columns)``, and the decoder's 256 x 256 logits are cropped to the scaled slice and resized back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from labelassist.core.nets.inputs import apply_normalisation, check_channels, normalisation_ranges
from labelassist.core.prompt.model import INPUT_SIZE, load_litemedsam
from labelassist.errors import Cancelled, ParameterError

__all__ = ["BoxPrompter", "Embedding", "BoxMask", "check_box", "CACHE_MB"]

# Default bound of the embedding cache: a LiteMedSAM embedding is 256 x 64 x 64 float32, 4 MiB a slice, so
# 256 MiB holds 64 slices (a lesion's slices and their neighbours several times over).
CACHE_MB = 256.0


@dataclass(frozen=True)
class Embedding:
    """The image encoder's output for one slice.

    Attributes
    ----------
    features : torch.Tensor, shape (1, 256, 64, 64), float32
        On the prompter's device.
    shape : tuple of 2 ints
        The slice's own ``(rows, columns)``.
    """

    features: object
    shape: tuple

    @property
    def scale(self) -> float:
        """Model pixels per slice pixel: ``256 / max(rows, columns)``."""
        return INPUT_SIZE / max(self.shape)

    @property
    def nbytes(self) -> int:
        """Memory the features hold."""
        return int(self.features.element_size() * self.features.nelement())


@dataclass(frozen=True)
class BoxMask:
    """What one box prompt gave.

    Attributes
    ----------
    mask : ndarray of bool, shape (rows, columns)
        On the slice's own grid.
    iou : float
        The decoder's own prediction of the mask's IoU with the truth (0-1; low means unsure).
    box : tuple of 4 ints
        The box prompted, ``(r0, c0, r1, c1)`` inclusive.
    """

    mask: np.ndarray
    iou: float
    box: tuple


def check_box(box, shape, *, name: str = "box") -> tuple:
    """``box`` as 4 ints ``(r0, c0, r1, c1)`` inside a slice of ``shape`` (rows, columns), else one line.

    Raises
    ------
    ParameterError
        Not 4 whole numbers, ``r0 > r1`` or ``c0 > c1``, or a corner outside the slice; the message names
        ``name`` and the valid range.
    """
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be 4 whole numbers r0, c0, r1, c1, got {box!r}") from None
    if len(values) != 4 or not all(np.isfinite(v) and v == int(v) for v in values):
        raise ParameterError(f"{name} must be 4 whole numbers r0, c0, r1, c1, got {box!r}")
    r0, c0, r1, c1 = (int(v) for v in values)
    rows, cols = int(shape[0]), int(shape[1])
    if r0 > r1 or c0 > c1:
        raise ParameterError(f"{name} {r0},{c0},{r1},{c1}: the first corner must not pass the second "
                             f"(r0 <= r1 and c0 <= c1)")
    if r0 < 0 or c0 < 0 or r1 >= rows or c1 >= cols:
        raise ParameterError(f"{name} {r0},{c0},{r1},{c1} lies outside the slice: rows must be in [0, {rows - 1}] "
                             f"and columns in [0, {cols - 1}]")
    return r0, c0, r1, c1


def _check_slice(slice2d) -> np.ndarray:
    a = np.asarray(slice2d)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or min(a.shape[:2]) < 1:
        raise ParameterError(f"slice2d must be (rows, columns) or (rows, columns, channels), got shape "
                             f"{np.shape(slice2d)}")
    check_channels(a.shape[-1], 3)
    return a


class BoxPrompter:
    """Box prompts with LiteMedSAM on slices, with a bounded cache of image embeddings.

    Parameters
    ----------
    model : torch.nn.Module, optional
        A LiteMedSAM from :func:`~labelassist.core.prompt.model.load_litemedsam` (loaded on ``device`` when
        not given).
    device : str or torch.device, keyword-only
        Where the model is loaded when ``model`` is None (an existing model stays where it is).
    cache_mb : float, keyword-only
        Most memory the embedding cache holds (MiB; about 4 a slice); the least recently used go first.
        0 caches nothing.
    clip_to_box : bool, keyword-only
        Keep only the mask inside the prompted box (default True: a box says where the lesion is; the
        decoder sometimes adds a sliver of a neighbouring structure beyond it).

    Notes
    -----
    Work is serialised by a lock: one prompter may be shared between threads (an engine thread and its
    caller), not run in parallel.
    """

    input_size = INPUT_SIZE

    def __init__(self, model=None, *, device="cpu", cache_mb: float = CACHE_MB, clip_to_box: bool = True):
        try:
            cache_mb = float(cache_mb)
        except (TypeError, ValueError):
            raise ParameterError(f"cache_mb must be a number of MiB >= 0, got {cache_mb!r}") from None
        if not np.isfinite(cache_mb) or cache_mb < 0:
            raise ParameterError(f"cache_mb must be a number of MiB >= 0, got {cache_mb}")
        self.model = model if model is not None else load_litemedsam(device=device)
        self.device = next(self.model.parameters()).device
        self.cache_limit = int(cache_mb * 2**20)
        self.clip_to_box = bool(clip_to_box)
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.RLock()
        self._dense_pe = None  # the decoder's positional encoding: the same for every prompt, made once

    # -- the one method a variant overrides ---------------------------------------------------------------
    def prepare(self, image):
        """The encoder's input from a normalised slice.

        Parameters
        ----------
        image : ndarray of float32, shape (rows, columns, 3), in [0, 1]

        Returns
        -------
        torch.Tensor, shape (1, 3, 256, 256)
            Scaled so that the longer side is 256 (bilinear, antialiased when shrinking; the aspect ratio
            kept), padded at the bottom and right with 0. LiteMedSAM takes [0, 1] as it is (no mean/std).
        """
        import torch
        import torch.nn.functional as F

        rows, cols = image.shape[:2]
        s = self.input_size / max(rows, cols)
        new = (max(1, round(rows * s)), max(1, round(cols * s)))
        t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
        if new != (rows, cols):
            t = F.interpolate(t, size=new, mode="bilinear", align_corners=False, antialias=s < 1)
        return F.pad(t, (0, self.input_size - new[1], 0, self.input_size - new[0]))

    # -- mechanics ----------------------------------------------------------------------------------------
    def normalised(self, slice2d, *, ranges=None) -> np.ndarray:
        """``slice2d`` scaled to [0, 1] with the volume's percentile ``ranges`` and given 3 channels.

        Parameters
        ----------
        slice2d : array_like, shape (rows, columns) or (rows, columns, 1 or 3)
        ranges : list of (lo, hi), optional, keyword-only
            :func:`labelassist.core.nets.inputs.normalisation_ranges` of the whole volume (one per channel),
            so that every slice is scaled alike. None: the slice's own percentiles.
        """
        a = _check_slice(slice2d)
        ranges = normalisation_ranges(a) if ranges is None else list(ranges)
        if len(ranges) != a.shape[-1]:
            raise ParameterError(f"ranges holds {len(ranges)} channel range(s) but the slice has {a.shape[-1]} "
                                 "channel(s); pass normalisation_ranges() of the volume the slice comes from")
        out = np.array(a, dtype=np.float32, copy=True)
        apply_normalisation(out, ranges)
        return np.repeat(out, 3, axis=-1) if out.shape[-1] == 1 else out

    def embed(self, slice2d, *, ranges=None, key: Hashable | None = None,
              cancel: Callable[[], bool] | None = None) -> Embedding:
        """The image embedding of one slice; cached under ``key`` when given.

        Parameters
        ----------
        slice2d : array_like, shape (rows, columns) or (rows, columns, 1 or 3)
            Raw intensities (any range).
        ranges : list of (lo, hi), optional, keyword-only
            The volume's percentiles (:meth:`normalised`).
        key : hashable, optional, keyword-only
            ``(volume key, slice index)``: an embedding cached under it is returned without running the
            encoder (``slice2d`` is then not looked at). None: not cached.
        cancel : callable() -> bool, optional, keyword-only
            Asked before the encoder runs (about 1.5 s a slice on two CPU cores).

        Raises
        ------
        Cancelled
            ``cancel()`` said so; nothing is cached.
        """
        import torch

        with self._lock:
            if key is not None and key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            image = self.normalised(slice2d, ranges=ranges)
            if cancel is not None and cancel():
                raise Cancelled()
            with torch.inference_mode():
                features = self.model.image_encoder(self.prepare(image).to(self.device))
            emb = Embedding(features=features, shape=tuple(int(n) for n in image.shape[:2]))
            if key is not None:
                self._store(key, emb)
            return emb

    def segment(self, source, box, *, ranges=None, key: Hashable | None = None,
                cancel: Callable[[], bool] | None = None) -> BoxMask:
        """The mask a box gives on one slice.

        Parameters
        ----------
        source : Embedding or array_like
            An :meth:`embed` result, or a slice (embedded first, with ``ranges``, ``key`` and ``cancel``).
        box : sequence of 4 ints
            ``(r0, c0, r1, c1)``, inclusive indices of the slice's rows and columns (:func:`check_box`).

        Returns
        -------
        BoxMask
            ``mask`` (bool, the slice's own shape) and the decoder's predicted ``iou``.
        """
        emb = source if isinstance(source, Embedding) else self.embed(source, ranges=ranges, key=key, cancel=cancel)
        box = check_box(box, emb.shape)
        with self._lock:
            logits, iou = self.decode(emb, box)
        mask = logits > 0
        if self.clip_to_box:
            r0, c0, r1, c1 = box
            inside = np.zeros_like(mask)
            inside[r0:r1 + 1, c0:c1 + 1] = True
            mask &= inside
        return BoxMask(mask=mask, iou=iou, box=box)

    def decode(self, emb: Embedding, box) -> tuple:
        """``(logits on the slice grid (float32 ndarray), predicted IoU)`` of a checked box."""
        import torch
        import torch.nn.functional as F

        s = emb.scale
        r0, c0, r1, c1 = ((v + 0.5) * s - 0.5 for v in box)
        net = self.model
        with torch.inference_mode():
            if self._dense_pe is None:
                self._dense_pe = net.prompt_encoder.get_dense_pe()
            boxes = torch.tensor([[[c0, r0, c1, r1]]], dtype=torch.float32, device=self.device)
            sparse, dense = net.prompt_encoder(points=None, boxes=boxes, masks=None)
            low, iou = net.mask_decoder(image_embeddings=emb.features, image_pe=self._dense_pe,
                                        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                        multimask_output=False)
            rows, cols = emb.shape
            low = low[..., :max(1, round(rows * s)), :max(1, round(cols * s))].float()
            logits = F.interpolate(low, size=(rows, cols), mode="bilinear", align_corners=False)[0, 0]
            return logits.cpu().numpy(), float(iou.reshape(-1)[0])

    # -- the cache ----------------------------------------------------------------------------------------
    def _store(self, key, emb: Embedding) -> None:
        if emb.nbytes > self.cache_limit:
            return
        self._cache[key] = emb
        while self.cache_bytes > self.cache_limit:
            self._cache.popitem(last=False)

    def cached(self, key: Hashable) -> Embedding | None:
        """The embedding cached under ``key``, or None."""
        with self._lock:
            return self._cache.get(key)

    @property
    def cache_bytes(self) -> int:
        """Memory the cached embeddings hold (bytes)."""
        return sum(e.nbytes for e in list(self._cache.values()))

    @property
    def cache_len(self) -> int:
        """How many embeddings are cached."""
        return len(self._cache)

    def clear_cache(self, volume_key: Hashable | None = None) -> None:
        """Drop every cached embedding, or those of one volume (keys ``(volume_key, slice)``)."""
        with self._lock:
            if volume_key is None:
                self._cache.clear()
                return
            for key in [k for k in self._cache if isinstance(k, tuple) and k[:1] == (volume_key,)]:
                del self._cache[key]
