"""Local executor: a pool of worker processes on this machine.

One worker *process* per scene (``python -m synth.worker JOB.json``): it builds the scene once and
renders the scene's pending units, so Blender memory cannot grow across scenes. ``cfg.workers``
processes run in parallel, each with cores // workers Cycles threads. Workers report events
(``built``, ``sample``, ``shard``, ``error``) as JSON lines on a private pipe; Blender's own chatter goes
to ``DIR/logs/scene-XXXXX.log``. The driver leases a scene's units before starting its worker and keeps
the leases alive with a heartbeat until each shard is recorded (or the unit failed).
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys

from synth.executors.common import (
    RunSummary,
    failure_reason,
    group_by_scene,
    job_document,
    tail,
    worker_command,
    worker_env,
)
from synth.leases import Heartbeat, job_file_name
from synth.plan import ROOT, RenderConfig, Unit
from synth.shards import TMP, has_record


class _Worker:
    """One running worker process and the state of its event pipe."""

    def __init__(self, cfg: RenderConfig, scene_id: int, units: list[Unit], threads: int):
        self.scene_id = scene_id
        self.units = units
        self.job_path = cfg.out / TMP / job_file_name(scene_id)
        self.job_path.write_text(json.dumps(job_document(cfg, scene_id, units, threads)))
        log_dir = cfg.out / "logs"
        log_dir.mkdir(exist_ok=True)
        self.log_path = log_dir / f"scene-{scene_id:05d}.log"
        self.log = open(self.log_path, "ab")
        r, w = os.pipe()
        self.proc = subprocess.Popen(worker_command(cfg.blender, self.job_path), cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     pass_fds=(w,), env=worker_env(w), start_new_session=False)
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

    def close(self) -> None:
        self.pipe.close()
        self.log.close()
        self.job_path.unlink(missing_ok=True)


def run_local(cfg: RenderConfig, todo: list[Unit], summary: RunSummary, retries: int) -> None:
    """Render ``todo``: one worker process per scene (its pending units), ``cfg.workers`` at a time.
    A scene whose worker fails is retried ``retries`` times (only its unfinished units)."""
    from tqdm import tqdm

    groups = group_by_scene(todo)
    queue = sorted(groups)
    attempts = {sid: 0 for sid in queue}
    cores = os.cpu_count() or 1
    n_parallel = min(cfg.workers, max(1, len(queue)))
    threads = max(1, cores // n_parallel)
    bar = tqdm(total=sum(u.view_count for u in todo), unit="sample", desc="render", disable=not cfg.progress,
               smoothing=0.1)
    running: dict[int, _Worker] = {}
    sel = selectors.DefaultSelector()
    heartbeat = Heartbeat(cfg.out).start()
    try:
        while queue or running:
            while queue and len(running) < n_parallel:
                sid = queue.pop(0)
                leased = [u for u in groups[sid] if heartbeat.take(u)]
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
                        summary.add_sample(ev.get("timings"))
                    elif kind == "built":
                        summary.build_seconds.append(float(ev.get("seconds", 0.0)))
                    elif kind == "shard":
                        summary.shards_written += 1
                        for u in w.units:
                            if u.shard == ev.get("name"):
                                heartbeat.finish(u)
                    elif kind == "error":
                        w.errors.append(ev.get("reason", "?"))
                    elif kind == "eof":
                        sel.unregister(w.pipe)
                        _finish_worker(cfg, w, summary, bar, attempts, retries, queue, groups, heartbeat)
                        del running[w.scene_id]
    finally:
        for w in running.values():
            w.proc.kill()
            w.proc.wait()
            w.close()
        heartbeat.stop()
        bar.close()


def _finish_worker(cfg: RenderConfig, w: _Worker, summary: RunSummary, bar, attempts: dict, retries: int,
                   queue: list[int], groups: dict[int, list[Unit]], heartbeat: Heartbeat) -> None:
    """Reap a worker: record failed units, and requeue its scene if retries are left."""
    rc = w.proc.wait()
    w.close()
    unfinished = [u for u in w.units if not has_record(cfg.out, u.shard)]
    for u in w.units:
        if u not in unfinished:
            heartbeat.finish(u)  # recorded (its "shard" event may have been lost with the pipe)
    if rc == 0 and not unfinished:
        return
    reason = failure_reason(rc, w.errors, w.log_path, tail(w.log_path) if not w.errors else "")
    for u in unfinished:
        heartbeat.fail(u, reason)
    if not unfinished:
        return
    if attempts[w.scene_id] <= retries:
        bar.write(f"scene {w.scene_id} failed (attempt {attempts[w.scene_id]} of {retries + 1}), "
                  f"retrying: {reason}", file=sys.stderr)
        groups[w.scene_id] = unfinished
        queue.append(w.scene_id)
        return
    summary.failures.append(f"scene {w.scene_id}: {reason}")
    bar.write(f"scene {w.scene_id} FAILED: {reason}", file=sys.stderr)
