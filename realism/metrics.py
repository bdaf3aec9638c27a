"""Sensor-vs-GT statistics of a sensor dataset, accumulated sample by sample.

Analysis frame: the rectified **left IR** camera (GT ``depth_ir``, ``material``, ``ir_left``,
``sensor_depth_ir``, ``sensor_disparity``); ``overall_rgb`` repeats the overall figures in the RGB
frame (``depth_rgb`` vs ``sensor_depth``). Depths in metres, disparities in pixels.

Definitions (GT pixel = GT depth > 0):

* ``hole_fraction`` = GT pixels with sensor depth 0 / GT pixels.
* ``wrong_fraction`` = GT pixels with valid sensor depth off GT by more than ``wrong_rel`` * GT /
  GT pixels (so holes + wrong + right = 1); ``wrong_of_valid`` divides by valid pixels instead.
* ``rmse_m``, ``mae_m``: over all valid pixels (wrong ones included).
* ``per_range``: GT-depth bins with hole and wrong fractions. Noise: error = sensor - GT over valid
  pixels whose disparity error is at most ``noise_outlier_px`` (gross outliers out; the 5 % depth
  test is not used here because at far range, where disparities are small, it would clip the noise
  itself), using the float ``sensor_disparity`` (z = fx*b/d) when present so the 1 mm storage step
  does not floor the noise. Spread = MAD-based std (1.4826 * MAD). Stereo theory:
  sigma_z = z^2 * sigma_d / (fx*b); per bin the theory scale is g = sqrt(mean((z^2/(fx*b))^2)) (the
  std of a mix of rigs), and sigma_d is fitted by least squares on relative residuals over the bins
  with at least ``min_bin_pixels`` (minimise sum((s - sigma_d*g)/g)^2, so sigma_d = mean(s/g)).
  ``sigma_d_px_direct`` is the MAD-based std of all disparity errors. ``z_exponent``: 2 + slope of
  log(std of the disparity error) against log z, i.e. the power p in error std ~ z^p, independent
  of how rigs mix over the bins.
* ``flying_pixels``: valid pixels within ``flying_radius_px`` of a GT depth discontinuity (local GT
  max/min ratio > 1 + ``edge_rel``) whose sensor depth lies between the near and far GT sides and is
  off both by more than ``wrong_rel``.
* ``per_material_matchable``: the same per class, only over pixels the geometry lets the sensor
  measure (in range, lit by the projector, seen by the right camera, outside the left band), so the
  material's own failure is not diluted by occlusions and the left band.
* ``hole_sizes``: 8-connected components of the hole mask (GT pixels with sensor 0).
* ``shadow_side``: for holes caused by projector shadow, where the nearer (foreground) surface is:
  towards the projector along the image row (the hole is on the side of the foreground away from the
  projector) or only on the other side; ``edge_bands``: hole fraction of background pixels within
  ``band_px`` of a foreground edge, on each side of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from realism import causes as C
from realism.borders import BorderStats
from realism.real import GtFreeStats, hole_component_areas, hole_size_summary
from synth.schema import MATERIAL_CLASSES

MATERIALS: tuple[str, ...] = tuple(MATERIAL_CLASSES[i] for i in range(1, 8))
MAD_TO_STD = 1.4826
ERR_HIST_BINS = 20000
ERR_HIST_REL = 0.5  # depth-error histograms span +-this * the bin's far edge (clipped beyond)
DISP_HIST_BINS = 2000


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of the report (relative = fraction of GT depth; px = left IR pixels)."""

    wrong_rel: float = 0.05
    edge_rel: float = 0.10
    flying_radius_px: int = 2
    bin_width_m: float = 0.25
    max_range_m: float = 10.0
    min_bin_pixels: int = 50
    noise_outlier_px: float = 1.0
    band_px: int = 3
    side_search_px: int = 64
    edge_radius_px: int = 3
    causes: C.CauseParams = field(default_factory=C.CauseParams)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "causes"}
        d["causes"] = dict(self.causes.__dict__)
        return d


# ---------------------------------------------------------------- one sample


