"""The segmenter's training options, each declared once (:data:`SEGMENTER_PARAMS`).

The options of a propagation's training run (:func:`~labelassist.core.propagate.propagation.propagate`'s
``steps``, ``lr``, ``batch_size``, ``context``, ``max_size``, ``crop``, ``weak_weight`` and ``seed``), each
with its type, default, range, label and help, for the command line (``labelassist propagate``,
``labelassist simulate-review``) and any GUI to build their options from. The defaults ARE core's constants
(:mod:`~labelassist.core.propagate.training`, :data:`~labelassist.core.propagate.targets.WEAK_WEIGHT`),
imported here, so they cannot drift.

A new segmenter and one fine-tuned from earlier volumes train differently, so the steps and the learning
rate are declared once for each (``steps``/``lr`` and ``fine_tune_steps``/``fine_tune_lr``), where
``propagate`` takes one ``steps`` and one ``lr`` defaulting to the one or the other:
:func:`propagate_options` turns the options into ``propagate``'s keyword arguments.
"""

from __future__ import annotations

from collections.abc import Mapping

from labelassist.core.nets.unet import DEPTH
from labelassist.core.options import OptionSchema, option
from labelassist.core.propagate.targets import WEAK_WEIGHT
from labelassist.core.propagate.training import (BATCH_SIZE, CONTEXT, CROP, FINE_TUNE_LR, FINE_TUNE_STEPS, MAX_SIZE,
                                                 NEW_SEGMENTER_LR, NEW_SEGMENTER_STEPS)

__all__ = ["SEGMENTER_PARAMS", "MIN_SIDE", "propagate_options"]

# Smallest working size and crop (pixels): the U-Net halves its input DEPTH times.
MIN_SIDE = 2**DEPTH


def _declare(name, default, **kw):
    return option(name, default, model="segmenter", **kw)


SEGMENTER_PARAMS = OptionSchema("segmenter", (
    _declare("steps", NEW_SEGMENTER_STEPS, label="Training steps (new)", range=(1, None), step=50,
             help="Training steps of a new segmenter (one given to fine-tune takes the fine-tune steps instead)."),
    _declare("fine_tune_steps", FINE_TUNE_STEPS, label="Training steps (fine-tune)", range=(1, None), step=50,
             help="Training steps of a segmenter from earlier volumes (or rounds) fine-tuned on this one; none "
                  "until a reviewed slice shows a lesion."),
    _declare("lr", NEW_SEGMENTER_LR, label="Learning rate (new)", range=(0.0, 1.0), open_range=(True, False),
             advanced=True, help="Peak learning rate of a new segmenter's one-cycle schedule."),
    _declare("fine_tune_lr", FINE_TUNE_LR, label="Learning rate (fine-tune)", range=(0.0, 1.0),
             open_range=(True, False), advanced=True,
             help="Peak learning rate when fine-tuning: gentler, so the segmenter keeps what earlier volumes "
                  "taught it."),
    _declare("batch_size", BATCH_SIZE, label="Batch size", range=(1, None), advanced=True,
             help="Samples per training step."),
    _declare("context", CONTEXT, label="Context slices", range=(0, None), advanced=True,
             help="Neighbouring slices on each side given as extra input channels of a new segmenter (0: the "
                  "slice alone); a loaded segmenter keeps its own."),
    _declare("max_size", MAX_SIZE, label="Working size", range=(MIN_SIDE, None), step=MIN_SIDE, advanced=True,
             help="Longest side (pixels) of a new segmenter's working grid; a loaded segmenter keeps its own."),
    _declare("crop", CROP, label="Crop", range=(MIN_SIDE, None), step=MIN_SIDE, advanced=True,
             help="Side (pixels of the working grid) of the training crops, most around a lesion; one of at "
                  "least the working size trains on whole slices."),
    _declare("weak_weight", WEAK_WEIGHT, label="Weak target weight", range=(0.0, 1.0), step=0.05, advanced=True,
             help="Weight of a pseudo-label on an unreviewed slice beside a reviewed slice's 1, before it is "
                  "scaled by the pseudo-labels' agreement with the reviewed slices."),
    _declare("seed", 0, label="Seed", range=(0, None), advanced=True,
             help="Makes the initialisation, the sampling and the augmentation reproducible."),
))


def propagate_options(values: Mapping, *, fine_tune: bool, names: Mapping[str, str] | None = None) -> dict:
    """The keyword arguments of ``propagate`` for some or all of the segmenter's options.

    Parameters
    ----------
    values : mapping of str
        ``{option: value}`` of :data:`SEGMENTER_PARAMS` (e.g. ``vars(args)`` restricted to its names); an
        option not given takes its declared default.
    fine_tune : bool, keyword-only
        Whether ``propagate`` is given a segmenter to fine-tune (``model=``): then ``steps`` and ``lr`` are
        ``fine_tune_steps`` and ``fine_tune_lr``.
    names : mapping of str, optional, keyword-only
        How a message names an option (its flag); default its name.

    Returns
    -------
    dict
        ``steps``, ``lr``, ``batch_size``, ``context``, ``max_size``, ``crop``, ``weak_weight``, ``seed``.

    Raises
    ------
    ParameterError
        One line naming an unknown option or one out of range.
    """
    given = SEGMENTER_PARAMS.check(values, names=names)
    v = {**SEGMENTER_PARAMS.defaults(), **given}
    steps, lr = (v.pop("fine_tune_steps"), v.pop("fine_tune_lr"))
    if fine_tune:
        v["steps"], v["lr"] = steps, lr
    return v
