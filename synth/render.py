"""Render driver (pure Python, no bpy): plan scenes -> views -> shards, run worker processes, resume.

Plan. ``--samples M`` are spread over ``--scenes N`` (scene i gets M//N views, +1 for i < M%N);
each scene's views are cut into *units* of at most ``views_per_scene`` (K) consecutive views. A unit
is one shard ``raw-{index:06d}.tar`` (index = position in the plan, so it never changes for a given
N, M, K) holding samples ``s{scene:05d}-v{view:06d}``. :func:`plan_units` is a pure function, so a farm
executor (Ray, Slurm) can hand the same units to other machines.

Execution. One worker *process* per scene (``python -m synth.worker JOB.json``): it builds the scene
once and renders all of that scene's pending units, so Blender memory cannot grow across scenes.
``workers`` processes run in parallel, each with cores // workers Cycles threads. Workers report
events (``built``, ``sample``, ``shard``, ``error``) as JSON lines on a private pipe; Blender's own
chatter goes to ``DIR/logs/scene-XXXXX.log``. A rerun skips units whose shard is in the manifest and
redoes the others (unfinished shards never became visible: see :mod:`synth.shards`).
A lock file ``DIR/.render.lock`` (O_EXCL, pid + host) refuses a second concurrent run; a lock left by
a dead process on this host is detected as stale and replaced.
"""
from __future__ import annotations

import json
import math
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from synth import quality as quality_mod
from synth.rig import RigRanges
from synth.shards import TMP, init_dataset, read_records

LOCK_NAME = ".render.lock"
SHARD_PREFIX = "raw"
DEFAULT_UNIT_VIEWS = 32
SCENE_SOURCES = ("procedural", "test:plane", "test:plane_box", "test:mirror", "test:glass")
ROOT = Path(__file__).resolve().parent.parent


class RenderInputError(ValueError):
    """Bad render input, detected before anything is rendered (message names the option)."""


class LockError(RuntimeError):
    """Another run holds the output directory's lock."""


# ---------------------------------------------------------------- counts and plan


def parse_count(text: str | int, option: str = "--samples") -> int:
    """'10M' -> 10_000_000, '250k' -> 250_000, '1,000' -> 1000, '1.5k' -> 1500; must be a positive int."""
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*([0-9][0-9,_]*(?:\.[0-9]+)?)\s*([kKmMgG]?)\s*", str(text))
        if not m:
            raise RenderInputError(f"{option} {text!r} is not a count (examples: 1000, 1,000, 250k, 10M)")
        number = float(m.group(1).replace(",", "").replace("_", ""))
        mult = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}[m.group(2).lower()]
        value_f = number * mult
        if value_f != math.floor(value_f):
            raise RenderInputError(f"{option} {text!r} is not a whole number of samples")
        value = int(value_f)
    if value <= 0:
        raise RenderInputError(f"{option} must be positive, got {text!r}")
    return value


@dataclass(frozen=True)
class Unit:
    """A work unit: ``view_count`` views of one scene starting at ``view_start``, into one shard."""

    scene_id: int
    view_start: int
    view_count: int
    shard_index: int

    @property
    def shard(self) -> str:
        return f"{SHARD_PREFIX}-{self.shard_index:06d}.tar"

    @property
    def view_ids(self) -> range:
        return range(self.view_start, self.view_start + self.view_count)

    def to_dict(self) -> dict:
        return asdict(self)


def views_per_scene(n_scenes: int, n_samples: int) -> list[int]:
    """How many views each scene gets: ``n_samples`` spread evenly over ``n_scenes``."""
    base, extra = divmod(n_samples, n_scenes)
    return [base + (1 if i < extra else 0) for i in range(n_scenes)]


def plan_units(n_scenes: int, n_samples: int, unit_views: int) -> list[Unit]:
    """The deterministic list of units (pure; see module docstring)."""
    if n_scenes <= 0 or n_samples <= 0 or unit_views <= 0:
        raise RenderInputError(f"scenes ({n_scenes}), samples ({n_samples}) and views per scene "
                               f"({unit_views}) must be positive")
    units: list[Unit] = []
    for scene_id, n_views in enumerate(views_per_scene(n_scenes, n_samples)):
        for start in range(0, n_views, unit_views):
            units.append(Unit(scene_id, start, min(unit_views, n_views - start), len(units)))
    return units


