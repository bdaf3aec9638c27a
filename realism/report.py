"""Build the realism report of a sensor dataset: ``realism.json``, PNG plots and ``report.md``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lbd.errors import UserError
from lbd.real_frames import GT_NAME
from realism import plots
from realism.causes import CAUSES, SensorRange
from realism.metrics import NEEDED_FIELDS, RealismAccumulator, Thresholds
from realism.real import real_statistics
from synth.shards import DatasetError, atomic_write_bytes, atomic_write_json, open_dataset

SGM_HINT = "python cli.py sgm --in {src} --out SENSOR_DIR"
PRESETS_JSON = Path(__file__).resolve().parent.parent / "sgm" / "presets.json"
RANGE_KEYS = {
    "z_min_m": ("z_min_m", "z_min", "min_depth_m", "min_depth"),
    "z_max_m": ("z_max_m", "z_max", "max_depth_m", "max_depth"),
    "d_count_px": ("num_disparities", "num_disp", "disparities", "max_disparity", "max_disp", "d_max"),
    "d_min_px": ("min_disparity", "min_disp", "disparity_shift", "d_min"),
    "left_band": ("invalid_left_band", "left_band"),
}


class RealismError(UserError, ValueError):
    """Input the report cannot use (no sensor depth, no GT, no readable real frames); names it."""


@dataclass(frozen=True)
class ReportFiles:
    json: Path
    markdown: Path
    plots: tuple[Path, ...]


# ---------------------------------------------------------------- sensor range from the SGM config


def _flatten(config, out: dict) -> dict:
    """All (key, scalar) pairs of a nested config; the shallowest occurrence of a key wins."""
    if isinstance(config, dict):
        nested = []
        for k, v in config.items():
            if isinstance(v, (dict, list)):
                nested.append(v)
            else:
                out.setdefault(k, v)
        for v in nested:
            _flatten(v, out)
    elif isinstance(config, list):
        for v in config:
            _flatten(v, out)
    return out


def sensor_range_from_config(config: dict, overrides: dict | None = None) -> SensorRange:
    """The SGM depth range and disparity window recorded in a sensor dataset's config.

    Looks for the keys in ``RANGE_KEYS`` anywhere in the config; if the config names a preset
    (``"preset": "d435"``) found in ``sgm/presets.json``, that preset's values fill what the config
    lacks. ``overrides`` (e.g. from the command line) win over both.
    """
    flat = _flatten(config, {})
    preset = flat.get("preset")
    if isinstance(preset, str) and PRESETS_JSON.exists():
        try:
            presets = json.loads(PRESETS_JSON.read_text())
        except json.JSONDecodeError:
            presets = {}
        if isinstance(presets.get(preset), dict):
            for k, v in _flatten(presets[preset], {}).items():
                flat.setdefault(k, v)
    values: dict = {}
    for field, keys in RANGE_KEYS.items():
        for k in keys:
            if k in flat and flat[k] is not None and not isinstance(flat[k], str):
                values[field] = bool(flat[k]) if field == "left_band" else float(flat[k])
                break
    for k, v in (overrides or {}).items():
        if v is not None:
            values[k] = v
    return SensorRange(**values)


# ---------------------------------------------------------------- analysis


def analyse_dataset(root: Path, sensor_range: SensorRange | None = None, th: Thresholds = Thresholds(),
                    n_examples: int = 4, max_samples: int | None = None, progress: bool = True,
                    range_overrides: dict | None = None) -> RealismAccumulator:
    """Run every statistic over the samples of the sensor dataset ``root``.

    Raises RealismError naming the directory or sample for a dataset without sensor depth or GT.
    """
    from tqdm import tqdm

    root = Path(root)
    try:
        ds = open_dataset(root)
    except DatasetError as exc:
        raise RealismError(str(exc)) from None
    if ds.kind != "sensor":
        raise RealismError(f"{root} is a {ds.kind!r} dataset without sensor depth; add it with: "
                           + SGM_HINT.format(src=root))
    if len(ds) == 0:
        raise RealismError(f"{root} holds no samples")
    if sensor_range is None:
        sensor_range = sensor_range_from_config(ds.config, range_overrides)
    acc = RealismAccumulator(sensor_range, th, n_examples)
    total = len(ds) if max_samples is None else min(len(ds), max_samples)
    bar = tqdm(total=total, desc="realism", unit="sample", disable=not progress)
    try:
        for sample in ds.iter_samples(NEEDED_FIELDS):
            if acc.samples >= total:
                break
            if "sensor_depth_ir" not in sample:
                raise RealismError(f"{root}: sample {sample['__key__']} has no sensor depth "
                                   f"(sensor_depth_ir); make it with: " + SGM_HINT.format(src=root))
            try:
                acc.add(sample)
            except ValueError as exc:
                raise RealismError(f"{root}: {exc}") from None
            bar.update(1)
    except DatasetError as exc:
        raise RealismError(str(exc)) from None
    finally:
        bar.close()
    if acc.overall.gt == 0:
        raise RealismError(f"{root}: no GT depth (depth_ir > 0) in any of {acc.samples} samples; "
                           "the report needs GT")
    return acc


# ---------------------------------------------------------------- writing


def _fmt(x, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{digits}g}"


def _mm(x) -> str:
    return "–" if x is None else f"{x * 1000:.2f}"


def markdown(result: dict, plot_names: list[str]) -> str:
    """The human-readable report."""
    o, orgb = result["overall"], result["overall_rgb"]
    pr = result["per_range"]
    lines = [
        "# Sensor realism report", "",
        f"Dataset `{result['dataset']}`: {result['samples']} samples. Command: `{result.get('command', '')}`.",
        "Analysis in the left IR frame (GT `depth_ir`, `material`, `ir_left`, `sensor_depth_ir`,",
        "`sensor_disparity`); `overall_rgb` compares `sensor_depth` with `depth_rgb`. Holes and wrong",
        "pixels are fractions of GT pixels (GT depth > 0); wrong = valid but off GT by more than "
        f"{result['thresholds']['wrong_rel']:.0%}; RMSE/MAE over all valid pixels.", "",
        f"Sensor range: `{json.dumps(result['sensor_range'])}`; fx·b (px·m): "
        f"`{json.dumps(result['rig']['fx_b_px_m'])}`.", "",
        "## Overall", "",
        "| frame | GT pixels | hole fraction | wrong fraction | wrong of valid | RMSE (m) | MAE (m) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, d in (("left IR", o), ("RGB", orgb)):
        lines.append(f"| {name} | {_fmt(d['pixels'])} | {_fmt(d['hole_fraction'])} | {_fmt(d['wrong_fraction'])} "
                     f"| {_fmt(d['wrong_of_valid'])} | {_fmt(d['rmse_m'])} | {_fmt(d['mae_m'])} |")
    lines += ["", "## Per material (left IR)", "",
              "| class | pixels | hole fraction | wrong fraction | RMSE (m) |", "|---|---|---|---|---|"]
    for name, d in result["per_material"].items():
        lines.append(f"| {name} | {_fmt(d['pixels'])} | {_fmt(d['hole_fraction'])} | "
                     f"{_fmt(d['wrong_fraction'])} | {_fmt(d['rmse_m'])} |")
    lines += ["", "Per material over matchable pixels only (in range, lit by the projector, seen by the right "
              "camera, outside the left band):", "",
              "| class | pixels | hole fraction | wrong fraction | RMSE (m) |", "|---|---|---|---|---|"]
    for name, d in result["per_material_matchable"].items():
        lines.append(f"| {name} | {_fmt(d['pixels'])} | {_fmt(d['hole_fraction'])} | "
                     f"{_fmt(d['wrong_fraction'])} | {_fmt(d['rmse_m'])} |")
    lines += ["", "## Per range", "",
              f"Fitted σd = **{_fmt(pr['sigma_d_px'])} px** (least squares on relative residuals over "
              f"{pr['fit_bins']} bins: MAD-based depth-error std against z²/(fx·b), pixels with a disparity "
              f"error above {result['thresholds']['noise_outlier_px']} px left out); σd from all disparity "
              f"errors directly = {_fmt(pr['sigma_d_px_direct'])} px; error std grows as "
              f"z^**{_fmt(pr['z_exponent'], 3)}** (theory: 2).", "",
              "| z bin (m) | GT pixels | hole fraction | wrong fraction | error std (mm) | theory σz (mm) "
              "| bias (mm) | disp. err std (px) |",
              "|---|---|---|---|---|---|---|---|"]
    for b in pr["bins"]:
        lines.append(f"| {b['z_lo_m']:.2f}–{b['z_hi_m']:.2f} | {_fmt(b['gt_pixels'])} | {_fmt(b['hole_fraction'])} "
                     f"| {_fmt(b['wrong_fraction'])} | {_mm(b['error_std_m'])} | {_mm(b['theory_std_m'])} "
                     f"| {_mm(b['error_bias_m'])} | {_fmt(b['disparity_error_std_px'])} |")
    hc = result["hole_causes"]
    lines += ["", "## Hole causes (left IR, first that applies, in this order)", "",
              "| cause | hole pixels | fraction of holes |", "|---|---|---|"]
    for c in CAUSES:
        lines.append(f"| {c} | {_fmt(hc['pixels'][c])} | {_fmt(hc['fraction_of_holes'][c])} |")
    sh = result["projector_shadow"]
    lines += ["", "Cause tests: out_of_range = GT z outside the SGM range; projector_shadow = the projector's ray",
              "to the GT point is blocked (z-buffer of the GT points from the projector pose); occlusion = not",
              "visible from the right IR camera (z-buffer) or match outside the right image; left_band = the",
              "SGM's invalid left band; specular_transparent = glossy/metal/mirror/glass; low_texture = local IR",
              "std below the threshold; unexplained = none of these.", "",
              "## Projector shadow", "",
              f"- GT pixels in projector shadow: {_fmt(sh['shadow_gt_pixels'])}, of which holes: "
              f"{_fmt(sh['shadow_hole_fraction'])}.",
              f"- Shadow-caused holes whose nearest foreground (along the row) lies towards the projector, "
              f"i.e. the hole is on the side of the foreground away from the projector: "
              f"{_fmt(sh['foreground_towards_projector'])}; foreground only on the other side: "
              f"{_fmt(sh['foreground_away_from_projector_only'])}.",
              f"- Hole fraction of background pixels within {result['thresholds']['band_px']} px of a "
              f"foreground edge: away from the projector {_fmt(sh['edge_bands']['away_side']['hole_fraction'])}, "
              f"on the projector side {_fmt(sh['edge_bands']['projector_side']['hole_fraction'])}.", ""]
    fp = result["flying_pixels"]
    hs = result["hole_sizes"]
    lines += ["## Flying pixels and hole sizes", "",
              f"- Flying pixels: {_fmt(fp['count'])} = {_fmt(fp['fraction_of_edge_zone'])} of the valid pixels "
              f"near GT depth edges ({_fmt(fp['edge_zone_valid_pixels'])}), {_fmt(fp['fraction_of_valid'])} "
              "of all valid pixels.",
              f"- Hole components (8-connected, left IR): {_fmt(hs['components'])}; median "
              f"{_fmt(hs['median_px'])} px, mean {_fmt(hs['mean_px'])} px, p90 {_fmt(hs['p90_px'])} px, "
              f"largest {_fmt(hs['largest_px'])} px.", ""]
    sim, real = result["gt_free"]["sim"], result["gt_free"].get("real")
    lines += ["## Simulated vs real (statistics that need no GT)", ""]
    if real is None:
        lines += ["No real captures given (`--real DIR`); simulated figures only.", ""]
    lines += ["| statistic | sim (RGB frame) | real |", "|---|---|---|"]

    def row(label, fn):
        vals = [fn(x) if x is not None else None for x in (sim, real)]
        lines.append(f"| {label} | {_fmt(vals[0])} | {_fmt(vals[1])} |")

    row("frames", lambda d: d["frames"])
    row("hole fraction (all pixels)", lambda d: d["hole_fraction"])
    row("hole fraction per frame, median", lambda d: d["hole_fraction_per_frame"]["median"])
    row("hole components", lambda d: d["hole_sizes"]["components"])
    row("hole component median (px)", lambda d: d["hole_sizes"]["median_px"])
    row("hole pixels near an RGB edge", lambda d: d["holes_on_rgb_edges"]["hole_pixels_near_edge"])
    row("all pixels near an RGB edge", lambda d: d["holes_on_rgb_edges"]["all_pixels_near_edge"])
    row("edge enrichment of holes", lambda d: d["holes_on_rgb_edges"]["enrichment"])
    ss, rs = (sim or {}).get("statistics"), (real or {}).get("statistics")
    if ss is not None or rs is not None:
        from realism.gtfree import summary_rows
        lines += ["", "### More GT-free statistics (working grid: longer side <= 640 px; see realism/gtfree.py)", "",
                  "| statistic | sim (RGB frame) | real |", "|---|---|---|"]
        a, b = (summary_rows(ss) if ss else {}), (summary_rows(rs) if rs else {})
        for k in (a or b):
            lines.append(f"| {k} | {_fmt(a.get(k))} | {_fmt(b.get(k))} |")
    dist = result["gt_free"].get("distance")
    if dist is not None:
        lines += ["", f"**Distance sim -> real: {dist['total']:.3f}** (sum of weighted terms, |ln ratio| each; "
                  "1.0 = a factor e apart; `cli.py calibrate` minimises it)", "",
                  "| term | weight | value |", "|---|---|---|"]
        lines += [f"| {k} | {dist['weights'][k]:g} | {_fmt(v)} |" for k, v in dist["terms"].items()]
    lines += _border_lines(result.get("hole_borders", {}).get("sim"), (real or {}).get("hole_borders"))
    if real is not None and real.get("skipped"):
        lines += ["", f"Skipped real files ({len(real['skipped'])}): " + "; ".join(real["skipped"][:5])]
    lines += ["", "## Figures", ""] + [f"![{p}]({p})" for p in plot_names] + [""]
    return "\n".join(lines)


def _border_lines(sim: dict | None, real: dict | None) -> list[str]:
    """Markdown of :mod:`realism.borders` (sim: RGB frame against GT; real: the frames with a GT file)."""
    if sim is None and real is None:
        return []
    ref = sim or real
    lines = ["", "### Measured depth next to holes (against GT; see realism/borders.py)", "",
             f"Share of valid pixels more than {ref['wrong_rel']:g} (relative) off GT, by distance to the nearest "
             "hole; islands = valid components of at most "
             f"{ref['island_max_px']} px. Real: frames with `{GT_NAME}` only"
             + ("" if real is not None else " (none given)") + ".", "",
             "| valid pixels | sim (RGB frame) | real |", "|---|---|---|"]

    def cell(d: dict | None, key: str, i: int | None = None):
        if d is None:
            return None
        return d[key][i] if i is not None else d[key]

    lines.append(f"| frames | {_fmt(cell(sim, 'frames'))} | {_fmt(cell(real, 'frames'))} |")
    for i, label in enumerate(ref["bins_px"]):
        lines.append(f"| {label} px from a hole | {_fmt(cell(sim, 'wrong_share', i))} | "
                     f"{_fmt(cell(real, 'wrong_share', i))} |")
    lines.append(f"| next to a hole (<= {ref['near_px']:g} px) | {_fmt(cell(sim, 'wrong_share_near'))} | "
                 f"{_fmt(cell(real, 'wrong_share_near'))} |")
    lines.append(f"| farther | {_fmt(cell(sim, 'wrong_share_far'))} | {_fmt(cell(real, 'wrong_share_far'))} |")
    lines.append(f"| islands: share of valid pixels | {_fmt(cell(sim, 'island_share_of_valid'))} | "
                 f"{_fmt(cell(real, 'island_share_of_valid'))} |")
    lines.append(f"| islands: wrong share | {_fmt(cell(sim, 'island_wrong_share'))} | "
                 f"{_fmt(cell(real, 'island_wrong_share'))} |")
    return lines


def write_report(acc: RealismAccumulator, out_dir: Path, dataset: Path, real: dict | None = None,
                 command: str = "") -> ReportFiles:
    """Write realism.json, the PNG plots and report.md into ``out_dir`` (each atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"dataset": str(dataset), "command": command} | acc.result()
    result["gt_free"]["real"] = real
    sim_stats = (result["gt_free"]["sim"] or {}).get("statistics")
    real_stats = (real or {}).get("statistics")
    if sim_stats is not None and real_stats is not None:
        from realism.gtfree import distance
        result["gt_free"]["distance"] = distance(sim_stats, real_stats)
    fx_b_med = result["rig"]["fx_b_px_m"]["median"]
    sim = result["gt_free"]["sim"]
    written = [
        plots.material_bars(result["per_material"], out_dir / "hole_fraction_per_material.png",
                            result["thresholds"]["wrong_rel"]),
        plots.error_vs_range(result["per_range"], fx_b_med, out_dir / "error_vs_range.png"),
        plots.hole_sizes(result["hole_sizes"], sim, real, out_dir / "hole_sizes.png"),
        plots.cause_bars(result["hole_causes"], out_dir / "hole_causes.png"),
        plots.example_frames(acc.examples, out_dir / "example_frames.png"),
    ]
    if sim is not None or real is not None:
        written.append(plots.depth_histogram(sim, real, out_dir / "depth_histogram.png"))
        written.append(plots.holes_on_edges(sim, real, out_dir / "holes_on_edges.png"))
        written.append(plots.noise_vs_range(sim, real, out_dir / "noise_vs_range_no_gt.png"))
    names = [p.name for p in written]
    result["plots"] = names
    atomic_write_json(out_dir / "realism.json", result)
    md = out_dir / "report.md"
    atomic_write_bytes(md, markdown(result, names).encode())
    return ReportFiles(out_dir / "realism.json", md, tuple(written))


def build_report(dataset: Path, out_dir: Path, real_dir: Path | None = None, *,
                 th: Thresholds = Thresholds(), n_examples: int = 4, max_samples: int | None = None,
                 range_overrides: dict | None = None, real_depth_unit_m: float = 0.001,
                 progress: bool = True, command: str = "", real_frames: tuple[str, ...] = ()) -> ReportFiles:
    """Analyse ``dataset`` (and the real captures in ``real_dir``) and write the report to ``out_dir``.

    Inputs are all checked before anything is written. Raises RealismError with a clear message.
    """
    real = None
    if real_dir is not None:  # fail on a bad real folder before the (long) dataset pass
        try:
            from realism.real import find_real_frames
            find_real_frames(real_dir)
        except ValueError as exc:
            raise RealismError(str(exc)) from None
    acc = analyse_dataset(dataset, None, th, n_examples, max_samples, progress, range_overrides)
    if real_dir is not None:
        try:
            real, _ = real_statistics(real_dir, acc.gt_free.depth_edges_m, th.edge_radius_px,
                                      real_depth_unit_m, progress, frames_glob=real_frames)
        except ValueError as exc:
            raise RealismError(str(exc)) from None
    return write_report(acc, out_dir, dataset, real, command)
