"""Synthetic B-mode ultrasound with known lesion masks: stills and cines, and the scanner's screen around them.

The tissue map (echogenicity: skin, fat, fascia, striated muscle, bright reflectors with their shadows, a vessel)
is multiplied by fully developed speckle (the magnitude of a complex Gaussian field blurred by the pulse, so
Rayleigh distributed with grains wider than tall), attenuated with depth (partly compensated, as time-gain
compensation does), log-compressed to a 40 dB range and cut to a sector. Lesions are hypoechoic (dark: a cyst, most
solid nodules) or hyperechoic (bright: a haemangioma, a calcified nodule), with posterior enhancement or shadowing
behind them.

A cine (:func:`make_ultrasound_cine`) is a slow sweep: the lesions are ellipsoids in (frame, row, column), so they
grow and shrink from frame to frame as a volume's slices do, the tissue moves with breathing, and the speckle
decorrelates partly from one frame to the next. :func:`burn_in_screen` puts frames on a scanner's screen: text
(the probe, the mechanical and thermal indices, the date, a frame counter that changes every frame), a depth ruler,
a grey bar and a coloured logo, as an exported echo has them.

No file I/O here (:mod:`labelassist.demo.data` writes the files); every random choice comes from the ``rng`` passed
in. The same ``rng`` state with ``lesions=0`` gives the very same image without its lesions.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labelassist.demo.synth import check_setting, smooth_noise, rng_streams, lesion_weight

__all__ = ["make_ultrasound_case", "make_ultrasound_cine", "burn_in_screen", "SCREEN_SHAPE", "DEPTH_CM"]

SCREEN_SHAPE = (320, 416)  # rows, columns of the exported screen around a 256 x 256 scan
DEPTH_CM = 8.0  # the scan's depth: 256 rows of 0.3125 mm
_POSTERIOR = {"hypo": (["enhancement", "shadow", "none"], [0.4, 0.25, 0.35]),
              "hyper": (["shadow", "none"], [0.5, 0.5])}


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
    tissue = 0.55 + 0.15 * smooth_noise(shape, rng, 12)
    y1, y2 = h * rng.uniform(0.08, 0.14), h * rng.uniform(0.22, 0.32)
    wave = 4 * smooth_noise((w,), rng, 20)[None, :]
    tissue = np.where(yy < y1 + wave, 0.9, tissue)  # skin
    tissue = np.where((yy >= y1 + wave) & (yy < y2 + wave), 0.3 + 0.1 * smooth_noise(shape, rng, 6), tissue)  # fat
    tissue += 0.8 * np.exp(-((yy - y2 - wave) ** 2) / 4.0)  # fascia
    tissue += 0.12 * np.sin(yy / rng.uniform(3, 6) + 2 * smooth_noise(shape, rng, 8)) * (yy > y2 + wave)  # muscle
    shadow = np.ones(shape)
    for _ in range(int(rng.integers(0, 3))):  # bright reflectors (bone, calcification), most casting a shadow
        cy, cx = rng.uniform(y2 + 10, h * 0.8), rng.uniform(w * 0.15, w * 0.85)
        ry, rx = rng.uniform(3, 6), rng.uniform(8, 20)
        arc = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        surface = (arc < 1) & ((arc > 0.35) | (yy < cy))  # a bright curved surface, its far side fading
        tissue = np.where(surface, rng.uniform(1.6, 2.6) * (1 + 0.3 * smooth_noise(shape, rng, 2)), tissue)
        if rng.random() < 0.7:
            shadow *= 1 - 0.8 * ((np.abs(xx - cx) < rx * 0.9) & (yy > cy + ry * 0.5))
    if rng.random() < 0.5:  # a vessel: a long anechoic tube, not a lesion
        cy, r = rng.uniform(y2 + 15, h * 0.7), rng.uniform(3, 7)
        tube = np.abs(yy - cy - 6 * smooth_noise((w,), rng, 30)[None, :]) < r
        tissue = np.where(tube, 0.04, tissue)
        shadow *= 1 + 0.25 * ((yy > cy + r) & (yy < cy + 6 * r))  # posterior enhancement
    return tissue, ndimage.gaussian_filter(shadow, (1.0, 2.5)), y2


def _draw_lesion(cfg, draw, h, w, y2):
    """One lesion's geometry and echo: (centre (row, col), radii (row, col), dict of its echo and margin)."""
    r = draw.uniform(*cfg["us_radius"])
    cy, cx = draw.uniform(y2 + r, max(h * 0.75 - r * 0.3, y2 + r + 1)), draw.uniform(w * 0.25, w * 0.75)
    radii = np.array([r * draw.uniform(0.6, 1.0), r * draw.uniform(0.9, 1.4)])  # wider than tall, mostly
    edge, irregular = draw.uniform(0.5, 3.0), draw.uniform(*cfg["irregular"])
    polarity = "hyper" if draw.random() < cfg["us_p_hyper"] else "hypo"
    echo = draw.uniform(*cfg["us_echo" if polarity == "hypo" else "us_hyper_echo"])
    names, p = _POSTERIOR[polarity]
    post = str(draw.choice(names, p=p))
    return (cy, cx), radii, {"r": r, "edge": edge, "irregular": irregular, "polarity": polarity, "echo": echo,
                             "posterior": post}


