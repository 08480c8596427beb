"""Synthetic lesions with known masks in real anatomy (MRI); ultrasound: :mod:`labelassist.demo.us_synth`.

No file I/O here: :mod:`labelassist.demo.data` loads the MNI152 template and writes the files. Every
random choice comes from the ``rng`` passed in, so a seed gives the same data byte for byte.

Lesions are not flat discs: an ellipsoid whose radius is modulated by smooth noise (lobulated or
irregular margins), a logistic edge of varying sharpness, internal texture at two scales and
sometimes a necrotic core. The mask is the lesion's own extent: where its blend weight is >= 0.5.

Each case draws from three independent streams (anatomy/pose, lesions, nuisance: bias, gain, noise,
speckle), each seeded from ``rng``. So the same ``rng`` state with ``lesions=0`` gives the very same
image without its lesions, which is how the tests check that a mask is where the image changed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["SETTINGS", "lesion_weight", "make_mri_case", "random_affine"]

# Per setting: lesion count range, radius range (mm), contrast range (fraction of the brain's 1-99 %
# intensity range), probability of a hyperintense lesion, edge width range (mm; the 12-88 % rise of the
# logistic edge spans about twice this), margin irregularity range; ultrasound: lesion radius (pixels)
# and echogenicity (lesion echo / tissue echo: low = dark, easy to see), the share of hyperechoic lesions and
# their echogenicity (high = bright). The ultrasound cases are in labelassist.demo.us_synth.
SETTINGS = {
    "easy": {"count": (1, 3), "radius_mm": (8.0, 20.0), "contrast": (0.4, 0.8), "p_hyper": 0.85,
             "edge_mm": (0.3, 1.5), "irregular": (0.05, 0.3),
             "us_radius": (10.0, 30.0), "us_echo": (0.05, 0.3), "us_p_hyper": 0.3, "us_hyper_echo": (2.2, 3.2)},
    "hard": {"count": (1, 5), "radius_mm": (3.0, 8.0), "contrast": (0.08, 0.25), "p_hyper": 0.5,
             "edge_mm": (1.0, 3.5), "irregular": (0.1, 0.4),
             "us_radius": (6.0, 16.0), "us_echo": (0.45, 0.75), "us_p_hyper": 0.3, "us_hyper_echo": (1.3, 1.7)},
}


def rng_streams(rng, n):
    """``n`` independent generators seeded from ``rng`` (so one stream's use never shifts another)."""
    return [np.random.default_rng(int(s)) for s in rng.integers(0, 2**63, size=n)]


def smooth_noise(shape, rng, sigma) -> np.ndarray:
    """Smooth noise in [-1, 1]."""
    g = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return g / (np.abs(g).max() + 1e-9)


def _texture(shape, rng, sigma) -> np.ndarray:
    """Smooth noise with zero mean and unit standard deviation."""
    g = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return (g - g.mean()) / (g.std() + 1e-9)


def _weight_box(shape, centre, radii, rng, edge, irregular):
    """The lesion's weight on the bounding box that holds it: (weight, box slices)."""
    lo = [max(int(c - 1.6 * r - 3 * edge - 2), 0) for c, r in zip(centre, radii)]
    hi = [min(int(c + 1.6 * r + 3 * edge + 3), n) for c, r, n in zip(centre, radii, shape)]
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    bshape = tuple(b - a for a, b in zip(lo, hi))
    if min(bshape) <= 0:
        return np.zeros(bshape, np.float32), box
    grids = np.meshgrid(*[np.arange(a, b, dtype=float) for a, b in zip(lo, hi)], indexing="ij")
    d = np.sqrt(sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)))
    wobble = smooth_noise(bshape, rng, max(min(radii) / 2.0, 1.0))
    d = d / (1.0 + irregular * wobble)  # lobulated margin: the radius varies around the lesion
    mean_r = float(np.mean(radii))
    w = 1.0 / (1.0 + np.exp(np.clip((d - 1.0) * mean_r / max(edge, 1e-3) * 2.0, -60, 60)))
    w[w < 1e-3] = 0  # the lesion ends somewhere: beyond it the image is untouched
    return w.astype(np.float32), box


def lesion_weight(shape, centre, radii, rng, *, edge: float, irregular: float) -> np.ndarray:
    """Soft lesion weight in [0, 1] on a grid (2-D or 3-D, in voxels): 0.5 on the lesion's margin.

    Parameters
    ----------
    shape : tuple of int
        The grid.
    centre, radii : sequence of float
        Centre and per-axis radii, in voxels.
    rng : numpy Generator
        Draws the margin's irregularity.
    edge : float
        Width of the logistic edge (voxels): small = sharp, large = diffuse.
    irregular : float
        How much the radius varies around the lesion (0 = an ellipsoid, 0.4 = strongly lobulated).
    """
    shape = tuple(shape)
    if len(centre) != len(shape) or len(radii) != len(shape):
        raise ValueError(f"centre and radii need {len(shape)} values for a {len(shape)}-D grid")
    if min(radii) <= 0:
        raise ValueError(f"radii must be > 0, got {tuple(radii)}")
    w, box = _weight_box(shape, centre, radii, rng, edge, irregular)
    out = np.zeros(shape, np.float32)
    out[box] = w
    return out


