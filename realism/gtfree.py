"""GT-free statistics of RGB-D frames (real captures and simulated sensor depth alike), and one distance
between two sets of frames built from them.

Every frame is first brought to a common working grid (longer side at most ``work_side`` px: depth by
nearest neighbour, so no depth is invented, RGB by area averaging, K scaled), so that cameras of different
resolutions are compared on the same footing. Per frame (depth in metres, 0 = hole):

* **hole fraction** of all pixels (kept per frame: the distribution, not only the mean);
* **hole components**: 8-connected components of the hole mask, their areas (px and fraction of the
  image) and their number per 100 000 px;
* **edge enrichment**: share of hole pixels within ``edge_radius_px`` of a Canny edge of the RGB image,
  divided by the share of all pixels there (1 = holes ignore RGB edges);
* **flying pixels**: valid pixels in a depth-edge zone (the valid depths of their ``2r+1`` window span
  more than ``1 + edge_rel``) that float between the two sides of a depth jump along a row or a column:
  the neighbours straddle a jump of more than ``edge_rel``, the pixel is more than ``flying_rel``
  (relative) away from both, and both sides are plateaus (see :func:`_flying_along`); reported as a
  fraction of the edge-zone valid pixels;
* **holes next to dark / saturated RGB**: hole rate of pixels within ``dark_radius_px`` of a dark pixel
  (luma < ``dark_level``) or a saturated one (any channel >= ``saturated_level``), divided by the frame
  set's hole rate (enrichment; None when fewer than ``min_mask_fraction`` of the pixels qualify);
* **depth noise against range** from **RANSAC plane fits** on planar patches: the working grid is tiled
  in ``patch_px`` squares; a patch with at least ``patch_valid`` valid pixels is fitted with a plane. A
  plane is affine in inverse depth, 1/z = a*u + b*v + c (pinhole camera), so no intrinsics are needed.
  RANSAC draws ``ransac_trials`` minimal 3-pixel samples; inliers are pixels whose depth is within
  ``max(3 * s2, noise_floor_m)`` of the plane, where s2 is the patch's noise level from second
  differences along rows (1.4826 * MAD / sqrt(6), insensitive to the plane itself); the best plane is
  refitted by least squares on its inliers. The patch is **planar** when its inliers are at least
  ``min_inliers`` of its valid pixels and the residual spread is at most ``1.5 * s2 + noise_floor_m``
  (a curved patch fails this) and at most ``max_rel_noise`` of its depth (random depth is no plane). Its noise is the MAD-based std (1.4826 * MAD) of all depth residuals. The
  summary fits sigma_z = k * z^2 (stereo: k = sigma_d / (f * b)) as the median of sigma / z^2 over planar
  patches, and bins sigma against z for the plot.

:func:`distance` compares two summaries. Each term is in natural-log units (1.0 = a factor e apart) and
is None when either set lacks the statistic; the total is the weighted sum of the available terms
(weights :data:`DEFAULT_WEIGHTS`):

* ``hole_fraction``: 1-D Wasserstein distance between the per-frame values of ln(hole fraction + 0.01);
* ``hole_sizes``: Wasserstein distance between the hole-pixel-weighted distributions of ln(component
  area / image area) (where the hole pixels sit: many small components or a few large ones);
* ``hole_count``: |ln ratio| of the mean number of hole components per 100 000 px (+1);
* ``edge_enrichment``: |ln ratio| of the edge enrichments;
* ``flying_pixels``: |ln ratio| of the flying-pixel fractions (+0.01);
* ``dark_holes`` / ``saturated_holes``: |ln ratio| of the hole enrichments next to dark / saturated
  pixels (+0.05);
* ``depth_noise``: |ln ratio| of the plane-fit noise over the depth range both sets cover
  (:func:`noise_term`; the noise of a camera is only comparable at equal range).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from scipy import ndimage

MAD_TO_STD = 1.4826
EIGHT = np.ones((3, 3), bool)
NOISE_BIN_EDGES_M = np.arange(0.0, 10.01, 0.25)
DEFAULT_WEIGHTS: dict[str, float] = {
    "hole_fraction": 1.0, "hole_sizes": 1.0, "hole_count": 1.0, "edge_enrichment": 1.0,
    "flying_pixels": 1.0, "dark_holes": 0.5, "saturated_holes": 0.5, "depth_noise": 1.0,
}


@dataclass(frozen=True)
class GtFreeParams:
    """Thresholds of the GT-free statistics (px on the working grid)."""

    work_side: int = 640
    edge_radius_px: int = 3
    flying_radius_px: int = 2
    edge_rel: float = 0.10
    flying_rel: float = 0.03
    dark_level: int = 25
    saturated_level: int = 250
    dark_radius_px: int = 2
    min_mask_fraction: float = 0.001
    patch_px: int = 16
    patch_valid: float = 0.9
    ransac_trials: int = 24
    min_inliers: float = 0.8
    noise_floor_m: float = 0.0015
    max_rel_noise: float = 0.03
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- working grid


def to_work_grid(depth_m: np.ndarray, rgb: np.ndarray | None, work_side: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Depth (nearest) and RGB (area) with the longer side at most ``work_side`` px."""
    h, w = depth_m.shape
    s = work_side / max(h, w)
    if s >= 1.0:
        if rgb is not None and rgb.shape[:2] != (h, w):
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        return depth_m, rgb
    size = (max(1, round(w * s)), max(1, round(h * s)))
    depth = cv2.resize(depth_m.astype(np.float32), size, interpolation=cv2.INTER_NEAREST_EXACT)
    if rgb is not None:
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return depth, rgb


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), k) > 0


