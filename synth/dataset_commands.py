"""``cli.py verify`` and ``cli.py preview``: dataset-level commands."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--level", type=click.Choice(["structure", "checksums", "samples"]), default="samples",
              show_default=True,
              help="structure: records, shard presence and sizes, stray shards; checksums: + every byte "
                   "against its record's sha256; samples: + every sample decoded against the schema.")
@click.option("--no-samples", is_flag=True, help="Same as --level checksums.")
@click.option("--repair", is_flag=True,
              help="Also mend what can be: rebuild the index and manifest.json from the records, adopt or "
                   "quarantine stray shards, quarantine corrupt shards (a rerun redoes them), drop records "
                   "of missing shards, delete partial files of dead writers.")
@click.option("--strict", is_flag=True, help="Warnings (partial files, very young stray shards) count as problems.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(directory: Path, level: str, no_samples: bool, repair: bool, strict: bool, as_json: bool) -> None:
    """Check DIRECTORY: every shard against its record (presence, byte size, sha256 per sample and per
    shard), every sample against the schema (fields, dtypes, shapes, finite non-negative GT depth, unique
    keys), no stray shards; prints the WebDataset URL patterns of the dataset.

    Prints each problem with its shard and sample key; exits 1 if there is any problem.
    """
    from synth.verify import format_report, report_json, verify_dataset

    report = verify_dataset(directory, level="checksums" if no_samples else level, progress=sys.stderr.isatty(),
                            repair=repair, strict=strict)
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
    from lbd.errors import check_writable_dir, check_writable_file
    from synth.preview import contact_sheet, pick_samples, write_point_clouds

    check_writable_file(out, "--out")
    if ply is not None:
        check_writable_dir(ply, "--ply")
    samples = pick_samples(directory, n)
    click.echo(f"wrote {contact_sheet(samples, out)} ({len(samples)} samples)")
    if ply is not None:
        paths = write_point_clouds(samples, ply)
        click.echo(f"wrote {len(paths)} point clouds to {ply}")