def _apply_lesion(tissue, shadow, weight, echo, polarity, posterior, inner):
    """The tissue and shadow maps with a lesion of blend ``weight`` (H, W) in them (new arrays)."""
    base = np.minimum(tissue, 0.55) if polarity == "hypo" else np.maximum(tissue, 0.55)
    tissue = tissue * (1 - weight) + base * echo * inner * weight
    behind = np.maximum.accumulate(weight, axis=0) - weight  # the column behind the lesion, from its far half
    behind = ndimage.gaussian_filter(np.clip(behind * 2.0, 0, 1), (2.0, 1.0))
    behind[behind < 1e-3] = 0
    if posterior == "enhancement":
        shadow = shadow * (1 + 0.4 * behind)
    elif posterior == "shadow":
        shadow = shadow * (1 - 0.45 * behind)
    return tissue, shadow


def _speckle_field(shape, rng):
    """The complex field's two parts, blurred by the pulse (grains wider than tall)."""
    psf = (0.6, 1.3)
    return (ndimage.gaussian_filter(rng.standard_normal(shape), psf),
            ndimage.gaussian_filter(rng.standard_normal(shape), psf))


def _log_compress(echo, plain, fov):
    """8-bit B-mode of an echo amplitude map, with the gain set from the lesion-free ``plain`` map: 40 dB range."""
    top = np.percentile(20 * np.log10(plain + 1e-4)[fov], 99.5)
    db = 20 * np.log10(echo + 1e-4)
    img = np.clip((db - (top - 40.0)) / 40.0, 0, 1) * 255
    return np.round(np.where(fov, img, 0)).astype(np.uint8)


def _lesion_params(centre, d, pixels, frames=None):
    out = {"centre": [round(float(c), 1) for c in centre], "radius_px": round(float(d["r"]), 1),
           "contrast": round(abs(1 - float(d["echo"])), 3), "polarity": d["polarity"],
           "echogenicity": round(float(d["echo"]), 3), "posterior": d["posterior"], "pixels": int(pixels)}
    if frames is not None:
        out["frames"] = frames
    return out