@dataclass
class SampleArrays:
    """The arrays of one sensor sample that the report needs (left IR frame unless named _rgb)."""

    key: str
    gt: np.ndarray  # GT z, m
    sensor: np.ndarray  # sensor z from sensor_depth_ir, m, 0 = hole
    sensor_precise: np.ndarray  # sensor z from sensor_disparity when present, else = sensor
    material: np.ndarray
    ir_left: np.ndarray
    K: np.ndarray
    baseline_m: float
    T_ir_from_projector: np.ndarray | None
    d_count_px: float | None = None  # disparities the SGM searched (meta["sensor"]["max_disparity"])
    gt_rgb: np.ndarray | None = None
    sensor_rgb: np.ndarray | None = None
    rgb: np.ndarray | None = None

    @property
    def fx_b(self) -> float:
        return float(self.K[0, 0] * self.baseline_m)

    @property
    def projector_x_m(self) -> float:
        """Projector centre x in the left IR frame (m); > 0 = towards +u in the image."""
        if self.T_ir_from_projector is None:
            return 0.0
        return float(self.T_ir_from_projector[0, 3])


NEEDED_FIELDS = ("depth_ir", "sensor_depth_ir", "sensor_disparity", "material", "ir_left",
                 "depth_rgb", "sensor_depth", "rgb")


def sample_arrays(sample: dict) -> SampleArrays:
    """Extract a sensor sample; raises ValueError naming the sample and what is missing."""
    key = sample.get("__key__", "?")
    where = f"sample {key}" + (f" in {sample['__shard__']}" if "__shard__" in sample else "")
    if "depth_ir" not in sample:
        raise ValueError(f"{where} has no GT depth (field 'depth_ir'); the report needs GT")
    if "sensor_depth_ir" not in sample:
        raise ValueError(f"{where} has no sensor depth (field 'sensor_depth_ir')")
    for name in ("material", "ir_left", "meta"):
        if name not in sample:
            raise ValueError(f"{where} lacks field {name!r}")
    meta = sample["meta"]
    try:
        K = np.asarray(meta["K_ir"], np.float64)
        b = float(meta["baseline_m"])
    except KeyError as exc:
        raise ValueError(f"{where}: meta lacks {exc}") from None
    proj = meta.get("projector") or {}
    T_proj = proj.get("T_ir_from_projector")
    gt = sample["depth_ir"].astype(np.float64)
    sensor = sample["sensor_depth_ir"].astype(np.float64) / 1000.0
    precise = sensor
    if "sensor_disparity" in sample:
        d = sample["sensor_disparity"].astype(np.float64)
        with np.errstate(divide="ignore"):
            z = np.where(d > 0, K[0, 0] * b / np.where(d > 0, d, 1.0), 0.0)
        precise = np.where(sensor > 0, z, 0.0)
    sensor_rgb = sample["sensor_depth"].astype(np.float64) / 1000.0 if "sensor_depth" in sample else None
    return SampleArrays(
        key=key, gt=gt, sensor=sensor, sensor_precise=precise, material=sample["material"],
        ir_left=sample["ir_left"], K=K, baseline_m=b,
        T_ir_from_projector=None if T_proj is None else np.asarray(T_proj, np.float64),
        d_count_px=(meta.get("sensor") or {}).get("max_disparity"),
        gt_rgb=sample.get("depth_rgb"), sensor_rgb=sensor_rgb, rgb=sample.get("rgb"))


# ---------------------------------------------------------------- robust statistics from histograms


