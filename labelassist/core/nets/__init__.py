"""The networks and how they are fed and loaded: the classifier, the U-Net segmenter, model inputs,
augmentation, safe checkpoints of both, and the device choice."""
