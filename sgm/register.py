"""Depth as an active-stereo camera writes it: z from disparity in the left IR frame, millimetres,
and registration ("alignment") into the RGB camera.

Registration method (the librealsense `align` approach): every valid IR pixel is a small square
facet at its own depth; its four footprint corners (u +- 0.5, v +- 0.5) are projected into the RGB
camera and the facet fills the RGB pixels whose centres fall inside the projected footprint's box
(grown by FOOTPRINT_GROW px so neighbouring facets of one continuous surface leave no cracks when
the RGB camera is ~1.33x finer than the IR one). A z-buffer keeps the nearest facet per RGB pixel.
Depth is never interpolated between IR pixels, so no depth is invented across hole borders or
depth edges; RGB pixels that see something the IR camera did not (occlusion by the baseline
between the two cameras) stay holes. All geometry is in metres, OpenCV axes (x right, y down, z
forward); K matrices in pixels with pixel centres at integer coordinates.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

FOOTPRINT_GROW = 0.05  # px, overlap of neighbouring facets in the RGB image
MAX_FOOTPRINT_PX = 6  # facets whose projected box is wider than this (grazing angles) are dropped


def disparity_to_depth(disparity: np.ndarray, fx: float, baseline_m: float,
                       z_min_m: float | None = None, z_max_m: float | None = None) -> np.ndarray:
    """Planar depth z = fx * b / d (float32 m, left IR frame); 0 where d <= 0 or z is outside
    [z_min_m, z_max_m] (the sensor's range)."""
    if fx <= 0 or baseline_m <= 0:
        raise ValueError(f"fx ({fx}) and baseline_m ({baseline_m}) must be positive")
    d = np.asarray(disparity, np.float64)
    z = np.zeros(d.shape, np.float64)
    ok = d > 0
    z[ok] = fx * baseline_m / d[ok]
    if z_min_m is not None:
        z[z < z_min_m] = 0.0
    if z_max_m is not None:
        z[z > z_max_m] = 0.0
    return z.astype(np.float32)


def depth_to_units(depth_m: np.ndarray, unit_m: float = 0.001) -> np.ndarray:
    """uint16 depth in `unit_m` units (1 mm default), rounded; 0 = hole, beyond 65535 units -> hole."""
    q = np.round(np.asarray(depth_m, np.float64) / unit_m)
    q[(q > 65535) | ~np.isfinite(q)] = 0
    return np.clip(q, 0, 65535).astype(np.uint16)


def register_depth(depth_ir_m: np.ndarray, K_ir: np.ndarray, K_rgb: np.ndarray,
                   T_rgb_from_ir: np.ndarray, rgb_size_hw: tuple[int, int]) -> np.ndarray:
    """Depth of the left IR frame (float m, 0 = hole) -> planar depth in the RGB camera (float32 m,
    rgb_size_hw, 0 = hole) by footprint splatting with a z-buffer (see the module docstring)."""
    _check_geometry(depth_ir_m, K_ir, K_rgb, T_rgb_from_ir, rgb_size_hw)
    depth = torch.from_numpy(np.ascontiguousarray(depth_ir_m, np.float32))
    K_ir_inv = torch.as_tensor(np.linalg.inv(np.asarray(K_ir, np.float64)), dtype=torch.float32)
    K_rgb_t = torch.as_tensor(np.asarray(K_rgb, np.float64), dtype=torch.float32)
    T = torch.as_tensor(np.asarray(T_rgb_from_ir, np.float64), dtype=torch.float32)
    rows_rgb, cols_rgb = rgb_size_hw
    vs, us = torch.nonzero(depth > 0, as_tuple=True)
    z = depth[vs, us]
    pix = torch.stack([us.float(), vs.float(), torch.ones_like(z)])  # (3, N)
    rotation = T[:3, :3]
    centre = rotation @ (K_ir_inv @ pix * z) + T[:3, 3:4]  # facet centre, RGB frame (m)
    step_u = (rotation @ K_ir_inv[:, 0:1]) * z  # corner offsets per +1 px in u / v (m)
    step_v = (rotation @ K_ir_inv[:, 1:2]) * z
    us_c, vs_c, zs_c = [], [], []
    for du, dv in ((-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)):
        proj = K_rgb_t @ (centre + du * step_u + dv * step_v)
        us_c.append(proj[0] / proj[2])
        vs_c.append(proj[1] / proj[2])
        zs_c.append(proj[2])
    u_all, v_all, z_all = torch.stack(us_c), torch.stack(vs_c), torch.stack(zs_c)
    z_rgb = centre[2]
    in_front = (z_all > 0).all(0)
    x0 = torch.ceil(u_all.min(0).values - FOOTPRINT_GROW).long()
    x1 = torch.floor(u_all.max(0).values + FOOTPRINT_GROW).long()
    y0 = torch.ceil(v_all.min(0).values - FOOTPRINT_GROW).long()
    y1 = torch.floor(v_all.max(0).values + FOOTPRINT_GROW).long()
    keep = in_front & (x1 - x0 < MAX_FOOTPRINT_PX) & (y1 - y0 < MAX_FOOTPRINT_PX)
    keep &= (x1 >= 0) & (x0 < cols_rgb) & (y1 >= 0) & (y0 < rows_rgb)
    x0, x1, y0, y1, z_rgb = x0[keep], x1[keep], y0[keep], y1[keep], z_rgb[keep]
    zbuf = torch.full((rows_rgb * cols_rgb,), float("inf"), dtype=torch.float32)
    span = int(max(int((x1 - x0).max()) if len(x0) else 0, int((y1 - y0).max()) if len(y0) else 0)) + 1
    for oy in range(span):
        for ox in range(span):
            x, y = x0 + ox, y0 + oy
            hit = (x <= x1) & (y <= y1) & (x >= 0) & (x < cols_rgb) & (y >= 0) & (y < rows_rgb)
            zbuf.scatter_reduce_(0, (y * cols_rgb + x)[hit], z_rgb[hit], reduce="amin")
    zbuf[~torch.isfinite(zbuf)] = 0.0
    return zbuf.view(rows_rgb, cols_rgb).numpy()


def _check_geometry(depth: np.ndarray, K_ir, K_rgb, T, rgb_size_hw) -> None:
    """ValueError naming the bad argument (shapes, finiteness)."""
    for name, arr, shape in (("K_ir", K_ir, (3, 3)), ("K_rgb", K_rgb, (3, 3)), ("T_rgb_from_ir", T, (4, 4))):
        a = np.asarray(arr, np.float64)
        if a.shape != shape or not np.isfinite(a).all():
            raise ValueError(f"{name} must be a finite {shape[0]}x{shape[1]} matrix, got shape {a.shape}")
    if np.asarray(depth).ndim != 2:
        raise ValueError(f"depth must be a 2-D map, got shape {np.asarray(depth).shape}")
    if len(rgb_size_hw) != 2 or min(rgb_size_hw) < 1:
        raise ValueError(f"rgb_size_hw must be (H, W) > 0, got {rgb_size_hw}")


def sensor_fields(disparity: np.ndarray, meta: Mapping[str, Any], rgb_size_hw: tuple[int, int],
                  z_min_m: float | None = None, z_max_m: float | None = None,
                  unit_m: float = 0.001) -> dict[str, np.ndarray]:
    """The SGM fields of the schema from a left-IR disparity map and the sample's meta:
    sensor_disparity (float32 px, 0 = hole), sensor_depth_ir (uint16 units, left IR frame),
    sensor_depth (uint16 units, RGB frame at rgb_size_hw). Disparities whose depth falls outside
    [z_min_m, z_max_m] are holes in all three."""
    K_ir = np.asarray(meta["K_ir"], np.float64)
    fx, baseline = float(K_ir[0, 0]), float(meta["baseline_m"])
    depth = disparity_to_depth(disparity, fx, baseline, z_min_m, z_max_m)
    disp = np.where(depth > 0, disparity, 0.0).astype(np.float32)
    depth_rgb = register_depth(depth, K_ir, meta["K_rgb"], meta["T_rgb_from_ir"], rgb_size_hw)
    return {"sensor_disparity": disp, "sensor_depth_ir": depth_to_units(depth, unit_m),
            "sensor_depth": depth_to_units(depth_rgb, unit_m)}