def rgb_edge_zone(rgb: np.ndarray, radius_px: int) -> np.ndarray:
    """Pixels within ``radius_px`` of a Canny edge (50/150) of the 3x3-blurred grey image."""
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (3, 3), 0)
    return dilate(cv2.Canny(grey, 50, 150) > 0, radius_px)


# ---------------------------------------------------------------- planes


def _second_diff_sigma(z: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(N,) noise level per patch from second differences along rows of (N, P, P) depth."""
    d2 = z[:, :, :-2] - 2 * z[:, :, 1:-1] + z[:, :, 2:]
    ok2 = ok[:, :, :-2] & ok[:, :, 1:-1] & ok[:, :, 2:]
    d2 = np.where(ok2, d2, np.nan).reshape(len(z), -1)
    with np.errstate(all="ignore"):
        med = np.nanmedian(d2, axis=1)
        mad = np.nanmedian(np.abs(d2 - med[:, None]), axis=1)
    return np.nan_to_num(MAD_TO_STD * mad / np.sqrt(6.0), nan=np.inf)


def plane_patches(depth_m: np.ndarray, p: GtFreeParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(z, sigma) of the planar patches of a depth map (see the module docstring), metres."""
    P = p.patch_px
    h, w = depth_m.shape
    ny, nx = h // P, w // P
    if ny == 0 or nx == 0:
        return np.zeros(0), np.zeros(0)
    z = depth_m[:ny * P, :nx * P].astype(np.float64).reshape(ny, P, nx, P).transpose(0, 2, 1, 3).reshape(-1, P, P)
    ok = z > 0
    keep = ok.reshape(len(z), -1).mean(1) >= p.patch_valid
    z, ok = z[keep], ok[keep]
    if len(z) == 0:
        return np.zeros(0), np.zeros(0)
    n = len(z)
    s2 = _second_diff_sigma(z, ok)
    zf, okf = z.reshape(n, -1), ok.reshape(n, -1)
    vv, uu = np.mgrid[0:P, 0:P]
    u = (uu.ravel() - (P - 1) / 2) / P
    v = (vv.ravel() - (P - 1) / 2) / P
    A = np.stack([u, v, np.ones_like(u)], 1)  # (P*P, 3)
    winv = np.where(okf, 1.0 / np.where(okf, zf, 1.0), 0.0)
    zmed = np.nanmedian(np.where(okf, zf, np.nan), axis=1)
    thr = np.maximum(3 * s2, p.noise_floor_m)[:, None]
    # RANSAC: minimal samples of 3 valid pixels per patch
    nvalid = okf.sum(1)
    order = np.argsort(np.where(okf, rng.random(okf.shape), 2.0), axis=1)
    T = p.ransac_trials
    pick = (rng.random((n, T, 3)) * nvalid[:, None, None]).astype(np.int64)
    idx = np.take_along_axis(order[:, None, :].repeat(T, 1), pick, axis=2)  # (n, T, 3)
    M = A[idx]  # (n, T, 3, 3)
    b = np.take_along_axis(winv[:, None, :].repeat(T, 1), idx, axis=2)  # (n, T, 3)
    det = np.linalg.det(M)
    good = np.abs(det) > 1e-6
    M[~good] = np.eye(3)
    coef = np.linalg.solve(M, b[..., None])[..., 0]  # (n, T, 3)
    wpred = np.einsum("ntk,pk->ntp", coef, A)
    with np.errstate(divide="ignore", invalid="ignore"):
        zpred = np.where(wpred > 0, 1.0 / wpred, np.inf)
    inl = (np.abs(zf[:, None, :] - zpred) < thr[:, :, None]) & okf[:, None, :]
    score = np.where(good, inl.sum(2), -1)
    best = score.argmax(1)
    inliers = inl[np.arange(n), best]  # (n, P*P)
    # least-squares refit on the inliers (normal equations, batched)
    W = inliers.astype(np.float64)
    AtA = np.einsum("np,pi,pj->nij", W, A, A) + 1e-12 * np.eye(3)
    Atb = np.einsum("np,pi,np->ni", W, A, winv)
    coef = np.linalg.solve(AtA, Atb[..., None])[..., 0]
    wfit = coef @ A.T
    with np.errstate(divide="ignore", invalid="ignore"):
        res = np.where(okf & (wfit > 0), zf - 1.0 / wfit, np.nan)
        med = np.nanmedian(res, axis=1)
        sigma = MAD_TO_STD * np.nanmedian(np.abs(res - med[:, None]), axis=1)
    frac = inliers.sum(1) / np.maximum(nvalid, 1)
    planar = (frac >= p.min_inliers) & np.isfinite(sigma) & (sigma <= 1.5 * s2 + p.noise_floor_m)
    planar &= sigma <= p.max_rel_noise * zmed
    return zmed[planar], sigma[planar]


# ---------------------------------------------------------------- one frame


@dataclass
class FrameStats:
    """GT-free statistics of one frame on the working grid."""

    pixels: int
    holes: int
    areas_px: np.ndarray
    edge_pixels: int | None = None  # pixels near an RGB edge
    edge_holes: int | None = None  # hole pixels near an RGB edge
    edge_zone_valid: int = 0
    flying: int = 0
    dark_pixels: int | None = None
    dark_holes: int | None = None
    saturated_pixels: int | None = None
    saturated_holes: int | None = None
    plane_z: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plane_sigma: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def hole_fraction(self) -> float:
        return self.holes / max(self.pixels, 1)


def _flying_along(depth: np.ndarray, axis: int, p: GtFreeParams) -> np.ndarray:
    """Flying pixels along one axis: the two neighbours a, b straddle a depth jump (> edge_rel), the
    pixel lies strictly between them (more than flying_rel from both), and both sides are plateaus
    (the next pixels out, a2 and b2, step less than half the pixel's own step): a slanted plane, whose
    steps are even, is not flagged."""
    z = np.moveaxis(depth, axis, 0)
    out = np.zeros(z.shape, bool)
    if z.shape[0] < 5:
        return np.moveaxis(out, 0, axis)
    a2, a, c, b, b2 = (z[i:z.shape[0] - 4 + i] for i in range(5))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    r = p.flying_rel
    ok = (a2 > 0) & (a > 0) & (c > 0) & (b > 0) & (b2 > 0)
    ok &= hi > (1 + p.edge_rel) * lo
    ok &= (c > lo * (1 + r)) & (c < hi * (1 - r))
    ok &= (np.abs(a - a2) < 0.5 * np.abs(c - a)) & (np.abs(b - b2) < 0.5 * np.abs(b - c))
    out[2:-2] = ok
    return np.moveaxis(out, 0, axis)


def flying_pixel_counts(depth: np.ndarray, p: GtFreeParams) -> tuple[int, int]:
    """(valid pixels in a depth-edge zone, flying pixels among them). The zone: valid pixels whose
    (2 * flying_radius_px + 1)^2 window of valid depths spans more than 1 + edge_rel."""
    valid = depth > 0
    size = 2 * p.flying_radius_px + 1
    near = ndimage.minimum_filter(np.where(valid, depth, np.inf), size=size, mode="nearest")
    far = ndimage.maximum_filter(np.where(valid, depth, 0.0), size=size, mode="nearest")
    zone = valid & np.isfinite(near) & (far > (1 + p.edge_rel) * near)
    flying = zone & (_flying_along(depth, 0, p) | _flying_along(depth, 1, p))
    return int(zone.sum()), int(flying.sum())


def frame_stats(depth_m: np.ndarray, rgb: np.ndarray | None, p: GtFreeParams = GtFreeParams(),
                rng: np.random.Generator | None = None) -> FrameStats:
    """All GT-free statistics of one frame (depth in metres, 0 = hole; RGB uint8 of the same view or None)."""
    depth, rgb = to_work_grid(np.asarray(depth_m, np.float32), rgb, p.work_side)
    rng = rng if rng is not None else np.random.default_rng(p.seed)
    hole = ~(depth > 0)
    labels, n = ndimage.label(hole, structure=EIGHT)
    areas = np.bincount(labels.ravel())[1:].astype(np.int64) if n else np.zeros(0, np.int64)
    st = FrameStats(pixels=hole.size, holes=int(hole.sum()), areas_px=areas)
    st.edge_zone_valid, st.flying = flying_pixel_counts(depth, p)
    if rgb is not None:
        near = rgb_edge_zone(rgb, p.edge_radius_px)
        st.edge_pixels, st.edge_holes = int(near.sum()), int((near & hole).sum())
        luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        dark = dilate(luma < p.dark_level, p.dark_radius_px)
        sat = dilate((rgb >= p.saturated_level).any(axis=2), p.dark_radius_px)
        st.dark_pixels, st.dark_holes = int(dark.sum()), int((dark & hole).sum())
        st.saturated_pixels, st.saturated_holes = int(sat.sum()), int((sat & hole).sum())
    st.plane_z, st.plane_sigma = plane_patches(depth, p, rng)
    return st


# ---------------------------------------------------------------- a set of frames


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: np.ndarray) -> np.ndarray:
    order = np.argsort(values)
    v, wt = values[order], weights[order].astype(np.float64)
    cum = np.cumsum(wt) - 0.5 * wt
    return np.interp(qs * wt.sum(), cum, v)


