"""``labelassist eval PRED_DIR TRUTH_DIR``: pair two folders of label volumes by name, score every pair, pool.

Pairing (also in ``eval --help``, :data:`PAIRING_RULE`): a file is a volume when its extension is one
labelassist reads (:func:`labelassist.io.formats.table.by_suffix`; other files are ignored). A prediction's name is
its stem (:func:`~labelassist.io.formats.table.split_suffix`) without a trailing ``_labels``; where that name ends
in ``-<hash>`` (6 to 64 hex digits, as ``labelassist batch`` writes it) the name without it is tried next.
A truth's name is its stem without a trailing ``_mask``, ``_seg``, ``_labels`` or ``_truth``; a truth with
such a suffix wins over a bare one of the same name (``case1_mask`` over the scan ``case1``). Two
predictions for one truth, or two equally good truths for one prediction, are a one-line error.

Pooled metrics pool the confusion counts of every scored pair (the papers' mIoU/DSC and the 3-D Dice over
all voxels of all volumes), with ``dice_volume_mean`` the mean of the per-volume foreground Dice and
``dice_slice_mean`` the mean over every scored slice of every volume: the numbers
:func:`labelassist.core.evaluate.metrics.evaluate` gives on the list of all pairs, one volume in memory at a time.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from labelassist.errors import LabelAssistError, ParameterError, VolumeError

__all__ = ["PAIRING_RULE", "pair_folders", "score_pairs", "pool", "write_csv", "run_dirs"]

PAIRING_RULE = (
    "Two folders are paired by file name: prediction <name>_labels.<ext> (or <name>-<hash>_labels.<ext>, "
    "or <name>.<ext>; <hash>: 6 to 64 hex digits) pairs with the truth <name>, <name>_mask, <name>_seg, "
    "<name>_labels or <name>_truth "
    "(any extension labelassist reads; a suffixed truth wins over a bare <name>). Files without a partner "
    "are listed, not an error."
)

_TRUTH_SUFFIXES = ("_mask", "_seg", "_labels", "_truth")
_HASH = re.compile(r"^(.+)-[0-9a-fA-F]{6,64}$")
_METRIC_KEYS = (
    "miou", "dsc", "iou_lesion", "iou_background", "dice_volume", "dice_volume_mean", "dice_slice_mean",
    "mfp", "mfn", "tp", "fp", "fn", "tn", "n_slices_scored", "n_volumes",
)
CSV_COLUMNS = ("pred", "truth", *_METRIC_KEYS, "error")


def _volume_files(folder: Path) -> list[Path]:
    from labelassist.io.formats.table import by_suffix, visible_files

    return [p for p in visible_files(folder) if by_suffix(p) is not None]


def _pred_names(path: Path) -> list[str]:
    from labelassist.io.formats.table import split_suffix

    stem = split_suffix(path)[0]
    name = stem.removesuffix("_labels") if stem.endswith("_labels") and stem != "_labels" else stem
    match = _HASH.match(name)
    return [name, match.group(1)] if match else [name]


def _truth_key(path: Path) -> tuple[str, int]:
    """``(name, rank)``: rank 0 for a suffixed truth (``case1_mask``), 1 for a bare one (``case1``)."""
    from labelassist.io.formats.table import split_suffix

    stem = split_suffix(path)[0]
    for suffix in _TRUTH_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)], 0
    return stem, 1


def pair_folders(pred_dir, truth_dir) -> tuple[list[tuple[Path, Path]], dict[str, list[str]]]:
    """Pair the volumes of two folders by name (:data:`PAIRING_RULE`).

    Returns
    -------
    pairs : list of (pred, truth) paths, in the predictions' name order
    unpaired : dict
        ``{"pred": [names], "truth": [names]}`` of the files that found no partner.

    Raises
    ------
    ParameterError
        Nothing pairs at all (naming both folders), or a pairing is ambiguous (naming the files).
    """
    pred_dir, truth_dir = Path(pred_dir), Path(truth_dir)
    truths: dict[str, dict[int, list[Path]]] = {}
    for t in _volume_files(truth_dir):
        name, rank = _truth_key(t)
        truths.setdefault(name, {}).setdefault(rank, []).append(t)
    pairs, unpaired_pred, claimed = [], [], {}
    for p in _volume_files(pred_dir):
        found = next((truths[n] for n in _pred_names(p) if n in truths), None)
        if found is None:
            unpaired_pred.append(p.name)
            continue
        best = found[min(found)]
        if len(best) > 1:
            raise ParameterError(f"{p}: pairs with {len(best)} truths ({', '.join(t.name for t in best)}); "
                                 f"keep one of them in {truth_dir}")
        truth = best[0]
        if truth in claimed:
            raise ParameterError(f"{truth}: two predictions pair with it ({claimed[truth].name}, {p.name}); "
                                 f"keep one of them in {pred_dir}")
        claimed[truth] = p
        pairs.append((p, truth))
    if not pairs:
        raise ParameterError(f"no prediction in {pred_dir} pairs with a truth in {truth_dir} by name "
                             "(<name>_labels with <name>, <name>_mask, ...; see eval --help)")
    unpaired_truth = [t.name for group in truths.values() for ts in group.values() for t in ts if t not in claimed]
    return pairs, {"pred": unpaired_pred, "truth": sorted(unpaired_truth)}


def score_pairs(pairs) -> list[dict]:
    """One row per pair: ``{"pred", "truth", <metrics of evaluate>, "error": None}``, or for a pair that
    cannot be scored (grids differ, unreadable file) ``{"pred", "truth", "error": one line}``."""
    from labelassist.cli.evaluate import load_mask_pair
    from labelassist.core.evaluate.metrics import evaluate

    rows = []
    for pred, truth in pairs:
        row = {"pred": pred.name, "truth": truth.name}
        try:
            row.update(evaluate(*load_mask_pair(pred, truth)))
            row["error"] = None
        except LabelAssistError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows


def pool(rows) -> dict | None:
    """The pooled metrics over the scored rows (None when none scored); see the module's docstring."""
    from labelassist.core.evaluate.metrics import paper_metric

    ok = [r for r in rows if r.get("error") is None]
    if not ok:
        return None
    totals = {k: sum(r[k] for r in ok) for k in ("tp", "fp", "fn", "tn")}
    tp, denom = totals["tp"], 2 * totals["tp"] + totals["fp"] + totals["fn"]
    n_slices = sum(r["n_slices_scored"] for r in ok)
    slice_sum = sum(r["dice_slice_mean"] * r["n_slices_scored"] for r in ok if r["n_slices_scored"])
    return {
        **paper_metric(totals),
        **totals,
        "mfp": totals["fp"] / tp if tp else None,
        "mfn": totals["fn"] / tp if tp else None,
        "dice_volume": 1.0 if denom == 0 else 2 * tp / denom,
        "dice_volume_mean": sum(r["dice_volume"] for r in ok) / len(ok),
        "dice_slice_mean": slice_sum / n_slices if n_slices else None,
        "n_slices_scored": n_slices,
        "n_volumes": len(ok),
    }


