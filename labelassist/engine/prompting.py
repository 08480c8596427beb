"""The box tool's work in the engine thread: LiteMedSAM loaded once, on the engine's device, when the first box
is drawn; slice embeddings cached per volume (computed ahead around the shown slice); a box to a mask; one lesion
carried in 3-D from one box.

Each job is a function ``fn(ctx, progress, cancel, **kwargs)`` for :meth:`~labelassist.engine.Engine.call`; a
cancelled job raises :class:`~labelassist.errors.Cancelled` and returns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from labelassist.errors import Cancelled

__all__ = ["Prompts", "BoxResult", "prompts_of", "embed_job", "box_job", "carry_job"]


class Prompts:
    """LiteMedSAM's :class:`~labelassist.core.prompt.BoxPrompter`, the model's identity and the normalisation of
    the volume it prompts (one per engine)."""

    def __init__(self, device):
        from labelassist.core.prompt import BoxPrompter, identity, load_litemedsam

        self.prompter = BoxPrompter(load_litemedsam(device=device))
        self.identity = identity()
        self._ranges: tuple = (None, None)  # (volume token, normalisation ranges)

    def ranges(self, token, array) -> list:
        """The volume's percentile ranges, computed once per volume (every slice is scaled alike)."""
        from labelassist.core.nets.inputs import normalisation_ranges

        if self._ranges[0] != token:
            self.prompter.clear_cache()  # the previous volume's embeddings go with it
            self._ranges = (token, normalisation_ranges(array))
        return self._ranges[1]


@dataclass(frozen=True)
class BoxResult:
    """What a box job returns to the GUI thread: the slice, the mask (bool, the slice's shape) or the carried
    lesion, the box, the decoder's predicted IoU and the model's identity (for the slice's provenance)."""

    index: int
    box: tuple
    mask: object
    iou: float
    identity: dict
    carried: object = None  # a CarriedLesion (carry_job)


def prompts_of(ctx) -> Prompts:
    """The engine's :class:`Prompts`, loaded on first use (a few seconds; a missing or altered checkpoint is one
    line)."""
    if ctx.prompts is None:
        ctx.prompts = Prompts(ctx.device)
    return ctx.prompts


def _volume(ctx):
    pipe = ctx.pipeline  # ParameterError when no volume is open
    return pipe.array, ctx.volume_token


def embed_job(ctx, progress, cancel, *, indices) -> int:
    """Embed the slices ``indices`` ahead (the shown one first) so that a box on them is quick; returns how many
    were computed (cached ones cost nothing)."""
    array, token = _volume(ctx)
    p = prompts_of(ctx)
    ranges = p.ranges(token, array)
    done = 0
    for n, i in enumerate(int(i) for i in indices):
        if cancel():
            raise Cancelled()
        if 0 <= i < len(array) and p.prompter.cached((token, i)) is None:
            p.prompter.embed(array[i], ranges=ranges, key=(token, i), cancel=cancel)
            done += 1
        progress(n + 1, len(indices))
    return done


def box_job(ctx, progress, cancel, *, index: int, box) -> BoxResult:
    """The mask the box ``(r0, c0, r1, c1)`` gives on slice ``index``."""
    array, token = _volume(ctx)
    p = prompts_of(ctx)
    res = p.prompter.segment(array[int(index)], box, ranges=p.ranges(token, array), key=(token, int(index)),
                             cancel=cancel)
    return BoxResult(int(index), res.box, res.mask, float(res.iou), dict(p.identity))


def carry_job(ctx, progress, cancel, *, index: int, box) -> BoxResult:
    """One lesion in 3-D: the box's mask on slice ``index`` carried to the slices around it
    (:func:`~labelassist.core.prompt.carry_lesion` and its measured stop rule)."""
    from labelassist.core.prompt import carry_lesion

    array, token = _volume(ctx)
    p = prompts_of(ctx)
    carried = carry_lesion(array, int(index), box, p.prompter, volume_key=token, ranges=p.ranges(token, array),
                           cancel=cancel, progress=progress)
    start = list(carried.slices).index(int(index))
    return BoxResult(int(index), tuple(int(v) for v in box), carried.masks[start], float(carried.iou[start]),
                     dict(p.identity), carried)
