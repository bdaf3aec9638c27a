"""Worker process: build ONE scene in Blender and render its pending units into shards.

Run by the executors (:mod:`synth.executors`) as ``python -m synth.worker JOB.json``. Events go as JSON
lines to the file descriptor in ``$LBD_EVENT_FD`` (stdout if unset): ``built``, ``sample`` (with per-stage
timings), ``shard``, ``error`` (scene id, unit, reason). Exit code 0 = every unit written.
Per-sample timings go into the shard's record (``ShardWriter.add(..., timings=)``), never into the
sample, so the same arguments give byte-identical shards.
The worker dies with its parent (Linux PR_SET_PDEATHSIG), so a killed driver leaves no orphan writer.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

import numpy as np


class Events:
    """JSON-lines event channel to the driver."""

    def __init__(self) -> None:
        fd = os.environ.get("LBD_EVENT_FD")
        self.stream = os.fdopen(int(fd), "w", buffering=1) if fd else sys.stdout

    def send(self, event: str, **data) -> None:
        self.stream.write(json.dumps({"event": event, **data}) + "\n")
        self.stream.flush()


def die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def job_source(job: dict):
    """The job's scene source (jobs written before scene sources existed name only ``scene_source``)."""
    from scenes.sources import SceneSource

    if "scene" in job:
        return SceneSource.from_dict(job["scene"])
    legacy = job["scene_source"]
    if legacy.startswith("test:"):
        return SceneSource(int(job["scene_id"]), "test", name=legacy.split(":", 1)[1])
    return SceneSource(int(job["scene_id"]), "procedural")


def view_rng(seed: int, scene_id: int, view_id: int) -> np.random.Generator:
    """The viewpoint generator of one view: keyed on (seed, scene, view) only, so a view is the same
    whatever unit size (--views-per-scene) or worker rendered it."""
    return np.random.default_rng([int(seed), int(scene_id), int(view_id), 7])


def build(job: dict):
    """Build the job's scene; returns (BuiltScene, viewpoint function (view ids) -> list of 4x4).

    Every source goes through the one builder (:mod:`synth.blender.build_scene`): procedural ids and
    scene JSON as :class:`scenes.Scene` descriptions, the analytic test scenes as descriptions too,
    user files through :func:`synth.blender.import_scene.import_scene` (which builds its shell, lights
    and materials with the same builder functions)."""
    import bpy

    from synth.blender.build_scene import build_scene
    from synth.blender.viewpoints import sample_viewpoints_for

    source = job_source(job)
    seed = int(job["seed"])
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if source.kind == "test":
        from synth.blender.test_scenes import describe_test_scene

        built = build_scene(describe_test_scene(source.name, distance=2.0, scene_id=source.scene_id))
        return built, lambda view_ids: [np.eye(4) for _ in view_ids]
    if source.kind == "procedural":
        import scenes

        built = build_scene(scenes.generate(source.scene_id, seed))
    elif source.kind == "json":
        from scenes.model import load_scene

        built = build_scene(load_scene(source.path), scene_id=source.scene_id, source=source.path)
    else:
        from synth.blender.import_scene import import_scene

        opts = job.get("import") or {}
        built = import_scene(source.path, opts.get("mapping"), scene_id=source.scene_id,
                             unit_scale=opts.get("unit_scale"), up_axis=opts.get("up_axis", "auto"), seed=seed)
    return built, lambda view_ids: sample_viewpoints_for(
        built, [view_rng(seed, source.scene_id, v) for v in view_ids], label=source.label)