def summarise(frames: list[FrameStats], p: GtFreeParams = GtFreeParams()) -> dict:
    """Summary of a set of frames (JSON-ready; keeps what :func:`distance` needs)."""
    if not frames:
        raise ValueError("no frames to summarise")
    pixels = sum(f.pixels for f in frames)
    holes = sum(f.holes for f in frames)
    rate = holes / max(pixels, 1)
    per_frame = [f.hole_fraction for f in frames]
    areas = np.concatenate([f.areas_px for f in frames]) if frames else np.zeros(0, np.int64)
    area_frac = np.concatenate([f.areas_px / f.pixels for f in frames])
    comps_per_100k = [len(f.areas_px) / f.pixels * 1e5 for f in frames]
    qs = np.linspace(0.005, 0.995, 100)
    log_area_q = (_weighted_quantiles(np.log(area_frac), area_frac, qs).tolist() if len(areas) else None)
    with_rgb = [f for f in frames if f.edge_pixels is not None]
    enrichment = near_share = None
    if with_rgb:
        e_pix = sum(f.edge_pixels for f in with_rgb)
        e_hol = sum(f.edge_holes for f in with_rgb)
        px = sum(f.pixels for f in with_rgb)
        hl = sum(f.holes for f in with_rgb)
        if hl and e_pix:
            near_share = e_hol / hl
            enrichment = near_share / (e_pix / px)

    def mask_enrichment(attr_px: str, attr_h: str) -> dict:
        n = sum(getattr(f, attr_px) or 0 for f in with_rgb)
        hcount = sum(getattr(f, attr_h) or 0 for f in with_rgb)
        px = sum(f.pixels for f in with_rgb)
        hl = sum(f.holes for f in with_rgb)
        if not with_rgb or n < p.min_mask_fraction * px or hl == 0:
            return {"pixels": n, "hole_rate": None, "enrichment": None}
        return {"pixels": n, "hole_rate": hcount / n, "enrichment": (hcount / n) / (hl / px)}

    zone = sum(f.edge_zone_valid for f in frames)
    flying = sum(f.flying for f in frames)
    pz = np.concatenate([f.plane_z for f in frames])
    ps = np.concatenate([f.plane_sigma for f in frames])
    noise: dict = {"planar_patches": int(len(pz)), "k_per_m": None, "bins": []}
    if len(pz):
        noise["k_per_m"] = float(np.median(ps / pz ** 2))
        noise["sigma_at_1m_mm"] = noise["k_per_m"] * 1000.0
        b = np.digitize(pz, NOISE_BIN_EDGES_M) - 1
        for i in np.unique(b):
            sel = b == i
            noise["bins"].append({"z_lo_m": float(NOISE_BIN_EDGES_M[i]), "z_hi_m": float(NOISE_BIN_EDGES_M[i + 1]),
                                  "patches": int(sel.sum()), "z_median_m": float(np.median(pz[sel])),
                                  "sigma_median_mm": float(np.median(ps[sel]) * 1000)})
        noise["frames_with_planes"] = int(sum(len(f.plane_z) > 0 for f in frames))
    return {
        "frames": len(frames),
        "params": p.to_dict(),
        "hole_fraction": rate,
        "hole_fraction_per_frame": {
            "values": per_frame, "mean": float(np.mean(per_frame)), "median": float(np.median(per_frame)),
            "p10": float(np.percentile(per_frame, 10)), "p90": float(np.percentile(per_frame, 90))},
        "hole_components": {
            "per_100k_px_mean": float(np.mean(comps_per_100k)), "count": int(len(areas)),
            "median_px": float(np.median(areas)) if len(areas) else 0.0,
            "p90_px": float(np.percentile(areas, 90)) if len(areas) else 0.0,
            "pixel_weighted_median_area_fraction": (float(np.exp(np.interp(0.5, qs, log_area_q)))
                                                    if log_area_q else None),
            "log_area_fraction_quantiles": log_area_q},
        "edge_enrichment": enrichment,
        "hole_pixels_near_rgb_edge": near_share,
        "flying_pixels": {"edge_zone_valid_pixels": zone, "count": flying,
                          "fraction": flying / zone if zone else None},
        "holes_next_to_dark": mask_enrichment("dark_pixels", "dark_holes"),
        "holes_next_to_saturated": mask_enrichment("saturated_pixels", "saturated_holes"),
        "depth_noise": noise,
    }