def hist_quantile(counts: np.ndarray, edges: np.ndarray, q: float) -> float:
    """Quantile ``q`` of histogrammed data, linear inside the bin."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    cum = np.cumsum(counts)
    target = q * total
    i = int(np.searchsorted(cum, target))
    i = min(i, len(counts) - 1)
    before = cum[i - 1] if i > 0 else 0
    frac = (target - before) / counts[i] if counts[i] else 0.5
    return float(edges[i] + frac * (edges[i + 1] - edges[i]))


def hist_mad_std(counts: np.ndarray, edges: np.ndarray) -> float:
    """1.4826 * median absolute deviation of histogrammed data (bin centres)."""
    if counts.sum() == 0:
        return float("nan")
    med = hist_quantile(counts, edges, 0.5)
    centres = 0.5 * (edges[:-1] + edges[1:])
    dev = np.abs(centres - med)
    order = np.argsort(dev)
    cum = np.cumsum(counts[order])
    i = int(np.searchsorted(cum, 0.5 * counts.sum()))
    half_bin = 0.5 * (edges[1] - edges[0])
    return MAD_TO_STD * max(float(dev[order][min(i, len(dev) - 1)]), half_bin / 2)


# ---------------------------------------------------------------- accumulators


@dataclass
class ErrorStats:
    """Hole / wrong / RMSE / MAE counters over GT pixels."""

    gt: int = 0
    holes: int = 0
    valid: int = 0
    wrong: int = 0
    sq: float = 0.0
    ab: float = 0.0

    def add(self, gt: np.ndarray, sensor: np.ndarray, wrong_rel: float, mask: np.ndarray | None = None):
        ok = gt > 0
        if mask is not None:
            ok &= mask
        g, s = gt[ok].astype(np.float64), sensor[ok].astype(np.float64)
        valid = s > 0
        err = s[valid] - g[valid]
        self.gt += int(ok.sum())
        self.holes += int((~valid).sum())
        self.valid += int(valid.sum())
        self.wrong += int((np.abs(err) > wrong_rel * g[valid]).sum())
        self.sq += float((err ** 2).sum())
        self.ab += float(np.abs(err).sum())

    def to_dict(self) -> dict:
        n = max(self.gt, 1)
        return {"pixels": self.gt, "valid_pixels": self.valid,
                "hole_fraction": self.holes / n, "wrong_fraction": self.wrong / n,
                "wrong_of_valid": self.wrong / self.valid if self.valid else None,
                "rmse_m": float(np.sqrt(self.sq / self.valid)) if self.valid else None,
                "mae_m": self.ab / self.valid if self.valid else None}

    def material_dict(self) -> dict:
        d = self.to_dict()
        return {k: d[k] for k in ("pixels", "hole_fraction", "wrong_fraction", "rmse_m")}


class RangeStats:
    """Per GT-depth bin: holes, wrong pixels, robust error spread (histograms), theory scale."""

    def __init__(self, th: Thresholds):
        self.th = th
        self.edges = np.arange(0.0, th.max_range_m + 0.5 * th.bin_width_m, th.bin_width_m)
        n = len(self.edges) - 1
        self.gt = np.zeros(n, np.int64)
        self.holes = np.zeros(n, np.int64)
        self.wrong = np.zeros(n, np.int64)
        self.used = np.zeros(n, np.int64)
        self.sum_z = np.zeros(n)
        self.sum_e = np.zeros(n)
        self.sum_g2 = np.zeros(n)
        self.err_hist = np.zeros((n, ERR_HIST_BINS), np.int64)
        self.disp_hist = np.zeros((n, DISP_HIST_BINS), np.int64)
        self.disp_edges = np.linspace(-th.noise_outlier_px, th.noise_outlier_px, DISP_HIST_BINS + 1)
        self.beyond = 0

    def err_edges(self, i: int) -> np.ndarray:
        lim = ERR_HIST_REL * self.edges[i + 1]
        return np.linspace(-lim, lim, ERR_HIST_BINS + 1)

    def add(self, s: SampleArrays) -> None:
        ok = s.gt > 0
        z = s.gt[ok].astype(np.float64)
        valid = s.sensor[ok] > 0
        wrong = valid & (np.abs(s.sensor[ok] - z) > self.th.wrong_rel * z)
        b = np.floor(z / self.th.bin_width_m).astype(np.int64)
        inside = b < len(self.gt)
        self.beyond += int((~inside).sum())
        n = len(self.gt)
        self.gt += np.bincount(b[inside], minlength=n)
        self.holes += np.bincount(b[inside & ~valid], minlength=n)
        self.wrong += np.bincount(b[inside & wrong], minlength=n)
        zs_all = s.sensor_precise[ok]
        use = inside & valid & (zs_all > 0)
        zu, bu, zs = z[use], b[use], zs_all[use].astype(np.float64)
        disp_err = s.fx_b / zs - s.fx_b / zu  # sensor - GT disparity, px
        keep = np.abs(disp_err) <= self.th.noise_outlier_px  # gross outliers out (bad-1 style)
        zu, bu, zs, disp_err = zu[keep], bu[keep], zs[keep], disp_err[keep]
        e = zs - zu
        g = zu ** 2 / s.fx_b
        self.used += np.bincount(bu, minlength=n)
        self.sum_z += np.bincount(bu, zu, minlength=n)
        self.sum_e += np.bincount(bu, e, minlength=n)
        self.sum_g2 += np.bincount(bu, g * g, minlength=n)
        for i in np.unique(bu):
            sel = bu == i
            edges = self.err_edges(i)
            self.err_hist[i] += np.histogram(np.clip(e[sel], edges[0], edges[-1]), edges)[0]
            self.disp_hist[i] += np.histogram(disp_err[sel], self.disp_edges)[0]

    def result(self) -> dict:
        bins, fit_s, fit_g, log_z, log_d = [], [], [], [], []
        for i in range(len(self.gt)):
            if self.gt[i] == 0:
                continue
            n = int(self.used[i])
            entry = {"z_lo_m": float(self.edges[i]), "z_hi_m": float(self.edges[i + 1]),
                     "gt_pixels": int(self.gt[i]), "hole_fraction": float(self.holes[i] / self.gt[i]),
                     "wrong_fraction": float(self.wrong[i] / self.gt[i]),
                     "error_pixels": n, "z_mean_m": None, "error_std_m": None, "error_bias_m": None,
                     "disparity_error_std_px": None, "theory_scale_m_per_px": None, "theory_std_m": None}
            if n > 0:
                entry["z_mean_m"] = float(self.sum_z[i] / n)
                entry["error_std_m"] = hist_mad_std(self.err_hist[i], self.err_edges(i))
                entry["error_bias_m"] = float(self.sum_e[i] / n)
                entry["disparity_error_std_px"] = hist_mad_std(self.disp_hist[i], self.disp_edges)
                entry["theory_scale_m_per_px"] = float(np.sqrt(self.sum_g2[i] / n))
                if n >= self.th.min_bin_pixels:
                    fit_s.append(entry["error_std_m"])
                    fit_g.append(entry["theory_scale_m_per_px"])
                    log_z.append(np.log(entry["z_mean_m"]))
                    log_d.append(np.log(max(entry["disparity_error_std_px"], 1e-9)))
            bins.append(entry)
        s, g = np.array(fit_s), np.array(fit_g)
        sigma_d = float(np.mean(s / g)) if len(s) else None  # least squares on relative residuals
        for entry in bins:
            if sigma_d is not None and entry["theory_scale_m_per_px"] is not None:
                entry["theory_std_m"] = sigma_d * entry["theory_scale_m_per_px"]
        exponent = None
        if len(log_z) >= 3 and np.ptp(log_z) > 0.2:
            exponent = 2.0 + float(np.polyfit(log_z, log_d, 1)[0])
        total_disp = self.disp_hist.sum(axis=0)
        return {"bin_width_m": self.th.bin_width_m, "bins": bins,
                "sigma_d_px": sigma_d, "fit_bins": int(len(s)),
                "sigma_d_px_direct": hist_mad_std(total_disp, self.disp_edges) if total_disp.sum() else None,
                "z_exponent": exponent, "gt_pixels_beyond_max_range": self.beyond}


def flying_pixels(gt: np.ndarray, sensor: np.ndarray, th: Thresholds) -> tuple[np.ndarray, np.ndarray]:
    """(edge_zone valid pixels, flying pixels) HxW bool masks, left IR frame."""
    size = 2 * th.flying_radius_px + 1
    ok = gt > 0
    near = ndimage.minimum_filter(np.where(ok, gt, np.inf), size=size, mode="nearest")
    far = ndimage.maximum_filter(np.where(ok, gt, 0.0), size=size, mode="nearest")
    zone = ok & np.isfinite(near) & (far > (1.0 + th.edge_rel) * near)
    valid = sensor > 0
    edge_valid = zone & valid
    w = th.wrong_rel
    flying = edge_valid & (sensor > near * (1 + w)) & (sensor < far * (1 - w))
    return edge_valid, flying


def _row_foreground(gt: np.ndarray, rows: np.ndarray, cols: np.ndarray, direction: int, reach: int,
                    rel: float) -> np.ndarray:
    """For pixels (rows, cols): distance (px) along the row in ``direction`` to the first pixel whose
    GT is nearer by more than ``rel``; 0 = none within ``reach``."""
    h, w = gt.shape
    z = gt[rows, cols]
    dist = np.zeros(len(rows), np.int64)
    for j in range(1, reach + 1):
        c = cols + direction * j
        inside = (c >= 0) & (c < w) & (dist == 0)
        if not inside.any():
            break
        zc = np.zeros(len(rows), gt.dtype)
        zc[inside] = gt[rows[inside], c[inside]]
        hit = inside & (zc > 0) & (zc < z * (1 - rel))
        dist[hit] = j
    return dist


class ShadowStats:
    """Where projector-shadow holes sit relative to foreground edges, and edge-band hole rates."""

    def __init__(self, th: Thresholds):
        self.th = th
        self.shadow_gt = 0
        self.shadow_holes = 0
        self.shadow_cause_holes = 0
        self.towards = 0  # nearest foreground along the row lies towards the projector
        self.away_only = 0  # foreground only on the side away from the projector
        self.neither = 0
        self.band = {"away_side": [0, 0], "projector_side": [0, 0]}  # [gt pixels, holes]

    def add(self, s: SampleArrays, maps: C.CauseMaps, hole: np.ndarray) -> None:
        direction = 1 if s.projector_x_m >= 0 else -1
        self.shadow_gt += int(maps.shadow.sum())
        self.shadow_holes += int((maps.shadow & hole).sum())
        rows, cols = np.nonzero(maps.cause == C.CAUSE_CODE["projector_shadow"])
        self.shadow_cause_holes += len(rows)
        if len(rows):
            toward = _row_foreground(s.gt, rows, cols, direction, self.th.side_search_px, self.th.edge_rel)
            away = _row_foreground(s.gt, rows, cols, -direction, self.th.side_search_px, self.th.edge_rel)
            first_toward = (toward > 0) & ((away == 0) | (toward <= away))
            self.towards += int(first_toward.sum())
            self.away_only += int(((away > 0) & ~first_toward).sum())
            self.neither += int(((toward == 0) & (away == 0)).sum())
        rows, cols = np.nonzero(s.gt > 0)
        toward = _row_foreground(s.gt, rows, cols, direction, self.th.band_px, self.th.edge_rel) > 0
        away = _row_foreground(s.gt, rows, cols, -direction, self.th.band_px, self.th.edge_rel) > 0
        h = hole[rows, cols]
        for name, sel in (("away_side", toward & ~away), ("projector_side", away & ~toward)):
            self.band[name][0] += int(sel.sum())
            self.band[name][1] += int((sel & h).sum())

    def result(self) -> dict:
        n = self.shadow_cause_holes
        return {
            "shadow_gt_pixels": self.shadow_gt,
            "shadow_hole_fraction": self.shadow_holes / self.shadow_gt if self.shadow_gt else None,
            "shadow_cause_holes": n,
            "foreground_towards_projector": self.towards / n if n else None,
            "foreground_away_from_projector_only": self.away_only / n if n else None,
            "no_foreground_within_search": self.neither / n if n else None,
            "edge_bands": {name: {"pixels": v[0], "hole_fraction": v[1] / v[0] if v[0] else None}
                           for name, v in self.band.items()},
        }


@dataclass
class ExampleFrame:
    """What the example-frame figure shows for one sample (left IR frame)."""

    key: str
    ir: np.ndarray
    cause: np.ndarray
    gt: np.ndarray
    sensor: np.ndarray


class RealismAccumulator:
    """All report statistics of a sensor dataset, fed one sample at a time."""

    def __init__(self, sensor_range: C.SensorRange, th: Thresholds = Thresholds(), n_examples: int = 4):
        self.range_info = sensor_range
        self.th = th
        self.n_examples = n_examples
        self.samples = 0
        self.overall = ErrorStats()
        self.overall_rgb = ErrorStats()
        self.rgb_samples = 0
        self.none_material_gt = 0
        self.per_material = {name: ErrorStats() for name in MATERIALS}
        self.per_material_matchable = {name: ErrorStats() for name in MATERIALS}
        self.ranges = RangeStats(th)
        self.cause_counts = np.zeros(len(C.CAUSES) + 1, np.int64)
        self.cause_by_material = np.zeros((len(C.CAUSES) + 1, 8), np.int64)
        self.edge_valid = 0
        self.flying = 0
        self.valid = 0
        self.hole_areas: list[np.ndarray] = []
        self.hole_area_fractions: list[np.ndarray] = []
        self.shadow = ShadowStats(th)
        self.gt_free = GtFreeStats(np.arange(0.0, th.max_range_m + 1e-9, 0.05), th.edge_radius_px)
        self.borders = BorderStats(th.wrong_rel)  # RGB frame, as aligned real depth
        self.examples: list[ExampleFrame] = []
        self.fx_b: list[float] = []
        self.projector_missing = 0

    def add(self, sample: dict) -> None:
        s = sample_arrays(sample)
        th = self.th
        self.samples += 1
        self.fx_b.append(s.fx_b)
        self.overall.add(s.gt, s.sensor, th.wrong_rel)
        for cid, name in enumerate(MATERIALS, start=1):
            self.per_material[name].add(s.gt, s.sensor, th.wrong_rel, s.material == cid)
        self.none_material_gt += int(((s.gt > 0) & (s.material == 0)).sum())
        if s.gt_rgb is not None and s.sensor_rgb is not None:
            self.rgb_samples += 1
            self.overall_rgb.add(s.gt_rgb, s.sensor_rgb, th.wrong_rel)
            self.gt_free.add(s.sensor_rgb, s.rgb, s.key)
            self.borders.add(s.sensor_rgb, s.gt_rgb)
        self.ranges.add(s)
        hole = (s.gt > 0) & (s.sensor <= 0)
        if s.T_ir_from_projector is None:
            self.projector_missing += 1
        maps = C.classify_holes(s.gt, hole, s.material, s.ir_left, s.K, s.baseline_m,
                                s.T_ir_from_projector, self.range_info, th.causes, s.d_count_px)
        for cid, name in enumerate(MATERIALS, start=1):
            self.per_material_matchable[name].add(s.gt, s.sensor, th.wrong_rel,
                                                  maps.matchable & (s.material == cid))
        self.cause_counts += np.bincount(maps.cause.ravel(), minlength=len(C.CAUSES) + 1)
        mat = np.clip(s.material, 0, 7).astype(np.int64)
        self.cause_by_material += np.bincount(
            (maps.cause.astype(np.int64) * 8 + mat).ravel(), minlength=(len(C.CAUSES) + 1) * 8
        ).reshape(len(C.CAUSES) + 1, 8)
        edge_valid, flying = flying_pixels(s.gt, s.sensor, th)
        self.edge_valid += int(edge_valid.sum())
        self.flying += int(flying.sum())
        self.valid += int(((s.gt > 0) & (s.sensor > 0)).sum())
        areas = hole_component_areas(hole)
        self.hole_areas.append(areas)
        self.hole_area_fractions.append(areas / hole.size)
        self.shadow.add(s, maps, hole)
        if len(self.examples) < self.n_examples:
            self.examples.append(ExampleFrame(s.key, s.ir_left, maps.cause, s.gt, s.sensor))

    def result(self) -> dict:
        holes = int(self.cause_counts[1:].sum())
        areas = np.concatenate(self.hole_areas) if self.hole_areas else np.zeros(0, np.int64)
        fracs = np.concatenate(self.hole_area_fractions) if self.hole_area_fractions else np.zeros(0)
        overall = self.overall.to_dict()
        overall["none_material_pixels"] = self.none_material_gt
        fx_b = np.array(self.fx_b) if self.fx_b else np.zeros(1)
        return {
            "samples": self.samples,
            "frames": {"analysis": "left IR", "overall_rgb": "RGB"},
            "thresholds": self.th.to_dict(),
            "sensor_range": self.range_info.to_dict(),
            "rig": {"fx_b_px_m": {"min": float(fx_b.min()), "median": float(np.median(fx_b)),
                                  "max": float(fx_b.max())}},
            "overall": overall,
            "overall_rgb": self.overall_rgb.to_dict() | {"samples": self.rgb_samples},
            "per_material": {name: st.material_dict() for name, st in self.per_material.items()},
            "per_material_matchable": {name: st.material_dict()
                                       for name, st in self.per_material_matchable.items()},
            "per_range": self.ranges.result(),
            "hole_causes": {
                "order": list(C.CAUSES),
                "holes": holes,
                "pixels": {name: int(self.cause_counts[C.CAUSE_CODE[name]]) for name in C.CAUSES},
                "fraction_of_holes": {name: (int(self.cause_counts[C.CAUSE_CODE[name]]) / holes
                                             if holes else None) for name in C.CAUSES},
                "by_material": {name: {MATERIAL_CLASSES[m]: int(self.cause_by_material[C.CAUSE_CODE[name], m])
                                       for m in range(8)} for name in C.CAUSES},
                "samples_without_projector_pose": self.projector_missing,
            },
            "projector_shadow": self.shadow.result(),
            "flying_pixels": {
                "edge_zone_valid_pixels": self.edge_valid, "count": self.flying,
                "fraction_of_edge_zone": self.flying / self.edge_valid if self.edge_valid else None,
                "fraction_of_valid": self.flying / self.valid if self.valid else None},
            "hole_sizes": hole_size_summary(areas, fracs),
            "gt_free": {"sim": self.gt_free.result() if self.rgb_samples else None},
            "hole_borders": {"sim": self.borders.result()},
        }
