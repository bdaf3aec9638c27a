"""``cli.py status``: where a render job stands."""
from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(directory: Path, as_json: bool) -> None:
    """Units done / running / failed / left, samples written, throughput (samples/hour) and ETA of the
    render job in DIRECTORY (shared by every machine of a farm), and each failed unit with its reason."""
    import dataclasses
    import json

    from synth.farm import format_status, job_status
    from synth.render import RenderInputError

    try:
        st = job_status(directory)
    except RenderInputError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(dataclasses.asdict(st), indent=1) if as_json else format_status(directory, st))
