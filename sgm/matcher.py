"""`match`: census SGM on a rectified grey stereo pair -> left disparity (float32 px, 0 = hole)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from sgm.aggregation import aggregate
from sgm.census import census_transform, gaussian_blur
from sgm.cost import census_cost_volume
from sgm.filters import median3_valid, quantise, remove_speckles, texture_mask
from sgm.inputs import check_device, check_pair, grey_levels, grey_scale
from sgm.presets import SGMParams, load_preset
from sgm.refinement import (
    INT16_MAX,
    left_right_mask,
    left_right_mask_winners,
    refine_intensity,
    right_view,
    uniqueness_mask,
    winner_take_all,
)
from sgm.workspace import cpu_workers, one_intra_op_thread, run_parallel, volume_buffer


def match(left: np.ndarray, right: np.ndarray, *, max_disparity: int,
          preset: str | SGMParams = "generic", device: str | torch.device = "cpu",
          backend: str = "torch", overrides: Mapping[str, Any] | None = None) -> np.ndarray:
    """Disparity of the left image, float32 (H, W) px, 0 = hole; left(x, y) matches right(x - d, y).

    left, right: rectified (H, W) uint8 or uint16 grey images (colour is converted with a warning).
    max_disparity: number of disparities searched, 0 .. max_disparity - 1 px (< image width).
    preset: a name from presets.json ('generic', 'd435', 'd415') or SGMParams; `overrides` replaces
    single knobs. backend 'torch' (this module, cpu or cuda) or 'opencv' (StereoSGBM reference).
    On the CPU, torch ops run single-threaded during the match and torch.get_num_threads() sets
    the number of row-band worker threads for large volumes (see sgm.workspace); any thread count
    gives the same result.
    """
    params = load_preset(preset, overrides)
    left_img, right_img, D = check_pair(left, right, max_disparity)
    if backend == "opencv":
        from sgm.opencv_backend import match_opencv
        return match_opencv(left_img, right_img, max_disparity=D, params=params)
    if backend != "torch":
        raise ValueError(f"unknown SGM backend {backend!r}; use 'torch' or 'opencv'")
    dev = check_device(device)
    workers = cpu_workers(dev, left_img.size * D)
    with torch.inference_mode(), one_intra_op_thread(dev):
        disp = _match_torch(left_img, right_img, D, params, dev, workers)
    disp = remove_speckles(disp, params.speckle_size, params.speckle_range_px)
    return quantise(torch.from_numpy(disp), params.subpixel_levels).numpy()


def _match_torch(left: np.ndarray, right: np.ndarray, D: int, params: SGMParams,
                 device: torch.device, workers: int = 1) -> np.ndarray:
    """Cost volume -> aggregation -> WTA and validity tests -> refinement, median, band (numpy).
    workers > 1: census, cost volume, winners and refinement run on row bands in that many threads
    (same result); the aggregation stays in the calling thread (its ~10^4 small ops would mostly
    wait for each other's GIL hand-offs)."""
    scale = grey_scale(left, right)
    grey_left, grey_right = (grey_levels(im, scale, device) for im in (left, right))
    cost = _cost_volume(left, right, grey_left, grey_right, D, params, scale, device, workers)
    rows, cols = left.shape
    use_volume_lr = params.lr_tolerance_32 is not None and params.lr_mode == "volume"
    # the volume LR check reads the right image's costs along diagonals: D spare columns
    padded = volume_buffer((rows, cols + (D if use_volume_lr else 0), D), torch.int16, device)
    total = padded[:, :cols]
    aggregate(cost, grey_left, params.p1, params.p2, params.p2_gamma, params.paths, total=total)
    del cost
    disp, valid = _winners(padded, cols, params, workers)
    del padded, total
    valid &= texture_mask(grey_left, params.texture_window, params.texture_diff, params.texture_count)
    disp = torch.where(valid, disp, torch.zeros_like(disp))
    if params.refine_window:
        disp = refine_intensity(disp, grey_left, grey_right, params.refine_window, params.refine_min_gradient,
                                workers=workers)
    if params.median:
        disp = median3_valid(disp)
    if params.invalid_left_band:
        disp[:, :D] = 0
    return disp.cpu().numpy().astype(np.float32)


def _cost_volume(left: np.ndarray, right: np.ndarray, grey_left: torch.Tensor, grey_right: torch.Tensor,
                 D: int, params: SGMParams, scale: float, device: torch.device, workers: int = 1) -> torch.Tensor:
    """uint8 (H, W, D) matching cost: census Hamming distance (+ AD when the preset mixes it)."""
    threshold = params.census_threshold / scale  # grey levels -> image units
    codes: list[torch.Tensor] = [torch.empty(0), torch.empty(0)]

    def census(k: int, image: np.ndarray) -> None:
        blurred = gaussian_blur(torch.from_numpy(image.astype(np.float32)).to(device), params.prefilter_sigma)
        codes[k] = census_transform(blurred, params.census_window, threshold, params.census_reference)

    run_parallel([lambda: census(0, left), lambda: census(1, right)] if workers > 1 else
                 [lambda: (census(0, left), census(1, right))])
    ad_args = {}
    if params.ad_weight > 0:
        ad_args = dict(intensity_left=grey_left.round().to(torch.int16),
                       intensity_right=grey_right.round().to(torch.int16),
                       ad_weight=params.ad_weight, ad_cap=params.ad_cap)
    rows, cols = left.shape
    out = volume_buffer((rows, cols, D), torch.uint8, device)
    return census_cost_volume(codes[0], codes[1], D, params.max_matching_cost, out=out, workers=workers, **ad_args)


def _winners(padded: torch.Tensor, cols: int, params: SGMParams, workers: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-pixel winner-take-all disparity and its validity (LR check, score, uniqueness) from the
    aggregated volume padded[:, :cols] (the spare columns serve the volume LR check)."""
    total = padded[:, :cols]
    left = winner_take_all(total, params.subpixel, second=params.uniqueness_pct > 0, workers=workers)
    disp = left.disparity
    valid = disp > 0
    if params.lr_tolerance_32 is not None:
        tolerance = params.lr_tolerance_32 / 32.0
        if params.lr_mode == "volume":
            padded[:, cols:] = INT16_MAX
            right = winner_take_all(right_view(padded, cols), params.subpixel, workers=workers)
            valid &= left_right_mask(disp, right.disparity, tolerance)
        else:
            valid &= left_right_mask_winners(disp, left.cost, tolerance)
    if params.max_cost is not None:
        valid &= left.cost.float() <= params.max_cost * params.paths
    if left.second is not None:
        valid &= uniqueness_mask(left.cost, left.second, params.uniqueness_pct)
    return disp, valid
