"""``cli.py scenes``: write scene descriptions (JSON), a summary, and optionally thumbnails."""
from __future__ import annotations

import json
from pathlib import Path

import click
from tqdm import tqdm

from lbd.errors import OutputError, check_writable_dir, os_error_message
from scenes.batch import SceneRequest, describe_many, format_summary, scene_filename, summarise, write_text_atomic
from scenes.layout import ROOM_TYPES


class ScenesFailed(click.ClickException):
    """Some scenes or files failed; the others were written and the failures listed."""

    exit_code = 1


@click.command("scenes")
@click.option("--scenes", "n_scenes", type=click.IntRange(min=0), default=442, show_default=True,
              help="Number of scenes to describe; scene ids run START..START+N-1.")
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True,
              help="First scene id (to split one run over several machines).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Run seed.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output directory: scene_XXXXXX.json per scene, summary.json, thumbnails/.")
@click.option("--room-type", "room_types", type=click.Choice(ROOM_TYPES), multiple=True,
              help="Only these room types (repeatable), cycling with the scene id.  [default: all types]")
@click.option("--clutter", type=click.IntRange(min=0), default=None,
              help="Exact number of clutter objects per scene (a scene fails if they do not fit).  "
                   "[default: a random count per room type]")
@click.option("--thumbnails/--no-thumbnails", default=False, show_default=True,
              help="Also render a small RGB image per scene (Cycles) and a grid of them.")
@click.option("--thumbnail-width", type=click.IntRange(16, 1920), default=160, show_default=True,
              help="Thumbnail width in pixels (height = 3/4 of it).")
@click.option("--thumbnail-samples", type=click.IntRange(1, 4096), default=16, show_default=True,
              help="Cycles samples per thumbnail (denoised).")
@click.option("--grid", "grid_n", type=click.IntRange(min=1), default=16, show_default=True,
              help="Number of thumbnails in thumbnails/grid.png.")
@click.option("--import", "imports", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="A scene file of your own (.blend .glb .gltf .obj .fbx) to import and check (repeatable).")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON file mapping material/object names (globs allowed) to material classes for --import.")
def scenes(n_scenes: int, start: int, seed: int, out_dir: Path, room_types: tuple[str, ...], clutter: int | None,
           thumbnails: bool, thumbnail_width: int, thumbnail_samples: int, grid_n: int, imports: tuple[Path, ...],
           mapping: Path | None) -> None:
    """Generate procedural indoor scene descriptions (and check user scene files).

    Writes OUT/scene_XXXXXX.json per scene and OUT/summary.json with, per material class and group,
    the number of scenes that contain it, and the room-type counts. Failed scenes or files do not
    stop the batch; they are listed at the end and the exit code is 1.
    """
    check_writable_dir(out_dir, "--out")
    requests = [SceneRequest(i, room_types[(i + seed) % len(room_types)] if room_types else None, clutter)
                for i in range(start, start + n_scenes)]

    def write(path: Path, text: str) -> None:
        """A full disk or lost permissions stop the batch (one line), instead of failing every scene."""
        try:
            write_text_atomic(path, text)
        except OSError as exc:
            reason = os_error_message(exc)
            if reason is None:
                raise
            raise OutputError(f"--out {out_dir}: cannot write {path.name} ({reason.split(': ', 1)[-1]})") from None

    def save(scene) -> None:
        write(out_dir / scene_filename(scene.scene_id), scene.to_json())

    with tqdm(total=len(requests), desc="describing scenes", unit="scene") as bar:
        result = describe_many(requests, seed, on_scene=save, progress=bar.update)
    failures: list[tuple[str, str]] = [(f"scene {sid}", msg) for sid, msg in result.failures]
    summary = summarise(result.scenes, n_scenes)
    summary["seed"] = seed
    summary["start"] = start

    if thumbnails and result.scenes:
        from synth.blender.thumbnail import render_scene_thumbnails  # imports bpy
        thumbs, thumb_failures = render_scene_thumbnails(result.scenes, out_dir / "thumbnails", seed,
                                                         thumbnail_width, thumbnail_samples, grid_n)
        summary["thumbnails"] = len(thumbs)
        failures += thumb_failures
    if imports:
        from synth.blender.thumbnail import check_user_scenes  # imports bpy
        users, user_failures = check_user_scenes(list(imports), mapping, out_dir / "thumbnails" if thumbnails else None,
                                                 seed, thumbnail_width, thumbnail_samples)
        summary["user_scenes"] = users
        failures += user_failures
    summary["failed"] = [{"what": what, "reason": reason} for what, reason in failures]
    write(out_dir / "summary.json", json.dumps(summary, indent=1) + "\n")

    click.echo(format_summary(summary))
    for user in summary.get("user_scenes", []):
        click.echo(f"user scene {user['file']}: {user['objects']} objects, classes {', '.join(user['classes'])}, "
                   f"room: {user.get('room')}, unit scale {user.get('unit_scale', 1.0):g}")
        for m in user.get("materials", []):
            click.echo(f"  material {m['material']!r} -> {m['class']} (IR {m['ir_reflectance']:.2f}): {m['reason']}")
        for w in user.get("warnings", []):
            click.echo(f"  warning: {w}")
    click.echo(f"wrote {len(result.scenes)} scene descriptions and summary.json to {out_dir}")
    if failures:
        click.echo(f"{len(failures)} failed:", err=True)
        for what, reason in failures:
            click.echo(f"  {what}: {reason}", err=True)
        raise ScenesFailed(f"{len(failures)} of {len(requests) + len(imports)} scenes/files failed (listed above)")
