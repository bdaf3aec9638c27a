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


def test_local_executor_retries_a_killed_worker(tmp_path):
    out = tmp_path / "raw"
    env = {"LBD_FAULT_KILL_AFTER": "1", "LBD_FAULT_MARKER": str(tmp_path / "fault")}
    res = cli("render", "--scenes", "1", "--samples", "3", "--views-per-scene", "1", "--out", str(out),
              "--retries", "1", *FAST, env=env)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "fault").exists()  # the fault really fired
    assert "retrying" in res.stderr
    assert verify_dataset(out).ok and all_keys(out) == expected_keys(1, 3, 1)


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
