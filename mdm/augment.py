"""Training augmentation of an RGB frame with its depth maps and intrinsics.

Geometric ops (random resized crop, horizontal flip) move the RGB image, every depth map (nearest
resampling, values in metres unchanged) and ``K_rgb`` (3x3, pixels, pixel-centre convention) together.
Photometric ops touch RGB only: colour jitter, JPEG, motion blur, shot noise.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges; ``scale`` = crop area as a share of the frame."""

    scale: tuple[float, float] = (0.35, 1.0)
    aspect_jitter: float = 0.15  # crop aspect = output aspect x exp(U(-j, j))
    hflip: float = 0.5
    color_jitter: float = 0.8
    jitter: float = 0.3  # brightness / contrast / saturation factors in 1 +- jitter
    jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (30, 95)
    motion_blur: float = 0.2
    blur_length: tuple[int, int] = (3, 9)  # px, odd
    shot_noise: float = 0.3
    photons: tuple[float, float] = (30.0, 300.0)  # photon count of a white pixel


NO_AUGMENT = AugmentConfig(scale=(1.0, 1.0), aspect_jitter=0.0, hflip=0.0, color_jitter=0.0, jpeg=0.0,
                           motion_blur=0.0, shot_noise=0.0)


def crop_resize(rgb: np.ndarray, depths: dict[str, np.ndarray], K: np.ndarray,
                box: tuple[int, int, int, int], out_hw: tuple[int, int]):
    """Crop ``box`` = (x0, y0, w, h) px and resize to ``out_hw`` = (H, W); RGB area/linear, depth
    nearest. Returns (rgb, depths, K) with K moved to the output pixels."""
    x0, y0, w, h = box
    out_h, out_w = out_hw
    interp = cv2.INTER_AREA if out_w < w else cv2.INTER_LINEAR
    rgb = cv2.resize(rgb[y0:y0 + h, x0:x0 + w], (out_w, out_h), interpolation=interp)
    depths = {k: cv2.resize(np.ascontiguousarray(v[y0:y0 + h, x0:x0 + w]), (out_w, out_h),
                            interpolation=cv2.INTER_NEAREST_EXACT) for k, v in depths.items()}
    sx, sy = out_w / w, out_h / h
    K = np.array(K, dtype=np.float64)
    K[0, 0] *= sx
    K[1, 1] *= sy
    K[0, 1] *= sx
    K[0, 2] = (K[0, 2] - x0 + 0.5) * sx - 0.5
    K[1, 2] = (K[1, 2] - y0 + 0.5) * sy - 0.5
    return rgb, depths, K


def random_box(hw: tuple[int, int], out_hw: tuple[int, int], cfg: AugmentConfig,
               rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A crop (x0, y0, w, h) px with area share in ``cfg.scale`` and about the output's aspect."""
    h, w = hw
    area = rng.uniform(*cfg.scale) * h * w
    aspect = out_hw[1] / out_hw[0] * np.exp(rng.uniform(-cfg.aspect_jitter, cfg.aspect_jitter))
    ch = int(np.clip(round(np.sqrt(area / aspect)), 1, h))
    cw = int(np.clip(round(ch * aspect), 1, w))
    return int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1)), cw, ch


def center_box(hw: tuple[int, int], out_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest centred crop with the output's aspect ratio."""
    h, w = hw
    aspect = out_hw[1] / out_hw[0]
    ch, cw = (h, min(w, round(h * aspect))) if w / h >= aspect else (min(h, round(w / aspect)), w)
    return (w - cw) // 2, (h - ch) // 2, cw, ch


def hflip(rgb: np.ndarray, depths: dict[str, np.ndarray], K: np.ndarray):
    """Mirror left-right; the principal point moves to W - 1 - cx."""
    K = np.array(K, dtype=np.float64)
    K[0, 2] = rgb.shape[1] - 1 - K[0, 2]
    K[0, 1] = -K[0, 1]
    return (np.ascontiguousarray(rgb[:, ::-1]), {k: np.ascontiguousarray(v[:, ::-1]) for k, v in depths.items()}, K)


def color_jitter(rgb: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    img = rgb.astype(np.float32)
    b, c, s = rng.uniform(1 - amount, 1 + amount, size=3)
    img *= b
    grey = img.mean(axis=2, keepdims=True)
    img = (img - grey.mean()) * c + grey.mean()
    grey = img.mean(axis=2, keepdims=True)
    img = (img - grey) * s + grey
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) if ok else rgb


def motion_blur(rgb: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """Blur along a line of ``length`` px at ``angle_deg``."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(rgb, -1, kernel / max(kernel.sum(), 1e-6), borderType=cv2.BORDER_REFLECT)


def shot_noise(rgb: np.ndarray, photons: float, rng: np.random.Generator) -> np.ndarray:
    """Photon noise, Gaussian approximation of Poisson: std sqrt(counts), ``photons`` = white level."""
    counts = rgb.astype(np.float32) * (photons / 255.0)
    counts += np.sqrt(counts) * rng.standard_normal(counts.shape, dtype=np.float32)
    return np.clip(counts * (255.0 / photons), 0, 255).astype(np.uint8)


def photometric(rgb: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Colour jitter, JPEG, motion blur and shot noise, each with its probability, in that order."""
    if rng.random() < cfg.color_jitter:
        rgb = color_jitter(rgb, cfg.jitter, rng)
    if rng.random() < cfg.jpeg:
        rgb = jpeg(rgb, int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
    if rng.random() < cfg.motion_blur:
        length = int(rng.integers(cfg.blur_length[0] // 2, cfg.blur_length[1] // 2 + 1)) * 2 + 1
        rgb = motion_blur(rgb, length, float(rng.uniform(0, 180)))
    if rng.random() < cfg.shot_noise:
        rgb = shot_noise(rgb, float(rng.uniform(*cfg.photons)), rng)
    return rgb


def augment(rgb: np.ndarray, depths: dict[str, np.ndarray], K: np.ndarray, out_hw: tuple[int, int],
            cfg: AugmentConfig, rng: np.random.Generator):
    """Random resized crop to ``out_hw``, flip, photometric. Returns (rgb, depths, K)."""
    box = random_box(rgb.shape[:2], out_hw, cfg, rng) if cfg.scale != (1.0, 1.0) or cfg.aspect_jitter \
        else center_box(rgb.shape[:2], out_hw)
    rgb, depths, K = crop_resize(rgb, depths, K, box, out_hw)
    if rng.random() < cfg.hflip:
        rgb, depths, K = hflip(rgb, depths, K)
    return photometric(rgb, cfg, rng), depths, K
