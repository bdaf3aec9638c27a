"""Which depth patches the encoder sees (tech report 2.2): a patch with no valid pixel is always
masked, a partly valid patch is masked with probability ``p_mixed`` (0.75), and random fully valid patches
are masked on top until the masked share reaches a target ratio drawn from U(0.6, 0.9).
Masked depth tokens are dropped from the sequence (not replaced by a mask token)."""
from __future__ import annotations

import numpy as np

MASK_RATIO_RANGE = (0.6, 0.9)
P_MIXED = 0.75


def patch_valid_fraction(valid: np.ndarray, patch: int) -> np.ndarray:
    """(H, W) bool -> (rows*cols,) share of valid pixels in each patch x patch block (row-major)."""
    h, w = valid.shape
    if h % patch or w % patch:
        raise ValueError(f"depth map {h}x{w} px is not a multiple of the patch size {patch}")
    blocks = valid.reshape(h // patch, patch, w // patch, patch)
    return blocks.mean(axis=(1, 3), dtype=np.float32).reshape(-1)


def sample_depth_keep(valid_fraction: np.ndarray, rng: np.random.Generator,
                      ratio_range: tuple[float, float] = MASK_RATIO_RANGE,
                      p_mixed: float = P_MIXED) -> np.ndarray:
    """Keep mask (N,) bool over patches (True = depth token fed to the encoder).

    The masked count is max(forced, ceil(target * N)) where forced = fully invalid + masked mixed
    patches and target ~ U(ratio_range); the top-up takes fully valid patches uniformly at random.
    """
    frac = np.asarray(valid_fraction, dtype=np.float32)
    n = frac.size
    masked = frac <= 0.0
    mixed = (frac > 0.0) & (frac < 1.0)
    masked |= mixed & (rng.random(n) < p_mixed)
    target = int(np.ceil(rng.uniform(*ratio_range) * n))
    short = target - int(masked.sum())
    if short > 0:
        candidates = np.flatnonzero(~masked & (frac >= 1.0))
        masked[rng.choice(candidates, size=min(short, candidates.size), replace=False)] = True
    return ~masked


def inference_keep(valid_fraction: np.ndarray) -> np.ndarray:
    """At inference every patch with at least one valid pixel is kept (the released code's rule)."""
    return np.asarray(valid_fraction) > 0.0
