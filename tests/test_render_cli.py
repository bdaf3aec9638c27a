"""`cli.py render` end to end on analytic scenes: kill a worker mid-run, rerun, verify; bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synth.leases import LOCK_NAME
from synth.shards import Layout, open_dataset, read_record
from synth.verify import verify_dataset

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--quality", "preview", "--scale", "0.25", "--scene-source", "test:plane", "--no-progress"]


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, **kw)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_killed_run_resumes_without_missing_or_duplicates(tmp_path):
    out = tmp_path / "raw"
    args = ["render", "--scenes", "2", "--samples", "4", "--views-per-scene", "1", "--out", str(out),
            "--workers", "1", "--seed", "5", "--retries", "0", *FAST]
    proc = subprocess.Popen([sys.executable, "cli.py", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = Layout(2).record_path(out, "raw-000000.tar")
    deadline = time.time() + 120
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert first.exists(), proc.communicate()
    workers = children(proc.pid)
    assert workers, "no worker process to kill"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)  # the scene-0 worker dies between/inside its shards
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 1, err
    assert "scene 0" in err and "signal 9" in err
    partial = open_dataset(out)
    assert 1 <= len(partial) < 4  # scene 1 still rendered; scene 0 incomplete
    assert not (out / LOCK_NAME).exists()

    res = cli(*args)
    assert res.returncode == 0, res.stderr
    assert "already done" in res.stdout
    report = verify_dataset(out)
    assert report.ok, [str(p) for p in report.problems]
    assert not report.warnings, report.warnings  # the killed writer's partial shard was cleaned up
    assert not list((out / ".tmp").iterdir())  # and its scratch directory
    keys = open_dataset(out).keys()
    assert sorted(keys) == ["s00000-v000000", "s00000-v000001", "s00001-v000000", "s00001-v000001"]
    # per-stage timings live in the records, not in the samples (shard bytes reproduce)
    ds = open_dataset(out)
    assert all("timings_s" not in s["meta"] for s in ds.iter_samples(fields=["meta"]))
    rec = read_record(out, "raw-000000.tar")
    assert rec["keys"] == ["s00000-v000000"] and rec["timings"]["rgb"][0] > 0  # aligned with the keys
    # a third run has nothing left to do
    res = cli(*args)
    assert res.returncode == 0 and "rendered 0 samples" in res.stdout


@pytest.mark.parametrize("extra, needle", [
    (["--baseline", "0.2", "0.1"], "--baseline"),
    (["--baseline", "0", "0.1"], "--baseline"),
    (["--focal", "-16", "28"], "--focal"),
    (["--scale", "0.01"], "does not fit"),
    (["--ir-size", "720", "100000"], "--ir-size"),
    (["--samples", "lots"], "--samples"),
    (["--samples", "0"], "--samples"),
    (["--device", "tpu"], "--device"),
])
def test_bad_input_refused_before_rendering(tmp_path, extra, needle):
    out = tmp_path / "raw"
    base = ["render", "--scenes", "1", "--samples", "1", "--out", str(out), *FAST]
    res = cli(*base, *extra)
    assert res.returncode == 2, res.stdout + res.stderr
    assert needle in res.stderr, res.stderr
    assert not out.exists()


def test_missing_gpu_refused(tmp_path):
    res = cli("render", "--scenes", "1", "--samples", "1", "--out", str(tmp_path / "o"), "--device", "cuda", *FAST)
    assert res.returncode == 2 and "no CUDA device" in res.stderr, res.stderr
    assert not (tmp_path / "o").exists()


def test_locked_output_refused_and_stale_lock_replaced(tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_NAME).write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename,
                                                 "started": "now"}))
        res = cli("render", "--scenes", "1", "--samples", "1", "--out", str(out), *FAST)
        assert res.returncode == 1 and "being written by another render" in res.stderr, res.stderr
        assert not list(out.glob("*.tar"))
    finally:
        sleeper.kill()
        sleeper.wait()
    res = cli("render", "--scenes", "1", "--samples", "1", "--out", str(out), *FAST)  # dead pid: stale
    assert res.returncode == 0, res.stderr
    assert verify_dataset(out).ok and len(open_dataset(out)) == 1
