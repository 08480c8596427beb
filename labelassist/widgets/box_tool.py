"""The box tool of both frontends (issue 29): a box drawn around a lesion on a slice gives LiteMedSAM's mask of it,
added to the slice's label (Shift: removed from it) as one undo step; the slice becomes corrected. Carry (C) takes
the last box's lesion on to the slices around it, as proposals to review.

The frontends draw the box and call :meth:`BoxTool.box`; the work runs in the engine thread
(:mod:`labelassist.engine.prompting`): LiteMedSAM is loaded on the first box, and while the tool is on the shown
slice and its neighbours are embedded ahead (:meth:`BoxTool.look_ahead`), so that a box costs only the decoder.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BoxTool", "box_from_corners", "MIN_BOX", "AHEAD"]

# Least side of a box, in slice pixels: a smaller drag is a slip of the mouse, not a box.
MIN_BOX = 3
# Slices embedded ahead while the tool is on, nearest first: the shown one, then its neighbours.
AHEAD = (0, 1, -1, 2, -2)


def box_from_corners(y0: float, x0: float, y1: float, x1: float, shape) -> tuple | None:
    """The inclusive box ``(r0, c0, r1, c1)`` of the pixels two corners (slice pixel coordinates, centres at
    integers) span, kept in a slice of ``shape``; None when it is smaller than :data:`MIN_BOX` a side or off the
    slice."""
    rows, cols = int(shape[0]), int(shape[1])
    r0, r1 = sorted((int(round(y0)), int(round(y1))))
    c0, c1 = sorted((int(round(x0)), int(round(x1))))
    r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, rows - 1), min(c1, cols - 1)
    if r1 - r0 + 1 < MIN_BOX or c1 - c0 + 1 < MIN_BOX:
        return None
    return r0, c0, r1, c1


class BoxTool:
    """The box tool over a :class:`~labelassist.widgets.controller.ReviewController` (its ``engine``, ``session``,
    ``state``, ``view``, ``volume``, ``current``, ``follow``, ``say``, ``begin_edit``, ``mark_corrected``,
    ``refresh_strip``, ``save_session`` and ``statuses_changed``)."""

    def __init__(self, controller):
        self.controller = controller
        self.active = False
        self.last: tuple | None = None  # (slice, box) of the last box: what carry takes on
        self._ahead = None  # the embedding job running ahead
        self.loaded = False  # a box came back: the model is in the engine

    def set_active(self, on: bool) -> None:
        """Turn the tool on (the shown slice is embedded ahead) or off (that work is cancelled)."""
        self.active = bool(on)
        if self.active:
            self.look_ahead()
        elif self._ahead is not None:
            self._ahead.cancel()

    def look_ahead(self, index: int | None = None) -> None:
        """While the tool is on, embed slice ``index`` (default: the shown one) and its neighbours in the engine
        thread, cancelling what was embedded ahead for another slice."""
        c = self.controller
        if not self.active or c.state is None:
            return
        from labelassist.engine.prompting import embed_job

        i = c.current if index is None else int(index)
        if self._ahead is not None:
            self._ahead.cancel()
        indices = [i + d for d in AHEAD if 0 <= i + d < c.state.n_slices]
        self._ahead = c.follow(c.engine.call("embed ahead", embed_job, indices=indices))

    def box(self, index: int, box, *, remove: bool = False):
        """Prompt LiteMedSAM with ``box`` ``(r0, c0, r1, c1)`` on slice ``index``; its mask is added to the label
        (``remove``: taken out of it) when the job returns. Returns the job, or None (said)."""
        c = self.controller
        if c.state is None:
            c.say("Box: open a volume first", error=True)
            return None
        from labelassist.engine.prompting import box_job

        if self._ahead is not None:
            self._ahead.cancel()  # the box first; the slices ahead wait
        volume, i = c.volume, int(index)
        c.say(f"Box on slice {i}: LiteMedSAM is looking" + ("" if self.loaded else
                                                             " (loading the model for the first box)"))
        job = c.engine.call("box", box_job, index=i, box=tuple(int(v) for v in box))
        return c.follow(job, returned=lambda res: self._apply(res, volume, remove=remove))

    def carry(self):
        """Carry the last box's lesion to the slices around it (LiteMedSAM, a box from each slice's mask to the
        next, until the lesion ends): added to those slices as proposals to review. Returns the job, or None."""
        c = self.controller
        if c.state is None or self.last is None:
            c.say("Carry: draw a box around a lesion first (B, then drag)", error=True)
            return None
        from labelassist.engine.prompting import carry_job

        index, box = self.last
        volume = c.volume
        c.say(f"Carrying the lesion boxed on slice {index} to its neighbours")
        job = c.engine.call("carry", carry_job, index=index, box=box)
        return c.follow(job, returned=lambda res: self._carried(res, volume))

    # -- results (GUI thread) ---------------------------------------------------------------------------------
    def _apply(self, res, volume, *, remove: bool) -> None:
        c = self.controller
        if c.state is None or c.volume is not volume:
            return  # another volume since: the box was for the one before
        self.loaded = True
        i = res.index
        label = c.state.labels[i]
        new = label.copy()
        new[c.session.inside(res.mask).astype(bool)] = 0 if remove else 1  # never outside an ultrasound scan area
        changed = int((new != label).sum())
        if not remove:
            self.last = (i, res.box)
        if changed == 0:
            c.say(f"Box on slice {i}: LiteMedSAM found nothing " + ("to remove" if remove else "new") +
                  f" in the box (IoU {res.iou:.2f}); try a box closer around the lesion")
            return
        c.begin_edit(i)  # one undo step, which gives the slice back its status
        if not c.view.edit_slice(i, new):
            c.state.labels[i] = new
        c.view.refresh(i)
        c.mark_corrected([i], undoable=False)
        c.session.record_prompt(i, res.identity, res.box)
        verb = "removed" if remove else "added"
        c.say(f"Box on slice {i}: {changed} pixels {verb} by LiteMedSAM (predicted IoU {res.iou:.2f}); "
              f"the slice is corrected" + ("" if remove else "; C carries the lesion to its neighbours"))

    def _carried(self, res, volume) -> None:
        c = self.controller
        if c.state is None or c.volume is not volume:
            return
        from labelassist.core.prompt import mask_box

        carried = res.carried
        masks = {int(k): m for k, m in zip(carried.slices, carried.masks) if int(k) != res.index}
        boxes = {k: mask_box(m) or (0, 0, 0, 0) for k, m in masks.items()}
        changed = c.session.carry_prompt(masks, res.identity, boxes)
        c.view.refresh(None)
        c.refresh_strip()
        c.statuses_changed.emit()
        c.save_session()
        first, last = int(np.min(carried.slices)), int(np.max(carried.slices))
        c.say(f"Lesion carried over slices {first}-{last}: {len(changed)} unreviewed slice(s) got it as a proposal "
              f"to review (stopped: below {carried.stopped.get('below')}, above {carried.stopped.get('above')})")
