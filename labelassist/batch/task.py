"""One volume, start to finish: the shared proposal (``labelassist run`` and ``labelassist batch`` both call
:func:`propose_volume`), the per-process model cache, and the task a Dask worker runs (:func:`run_volume`).

A task gets paths and parameters only (a :class:`BatchSpec`); it loads the classifier (and the segmenter)
once per worker process, keyed by path, sha256 and device, with the safe loaders
(:func:`~labelassist.core.nets.checkpoint.load_checkpoint`, ``weights_only=True``). The labels and the
provenance JSON beside them are both written atomically, so a killed worker or Ctrl+C never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from labelassist.core.propose.params import PipelineParams
from labelassist.errors import LabelAssistError, ParameterError, VolumeError
from labelassist.io.save import atomic_write

__all__ = ["BatchSpec", "Proposal", "propose_volume", "run_volume", "load_model", "provenance_path",
           "write_json_atomic", "SEGMENTER_MODES", "pinned_device", "pin_device", "run_memory_need",
           "check_run_memory", "limit_heap_retention"]

# What a proposal holds beyond the volume itself, per voxel (bytes): the CAMs (float16, 2), the perimeters
# (bool, 1), the masks and the labels returned (uint8, 2), the writer's copy (1) and the allocator's slack.
# Measured with benchmarks/bench_run_memory.py: 155 x 240 x 240 (8.9 M voxels) peaked 85 MiB above the volume.
RUN_BYTES_PER_VOXEL = 8
# Besides the voxels: one CAM batch's working set (bytes), plus the model's weights (counted apart).
RUN_FIXED_BYTES = 32 * 2**20

SEGMENTER_MODES = ("union", "replace")
"""How the segmenter's masks combine with BoundaryFit's: ``union`` (default: a voxel is lesion when either
says so; the segmenter adds what the fit missed, a reviewer removes extras) or ``replace`` (the segmenter's
masks alone; the CAM still runs when the segmenter was trained to see it)."""


@dataclass(frozen=True)
class BatchSpec:
    """Everything a task needs besides its input path: plain, picklable values (no model, no volume).

    Attributes
    ----------
    model_path, model_sha256 : str
        The classifier checkpoint and its sha256 (:func:`~labelassist.core.nets.checkpoint.checkpoint_hash`).
    params : PipelineParams
        The pipeline parameters.
    out_dir : str
        Where the labels and provenance go.
    device : str
        ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; ``auto`` on a worker pinned to a GPU (see
        :func:`pin_device`) means that GPU.
    batch_size : int
        Slices per CAM batch.
    channel : int or None
        Which channel of a 4-D volume (None: all).
    segmenter_path, segmenter_sha256 : str or None
        The learned segmenter (``--segmenter``), or None.
    segmenter_mode : {"union", "replace"}
        See :data:`SEGMENTER_MODES`.
    by_modality : tuple of (str, str, str, PipelineParams)
        ``(modality, model_path, model_sha256, params)`` for the volumes of a modality that takes another model
        or other defaults (ultrasound: ``"US"``); each volume runs with :meth:`for_modality` of its own.
    """

    model_path: str
    model_sha256: str
    params: PipelineParams
    out_dir: str
    device: str = "auto"
    batch_size: int = 16
    channel: int | None = None
    segmenter_path: str | None = None
    segmenter_sha256: str | None = None
    segmenter_mode: str = "union"
    by_modality: tuple = ()

    def __post_init__(self):
        if self.segmenter_mode not in SEGMENTER_MODES:
            raise ParameterError(f"segmenter_mode must be one of {', '.join(SEGMENTER_MODES)}; "
                                 f"got {self.segmenter_mode!r}")
        for entry in self.by_modality:
            if len(entry) != 4 or not isinstance(entry[3], PipelineParams):
                raise ParameterError("by_modality must hold (modality, model_path, model_sha256, PipelineParams) "
                                     f"tuples; got {entry!r}")

    def for_modality(self, modality: str) -> BatchSpec:
        """The spec a volume of ``modality`` runs with: its own model and parameters when :attr:`by_modality`
        names it, else this spec (without the per-modality entries)."""
        for name, path, sha256, params in self.by_modality:
            if str(modality).upper() == str(name).upper():
                return replace(self, model_path=path, model_sha256=sha256, params=params, by_modality=())
        return replace(self, by_modality=())

    def keys(self) -> list[dict]:
        """Every :meth:`key` an up-to-date output may hold: this spec's and each modality's."""
        return [self.for_modality("").key()] + [self.for_modality(entry[0]).key() for entry in self.by_modality]

    def key(self) -> dict:
        """What makes an output current (``--resume``): model, parameters, channel and segmenter, JSON-ready."""
        key = {"model_sha256": self.model_sha256, "params": asdict(self.params), "channel": self.channel,
               "segmenter_sha256": self.segmenter_sha256,
               "segmenter_mode": self.segmenter_mode if self.segmenter_sha256 else None}
        return json.loads(json.dumps(key))  # tuples -> lists, as the JSON on disk will hold them


@dataclass
class Proposal:
    """What :func:`propose_volume` returns: the labels, the pipeline (its per-slice CAM, perimeter and
    p(lesion) for ``--save-maps``) and the segmenter's own masks (None without a segmenter)."""

    labels: np.ndarray
    pipeline: object
    segmenter_masks: np.ndarray | None = None
    timings: dict = field(default_factory=dict)


