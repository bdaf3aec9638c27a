"""Analytic stereo scenes rendered in numpy with exact disparity: fixtures for tests and benchmarks.

A left IR camera at the origin (OpenCV axes, metres) and a right camera at (+baseline, 0, 0) look at a
textured slanted plane Z = z0 + slope_x * X + slope_y * Y and, optionally, a fronto-parallel card
(a box face) at depth z_box. Surfaces carry a world-anchored random-dot texture (value noise), so
both views see the same texture and left pixel (u, v) matches right pixel (u - d, v) with
d = fx * b / Z exactly. Pixels are supersampled (n x n rays) so fractional disparities are real.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class StereoScene:
    """Scene and camera parameters (metres, pixels)."""
    width: int = 160
    height: int = 120
    fx: float = 120.0
    baseline_m: float = 0.1
    z0_m: float = 1.0
    slope_x: float = 0.0
    slope_y: float = 0.0
    box: tuple[float, float, float, float] | None = None  # X0, X1, Y0, Y1 (m) of the card
    z_box_m: float = 0.6
    dot_size_m: float | None = None  # texture cell size; default: 1.2 px at z0
    textureless: tuple[int, int, int, int] | None = None  # x0, x1, y0, y1 px of a flat patch (left image)
    supersample: int = 3

    @property
    def K(self) -> np.ndarray:
        """3x3 intrinsics (fx = fy, principal point at the image centre)."""
        return np.array([[self.fx, 0, (self.width - 1) / 2], [0, self.fx, (self.height - 1) / 2], [0, 0, 1]])


def _noise_table(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Random dot intensities (0..1) on a size x size torus, sparse bright dots on a dim floor."""
    dots = rng.random((size, size))
    return np.where(dots > 0.55, 0.35 + 0.65 * rng.random((size, size)), 0.12 * rng.random((size, size)))