def run(job: dict, events: Events) -> int:
    from synth import quality
    from synth.blender.render_view import ViewRenderer
    from synth.leases import scratch_prefix
    from synth.rig import RigRanges
    from synth.shards import TMP

    scene_id = int(job["scene_id"])
    t0 = time.perf_counter()
    try:
        built, viewpoints = build(job)
    except Exception as exc:  # report and give up on this scene only
        events.send("error", scene_id=scene_id, reason=f"scene {scene_id} ({job_source(job).label}) failed to "
                    f"build: {type(exc).__name__}: {exc}")
        traceback.print_exc()
        return 2
    build_s = time.perf_counter() - t0
    events.send("built", scene_id=scene_id, seconds=build_s)
    ranges = RigRanges(**{k: tuple(v) if isinstance(v, list) else v for k, v in job["ranges"].items()})
    # the scratch name carries the plan position, like the unit leases (synth.leases matches them)
    workdir = tempfile.mkdtemp(prefix=scratch_prefix(int(job.get("plan_position", scene_id))),
                               dir=os.path.join(job["out"], TMP))
    renderer = ViewRenderer(built, quality.get(job["quality"]), ranges, workdir, device=job["device"],
                            threads=int(job["threads"]), ir_bit_depth=job["ir_bit_depth"],
                            pattern_kind=job["pattern_kind"])
    try:
        return _render_units(job, events, renderer, viewpoints, build_s)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _render_units(job: dict, events: Events, renderer, viewpoints, build_s: float) -> int:
    from synth.shards import ShardWriter, shard_name

    scene_id = int(job["scene_id"])
    n_views = sum(u["view_count"] for u in job["units"])
    failed = samples_done = 0
    scene_meta = renderer.built.describe()
    for unit in job["units"]:
        try:
            poses = viewpoints(range(int(unit["view_start"]), int(unit["view_start"]) + int(unit["view_count"])))
            name = shard_name(job.get("shard_prefix", "raw"), int(unit["shard_index"]))
            with ShardWriter(job["out"], name, extra={"unit": unit}) as writer:
                for i, pose in enumerate(poses):
                    view_id = int(unit["view_start"]) + i
                    t1 = time.perf_counter()
                    sample, timings = renderer.render_sample(int(job["seed"]), scene_id, view_id, pose)
                    sample["meta"]["scene"] = scene_meta  # source, and what each material became
                    timings["scene_build"] = build_s / n_views
                    t2 = time.perf_counter()
                    writer.add(sample, timings=timings)  # into the record, not the sample's bytes
                    timings["encode_write"] = time.perf_counter() - t2
                    timings["total"] = time.perf_counter() - t1 + timings["scene_build"]
                    events.send("sample", key=sample["__key__"], timings=timings)
                    samples_done += 1
                    maybe_inject_fault(samples_done)
            events.send("shard", name=writer.name, samples=len(writer.keys))
        except Exception as exc:
            failed += 1
            events.send("error", scene_id=scene_id, reason=f"scene {scene_id} ({renderer.built.source}) unit "
                        f"{unit['shard_index']} failed: {type(exc).__name__}: {exc}")
            traceback.print_exc()
    return 1 if failed else 0


def maybe_inject_fault(samples_done: int) -> None:
    """Fault injection for tests of the farm layer: with ``LBD_FAULT_KILL_AFTER=N`` and
    ``LBD_FAULT_MARKER=PATH``, the first worker to reach N samples creates PATH and kills itself
    (SIGKILL, like a machine that dies); later workers find PATH and carry on."""
    after, marker = os.environ.get("LBD_FAULT_KILL_AFTER"), os.environ.get("LBD_FAULT_MARKER")
    if after is None or marker is None or samples_done < int(after):
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    die_with_parent()
    if "--" in argv:  # under a Blender binary: blender -b --python synth/worker.py -- JOB.json
        argv = argv[argv.index("--") + 1:]
    if len(argv) != 1:
        print("usage: python -m synth.worker JOB.json", file=sys.stderr)
        return 64
    with open(argv[0]) as f:
        job = json.load(f)
    return run(job, Events())


if __name__ == "__main__":
    if "--" in sys.argv:  # run as a script by a Blender binary: make this checkout importable
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main(sys.argv[1:]))
