"""Figures of the realism report (matplotlib, Agg backend); each function writes one PNG atomically."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from realism.causes import CAUSE_CODE, CAUSES  # noqa: E402
from realism.metrics import ExampleFrame  # noqa: E402
from synth.shards import atomic_write_bytes  # noqa: E402

CAUSE_COLOURS: dict[str, tuple[float, float, float]] = {
    "out_of_range": (0.55, 0.35, 0.75),
    "projector_shadow": (0.95, 0.15, 0.10),
    "occlusion": (1.00, 0.65, 0.00),
    "left_band": (0.60, 0.45, 0.30),
    "specular_transparent": (0.10, 0.60, 0.95),
    "low_texture": (0.20, 0.80, 0.30),
    "unexplained": (1.00, 0.00, 1.00),
}
SIM_COLOUR, REAL_COLOUR = "tab:blue", "tab:red"


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def material_bars(per_material: dict, path: Path, wrong_rel: float = 0.05) -> Path:
    """Stacked bars per material class: hole fraction, then wrong fraction; pixel counts on top."""
    names = list(per_material)
    hole = np.array([per_material[n]["hole_fraction"] if per_material[n]["pixels"] else 0.0 for n in names])
    wrong = np.array([per_material[n]["wrong_fraction"] if per_material[n]["pixels"] else 0.0 for n in names])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(x, hole, 0.6, label="hole fraction", color="tab:gray")
    ax.bar(x, wrong, 0.6, bottom=hole, label=f"wrong fraction (> {wrong_rel:.0%} off GT)", color="tab:orange")
    for xi, n in zip(x, names):
        ax.text(xi, hole[xi] + wrong[xi] + 0.02, f"{per_material[n]['pixels']:,} px",
                ha="center", fontsize=7, rotation=90)
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.3)
    ax.set_ylabel("fraction of GT pixels")
    ax.set_title("Sensor failure per material class (left IR frame)")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def error_vs_range(per_range: dict, fx_b_median: float, path: Path) -> Path:
    """Error std per GT-depth bin against sigma_z = z^2 sigma_d / (fx b), and hole fraction per bin."""
    bins = per_range["bins"]
    sigma_d = per_range.get("sigma_d_px")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    used = [b for b in bins if b["error_std_m"] is not None]
    if used:
        z = np.array([b["z_mean_m"] for b in used])
        s = np.array([b["error_std_m"] for b in used])
        ax.loglog(z, s * 1000, "o", color=SIM_COLOUR, label="measured (MAD std), per bin")
        if sigma_d is not None:
            th = np.array([b["theory_std_m"] for b in used])
            ax.loglog(z, th * 1000, "x", color="k", label="theory per bin (its rig mix)")
            zz = np.linspace(z.min() * 0.9, z.max() * 1.1, 100)
            ax.loglog(zz, zz ** 2 * sigma_d / fx_b_median * 1000, "-", color="k", alpha=0.5,
                      label=f"z² σd/(fx b), σd = {sigma_d:.3f} px, fx b = {fx_b_median:.1f} px·m")
    ax.set_xlabel("GT depth z (m)")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([0.25, 0.5, 1, 2, 3, 5, 10, 20]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylabel("depth error std (mm)")
    ax.set_title("Depth error vs range (valid pixels, gross outliers out)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    lo = [b["z_lo_m"] for b in bins]
    ax2.bar(lo, [b["hole_fraction"] for b in bins], width=per_range["bin_width_m"] * 0.9,
            align="edge", color="tab:gray")
    ax2.set_xlabel("GT depth z (m)")
    ax2.set_ylabel("hole fraction")
    ax2.set_ylim(0, 1)
    ax2.set_title("Hole fraction per depth bin")
    return _save(fig, path)


def _step(ax, edges, values, **kw):
    ax.stairs(values, edges, **kw)


def hole_sizes(sim_ir: dict, sim_gt_free: dict | None, real: dict | None, path: Path) -> Path:
    """Share of hole pixels per component size (component area / image area, log x), sim vs real."""
    fig, ax = plt.subplots(figsize=(7, 4))
    edges = np.array(sim_ir["hist_edges_area_fraction"])
    _step(ax, edges, sim_ir["hist_pixel_share"], color=SIM_COLOUR, ls="--",
          label=f"sim, left IR, GT pixels ({sim_ir['components']:,} components)")
    if sim_gt_free is not None:
        hs = sim_gt_free["hole_sizes"]
        _step(ax, edges, hs["hist_pixel_share"], color=SIM_COLOUR,
              label=f"sim, RGB frame, all holes ({hs['components']:,})")
    if real is not None:
        hs = real["hole_sizes"]
        _step(ax, edges, hs["hist_pixel_share"], color=REAL_COLOUR, lw=2,
              label=f"real ({hs['components']:,})")
    ax.set_xscale("log")
    ax.set_xlabel("hole component area / image area")
    ax.set_ylabel("share of hole pixels")
    ax.set_title("Hole sizes (8-connected components)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def depth_histogram(sim: dict | None, real: dict | None, path: Path) -> Path:
    """Density of valid sensor depths (m), sim vs real."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for stats, colour, label in ((sim, SIM_COLOUR, "sim (RGB frame)"), (real, REAL_COLOUR, "real")):
        if stats is None:
            continue
        hist = stats["depth_histogram"]
        _step(ax, np.array(hist["edges_m"]), hist["density_per_m"], color=colour, label=label)
    ax.set_xlabel("sensor depth (m)")
    ax.set_ylabel("density (1/m)")
    ax.set_title("Valid sensor depth distribution")
    ax.legend(fontsize=8)
    return _save(fig, path)


