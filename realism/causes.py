"""Why a sensor hole is a hole: classification from GT geometry, materials and the IR image.

Everything here is in the rectified **left IR frame** (OpenCV axes, metres, pixels of the left IR
image). A hole is a pixel with GT depth > 0 and sensor depth 0. Each hole gets the first cause that
applies, in this priority order (``CAUSES``):

1. ``out_of_range``: GT z outside the sensor's depth range [z_min, z_max] (metres; from the SGM
   preset's explicit limits and the disparity window 0..D-1 searched for the sample: z >= fx*b/(D-1),
   D = ``meta["sensor"]["max_disparity"]`` as written by ``cli.py sgm``).
2. ``projector_shadow``: the projector's ray to the GT 3-D point is blocked. A z-buffer of the GT
   points is rendered from the projector's centre (pose ``meta["projector"]["T_ir_from_projector"]``);
   a point is shadowed if a surface lies clearly in front of it along the projector ray.
3. ``occlusion``: the point is not visible in the right IR camera (same z-buffer test from the right
   camera, left IR translated by +baseline along x), or its match u - d falls outside the right image.
4. ``left_band``: the left image band u < d_min + D that the SGM invalidates because its disparity
   window leaves the right image (presets with ``invalid_left_band``; D from the sample's meta, the
   preset, or fx*b/z_min).
5. ``specular_transparent``: material class in the specular (glossy, metal, mirror) or transparent
   (glass) groups.
6. ``low_texture``: local standard deviation of the left IR image (window ``texture_window`` px,
   normalised by the image's 99.5th percentile) below ``texture_std``.
7. ``unexplained``: none of the above.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth.schema import CLASS_IDS, MATERIAL_GROUPS

CAUSES: tuple[str, ...] = (
    "out_of_range", "projector_shadow", "occlusion", "left_band",
    "specular_transparent", "low_texture", "unexplained",
)
CAUSE_CODE: dict[str, int] = {name: i + 1 for i, name in enumerate(CAUSES)}  # 0 = not a hole
SPECULAR_TRANSPARENT_IDS: tuple[int, ...] = tuple(
    CLASS_IDS[name] for group in ("specular", "transparent") for name in MATERIAL_GROUPS[group])
MAX_DENSIFY = 16  # at most this many sub-samples between two neighbouring GT points
MAX_ZBUFFER_SCALE = 4  # a z-buffer is at most this many times the IR image size per side


@dataclass(frozen=True)
class CauseParams:
    """Thresholds of the cause tests (relative = fraction of the depth)."""

    surface_rel: float = 0.10  # neighbours whose depths differ by less than this share a surface
    occluder_rel: float = 0.02  # an occluder must be this much nearer (plus the local slope) ...
    occluder_abs_m: float = 0.002  # ... plus this many metres
    texture_window: int = 9  # px, odd
    texture_std: float = 0.02  # local IR std / image 99.5th percentile below this = low texture


@dataclass(frozen=True)
class SensorRange:
    """Depth range of the simulated sensor: explicit metric limits and/or a disparity window (px)."""

    z_min_m: float | None = None
    z_max_m: float | None = None
    d_min_px: float | None = None  # smallest searched disparity
    d_count_px: float | None = None  # number of searched disparities (window = [d_min, d_min + D))
    left_band: bool = False  # whether the SGM invalidates u < d_min + D

    def limits(self, fx_b: float, d_count_px: float | None = None) -> tuple[float, float]:
        """(z_min, z_max) in metres for a rig with fx * baseline = ``fx_b`` (px * m); the disparity
        window searched is ``d_count_px`` (the sample's own, from its meta) or the preset's."""
        lo, hi = 0.0, np.inf
        count = d_count_px or self.d_count_px
        if count:
            lo = fx_b / max(float(self.d_min_px or 0.0) + float(count) - 1.0, 1.0)
        if self.d_min_px and self.d_min_px > 0:
            hi = fx_b / float(self.d_min_px)
        if self.z_min_m is not None:
            lo = max(lo, float(self.z_min_m))
        if self.z_max_m is not None:
            hi = min(hi, float(self.z_max_m))
        return lo, hi

    def band_px(self, fx_b: float, width: int, d_count_px: float | None = None) -> float:
        """Width (px) of the invalid left band for a rig with fx * baseline = ``fx_b`` (px * m) and an
        image ``width`` px wide; 0 if the SGM has none. The search window is ``d_count_px`` (the
        sample's own, when its meta records it), else the preset's, else fx*b/z_min as the SGM
        command derives it; never wider than the image."""
        if not self.left_band:
            return 0.0
        count = d_count_px or self.d_count_px
        if not count and self.z_min_m:
            count = np.ceil(fx_b / self.z_min_m)
        if not count:
            return 0.0
        return float(min(float(self.d_min_px or 0.0) + float(count), width))

    def to_dict(self) -> dict:
        return {"z_min_m": self.z_min_m, "z_max_m": self.z_max_m, "d_min_px": self.d_min_px,
                "d_count_px": self.d_count_px, "left_band": self.left_band}


# ---------------------------------------------------------------- geometry


def backproject(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """HxWx3 points (metres, left IR frame) of a planar-z depth map; pixel centres at integers."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    z = depth.astype(np.float64)
    x = (u - K[0, 2]) / K[0, 0] * z
    y = (v - K[1, 2]) / K[1, 1] * z
    return np.stack([x, y, z], axis=-1)


def _project(points: np.ndarray, T_view_from_ir: np.ndarray, K_view: np.ndarray):
    """Continuous pixel coordinates and view-frame z of Nx3 IR-frame points."""
    p = points @ T_view_from_ir[:3, :3].T + T_view_from_ir[:3, 3]
    z = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = K_view[0, 0] * p[:, 0] / z + K_view[0, 2]
        y = K_view[1, 1] * p[:, 1] / z + K_view[1, 2]
    return x, y, z


def _same_surface(za: np.ndarray, zb: np.ndarray, rel: float) -> np.ndarray:
    return (za > 0) & (zb > 0) & (np.abs(za - zb) <= rel * np.minimum(za, zb))


def local_slope(depth: np.ndarray, rel: float) -> np.ndarray:
    """Largest |z - z_neighbour| (m) over the 4-neighbours on the same surface (0 if none)."""
    slope = np.zeros(depth.shape, np.float64)
    z = depth.astype(np.float64)
    for axis in (0, 1):
        a = z[:-1, :] if axis == 0 else z[:, :-1]
        b = z[1:, :] if axis == 0 else z[:, 1:]
        diff = np.where(_same_surface(a, b, rel), np.abs(a - b), 0.0)
        if axis == 0:
            slope[:-1, :] = np.maximum(slope[:-1, :], diff)
            slope[1:, :] = np.maximum(slope[1:, :], diff)
        else:
            slope[:, :-1] = np.maximum(slope[:, :-1], diff)
            slope[:, 1:] = np.maximum(slope[:, 1:], diff)
    return slope


def _densified_points(points: np.ndarray, depth: np.ndarray, x: np.ndarray, y: np.ndarray,
                      rel: float) -> np.ndarray:
    """Extra points between neighbouring same-surface GT points whose projections (``x``, ``y``:
    HxW viewer pixel coordinates) are > 1 px apart, so a surface leaves no gaps in the z-buffer."""
    extra = []
    for axis in (0, 1):
        sl_a = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
        sl_b = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
        conn = _same_surface(depth[sl_a], depth[sl_b], rel)
        span = np.maximum(np.abs(x[sl_a] - x[sl_b]), np.abs(y[sl_a] - y[sl_b]))
        conn &= np.isfinite(span) & (span > 1.0)
        if not conn.any():
            continue
        a, b = points[sl_a][conn], points[sl_b][conn]
        n = np.clip(np.ceil(span[conn]), 1, MAX_DENSIFY).astype(int)
        for k in range(1, int(n.max())):
            sel = n > k
            t = (k / n[sel])[:, None]
            extra.append(a[sel] + t * (b[sel] - a[sel]))
    return np.concatenate(extra) if extra else np.zeros((0, 3))


def occluded_from_view(depth: np.ndarray, K: np.ndarray, T_view_from_ir: np.ndarray,
                       params: CauseParams = CauseParams(), image_hw: tuple[int, int] | None = None):
    """Which GT points cannot be seen from another pinhole viewpoint (camera or projector).

    ``depth`` is the left IR GT (m, 0 = no surface), ``K`` its intrinsics; the viewer sits at
    ``T_view_from_ir`` and uses the IR focal length. Returns ``(occluded, outside)`` HxW bool masks:
    ``occluded`` = a same-ray surface is nearer than the point by more than
    ``occluder_rel * z + local slope + occluder_abs_m``; ``outside`` = behind the viewer or, when
    ``image_hw`` is given, projected outside that image (pixel centres at integers).
    """
    h, w = depth.shape
    valid = depth > 0
    occluded = np.zeros((h, w), bool)
    outside = np.zeros((h, w), bool)
    if not valid.any():
        return occluded, outside
    K_view = np.array(K, np.float64)
    T = np.asarray(T_view_from_ir, np.float64)
    points = backproject(depth, K_view)
    gx, gy, gz = _project(points.reshape(-1, 3), T, K_view)
    gx, gy = gx.reshape(h, w), gy.reshape(h, w)
    gx[~valid], gy[~valid] = np.nan, np.nan
    px, py, pz = gx[valid], gy[valid], gz.reshape(h, w)[valid]
    front = pz > 1e-6
    if image_hw is not None:
        vh, vw = image_hw
        inside = front & (px >= -0.5) & (px < vw - 0.5) & (py >= -0.5) & (py < vh - 0.5)
    else:
        inside = front
    out_flat = ~inside
    if not front.any():
        outside[valid] = out_flat
        return occluded, outside
    extra = _densified_points(points, depth, gx, gy, params.surface_rel)
    ex, ey, ez = _project(extra, T, K_view) if len(extra) else (np.zeros(0),) * 3
    ix_p, iy_p = np.round(px[front]).astype(np.int64), np.round(py[front]).astype(np.int64)
    x0, x1 = ix_p.min(), ix_p.max()
    y0, y1 = iy_p.min(), iy_p.max()
    x0, x1 = max(x0, -MAX_ZBUFFER_SCALE * w), min(x1, MAX_ZBUFFER_SCALE * w)
    y0, y1 = max(y0, -MAX_ZBUFFER_SCALE * h), min(y1, MAX_ZBUFFER_SCALE * h)
    bw, bh = int(x1 - x0 + 1), int(y1 - y0 + 1)
    buf = np.full(bh * bw, np.inf)

    def cells(x, y, z):
        ok = (z > 1e-6) & np.isfinite(x) & np.isfinite(y)
        ix, iy = np.round(x[ok]).astype(np.int64) - x0, np.round(y[ok]).astype(np.int64) - y0
        keep = (ix >= 0) & (ix < bw) & (iy >= 0) & (iy < bh)
        return np.flatnonzero(ok)[keep], iy[keep] * bw + ix[keep]

    src_p, cell_p = cells(px, py, pz)
    np.minimum.at(buf, cell_p, pz[src_p])
    if len(ez):
        src_e, cell_e = cells(ex, ey, ez)
        np.minimum.at(buf, cell_e, ez[src_e])
    slope = local_slope(depth, params.surface_rel)[valid]
    tol = params.occluder_rel * pz[src_p] + slope[src_p] + params.occluder_abs_m
    occ_flat = np.zeros(len(pz), bool)
    occ_flat[src_p] = buf[cell_p] < pz[src_p] - tol
    occluded[valid] = occ_flat & ~out_flat
    outside[valid] = out_flat
    return occluded, outside


def translation(x: float, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = (x, y, z)
    return t


def projector_shadow(depth: np.ndarray, K: np.ndarray, T_ir_from_projector: np.ndarray,
                     params: CauseParams = CauseParams()) -> np.ndarray:
    """HxW bool: GT points whose ray from the projector centre is blocked by a nearer GT surface."""
    T_proj_from_ir = np.linalg.inv(np.asarray(T_ir_from_projector, np.float64))
    shadow, _ = occluded_from_view(depth, K, T_proj_from_ir, params)
    return shadow


def right_occlusion(depth: np.ndarray, K: np.ndarray, baseline_m: float,
                    params: CauseParams = CauseParams()) -> np.ndarray:
    """HxW bool: GT points not visible in the right IR camera (blocked, or outside its image)."""
    occluded, outside = occluded_from_view(depth, K, translation(-baseline_m), params, depth.shape)
    return (occluded | outside) & (depth > 0)


def low_texture(ir: np.ndarray, params: CauseParams = CauseParams()) -> np.ndarray:
    """HxW bool: local IR standard deviation (box window) below ``texture_std`` of the image's
    99.5th-percentile brightness (so the test does not depend on 8/16-bit storage or exposure)."""
    img = ir.astype(np.float64)
    scale = max(float(np.percentile(img, 99.5)), 1e-6)
    img = img / scale
    k = (params.texture_window, params.texture_window)
    mean = cv2.blur(img, k, borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(img * img, k, borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    return std < params.texture_std


@dataclass
class CauseMaps:
    """Per-pixel results of the cause tests (left IR frame, HxW)."""

    cause: np.ndarray  # uint8: 0 = not a hole, else CAUSE_CODE of the first cause that applies
    shadow: np.ndarray  # bool: GT point in projector shadow (hole or not)
    occluded: np.ndarray  # bool: GT point not visible in the right camera
    out_of_range: np.ndarray  # bool: GT z outside the sensor range
    matchable: np.ndarray  # bool: GT pixel that geometry lets the sensor measure (in range, lit by
    #                        the projector, seen by the right camera, outside the left band)


def classify_holes(gt: np.ndarray, hole: np.ndarray, material: np.ndarray, ir_left: np.ndarray,
                   K: np.ndarray, baseline_m: float, T_ir_from_projector: np.ndarray | None,
                   sensor_range: SensorRange, params: CauseParams = CauseParams(),
                   d_count_px: float | None = None) -> CauseMaps:
    """Cause of every hole (``hole`` = GT > 0 and sensor 0) in priority order ``CAUSES``."""
    K = np.asarray(K, np.float64)
    gt_ok = gt > 0
    z_lo, z_hi = sensor_range.limits(K[0, 0] * baseline_m, d_count_px)
    out_of_range = gt_ok & ((gt < z_lo) | (gt > z_hi))
    if T_ir_from_projector is not None:
        shadow = projector_shadow(gt, K, T_ir_from_projector, params)
    else:
        shadow = np.zeros(gt.shape, bool)
    occluded = right_occlusion(gt, K, baseline_m, params)
    band = np.zeros(gt.shape, bool)
    band[:, : int(np.ceil(sensor_range.band_px(K[0, 0] * baseline_m, gt.shape[1], d_count_px)))] = True
    tests = {
        "out_of_range": out_of_range,
        "projector_shadow": shadow,
        "occlusion": occluded,
        "left_band": band,
        "specular_transparent": np.isin(material, SPECULAR_TRANSPARENT_IDS),
        "low_texture": low_texture(ir_left, params),
        "unexplained": np.ones(gt.shape, bool),
    }
    cause = np.zeros(gt.shape, np.uint8)
    left = hole & gt_ok
    for name in CAUSES:
        hit = left & tests[name]
        cause[hit] = CAUSE_CODE[name]
        left &= ~hit
    matchable = gt_ok & ~(out_of_range | shadow | occluded | band)
    return CauseMaps(cause=cause, shadow=shadow & gt_ok, occluded=occluded, out_of_range=out_of_range,
                     matchable=matchable)
