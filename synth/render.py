"""Render driver (pure Python, no bpy): the run prologue shared by every executor, then the executor.

Module structure (each imports only the ones above it)::

    synth.shards, lbd.errors                       records, layout, user errors
    synth.plan                                     counts, units, RenderConfig, plan.json, dry run, limits
    synth.leases                                   output lock, unit leases + heartbeat, cleanup
    synth.status                                   `cli.py status`
    synth.executors.common                         worker job/command/environment, failure reason, summary
    synth.executors.local / synth.executors.ray    process pool / Ray tasks (bounded in flight)
    synth.render (this module)                     prologue + run_render / run_render_ray / calibrate

:func:`prepare` is the one prologue: validate, check that ``--out`` is writable, plan, initialise the
dataset, write (or check) plan.json, check the disk, clean what dead writers left, and decide what is
left to do from a listing of the records (no record is read). A rerun skips units whose shard has a
record and redoes the others (unfinished shards never became visible: see :mod:`synth.shards`). At the
end of a run the merged view (index + manifest) is brought up to date.
"""
from __future__ import annotations

import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from lbd.errors import OutputError, check_writable_dir
from synth import shards
from synth.executors.common import RunSummary
from synth.leases import LOCK_NAME, LockError, OutputLock, pid_alive, remove_dead_leftovers
from synth.plan import (
    DEFAULT_UNIT_VIEWS,
    MAX_SAMPLES,
    MAX_SCENES,
    MAX_UNITS,
    ROOT,
    SCENE_SOURCES,
    SHARD_PREFIX,
    PlanMismatchError,
    RenderConfig,
    RenderInputError,
    Unit,
    bytes_per_sample,
    default_unit_views,
    human_bytes,
    parse_count,
    plan_units,
    slice_units,
    views_per_scene,
    write_plan,
)

# re-exported for scripts and tests that import them from here
__all__ = ["DEFAULT_UNIT_VIEWS", "LOCK_NAME", "MAX_SAMPLES", "MAX_SCENES", "MAX_UNITS", "ROOT", "SCENE_SOURCES",
           "SHARD_PREFIX", "DiskSpaceError", "LockError", "OutputLock", "PlanMismatchError", "Prepared",
           "RenderConfig", "RenderInputError", "RunSummary", "Unit", "calibrate", "check_disk_space",
           "default_unit_views", "parse_count", "pid_alive", "plan_units", "prepare", "run_render",
           "run_render_ray", "slice_units", "views_per_scene"]


class DiskSpaceError(OutputError):
    """The output file system cannot hold what the run is about to write."""


@dataclass
class Prepared:
    units: list[Unit]  # the whole plan
    mine: list[Unit]  # this run's share (an array slice, or the whole plan)
    todo: list[Unit]  # mine minus the units whose shard has a record


def check_disk_space(cfg: RenderConfig, pending: list[Unit], margin: float = 1.1) -> None:
    """Refuse to start when the free space is below the estimated size of the pending units."""
    need = bytes_per_sample(cfg) * sum(u.view_count for u in pending) * margin
    free = shutil.disk_usage(cfg.out).free
    if need > free:
        raise DiskSpaceError(f"{cfg.out}: {human_bytes(free)} free, the pending units need about "
                             f"{human_bytes(need)}; free some space, or render fewer samples per run "
                             f"(--array-index/--array-size) into a larger file system")


def prepare(cfg: RenderConfig, *, array: tuple[int, int] | None = None, force: bool = False) -> Prepared:
    """The prologue of every run (call it holding the output lock, except for array slices)."""
    units = plan_units(cfg.scenes, cfg.samples, cfg.unit_views)
    mine = slice_units(units, *array) if array else units
    shards.init_dataset(cfg.out, "raw", cfg.dataset_config(), force=force)
    write_plan(cfg, units, force=force)
    remove_dead_leftovers(cfg.out)
    done = shards.recorded_names(cfg.out)
    todo = [u for u in mine if u.shard not in done]
    check_disk_space(cfg, todo)
    return Prepared(units, mine, todo)


def _start(cfg: RenderConfig) -> None:
    cfg.validate()
    check_writable_dir(cfg.out, "--out")


def _finish(cfg: RenderConfig, summary: RunSummary, t_start: float) -> RunSummary:
    shards.write_manifest(cfg.out)  # the merged view, incrementally (changed folders only); repairs it too
    summary.seconds = time.perf_counter() - t_start
    return summary


def run_render(cfg: RenderConfig, *, array: tuple[int, int] | None = None, retries: int = 0,
               force: bool = False) -> RunSummary:
    """Validate, plan, and render every pending unit with the local executor; failures are collected,
    not raised. ``array=(i, n)`` renders only slice i of n of the plan (farm array jobs): slices share
    the output directory, so instead of the directory lock each unit is leased (see :mod:`synth.leases`).
    A scene whose worker fails is retried ``retries`` times (only its unfinished units)."""
    from synth.executors.local import run_local

    _start(cfg)
    t_start = time.perf_counter()
    with (nullcontext() if array else OutputLock(cfg.out)):
        p = prepare(cfg, array=array, force=force)
        summary = RunSummary(planned_units=len(p.mine), skipped_units=len(p.mine) - len(p.todo))
        run_local(cfg, p.todo, summary, retries)
        return _finish(cfg, summary, t_start)


def run_render_ray(cfg: RenderConfig, *, address: str | None = None, retries: int = 2, cpus_per_unit: int = 2,
                   force: bool = False, max_in_flight: int | None = None) -> RunSummary:
    """Every pending unit becomes a Ray task (see :mod:`synth.executors.ray`)."""
    from synth.executors import ray as ray_executor

    _start(cfg)
    if address:
        ray_executor.check_address(address)
    t_start = time.perf_counter()
    with OutputLock(cfg.out):
        p = prepare(cfg, force=force)
        summary = RunSummary(planned_units=len(p.units), skipped_units=len(p.units) - len(p.todo))
        ray_executor.run_ray(cfg, p.todo, summary, address=address, retries=retries, cpus_per_unit=cpus_per_unit,
                             max_in_flight=max_in_flight)
        return _finish(cfg, summary, t_start)


def calibrate(cfg: RenderConfig, samples: int = 2) -> float:
    """Seconds per sample measured on this machine: render ``samples`` views of scene 0 into a
    throw-away directory with the run's quality, scale and device (scene build included)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lbd-calibrate-") as tmp:
        probe = replace(cfg, out=Path(tmp) / "raw", scenes=1, samples=samples, unit_views=samples,
                        workers=1, progress=False)
        summary = run_render(probe)
        if summary.failures or summary.rendered_samples == 0:
            raise RenderInputError(f"--calibrate: the probe render failed: {'; '.join(summary.failures)}")
        return summary.seconds / summary.rendered_samples
