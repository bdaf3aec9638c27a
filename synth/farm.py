"""Render-farm layer (pure Python, no bpy): plan.json, dry runs, array slices, unit leases, Ray, status.

* The plan (:func:`synth.render.plan_units`) is a pure function of the arguments; ``plan.json`` beside
  the manifest records the arguments and every unit, and a run whose arguments differ is refused
  unless ``--force``.
* A unit is done if and only if its shard has a record (and so is in the manifest, with its sha256).
* ``units/unit-000123.json`` is the unit's *state* while it is not done: ``running`` (host, pid,
  start time: a lease taken with O_EXCL, so two executors never render the same unit at once) or
  ``failed`` (attempts and the last reason). It is removed when the shard is recorded.
* Array mode: slice ``i`` of ``n`` is ``units[i::n]`` (round robin, so slices take similar time);
  every unit is in exactly one slice.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from synth import quality as quality_mod
from synth.render import RenderConfig, RenderInputError, Unit, pid_alive, plan_units
from synth.shards import atomic_write_bytes, atomic_write_json, read_records

PLAN = "plan.json"
UNITS = "units"
STALE_LEASE_S = 12 * 3600  # a lease of another host older than this is considered dead


class PlanMismatchError(RenderInputError):
    """The output directory holds a plan made with other arguments."""


# ---------------------------------------------------------------- plan


def plan_args(cfg: RenderConfig) -> dict:
    """The arguments that define the plan and its samples (what must match on resume)."""
    return json.loads(json.dumps(cfg.dataset_config()))


def plan_document(cfg: RenderConfig, units: list[Unit]) -> dict:
    per_scene = [0] * cfg.scenes
    for u in units:
        per_scene[u.scene_id] += u.view_count
    return {"args": plan_args(cfg), "scenes": cfg.scenes, "samples": cfg.samples, "units": len(units),
            "samples_per_scene": {"min": min(per_scene), "max": max(per_scene)},
            "unit_fields": ["shard_index", "scene_id", "view_start", "view_count"],
            "unit_table": [[u.shard_index, u.scene_id, u.view_start, u.view_count] for u in units]}


def write_plan(cfg: RenderConfig, units: list[Unit], *, force: bool = False) -> Path:
    """Write ``plan.json`` (atomic); refuse if one with other arguments exists, unless ``force``."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    path = cfg.out / PLAN
    if path.exists() and not force:
        old = json.loads(path.read_text())
        new = plan_args(cfg)
        if old.get("args") != new:
            diff = sorted(k for k in set(old.get("args", {})) | set(new) if old["args"].get(k) != new.get(k))
            raise PlanMismatchError(
                f"{path} was made with other arguments (differ in: {', '.join(diff)}); rerun with the "
                f"same arguments to resume, use another --out, or pass --force to replace the plan")
        return path
    atomic_write_bytes(path, json.dumps(plan_document(cfg, units), separators=(",", ":")).encode())
    return path


def slice_units(units: list[Unit], index: int, size: int) -> list[Unit]:
    """Slice ``index`` of ``size`` (round robin). Raises RenderInputError for a bad index."""
    if size < 1:
        raise RenderInputError(f"--array-size must be >= 1, got {size}")
    if not 0 <= index < size:
        raise RenderInputError(f"--array-index {index} is outside 0..{size - 1} (--array-size {size})")
    return units[index::size]


# ---------------------------------------------------------------- dry run


def bytes_per_sample(cfg: RenderConfig) -> float:
    """Disk per sample, scaled from the measured full-resolution figure by pixel count."""
    return quality_mod.BYTES_PER_SAMPLE.get(cfg.quality, 0.0) * cfg.ranges.scale ** 2


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000.0
    return f"{n:.1f} PB"


