"""What every executor shares: the worker's job document, command line and environment, the failure
reason text, and the run summary that adds up the workers' per-stage timings."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from synth.plan import ROOT, SHARD_PREFIX, RenderConfig, Unit


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

    def add_sample(self, timings: dict | None) -> None:
        """Count one rendered sample and add its per-stage seconds (from the worker's ``sample`` event)."""
        self.rendered_samples += 1
        for stage, sec in (timings or {}).items():
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + float(sec)


def group_by_scene(units: list[Unit]) -> dict[int, list[Unit]]:
    groups: dict[int, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.scene_id, []).append(u)
    return groups


def job_document(cfg: RenderConfig, scene_id: int, units: list[Unit], threads: int) -> dict:
    """The JSON job a worker process reads: one scene and the units of it to render.

    ``scene_id`` here is the scene's position in the plan (a unit's ``scene_id``); the job carries the
    scene's own id (``scene_id``, what samples are keyed and seeded by), its ``scene`` source
    (:class:`scenes.sources.SceneSource` as a dict) and the ``import`` options for user files."""
    source = cfg.scene_for(scene_id)
    return {"out": str(cfg.out), "scene_id": source.scene_id, "plan_position": scene_id,
            "scene": source.to_dict(), "import": cfg.import_options(), "units": [u.to_dict() for u in units],
            "quality": cfg.quality, "seed": cfg.seed, "ranges": cfg.ranges.to_dict(), "device": cfg.device,
            "threads": threads, "ir_bit_depth": cfg.ir_bit_depth, "pattern_kind": cfg.pattern_kind,
            "scene_source": cfg.scene_source, "config": cfg.dataset_config(), "shard_prefix": SHARD_PREFIX}


def worker_command(blender: str | None, job_path: Path) -> list[str]:
    """argv of a worker: ``python -m synth.worker JOB`` or, under a Blender binary,
    ``blender -b --python-use-system-env --python synth/worker.py -- JOB`` (PYTHONPATH must reach this
    checkout and a site-packages with numpy<2, OpenCV, OpenEXR: see the README's farm section)."""
    if blender is None:
        return [sys.executable, "-m", "synth.worker", str(job_path)]
    return [blender, "-b", "--factory-startup", "--python-use-system-env", "--python-exit-code", "1",
            "--python", str(ROOT / "synth" / "worker.py"), "--", str(job_path)]


def worker_env(event_fd: int) -> dict:
    """Environment of a worker: events go to ``event_fd``; this checkout is importable."""
    return dict(os.environ, LBD_EVENT_FD=str(event_fd),
                PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def failure_reason(rc: int, errors: list[str], log_path: Path, log_tail: str = "") -> str:
    """Why a worker failed, in one line: its own error events, else its exit code/signal and log."""
    if errors:
        return "; ".join(errors)
    return (f"worker exited with code {rc}" + (f" (killed by signal {-rc})" if rc < 0 else "")
            + f"; log {log_path}" + (f": {log_tail}" if log_tail else ""))


def tail(path: Path, n: int = 6) -> str:
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in lines[-n:])
