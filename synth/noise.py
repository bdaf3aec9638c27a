"""IR sensor model (numpy): auto-exposure, photon shot noise, read noise, gain, quantisation.

Input: linear radiance images of the left and right IR cameras (float, Cycles units, any scale).
Model per pixel, with one exposure shared by both cameras (as in a real stereo module):
    electrons  ~ Poisson(exposure * radiance)            (shot noise; clipped at the full well)
    electrons += Normal(0, read_noise_e)                 (read noise)
    DN = round(electrons * gain_dn_per_e + black_level)  (gain, offset), clipped to [0, 2^bits - 1]
The exposure is automatic: the ``ae_percentile`` of the left radiance maps to ``ae_target`` of the
full well, capped at ``max_exposure`` so dark scenes become noisy rather than infinitely amplified.
Output dtype: uint8 for 8-bit sensors, uint16 holding 10-bit values for 10-bit sensors.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class SensorParams:
    bit_depth: int  # 8 or 10
    full_well_e: float  # electrons at saturation
    read_noise_e: float  # electrons RMS
    black_level_dn: float  # DN offset
    ae_percentile: float  # percentile of left radiance used for auto-exposure
    ae_target: float  # that percentile maps to this fraction of the full well
    max_exposure: float  # electrons per radiance unit, upper bound

    def to_meta(self) -> dict:
        return asdict(self)


def sample_sensor(rng: np.random.Generator, bit_depth: int | None = None) -> SensorParams:
    """Plausible global-shutter IR sensor (e.g. D4xx-like OV9282 class)."""
    if bit_depth is None:
        bit_depth = int(rng.choice([8, 10]))
    if bit_depth not in (8, 10):
        raise ValueError(f"bit_depth {bit_depth} must be 8 or 10")
    return SensorParams(
        bit_depth=bit_depth,
        full_well_e=float(rng.uniform(4000.0, 12000.0)),
        read_noise_e=float(rng.uniform(2.0, 8.0)),
        black_level_dn=float(rng.uniform(0.0, 4.0)) * (1 if bit_depth == 8 else 4),
        ae_percentile=float(rng.uniform(97.0, 99.5)),
        ae_target=float(rng.uniform(0.55, 0.95)),
        max_exposure=float(rng.uniform(2.0e4, 1.0e5)),
    )


def auto_exposure(radiance: np.ndarray, params: SensorParams) -> float:
    """Electrons per radiance unit so the AE percentile of ``radiance`` hits ``ae_target``."""
    level = float(np.percentile(radiance, params.ae_percentile))
    if level <= 0:
        return params.max_exposure
    return min(params.ae_target * params.full_well_e / level, params.max_exposure)


def expose(radiance: np.ndarray, exposure: float, params: SensorParams,
           rng: np.random.Generator) -> np.ndarray:
    """One noisy quantised frame (uint8 or uint16) from a linear radiance image."""
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
    """Noisy left and right frames with one shared auto-exposure; also returns the exposure."""
    exposure = auto_exposure(left, params)
    return expose(left, exposure, params, rng), expose(right, exposure, params, rng), exposure
