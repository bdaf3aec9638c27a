"""``cli.py realism``: the sensor realism report of a sensor dataset (optionally against real captures)."""
from __future__ import annotations

import shlex
from pathlib import Path

import click

from lbd.errors import check_writable_dir

MAX_RANGE_BINS = 400  # each depth bin holds error histograms (~0.2 MB)


def _command_line(ctx: click.Context) -> str:
    """The command as typed, rebuilt from its parameters (options left at their default omitted)."""
    parts = ["python", "cli.py", "realism", str(ctx.params["directory"])]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name == "directory" or value is None or value == param.default or value == ():
            continue
        for v in (value if isinstance(value, tuple) else (value,)):
            parts += [param.opts[0], str(v)]
    return " ".join(shlex.quote(p) for p in parts)


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Report folder: realism.json, PNG plots and report.md are written here.")
@click.option("--real", "real_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of real RGB-D captures: per-frame folders <frame>/raw_depth.png + rgb.* (+ index.json, "
                   "the layout of ../shared/data/real_rgbd), or <name>.png (uint16 depth, 0 = hole) with "
                   "<name>_rgb.png, or depth/<name>.png with rgb/<name>.png. Compared with the simulation "
                   "(no GT needed).")
@click.option("--real-frames", "real_frames", multiple=True,
              help="Only real frames whose name matches this glob (repeatable), e.g. 'cleargrasp_d435_*'.")
@click.option("--real-depth-unit", type=click.FloatRange(min=0, min_open=True), default=0.001,
              show_default=True, help="Metres per unit of the real depth PNGs (0.001 = millimetres).")
@click.option("--max-samples", type=click.IntRange(min=1), default=None,
              help="Analyse only the first N samples [default: all].")
@click.option("--examples", type=click.IntRange(0, 16), default=4, show_default=True,
              help="Number of example frames with holes coloured by cause.")
@click.option("--wrong-rel", type=click.FloatRange(0, 1, min_open=True), default=0.05, show_default=True,
              help="A valid sensor pixel is wrong when off GT by more than this fraction of GT depth.")
@click.option("--bin-width", type=click.FloatRange(min=0, min_open=True), default=0.25, show_default=True,
              help="Width of the GT-depth bins of the per-range statistics (m).")
@click.option("--max-range", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Largest GT depth binned by the per-range statistics (m).")
@click.option("--z-min", type=click.FloatRange(min=0), default=None,
              help="Sensor minimum depth (m) for the out-of-range cause [default: from the SGM config].")
@click.option("--z-max", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Sensor maximum depth (m) for the out-of-range cause [default: from the SGM config].")
@click.option("--texture-std", type=click.FloatRange(min=0), default=0.02, show_default=True,
              help="Low-texture cause: local IR std (9x9 px window) below this fraction of the image's "
                   "99.5th-percentile brightness.")
def realism(directory: Path, out_dir: Path, real_dir: Path | None, real_frames: tuple[str, ...],
            real_depth_unit: float,
            max_samples: int | None, examples: int, wrong_rel: float, bin_width: float, max_range: float,
            z_min: float | None, z_max: float | None, texture_std: float) -> None:
    """Measure how the simulated sensor in the sensor dataset DIRECTORY fails, with the GT as
    reference: holes, wrong pixels and errors overall, per material class and per depth range (with
    the fitted stereo noise sigma_d), the cause of each hole, flying pixels and hole sizes; with
    --real, compare GT-free statistics with real captures. Writes OUT/realism.json, OUT/*.png and
    OUT/report.md."""
    from realism.causes import CauseParams
    from realism.metrics import Thresholds
    from realism.report import build_report

    if bin_width > max_range:
        raise click.BadParameter(f"--bin-width {bin_width} m is larger than --max-range {max_range} m",
                                 param_hint="--bin-width")
    if max_range / bin_width > MAX_RANGE_BINS:
        raise click.BadParameter(f"--max-range {max_range} m / --bin-width {bin_width} m gives more than "
                                 f"{MAX_RANGE_BINS} depth bins", param_hint="--bin-width")
    th = Thresholds(wrong_rel=wrong_rel, bin_width_m=bin_width, max_range_m=max_range,
                    causes=CauseParams(texture_std=texture_std))
    command = _command_line(click.get_current_context())
    existed = out_dir.exists()
    check_writable_dir(out_dir, "--out")  # before the (long) dataset pass
    try:  # RealismError, DatasetError (lbd.errors.UserError) and a full disk become one line in cli.py
        files = build_report(directory, out_dir, real_dir, th=th, n_examples=examples,
                             max_samples=max_samples, range_overrides={"z_min_m": z_min, "z_max_m": z_max},
                             real_depth_unit_m=real_depth_unit, progress=True, command=command,
                             real_frames=real_frames)
    except BaseException:
        if not existed:  # bad input: leave no trace (the folder we created is removed if still empty)
            try:
                out_dir.rmdir()
            except OSError:
                pass
        raise
    click.echo(f"wrote {files.json}, {files.markdown} and {len(files.plots)} plots to {out_dir}")