def propose_volume(volume, model, meta: dict, params: PipelineParams, *, device="cpu", batch_size: int = 16,
                   segmenter=None, segmenter_mode: str = "union", progress=None) -> Proposal:
    """CAM + perimeter map + BoundaryFit over every slice of ``volume`` (and the segmenter's prediction).

    Parameters
    ----------
    volume : labelassist.io.Volume
        The loaded volume (its ``array`` is used).
    model : torch.nn.Module
        The classifier, from :func:`~labelassist.core.nets.checkpoint.load_checkpoint`.
    meta : dict
        Its checkpoint metadata.
    params : PipelineParams
        The pipeline parameters.
    device : str or torch.device, keyword-only
        Where the model runs (already resolved by the caller, or a name).
    batch_size : int, keyword-only
        Slices per CAM batch.
    segmenter : Segmenter or None, keyword-only
        A learned segmenter (:func:`~labelassist.core.nets.segmenter_checkpoint.load_segmenter`); its masks
        are combined with BoundaryFit's as ``segmenter_mode`` says.
    segmenter_mode : {"union", "replace"}, keyword-only
        See :data:`SEGMENTER_MODES`.
    progress : callable or None, keyword-only
        ``progress(done, total)`` of the pipeline run.

    Returns
    -------
    Proposal
        ``labels`` (z, y, x) uint8, the same as ``labelassist run`` writes for these options.
    """
    from labelassist.core.propose.pipeline import Pipeline
    from labelassist.io.formats.us_regions import volume_area

    if segmenter_mode not in SEGMENTER_MODES:
        raise ParameterError(f"segmenter_mode must be one of {', '.join(SEGMENTER_MODES)}; got {segmenter_mode!r}")
    if not isinstance(params, PipelineParams):
        raise ParameterError(f"params must be a PipelineParams, got {type(params).__name__}")
    limit_heap_retention()
    t0 = time.perf_counter()
    pipe = Pipeline(volume.array, model, meta, device=device, params=params, batch_size=batch_size,
                    area=volume_area(volume), keep_regions=False)  # ultrasound: only inside its scan area
    labels = pipe.run(progress=progress)
    timings = {"propose_s": time.perf_counter() - t0}
    seg_masks = None
    if segmenter is not None:
        from labelassist.core.propagate.propagation import predict

        t1 = time.perf_counter()
        cam = np.stack([r.cam for r in pipe.results]) if segmenter.meta.get("use_cam") else None
        seg_masks, _, _ = predict(volume.array, segmenter, cam=cam, device=device)
        labels = seg_masks.astype(np.uint8) if segmenter_mode == "replace" else (labels | seg_masks).astype(np.uint8)
        timings["segmenter_s"] = time.perf_counter() - t1
    return Proposal(labels=labels, pipeline=pipe, segmenter_masks=seg_masks, timings=timings)


