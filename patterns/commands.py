"""``cli.py patterns``: write one projector dot pattern as a PNG."""
from __future__ import annotations

from pathlib import Path

import click

from lbd.errors import OutputError, UsageError, check_writable_file
from lbd.files import write_outputs


@click.command()
@click.option("--kind", type=click.Choice(["uniform", "blue_noise", "d4xx"]), default="d4xx",
              show_default=True, help="Dot layout: uniform random, Poisson-disk blue noise, or D4xx-like clusters.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed (same seed -> same pattern).")
@click.option("--height", type=click.IntRange(8, 8192), default=720, show_default=True, help="Pattern height, projector pixels.")
@click.option("--width", type=click.IntRange(8, 8192), default=960, show_default=True, help="Pattern width, projector pixels.")
@click.option("--density", type=click.FloatRange(min=0, max=250, min_open=True), default=None,
              help="Dots per 1000 projector pixels  [default: 5000-15000 dots over the pattern, log-uniform, saturating below 250]")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="PNG file to write (8-bit grey).")
def patterns(kind: str, seed: int, height: int, width: int, density: float | None, out: Path) -> None:
    """Write a projector dot pattern (8-bit grey PNG) and print its dot count."""
    import dataclasses

    import cv2
    import numpy as np

    from patterns.generators import generate, sample_params

    if out.suffix.lower() != ".png":
        raise click.BadParameter(f"{out}: the pattern is written as PNG; give a .png file name", param_hint="--out")
    check_writable_file(out, "--out")  # before the (up to minutes of) generation
    rng = np.random.default_rng(seed)
    params = sample_params(rng, kind, height, width)
    if density is not None:
        params = dataclasses.replace(params, density=density)
    try:
        pattern = generate(params, rng)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    img = np.clip(pattern.image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise OutputError(f"--out {out}: could not encode the PNG")
    write_outputs([(out, "--out", buf.tobytes())])
    click.echo(f"wrote {out}: {kind}, {len(pattern.points)} dots, {height}x{width} px, seed {seed}")
