"""Synthetic lesions with known masks, in real anatomy (MRI) and in simulated B-mode ultrasound.

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

__all__ = ["SETTINGS", "lesion_weight", "make_mri_case", "make_ultrasound_case", "random_affine"]

# Per setting: lesion count range, radius range (mm), contrast range (fraction of the brain's 1-99 %
# intensity range), probability of a hyperintense lesion, edge width range (mm; the 12-88 % rise of the
# logistic edge spans about twice this), margin irregularity range; ultrasound: lesion radius (pixels)
# and echogenicity (lesion echo / tissue echo: low = dark, easy to see).
SETTINGS = {
    "easy": {"count": (1, 3), "radius_mm": (8.0, 20.0), "contrast": (0.4, 0.8), "p_hyper": 0.85,
             "edge_mm": (0.3, 1.5), "irregular": (0.05, 0.3),
             "us_radius": (10.0, 30.0), "us_echo": (0.05, 0.3)},
    "hard": {"count": (1, 5), "radius_mm": (3.0, 8.0), "contrast": (0.08, 0.25), "p_hyper": 0.5,
             "edge_mm": (1.0, 3.5), "irregular": (0.1, 0.4),
             "us_radius": (6.0, 16.0), "us_echo": (0.45, 0.75)},
}


def _streams(rng, n):
    """``n`` independent generators seeded from ``rng`` (so one stream's use never shifts another)."""
    return [np.random.default_rng(int(s)) for s in rng.integers(0, 2**63, size=n)]


def _smooth_noise(shape, rng, sigma) -> np.ndarray:
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
    wobble = _smooth_noise(bshape, rng, max(min(radii) / 2.0, 1.0))
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


def _check_setting(setting):
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
    cfg = _check_setting(setting)
    template, brain_mask = np.asarray(template), np.asarray(brain_mask)
    if template.ndim != 3 or template.shape != brain_mask.shape:
        raise ValueError(f"template and brain_mask must be 3-D and alike; got {template.shape} and {brain_mask.shape}")
    pose, draw, nuisance = _streams(rng, 3)
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
    bias = 1.0 + 0.12 * _smooth_noise(img.shape, nuisance, max(img.shape) / 4)
    gain = nuisance.uniform(0.7, 1.3) * 1000.0 / span
    sigma = nuisance.uniform(0.015, 0.035) * span
    real, imag = nuisance.normal(0, sigma, img.shape), nuisance.normal(0, sigma, img.shape)
    noisy = np.sqrt((np.clip(img, 0, None) * bias + real) ** 2 + imag**2)  # Rician magnitude
    return (noisy * gain).astype(np.float32), mask.astype(np.uint8), params


def _sector(shape, rng):
    """A curvilinear (sector) field of view: apex above the image, curved bottom edge."""
    h, w = shape
    apex_y = -h * rng.uniform(0.15, 0.3)
    yy, xx = np.mgrid[:h, :w]
    ang = np.arctan2(xx - w / 2, yy - apex_y)
    rad = np.hypot(yy - apex_y, xx - w / 2)
    half = np.deg2rad(rng.uniform(28, 38))
    return (np.abs(ang) < half) & (rad > -apex_y + h * 0.03) & (rad < h * 1.05 - apex_y * 0.0)


def _tissue_map(shape, rng):
    """Echogenicity of skin, fat, fascia, striated muscle, bright reflectors (with shadows), a vessel."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(float)
    tissue = 0.55 + 0.15 * _smooth_noise(shape, rng, 12)
    y1, y2 = h * rng.uniform(0.08, 0.14), h * rng.uniform(0.22, 0.32)
    wave = 4 * _smooth_noise((w,), rng, 20)[None, :]
    tissue = np.where(yy < y1 + wave, 0.9, tissue)  # skin
    tissue = np.where((yy >= y1 + wave) & (yy < y2 + wave), 0.3 + 0.1 * _smooth_noise(shape, rng, 6), tissue)  # fat
    tissue += 0.8 * np.exp(-((yy - y2 - wave) ** 2) / 4.0)  # fascia
    tissue += 0.12 * np.sin(yy / rng.uniform(3, 6) + 2 * _smooth_noise(shape, rng, 8)) * (yy > y2 + wave)  # muscle
    shadow = np.ones(shape)
    for _ in range(int(rng.integers(0, 3))):  # bright reflectors (bone, calcification), most casting a shadow
        cy, cx = rng.uniform(y2 + 10, h * 0.8), rng.uniform(w * 0.15, w * 0.85)
        ry, rx = rng.uniform(3, 6), rng.uniform(8, 20)
        arc = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        surface = (arc < 1) & ((arc > 0.35) | (yy < cy))  # a bright curved surface, its far side fading
        tissue = np.where(surface, rng.uniform(1.6, 2.6) * (1 + 0.3 * _smooth_noise(shape, rng, 2)), tissue)
        if rng.random() < 0.7:
            shadow *= 1 - 0.8 * ((np.abs(xx - cx) < rx * 0.9) & (yy > cy + ry * 0.5))
    if rng.random() < 0.5:  # a vessel: a long anechoic tube, not a lesion
        cy, r = rng.uniform(y2 + 15, h * 0.7), rng.uniform(3, 7)
        tube = np.abs(yy - cy - 6 * _smooth_noise((w,), rng, 30)[None, :]) < r
        tissue = np.where(tube, 0.04, tissue)
        shadow *= 1 + 0.25 * ((yy > cy + r) & (yy < cy + 6 * r))  # posterior enhancement
    return tissue, ndimage.gaussian_filter(shadow, (1.0, 2.5)), y2


def make_ultrasound_case(*, rng, setting="easy", shape=(256, 256), lesions=None):
    """One B-mode-like image: layers, speckle, attenuation, shadowing, and hypoechoic lesions.

    The tissue map (echogenicity) is multiplied by Rayleigh speckle (amplitude coefficient of variation 0.52), attenuated with depth (partly
    compensated, as time-gain compensation does), log-compressed to a 40 dB range and cut to a sector.

    Parameters
    ----------
    rng : numpy Generator
    setting : {"easy", "hard"}
        Easy: larger, nearly anechoic lesions; hard: small ones only a little darker than tissue.
    shape : (int, int)
    lesions : int, optional
        Number of lesions (default: 0, 1 or 2 at random; 0 gives the same image without lesions).

    Returns
    -------
    image : uint8 (H, W)
        0 outside the field of view.
    mask : uint8 (H, W)
        0/1 (1 = lesion).
    params : list of dict
        Per lesion: ``centre`` (row, column), ``radius_px``, ``contrast`` (1 - echogenicity),
        ``polarity`` ("hypo"), ``echogenicity``, ``posterior`` (enhancement/shadow/none), ``pixels``.
    """
    cfg = _check_setting(setting)
    h, w = shape
    anatomy, draw, nuisance = _streams(rng, 3)
    tissue, shadow, y2 = _tissue_map(shape, anatomy)
    fov = _sector(shape, anatomy)
    yy, xx = np.mgrid[:h, :w].astype(float)
    plain = tissue * shadow  # the image's grey levels are set from the lesion-free echo
    mask = np.zeros(shape, bool)
    params = []
    n = int(draw.integers(0, 3)) if lesions is None else int(lesions)
    for _ in range(n):
        r = draw.uniform(*cfg["us_radius"])
        cy, cx = draw.uniform(y2 + r, max(h * 0.75 - r * 0.3, y2 + r + 1)), draw.uniform(w * 0.25, w * 0.75)
        radii = np.array([r * draw.uniform(0.6, 1.0), r * draw.uniform(0.9, 1.4)])  # wider than tall, mostly
        weight = lesion_weight(shape, (cy, cx), radii, draw, edge=draw.uniform(0.5, 3.0),
                               irregular=draw.uniform(*cfg["irregular"]))
        echo = draw.uniform(*cfg["us_echo"])
        inner = echo * (1 + 0.4 * _smooth_noise(shape, draw, 2.0))  # internal echoes, uneven
        tissue = tissue * (1 - weight) + np.minimum(tissue, 0.55) * inner * weight
        below = np.exp(-((xx - cx) / (radii[1] * 0.7)) ** 4) * np.clip((yy - cy - radii[0] * 0.5) / 4.0, 0, 1)
        below[below < 1e-3] = 0  # the column behind the lesion, starting in its far half
        post = str(draw.choice(["enhancement", "shadow", "none"], p=[0.4, 0.25, 0.35]))
        if post == "enhancement":
            shadow *= 1 + 0.4 * below
        elif post == "shadow":
            shadow *= 1 - 0.45 * below
        lesion_mask = (weight >= 0.5) & fov
        mask |= lesion_mask
        params.append({"centre": [round(cy, 1), round(cx, 1)], "radius_px": round(float(r), 1),
                       "contrast": round(float(1 - echo), 3), "polarity": "hypo",
                       "echogenicity": round(float(echo), 3), "posterior": post, "pixels": int(lesion_mask.sum())})
    atten = np.exp(-nuisance.uniform(1.0, 2.0) * yy / h) * (1 + 0.6 * yy / h)  # attenuation, part-compensated
    # fully developed speckle: the magnitude of a complex Gaussian field blurred by the pulse (grains wider
    # than tall), so Rayleigh distributed with correlated grains
    psf = (0.6, 1.3)
    speckle = np.hypot(ndimage.gaussian_filter(nuisance.standard_normal(shape), psf),
                       ndimage.gaussian_filter(nuisance.standard_normal(shape), psf))
    speckle /= np.mean(speckle)
    db = 20 * np.log10(np.clip(tissue, 0.02, None) * shadow * atten * speckle + 1e-4)
    top = np.percentile(20 * np.log10(np.clip(plain, 0.02, None) * atten * speckle + 1e-4)[fov], 99.5)
    img = np.clip((db - (top - 40.0)) / 40.0, 0, 1) * 255  # 40 dB dynamic range
    img = np.where(fov, img, 0)
    return np.round(img).astype(np.uint8), mask.astype(np.uint8), params
