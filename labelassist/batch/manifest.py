"""``OUT_DIR/manifest.csv`` (one row per input) and the ``--resume`` rule.

An input is up to date when its label file and its provenance JSON both exist and the provenance's ``key``
(model sha256, pipeline parameters, channel, segmenter sha256 and mode: :meth:`BatchSpec.key`) equals the
batch's. Anything else (a missing file, a changed threshold, another model) is computed again.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from labelassist.batch.task import provenance_path
from labelassist.errors import ParameterError

__all__ = ["COLUMNS", "STATUSES", "is_up_to_date", "skipped_row", "write_manifest", "read_manifest"]

COLUMNS = ("input", "status", "output", "error", "seconds", "worker", "model_sha256")
STATUSES = ("done", "failed", "skipped")


def is_up_to_date(output, key) -> bool:
    """Whether ``output`` and its provenance exist and were made with ``key`` (see the module's docstring), or
    with one of the keys of a list (a batch's per-modality specs: :meth:`BatchSpec.keys`)."""
    output = Path(output)
    prov = provenance_path(output)
    if not (output.is_file() and prov.is_file()):
        return False
    try:
        record = json.loads(prov.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    keys = key if isinstance(key, list) else [key]
    return isinstance(record, dict) and record.get("key") in keys


def skipped_row(input_path, output, model_sha256: str) -> dict:
    """The manifest row of an input ``--resume`` found up to date."""
    return {"input": str(input_path), "status": "skipped", "output": str(output), "error": "", "seconds": 0.0,
            "worker": "", "model_sha256": model_sha256}


def write_manifest(rows, path) -> Path:
    """Write ``rows`` (dicts with :data:`COLUMNS`; other keys ignored) as CSV, atomically (temp file, rename)."""
    path = Path(path)
    for r in rows:
        if r.get("status") not in STATUSES:
            raise ParameterError(f"rows: status must be one of {', '.join(STATUSES)}, got {r.get('status')!r}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_manifest(path) -> list[dict]:
    """The rows of a manifest written by :func:`write_manifest` (all values as strings)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
