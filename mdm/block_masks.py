"""Block-wise corruption protocols (our definition of the report's "Protocol 1"; the report gives no
numbers, so these four levels are ours and not comparable with its Table 2).

A corrupted input is made from GT depth (metres, RGB frame) in this order:
 1. additive Gaussian noise, sigma = ``noise_scale`` x Kinect axial model 0.0012 + 0.0019 (z - 0.4)^2 m
    (Nguyen et al. 2012);
 2. shot-like speckle: ``dropout`` of the pixels dropped, another ``dropout / 4`` turned into flying
    pixels (depth x U(0.85, 1.15));
 3. quantisation in disparity space, step ``disparity_step`` px of a Kinect-like 580 px x 0.075 m rig,
    then to whole millimetres (uint16 mm sensors);
 4. random rectangular blocks removed (BEiT-style: log-uniform area in ``block_area`` x image area,
    log-uniform aspect in [0.3, 3.3], uniform position) until ``hole_fraction`` of the image is gone;
 5. pixels without GT (0) stay 0.
Block sizes are fractions of the image area, so a level means the same at any resolution.

| level   | holes | block area (of image) | noise x Kinect | speckle | disparity step |
|---------|-------|-----------------------|----------------|---------|----------------|
| easy    | 10 %  | 0.2 - 2 %             | 1              | 0.5 %   | 1/8 px         |
| medium  | 25 %  | 0.5 - 5 %             | 2              | 2 %     | 1/8 px         |
| hard    | 45 %  | 1 - 10 %              | 3              | 5 %     | 1/4 px         |
| extreme | 70 %  | 2 - 20 %              | 5              | 10 %    | 1/2 px         |
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FOCAL_BASELINE = 580.0 * 0.075  # px * m, Kinect-like reference rig for disparity quantisation


@dataclass(frozen=True)
class BlockLevel:
    """Severity of one block protocol (see the module table)."""

    name: str
    hole_fraction: float
    block_area: tuple[float, float]
    noise_scale: float
    dropout: float
    disparity_step: float


LEVELS: dict[str, BlockLevel] = {
    "easy": BlockLevel("easy", 0.10, (0.002, 0.02), 1.0, 0.005, 1 / 8),
    "medium": BlockLevel("medium", 0.25, (0.005, 0.05), 2.0, 0.02, 1 / 8),
    "hard": BlockLevel("hard", 0.45, (0.01, 0.10), 3.0, 0.05, 1 / 4),
    "extreme": BlockLevel("extreme", 0.70, (0.02, 0.20), 5.0, 0.10, 1 / 2),
}
PROTOCOLS = tuple(f"block_{name}" for name in LEVELS)


def kinect_sigma(z: np.ndarray) -> np.ndarray:
    """Axial noise standard deviation (m) of a Kinect-like sensor at depth z (m)."""
    return 0.0012 + 0.0019 * (z - 0.4) ** 2


def random_blocks(shape: tuple[int, int], hole_fraction: float, block_area: tuple[float, float],
                  rng: np.random.Generator, max_blocks: int = 500) -> np.ndarray:
    """(H, W) bool mask, True = removed, of random rectangles covering about ``hole_fraction``."""
    h, w = shape
    mask = np.zeros(shape, dtype=bool)
    lo, hi = np.log(block_area[0] * h * w), np.log(block_area[1] * h * w)
    for _ in range(max_blocks):
        if mask.mean() >= hole_fraction:
            break
        area = np.exp(rng.uniform(lo, hi))
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(1 / 0.3)))
        bh = int(np.clip(round(np.sqrt(area * aspect)), 1, h))
        bw = int(np.clip(round(np.sqrt(area / aspect)), 1, w))
        top, left = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
        mask[top:top + bh, left:left + bw] = True
    return mask


def quantise(z: np.ndarray, disparity_step: float) -> np.ndarray:
    """Round depth (m, > 0) to the disparity grid of the reference rig, then to whole millimetres."""
    disparity = FOCAL_BASELINE / np.maximum(z, 1e-3)
    disparity = np.maximum(np.round(disparity / disparity_step), 1.0) * disparity_step
    return np.round(FOCAL_BASELINE / disparity * 1000.0) / 1000.0


def corrupt_depth(gt: np.ndarray, level: BlockLevel, rng: np.random.Generator) -> np.ndarray:
    """GT depth (H, W) float32 metres (0 = no GT) -> corrupted input depth (H, W) float32, 0 = hole."""
    gt = np.asarray(gt, dtype=np.float32)
    valid = np.isfinite(gt) & (gt > 0)
    z = np.where(valid, gt, 1.0)
    z = z + rng.standard_normal(z.shape).astype(np.float32) * level.noise_scale * kinect_sigma(z)
    speckle = rng.random(gt.shape)
    flying = (speckle >= level.dropout) & (speckle < 1.25 * level.dropout)
    z = np.where(flying, z * rng.uniform(0.85, 1.15, size=gt.shape).astype(np.float32), z)
    z = quantise(np.maximum(z, 0.01), level.disparity_step).astype(np.float32)
    holes = random_blocks(gt.shape, level.hole_fraction, level.block_area, rng) | (speckle < level.dropout)
    return np.where(valid & ~holes, z, 0.0).astype(np.float32)


def random_training_level(rng: np.random.Generator) -> BlockLevel:
    """A level with every parameter drawn between (or slightly beyond) easy and extreme, for training
    on GT-only data: holes U(0.05, 0.85), area log-uniform, noise U(0, 5), speckle U(0, 0.1)."""
    a_lo = np.exp(rng.uniform(np.log(0.001), np.log(0.02)))
    return BlockLevel("train", float(rng.uniform(0.05, 0.85)), (a_lo, a_lo * 10.0),
                      float(rng.uniform(0.0, 5.0)), float(rng.uniform(0.0, 0.1)),
                      float(rng.choice([1 / 8, 1 / 4, 1 / 2])))