def write_csv(path, rows, pooled: dict | None = None) -> None:
    """Write one row per volume (:data:`CSV_COLUMNS`) and, given ``pooled``, a last row named ``pooled``."""
    path = Path(path)
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in CSV_COLUMNS})
            if pooled is not None:
                writer.writerow({k: ("" if pooled.get(k) is None else pooled[k]) for k in CSV_COLUMNS}
                                | {"pred": "pooled", "truth": "", "error": ""})
    except OSError as exc:
        raise VolumeError(f"{path}: cannot write the --csv file ({exc.strerror or exc}); "
                          "give a path in a writable folder") from None


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _print_text(rows, pooled, unpaired) -> None:
    width = max(len("pooled"), *(len(r["pred"]) for r in rows))
    label = f"({pooled['n_volumes']} volumes)" if pooled is not None else ""
    twidth = max(len("truth"), len(label), *(len(r["truth"]) for r in rows))
    print(f"{'pred':<{width}}  {'truth':<{twidth}}  {'mIoU':>6}  {'DSC':>6}  {'Dice':>6}  {'slice':>6}")
    for r in rows:
        head = f"{r['pred']:<{width}}  {r['truth']:<{twidth}}"
        if r["error"] is not None:
            print(f"{head}  failed: {r['error']}")
        else:
            print(f"{head}  {_fmt(r['miou']):>6}  {_fmt(r['dsc']):>6}  {_fmt(r['dice_volume']):>6}  "
                  f"{_fmt(r['dice_slice_mean']):>6}")
    if pooled is not None:
        print(f"{'pooled':<{width}}  {label:<{twidth}}  "
              f"{_fmt(pooled['miou']):>6}  {_fmt(pooled['dsc']):>6}  {_fmt(pooled['dice_volume']):>6}  "
              f"{_fmt(pooled['dice_slice_mean']):>6}")
        print(f"mean per-volume foreground Dice: {_fmt(pooled['dice_volume_mean'])}")
    failed = sum(r["error"] is not None for r in rows)
    if failed:
        print(f"{failed} of {len(rows)} pairs failed")
    for side in ("pred", "truth"):
        if unpaired[side]:
            print(f"unpaired {side}: {', '.join(unpaired[side])}")


def run_dirs(args) -> int:
    """Score the folders ``args.pred`` and ``args.truth``; exit code 1 when any pair failed, else 0."""
    pairs, unpaired = pair_folders(args.pred, args.truth)
    rows = score_pairs(pairs)
    pooled = pool(rows)
    if args.csv:
        write_csv(args.csv, rows, pooled)
    if args.json:
        out = {"pred_dir": str(args.pred), "truth_dir": str(args.truth), "volumes": rows, "pooled": pooled,
               "unpaired": unpaired}
        print(json.dumps(out, indent=2))
    else:
        _print_text(rows, pooled, unpaired)
    return 1 if any(r["error"] is not None for r in rows) else 0
