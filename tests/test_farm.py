"""Farm scale: deterministic plan, exact array slices, dry run, Ray executor with fault injection,
concurrent array slices into one directory, status."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synth import leases
from synth.executors.ray import default_max_in_flight, run_bounded
from synth.plan import RenderConfig, RenderInputError, plan_units, slice_units, write_plan
from synth.shards import Layout, init_dataset, open_dataset
from synth.status import job_status
from synth.verify import verify_dataset

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--quality", "preview", "--scale", "0.25", "--scene-source", "test:plane", "--no-progress"]


def cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=None if env is None else dict(os.environ, **env))


def all_keys(out: Path) -> list[str]:
    return sorted(open_dataset(out).keys())


def expected_keys(scenes: int, samples: int, unit_views: int) -> list[str]:
    return sorted(f"s{u.scene_id:05d}-v{v:06d}" for u in plan_units(scenes, samples, unit_views)
                  for v in u.view_ids)


def test_plan_is_deterministic_and_slices_partition_it():
    a = plan_units(442, 1_000_003, 32)
    assert a == plan_units(442, 1_000_003, 32)
    assert sum(u.view_count for u in a) == 1_000_003
    assert [u.shard_index for u in a] == list(range(len(a)))
    for n in (1, 3, 7, 64):
        slices = [slice_units(a, i, n) for i in range(n)]
        covered = sorted(u.shard_index for s in slices for u in s)
        assert covered == list(range(len(a)))  # every unit exactly once
        sizes = [sum(u.view_count for u in s) for s in slices]
        assert max(sizes) - min(sizes) <= 2 * 32  # balanced
    with pytest.raises(RenderInputError, match="--array-index 7 is outside 0..6"):
        slice_units(a, 7, 7)


def test_dry_run_of_the_paper_plan_is_fast_and_writes_only_the_plan(tmp_path):
    out = tmp_path / "farm"
    t0 = time.perf_counter()
    res = cli("render", "--scenes", "442", "--samples", "10M", "--out", str(out), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert time.perf_counter() - t0 < 20
    assert "10,000,000" in res.stdout and "442" in res.stdout and "CPU core-hours" in res.stdout
    assert "TB" in res.stdout
    assert sorted(p.name for p in out.iterdir()) == ["plan.json"]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["samples"] == 10_000_000 and len(plan["unit_table"]) == plan["units"]
    # same arguments: accepted again; other arguments: refused unless --force
    assert cli("render", "--scenes", "442", "--samples", "10M", "--out", str(out), "--dry-run").returncode == 0
    res = cli("render", "--scenes", "442", "--samples", "9M", "--out", str(out), "--dry-run")
    assert res.returncode == 2 and "differ in: samples" in res.stderr and "--force" in res.stderr
    res = cli("render", "--scenes", "442", "--samples", "9M", "--out", str(out), "--dry-run", "--force")
    assert res.returncode == 0 and "9,000,000" in res.stdout


@pytest.mark.parametrize("extra, needle", [
    (["--array-index", "4", "--array-size", "4"], "--array-index 4 is outside 0..3"),
    (["--array-index", "-1", "--array-size", "4"], "--array-index -1 is outside"),
    (["--array-index", "1"], "go together"),
    (["--executor", "ray", "--address", "127.0.0.1:9"], "no Ray cluster answers"),
])
def test_bad_farm_input_is_refused(tmp_path, extra, needle):
    res = cli("render", "--scenes", "1", "--samples", "2", "--out", str(tmp_path / "o"), *FAST, *extra)
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr
    assert not (tmp_path / "o" / "records").exists()


def shard_sums(out: Path) -> dict[str, str]:
    return {r["name"]: r["sha256"] for r in open_dataset(out).records}


def test_two_array_slices_written_concurrently_merge_into_one_manifest(tmp_path):
    out = tmp_path / "raw"
    args = ["render", "--scenes", "3", "--samples", "6", "--views-per-scene", "1", "--out", str(out), *FAST]
    procs = [subprocess.Popen([sys.executable, "cli.py", *args, "--array-index", str(i), "--array-size", "2"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    report = verify_dataset(out)
    assert report.ok, [str(p) for p in report.problems]
    assert all_keys(out) == expected_keys(3, 6, 1)
    st = job_status(out)
    assert (st.done, st.running, st.failed, st.left, st.samples_written) == (6, 0, 0, 0, 6)
    # the same plan in one process gives byte-identical shards (timings live in the records)
    one = tmp_path / "one"
    res = cli(*[a if a != str(out) else str(one) for a in args], "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert shard_sums(one) == shard_sums(out)


def test_local_executor_retries_a_killed_worker(tmp_path):
    out = tmp_path / "raw"
    # another machine died while rendering unit 0: its lease stopped beating, its partial stayed behind
    _fake_lease(out, 0, "dead-node.cluster", heartbeat_age_s=3600)
    (out / ".tmp").mkdir()
    partial = out / ".tmp" / "raw-000000.tar.dead-node.cluster.4242.partial"
    partial.write_bytes(b"half a shard")
    os.utime(partial, (time.time() - 3600, time.time() - 3600))
    env = {"LBD_FAULT_KILL_AFTER": "1", "LBD_FAULT_MARKER": str(tmp_path / "fault")}
    res = cli("render", "--scenes", "1", "--samples", "3", "--views-per-scene", "1", "--out", str(out),
              "--retries", "1", *FAST, env=env)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "fault").exists()  # the fault really fired
    assert "retrying" in res.stderr
    assert verify_dataset(out).ok and all_keys(out) == expected_keys(1, 3, 1)
    assert not partial.exists()  # cleaned by the next run
    assert not list((out / "units").glob("unit-*.json"))  # the dead lease was taken over, then cleared


def test_ray_renders_a_plan_and_survives_a_killed_worker(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "raw"
    env = {"LBD_FAULT_KILL_AFTER": "1", "LBD_FAULT_MARKER": str(tmp_path / "fault")}
    res = cli("render", "--scenes", "2", "--samples", "4", "--views-per-scene", "2", "--out", str(out),
              "--executor", "ray", "--cpus-per-unit", "1", "--retries", "2", *FAST, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "fault").exists()
    report = verify_dataset(out)
    assert report.ok, [str(p) for p in report.problems]
    assert all_keys(out) == expected_keys(2, 4, 2)  # no missing, no duplicate sample
    res = cli("status", str(out))
    assert res.returncode == 0 and "2 done, 0 running, 0 failed, 0 left" in res.stdout
    # the local executor with two workers renders the same bytes as Ray did
    local = tmp_path / "local"
    res = cli("render", "--scenes", "2", "--samples", "4", "--views-per-scene", "2", "--out", str(local),
              "--workers", "2", *FAST)
    assert res.returncode == 0, res.stderr
    assert shard_sums(local) == shard_sums(out)


# ---------------------------------------------------------------- bounded plans, corrupt plan.json


@pytest.mark.parametrize("extra, needle", [
    (["--samples", "10", "--scale", "0"], "--scale"),
    (["--samples", "10", "--scale", "100"], "--scale"),
    (["--samples", "1000000000000"], "--samples"),
    (["--samples", "1e24"], "--samples"),
    (["--samples", "1e12", "--views-per-scene", "1"], "--samples"),
    (["--samples", "10M", "--views-per-scene", "1"], "--views-per-scene"),
    (["--samples", "10", "--ir-size", "720", "100000"], "--ir-size"),
])
def test_dry_run_validates_like_the_run_and_refuses_huge_plans_at_once(tmp_path, extra, needle):
    out = tmp_path / "farm"
    t0 = time.perf_counter()
    res = cli("render", "--scenes", "442", "--out", str(out), "--dry-run", *extra, timeout=60)
    assert time.perf_counter() - t0 < 15  # interpreter start-up included; no unit list is built
    assert res.returncode == 2, res.stdout + res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not out.exists()  # no plan.json written


def test_corrupt_plan_json_is_one_line_naming_it(tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    (out / "plan.json").write_text('{"args": {"scenes": 1')  # truncated
    base = ["--scenes", "1", "--samples", "2", "--out", str(out), *FAST]
    for args in (["render", *base, "--dry-run"], ["render", *base], ["status", str(out)]):
        res = cli(*args, timeout=60)
        assert res.returncode == 1, res.stdout + res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "plan.json" in lines[0] and "--force" in lines[0], res.stderr
    assert not list(out.rglob("*.tar"))
    (out / "plan.json").write_text("[1, 2]")  # valid JSON, not a plan
    res = cli("status", str(out), timeout=60)
    assert res.returncode == 1 and "plan.json is not a valid plan" in res.stderr, res.stderr
    res = cli("render", *base, "--dry-run", "--force", timeout=60)  # --force replaces it
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "plan.json").read_text())["units"] == 1


def test_unwritable_out_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = cli("render", "--scenes", "1", "--samples", "2", "--out", str(blocker / "raw"), "--dry-run", timeout=60)
    assert res.returncode == 1 and "--out" in res.stderr and "Traceback" not in res.stderr, res.stderr


# ---------------------------------------------------------------- leases with a heartbeat


def _fake_lease(out: Path, index: int, host: str, heartbeat_age_s: float, pid: int = 4242, scene: int = 0):
    path = leases.unit_state_path(out, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = time.time() - heartbeat_age_s
    path.write_text(json.dumps({"state": "running", "host": host, "pid": pid, "since": t - 60, "heartbeat": t,
                                "shard_index": index, "scene_id": scene, "attempts": 1}))
    return path


def test_lease_of_another_host_lives_by_its_heartbeat(tmp_path, monkeypatch):
    monkeypatch.setenv(leases.TIMEOUT_ENV, "5")
    u0, u1, u2 = plan_units(1, 3, 1)
    _fake_lease(tmp_path, 0, "other-host.example", heartbeat_age_s=60)  # stopped beating: dead
    _fake_lease(tmp_path, 1, "other-host.example", heartbeat_age_s=1)  # beating: live
    _fake_lease(tmp_path, 2, leases.hostname(), heartbeat_age_s=1, pid=2 ** 22 + 12345)  # this host, no pid
    assert leases.take_lease(tmp_path, u0)  # taken over
    state = leases.read_state(leases.unit_state_path(tmp_path, u0))
    assert state["host"] == leases.hostname() and state["pid"] == os.getpid() and state["attempts"] == 2
    assert not leases.take_lease(tmp_path, u1)
    assert leases.read_state(leases.unit_state_path(tmp_path, u1))["host"] == "other-host.example"
    assert leases.take_lease(tmp_path, u2)
    assert not leases.take_lease(tmp_path, u0)  # now held by this live process
    assert sorted(leases.live_leases(tmp_path)) == [0, 1, 2]
    assert not [p for p in (tmp_path / "units").iterdir() if p.name.startswith(".")]  # no temp left


def test_heartbeat_keeps_a_lease_alive_and_stops_after_finish(tmp_path, monkeypatch):
    monkeypatch.setenv(leases.TIMEOUT_ENV, "0.6")
    u0, u1 = plan_units(1, 2, 1)
    path0 = leases.unit_state_path(tmp_path, u0)
    with leases.Heartbeat(tmp_path, interval=0.05) as hb:
        assert hb.take(u0) and hb.take(u1)
        first = leases.read_state(path0)["heartbeat"]
        time.sleep(1.0)  # longer than the timeout: alive only because it beats
        assert leases.read_state(path0)["heartbeat"] > first
        assert leases.lease_is_live(leases.read_state(path0))
        hb.finish(u0)
        hb.fail(u1, "boom")
        time.sleep(0.2)
        assert not path0.exists()  # a late beat did not resurrect it
        assert leases.read_state(leases.unit_state_path(tmp_path, u1))["state"] == "failed"
    without = leases.Heartbeat(tmp_path, interval=0.05)
    assert without.take(u0)  # held, but nobody beats
    time.sleep(0.8)
    assert not leases.lease_is_live(leases.read_state(path0))


def test_leftovers_of_other_hosts_are_removed_only_when_their_lease_is_dead(tmp_path, monkeypatch):
    monkeypatch.setenv(leases.TIMEOUT_ENV, "30")
    tmp = tmp_path / ".tmp"
    tmp.mkdir()
    old = time.time() - 3600

    def leftover(name: str, is_dir: bool = False, aged: bool = True) -> Path:
        p = tmp / name
        p.mkdir() if is_dir else p.write_bytes(b"x")
        if aged:
            os.utime(p, (old, old))
        return p

    dead = leftover("raw-000000.tar.node7.cluster.123.partial")  # no lease at all
    live = leftover("raw-000001.tar.node7.cluster.124.partial")
    _fake_lease(tmp_path, 1, "node7.cluster", heartbeat_age_s=1)
    taken = leftover("raw-000002.tar.node7.cluster.125.partial")  # its unit was taken over by node8
    _fake_lease(tmp_path, 2, "node8.cluster", heartbeat_age_s=1)
    recent = leftover("raw-000003.tar.node7.cluster.126.partial", aged=False)  # younger than the timeout
    scratch_dead = leftover("lbd-s00004.node7.cluster.127.abc_12", is_dir=True)
    scratch_live = leftover("lbd-s00000.node7.cluster.128.xyz", is_dir=True)  # node7 leases scene 0
    mine_dead = leftover(f"raw-000005.tar.{leases.hostname()}.{2 ** 22 + 12345}.partial", aged=False)
    mine_live = leftover(f"raw-000006.tar.{leases.hostname()}.{os.getpid()}.partial")
    assert leases.remove_dead_leftovers(tmp_path) == 4
    assert not dead.exists() and not taken.exists() and not scratch_dead.exists() and not mine_dead.exists()
    assert live.exists() and recent.exists() and scratch_live.exists() and mine_live.exists()


# ---------------------------------------------------------------- status from listings


def test_status_counts_from_listings_without_reading_records(tmp_path, monkeypatch):
    monkeypatch.setenv(leases.TIMEOUT_ENV, "300")
    out = tmp_path / "raw"
    cfg = RenderConfig(out=out, scenes=3, samples=20, unit_views=3)
    units = plan_units(cfg.scenes, cfg.samples, cfg.unit_views)  # 8 units (7, 7, 6 views per scene)
    init_dataset(out, "raw", cfg.dataset_config())
    write_plan(cfg, units)
    done = units[:5]
    t0 = time.time() - 3600
    for i, u in enumerate(done):  # records that are not even JSON: status must not read them
        path = Layout(2).record_path(out, u.shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not json")
        os.utime(path, (t0 + 600 * i, t0 + 600 * i))
    _fake_lease(out, units[5].shard_index, "node7", heartbeat_age_s=1)  # running
    _fake_lease(out, units[6].shard_index, "node7", heartbeat_age_s=3600)  # dead lease: left
    leases.mark_failed(out, units[7], "scene 2 unit 7 failed: boom")
    _fake_lease(out, units[0].shard_index, "node7", heartbeat_age_s=1)  # stale state of a done unit
    st = job_status(out)
    assert (st.units, st.done, st.running, st.failed, st.left) == (8, 5, 1, 1, 1)
    assert st.samples_written == sum(u.view_count for u in done) and st.samples_planned == 20
    assert st.failures == [(units[7].shard, 1, "scene 2 unit 7 failed: boom")]
    # records every 10 minutes; the first one's samples precede the span
    want_rate = sum(u.view_count for u in done[1:]) / (4 * 600 / 3600)
    assert st.samples_per_hour == pytest.approx(want_rate, rel=1e-3)
    assert st.eta_hours == pytest.approx((20 - st.samples_written) / want_rate, rel=1e-3)
    assert st.urls and all("raw-" in u for u in st.urls)


# ---------------------------------------------------------------- Ray: bounded in flight


def test_ray_submission_loop_keeps_a_bounded_number_in_flight():
    submitted, in_flight, peaks, done = [], set(), [], []

    def submit(item):
        ref = f"ref-{item}"
        submitted.append(item)
        in_flight.add(ref)
        peaks.append(len(in_flight))
        return ref

    def wait(refs):
        assert set(refs) == in_flight and len(refs) <= 3
        ready = sorted(refs)[-1:]  # one at a time, not in submission order
        in_flight.difference_update(ready)
        return ready

    peak = run_bounded(range(10), submit, wait, lambda item, ref: done.append(item), 3)
    assert peak == 3 and max(peaks) == 3
    assert sorted(done) == list(range(10)) and submitted == list(range(10))
    assert run_bounded([], submit, wait, done.append, 3) == 0
    with pytest.raises(ValueError):
        run_bounded(range(2), submit, wait, done.append, 0)
    assert default_max_in_flight(64, 8) == 16 and default_max_in_flight(2, 4) == 1
