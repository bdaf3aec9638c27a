"""``cli.py verify`` and ``cli.py preview``: dataset-level commands."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from synth.shards import DatasetError


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--no-samples", is_flag=True, help="Only check shard presence, sizes and sha256 (fast).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(directory: Path, no_samples: bool, as_json: bool) -> None:
    """Check DIRECTORY: every shard against manifest.json (presence, byte size, sha256) and every
    sample against the schema (fields, dtypes, shapes, finite non-negative GT depth, unique keys).

    Prints each problem with its shard and sample key; exits 1 if there is any problem.
    """
    from synth.verify import format_report, report_json, verify_dataset

    report = verify_dataset(directory, check_samples=not no_samples, progress=sys.stderr.isatty())
    click.echo(report_json(report) if as_json else format_report(report))
    if not report.ok:
        sys.exit(1)


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Contact sheet PNG to write.")
@click.option("--n", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Number of samples (spread evenly over the dataset).")
@click.option("--ply", type=click.Path(path_type=Path), default=None,
              help="Also write a coloured point cloud (.ply, RGB camera frame, metres) per sample here.")
def preview(directory: Path, out: Path, n: int, ply: Path | None) -> None:
    """Contact sheet of samples in DIRECTORY: RGB, IR left/right, GT depth and sensor depth on one
    shared colour scale (metres) with a colour bar, hole mask, and |sensor - GT| error map."""
    from synth.preview import contact_sheet, pick_samples, write_point_clouds

    try:
        samples = pick_samples(directory, n)
        click.echo(f"wrote {contact_sheet(samples, out)} ({len(samples)} samples)")
        if ply is not None:
            paths = write_point_clouds(samples, ply)
            click.echo(f"wrote {len(paths)} point clouds to {ply}")
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