def run_memory_need(shape, *, model_bytes: int = 0) -> int:
    """Bytes a proposal over a volume of ``shape`` takes beyond the loaded volume (an estimate: see
    :data:`RUN_BYTES_PER_VOXEL`); ``model_bytes``: the classifier's weights when not loaded yet."""
    voxels = int(np.prod(tuple(shape)[:3], dtype=np.int64))
    return voxels * RUN_BYTES_PER_VOXEL + RUN_FIXED_BYTES + int(model_bytes)


def check_run_memory(volume, *, model_path=None) -> None:
    """Refuse (one line) a proposal over ``volume`` (already read) that cannot fit in the available memory,
    before the model is loaded; ``model_path``: the checkpoint, whose size stands for its weights."""
    from labelassist.io.formats.limits import available_memory

    model_bytes = Path(model_path).stat().st_size if model_path is not None and Path(model_path).is_file() else 0
    need, have = run_memory_need(volume.array.shape, model_bytes=model_bytes), available_memory()
    if need > have:
        raise VolumeError(f"{volume.source_path}: proposing masks needs about {need / 2**20:.0f} MiB of memory, "
                          f"{have / 2**20:.0f} MiB available; free memory, or crop or downsample the volume")


def limit_heap_retention() -> None:
    """Make glibc return big freed blocks to the system at once (Linux; elsewhere nothing).

    glibc raises its mmap threshold to the size of each big block freed (up to 32 MiB), so the CAM's many
    short-lived tensors of a few MiB end up in the heap, where freed memory stays resident: about 100 MiB more
    at the peak of a 155 x 240 x 240 run. Fixing the threshold at glibc's default (128 KiB) keeps them out of it.
    Process-wide and idempotent: a ``labelassist run`` or batch worker owns its process.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


# -- the worker side: device pinning and the model cache ------------------------------------------------------

_PINNED: dict[str, str] = {}
_MODELS: dict[tuple, object] = {}


def pin_device(device: str | None) -> None:
    """Pin this process to ``device`` (``"cuda:1"``): a task with ``device="auto"`` runs there (None unpins)."""
    if device is None:
        _PINNED.pop("device", None)
    else:
        _PINNED["device"] = str(device)


def pinned_device() -> str | None:
    """The device this process was pinned to by :func:`pin_device`, or None."""
    return _PINNED.get("device")


def _device(name: str):
    from labelassist.core.nets.device import resolve_device

    if str(name).strip().lower() == "auto" and pinned_device():
        name = pinned_device()
    return resolve_device(name)


def load_model(kind: str, path, sha256: str, device):
    """The classifier (``kind="classifier"``: ``(model, meta)``) or segmenter of ``path`` on ``device``, loaded
    once per process: the cache is keyed by path, sha256 and device, so a changed file is loaded again."""
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.nets.segmenter_checkpoint import load_segmenter

    if kind not in ("classifier", "segmenter"):
        raise ParameterError(f"kind must be 'classifier' or 'segmenter', got {kind!r}")
    key = (kind, str(Path(path).resolve()), sha256, str(device))
    if key not in _MODELS:
        _MODELS[key] = load_checkpoint(path, device=device) if kind == "classifier" else load_segmenter(path,
                                                                                                      device=device)
    return _MODELS[key]


def cached_models() -> int:
    """How many models this process holds (for tests and benchmarks: one per checkpoint and device)."""
    return len(_MODELS)


# -- files ----------------------------------------------------------------------------------------------------


def provenance_path(output) -> Path:
    """The provenance JSON beside a label file: ``x_labels.nii.gz`` -> ``x_labels.json``."""
    from labelassist.io.formats.table import split_suffix

    output = Path(output)
    return output.with_name(split_suffix(output)[0] + ".json")


def write_json_atomic(data: dict, path) -> Path:
    """Write ``data`` as JSON to a temporary file beside ``path``, then rename (never half a file)."""
    path = Path(path)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8"), ".json")
    return path


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("labelassist", "torch", "numpy", "nibabel", "scikit-image", "dask", "distributed"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[name] = md.version(name)
    return out


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark in MiB (``resource.getrusage``; 0 where unavailable)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def worker_name() -> str:
    """The Dask worker's name when running in one, else ``"local"``."""
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"