def random_affine(shape, rng, *, rotate_deg=8.0, scale=(0.92, 1.08), shift=3.0):
    """A random small rotation/scale/shift about the centre of a 3-D grid: (matrix, offset) for ndimage."""
    a = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(a[0]), -np.sin(a[0])], [0, np.sin(a[0]), np.cos(a[0])]])
    ry = np.array([[np.cos(a[1]), 0, np.sin(a[1])], [0, 1, 0], [-np.sin(a[1]), 0, np.cos(a[1])]])
    rz = np.array([[np.cos(a[2]), -np.sin(a[2]), 0], [np.sin(a[2]), np.cos(a[2]), 0], [0, 0, 1]])
    m = rx @ ry @ rz @ np.diag(1.0 / rng.uniform(*scale, 3))
    c = (np.asarray(shape) - 1) / 2.0
    offset = c - m @ c + rng.uniform(-shift, shift, 3)
    return m, offset


def check_setting(setting):
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {', '.join(SETTINGS)}; got {setting!r}")
    return SETTINGS[setting]


def make_mri_case(template, brain_mask, *, rng, setting="easy", voxel_mm=2.0, lesions=None):
    """One MRI volume with lesions inserted into a randomly posed template.

    The template and mask get the same random rotation (up to 8 degrees), scale (0.92-1.08) and shift
    (3 voxels); then lesions go in (centres inside the eroded brain, weights cut at the brain's edge),
    then a smooth bias field, a random gain and Rician noise.

    Parameters
    ----------
    template, brain_mask : ndarray (3-D)
        The T1 template and its brain mask, on the same grid (any axis order; returned in the same).
    rng : numpy Generator
    setting : {"easy", "hard"}
        See :data:`SETTINGS`.
    voxel_mm : float
        Voxel size, to turn the setting's millimetres into voxels.
    lesions : int, optional
        Number of lesions (default: drawn from the setting; 0 gives the same volume without lesions).

    Returns
    -------
    image : float32 ndarray
        About 0-1300 in the brain (the gain varies).
    mask : uint8 ndarray
        1 where a lesion is.
    params : list of dict
        Per lesion: ``centre`` (voxel indices), ``radius_mm``, ``contrast``, ``polarity`` (hyper/hypo),
        ``edge_mm``, ``necrotic`` and ``voxels`` (its mask's size).
    """
    cfg = check_setting(setting)
    template, brain_mask = np.asarray(template), np.asarray(brain_mask)
    if template.ndim != 3 or template.shape != brain_mask.shape:
        raise ValueError(f"template and brain_mask must be 3-D and alike; got {template.shape} and {brain_mask.shape}")
    pose, draw, nuisance = rng_streams(rng, 3)
    m, off = random_affine(template.shape, pose)
    img = ndimage.affine_transform(template.astype(np.float32), m, offset=off, order=1)
    brain = ndimage.affine_transform(brain_mask.astype(np.float32), m, offset=off, order=1) > 0.5
    inside = img[brain]
    lo, hi = np.percentile(inside, [1, 99]) if inside.size else (0.0, 1.0)
    span = float(hi - lo) or 1.0
    n = int(draw.integers(cfg["count"][0], cfg["count"][1] + 1)) if lesions is None else int(lesions)
    candidates = np.argwhere(ndimage.binary_erosion(brain, iterations=3))
    mask = np.zeros(img.shape, bool)
    params = []
    for _ in range(n if len(candidates) else 0):
        centre = candidates[draw.integers(len(candidates))].astype(float)
        r_mm = draw.uniform(*cfg["radius_mm"])
        radii = r_mm / voxel_mm * draw.uniform(0.7, 1.3, 3)
        edge_mm = draw.uniform(*cfg["edge_mm"])
        w, box = _weight_box(img.shape, centre, radii, draw, edge_mm / voxel_mm, draw.uniform(*cfg["irregular"]))
        w *= brain[box]  # lesions stay inside the brain
        polarity = 1.0 if draw.random() < cfg["p_hyper"] else -1.0
        contrast = draw.uniform(*cfg["contrast"])
        # heterogeneous inside: blotches at two scales
        texture = np.clip(1.0 + draw.uniform(0.1, 0.25) * _texture(w.shape, draw, 1.0)
                          + draw.uniform(0.08, 0.2) * _texture(w.shape, draw, 2.5), 0.2, None)
        necrotic = bool(r_mm > 10 and draw.random() < 0.5)
        if necrotic:  # the centre of a large lesion turns the other way (a necrotic or cystic core)
            core_w, core_box = _weight_box(img.shape, centre, radii * draw.uniform(0.35, 0.55), draw, 1.0, 0.3)
            core = np.zeros(img.shape, np.float32)
            core[core_box] = core_w
            core = core[box]
            texture = texture * (1.0 - core) - 0.35 * core
        img[box] += polarity * contrast * span * w * texture
        lesion_mask = w >= 0.5
        mask[box] |= lesion_mask
        params.append({"centre": [round(float(c), 2) for c in centre], "radius_mm": round(float(r_mm), 2),
                       "contrast": round(float(contrast), 3), "polarity": "hyper" if polarity > 0 else "hypo",
                       "edge_mm": round(float(edge_mm), 2), "necrotic": necrotic, "voxels": int(lesion_mask.sum())})
    bias = 1.0 + 0.12 * smooth_noise(img.shape, nuisance, max(img.shape) / 4)
    gain = nuisance.uniform(0.7, 1.3) * 1000.0 / span
    sigma = nuisance.uniform(0.015, 0.035) * span
    real, imag = nuisance.normal(0, sigma, img.shape), nuisance.normal(0, sigma, img.shape)
    noisy = np.sqrt((np.clip(img, 0, None) * bias + real) ** 2 + imag**2)  # Rician magnitude
    return (noisy * gain).astype(np.float32), mask.astype(np.uint8), params