def dry_run_text(cfg: RenderConfig, units: list[Unit], seconds_per_sample: float | None = None,
                 measured_on: str = "2-core CPU (this project's reference machine)") -> str:
    """What the plan is and what it will cost, for people."""
    per_scene = [0] * cfg.scenes
    for u in units:
        per_scene[u.scene_id] += u.view_count
    sps = seconds_per_sample if seconds_per_sample is not None else \
        quality_mod.SECONDS_PER_SAMPLE.get(cfg.quality, 0.0) * cfg.ranges.scale ** 2
    core_hours = sps * cfg.samples * 2 / 3600.0  # measured with 2 cores busy
    disk = bytes_per_sample(cfg) * cfg.samples
    lines = [
        f"plan for {cfg.out}",
        f"  scenes            {cfg.scenes:,}",
        f"  samples           {cfg.samples:,}",
        f"  samples per scene {min(per_scene):,}" + (f" .. {max(per_scene):,}" if max(per_scene) != min(per_scene)
                                                      else ""),
        f"  units (shards)    {len(units):,} of <= {cfg.unit_views:,} views each",
        f"  quality           {cfg.quality} at scale {cfg.ranges.scale:g}",
        f"  estimated time    {sps:.1f} s per sample on a {measured_on}"
        f" = {sps * cfg.samples / 3600:,.0f} machine-hours = {core_hours:,.0f} CPU core-hours",
        f"  estimated disk    {human_bytes(bytes_per_sample(cfg))} per sample = {human_bytes(disk)}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- unit state (leases, failures)


def unit_state_path(out: Path, unit: Unit) -> Path:
    return Path(out) / UNITS / f"unit-{unit.shard_index:06d}.json"


def read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def lease_is_live(state: dict | None) -> bool:
    """A ``running`` state whose process still exists (same host) or that is recent (other host)."""
    if not state or state.get("state") != "running":
        return False
    if state.get("host") == socket.gethostname():
        return pid_alive(int(state.get("pid", -1)))
    return time.time() - float(state.get("since", 0)) < STALE_LEASE_S


def take_lease(out: Path, unit: Unit) -> bool:
    """Mark ``unit`` running for this process; False if another live executor holds it."""
    path = unit_state_path(out, unit)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_state(path)
    if lease_is_live(old):
        return False
    state = {"state": "running", "host": socket.gethostname(), "pid": os.getpid(), "since": time.time(),
             "attempts": int((old or {}).get("attempts", 0)) + 1, "last_reason": (old or {}).get("reason")}
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}")
    tmp.write_text(json.dumps(state))
    if old is None:
        try:  # first taker wins: link() is atomic and fails if the name exists, on NFS too
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True
    os.replace(tmp, path)  # take over a dead lease or a failed unit; last writer wins, so check
    mine = read_state(path) or {}
    return mine.get("host") == state["host"] and mine.get("pid") == state["pid"]


def mark_failed(out: Path, unit: Unit, reason: str) -> None:
    path = unit_state_path(out, unit)
    old = read_state(path) or {}
    atomic_write_json(path, {"state": "failed", "host": socket.gethostname(), "since": time.time(),
                             "attempts": int(old.get("attempts", 1)), "reason": reason[-2000:]})


def clear_state(out: Path, unit: Unit) -> None:
    unit_state_path(out, unit).unlink(missing_ok=True)


# ---------------------------------------------------------------- status


@dataclass
class Status:
    units: int = 0
    done: int = 0
    running: int = 0
    failed: int = 0
    left: int = 0
    samples_planned: int = 0
    samples_written: int = 0
    samples_per_hour: float = 0.0
    eta_hours: float | None = None
    failures: list[tuple[str, int, str]] = field(default_factory=list)  # shard, attempts, reason


def job_status(out: Path) -> Status:
    """Units done / running / failed / left, samples written, throughput and ETA of a render job."""
    out = Path(out)
    plan_path = out / PLAN
    if not plan_path.exists():
        raise RenderInputError(f"{out} has no {PLAN}: not a render job directory (run `cli.py render` "
                               f"or `cli.py render --dry-run` first)")
    plan = json.loads(plan_path.read_text())
    records = read_records(out) if (out / "records").is_dir() else {}
    st = Status(units=plan["units"], samples_planned=plan["samples"])
    for shard_index, scene_id, view_start, view_count in plan["unit_table"]:
        unit = Unit(scene_id, view_start, view_count, shard_index)
        if unit.shard in records:
            st.done += 1
            st.samples_written += records[unit.shard]["samples"]
            continue
        state = read_state(unit_state_path(out, unit))
        if lease_is_live(state):
            st.running += 1
        elif state and state.get("state") == "failed":
            st.failed += 1
            st.failures.append((unit.shard, int(state.get("attempts", 1)), state.get("reason", "?")))
        else:
            st.left += 1
    finished = sorted((r["written_at"], r["samples"]) for r in records.values() if "written_at" in r)
    if len(finished) >= 2:
        t0, t1 = (time.mktime(time.strptime(finished[i][0], "%Y-%m-%dT%H:%M:%SZ")) for i in (0, -1))
        if t1 > t0:  # the first shard's samples were rendered before the measured span began
            st.samples_per_hour = sum(n for _, n in finished[1:]) / ((t1 - t0) / 3600.0)
            st.eta_hours = (st.samples_planned - st.samples_written) / st.samples_per_hour
    return st