# -- the task ---------------------------------------------------------------------------------------------------


def run_volume(input_path: str, output: str, spec: BatchSpec) -> dict:
    """The Dask task: read ``input_path``, propose, write ``output`` and its provenance; returns a manifest row.

    A failure of this volume is caught and returned as a ``failed`` row (a :class:`LabelAssistError` message
    as it is, anything else ``Type: message``), so it never stops the batch; a lost worker is not an error
    here (the scheduler runs the task again elsewhere).
    """
    t0 = time.perf_counter()
    row = {"input": str(input_path), "status": "done", "output": str(output), "error": "",
           "worker": worker_name(), "model_sha256": spec.model_sha256}
    try:
        row["provenance"] = _process(Path(input_path), Path(output), spec)
        row["model_sha256"] = row["provenance"].pop("model_sha256", spec.model_sha256)
    except LabelAssistError as exc:
        row.update(status="failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - one failed volume is a row, not the end of the batch
        first = str(exc).splitlines()[0] if str(exc) else ""
        row.update(status="failed", error=f"{type(exc).__name__}: {first}".rstrip(": "))
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def _process(input_path: Path, output: Path, spec: BatchSpec) -> dict:
    from labelassist.io import load_volume, save_labels
    from labelassist.io.formats.us_regions import volume_modality

    times = {}
    t = time.perf_counter()
    volume = load_volume(input_path, channel=spec.channel)
    check_run_memory(volume)
    times["read_s"] = time.perf_counter() - t
    spec = spec.for_modality(volume_modality(volume))  # ultrasound: its own model and defaults
    t = time.perf_counter()
    device = _device(spec.device)
    model, meta = load_model("classifier", spec.model_path, spec.model_sha256, device)
    segmenter = (load_model("segmenter", spec.segmenter_path, spec.segmenter_sha256, device)
                 if spec.segmenter_path else None)
    times["models_s"] = time.perf_counter() - t
    result = propose_volume(volume, model, meta, spec.params, device=device, batch_size=spec.batch_size,
                            segmenter=segmenter, segmenter_mode=spec.segmenter_mode)
    times.update(result.timings)
    t = time.perf_counter()
    save_labels(result.labels, output, like=volume)
    times["write_s"] = time.perf_counter() - t
    record = {"input": str(input_path.resolve()), "output": str(output), "format": volume.format,
              "shape": list(volume.array.shape), "key": spec.key(), "model_path": str(spec.model_path),
              "segmenter_path": spec.segmenter_path, "device": str(device), "worker": worker_name(),
              "host": platform.node(), "versions": _versions(), "timings_s": {k: round(v, 4) for k, v in times.items()},
              "lesion_voxels": int(np.count_nonzero(result.labels)), "peak_rss_mb": round(peak_rss_mb(), 1),
              "volume_float32_mb": round(int(np.prod(volume.array.shape)) * 4 / (1 << 20), 2),
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json_atomic(record, provenance_path(output))
    return {"model_sha256": spec.model_sha256, "peak_rss_mb": record["peak_rss_mb"],
            "volume_float32_mb": record["volume_float32_mb"],
            "voxels": int(np.prod(volume.array.shape[:3])), "timings_s": record["timings_s"]}
