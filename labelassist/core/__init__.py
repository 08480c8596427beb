"""The pipeline and the learning, on arrays only (numpy, torch, scikit-image, OpenCV; never Qt, never files).

Rooms, bottom to top (see docs/architecture.md):

- ``nets``: the networks (classifier, U-Net segmenter), their inputs, augmentation, safe checkpoints, device
- ``propose``: the proposal pipeline: CAM, perimeter map, BoundaryFit, post-filters, the cached per-slice pipeline
- ``classify``: training the classifier from image-level (slice yes/no) labels
- ``propagate``: learning from the reviewer's corrections: the segmenter's data, training, prediction, review queue
- ``evaluate``: metrics and calibration
- ``review``: the review state of one volume (labels and statuses; pure data)
"""