def _texture(table: np.ndarray, X: np.ndarray, Y: np.ndarray, cell: float) -> np.ndarray:
    """Bilinear value noise of the table at world (X, Y) with the given cell size (m)."""
    n = table.shape[0]
    gx, gy = X / cell, Y / cell
    x0, y0 = np.floor(gx), np.floor(gy)
    fx, fy = gx - x0, gy - y0
    x0 = x0.astype(np.int64) % n
    y0 = y0.astype(np.int64) % n
    x1, y1 = (x0 + 1) % n, (y0 + 1) % n
    top = table[y0, x0] * (1 - fx) + table[y0, x1] * fx
    bottom = table[y1, x0] * (1 - fx) + table[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _cast(scene: StereoScene, cam_x: float, u: np.ndarray, v: np.ndarray, K: np.ndarray | None = None):
    """Depth Z (m), world X, Y and surface id (0 plane, 1 card) of rays through pixels (u, v) of a
    camera at (cam_x, 0, 0) looking down +Z with intrinsics K (default: the IR camera's)."""
    K = scene.K if K is None else K
    dx = (u - K[0, 2]) / K[0, 0]
    dy = (v - K[1, 2]) / K[1, 1]
    denom = 1.0 - scene.slope_x * dx - scene.slope_y * dy
    z = (scene.z0_m + scene.slope_x * cam_x) / denom
    surface = np.zeros(u.shape, np.int8)
    if scene.box is not None:
        zb = scene.z_box_m
        xb, yb = cam_x + zb * dx, zb * dy
        x0, x1, y0, y1 = scene.box
        hit = (xb >= x0) & (xb <= x1) & (yb >= y0) & (yb <= y1) & (zb < z)
        z = np.where(hit, zb, z)
        surface[hit] = 1
    return z, cam_x + z * dx, z * dy, surface


def render_pair(scene: StereoScene, seed: int = 0) -> dict[str, np.ndarray]:
    """{'left', 'right'} uint8 IR images, 'disparity' float32 px and 'depth' float32 m (left frame,
    pixel centres) and 'surface' int8 (0 plane, 1 card)."""
    rng = np.random.default_rng(seed)
    table = _noise_table(rng)
    cell = scene.dot_size_m or 1.2 * scene.z0_m / scene.fx
    n = scene.supersample
    offsets = (np.arange(n) + 0.5) / n - 0.5
    vv, uu = np.mgrid[0:scene.height, 0:scene.width].astype(np.float64)
    images = {}
    for name, cam_x in (("left", 0.0), ("right", scene.baseline_m)):
        acc = np.zeros((scene.height, scene.width))
        for oy in offsets:
            for ox in offsets:
                z, X, Y, surf = _cast(scene, cam_x, uu + ox, vv + oy)
                value = _texture(table, X + 100.0 * surf, Y, cell)
                acc += value
        images[name] = acc / (n * n)
    z, X, Y, surf = _cast(scene, 0.0, uu, vv)
    if scene.textureless is not None:
        # a flat patch painted on the surface: same world region blanked in both views
        x0, x1, y0, y1 = scene.textureless
        Xs, Ys = X[y0:y1, x0:x1], Y[y0:y1, x0:x1]
        lo_x, hi_x, lo_y, hi_y = Xs.min(), Xs.max(), Ys.min(), Ys.max()
        for name, cam_x in (("left", 0.0), ("right", scene.baseline_m)):
            _, Xc, Yc, _ = _cast(scene, cam_x, uu, vv)
            flat = (Xc >= lo_x) & (Xc <= hi_x) & (Yc >= lo_y) & (Yc <= hi_y)
            images[name] = np.where(flat, 0.4, images[name])
    out = {name: np.clip(np.round(40 + 200 * img), 0, 255).astype(np.uint8) for name, img in images.items()}
    out["depth"] = z.astype(np.float32)
    out["disparity"] = (scene.fx * scene.baseline_m / z).astype(np.float32)
    out["surface"] = surf
    return out


def shifted_pair(width: int, height: int, disparity: float, seed: int = 0, upsample: int = 8,
                 blur_px: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Random-dot pair with a constant (possibly fractional) disparity: right(x - d) = left(x).

    One random value per pixel-sized dot, blurred by a Gaussian of `blur_px` (optics; makes the
    texture band-limited), rendered on an `upsample`-times finer grid and area-averaged into pixels,
    so a shift of k / upsample px is exact for the area-integrated images (uint8)."""
    from scipy.ndimage import gaussian_filter1d
    rng = np.random.default_rng(seed)
    shift = int(round(disparity * upsample))
    if abs(shift - disparity * upsample) > 1e-6:
        raise ValueError(f"disparity {disparity} is not a multiple of 1/{upsample} px")
    coarse = rng.random((height, width + int(np.ceil(disparity)) + 1))
    fine = np.repeat(coarse, upsample, 1)
    if blur_px > 0:
        fine = gaussian_filter1d(fine, blur_px * upsample, axis=1, mode="wrap")
        fine = gaussian_filter1d(fine, blur_px, axis=0, mode="wrap")
    left_fine = fine[:, :width * upsample]  # left(x) covers fine[x * up ...]
    right_fine = fine[:, shift:shift + width * upsample]  # right(x - d) covers the same samples

    def area(img: np.ndarray) -> np.ndarray:
        return img.reshape(height, width, upsample).mean(axis=2)

    left, right = area(left_fine), area(right_fine)
    lo, hi = left.min(), left.max()
    scale = 220.0 / max(hi - lo, 1e-6)
    return (np.round(20 + scale * (left - lo)).clip(0, 255).astype(np.uint8),
            np.round(20 + scale * (right - lo)).clip(0, 255).astype(np.uint8))


RGB_OFFSET_M = 0.03  # the RGB camera sits 3 cm right of the left IR camera (no rotation)
RGB_SCALE = 4 / 3  # RGB resolution / IR resolution (960x1280 vs 720x960)


def raw_sample(scene: StereoScene, key: str, seed: int = 0) -> dict:
    """A schema-valid raw sample (synth.schema RAW_FIELDS + meta) of the analytic scene: IR pair,
    GT depth/disparity, and an RGB camera (4/3 the IR resolution, same field of view, +3 cm in x)
    with its GT depth. Material is 'textured' (1) everywhere, instance 1 plane / 2 card."""
    pair = render_pair(scene, seed)
    rows, cols = scene.height, scene.width
    rows_rgb, cols_rgb = round(rows * RGB_SCALE), round(cols * RGB_SCALE)
    f_rgb = scene.fx * RGB_SCALE
    K_rgb = np.array([[f_rgb, 0, (cols_rgb - 1) / 2], [0, f_rgb, (rows_rgb - 1) / 2], [0, 0, 1]])
    vv, uu = np.mgrid[0:rows_rgb, 0:cols_rgb].astype(np.float64)
    z_rgb, X, Y, surf_rgb = _cast(scene, RGB_OFFSET_M, uu, vv, K_rgb)
    rng = np.random.default_rng(seed)
    table = _noise_table(rng)
    grey = _texture(table, X + 100.0 * surf_rgb, Y, 2 * (scene.dot_size_m or 1.2 * scene.z0_m / scene.fx))
    rgb = np.repeat(np.round(40 + 200 * grey).astype(np.uint8)[..., None], 3, axis=2)
    T_rgb_from_ir = np.eye(4)
    T_rgb_from_ir[0, 3] = -RGB_OFFSET_M
    meta = {
        "K_ir": scene.K.tolist(), "K_rgb": K_rgb.tolist(), "baseline_m": scene.baseline_m,
        "focal_mm": 20.0, "T_rgb_from_ir": T_rgb_from_ir.tolist(), "T_world_from_ir": np.eye(4).tolist(),
        "projector": {"pattern": "analytic value noise"}, "scene_id": 0, "view_id": 0, "seed": seed,
        "material_classes": {"0": "none", "1": "textured"},
    }
    return {
        "__key__": key, "rgb": rgb, "ir_left": pair["left"], "ir_right": pair["right"],
        "depth_ir": pair["depth"], "depth_rgb": z_rgb.astype(np.float32), "disparity": pair["disparity"],
        "material": np.ones((rows, cols), np.uint8),
        "instance": (pair["surface"].astype(np.uint16) + 1), "meta": meta,
    }
