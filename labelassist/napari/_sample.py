"""npe2 sample data: a demo MRI volume, a demo ultrasound image and a demo ultrasound cine (synthetic lesions on
the MNI152 template nilearn ships, a B-mode-like image, a DICOM cine on a scanner's screen), written once to the user's data folder so that a
review session and an export have a home beside them."""

from __future__ import annotations

from pathlib import Path

from labelassist.io import load_volume
from labelassist.io.sessions.session import user_data_dir
from labelassist.napari._reader import image_layer_data

__all__ = ["demo_mri", "demo_ultrasound", "demo_ultrasound_cine", "sample_folder"]


def sample_folder() -> Path:
    """The demo data folder (made on first use; deterministic, seed 0)."""
    from labelassist.demo.data import MANIFEST, write_demo_data

    folder = user_data_dir() / "samples"
    if not (folder / MANIFEST).is_file() or not (folder / "us" / "easy" / "cine_000.dcm").is_file():
        folder.mkdir(parents=True, exist_ok=True)  # (an older sample folder, without the cine, is written anew)
        write_demo_data(folder, seed=0, settings=("easy",), n_mri=1, n_us=1, n_cine=1)
    return folder


def demo_mri():
    """The demo MRI volume (81 axial slices of 96 x 79 voxels, 2 mm, one synthetic lesion)."""
    return [image_layer_data(load_volume(sample_folder() / "mri" / "easy" / "vol_000.nii.gz"))]


def demo_ultrasound():
    """The demo ultrasound image (256 x 256, hypoechoic lesions)."""
    return [image_layer_data(load_volume(sample_folder() / "us" / "easy" / "img_000.png"))]


def demo_ultrasound_cine():
    """The demo ultrasound cine (DICOM: 24 frames of a sweep, a 320 x 416 screen around the sector, a lesion)."""
    return [image_layer_data(load_volume(sample_folder() / "us" / "easy" / "cine_000.dcm"))]