def make_ultrasound_case(*, rng, setting="easy", shape=(256, 256), lesions=None):
    """One B-mode-like still: layers, speckle, attenuation, shadowing, and hypo- or hyperechoic lesions.

    Parameters
    ----------
    rng : numpy Generator
    setting : {"easy", "hard"}
        Easy: larger lesions, nearly anechoic or clearly bright; hard: small ones only a little darker or brighter.
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
        Per lesion: ``centre`` (row, column), ``radius_px``, ``contrast`` (|1 - echogenicity|), ``polarity``
        (``"hypo"`` or ``"hyper"``), ``echogenicity``, ``posterior`` (enhancement/shadow/none), ``pixels``.
    """
    cfg = check_setting(setting)
    h, w = shape
    anatomy, draw, nuisance = rng_streams(rng, 3)
    tissue, shadow, y2 = _tissue_map(shape, anatomy)
    fov = _sector(shape, anatomy)
    yy = np.mgrid[:h, :w][0].astype(float)
    plain = tissue * shadow  # the image's grey levels are set from the lesion-free echo
    mask = np.zeros(shape, bool)
    params = []
    n = int(draw.integers(0, 3)) if lesions is None else int(lesions)
    for _ in range(n):
        centre, radii, d = _draw_lesion(cfg, draw, h, w, y2)
        weight = lesion_weight(shape, centre, radii, draw, edge=d["edge"], irregular=d["irregular"])
        inner = 1 + 0.4 * smooth_noise(shape, draw, 2.0)  # internal echoes, uneven
        tissue, shadow = _apply_lesion(tissue, shadow, weight, d["echo"], d["polarity"], d["posterior"], inner)
        lesion_mask = (weight >= 0.5) & fov
        mask |= lesion_mask
        params.append(_lesion_params(centre, d, lesion_mask.sum()))
    atten = np.exp(-nuisance.uniform(1.0, 2.0) * yy / h) * (1 + 0.6 * yy / h)  # attenuation, part-compensated
    re, im = _speckle_field(shape, nuisance)
    speckle = np.hypot(re, im)
    speckle /= np.mean(speckle)
    echo = np.clip(tissue, 0.02, None) * shadow * atten * speckle
    img = _log_compress(echo, np.clip(plain, 0.02, None) * atten * speckle, fov)
    return img, mask.astype(np.uint8), params


def _cine_frame(tissue0, shadow0, lesions, speckle, fov, dy):
    """One cine frame (uint8) and its mask: the lesions' cross-sections in the tissue, all moved ``dy`` rows."""
    def move(a):
        return ndimage.shift(a, (dy, 0), order=1, mode="nearest")

    tissue, shadow, mask = tissue0, shadow0, np.zeros(fov.shape, bool)
    for weight, d, inner in lesions:
        tissue, shadow = _apply_lesion(tissue, shadow, weight, d["echo"], d["polarity"], d["posterior"], inner)
        mask |= (move(weight) >= 0.5) & fov
    speckle = speckle / np.mean(speckle)
    echo = np.clip(move(tissue), 0.02, None) * move(shadow) * speckle
    plain = np.clip(move(tissue0), 0.02, None) * move(shadow0) * speckle
    return _log_compress(echo, plain, fov), mask


def make_ultrasound_cine(*, rng, setting="easy", frames=24, shape=(256, 256), lesions=None):
    """A B-mode cine of a slow sweep: (frames, H, W) with lesions that appear, grow and fade over the frames.

    Parameters
    ----------
    rng : numpy Generator
    setting : {"easy", "hard"}
    frames : int
        Number of frames (at least 3).
    shape : (int, int)
        One frame's rows and columns.
    lesions : int, optional
        Number of lesions (default: 1 or 2; 0 gives the same cine without lesions).

    Returns
    -------
    frames : uint8 (T, H, W)
        0 outside the sector.
    mask : uint8 (T, H, W)
        0/1.
    params : list of dict
        As :func:`make_ultrasound_case`'s, ``centre`` as (frame, row, column), and ``frames`` (first, last).
    """
    cfg = check_setting(setting)
    if int(frames) < 3:
        raise ValueError(f"frames must be at least 3, got {frames}")
    t_n, (h, w) = int(frames), shape
    anatomy, draw, nuisance = rng_streams(rng, 3)
    tissue0, shadow0, y2 = _tissue_map(shape, anatomy)
    fov = _sector(shape, anatomy)
    n = int(draw.integers(1, 3)) if lesions is None else int(lesions)
    found = []
    for _ in range(n):
        centre, radii, d = _draw_lesion(cfg, draw, h, w, y2)
        rt = float(np.clip(d["r"] * draw.uniform(0.2, 0.35), 1.5, max((t_n - 4) / 2.6, 1.0)))  # radius in frames
        ct = draw.uniform(min(1.3 * rt + 1, (t_n - 1) / 2), max(t_n - 2 - 1.3 * rt, (t_n - 1) / 2))  # whole, mostly
        weight = lesion_weight((t_n, h, w), (ct, *centre), (rt, *radii), draw, edge=d["edge"],
                               irregular=d["irregular"])
        found.append((weight, d, (ct, *centre), 1 + 0.4 * smooth_noise(shape, draw, 2.0)))
    amp, period, phase = nuisance.uniform(1.5, 4.0), nuisance.uniform(10, 20), nuisance.uniform(0, 2 * np.pi)
    yy = np.mgrid[:h, :w][0].astype(float)
    atten = np.exp(-nuisance.uniform(1.0, 2.0) * yy / h) * (1 + 0.6 * yy / h)
    re, im = _speckle_field(shape, nuisance)
    out, mask = np.zeros((t_n, h, w), np.uint8), np.zeros((t_n, h, w), bool)
    rho = 0.5  # frame-to-frame correlation of the speckle field
    for t in range(t_n):
        if t:
            nre, nim = _speckle_field(shape, nuisance)
            re, im = rho * re + np.sqrt(1 - rho**2) * nre, rho * im + np.sqrt(1 - rho**2) * nim
        dy = amp * np.sin(2 * np.pi * t / period + phase)  # breathing moves the tissue, not the probe's sector
        out[t], mask[t] = _cine_frame(tissue0, shadow0, [(wt[t], d, inner) for wt, d, _, inner in found],
                                      atten * np.hypot(re, im), fov, dy)
    params = []
    for weight, d, centre, _ in found:
        on = np.flatnonzero((weight >= 0.5).any(axis=(1, 2)))
        frames_on = [int(on[0]), int(on[-1])] if on.size else []
        params.append(_lesion_params(centre, d, (weight >= 0.5).sum(), frames=frames_on))
    return out, mask.astype(np.uint8), params


