"""Demo data: MRI volumes from the MNI152 T1 template nilearn ships (offline) and B-mode-like images,
with synthetic lesions and their masks (:mod:`labelassist.demo.synth`).

Layout of OUT_DIR::

    manifest.json
    mri/<setting>/vol_000.nii.gz, vol_000_mask.nii.gz, ...   (float32 / uint8 0-1; 2 mm voxels)
    us/<setting>/img_000.png, img_000_mask.png, ...          (8-bit grey 256x256; masks 0/1 uint8)
    us/<setting>/cine_000.dcm, cine_000_mask.nii.gz, ...     (DICOM ultrasound cines on a scanner's screen)

MRI: the MNI152 T1 template (2 mm) cropped to the brain's box plus 3 voxels, about 79 x 96 x 81
voxels (i, j, k = R, A, S); read by labelassist as ``array[z, y, x]`` with z = k, so slices are axial.
qform and sform both hold the affine (code 1). Per setting, every third volume (2, 5, 8, ...) has no lesion:
without lesion-free volumes a classifier learns "a big brain cross-section means lesion" (lesions are
placed uniformly in the brain, so they are likelier where the brain is large) instead of the lesion.

Cines: 24 frames of a sweep, RGB 320 x 416 screens (text, depth ruler, grey bar, logo, frame counter) around a
256 x 256 sector, RLE-compressed, with ``SequenceOfUltrasoundRegions`` (0.3125 mm pixels) except one in 4; their
masks on the grid labelassist reads them on (:mod:`labelassist.demo.us_files`).

``manifest.json``: ``seed``, ``settings``, then ``mri``, ``us`` and ``us_cine`` lists with, per file, ``path`` and
``mask`` (relative to OUT_DIR), ``setting``, ``lesions`` (count), for MRI ``positive_slices`` and
``slices`` (along k), and ``lesion_params``: per lesion its ``centre`` (voxel i, j, k; for US row,
column; for a cine frame, row, column of the screen), for MRI ``centre_mm`` (world RAS), ``radius_mm`` / ``radius_px``, ``contrast``, ``polarity``
and the rest of :func:`labelassist.demo.synth.make_mri_case` / ``make_ultrasound_case``'s parameters.

Writing again into a previous output replaces it: files the old manifest listed and the new one does
not are removed. Any other non-empty folder is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from labelassist.demo.synth import SETTINGS, make_mri_case
from labelassist.demo.us_files import write_ultrasound_cine
from labelassist.demo.us_synth import make_ultrasound_case
from labelassist.errors import ParameterError, VolumeError
from labelassist.io.save import atomic_write

__all__ = ["write_demo_data", "load_template", "MANIFEST"]

MANIFEST = "manifest.json"
SETTINGS_ORDER = tuple(SETTINGS)


def load_template():
    """The MNI152 T1 template (2 mm) and its brain mask, cropped to the brain; returns (t1, mask, affine)."""
    from nilearn.datasets import load_mni152_brain_mask, load_mni152_template

    t1_img = load_mni152_template(resolution=2)
    t1 = np.asarray(t1_img.get_fdata(), np.float32)
    mask = np.asarray(load_mni152_brain_mask(resolution=2).get_fdata()) > 0.5
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(axis=0) - 3, 0)
    hi = np.minimum(idx.max(axis=0) + 4, mask.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    affine = t1_img.affine.copy()
    affine[:3, 3] += affine[:3, :3] @ lo
    return t1[box], mask[box], affine


def _check_out_dir(out: Path) -> list:
    """Refuse a file or an unrelated non-empty folder; returns the files a previous output listed."""
    if out.exists() and not out.is_dir():
        raise VolumeError(f"{out}: exists and is not a folder; choose a new folder for the demo data")
    if not out.is_dir() or not any(out.iterdir()):
        return []
    try:
        old = json.loads((out / MANIFEST).read_text())
        return [out / e[key] for e in _entries(old) for key in ("path", "mask")]
    except (OSError, ValueError, KeyError, TypeError):
        raise VolumeError(f"{out}: folder is not empty and holds no demo data; choose an empty or new folder") from None


def _entries(manifest: dict) -> list:
    """Every file entry of a manifest: MRI volumes, ultrasound images and cines."""
    return manifest["mri"] + manifest["us"] + manifest.get("us_cine", [])


def _write_nifti(path: Path, data, affine, dtype) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(data, dtype=dtype), affine)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm")
    atomic_write(path, lambda tmp: nib.save(img, str(tmp)), ".nii.gz")


def _write_png(path: Path, data) -> None:
    import cv2

    def write(tmp):
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(data)):
            raise VolumeError(f"{path}: could not write the PNG")

    atomic_write(path, write, ".png")


def _write_mri_setting(out: Path, setting: str, n: int, rng, brain_data, twins: bool) -> list:
    """The MRI volumes of one setting (and their twins): their manifest entries."""
    t1, brain, affine = brain_data
    folder = out / "mri" / setting
    folder.mkdir(parents=True, exist_ok=True) if n else None
    entries = []
    for i in range(n):
        lesions = 0 if i % 3 == 2 else None
        before = rng.bit_generator.state
        image, mask, params = make_mri_case(t1, brain, rng=rng, setting=setting, lesions=lesions)
        twin_entry = None
        if twins and params:
            after = rng.bit_generator.state
            rng.bit_generator.state = before  # the same draws, without the lesions
            twin, twin_mask, _ = make_mri_case(t1, brain, rng=rng, setting=setting, lesions=0)
            rng.bit_generator.state = after
            tv, tm = folder / f"vol_{i:03d}_twin.nii.gz", folder / f"vol_{i:03d}_twin_mask.nii.gz"
            _write_nifti(tv, twin, affine, np.float32)
            _write_nifti(tm, twin_mask, affine, np.uint8)
            twin_entry = {
                "path": str(tv.relative_to(out)), "mask": str(tm.relative_to(out)), "setting": setting,
                "lesions": 0, "positive_slices": 0, "slices": int(twin_mask.shape[2]), "lesion_params": [],
                "twin_of": f"vol_{i:03d}",
            }
        for p in params:
            p["centre_mm"] = [round(float(v), 1) for v in affine[:3, :3] @ p["centre"] + affine[:3, 3]]
        vol, msk = folder / f"vol_{i:03d}.nii.gz", folder / f"vol_{i:03d}_mask.nii.gz"
        _write_nifti(vol, image, affine, np.float32)
        _write_nifti(msk, mask, affine, np.uint8)
        entries.append({
            "path": str(vol.relative_to(out)), "mask": str(msk.relative_to(out)), "setting": setting,
            "lesions": len(params), "positive_slices": int(mask.any(axis=(0, 1)).sum()),  # along k
            "slices": int(mask.shape[2]), "lesion_params": params,
        })
        if twin_entry is not None:
            entries.append(twin_entry)
    return entries


def _write_us_setting(out: Path, setting: str, n_us: int, n_cine: int, rng, twins: bool = False) -> tuple[list, list]:
    """The ultrasound stills and cines of one setting: (stills' entries, cines' entries; with ``twins``, each cine
    with a lesion is followed by its lesion-free twin ``cine_NNN_twin``: the same screen, tissue and speckle)."""
    folder = out / "us" / setting
    folder.mkdir(parents=True, exist_ok=True) if n_us or n_cine else None
    stills, cines = [], []
    for i in range(n_us):
        image, mask, params = make_ultrasound_case(rng=rng, setting=setting)
        img, msk = folder / f"img_{i:03d}.png", folder / f"img_{i:03d}_mask.png"
        _write_png(img, image)
        _write_png(msk, mask)
        stills.append({"path": str(img.relative_to(out)), "mask": str(msk.relative_to(out)),
                       "setting": setting, "lesions": len(params), "lesion_params": params})
    for i in range(n_cine):  # one in 3 without a lesion; one in 4 without the regions (the area found by motion)
        before = rng.bit_generator.state
        kw = {"rng": rng, "setting": setting, "regions": i % 4 != 3}
        entries = [write_ultrasound_cine(folder, f"cine_{i:03d}", lesions=0 if i % 3 == 2 else None, **kw)]
        if twins and entries[0]["lesions"]:
            after = rng.bit_generator.state
            rng.bit_generator.state = before  # the same draws, without the lesions
            entries.append({**write_ultrasound_cine(folder, f"cine_{i:03d}_twin", lesions=0, **kw),
                            "twin_of": f"cine_{i:03d}"})
            rng.bit_generator.state = after
        for entry in entries:
            entry["path"], entry["mask"] = (str((folder / entry[k]).relative_to(out)) for k in ("path", "mask"))
        cines += entries
    return stills, cines


def write_demo_data(out_dir, *, seed: int = 0, settings=("easy", "hard"), n_mri: int = 8, n_us: int = 40,
                    n_cine: int = 0, twins: bool = False) -> dict:
    """Write demo MRI volumes, ultrasound images and ultrasound cines with lesion masks; returns the manifest.

    Deterministic for a seed. One volume in 3 and a third of the images have no lesion at all.
    ``twins=True`` also writes, for every MRI volume with lesions, its lesion-free twin
    (``vol_NNN_twin.nii.gz``: the very same anatomy, pose, bias and noise, without the lesions, and an
    empty mask). Training a classifier on such pairs leaves it nothing but the lesion itself to tell
    them apart, so its CAM has to look at the lesion. The other outputs are the same with or without.
    ``twins`` does the same for the cines. ``n_cine`` ultrasound cines per setting (:mod:`labelassist.demo.us_files`) come after the images, so adding
    them changes nothing else.
    """
    out = Path(out_dir)
    if isinstance(settings, str):
        settings = (settings,)
    previous = _check_out_dir(out)
    for s in settings:
        if s not in SETTINGS:
            raise ParameterError(f"settings must be among {', '.join(SETTINGS)}; got {s!r}")
    if n_mri < 0 or n_us < 0 or n_cine < 0:
        raise ParameterError(f"n_mri, n_us and n_cine must be >= 0, got {n_mri}, {n_us}, {n_cine}")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    brain_data = load_template() if n_mri else (None, None, None)
    manifest = {"seed": seed, "settings": list(settings), "mri": [], "us": [], "us_cine": []}
    for setting in settings:
        manifest["mri"] += _write_mri_setting(out, setting, n_mri, rng, brain_data, twins)
        stills, cines = _write_us_setting(out, setting, n_us, 0, rng)
        manifest["us"] += stills
    for setting in settings:  # last, from their own stream: the other files are the same with or without
        cine_rng = np.random.default_rng([seed, SETTINGS_ORDER.index(setting), 7])
        manifest["us_cine"] += _write_us_setting(out, setting, 0, n_cine, cine_rng, twins)[1]
    atomic_write(out / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1)), ".json")
    kept = {out / e[key] for e in _entries(manifest) for key in ("path", "mask")}
    for stale in set(previous) - kept:  # left over from a larger previous run
        if stale.resolve().is_relative_to(out.resolve()) and stale.is_file():
            stale.unlink()
    return manifest
