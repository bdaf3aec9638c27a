"""``cli.py render``: render scenes through the randomized active-stereo rig into raw shards."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from synth.plan import SCENE_SOURCES


@click.command()
@click.option("--scenes", "n_scenes", type=click.IntRange(0), default=None,
              help="Number of procedural scenes (ids 0..N-1: scenes.generate(id, seed)); required unless "
                   "--scenes-from is given (then default 0).")
@click.option("--scenes-from", "scenes_from", type=click.Path(path_type=Path), multiple=True,
              help="Render these scenes too (repeatable): a scene file of your own (.blend .glb .gltf .obj .fbx), "
                   "a scene JSON written by `cli.py scenes` (edited or not), or a folder of either (walked "
                   "recursively; its scene_*.json and scene files). Each gets a stable id from its content hash.")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON mapping material/object names (globs allowed) of the --scenes-from files to material "
                   "classes, e.g. {\"Glass*\": \"glass\", \"Floor\": {\"class\": \"textured\", \"ir_reflectance\": 0.4}}.")
@click.option("--unit-scale", type=float, default=None,
              help="Metres per unit of the --scenes-from files (0.001 for mm, 0.0254 for inches)  "
                   "[default: detect from the size: > 250 units -> mm, > 50 -> cm, < 0.05 -> x100]")
@click.option("--up-axis", type=click.Choice(["auto", "y", "z"]), default="auto", show_default=True,
              help="Up axis of --scenes-from OBJ files (auto = the OBJ convention, Y up; z for Z-up exports).")
@click.option("--samples", "samples_text", required=True,
              help="Total samples to render, spread evenly over the scenes; accepts 1000, 1,000, 250k, 10M.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output dataset directory (raw shards, records/, manifest.json).")
@click.option("--views-per-scene", "unit_views", type=click.IntRange(1), default=None,
              help="Views rendered per scene build (= per worker process and per shard); a scene's share "
                   "of --samples is split into chunks of this size  [default: min(32, ceil(samples/scenes))]")
@click.option("--quality", type=click.Choice(["preview", "default", "paper"]), default="default",
              show_default=True, help="Cycles preset (samples, bounces, denoiser): see synth/quality.py.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiplies every resolution (IR 720x960, RGB 960x1280) and the intrinsics; 0.25 for quick looks.")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed (same seed -> same samples).")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="Worker processes in parallel (one scene each); CPU threads are split between them.")
@click.option("--device", type=click.Choice(["cpu", "cuda", "optix", "hip"]), default="cpu", show_default=True,
              help="Cycles device; a GPU backend that finds no device is refused before rendering.")
@click.option("--baseline", type=(float, float), default=(0.05, 0.20), show_default=True,
              help="Stereo baseline range, metres (uniform).")
@click.option("--focal", type=(float, float), default=(16.0, 28.0), show_default=True,
              help="IR focal length range, mm on a 36 mm wide sensor (uniform).")
@click.option("--ir-size", type=(int, int), default=(720, 960), show_default=True,
              help="IR image size H W, pixels (before --scale).")
@click.option("--rgb-size", type=(int, int), default=(960, 1280), show_default=True,
              help="RGB image size H W, pixels (before --scale).")
@click.option("--ir-bit-depth", type=click.Choice(["8", "10", "random"]), default="random", show_default=True,
              help="IR sensor bit depth: 8 (uint8) or 10 (uint16), or random per sample.")
@click.option("--pattern", type=click.Choice(["random", "uniform", "blue_noise", "d4xx"]), default="random",
              show_default=True, help="Projector dot pattern kind (random = drawn per sample).")
@click.option("--scene-source", type=click.Choice(SCENE_SOURCES), default="procedural", show_default=True,
              hidden=True, help="procedural scenes, or an analytic test scene (tests, debugging).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--dry-run", is_flag=True,
              help="Print the plan (scenes, samples, units, CPU-hours, disk) and write only plan.json.")
@click.option("--calibrate", is_flag=True,
              help="With --dry-run: measure seconds per sample on this machine (renders 2 throw-away samples).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a process pool on this machine; ray: one Ray task per unit on a Ray cluster.")
@click.option("--address", default=None,
              help="Ray cluster address (host:port or ray://host:port); default: start a local cluster.")
@click.option("--array-index", type=int, default=None,
              help="Render only slice I of --array-size N of the plan (e.g. $SLURM_ARRAY_TASK_ID).")
@click.option("--array-size", type=int, default=None, help="Number of array slices N (e.g. the Slurm array size).")
@click.option("--retries", type=click.IntRange(0), default=1, show_default=True,
              help="Retries of a failed scene/unit before it is reported as failed.")
@click.option("--cpus-per-unit", type=click.IntRange(1), default=2, show_default=True,
              help="Ray: CPUs reserved per unit (Cycles threads of its worker).")
@click.option("--max-in-flight", type=click.IntRange(1), default=None,
              help="Ray: most tasks submitted at once (more are submitted as tasks finish)  "
                   "[default: 2 x cluster CPUs / --cpus-per-unit]")
@click.option("--blender", "blender_bin", default=None,
              help="Run workers under this Blender binary (blender -b --python ...) instead of the bpy module.")
@click.option("--force", is_flag=True,
              help="Replace a plan.json/dataset config made with other arguments (shards already written stay).")
def render(n_scenes: int | None, scenes_from: tuple[Path, ...], mapping: Path | None, unit_scale: float | None,
           up_axis: str, samples_text: str, out: Path, unit_views: int | None, quality: str, scale: float,
           seed: int, workers: int, device: str, baseline, focal, ir_size, rgb_size, ir_bit_depth: str,
           pattern: str, scene_source: str, no_progress: bool, dry_run: bool, calibrate: bool, executor: str,
           address: str | None, array_index: int | None, array_size: int | None, retries: int,
           cpus_per_unit: int, max_in_flight: int | None, blender_bin: str | None, force: bool) -> None:
    """Render N scenes x views through a randomized active-stereo rig (projected dot pattern, IR pair,
    RGB, exact planar depth, disparity, material and instance masks) into raw shards in OUT.

    Resumable: a rerun with the same options skips finished shards and redoes unfinished ones.
    Exits 1 if any scene failed (each failure is reported with its scene id and reason).
    On a farm: --dry-run first, then --executor ray, or one --array-index per array job (see README).
    Plans are limited to 1e9 samples, 1e6 scenes and 2e6 units (see README).
    """
    from lbd.errors import check_writable_dir
    from scenes.sources import collect_sources
    from synth import render as driver
    from synth.plan import (
        RenderConfig,
        RenderInputError,
        default_unit_views,
        dry_run_text,
        parse_count,
        plan_units,
        write_plan,
    )
    from synth.rig import RigRanges

    if n_scenes is None and not scenes_from:
        raise RenderInputError("--scenes N (procedural scenes) or --scenes-from FILE_OR_DIR is required")
    sources = tuple(collect_sources(scenes_from)) if scenes_from else ()
    n_scenes = (n_scenes or 0) + len(sources)
    if n_scenes == 0:
        raise RenderInputError("--scenes 0 and no --scenes-from: nothing to render")
    n_samples = parse_count(samples_text)
    ranges = RigRanges(baseline_m=tuple(baseline), focal_mm=tuple(focal), ir_size=tuple(ir_size),
                       rgb_size=tuple(rgb_size), scale=scale)
    cfg = RenderConfig(
        out=out, scenes=n_scenes, samples=n_samples,
        unit_views=unit_views or default_unit_views(n_scenes, n_samples), quality=quality, scale=scale,
        seed=seed, workers=workers, device=device, ranges=ranges,
        ir_bit_depth=None if ir_bit_depth == "random" else int(ir_bit_depth),
        pattern_kind=None if pattern == "random" else pattern, scene_source=scene_source,
        progress=not no_progress, blender=blender_bin, sources=sources,
        mapping=str(mapping.resolve()) if mapping else None, unit_scale=unit_scale, up_axis=up_axis)
    array = _array_slice(array_index, array_size)
    if executor == "ray" and array:
        raise RenderInputError("--executor ray and --array-index/--array-size exclude each other")
    if dry_run:  # the same checks as a run (but no GPU probe unless --calibrate), before plan.json
        cfg.validate(probe_device=calibrate)
        check_writable_dir(out, "--out")
        units = plan_units(cfg.scenes, cfg.samples, cfg.unit_views)
        sps = driver.calibrate(cfg) if calibrate else None
        write_plan(cfg, units, force=force)
        click.echo(dry_run_text(cfg, units, sps, "this machine (--calibrate)" if calibrate else
                                "2-core CPU (measured, synth/quality.py)"))
        return
    if executor == "ray":
        summary = driver.run_render_ray(cfg, address=address, retries=retries, cpus_per_unit=cpus_per_unit,
                                        force=force, max_in_flight=max_in_flight)
    else:
        summary = driver.run_render(cfg, array=array, retries=retries, force=force)
    stages = ", ".join(f"{k} {v / max(1, summary.rendered_samples):.2f}s"
                       for k, v in sorted(summary.stage_seconds.items()))
    click.echo(f"rendered {summary.rendered_samples} samples into {summary.shards_written} shards "
               f"({summary.skipped_units} of {summary.planned_units} units already done) in "
               f"{summary.seconds:.1f}s; per sample: {stages or '-'}")
    if summary.failures:
        for f in summary.failures:
            click.echo(f"FAILED {f}", err=True)
        sys.exit(1)


def _array_slice(index: int | None, size: int | None) -> tuple[int, int] | None:
    """(index, size) of an array job, or None; both options or neither."""
    from synth.plan import RenderInputError, slice_units

    if index is None and size is None:
        return None
    if index is None or size is None:
        raise RenderInputError("--array-index and --array-size go together")
    slice_units([], index, size)  # validates the range
    return index, size
