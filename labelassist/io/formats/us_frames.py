"""An ultrasound file as the pipeline takes it: its scan area found once, on the colour frames as stored; colour
(or power) Doppler drawn over the B-mode kept out of that area; greyscale B-mode stored as RGB or YBR read as one
channel (the mean of the three, which the grey of B-mode is).

:func:`prepare_ultrasound` runs in :func:`labelassist.io.load_volume` for every ultrasound volume (modality US, or a
file that declares ultrasound regions); the area goes into ``header["scan_area"]``
(:class:`labelassist.core.scan_area.ScanArea`), which :func:`~labelassist.io.formats.us_regions.volume_area` gives
to the pipeline and ``labelassist info`` prints, with one line per thing done here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

__all__ = ["prepare_ultrasound", "GREY_NOTE"]

GREY_NOTE = "greyscale B-mode stored in colour: read as one channel"


def prepare_ultrasound(volume, *, channel: int | None = None):
    """``volume`` with its scan area in ``header["scan_area"]`` and, when it is colour and no ``channel`` was
    chosen, as one grey channel (the colour Doppler pixels kept out of the area); other volumes unchanged."""
    from labelassist.core.scan_area import colour_flow, scan_area, without_colour_flow
    from labelassist.io.formats.us_regions import volume_regions

    regions = volume_regions(volume)
    if regions is None:
        return volume
    a = volume.array
    area = scan_area(a, regions=regions)
    header = dict(volume.header)
    if a.ndim == 4 and a.shape[-1] in (3, 4) and channel is None:
        area = without_colour_flow(area, colour_flow(a, area.mask))
        area.notes.append(GREY_NOTE)
        grey = a[..., 0].astype(np.float32)  # the mean of the three, without a float64 pass over the cine
        grey += a[..., 1]
        grey += a[..., 2]
        grey /= np.float32(3)
        volume = replace(volume, array=grey, channel_names=())
    header["scan_area"] = area
    return replace(volume, header=header)
