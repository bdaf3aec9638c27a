"""Figures of the calibration report (matplotlib, Agg): real vs simulated before/after calibration."""
from __future__ import annotations

import numpy as np

from realism.plots import REAL_COLOUR, SIM_COLOUR, _save, plt

AFTER_COLOUR = "tab:green"


def terms(before: dict, after: dict, path):
    """Per-statistic distance terms before and after calibration."""
    names = list(before["terms"])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(9, 4))
    for k, (d, colour, label) in enumerate(((before, SIM_COLOUR, f"base ({before['total']:.2f})"),
                                            (after, AFTER_COLOUR, f"calibrated ({after['total']:.2f})"))):
        vals = [d["terms"][n] if d["terms"][n] is not None else 0.0 for n in names]
        ax.bar(x + (k - 0.5) * 0.4, vals, 0.4, color=colour, label=label)
    ax.set_xticks(x, [n.replace("_", "\n") for n in names], fontsize=8)
    ax.set_ylabel("|ln ratio| to the real frames")
    ax.set_title("Distance terms to the real frames (lower is closer)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def holes(real: dict, before: dict, after: dict, path):
    """Per-frame hole fractions (strip plot) and where hole pixels sit by component size."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    sets = ((real, REAL_COLOUR, "real"), (before, SIM_COLOUR, "sim, base"), (after, AFTER_COLOUR, "sim, calibrated"))
    for i, (s, colour, label) in enumerate(sets):
        v = np.array(s["hole_fraction_per_frame"]["values"])
        ax.scatter(np.full(len(v), i) + np.linspace(-0.15, 0.15, len(v)), v, color=colour, s=14)
        ax.hlines(np.median(v), i - 0.25, i + 0.25, color=colour)
        q = s["hole_components"]["log_area_fraction_quantiles"]
        if q:
            ax2.plot(np.exp(q), np.linspace(0.005, 0.995, len(q)), color=colour, label=label)
    ax.set_xticks(range(3), [s[2] for s in sets])
    ax.set_ylabel("hole fraction per frame")
    ax.set_title("Hole fraction per frame (line = median)")
    ax2.set_xscale("log")
    ax2.set_xlabel("hole component area / image area")
    ax2.set_ylabel("cumulative share of hole pixels")
    ax2.set_title("Hole pixels by the size of their component")
    ax2.legend(fontsize=8)
    return _save(fig, path)


def noise(real: dict, before: dict, after: dict, path):
    """Plane-fit depth noise (median per 0.25 m bin) against range."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for s, colour, label in ((real, REAL_COLOUR, "real"), (before, SIM_COLOUR, "sim, base"),
                             (after, AFTER_COLOUR, "sim, calibrated")):
        bins = [b for b in s["depth_noise"]["bins"] if b["patches"] >= 5]
        if bins:
            ax.plot([b["z_median_m"] for b in bins], [b["sigma_median_mm"] for b in bins], "o-", color=colour,
                    label=f"{label} ({s['depth_noise']['planar_patches']} planar patches)")
    ax.set_xlabel("depth z (m)")
    ax.set_ylabel("plane-fit depth noise σz (mm)")
    if ax.lines and all((np.asarray(line.get_ydata()) > 0).all() for line in ax.lines):
        ax.set_yscale("log")
    if ax.lines:
        ax.legend(fontsize=8)
    ax.set_title("Depth noise against range (RANSAC planes, no GT)")
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def examples(ex: dict, path):
    """Depth maps: real frames, simulated views with the base and the calibrated preset (holes black)."""
    rows = [("real", ex.get("real", [])), ("sim, base", ex.get("before", [])), ("sim, calibrated", ex.get("after", []))]
    cols = max(1, max(len(r[1]) for r in rows))
    fig, axes = plt.subplots(3, cols, figsize=(4.2 * cols, 9), squeeze=False)
    cmap = plt.get_cmap("turbo").with_extremes(bad="black")
    for r, (label, items) in enumerate(rows):
        for c in range(cols):
            a = axes[r, c]
            a.axis("off")
            if c >= len(items):
                continue
            name, z = items[c]
            ok = z[z > 0]
            lo, hi = (np.percentile(ok, [2, 98]) if ok.size else (0, 1))
            a.imshow(np.where(z > 0, z, np.nan), cmap=cmap, vmin=lo, vmax=max(hi, lo + 1e-3), interpolation="nearest")
            a.set_title(f"{label}: {name} ({(z <= 0).mean():.0%} holes)", fontsize=8)
    return _save(fig, path)
