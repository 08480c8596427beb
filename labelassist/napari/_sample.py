"""npe2 sample data: a demo MRI volume and a demo ultrasound image (synthetic lesions on the MNI152
template nilearn ships, and a B-mode-like image), written once to the user's data folder so that a
review session and an export have a home beside them."""

from __future__ import annotations

from pathlib import Path

from labelassist.io import load_volume
from labelassist.io.sessions.session import user_data_dir
from labelassist.napari._reader import image_layer_data

__all__ = ["demo_mri", "demo_ultrasound", "sample_folder"]


def sample_folder() -> Path:
    """The demo data folder (made on first use; deterministic, seed 0)."""
    from labelassist.demo.data import MANIFEST, write_demo_data

    folder = user_data_dir() / "samples"
    if not (folder / MANIFEST).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        write_demo_data(folder, seed=0, settings=("easy",), n_mri=1, n_us=1)
    return folder


def demo_mri():
    """The demo MRI volume (81 axial slices of 96 x 79 voxels, 2 mm, one synthetic lesion)."""
    return [image_layer_data(load_volume(sample_folder() / "mri" / "easy" / "vol_000.nii.gz"))]


def demo_ultrasound():
    """The demo ultrasound image (256 x 256, hypoechoic lesions)."""
    return [image_layer_data(load_volume(sample_folder() / "us" / "easy" / "img_000.png"))]
