"""``labelassist info``: what a file holds, as labelassist reads it."""

from __future__ import annotations

import sys
import warnings

__all__ = ["add_parser", "describe"]


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="format, shape, spacing, orientation and range of files", description=__doc__)
    p.add_argument("files", nargs="+", metavar="FILE", help="volumes, images or folders")
    p.add_argument("--channel", type=int, help="which channel of a 4-D volume to describe")
    p.set_defaults(func=run)


def describe(volume) -> str:
    """A few lines a person reads: format (its name and title in the formats table, the modality), shape,
    spacing, orientation, range."""
    import numpy as np

    from labelassist.errors import ParameterError
    from labelassist.io.formats.table import get_format

    try:
        kind = ", ".join(filter(None, (get_format(volume.format).title, volume.modality)))
    except ParameterError:  # a Volume made in memory with a format of its own
        kind = volume.modality
    a = volume.array
    finite = a[np.isfinite(a)]
    rng = f"[{finite.min():.6g}, {finite.max():.6g}]" if finite.size else "all NaN"
    spacing = " x ".join(f"{s:.4g}" for s in volume.spacing)
    channels = f", {volume.n_channels} channels ({', '.join(volume.channel_names)})" if volume.array.ndim == 4 else ""
    lines = [
        f"{volume.source_path}",
        f"  format       {volume.format}{' (' + kind + ')' if kind else ''}",
        f"  shape        {' x '.join(map(str, volume.shape))} (z, y, x){channels}",
        f"  spacing      {spacing} mm (z, y, x)",
        f"  orientation  {volume.orientation}",
        f"  range        {rng}",
    ]
    area = volume.header.get("scan_area") if isinstance(volume.header, dict) else None
    if area is not None:  # ultrasound: where the scan is, and how that was found (labelassist.io.formats.us_frames)
        lines.append(f"  scan area    {area.describe()}")
        lines += [f"               {note}" for note in area.notes]
    return "\n".join(lines)


def run(args) -> int:
    from labelassist.errors import LabelAssistError
    from labelassist.io import load_volume

    status = 0
    for name in args.files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                volume = load_volume(name, channel=args.channel)
            print(describe(volume))
        except LabelAssistError as exc:
            print(f"labelassist: error: {exc}", file=sys.stderr)
            status = 2
    return status
