"""The classifier's training options, each declared once (:data:`TRAIN_PARAMS`).

Every option of :func:`~labelassist.core.classify.train.train_classifier` that a user sets is declared
here with its type, default, range or choices, label and help. The keyword defaults of ``train_classifier``
(and its module constants ``INPUT_SIZE``, ``EPOCHS``, ...), the options of ``labelassist train`` and the
widgets of the app's training dialog (File > Train a model) are all read from these declarations, so they
cannot drift; a new option declared here appears in all three (``tests/core/test_train_params.py``).

The input size is 96: the shipped demo model was trained at 96² (``make demo-model``), and a CAM at 128²
did not help (docs/benchmarks.md, does the CAM point at the lesion?) while costing 1.8x the compute.
Not options here: the device, the checkpoint to write and ``init`` (paths and context, not settings).

This module imports no torch (``labelassist --help`` imports it).
"""

from __future__ import annotations

from labelassist.core.nets.classifier import ARCHS, OUTPUT_STRIDES, POOLS
from labelassist.core.options import OptionSchema, option

__all__ = ["TRAIN_PARAMS", "MIN_INPUT_SIZE", "MAX_INPUT_SIZE", "MIN_BATCH"]

# Smallest input side: the ResNet's stride 32 must leave a map to look at.
MIN_INPUT_SIZE = 32
# Largest input side offered: a batch of 32 slices at 1024² already needs GiBs of activations.
MAX_INPUT_SIZE = 1024
# A batch needs two samples for BatchNorm; a last batch of one is skipped.
MIN_BATCH = 2


def _declare(name, default, **kw):
    return option(name, default, model="classifier", **kw)


TRAIN_PARAMS = OptionSchema("classifier", (
    _declare("arch", "resnet18", label="Architecture", choices=ARCHS,
             help="The classifier's ResNet (never pretrained: nothing is downloaded)."),
    _declare("input_size", 96, label="Input size", range=(MIN_INPUT_SIZE, MAX_INPUT_SIZE), step=32,
             help="Side (pixels) of the square each slice is resized to for the classifier; the shipped demo "
                  "model's is 96."),
    _declare("output_stride", 16, label="Output stride", choices=OUTPUT_STRIDES, advanced=True,
             help="Input pixels per feature cell: 16 gives CAMs at twice the resolution of a plain ResNet (32); "
                  "8 four times, at about 3x the compute."),
    _declare("pool", "avg", label="Pooling", choices=POOLS, advanced=True,
             help="avg: torchvision's ResNet; max: a slice is as lesion-like as its most lesion-like place "
                  "(multiple-instance learning), which keeps the CAM on the lesion."),
    _declare("epochs", 12, label="Epochs", range=(1, None),
             help="Passes over the training slices, at most (early stopping may end sooner)."),
    _declare("batch_size", 32, label="Batch size", range=(MIN_BATCH, None), advanced=True,
             help="Slices per training step; validation runs at twice this."),
    _declare("lr", 1e-3, label="Learning rate", range=(0.0, 1.0), open_range=(True, False), advanced=True,
             help="AdamW's learning rate, cosine-annealed over the epochs; lower it when fine-tuning from a model "
                  "(--init)."),
    _declare("val_fraction", 0.2, label="Validation share", range=(0.0, 1.0), open_range=(False, True),
             advanced=True, step=0.05,
             help="Share of the volumes held out for validation (never slices of a training volume); with one "
                  "volume there is no validation."),
    _declare("patience", 6, label="Patience (epochs)", range=(1, None), advanced=True,
             help="Epochs without a better validation AUC (or loss) before stopping."),
    _declare("seed", 0, label="Seed", range=(0, None), advanced=True,
             help="Makes the split, the initialisation, the sampling and the augmentation reproducible."),
    _declare("half", False, label="Store float16 weights", advanced=True,
             help="Store the checkpoint's weights in float16 (half the size)."),
))