def format_status(out: Path, st: Status) -> str:
    eta = "-" if st.eta_hours is None else (f"{st.eta_hours:.1f} h" if st.eta_hours >= 1
                                             else f"{st.eta_hours * 60:.0f} min")
    lines = [f"{out}",
             f"  units    {st.done:,} done, {st.running:,} running, {st.failed:,} failed, {st.left:,} left "
             f"(of {st.units:,})",
             f"  samples  {st.samples_written:,} of {st.samples_planned:,} "
             f"({100.0 * st.samples_written / max(st.samples_planned, 1):.1f}%)",
             f"  rate     {st.samples_per_hour:,.0f} samples/h, ETA {eta}"]
    for shard, attempts, reason in st.failures[:20]:
        lines.append(f"  FAILED   {shard} after {attempts} attempt(s): {reason.strip().splitlines()[-1][:300]}")
    if len(st.failures) > 20:
        lines.append(f"  ... and {len(st.failures) - 20} more failed units")
    return "\n".join(lines)


# ---------------------------------------------------------------- disk


class DiskSpaceError(RenderInputError):
    """The output file system cannot hold what the run is about to write."""


def check_disk_space(cfg: RenderConfig, units: list[Unit], margin: float = 1.1) -> None:
    """Refuse to start when the free space is below the estimated size of the pending units."""
    import shutil

    done = set(read_records(cfg.out)) if (cfg.out / "records").is_dir() else set()
    need = bytes_per_sample(cfg) * sum(u.view_count for u in units if u.shard not in done) * margin
    free = shutil.disk_usage(cfg.out).free
    if need > free:
        raise DiskSpaceError(f"{cfg.out}: {human_bytes(free)} free, the pending units need about "
                             f"{human_bytes(need)}; free some space, or render fewer samples per run "
                             f"(--array-index/--array-size) into a larger file system")


# ---------------------------------------------------------------- calibration


def calibrate(cfg: RenderConfig, samples: int = 2) -> float:
    """Seconds per sample measured on this machine: render ``samples`` views of scene 0 into a
    throw-away directory with the run's quality, scale and device (scene build included)."""
    import tempfile
    from dataclasses import replace

    from synth.render import run_render

    with tempfile.TemporaryDirectory(prefix="lbd-calibrate-") as tmp:
        probe = replace(cfg, out=Path(tmp) / "raw", scenes=1, samples=samples, unit_views=samples,
                        workers=1, progress=False)
        summary = run_render(probe)
        if summary.failures or summary.rendered_samples == 0:
            raise RenderInputError(f"--calibrate: the probe render failed: {'; '.join(summary.failures)}")
        return summary.seconds / summary.rendered_samples


# ---------------------------------------------------------------- Ray executor


class RayUnavailableError(RenderInputError):
    """Ray is not installed, or the cluster address does not answer."""


