"""Evaluation: the paper's metrics and per-lesion Dice, and calibration of threshold and gate."""
