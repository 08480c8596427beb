"""``labelassist run``: CAM + perimeter map + BoundaryFit over a volume, labels out with the source's geometry."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labelassist.cli._common import add_param_option, positive_int, resolve_model_path
from labelassist.core.propose import params as schema
from labelassist.errors import ParameterError

__all__ = ["add_parser", "add_pipeline_options", "pipeline_params", "open_pipeline"]


def add_pipeline_options(p: argparse.ArgumentParser, *, stages=schema.STAGES) -> None:
    """The volume, model and device options, and one option per pipeline parameter of ``stages``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    stages : iterable of {"cam", "perimeter", "fit"}, keyword-only
        Which parameters get an option, by the stage they invalidate (``run``: all; ``calibrate``, which
        searches the fit's threshold and gate itself: ``("cam", "perimeter")``). The options are generated
        from :func:`labelassist.core.propose.params.param_specs`; each stores into the parameter's name.
    """
    stages = tuple(stages)
    unknown = [s for s in stages if s not in schema.STAGES]
    if unknown:
        raise ParameterError(f"stages must be among {', '.join(schema.STAGES)}; got {unknown}")
    p.add_argument("volume", help="a volume or image (any format 'labelassist info' reads)")
    p.add_argument("--model", metavar="CKPT", help="classifier checkpoint (default: the shipped demo model)")
    p.add_argument("--channel", type=int, help="which channel of a 4-D volume to use (default: all)")
    group = p.add_argument_group("pipeline parameters", f"stages: {', '.join(stages)}")
    for spec in schema.param_specs():
        if spec.stage in stages:
            add_param_option(group, spec, by_modality=True)
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--batch-size", type=positive_int("--batch-size"), default=16)


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="propose lesion masks for a volume", description=__doc__)
    add_pipeline_options(p)
    p.add_argument("-o", "--output", required=True, metavar="LABELS", help="label volume to write (.nii.gz)")
    p.add_argument("--save-maps", metavar="DIR", help="also write the CAM, perimeter and p(lesion) to DIR")
    p.set_defaults(func=run)


def pipeline_params(args, *, modality: str = "", **extra):
    """The :class:`PipelineParams` of the parsed ``args``: the defaults of the volume's ``modality``
    (:func:`labelassist.core.propose.profiles.default_params`), every parameter given on the command line, then
    ``extra``.

    Parameters not given (or without an option in ``args``: a sub-command that offers only some stages) keep the
    modality's defaults unless ``extra`` sets them.
    """
    from labelassist.core.propose.profiles import modality_defaults

    values = modality_defaults(modality)
    values.update({s.name: getattr(args, s.name) for s in schema.param_specs() if hasattr(args, s.name)})
    values.update(extra)
    return schema.PipelineParams(**values)


def open_pipeline(args, **extra):
    """Load the volume and model named in ``args`` and build a :class:`Pipeline` with :func:`pipeline_params` of the
    volume's modality and ``extra`` (errors are one line)."""
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.nets.device import resolve_device
    from labelassist.core.propose.pipeline import Pipeline
    from labelassist.io import load_volume
    from labelassist.io.formats.us_regions import volume_area, volume_modality

    volume = load_volume(args.volume, channel=args.channel)
    modality = volume_modality(volume)
    params = pipeline_params(args, modality=modality, **extra)
    device = resolve_device(args.device)
    model, meta = load_checkpoint(resolve_model_path(args.model, modality=modality), device=device)
    pipe = Pipeline(volume.array, model, meta, device=device, params=params, batch_size=args.batch_size,
                    area=volume_area(volume))
    return volume, pipe



def _progress_bar(total_slices: int, desc: str):
    from tqdm import tqdm

    bar = tqdm(total=total_slices * 2, desc=desc, unit="step", file=sys.stderr, disable=None)

    def update(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def run(args) -> int:
    import numpy as np

    from labelassist.batch.task import check_run_memory, propose_volume
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.nets.device import resolve_device
    from labelassist.io import load_volume, save_labels
    from labelassist.cli._common import check_output, writing
    from labelassist.io.save import check_output_path

    from labelassist.io.formats.us_regions import volume_modality

    pipeline_params(args)  # a bad combination is one line before any work
    check_output_path(args.output, source=args.volume)  # before any work: a bad -o is one line, at once
    if args.save_maps:
        _check_maps_folder(Path(args.save_maps))
        check_output(args.save_maps, "--save-maps", folder=True)
    volume = load_volume(args.volume, channel=args.channel)
    modality = volume_modality(volume)
    params = pipeline_params(args, modality=modality)  # ultrasound has its own defaults
    model_path = resolve_model_path(args.model, modality=modality)
    check_run_memory(volume, model_path=model_path)  # before the model is loaded: one line, no output file
    device = resolve_device(args.device)
    model, meta = load_checkpoint(model_path, device=device)
    bar, update = _progress_bar(len(volume.array), Path(args.volume).name)
    try:  # the one proposal 'labelassist batch' runs too
        proposal = propose_volume(volume, model, meta, params, device=device, batch_size=args.batch_size,
                                  progress=update)
    finally:
        bar.close()
    labels, pipe = proposal.labels, proposal.pipeline
    out = save_labels(labels, args.output, like=volume)
    if args.save_maps:
        with writing(args.save_maps, "--save-maps"):
            _save_maps(pipe, volume, Path(args.save_maps))
    positive = int(np.count_nonzero(labels.reshape(len(labels), -1).any(axis=1)))
    print(f"{out}: {positive} of {pipe.n_slices} slices with a lesion, {int(labels.sum())} voxels")
    return 0


def _check_maps_folder(folder: Path) -> None:
    """``--save-maps`` must name a folder (made when missing) that can be written in."""
    import os

    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"--save-maps {folder}: is a file, not a folder; name a folder for the maps")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"--save-maps {folder}: cannot write in {existing}; name a folder you can write in")


def _save_maps(pipe, volume, folder: Path) -> None:
    import numpy as np

    from labelassist.io import save_labels, save_map

    folder.mkdir(parents=True, exist_ok=True)
    cams = np.stack([r.cam.astype(np.float32) for r in pipe.results])
    save_map(cams, folder / "cam.nii.gz", like=volume)
    if all(r.perimeter is not None for r in pipe.results):
        perimeter = np.stack([r.perimeter for r in pipe.results]).astype(np.uint8)
        save_labels(perimeter, folder / "perimeter.nii.gz", like=volume)
    with open(folder / "probabilities.csv", "w", encoding="utf-8") as fh:
        fh.write("slice,p_lesion\n")
        for i, r in enumerate(pipe.results):
            fh.write(f"{i},{r.probability:.6f}\n")