def _check_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (and clearly) when a ``host:port`` Ray address does not answer."""
    import socket as _socket

    hostport = address.split("://", 1)[-1]
    if address in ("auto", "local") or ":" not in hostport:
        return  # resolved by Ray itself
    host, _, port = hostport.rpartition(":")
    try:
        with _socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as exc:
        raise RayUnavailableError(f"--address {address}: no Ray cluster answers there ({exc}); start one "
                                  f"with `ray start --head` or leave --address out for a local cluster")


def _ray_unit_task(job: dict, out: str, unit: dict, blender: str | None) -> dict:
    """Body of one Ray task: lease the unit, run one worker process for it, report or raise."""
    import subprocess
    import tempfile

    from synth.render import ROOT, worker_command

    u = Unit(**unit)
    if u.shard in read_records(Path(out)):
        return {"shard": u.shard, "samples": 0, "skipped": True}
    if not take_lease(Path(out), u):
        return {"shard": u.shard, "samples": 0, "skipped": True, "reason": "leased by another executor"}
    with tempfile.TemporaryDirectory(prefix="lbd-ray-") as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job))
        events_path = Path(tmp) / "events.jsonl"
        log_path = Path(out) / "logs" / f"unit-{u.shard_index:06d}.log"
        log_path.parent.mkdir(exist_ok=True)
        with open(events_path, "w") as ev, open(log_path, "ab") as log:
            env = dict(os.environ, LBD_EVENT_FD=str(ev.fileno()),
                       PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            rc = subprocess.run(worker_command(blender, job_path), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, pass_fds=(ev.fileno(),), env=env).returncode
        events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
    errors = [e.get("reason", "?") for e in events if e.get("event") == "error"]
    if rc != 0 or u.shard not in read_records(Path(out)):
        reason = "; ".join(errors) or f"worker exited with code {rc}" + (
            f" (killed by signal {-rc})" if rc < 0 else "") + f"; log {log_path}"
        mark_failed(Path(out), u, reason)
        raise RuntimeError(f"{u.shard}: {reason}")  # Ray retries the task
    clear_state(Path(out), u)
    return {"shard": u.shard, "samples": sum(e.get("event") == "sample" for e in events),
            "timings": [e.get("timings", {}) for e in events if e.get("event") == "sample"]}


def run_render_ray(cfg: RenderConfig, *, address: str | None = None, retries: int = 2,
                   cpus_per_unit: int = 2, force: bool = False):
    """Every pending unit becomes a Ray task (one worker process each) on the cluster at ``address``
    (a local cluster when None). Worker loss and failed units are retried ``retries`` times; units that
    still fail are reported and do not stop the others."""
    import time as _time

    from tqdm import tqdm

    from synth.render import (OutputLock, RunSummary, _job, init_dataset, plan_units,
                              remove_dead_leftovers)

    try:
        import ray
    except ImportError:
        raise RayUnavailableError("--executor ray needs Ray: pip install 'ray[default]'") from None
    cfg.validate()
    if address:
        _check_address(address)
    t_start = _time.perf_counter()
    units = plan_units(cfg.scenes, cfg.samples, cfg.unit_views)
    with OutputLock(cfg.out):
        init_dataset(cfg.out, "raw", cfg.dataset_config(), force=force)
        write_plan(cfg, units, force=force)
        check_disk_space(cfg, units)
        remove_dead_leftovers(cfg.out)
        done = set(read_records(cfg.out))
        todo = [u for u in units if u.shard not in done]
        summary = RunSummary(planned_units=len(units), skipped_units=len(units) - len(todo))
        started_here = not ray.is_initialized()
        if started_here:
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         **({} if address else {"num_cpus": os.cpu_count()}))
            except (ConnectionError, RuntimeError) as exc:
                raise RayUnavailableError(f"--address {address}: cannot connect to Ray ({exc})") from None
        task = ray.remote(num_cpus=cpus_per_unit, max_retries=retries, retry_exceptions=True)(_ray_unit_task)
        refs = {task.remote(_job(cfg, u.scene_id, [u], cpus_per_unit), str(cfg.out), u.to_dict(), cfg.blender): u
                for u in todo}
        bar = tqdm(total=sum(u.view_count for u in todo), unit="sample", desc="render (ray)",
                   disable=not cfg.progress, smoothing=0.1)
        try:
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                unit = refs[ready[0]]
                try:
                    res = ray.get(ready[0])
                except Exception as exc:  # the task failed retries + 1 times
                    reason = str(exc).strip().splitlines()[-1]
                    summary.failures.append(f"scene {unit.scene_id} unit {unit.shard_index}: {reason}")
                    bar.write(f"{unit.shard} FAILED: {reason}", file=sys.stderr)
                    continue
                bar.update(unit.view_count if not res.get("skipped") else 0)
                if not res.get("skipped"):
                    summary.rendered_samples += res["samples"]
                    summary.shards_written += 1
                    for timings in res["timings"]:
                        for stage, sec in timings.items():
                            summary.stage_seconds[stage] = summary.stage_seconds.get(stage, 0.0) + sec
        finally:
            bar.close()
            if started_here:
                ray.shutdown()
        summary.seconds = _time.perf_counter() - t_start
    return summary
