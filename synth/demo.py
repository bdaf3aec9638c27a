"""``cli.py demo``: the whole pipeline, small, on embedded defaults (what ``make demo`` runs).

Each stage runs as its own ``python cli.py ...`` process, exactly as a user would type it, so the
demo also shows the commands to copy.
"""
from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent


def demo_stages(out: Path, scenes: int, samples: int, steps: int, device: str) -> list[tuple[str, list[str]]]:
    """(name, argv) of every stage; paths inside ``out``. The model is evaluated on views of other scenes
    (another seed) than it trained on."""
    raw, sensor, run, ev = out / "raw", out / "sensor", out / "run", out / "eval"
    test_raw, test = out / "test_raw", out / "test_sensor"
    return [
        ("scenes", ["scenes", "--scenes", str(scenes), "--out", str(out / "scenes"), "--thumbnails"]),
        ("render", ["render", "--scenes", str(scenes), "--samples", str(samples), "--out", str(raw),
                    "--quality", "preview", "--scale", "0.5", "--device", device]),
        ("sgm", ["sgm", "--in", str(raw), "--out", str(sensor), "--preset", "d435"]),
        ("verify", ["verify", str(sensor)]),
        ("preview", ["preview", str(sensor), "--out", str(out / "contact_sheet.png"), "--n", "6",
                     "--ply", str(out / "ply")]),
        ("realism", ["realism", str(sensor), "--out", str(out / "realism")]),
        ("train", ["train", "--data", str(sensor), "--out", str(run), "--model", "tiny", "--steps", str(steps),
                   "--threads", "1", "--device", device]),
        ("render unseen", ["render", "--scenes", "2", "--samples", "4", "--seed", "1001", "--out", str(test_raw),
                           "--quality", "preview", "--scale", "0.5", "--device", device]),
        ("sgm unseen", ["sgm", "--in", str(test_raw), "--out", str(test), "--preset", "d435"]),
        ("eval", ["eval", "--ckpt", str(run / "last.pt"), "--data", str(test), "--out", str(ev),
                  "--device", device]),
    ]


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo_out"), show_default=True,
              help="Directory for every output of the demo.")
@click.option("--scenes", default=3, show_default=True, type=click.IntRange(1), help="Scenes to render.")
@click.option("--samples", default=12, show_default=True, type=click.IntRange(1), help="Samples in total.")
@click.option("--steps", default=150, show_default=True, type=click.IntRange(1), help="Training steps.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (render and train).")
def demo(out: Path, scenes: int, samples: int, steps: int, device: str) -> None:
    """Render a few samples, run SGM, verify, preview, measure realism, train a tiny model for a few
    steps and evaluate it on views of scenes it did not see (another seed); every stage's command is printed so it can be rerun by hand. Resumable:
    stages that finished are skipped by the commands themselves on a rerun."""
    out.mkdir(parents=True, exist_ok=True)
    timings = []
    for name, args in demo_stages(out, scenes, samples, steps, device):
        argv = [sys.executable, str(ROOT / "cli.py"), *args]
        click.secho(f"\n== {name}: python cli.py {shlex.join(args)}", bold=True)
        t0 = time.perf_counter()
        if subprocess.run(argv, cwd=ROOT).returncode != 0:
            raise click.ClickException(f"demo stage {name!r} failed (command above); outputs so far in {out}")
        timings.append((name, time.perf_counter() - t0))
    click.secho("\n== demo finished", bold=True)
    for name, sec in timings:
        click.echo(f"{name:>13}: {sec:7.1f} s")
    click.echo(f"        total: {sum(s for _, s in timings):7.1f} s\nlook at: {out / 'contact_sheet.png'}, "
               f"{out / 'scenes'}, {out / 'realism' / 'report.md'}, {out / 'eval' / 'metrics.md'}")
