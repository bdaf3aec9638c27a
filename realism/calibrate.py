"""``cli.py calibrate``: fit a sensor preset to a folder of real captures of one camera, without GT.

The distance is :func:`realism.gtfree.distance` between the GT-free statistics of the real frames and of
the simulated sensor depth of rendered views (registered to the RGB camera, as the real frames are). The
search is a coordinate descent on a grid of knobs, within ``--minutes``:

* post-processing stages after SGM (sgm/postprocess.py): disparity noise, decimation, the RealSense
  spatial filter (alpha, hole filling radius), edge invalidation, hole dilation, hole filling mode. They
  are cheap: the SGM disparities of the current matcher knobs are cached.
* matcher knobs (each try re-runs SGM on every view): second-peak ``uniqueness_pct``, ``texture_count``,
  ``lr_tolerance_32``, ``speckle_size``.

IR noise lives in the renderer and needs a re-render; it is not searched. Bad input is refused with one
line naming the folder or option: fewer than two real frames, frames of different sizes or depth units,
no planar region in any real frame (no depth noise to fit), fewer than MIN_VIEWS raw views. Fewer than
THIN_VIEWS views is a warning (the fit may follow a few scenes).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import shlex
import sys
import time
from pathlib import Path

import click
import numpy as np

from lbd.errors import UsageError, UserError

# sleeping (not spinning) OpenMP workers, as `cli.py sgm`: torch's small ops collapse otherwise on shared cores
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

MIN_VIEWS = 6
THIN_VIEWS = 24
MIN_REAL_FRAMES = 2

MATCHER_GRID: dict[str, list] = {
    "uniqueness_pct": [0, 4, 8, 12, 16, 24, 32],
    "texture_count": [0, 2, 4, 8, 12, 16],
    "lr_tolerance_32": [8, 12, 16, 24, 32],
    "speckle_size": [0, 50, 100, 200, 400],
}
# post-processing knobs: value 0 / None = stage off
PP_GRID: dict[str, list] = {  # searched in this order
    "spatial_alpha": [None, 0.75, 0.5, 0.35],
    "edge_radius_px": [0, 1, 2, 3],
    "edge_jump_px": [0.5, 1.0, 2.0, 4.0],
    "dilation_radius_px": [0, 1, 2],
    "dilation_min_hole_px": [1, 4, 16, 64],
    "spatial_holes_fill": [0, 1, 2, 3, 4],
    "noise_sigma_px": [0.0, 0.03, 0.06, 0.1, 0.15, 0.25],
    "decimation": [1, 2, 3],
    "hole_filling": [None, "farest_from_around", "nearest_from_around"],
}
PP_START = {"noise_sigma_px": 0.0, "decimation": 1, "spatial_alpha": None, "spatial_holes_fill": 0,
            "edge_radius_px": 0, "edge_jump_px": 1.0, "dilation_radius_px": 0, "dilation_min_hole_px": 1,
            "hole_filling": None, "spatial_iterations": 2, "spatial_delta_px": 0.625}  # the last two: not searched


def pp_from_stages(stages) -> tuple[dict, list[dict]]:
    """Search knobs from a preset's post-processing stages (the start of the search), and the stages
    the knobs cannot express (kept as they are, after the searched ones)."""
    c, extra = dict(PP_START), []
    for st in stages:
        name = st["stage"]
        if name == "noise" and st.get("correlation_px", 0) == 0:
            c["noise_sigma_px"] = st["disparity_sigma_px"]
        elif name == "decimation":
            c["decimation"] = st["magnitude"]
        elif name == "spatial":
            c.update(spatial_alpha=st["alpha"], spatial_holes_fill=st["holes_fill"],
                     spatial_iterations=st["iterations"], spatial_delta_px=st["delta_px"])
        elif name == "edge_invalidation":
            c.update(edge_radius_px=st["radius_px"], edge_jump_px=st["jump_px"])
        elif name == "hole_dilation":
            c.update(dilation_radius_px=st["radius_px"], dilation_min_hole_px=st["min_hole_px"])
        elif name == "hole_filling":
            c["hole_filling"] = st["mode"]
        else:
            extra.append(dict(st))
    return c, extra


def grid_with(grid: dict[str, list], start: dict) -> dict[str, list]:
    """The grid with each start value inserted where it is missing (None first, numbers in order, then names)."""
    out = {}
    for k, values in grid.items():
        vals, x = list(values), start.get(k)
        if x is not None and x not in vals:
            if isinstance(x, str):
                vals.append(x)
            else:
                nums = sorted([v for v in vals if v is not None and not isinstance(v, str)] + [x])
                vals = [v for v in vals if v is None] + nums + [v for v in vals if isinstance(v, str)]
        out[k] = vals
    return out


class CalibrationError(UserError, ValueError):
    """Input the calibration refuses (names the folder or option)."""


def pp_stages(c: dict) -> list[dict]:
    """Post-processing stages (preset form) from the flat search knobs."""
    st: list[dict] = []
    if c["noise_sigma_px"] > 0:
        st.append({"stage": "noise", "disparity_sigma_px": c["noise_sigma_px"]})
    if c["decimation"] > 1:
        st.append({"stage": "decimation", "magnitude": c["decimation"]})
    if c["spatial_alpha"] is not None or c["spatial_holes_fill"] > 0:
        st.append({"stage": "spatial", "iterations": c.get("spatial_iterations", 2), "alpha": c["spatial_alpha"] or 1.0,
                   "delta_px": c.get("spatial_delta_px", 0.625), "holes_fill": c["spatial_holes_fill"]})
    if c["edge_radius_px"] > 0:
        st.append({"stage": "edge_invalidation", "jump_px": c["edge_jump_px"], "radius_px": c["edge_radius_px"]})
    if c["dilation_radius_px"] > 0:
        st.append({"stage": "hole_dilation", "radius_px": c["dilation_radius_px"],
                   "min_hole_px": c["dilation_min_hole_px"]})
    if c["hole_filling"]:
        st.append({"stage": "hole_filling", "mode": c["hole_filling"]})
    return st + [dict(x) for x in c.get("_extra", ())]


# ---------------------------------------------------------------- inputs


def load_real(real_dir: Path, frames_glob: tuple[str, ...], sensor: str | None, depth_scale: float):
    """The selected real frames, checked (count, one size, one depth unit)."""
    from lbd.real_frames import load_real_frames

    frames = load_real_frames(real_dir, depth_scale, require_intrinsics=False)
    if frames_glob:
        frames = [f for f in frames if any(fnmatch.fnmatch(f.name, g) for g in frames_glob)]
    if sensor:
        frames = [f for f in frames if sensor.lower() in f"{f.sensor} {f.sensor_type} {f.meta.get('sensor', '')}".lower()]
    sel = (f" (after --frames {' '.join(frames_glob)})" if frames_glob else "") + (f" (--sensor {sensor})" if sensor else "")
    if len(frames) < MIN_REAL_FRAMES:
        raise CalibrationError(f"--real {real_dir}: {len(frames)} frame(s){sel}; calibration needs at least "
                               f"{MIN_REAL_FRAMES} frames of the camera (one frame would be overfitted)")
    sizes = sorted({f.depth.shape for f in frames})
    if len(sizes) > 1:
        by = {s: [f.name for f in frames if f.depth.shape == s][:3] for s in sizes}
        desc = "; ".join(f"{s[1]}x{s[0]}: {', '.join(n)}" for s, n in by.items())
        raise CalibrationError(f"--real {real_dir}: frames of different sizes ({desc}); one camera mode per "
                               f"calibration: select frames of one size with --frames")
    scales = sorted({f.depth_scale for f in frames})
    if len(scales) > 1:
        raise CalibrationError(f"--real {real_dir}: frames in different depth units ({', '.join(f'{s:g}' for s in scales)} "
                               f"m/unit); select frames of one unit with --frames")
    return frames


def load_views(raw_dir: Path, max_views: int) -> list[dict]:
    """Up to ``max_views`` rendered views (evenly spread) with their IR pair, RGB and meta."""
    from synth.shards import DatasetError, open_dataset

    try:
        ds = open_dataset(raw_dir)
    except DatasetError as exc:
        raise CalibrationError(f"--raw {raw_dir}: {exc}") from None
    n = len(ds)
    if n < MIN_VIEWS:
        raise CalibrationError(f"--raw {raw_dir}: {n} view(s); calibration needs at least {MIN_VIEWS} rendered views "
                               f"(a few dozen recommended): render more with `python cli.py render`")
    want = set(np.unique(np.linspace(0, n - 1, min(n, max_views)).round().astype(int)).tolist())
    views = []
    try:
        for i, s in enumerate(ds.iter_samples(("ir_left", "ir_right", "rgb", "meta"))):
            if i in want:
                missing = [k for k in ("ir_left", "ir_right", "rgb", "meta") if k not in s]
                if missing:
                    raise CalibrationError(f"--raw {raw_dir}: sample {s.get('__key__')} lacks {missing}")
                views.append({k: s[k] for k in ("__key__", "ir_left", "ir_right", "rgb", "meta")})
    except DatasetError as exc:
        raise CalibrationError(f"--raw {raw_dir}: {exc}") from None
    return views


# ---------------------------------------------------------------- simulation and scoring


class Simulator:
    """SGM disparities per matcher setting (cached) -> post-processing -> RGB-frame depth -> statistics."""

    def __init__(self, views: list[dict], base, gp, backend: str = "torch"):
        self.views, self.base, self.gp, self.backend = views, base, gp, backend
        self.cache: dict[tuple, list[np.ndarray]] = {}
        self.evals = 0
        self.sgm_seconds = 0.0
        self.sgm_views = 0

    @property
    def sgm_per_view(self) -> float:
        return self.sgm_seconds / max(1, self.sgm_views)

    def params(self, matcher: dict, pp: dict):
        from sgm.presets import load_preset
        return load_preset(self.base, dict(matcher, postprocess=tuple(pp_stages(pp))))

    def disparities(self, params) -> list[np.ndarray]:
        """SGM disparities of every view for the matcher knobs of ``params`` (one setting cached)."""
        import sgm
        from sgm.dataset import max_disparity_for
        from sgm.inputs import ConstantImageError

        bare = dataclasses.replace(params, postprocess=(), name="-", description="-")
        key = json.dumps(dataclasses.asdict(bare), sort_keys=True, default=str)
        if key not in self.cache:
            t = time.time()
            out = []
            for v in self.views:
                D = max_disparity_for(v["meta"], bare, v["ir_left"].shape[1])
                try:
                    out.append(sgm.match(v["ir_left"], v["ir_right"], max_disparity=D, preset=bare,
                                         backend=self.backend))
                except ConstantImageError:
                    out.append(np.zeros(v["ir_left"].shape, np.float32))
            self.cache = {key: out}  # keep one setting: memory
            self.sgm_seconds += time.time() - t
            self.sgm_views += len(self.views)
        return self.cache[key]

    def depths(self, params) -> list[np.ndarray]:
        """RGB-frame sensor depth (m) of every view, as `cli.py sgm --preset` makes it (sgm/dataset.py)."""
        import torch

        from sgm.filters import quantise
        from sgm.postprocess import apply_postprocess
        from sgm.register import sensor_fields

        out = []
        for v, d in zip(self.views, self.disparities(params)):
            if params.postprocess:
                d = apply_postprocess(d, params.postprocess, key=v["__key__"])
                if params.subpixel_levels > 0:
                    d = quantise(torch.from_numpy(d), params.subpixel_levels).numpy()
            f = sensor_fields(d, v["meta"], v["rgb"].shape[:2], params.z_min_m, params.z_max_m, params.depth_unit_m)
            out.append(f["sensor_depth"].astype(np.float32) * np.float32(params.depth_unit_m))
        return out

    def summary(self, params) -> dict:
        from realism.gtfree import frame_stats, summarise

        self.evals += 1
        stats = [frame_stats(z, v["rgb"], self.gp, np.random.default_rng(i))
                 for i, (z, v) in enumerate(zip(self.depths(params), self.views))]
        return summarise(stats, self.gp)


def real_summary(frames, gp) -> dict:
    from realism.gtfree import frame_stats, summarise

    return summarise([frame_stats(f.depth, f.rgb, gp, np.random.default_rng(i)) for i, f in enumerate(frames)], gp)


def search(sim: Simulator, real: dict, base_matcher: dict, minutes: float, log, weights=None) -> dict:
    """Coordinate descent over PP_GRID (cheap) and MATCHER_GRID (re-runs SGM) until the deadline."""
    from realism.gtfree import distance

    deadline = time.time() + 60.0 * minutes
    matcher = dict(base_matcher)
    pp, extra = pp_from_stages(sim.base.postprocess)
    pp["_extra"] = tuple(extra)
    pp_grid = grid_with(PP_GRID, pp)
    matcher_grid = grid_with(MATCHER_GRID, matcher)
    before_summary = sim.summary(sim.base)  # the base preset exactly as `sgm --preset` runs it
    best = distance(before_summary, real, weights)
    first = {"summary": before_summary, "distance": best}
    history = [{"knob": "base preset", "value": sim.base.name, "total": best["total"], "accepted": True}]
    best_summary, best_params = before_summary, sim.base
    t_pp = None

    def attempt(m: dict, p: dict, knob: str, value) -> bool:
        nonlocal best, best_summary, best_params
        params = sim.params(m, p)
        s = sim.summary(params)
        d = distance(s, real, weights)
        ok = d["total"] < best["total"] - 1e-6
        history.append({"knob": knob, "value": value, "total": d["total"], "accepted": ok})
        if ok:
            best, best_summary, best_params = d, s, params
            log(f"  {knob} = {value}: distance {d['total']:.3f}")
        return ok

    def timed_out(estimate: float) -> bool:
        return time.time() + estimate > deadline

    rounds = 0
    while time.time() < deadline:
        rounds += 1
        improved = False
        for knob, values in pp_grid.items():
            i = values.index(pp[knob])
            for step in (1, -1):  # scan outwards from the current value while the distance falls
                moved = False
                j = i + step
                while 0 <= j < len(values) and not timed_out(t_pp or 0):
                    t0 = time.time()
                    trial = dict(pp, **{knob: values[j]})
                    ok = attempt(matcher, trial, knob, values[j])
                    t_pp = time.time() - t0
                    if not ok:
                        break
                    pp, improved, moved = trial, True, True
                    j += step
                if moved:
                    break
        for knob, values in matcher_grid.items():
            cur = matcher[knob]
            if cur not in values:  # e.g. a check that is off (None) in the base preset: not searched
                continue
            i = values.index(cur)
            for j in (i + 1, i - 1):
                if not 0 <= j < len(values) or values[j] == cur:
                    continue
                if timed_out((t_pp or 0) + sim.sgm_per_view * len(sim.views)):
                    break
                trial = dict(matcher, **{knob: values[j]})
                if attempt(trial, pp, knob, values[j]):
                    matcher, improved = trial, True
                    break
        if not improved:
            break
    pp.pop("_extra", None)
    return {"matcher": matcher, "pp": pp, "params": best_params, "before": first,
            "after": {"summary": best_summary, "distance": best},
            "history": history, "rounds": rounds, "evaluations": sim.evals}


# ---------------------------------------------------------------- outputs


def preset_document(params, result: dict, meta: dict) -> dict:
    """The preset file: every knob (sgm --preset FILE accepts it) plus a _calibration note."""
    values = dataclasses.asdict(params)
    values.pop("name")
    values["census_window"] = list(values["census_window"])
    values["postprocess"] = [dict(s) for s in values["postprocess"]]
    values["description"] = (f"calibrated by cli.py calibrate from {meta['base']} against {meta['real_frames']} "
                             f"real frames in {meta['real_dir']}")
    b, a = result["before"]["distance"], result["after"]["distance"]
    values["_calibration"] = dict(meta, distance_before=b["total"], distance_after=a["total"],
                                  terms_before=b["terms"], terms_after=a["terms"], matcher_knobs=result["matcher"])
    return values


def _fmt(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.4g}"


def write_report(report_dir: Path, real: dict, result: dict, meta: dict, examples: dict) -> list[Path]:
    from realism import calibrate_plots as P
    from realism.gtfree import summary_rows
    from synth.shards import atomic_write_bytes, atomic_write_json

    report_dir.mkdir(parents=True, exist_ok=True)
    before, after = result["before"], result["after"]
    plots = [P.terms(before["distance"], after["distance"], report_dir / "terms.png"),
             P.holes(real, before["summary"], after["summary"], report_dir / "holes.png"),
             P.noise(real, before["summary"], after["summary"], report_dir / "noise_vs_range.png"),
             P.examples(examples, report_dir / "examples.png")]
    doc = {"meta": meta, "real": real, "before": before, "after": after, "history": result["history"],
           "matcher": result["matcher"], "postprocess": list(result["params"].postprocess),
           "plots": [p.name for p in plots]}
    atomic_write_json(report_dir / "calibration.json", doc)
    rb, ra, rr = summary_rows(before["summary"]), summary_rows(after["summary"]), summary_rows(real)
    b, a = before["distance"], after["distance"]
    lines = ["# Sensor calibration report", "",
             f"Command: `{meta['command']}`", "",
             f"Real frames: {meta['real_frames']} from `{meta['real_dir']}` ({', '.join(meta['frame_names'])}); "
             f"rendered views: {meta['views']} from `{meta['raw_dir']}`; base preset `{meta['base']}`; "
             f"{result['evaluations']} evaluations in {meta['seconds']:.0f} s.", "",
             f"**Distance {b['total']:.3f} -> {a['total']:.3f}** ({a['total'] / max(b['total'], 1e-9):.0%} of the "
             f"base preset). Terms are |ln ratio| (1.0 = a factor e apart); see realism/gtfree.py.", "",
             "| term | weight | before | after |", "|---|---|---|---|"]
    for k in b["terms"]:
        lines.append(f"| {k} | {b['weights'][k]:g} | {_fmt(b['terms'][k])} | {_fmt(a['terms'][k])} |")
    lines += ["", "## Statistics side by side (no GT needed)", "",
              "| statistic | real | sim before | sim after |", "|---|---|---|---|"]
    for k in rr:
        lines.append(f"| {k} | {_fmt(rr[k])} | {_fmt(rb[k])} | {_fmt(ra[k])} |")
    lines += ["", "## Fitted knobs", "", f"- matcher: `{json.dumps(result['matcher'])}`",
              f"- post-processing: `{json.dumps(list(result['params'].postprocess))}`", "",
              "Caveat: the depth-noise term compares metric noise at equal range; when the rendered rig's f*b "
              f"(here {meta.get('sim_fx_b', '?')} px*m) differs from the camera's, the fitted disparity noise "
              "compensates for it. Hole statistics follow scene content as well as the camera: render scenes "
              "like the ones the camera sees.", "", "## Figures", ""]
    lines += [f"![{p.name}]({p.name})" for p in plots] + [""]
    md = report_dir / "report.md"
    atomic_write_bytes(md, "\n".join(lines).encode())
    return [report_dir / "calibration.json", md, *plots]


# ---------------------------------------------------------------- command


def _command_line(ctx: click.Context) -> str:
    parts = ["python", "cli.py", "calibrate"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value == param.default or value == ():
            continue
        for v in (value if isinstance(value, tuple) else (value,)):
            parts += [param.opts[0], str(v)]
    return " ".join(shlex.quote(p) for p in parts)


@click.command()
@click.option("--real", "real_dir", type=click.Path(path_type=Path), required=True,
              help="Folder of real frames of one camera: <frame>/rgb.*, <frame>/raw_depth.png (uint16), "
                   "optional index.json (the layout of ../shared/data/real_rgbd).")
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), required=True,
              help="Rendered (raw) dataset whose IR pairs the simulated sensor sees (a few dozen views).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Preset file to write (JSON); use it with `python cli.py sgm --preset FILE`.")
@click.option("--base", default="d435", show_default=True, help="Preset to start from (name or JSON file).")
@click.option("--frames", "frames_glob", multiple=True,
              help="Only real frames whose folder name matches this glob (repeatable), e.g. 'cleargrasp_d435_*'.")
@click.option("--sensor", default=None, help="Only real frames whose index.json sensor / sensor_type contains this.")
@click.option("--minutes", type=click.FloatRange(min=0.01, max=600), default=5.0, show_default=True,
              help="Search budget in minutes (wall clock, after the base evaluation).")
@click.option("--max-views", type=click.IntRange(min=MIN_VIEWS), default=24, show_default=True,
              help="Rendered views used (evenly spread over the dataset).")
@click.option("--depth-scale", type=float, default=0.001, show_default=True,
              help="Metres per unit of the real raw_depth.png (index.json depth_scale wins).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder [default: next to --out, <stem>_report].")
def calibrate(real_dir: Path, raw_dir: Path, out_path: Path, base: str, frames_glob: tuple[str, ...],
              sensor: str | None, minutes: float, max_views: int, depth_scale: float, report_dir: Path | None) -> None:
    """Fit a sensor preset to real captures of your camera (no GT needed): search matcher thresholds,
    post-processing stages and disparity noise so that the simulated sensor's GT-free statistics
    (holes, hole sizes, edge enrichment, flying pixels, holes next to dark/saturated RGB, plane-fit
    depth noise) match the real frames; write the preset and a before/after report."""
    from lbd.errors import check_writable_dir, check_writable_file
    from realism.gtfree import GtFreeParams
    from sgm.presets import load_preset

    t_start = time.time()
    command = _command_line(click.get_current_context())
    if out_path.suffix.lower() != ".json":
        raise UsageError(f"--out {out_path}: the preset file must end in .json")
    try:
        base_params = load_preset(base)
    except ValueError as exc:
        raise UsageError(f"--base {base}: {exc}") from None
    report_dir = report_dir or out_path.with_name(out_path.stem + "_report")
    check_writable_file(out_path, "--out")
    check_writable_dir(report_dir, "--report")
    gp = GtFreeParams()
    frames = load_real(real_dir, frames_glob, sensor, depth_scale)
    click.echo(f"real: {len(frames)} frames ({', '.join(f.name for f in frames)}), "
               f"{frames[0].depth.shape[1]}x{frames[0].depth.shape[0]}", err=True)
    real = real_summary(frames, gp)
    if real["depth_noise"]["planar_patches"] == 0:
        raise CalibrationError(f"--real {real_dir}: no planar region found in any frame (RANSAC plane fits on "
                               f"{gp.patch_px}-px patches of the working grid); the depth noise cannot be fitted: "
                               f"add frames that see a wall, floor or table")
    views = load_views(raw_dir, max_views)
    if len(views) < THIN_VIEWS:
        click.echo(f"warning: --raw {raw_dir}: only {len(views)} views; the fit may follow these few scenes "
                   f"(a few dozen views recommended)", err=True)
    sim = Simulator(views, base_params, gp)
    base_matcher = {k: getattr(base_params, k) for k in MATCHER_GRID}

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    log(f"searching for {minutes:g} min over {len(views)} views ...")
    result = search(sim, real, base_matcher, minutes, log)
    best_params = result["params"]
    meta = {"command": command, "base": base_params.name, "real_dir": str(real_dir), "raw_dir": str(raw_dir),
            "real_frames": len(frames), "frame_names": [f.name for f in frames],
            "frame_size_wh": [int(frames[0].depth.shape[1]), int(frames[0].depth.shape[0])],
            "views": len(views), "minutes": minutes, "gtfree_params": gp.to_dict(),
            "sim_fx_b": round(float(np.median([np.asarray(v["meta"]["K_ir"])[0][0] * v["meta"]["baseline_m"]
                                               for v in views])), 2),
            "seconds": time.time() - t_start}
    doc = preset_document(dataclasses.replace(best_params, name=out_path.stem), result, meta)
    examples = {"real": [(f.name, f.depth) for f in frames[:2]],
                "before": [(v["__key__"], z) for v, z in zip(views[:2], sim.depths(base_params)[:2])],
                "after": [(v["__key__"], z) for v, z in zip(views[:2], sim.depths(best_params)[:2])]}
    from synth.shards import atomic_write_bytes
    atomic_write_bytes(out_path, (json.dumps(doc, indent=2) + "\n").encode())
    files = write_report(report_dir, real, result, meta, examples)
    load_preset(str(out_path))  # the file must load as a preset
    b, a = result["before"]["distance"]["total"], result["after"]["distance"]["total"]
    click.echo(f"distance {b:.3f} -> {a:.3f} ({a / max(b, 1e-9):.0%}); wrote {out_path} and {files[1]}")
    sys.stdout.flush()
