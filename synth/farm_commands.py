"""``cli.py status``: where a render job stands."""
from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(directory: Path, as_json: bool) -> None:
    """Units done / running / failed / left, samples written, throughput (samples/hour) and ETA of the
    render job in DIRECTORY (shared by every machine of a farm), each failed unit with its reason, and
    WebDataset URL patterns of the finished shards. Reads listings, not every record: seconds at 300k units."""
    import dataclasses
    import json

    from synth.status import format_status, job_status

    st = job_status(directory)  # a user error (no plan, corrupt plan) is one line via cli.py
    click.echo(json.dumps(dataclasses.asdict(st), indent=1) if as_json else format_status(directory, st))