def burn_in_screen(frames, *, rng, screen=SCREEN_SHAPE, label="LABELASSIST DEMO"):
    """The frames (T, H, W) uint8 on a scanner's screen: RGB (T, rows, cols, 3) and the scan's (row, col) offset.

    Around the scan: a line of text at the top (``label``, the probe, MI and TIS, a date), a depth ruler on the
    left (a tick per centimetre of :data:`DEPTH_CM`, numbered), a grey bar and an orange gain marker on the right,
    a coloured logo at the bottom left and a frame counter at the bottom right (it changes every frame).
    """
    import cv2

    a = np.asarray(frames, np.uint8)
    a = a[None] if a.ndim == 2 else a
    t_n, h, w = a.shape
    rows, cols = screen
    if rows < h + 48 or cols < w + 96:
        raise ValueError(f"screen must be at least {h + 48} x {w + 96} for {h} x {w} frames, got {rows} x {cols}")
    r0, c0 = 30, (cols - w) // 2
    base = np.zeros((rows, cols, 3), np.uint8)
    font, white = cv2.FONT_HERSHEY_SIMPLEX, (235, 235, 235)
    probe = str(rng.choice(["C5-1", "L12-5", "C9-2"]))
    top = f"{label}  {probe}  MI {rng.uniform(0.4, 1.2):.1f}  TIS {rng.uniform(0.1, 0.8):.1f}  2026-12-07"
    cv2.putText(base, top, (6, 18), font, 0.42, white, 1, cv2.LINE_AA)
    px_cm = h / DEPTH_CM
    x_ruler = c0 - 14
    cv2.line(base, (x_ruler, r0), (x_ruler, r0 + h - 1), white, 1)
    for cm in range(int(DEPTH_CM) + 1):
        y = int(round(r0 + cm * px_cm)) - (1 if cm == int(DEPTH_CM) else 0)
        cv2.line(base, (x_ruler - 6, y), (x_ruler, y), white, 1)
        if cm % 2 == 0:
            cv2.putText(base, str(cm), (x_ruler - 30, y + 4), font, 0.35, white, 1, cv2.LINE_AA)
    bx = c0 + w + 16
    for i in range(128):  # the grey map: white at the top
        base[r0 + i, bx:bx + 10] = 255 - 2 * i
    cv2.fillPoly(base, [np.array([[bx + 12, r0 + 40], [bx + 20, r0 + 34], [bx + 20, r0 + 46]])], (255, 150, 20))
    cv2.rectangle(base, (6, rows - 26), (44, rows - 8), (20, 120, 255), -1)
    cv2.putText(base, "LA", (14, rows - 12), font, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    out = np.repeat(base[None], t_n, axis=0)
    for t in range(t_n):
        out[t, r0:r0 + h, c0:c0 + w] = a[t][..., None]
        cv2.putText(out[t], f"FR {t + 1}/{t_n}", (cols - 78, rows - 12), font, 0.38, white, 1, cv2.LINE_AA)
    return out, (r0, c0)