def holes_on_edges(sim: dict | None, real: dict | None, path: Path) -> Path:
    """Bars: hole fraction, hole pixels near an RGB edge, all pixels near an RGB edge; sim vs real."""
    labels = ["hole fraction", "hole px near RGB edge", "all px near RGB edge"]
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(labels))
    for k, (stats, colour, name) in enumerate(((sim, SIM_COLOUR, "sim"), (real, REAL_COLOUR, "real"))):
        if stats is None:
            continue
        e = stats["holes_on_rgb_edges"]
        vals = [stats["hole_fraction"], e["hole_pixels_near_edge"] or 0.0, e["all_pixels_near_edge"] or 0.0]
        ax.bar(x + (k - 0.5) * 0.4, vals, 0.4, color=colour, label=name)
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction")
    ax.set_title("Holes and RGB edges (Canny, dilated)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def cause_bars(hole_causes: dict, path: Path) -> Path:
    """Share of holes per cause (priority order)."""
    fracs = [hole_causes["fraction_of_holes"][c] or 0.0 for c in CAUSES]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar(range(len(CAUSES)), fracs, color=[CAUSE_COLOURS[c] for c in CAUSES])
    ax.set_xticks(range(len(CAUSES)), [c.replace("_", "\n") for c in CAUSES], fontsize=8)
    ax.set_ylabel("fraction of holes")
    ax.set_title(f"Hole causes ({hole_causes['holes']:,} hole pixels, priority left to right)")
    return _save(fig, path)


def cause_overlay(ex: ExampleFrame) -> np.ndarray:
    """HxWx3 float image: left IR in grey, hole pixels coloured by cause."""
    ir = ex.ir.astype(np.float64)
    ir = ir / max(float(np.percentile(ir, 99.5)), 1e-6)
    out = np.repeat(np.clip(ir, 0, 1)[..., None], 3, axis=2) * 0.8
    for name in CAUSES:
        out[ex.cause == CAUSE_CODE[name]] = CAUSE_COLOURS[name]
    return out


def example_frames(examples: list[ExampleFrame], path: Path) -> Path:
    """One row per example: IR with holes coloured by cause, GT depth, sensor depth (same scale)."""
    n = max(len(examples), 1)
    fig, axes = plt.subplots(n, 3, figsize=(11, 2.9 * n + 0.8), squeeze=False)
    for r, ex in enumerate(examples):
        gt_ok = ex.gt[ex.gt > 0]
        vmin, vmax = (np.percentile(gt_ok, [1, 99]) if gt_ok.size else (0.0, 1.0))
        vmax = max(vmax, vmin + 1e-3)
        axes[r, 0].imshow(cause_overlay(ex), interpolation="nearest")
        axes[r, 0].set_title(f"{ex.key}: holes by cause", fontsize=8)
        im = axes[r, 1].imshow(np.where(ex.gt > 0, ex.gt, np.nan), cmap="turbo", vmin=vmin, vmax=vmax,
                               interpolation="nearest")
        axes[r, 1].set_title("GT depth (m)", fontsize=8)
        axes[r, 2].imshow(np.where(ex.sensor > 0, ex.sensor, np.nan), cmap="turbo", vmin=vmin, vmax=vmax,
                          interpolation="nearest")
        axes[r, 2].set_title("sensor depth (m), holes white", fontsize=8)
        fig.colorbar(im, ax=axes[r, 1:].tolist(), fraction=0.03, pad=0.01)
    for ax in axes.ravel():
        ax.axis("off")
    fig.legend(handles=[Patch(color=CAUSE_COLOURS[c], label=c) for c in CAUSES], loc="lower center",
               ncol=4, fontsize=8, frameon=False)
    return _save(fig, path)


def noise_vs_range(sim: dict | None, real: dict | None, path: Path) -> Path:
    """GT-free depth noise (RANSAC plane fits) per 0.25 m bin, sim vs real."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for stats, colour, label in ((sim, SIM_COLOUR, "sim (RGB frame)"), (real, REAL_COLOUR, "real")):
        st = (stats or {}).get("statistics")
        if not st:
            continue
        bins = [b for b in st["depth_noise"]["bins"] if b["patches"] >= 5]
        if bins:
            ax.plot([b["z_median_m"] for b in bins], [b["sigma_median_mm"] for b in bins], "o-", color=colour,
                    label=f"{label}: {st['depth_noise']['planar_patches']} planar patches")
    if ax.lines and all((np.asarray(line.get_ydata()) > 0).all() for line in ax.lines):
        ax.set_yscale("log")
    if ax.lines:
        ax.legend(fontsize=8)
    ax.set_xlabel("depth z (m)")
    ax.set_ylabel("plane-fit depth noise (mm)")
    ax.set_title("Depth noise against range from plane fits (no GT)")
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)
