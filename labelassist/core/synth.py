"""Synthetic lesions with known masks, in real anatomy (MRI) and in simulated B-mode ultrasound.

No file I/O here: :mod:`labelassist.io.demo` loads the MNI152 template and writes the files. Every
random choice comes from the ``rng`` passed in, so a seed gives the same data byte for byte.

Lesions are not flat discs: an ellipsoid whose radius is modulated by smooth noise (lobulated or
irregular margins), a logistic edge of varying sharpness, internal texture and sometimes a necrotic
core. The mask is the lesion's own extent, where the blend weight is >= 0.5.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["SETTINGS", "lesion_weight", "make_mri_case", "make_ultrasound_case", "random_affine"]

# Per setting: lesion count range, radius range (mm), contrast range (fraction of the brain's range),
# probability of hyperintensity, edge width range (mm), irregularity range.
SETTINGS = {
    "easy": {"count": (1, 3), "radius_mm": (8.0, 20.0), "contrast": (0.4, 0.8), "p_hyper": 0.85,
             "edge_mm": (0.3, 1.2), "irregular": (0.05, 0.25), "us_echo": (0.08, 0.25)},
    "hard": {"count": (1, 5), "radius_mm": (3.0, 8.0), "contrast": (0.08, 0.25), "p_hyper": 0.5,
             "edge_mm": (0.8, 2.5), "irregular": (0.1, 0.4), "us_echo": (0.45, 0.75)},
}


def _smooth_noise(shape, rng, sigma) -> np.ndarray:
    """Smooth noise in [-1, 1]."""
    g = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return g / (np.abs(g).max() + 1e-9)


def lesion_weight(shape, centre, radii, rng, *, edge: float, irregular: float) -> np.ndarray:
    """Soft lesion weight in [0, 1] on a grid (2-D or 3-D, in voxels): 0.5 on the lesion's margin.

    ``radii`` per axis (voxels); ``edge`` the logistic edge width (voxels); ``irregular`` how much the
    radius varies around the lesion (0 = an ellipsoid).
    """
    shape = tuple(shape)
    lo = [max(int(c - 1.6 * r - 3 * edge - 2), 0) for c, r in zip(centre, radii)]
    hi = [min(int(c + 1.6 * r + 3 * edge + 3), n) for c, r, n in zip(centre, radii, shape)]
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    grids = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
    d = np.sqrt(sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)))
    bshape = tuple(b - a for a, b in zip(lo, hi))
    wobble = _smooth_noise(bshape, rng, max(min(radii) / 2.0, 1.0)) if bshape and min(bshape) > 0 else 0
    d = d / (1.0 + irregular * wobble)
    mean_r = float(np.mean(radii))
    w_box = 1.0 / (1.0 + np.exp((d - 1.0) * mean_r / max(edge, 1e-3) * 2.0))
    out = np.zeros(shape, np.float32)
    out[box] = w_box
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


def make_mri_case(template, brain_mask, *, rng, setting="easy", voxel_mm=2.0, lesions=None):
    """One MRI volume with lesions inserted into a randomly deformed template.

    Parameters
    ----------
    template, brain_mask : ndarray (3-D)
        The T1 template and its brain mask, on the same grid (any axis order; returned in the same).
    rng : numpy Generator
    setting : {"easy", "hard"}
    voxel_mm : float
        Voxel size, to turn the setting's millimetres into voxels.
    lesions : int, optional
        Number of lesions (default: drawn from the setting; 0 gives a lesion-free volume).

    Returns
    -------
    image : float32, mask : uint8, params : list of dict
    """
    cfg = SETTINGS[setting]
    m, off = random_affine(template.shape, rng)
    img = ndimage.affine_transform(template.astype(np.float32), m, offset=off, order=1)
    brain = ndimage.affine_transform(brain_mask.astype(np.float32), m, offset=off, order=1) > 0.5
    inside = img[brain]
    lo, hi = np.percentile(inside, [1, 99]) if inside.size else (0.0, 1.0)
    span = float(hi - lo) or 1.0
    n = int(rng.integers(cfg["count"][0], cfg["count"][1] + 1)) if lesions is None else int(lesions)
    core = ndimage.binary_erosion(brain, iterations=3)
    candidates = np.argwhere(core)
    mask = np.zeros(img.shape, bool)
    params = []
    for _ in range(n if len(candidates) else 0):
        centre = candidates[rng.integers(len(candidates))].astype(float)
        r_mm = rng.uniform(*cfg["radius_mm"])
        radii = r_mm / voxel_mm * rng.uniform(0.7, 1.3, 3)
        weight = lesion_weight(img.shape, centre, radii, rng, edge=rng.uniform(*cfg["edge_mm"]) / voxel_mm,
                               irregular=rng.uniform(*cfg["irregular"]))
        weight *= brain  # lesions stay inside the brain
        polarity = 1.0 if rng.random() < cfg["p_hyper"] else -1.0
        contrast = rng.uniform(*cfg["contrast"])
        texture = 1.0 + 0.35 * _smooth_noise(img.shape, rng, 1.2) * (weight > 0.05)
        if r_mm > 12 and rng.random() < 0.5:  # a necrotic core: the centre of a large lesion fades back
            core_w = lesion_weight(img.shape, centre, radii * 0.45, rng, edge=1.0, irregular=0.3)
            texture *= 1.0 - 0.8 * core_w
        img = img + polarity * contrast * span * weight * texture
        lesion_mask = weight >= 0.5
        mask |= lesion_mask
        params.append({"centre": [round(float(c), 2) for c in centre], "radius_mm": round(float(r_mm), 2),
                       "contrast": round(float(contrast), 3), "polarity": "hyper" if polarity > 0 else "hypo",
                       "voxels": int(lesion_mask.sum())})
    bias = 1.0 + 0.12 * _smooth_noise(img.shape, rng, max(img.shape) / 4)
    gain = rng.uniform(0.7, 1.3) * 1000.0 / span
    sigma = rng.uniform(0.015, 0.035) * span
    noisy = np.sqrt((img * bias + rng.normal(0, sigma, img.shape)) ** 2 + rng.normal(0, sigma, img.shape) ** 2)
    return (noisy * gain).astype(np.float32), mask.astype(np.uint8), params


def _sector(shape, rng):
    h, w = shape
    apex = (-h * rng.uniform(0.15, 0.3), w / 2)
    yy, xx = np.mgrid[:h, :w]
    ang = np.arctan2(xx - apex[1], yy - apex[0])
    rad = np.hypot(yy - apex[0], xx - apex[1])
    half = np.deg2rad(rng.uniform(28, 38))
    return (np.abs(ang) < half) & (rad > -apex[0] + h * 0.03) & (rad < h * 1.05 - apex[0] * 0.0)


def make_ultrasound_case(*, rng, setting="easy", shape=(256, 256), lesions=None):
    """One B-mode-like image: layers, speckle, attenuation, shadowing, and hypoechoic lesions.

    Returns
    -------
    image : uint8 (H, W), mask : uint8 (H, W) 0/1, params : list of dict
    """
    cfg = SETTINGS[setting]
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(float)
    tissue = 0.55 + 0.15 * _smooth_noise(shape, rng, 12)
    # layers: skin (bright), fat (dark), fascia (bright line), muscle with striations
    y1, y2 = h * rng.uniform(0.08, 0.14), h * rng.uniform(0.22, 0.32)
    wave = 4 * _smooth_noise((w,), rng, 20)[None, :]
    tissue = np.where(yy < y1 + wave, 0.9, tissue)
    tissue = np.where((yy >= y1 + wave) & (yy < y2 + wave), 0.3 + 0.1 * _smooth_noise(shape, rng, 6), tissue)
    tissue += 0.6 * np.exp(-((yy - y2 - wave) ** 2) / 4.0)
    tissue += 0.08 * np.sin(yy / rng.uniform(3, 6) + 0.3 * _smooth_noise(shape, rng, 8) * 6) * (yy > y2 + wave)
    # bright reflectors, some casting an acoustic shadow below them
    shadow = np.ones(shape)
    for _ in range(int(rng.integers(0, 3))):
        cy, cx = rng.uniform(y2 + 10, h * 0.8), rng.uniform(w * 0.15, w * 0.85)
        ry, rx = rng.uniform(2, 5), rng.uniform(8, 20)
        blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        tissue = np.where(blob, 1.4, tissue)
        if rng.random() < 0.7:
            cols = np.abs(xx - cx) < rx * 0.9
            shadow *= np.where(cols & (yy > cy + ry), 0.25, 1.0)
    mask = np.zeros(shape, bool)
    params = []
    n = int(rng.integers(0, 3)) if lesions is None else int(lesions)
    for _ in range(n):
        r = rng.uniform(10, 32) if setting == "easy" else rng.uniform(6, 16)
        cy, cx = rng.uniform(y2 + r, h * 0.85 - r * 0.5), rng.uniform(w * 0.25, w * 0.75)
        radii = np.array([r * rng.uniform(0.6, 1.0), r * rng.uniform(0.9, 1.4)])
        weight = lesion_weight(shape, (cy, cx), radii, rng, edge=rng.uniform(0.5, 3.0),
                               irregular=rng.uniform(*cfg["irregular"]))
        echo = rng.uniform(*cfg["us_echo"])
        tissue = tissue * (1 - weight * (1 - echo))
        below = (np.abs(xx - cx) < radii[1] * 0.8) & (yy > cy + radii[0] * 0.7)
        post = rng.choice(["enhancement", "shadow", "none"], p=[0.4, 0.25, 0.35])
        if post == "enhancement":
            shadow *= np.where(below, 1.35, 1.0)
        elif post == "shadow":
            shadow *= np.where(below, 0.55, 1.0)
        lesion_mask = weight >= 0.5
        mask |= lesion_mask
        params.append({"centre": [round(cy, 1), round(cx, 1)], "radius_px": round(float(r), 1),
                       "echogenicity": round(float(echo), 3), "posterior": str(post), "pixels": int(lesion_mask.sum())})
    shadow = ndimage.gaussian_filter(shadow, (0, 2))
    atten = np.exp(-rng.uniform(1.0, 2.0) * yy / h) * (1 + 0.6 * yy / h)  # attenuation, part-compensated
    envelope = np.clip(tissue, 0.02, None) * shadow * atten
    speckle = rng.rayleigh(1.0, shape)
    speckle = ndimage.gaussian_filter(speckle, (0.5, 1.0))  # speckle correlated along the beam width
    rf = envelope * speckle / np.mean(speckle)
    db = 20 * np.log10(rf + 1e-4)
    top = np.percentile(db, 99.5)
    img = np.clip((db - (top - 40.0)) / 40.0, 0, 1) * 255  # 40 dB dynamic range
    fov = _sector(shape, rng)
    img = np.where(fov, img, 0)
    return img.astype(np.uint8), (mask & fov).astype(np.uint8), params
