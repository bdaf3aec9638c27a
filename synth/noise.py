"""IR sensor model (numpy): lens blur, auto-exposure, photon shot noise, read noise, gain, quantisation.

Input: linear radiance images of the left and right IR cameras (float, Cycles units, any scale).
Model per pixel, with one exposure shared by both cameras (as in a real stereo module):
    radiance   <- Gaussian blur, sigma ``psf_sigma_px``     (lens + pixel crosstalk; a projected
                                                            dot ends up ~1.5-3 px wide)
    electrons  ~ Poisson(exposure * radiance)               (shot noise; clipped at the full well)
    electrons += Normal(0, read_noise_e)                    (read noise)
    DN = round(electrons * gain_dn_per_e + black_level)     (gain, offset), clipped to [0, 2^bits - 1]
Auto-exposure (like the D4xx "mean intensity set point"): the mean of the left radiance, with every
value above its ``ae_percentile`` percentile clipped to that percentile (so a few saturated dots,
lamps, windows or emissive fixtures cannot drive it), maps to ``ae_target`` of the full well. It is
capped at ``max_exposure`` (longest exposure x highest gain), so dark scenes become dark and noisy
rather than infinitely amplified.
Output dtype: uint8 for 8-bit sensors, uint16 holding 10-bit values for 10-bit sensors.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SensorParams:
    bit_depth: int  # 8 or 10
    full_well_e: float  # electrons at saturation
    read_noise_e: float  # electrons RMS
    black_level_dn: float  # DN offset
    ae_percentile: float  # radiance above this percentile (left image) is clipped for the AE mean
    ae_target: float  # the clipped mean radiance maps to this fraction of the full well
    max_exposure: float  # electrons per radiance unit, upper bound
    psf_sigma_px: float = 0.0  # Gaussian blur of the optics, px (0 = none)

    def to_meta(self) -> dict:
        return asdict(self)


# Radiance (Cycles units) below which the exposure cap stops the AE: about the mean radiance of a
# projector-lit wall 6-8 m away at the rig's projector power (synth.rig.RigRanges.projector_power_w).
DARK_RADIANCE: tuple[float, float] = (0.002, 0.006)


def sample_sensor(rng: np.random.Generator, bit_depth: int | None = None) -> SensorParams:
    """Plausible global-shutter IR sensor (e.g. D4xx-like OV9282 class)."""
    if bit_depth is None:
        bit_depth = int(rng.choice([8, 10]))
    if bit_depth not in (8, 10):
        raise ValueError(f"bit_depth {bit_depth} must be 8 or 10")
    full_well = float(rng.uniform(4000.0, 12000.0))
    ae_target = float(rng.uniform(0.18, 0.32))
    return SensorParams(
        bit_depth=bit_depth,
        full_well_e=full_well,
        read_noise_e=float(rng.uniform(2.0, 8.0)),
        black_level_dn=float(rng.uniform(0.0, 4.0)) * (1 if bit_depth == 8 else 4),
        ae_percentile=float(rng.uniform(98.5, 99.5)),
        ae_target=ae_target,
        max_exposure=ae_target * full_well / float(rng.uniform(*DARK_RADIANCE)),
        psf_sigma_px=float(rng.uniform(0.3, 0.6)),
    )


def auto_exposure(radiance: np.ndarray, params: SensorParams) -> float:
    """Electrons per radiance unit so the clipped mean of ``radiance`` hits ``ae_target``."""
    r = np.asarray(radiance, np.float64)
    clip = float(np.percentile(r, params.ae_percentile))
    level = float(np.minimum(r, clip).mean())
    if level <= 0:
        return params.max_exposure
    return min(params.ae_target * params.full_well_e / level, params.max_exposure)


def blur(radiance: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian optical blur (sigma in px; 0 = unchanged), reflecting at the border."""
    r = np.asarray(radiance, np.float64)
    if sigma_px <= 0:
        return r
    return cv2.GaussianBlur(r, (0, 0), sigmaX=float(sigma_px), borderType=cv2.BORDER_REFLECT)


def expose(radiance: np.ndarray, exposure: float, params: SensorParams,
           rng: np.random.Generator) -> np.ndarray:
    """One noisy quantised frame (uint8 or uint16) from a linear radiance image (blur not applied)."""
    mean_e = np.clip(np.asarray(radiance, np.float64) * exposure, 0.0, 4.0 * params.full_well_e)
    electrons = rng.poisson(mean_e).astype(np.float64)
    electrons = np.minimum(electrons, params.full_well_e)
    electrons += rng.normal(0.0, params.read_noise_e, electrons.shape)
    max_dn = 2 ** params.bit_depth - 1
    gain = (max_dn - params.black_level_dn) / params.full_well_e
    dn = np.clip(np.rint(electrons * gain + params.black_level_dn), 0, max_dn)
    return dn.astype(np.uint8 if params.bit_depth == 8 else np.uint16)


def sensor_pair(left: np.ndarray, right: np.ndarray, params: SensorParams,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Noisy left and right frames (optics blur, one shared auto-exposure); also returns the exposure."""
    left, right = blur(left, params.psf_sigma_px), blur(right, params.psf_sigma_px)
    exposure = auto_exposure(left, params)
    return expose(left, exposure, params, rng), expose(right, exposure, params, rng), exposure
