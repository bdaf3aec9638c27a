#!/usr/bin/env python3
"""LingBot-Depth-S command line: ``python cli.py COMMAND --help``.

Each command is a thin click command living in its package; this group imports a command only when
it runs, so ``verify`` never loads Blender or torch.
"""
from __future__ import annotations

import importlib
import sys

import click

from lbd.errors import UserError, os_error_message

# name -> (module:attribute, one-line help shown by `cli.py --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "scenes": ("scenes.commands:scenes", "Generate procedural scene descriptions (JSON), thumbnails."),
    "patterns": ("patterns.commands:patterns", "Write a projector dot pattern as a PNG."),
    "render": ("synth.commands:render", "Render scenes through the active-stereo rig into raw shards."),
    "status": ("synth.farm_commands:status", "Where a render job stands: units done/running/failed/left."),
    "sgm": ("sgm.commands:sgm", "Add simulated sensor depth (SGM on the IR pair) to a dataset."),
    "sgm-pair": ("sgm.commands:sgm_pair", "Run SGM on one left/right image pair."),
    "verify": ("synth.dataset_commands:verify", "Check shards against their records and the schema; --repair."),
    "preview": ("synth.dataset_commands:preview", "Contact sheet (and point clouds) of samples."),
    "train": ("mdm.commands:train", "Train a Masked Depth Modeling model on shards."),
    "eval": ("mdm.commands:eval_cmd", "Evaluate a checkpoint against classical hole fills."),
    "complete": ("mdm.commands:complete", "Complete one RGB-D frame of your own with a checkpoint."),
    "realism": ("realism.commands:realism", "Measure how the simulated sensor fails (report + plots)."),
    "calibrate": ("realism.calibrate:calibrate", "Fit a sensor preset to real frames of your camera (no GT)."),
    "demo": ("synth.demo:demo", "Run the whole pipeline small: render, SGM, train, eval, previews."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, _ = COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise click.ClickException(f"command {name!r} is not available: {exc}") from None
        return getattr(module, attr)

    def invoke(self, ctx: click.Context):
        """Run the command; a :class:`lbd.errors.UserError` or a full disk / permission OSError becomes one
        line on stderr and its exit code (2 usage, 1 data/runtime). Anything else is a bug: traceback."""
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            message = os_error_message(exc)
            if message is None:
                raise
            click.echo(f"Error: {message}", err=True)
            sys.exit(1)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lingbot-depth-s")
def cli() -> None:
    """LingBot-Depth-S: synthetic active-stereo RGB-D data for Masked Depth Modeling.

    Typical run: scenes -> render -> sgm -> verify/preview -> train -> eval.
    """


if __name__ == "__main__":
    cli()