def default_unit_views(n_scenes: int, n_samples: int) -> int:
    return max(1, min(DEFAULT_UNIT_VIEWS, math.ceil(n_samples / n_scenes)))


# ---------------------------------------------------------------- configuration


@dataclass
class RenderConfig:
    """Everything a render run needs. ``dataset_config()`` is what must match on resume."""

    out: Path
    scenes: int
    samples: int
    unit_views: int
    quality: str = "default"
    scale: float = 1.0
    seed: int = 0
    workers: int = 1
    device: str = "cpu"
    ranges: RigRanges = field(default_factory=RigRanges)
    ir_bit_depth: int | None = None
    pattern_kind: str | None = None
    scene_source: str = "procedural"
    progress: bool = True
    blender: str | None = None  # run workers under this Blender binary instead of the bpy module

    def dataset_config(self) -> dict:
        return {"scenes": self.scenes, "samples": self.samples, "views_per_scene": self.unit_views,
                "quality": self.quality, "seed": self.seed, "rig": self.ranges.to_dict(),
                "ir_bit_depth": self.ir_bit_depth, "pattern_kind": self.pattern_kind,
                "scene_source": self.scene_source}

    def validate(self) -> None:
        """Raise RenderInputError (naming the option) for anything that would fail later."""
        try:
            self.ranges.validate()
            quality_mod.get(self.quality)
        except ValueError as exc:
            raise RenderInputError(str(exc)) from None
        if self.scene_source not in SCENE_SOURCES:
            raise RenderInputError(f"scene source {self.scene_source!r} unknown; choose {SCENE_SOURCES}")
        if self.workers < 1:
            raise RenderInputError(f"--workers must be >= 1, got {self.workers}")
        if self.ir_bit_depth not in (None, 8, 10):
            raise RenderInputError(f"--ir-bit-depth must be 8 or 10, got {self.ir_bit_depth}")
        plan_units(self.scenes, self.samples, self.unit_views)
        if self.scene_source == "procedural":
            try:
                import scenes  # noqa: F401
                from scenes import generate  # noqa: F401
            except ImportError as exc:
                raise RenderInputError(f"procedural scenes are not available ({exc})") from None
        if self.device != "cpu":
            check_device_subprocess(self.device)


