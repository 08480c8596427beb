"""Evaluation: the paper's metrics and per-lesion Dice, calibration of threshold and gate, and the reviewer's effort
in interactions (region clicks and brush strokes, :mod:`.interactions`)."""
