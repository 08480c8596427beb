"""Learning from the reviewer's corrections (propagate): the segmenter, a small U-Net, learns from the
reviewed slices of a volume and predicts every unreviewed one with a confidence; the review queue orders
the slices the reviewer should look at next.

Modules: ``propagation`` (propagate), ``predict`` (prediction, slice confidence), ``keeps`` (a new net never
undoes the reviewer: the gate and the merge with the previous net), ``suggest`` (suggested lesions away from
every drawn one), ``checks`` (arguments), ``targets`` (truth, weak targets, batches), ``data`` (inputs,
augmentation, crops, loss), ``training`` (making and training the segmenter), ``queue`` (the review queue)."""

from labelassist.core.propagate.propagation import PropagationResult, predict, propagate
from labelassist.core.propagate.queue import review_queue

__all__ = ["propagate", "predict", "PropagationResult", "review_queue"]
