"""The proposal pipeline: Grad-CAM (and ensembles), the perimeter map (unsupervised segmentation, optional
USS CNN), BoundaryFit, post-filters, and :class:`~labelassist.core.propose.pipeline.Pipeline`, which caches
each stage per slice."""
