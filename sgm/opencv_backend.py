"""OpenCV StereoSGBM (MODE_HH, 8 paths) behind the `sgm.match` interface: the reference matcher.

The SGBM core is OpenCV's reference configuration (block 5, P1 = 8*25, P2 = 32*25, BT cost on an
x-Sobel pre-filtered image); the preset supplies what both backends share: uniqueness, the LR
tolerance (rounded up to whole pixels, OpenCV's disp12MaxDiff), speckle size and range, the texture
test, the left band and the output quantisation. With `invalid_left_band` false both images are
padded by max_disparity columns on the left so OpenCV also matches the band (cropped afterwards).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from sgm.filters import quantise, texture_mask
from sgm.inputs import grey_levels, grey_scale
from sgm.presets import SGMParams

BLOCK_SIZE = 5
OPENCV_SCALE = 16  # StereoSGBM output is int16 disparity * 16


def reference_sgbm(num_disparities: int, uniqueness: int = 10, disp12_max_diff: int = -1,
                   speckle_size: int = 100, speckle_range_px: float = 2.0) -> cv2.StereoSGBM:
    """StereoSGBM in MODE_HH with block 5, P1 = 8*25, P2 = 32*25 (the accuracy reference).

    speckle_range_px is in pixels (OpenCV multiplies its speckleRange by 16 internally)."""
    return cv2.StereoSGBM_create(
        minDisparity=0, numDisparities=num_disparities, blockSize=BLOCK_SIZE,
        P1=8 * BLOCK_SIZE ** 2, P2=32 * BLOCK_SIZE ** 2, disp12MaxDiff=disp12_max_diff,
        uniquenessRatio=int(uniqueness), speckleWindowSize=int(speckle_size),
        speckleRange=max(1, int(round(speckle_range_px))), mode=cv2.STEREO_SGBM_MODE_HH)


def match_opencv(left: np.ndarray, right: np.ndarray, *, max_disparity: int,
                 params: SGMParams) -> np.ndarray:
    """Left disparity float32 px (0 = hole) from validated (H, W) uint8/uint16 images."""
    num = 16 * math.ceil(max_disparity / 16)
    lr = -1 if params.lr_tolerance_32 is None else max(1, math.ceil(params.lr_tolerance_32 / 32))
    matcher = reference_sgbm(num, params.uniqueness_pct, lr, params.speckle_size, params.speckle_range_px)
    pad = 0 if params.invalid_left_band else num
    scale = grey_scale(left, right)
    l8, r8 = (_to_uint8(im, scale) for im in (left, right))
    if pad:
        l8, r8 = (cv2.copyMakeBorder(im, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0) for im in (l8, r8))
    raw = matcher.compute(l8, r8)[:, pad:]
    disp = raw.astype(np.float32) / OPENCV_SCALE
    disp[(raw <= 0) | (disp >= max_disparity)] = 0.0
    grey = grey_levels(left, scale)
    valid = texture_mask(grey, params.texture_window, params.texture_diff, params.texture_count).numpy()
    disp[~valid] = 0.0
    if params.invalid_left_band:
        disp[:, :max_disparity] = 0.0
    return quantise(torch.from_numpy(disp), params.subpixel_levels).numpy()


def _to_uint8(image: np.ndarray, scale: float) -> np.ndarray:
    """StereoSGBM needs 8-bit input: uint16 is scaled by the pair's grey_scale."""
    if image.dtype == np.uint8:
        return image
    return np.clip(np.round(image.astype(np.float32) * scale), 0, 255).astype(np.uint8)
