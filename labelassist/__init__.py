"""labelassist: image-level lesion labels in, reviewed pixel masks out.

The package is split into rooms whose imports point down only (docs/architecture.md, rooms):
``cli`` > ``app``/``napari`` > ``widgets`` > ``engine`` > ``demo`` > ``io`` > ``core``.
``labelassist.errors`` sits below them all.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
