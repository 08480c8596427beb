"""labelassist: image-level lesion labels in, reviewed pixel masks out.

The package is split into rooms whose imports point down only
(see ``shared/DESIGN.md`` §4): ``cli`` > ``app``/``napari`` > ``widgets`` >
``engine`` > ``io`` > ``core``.  ``labelassist.errors`` sits below them all.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
