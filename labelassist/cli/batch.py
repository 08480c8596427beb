"""``labelassist batch``: propose labels for many volumes on dask.distributed (a local cluster, or an existing
one with --scheduler), writing OUT_DIR/<name>_labels.nii.gz, a provenance JSON beside each, and
OUT_DIR/manifest.csv. Exit code 0 when every input is done or skipped, 1 when some failed, 2 for bad
arguments."""

from __future__ import annotations

import sys
from pathlib import Path

from labelassist.cli._common import add_param_option, demo_model_path, positive_int, resolve_model_path
from labelassist.cli.run import pipeline_params
from labelassist.core.propose import params as schema
from labelassist.errors import ParameterError

__all__ = ["add_parser", "batch"]

EXIT_FAILED = 1


def add_parser(sub) -> None:
    p = sub.add_parser("batch", help="propose lesion masks for many volumes on a Dask cluster", description=__doc__)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="volumes, folders (searched recursively; a DICOM series or image folder is one volume) "
                        "or CSV files listing paths (one per row, a header 'path' allowed)")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for labels, provenance, manifest")
    p.add_argument("--model", metavar="CKPT", help="classifier checkpoint (default: the shipped demo model)")
    p.add_argument("--segmenter", metavar="NET", help="a learned segmenter ('labelassist propagate --save-model')")
    p.add_argument("--segmenter-mode", choices=("union", "replace"), default="union",
                   help="union: lesion where BoundaryFit or the segmenter says so (default); replace: the "
                        "segmenter's masks alone")
    p.add_argument("--channel", type=int, help="which channel of 4-D volumes to use (default: all)")
    group = p.add_argument_group("pipeline parameters", "as for 'labelassist run'")
    for spec in schema.param_specs():
        add_param_option(group, spec, by_modality=True)
    p.add_argument("--device", default="auto",
                   help="auto (each local worker on its own GPU when there are GPUs, else cpu), cpu, cuda:N, mps")
    p.add_argument("--batch-size", type=positive_int("--batch-size"), default=16)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int("--workers"),
                       help="workers of the local cluster (default: one per GPU, else one per CPU core)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing cluster's scheduler (tcp://host:8786, or a scheduler file)")
    p.add_argument("--resume", action="store_true",
                   help="skip inputs whose labels and provenance exist with the same model, segmenter and parameters")
    p.set_defaults(func=batch)


def _spec(args):
    from labelassist.batch.task import BatchSpec
    from labelassist.core.nets.checkpoint import checkpoint_hash, load_checkpoint
    from labelassist.core.nets.segmenter_checkpoint import load_segmenter

    model = resolve_model_path(args.model)
    load_checkpoint(model)  # a bad model is one line and exit 2 here, not a failed row per volume
    seg_hash = None
    if args.segmenter:
        load_segmenter(args.segmenter)
        seg_hash = checkpoint_hash(args.segmenter)
    if args.channel is not None and args.channel < 0:
        raise ParameterError(f"--channel must be >= 0, got {args.channel}")
    if not args.scheduler:
        from labelassist.core.nets.device import resolve_device

        resolve_device(args.device)  # the local workers see this machine's devices
    return BatchSpec(model_path=str(Path(model).resolve()), model_sha256=checkpoint_hash(model),
                     params=pipeline_params(args), by_modality=_ultrasound(args, model),
                     out_dir=str(Path(args.output).resolve()), device=args.device,
                     batch_size=args.batch_size, channel=args.channel,
                     segmenter_path=str(Path(args.segmenter).resolve()) if args.segmenter else None,
                     segmenter_sha256=seg_hash, segmenter_mode=args.segmenter_mode)


def _ultrasound(args, model) -> tuple:
    """The ultrasound entry of the spec: the shipped ultrasound model unless ``--model`` was given (or it is
    missing), and the ultrasound defaults for every parameter not given."""
    from labelassist.core.nets.checkpoint import checkpoint_hash, load_checkpoint

    us_model = resolve_model_path(args.model, modality="US") if args.model or demo_model_path("US").is_file() else model
    if Path(us_model) != Path(model):
        load_checkpoint(us_model)
    return (("US", str(Path(us_model).resolve()), checkpoint_hash(us_model), pipeline_params(args, modality="US")),)


def batch(args) -> int:
    from labelassist.batch.inputs import expand_inputs
    from labelassist.batch.runner import MANIFEST_NAME, run_batch

    volumes = expand_inputs(args.inputs)
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"-o {out_dir}: exists and is not a folder; give a folder for the labels")
    from labelassist.cli._common import check_output

    check_output(args.output, "-o", folder=True)
    spec = _spec(args)
    print(f"labelassist batch: {len(volumes)} volume(s) -> {out_dir}", file=sys.stderr)
    result = run_batch(volumes, spec, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                       on_dashboard=lambda link: print(f"Dask dashboard: {link}", file=sys.stderr))
    counts = {s: sum(r["status"] == s for r in result.rows) for s in ("done", "skipped", "failed")}
    print(f"{out_dir / MANIFEST_NAME}: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed "
          f"in {result.wall_s:.1f} s")
    if result.failed:
        print("failed:", file=sys.stderr)
        for r in result.failed:
            where = "" if r["error"].startswith(r["input"]) else f"{r['input']}: "
            print(f"  {where}{r['error']}", file=sys.stderr)
        return EXIT_FAILED
    return 0