def _w1(a: list[float], b: list[float]) -> float:
    """1-D Wasserstein distance between two samples (via quantile functions)."""
    qs = np.linspace(0.0, 1.0, 201)
    return float(np.mean(np.abs(np.quantile(a, qs) - np.quantile(b, qs))))


def _log_ratio(a, b, eps: float = 0.0) -> float | None:
    if a is None or b is None:
        return None
    if a + eps <= 0 or b + eps <= 0:
        return None
    return float(abs(np.log((a + eps) / (b + eps))))


def noise_term(sim: dict, real: dict, min_patches: int = 5) -> float | None:
    """|ln ratio| of the depth noise over the range both sets cover: per 0.25 m bin with at least
    ``min_patches`` planar patches in both, ln(sigma_sim / sigma_real) of the bin medians, averaged with
    the real patch counts as weights; without a common bin, the ratio of the overall k = sigma_z / z^2."""
    if sim.get("k_per_m") is None or real.get("k_per_m") is None:
        return None
    sb = {b["z_lo_m"]: b for b in sim["bins"] if b["patches"] >= min_patches}
    logs, wts = [], []
    for b in real["bins"]:
        o = sb.get(b["z_lo_m"])
        if o is None or b["patches"] < min_patches or o["sigma_median_mm"] <= 0 or b["sigma_median_mm"] <= 0:
            continue
        logs.append(np.log(o["sigma_median_mm"] / b["sigma_median_mm"]))
        wts.append(b["patches"])
    if logs:
        return float(abs(np.average(logs, weights=wts)))
    return _log_ratio(sim["k_per_m"], real["k_per_m"])


