"""Ray executor: every pending unit is a Ray task (one worker process each) on a Ray cluster.

The driver keeps at most ``max_in_flight`` tasks submitted (default: 2 x the cluster's CPUs / CPUs per
unit, at least 1) and submits more as tasks finish, so a 312,686-unit plan never has 312,686 task
objects at once. A task checks the unit's record with one stat (:func:`synth.shards.has_record`),
leases the unit, keeps the lease alive with a heartbeat while its worker runs, and clears the state
(done) or marks the unit failed and raises (Ray retries it ``retries`` times).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from lbd.errors import UsageError
from synth.executors.common import RunSummary, failure_reason, job_document, worker_command, worker_env
from synth.leases import Heartbeat
from synth.plan import ROOT, RenderConfig, Unit
from synth.shards import has_record


class RayUnavailableError(UsageError):
    """Ray is not installed, or the cluster address does not answer."""


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (and clearly) when a ``host:port`` Ray address does not answer."""
    hostport = address.split("://", 1)[-1]
    if address in ("auto", "local") or ":" not in hostport:
        return  # resolved by Ray itself
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as exc:
        raise RayUnavailableError(f"--address {address}: no Ray cluster answers there ({exc}); start one "
                                  f"with `ray start --head` or leave --address out for a local cluster") from None


def run_bounded(items: Iterable, submit: Callable, wait: Callable, on_done: Callable, max_in_flight: int) -> int:
    """Submit ``items`` with ``submit(item) -> ref``, never more than ``max_in_flight`` at once;
    ``wait(refs) -> ready refs`` blocks until at least one finished; ``on_done(item, ref)`` handles it.
    Returns the largest number of refs that were in flight."""
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
    it = iter(items)
    in_flight: dict = {}
    peak = 0

    def fill() -> None:
        nonlocal peak
        while len(in_flight) < max_in_flight:
            try:
                item = next(it)
            except StopIteration:
                return
            in_flight[submit(item)] = item
            peak = max(peak, len(in_flight))

    fill()
    while in_flight:
        for ref in wait(list(in_flight)):
            on_done(in_flight.pop(ref), ref)
        fill()
    return peak


def default_max_in_flight(cluster_cpus: float, cpus_per_unit: int) -> int:
    return max(1, int(2 * cluster_cpus // max(1, cpus_per_unit)))


def _ray_unit_task(job: dict, out: str, unit: dict, blender: str | None) -> dict:
    """Body of one Ray task: lease the unit, run one worker process for it, report or raise."""
    u = Unit(**unit)
    out_dir = Path(out)
    if has_record(out_dir, u.shard):
        return {"shard": u.shard, "samples": 0, "skipped": True}
    with Heartbeat(out_dir) as heartbeat:
        if not heartbeat.take(u):
            return {"shard": u.shard, "samples": 0, "skipped": True, "reason": "leased by another executor"}
        with tempfile.TemporaryDirectory(prefix="lbd-ray-") as tmp:
            job_path = Path(tmp) / "job.json"
            job_path.write_text(json.dumps(job))
            events_path = Path(tmp) / "events.jsonl"
            log_path = out_dir / "logs" / f"unit-{u.shard_index:06d}.log"
            log_path.parent.mkdir(exist_ok=True)
            with open(events_path, "w") as ev, open(log_path, "ab") as log:
                rc = subprocess.run(worker_command(blender, job_path), cwd=ROOT, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, pass_fds=(ev.fileno(),),
                                    env=worker_env(ev.fileno())).returncode
            events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
        errors = [e.get("reason", "?") for e in events if e.get("event") == "error"]
        if rc != 0 or not has_record(out_dir, u.shard):
            reason = failure_reason(rc, errors, log_path)
            heartbeat.fail(u, reason)
            raise RuntimeError(f"{u.shard}: {reason}")  # Ray retries the task
        heartbeat.finish(u)
    return {"shard": u.shard, "samples": sum(e.get("event") == "sample" for e in events),
            "timings": [e.get("timings", {}) for e in events if e.get("event") == "sample"]}


def run_ray(cfg: RenderConfig, todo: list[Unit], summary: RunSummary, *, address: str | None = None,
            retries: int = 2, cpus_per_unit: int = 2, max_in_flight: int | None = None) -> None:
    """Render ``todo`` as Ray tasks on the cluster at ``address`` (a local cluster when None). Worker
    loss and failed units are retried ``retries`` times; units that still fail are reported in
    ``summary.failures`` and do not stop the others."""
    from tqdm import tqdm

    try:
        import ray
    except ImportError:
        raise RayUnavailableError("--executor ray needs Ray: pip install 'ray[default]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     **({} if address else {"num_cpus": os.cpu_count()}))
        except (ConnectionError, RuntimeError) as exc:
            raise RayUnavailableError(f"--address {address}: cannot connect to Ray ({exc})") from None
    bar = tqdm(total=sum(u.view_count for u in todo), unit="sample", desc="render (ray)",
               disable=not cfg.progress, smoothing=0.1)
    try:
        if max_in_flight is None:
            max_in_flight = default_max_in_flight(ray.cluster_resources().get("CPU", 1), cpus_per_unit)
        task = ray.remote(num_cpus=cpus_per_unit, max_retries=retries, retry_exceptions=True)(_ray_unit_task)

        def submit(u: Unit):
            return task.remote(job_document(cfg, u.scene_id, [u], cpus_per_unit), str(cfg.out), u.to_dict(),
                               cfg.blender)

        def wait(refs: list) -> list:
            return ray.wait(refs, num_returns=1)[0]

        def on_done(unit: Unit, ref) -> None:
            try:
                res = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - the task failed retries + 1 times
                reason = (str(exc).strip().splitlines() or ["?"])[-1]
                summary.failures.append(f"scene {unit.scene_id} unit {unit.shard_index}: {reason}")
                bar.write(f"{unit.shard} FAILED: {reason}", file=sys.stderr)
                return
            if res.get("skipped"):
                return
            bar.update(unit.view_count)
            summary.shards_written += 1
            for timings in res["timings"]:
                summary.add_sample(timings)

        run_bounded(todo, submit, wait, on_done, max_in_flight)
    finally:
        bar.close()
        if started_here:
            ray.shutdown()
