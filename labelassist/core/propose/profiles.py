"""Default pipeline parameters per modality: ultrasound (speckle, a sector) wants other ones than MRI.

The ultrasound values were chosen by measurement on the demo cines (docs/benchmarks.md, "Ultrasound: the pipeline
tuned for speckle"). Every front end starts from :func:`default_params` of the volume's modality; a value the user
sets wins, and a restored session keeps its own.
"""

from __future__ import annotations

from labelassist.core.propose.params import PipelineParams

__all__ = ["ULTRASOUND", "default_params", "modality_defaults"]

# A 5 x 5 median before the perimeter map (all five filters tie within noise and each beats none by 0.04 or more;
# the median is the cheapest) and SLIC 800 on the scan area's box (smaller superpixels than the hard lesions):
# benchmarks/bench_despeckle.py. CAM stride 16: the demo cines' first pass at stride 8 was no better (0.010 / 0.011
# against 0.023 / 0.014 at t = 0.5; benchmarks/bench_us_review.py --thresholds), the threshold stays 0.5.
ULTRASOUND: dict = {"despeckle": "median", "n_segments": 800, "cam_stride": 16}


def modality_defaults(modality: str = "") -> dict:
    """The parameters whose default differs for ``modality`` (``"US"``: :data:`ULTRASOUND`; others: none)."""
    return dict(ULTRASOUND) if str(modality).upper() == "US" else {}


def default_params(modality: str = "") -> PipelineParams:
    """The pipeline's defaults for a volume of ``modality``."""
    return PipelineParams(**modality_defaults(modality))