def distance(sim: dict, real: dict, weights: dict[str, float] | None = None) -> dict:
    """{"total", "terms": {name: value or None}, "weights", "missing": [...]} between two summaries."""
    w = dict(DEFAULT_WEIGHTS, **(weights or {}))
    t: dict[str, float | None] = {}
    t["hole_fraction"] = _w1(np.log(np.array(sim["hole_fraction_per_frame"]["values"]) + 0.01),
                             np.log(np.array(real["hole_fraction_per_frame"]["values"]) + 0.01))
    qa = sim["hole_components"]["log_area_fraction_quantiles"]
    qb = real["hole_components"]["log_area_fraction_quantiles"]
    t["hole_sizes"] = float(np.mean(np.abs(np.array(qa) - np.array(qb)))) if qa and qb else None
    t["hole_count"] = _log_ratio(sim["hole_components"]["per_100k_px_mean"],
                                 real["hole_components"]["per_100k_px_mean"], 1.0)
    t["edge_enrichment"] = _log_ratio(sim["edge_enrichment"], real["edge_enrichment"])
    t["flying_pixels"] = _log_ratio(sim["flying_pixels"]["fraction"], real["flying_pixels"]["fraction"], 0.01)
    t["dark_holes"] = _log_ratio(sim["holes_next_to_dark"]["enrichment"],
                                 real["holes_next_to_dark"]["enrichment"], 0.05)
    t["saturated_holes"] = _log_ratio(sim["holes_next_to_saturated"]["enrichment"],
                                      real["holes_next_to_saturated"]["enrichment"], 0.05)
    t["depth_noise"] = noise_term(sim["depth_noise"], real["depth_noise"])
    total = sum(w[k] * v for k, v in t.items() if v is not None)
    return {"total": float(total), "terms": t, "weights": {k: w[k] for k in t},
            "missing": [k for k, v in t.items() if v is None]}


def summary_rows(s: dict) -> dict[str, float | None]:
    """The headline figures of a summary (for tables)."""
    return {
        "frames": s["frames"],
        "hole fraction (all pixels)": s["hole_fraction"],
        "hole fraction per frame, p10": s["hole_fraction_per_frame"]["p10"],
        "hole fraction per frame, median": s["hole_fraction_per_frame"]["median"],
        "hole fraction per frame, p90": s["hole_fraction_per_frame"]["p90"],
        "hole components per 100k px": s["hole_components"]["per_100k_px_mean"],
        "hole component median (px)": s["hole_components"]["median_px"],
        "hole-pixel-weighted median component (area fraction)":
            s["hole_components"]["pixel_weighted_median_area_fraction"],
        "edge enrichment of holes": s["edge_enrichment"],
        "flying pixels (of depth-edge zone)": s["flying_pixels"]["fraction"],
        "hole enrichment next to dark RGB": s["holes_next_to_dark"]["enrichment"],
        "hole enrichment next to saturated RGB": s["holes_next_to_saturated"]["enrichment"],
        "planar patches": s["depth_noise"]["planar_patches"],
        "depth noise k = sigma_z/z^2 (1/m)": s["depth_noise"]["k_per_m"],
    }
