"""Classical depth fills scored beside the model: nearest valid pixel, an IP-Basic-style morphological
fill (Ku et al., CRV 2018), OpenCV's Telea inpainting, a harmonic (Laplace membrane) fill of log depth,
and the colour-guided membrane fill (``guided``, the only one that reads the RGB), the smooth half of the
model's ``blend`` prior (``harmonic`` in checkpoints written before it), so the model is also scored
against its own unlearned prior. Input and output: (H, W) float32 metres, 0 = hole; RGB (H, W, 3) uint8;
outputs have no holes (an input with no valid pixel is filled with 2 m)."""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

FALLBACK_DEPTH = 2.0  # m, used only when an input has no valid pixel at all
DIAMOND_5 = np.array([[0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0], [0, 0, 1, 0, 0]],
                     np.uint8)


def _valid(depth: np.ndarray) -> np.ndarray:
    return np.isfinite(depth) & (depth > 0)


def nearest_fill(depth: np.ndarray) -> np.ndarray:
    """Every hole takes the value of the closest valid pixel (Euclidean distance in pixels)."""
    valid = _valid(depth)
    if not valid.any():
        return np.full(depth.shape, FALLBACK_DEPTH, np.float32)
    idx = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    return np.where(valid, depth, depth[tuple(idx)]).astype(np.float32)


def ip_basic_fill(depth: np.ndarray, max_depth: float = 20.0) -> np.ndarray:
    """IP-Basic's default pipeline on inverted depth (max_depth - z, so dilation favours near surfaces):
    5x5 diamond dilation, 5x5 closing, 7x7 dilation into empty pixels, 31x31 dilation into what is
    still empty, 5x5 median and 5x5 Gaussian blur of filled pixels, invert back. Holes left (far
    from any measurement) get the nearest fill. Kernels in pixels, as published (tuned for LiDAR)."""
    valid = _valid(depth)
    if not valid.any():
        return np.full(depth.shape, FALLBACK_DEPTH, np.float32)
    inv = np.where(valid, max_depth - np.minimum(depth, max_depth - 0.2), 0.0).astype(np.float32)
    inv = cv2.dilate(inv, DIAMOND_5)
    inv = cv2.morphologyEx(inv, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    for size in (7, 31):
        empty = inv < 0.1
        inv = np.where(empty, cv2.dilate(inv, np.ones((size, size), np.uint8)), inv)
    if (inv < 0.1).any():  # our addition: big holes get the nearest value before blurring
        inv = nearest_fill(np.where(inv < 0.1, 0.0, inv).astype(np.float32))
    inv = cv2.GaussianBlur(cv2.medianBlur(inv, 5), (5, 5), 0)
    return (max_depth - inv).astype(np.float32)


def inpaint_fill(depth: np.ndarray, radius: float = 5.0) -> np.ndarray:
    """OpenCV ``cv2.inpaint`` (Telea's fast marching method) of the holes, radius in pixels.

    Runs on uint16 millimetres: OpenCV 4.11's float32 path returns garbage values inside holes."""
    valid = _valid(depth)
    if not valid.any():
        return np.full(depth.shape, FALLBACK_DEPTH, np.float32)
    mm = np.where(valid, np.clip(np.round(depth * 1000.0), 1, 65535), 0).astype(np.uint16)
    out = cv2.inpaint(mm, (~valid).astype(np.uint8), radius, cv2.INPAINT_TELEA).astype(np.float32) / 1000.0
    return np.where(valid, depth, out).astype(np.float32)


def _fill_log_depth(depth: np.ndarray, fill) -> np.ndarray:
    """Run a ``mdm.priors`` fill (value, weight, fallback) -> (1, 1, H, W) on the log of ``depth``; metres out."""
    import torch

    valid = _valid(depth)
    if not valid.any():
        return np.full(depth.shape, FALLBACK_DEPTH, np.float32)
    # log in float32 torch, as the model computes it (0 on holes): its untrained prior is then bit-identical
    logd = torch.from_numpy(np.where(valid, depth, 1.0).astype(np.float32)).log()[None, None]
    weight = torch.from_numpy(valid.astype(np.float32))[None, None]
    fallback = torch.full((1, 1, 1, 1), float(np.median(logd[0, 0][valid].numpy())))
    out = np.exp(fill(logd, weight, fallback)[0, 0].numpy())
    return np.where(valid, depth, out).astype(np.float32)


def harmonic_fill(depth: np.ndarray) -> np.ndarray:
    """Laplace interpolation of log depth with the valid pixels as boundary values (``mdm.priors``)."""
    from mdm.priors import harmonic_fill as harmonic

    return _fill_log_depth(depth, harmonic)


def guided_fill(depth: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Colour-guided membrane fill of log depth (``mdm.priors.guided_fill``) guided by ``rgb`` (H, W, 3)
    uint8 on the depth's grid."""
    import torch

    from mdm.priors import guided_fill as guided

    colour = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
    return _fill_log_depth(depth, lambda value, weight, fallback: guided(value, weight, fallback, colour))


DEPTH_ONLY = {"nearest": nearest_fill, "ip_basic": ip_basic_fill, "inpaint": inpaint_fill,
              "harmonic": harmonic_fill}
BASELINES = (*DEPTH_ONLY, "guided")  # names, in table order


def run_baselines(depth: np.ndarray, rgb: np.ndarray) -> dict[str, np.ndarray]:
    """{name: filled depth} of every classical fill on ``depth`` (metres, 0 = hole), ``rgb`` for ``guided``."""
    return {name: fill(depth) for name, fill in DEPTH_ONLY.items()} | {"guided": guided_fill(depth, rgb)}