def check_device_subprocess(device: str) -> None:
    """Ask Blender (in a child process, keeping bpy out of the driver) whether ``device`` exists."""
    code = ("import sys\nfrom synth.blender.devices import check_device, DeviceError\n"
            f"try:\n    check_device({device!r})\nexcept DeviceError as e:\n    print(e); sys.exit(3)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if res.returncode == 3:
        raise RenderInputError(res.stdout.strip().splitlines()[-1])
    if res.returncode != 0:
        raise RenderInputError(f"--device {device}: probing failed: {res.stderr.strip()[-300:]}")


# ---------------------------------------------------------------- output directory lock


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """An O_EXCL lock file with pid + host; stale locks of dead local processes are replaced."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / LOCK_NAME
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    other = json.loads(self.path.read_text() or "{}")
                except (OSError, json.JSONDecodeError):
                    other = {}
                if other.get("host") == me["host"] and isinstance(other.get("pid"), int) \
                        and not pid_alive(other["pid"]):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                raise LockError(
                    f"{self.path.parent} is being written by another render (pid {other.get('pid')} on "
                    f"{other.get('host')}, since {other.get('started')}); wait for it, or delete "
                    f"{self.path} if that run is dead") from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return
        raise LockError(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


# ---------------------------------------------------------------- execution


@dataclass
class RunSummary:
    planned_units: int
    skipped_units: int
    rendered_samples: int = 0
    shards_written: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    build_seconds: list[float] = field(default_factory=list)


def _group_by_scene(units: list[Unit]) -> dict[int, list[Unit]]:
    groups: dict[int, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.scene_id, []).append(u)
    return groups


def _job(cfg: RenderConfig, scene_id: int, units: list[Unit], threads: int) -> dict:
    return {"out": str(cfg.out), "scene_id": scene_id, "units": [u.to_dict() for u in units],
            "quality": cfg.quality, "seed": cfg.seed, "ranges": cfg.ranges.to_dict(), "device": cfg.device,
            "threads": threads, "ir_bit_depth": cfg.ir_bit_depth, "pattern_kind": cfg.pattern_kind,
            "scene_source": cfg.scene_source, "config": cfg.dataset_config()}


def worker_command(blender: str | None, job_path: Path) -> list[str]:
    """argv of a worker: ``python -m synth.worker JOB`` or, under a Blender binary,
    ``blender -b --python-use-system-env --python synth/worker.py -- JOB`` (PYTHONPATH must reach this
    checkout and a site-packages with numpy<2, OpenCV, OpenEXR: see the README's farm section)."""
    if blender is None:
        return [sys.executable, "-m", "synth.worker", str(job_path)]
    return [blender, "-b", "--factory-startup", "--python-use-system-env", "--python-exit-code", "1",
            "--python", str(ROOT / "synth" / "worker.py"), "--", str(job_path)]


class _Worker:
    """One running worker process and the state of its event pipe."""

    def __init__(self, cfg: RenderConfig, scene_id: int, units: list[Unit], threads: int):
        self.scene_id = scene_id
        self.units = units
        tmp = cfg.out / TMP
        self.job_path = tmp / f"job-s{scene_id:05d}-{os.getpid()}.json"
        self.job_path.write_text(json.dumps(_job(cfg, scene_id, units, threads)))
        log_dir = cfg.out / "logs"
        log_dir.mkdir(exist_ok=True)
        self.log_path = log_dir / f"scene-{scene_id:05d}.log"
        self.log = open(self.log_path, "ab")
        r, w = os.pipe()
        env = dict(os.environ, LBD_EVENT_FD=str(w), PYTHONPATH=str(ROOT) + os.pathsep
                   + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(worker_command(cfg.blender, self.job_path), cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     pass_fds=(w,), env=env, start_new_session=False)
        os.close(w)
        self.pipe = os.fdopen(r, "rb", buffering=0)
        self.buffer = b""
        self.errors: list[str] = []

    def read_events(self) -> list[dict]:
        chunk = self.pipe.read(65536)
        if not chunk:
            return [{"event": "eof"}]
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def tail_log(self, n: int = 6) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in lines[-n:])

    def close(self) -> None:
        self.pipe.close()
        self.log.close()
        self.job_path.unlink(missing_ok=True)


def remove_dead_leftovers(out: Path) -> int:
    """Delete partial shards, job files and scratch dirs left in ``DIR/.tmp`` by dead processes of
    this host (names carry host and pid; see :mod:`synth.shards`). Call only while holding the lock."""
    import shutil

    tmp, host, removed = Path(out) / TMP, socket.gethostname(), 0
    if not tmp.is_dir():
        return 0
    for path in tmp.iterdir():
        m = (re.fullmatch(rf".+\.{re.escape(host)}\.(\d+)\.partial", path.name)
             or re.fullmatch(r"job-s\d+-(\d+)\.json", path.name)
             or re.fullmatch(r"lbd-s\d+-(\d+)-\w+", path.name))  # a worker's scratch directory
        if m and not pid_alive(int(m.group(1))):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


def run_render(cfg: RenderConfig, *, array: tuple[int, int] | None = None, retries: int = 0,
               force: bool = False) -> RunSummary:
    """Validate, plan, and render every pending unit of this run; failures are collected, not raised.

    ``array=(i, n)`` renders only slice i of n of the plan (farm array jobs): slices share the output
    directory, so instead of the directory lock each unit is leased (see :mod:`synth.farm`).
    A scene whose worker fails is retried ``retries`` times (only its unfinished units).
    """
    from contextlib import nullcontext

    from synth import farm

    cfg.validate()
    t_start = time.perf_counter()
    units = plan_units(cfg.scenes, cfg.samples, cfg.unit_views)
    mine = farm.slice_units(units, *array) if array else units
    with (nullcontext() if array else OutputLock(cfg.out)):
        init_dataset(cfg.out, "raw", cfg.dataset_config(), force=force)
        farm.write_plan(cfg, units, force=force)
        farm.check_disk_space(cfg, mine)
        remove_dead_leftovers(cfg.out)
        done = set(read_records(cfg.out))
        todo = [u for u in mine if u.shard not in done]
        summary = RunSummary(planned_units=len(mine), skipped_units=len(mine) - len(todo))
        _run_local(cfg, todo, summary, retries)
        summary.seconds = time.perf_counter() - t_start
    return summary


def _run_local(cfg: RenderConfig, todo: list[Unit], summary: RunSummary, retries: int) -> None:
    """Process pool: one worker process per scene (its pending units), ``cfg.workers`` at a time."""
    from tqdm import tqdm

    from synth import farm

    groups = _group_by_scene(todo)
    queue = sorted(groups)
    attempts = {sid: 0 for sid in queue}
    cores = os.cpu_count() or 1
    n_parallel = min(cfg.workers, max(1, len(queue)))
    threads = max(1, cores // n_parallel)
    bar = tqdm(total=sum(u.view_count for u in todo), unit="sample", desc="render", disable=not cfg.progress,
               smoothing=0.1)
    running: dict[int, _Worker] = {}
    sel = selectors.DefaultSelector()
    try:
        while queue or running:
            while queue and len(running) < n_parallel:
                sid = queue.pop(0)
                leased = [u for u in groups[sid] if farm.take_lease(cfg.out, u)]
                if not leased:  # every unit is being rendered by another executor
                    continue
                attempts[sid] += 1
                w = _Worker(cfg, sid, leased, threads)
                running[sid] = w
                sel.register(w.pipe, selectors.EVENT_READ, w)
            for key, _ in sel.select(timeout=1.0):
                w: _Worker = key.data
                for ev in w.read_events():
                    kind = ev.get("event")
                    if kind == "sample":
                        bar.update(1)
                        summary.rendered_samples += 1
                        for stage, sec in ev.get("timings", {}).items():
                            summary.stage_seconds[stage] = summary.stage_seconds.get(stage, 0.0) + sec
                    elif kind == "built":
                        summary.build_seconds.append(float(ev.get("seconds", 0.0)))
                    elif kind == "shard":
                        summary.shards_written += 1
                        for u in w.units:
                            if u.shard == ev.get("name"):
                                farm.clear_state(cfg.out, u)
                    elif kind == "error":
                        w.errors.append(ev.get("reason", "?"))
                    elif kind == "eof":
                        sel.unregister(w.pipe)
                        _finish_worker(cfg, w, summary, bar, attempts, retries, queue, groups)
                        del running[w.scene_id]
    finally:
        for w in running.values():
            w.proc.kill()
            w.proc.wait()
            w.close()
        bar.close()


def _finish_worker(cfg: RenderConfig, w: _Worker, summary: RunSummary, bar, attempts: dict, retries: int,
                   queue: list[int], groups: dict[int, list[Unit]]) -> None:
    """Reap a worker: record failed units, and requeue its scene if retries are left."""
    from synth import farm

    rc = w.proc.wait()
    w.close()
    if rc == 0:
        return
    reason = "; ".join(w.errors) or (
        f"worker exited with code {rc}" + (f" (killed by signal {-rc})" if rc < 0 else "")
        + f"; log {w.log_path}: {w.tail_log()}")
    done = set(read_records(cfg.out))
    unfinished = [u for u in w.units if u.shard not in done]
    for u in unfinished:
        farm.mark_failed(cfg.out, u, reason)
    if unfinished and attempts[w.scene_id] <= retries:
        bar.write(f"scene {w.scene_id} failed (attempt {attempts[w.scene_id]} of {retries + 1}), "
                  f"retrying: {reason}", file=sys.stderr)
        groups[w.scene_id] = unfinished
        queue.append(w.scene_id)
        return
    summary.failures.append(f"scene {w.scene_id}: {reason}")
    bar.write(f"scene {w.scene_id} FAILED: {reason}", file=sys.stderr)
