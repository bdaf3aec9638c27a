"""RGB camera response (numpy): auto-exposure, white balance, sRGB encoding to uint8.

The RGB render is linear scene-referred radiance (multilayer EXR, no view transform). We "develop" it
like a simple camera ISP with Blender's *Standard* view transform (sRGB OETF, hard clip), chosen over
Filmic/AgX because it is the plain camera-like curve and keeps dark/black surfaces dark:
1. auto-exposure: the log-average luminance maps to a mid-grey key of 0.18 * 2^ev, with the
   exposure compensation ev ~ U(-0.7, +0.7) stops drawn per sample;
2. white balance error: red and blue gains ~ U(0.88, 1.12) (green = 1), a plausible residual cast;
3. sRGB OETF, clip to [0, 1], round to uint8.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])


@dataclass(frozen=True)
class RgbResponse:
    exposure_ev: float
    wb_gains: tuple[float, float, float]
    key: float = 0.18

    def to_meta(self) -> dict:
        return asdict(self)


def sample_response(rng: np.random.Generator) -> RgbResponse:
    return RgbResponse(exposure_ev=float(rng.uniform(-0.7, 0.7)),
                       wb_gains=(float(rng.uniform(0.88, 1.12)), 1.0, float(rng.uniform(0.88, 1.12))))


def srgb_oetf(x: np.ndarray) -> np.ndarray:
    """Linear [0, 1] -> sRGB-encoded [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def develop(linear_rgb: np.ndarray, resp: RgbResponse) -> tuple[np.ndarray, float]:
    """uint8 sRGB image from a HxWx3 linear render; also returns the linear gain applied."""
    lin = np.asarray(linear_rgb, np.float64)
    lum = lin @ LUMA
    log_avg = float(np.exp(np.mean(np.log(np.maximum(lum, 1e-6)))))
    gain = resp.key * 2.0 ** resp.exposure_ev / max(log_avg, 1e-6)
    out = srgb_oetf(lin * gain * np.asarray(resp.wb_gains))
    return np.rint(out * 255.0).astype(np.uint8), gain
