"""Shards: bit-exact round trips, webdataset compatibility, crash safety, concurrent writers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time

import numpy as np
import pytest
from conftest import ROOT, make_sample

from synth import schema
from synth.shards import (
    DatasetError,
    Layout,
    ShardError,
    ShardWriter,
    init_dataset,
    iter_shard,
    open_dataset,
    shard_name,
)
from synth.verify import verify_dataset


def write_dataset(path, rng, shards=2, per_shard=3, sensor=False):
    init_dataset(path, "sensor" if sensor else "raw", {"test": True})
    req = schema.RAW_FIELDS + (schema.SENSOR_FIELDS if sensor else ())
    written = []
    for s in range(shards):
        with ShardWriter(path, shard_name("raw", s), required=req) as w:
            for v in range(per_shard):
                sample = make_sample(f"s{s:05d}-v{v:06d}", rng, sensor=sensor)
                w.add(sample)
                written.append(sample)
    return written


def shard_file(root, name="raw-000000.tar"):
    return Layout(2).shard_path(root, name)


def assert_same(a: dict, b: dict):
    for k, v in a.items():
        if k.startswith("__"):
            continue
        if k == "meta":
            assert b[k] == json.loads(json.dumps(v))
        else:
            assert b[k].dtype == v.dtype, k
            if k in schema.DERIVED_FIELDS:
                continue  # computed on decode (tests/test_schema.py checks the values)
            if schema.FIELDS[k].gt_depth:  # lossy within the format's bound
                assert np.all(np.abs(b[k] - v) <= np.maximum(1e-4, 2e-5 * v)), k
                continue
            assert np.array_equal(b[k], v), k


def test_round_trip_bit_exact(tmp_path, rng):
    written = write_dataset(tmp_path, rng, sensor=True)
    ds = open_dataset(tmp_path)
    assert len(ds) == 6 and ds.kind == "sensor"
    read = list(ds.iter_samples())
    assert [s["__key__"] for s in read] == [s["__key__"] for s in written]
    for a, b in zip(written, read):
        assert_same(a, b)
    # sensor depth exact to the millimetre
    assert read[0]["sensor_depth"].dtype == np.uint16
    assert verify_dataset(tmp_path).ok


def test_members_adjacent_and_named(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=1)
    names = tarfile.open(shard_file(tmp_path)).getnames()
    keys = [n.split(".")[0] for n in names]
    # one sample's members are contiguous
    assert keys == sorted(keys, key=lambda k: keys.index(k))
    assert "s00000-v000000.depth_ir.exr" in names and "s00000-v000000.meta.json" in names
    rec = json.loads((tmp_path / "records" / "0000" / "raw-000000.json").read_text())
    assert rec["samples"] == 3 and len(rec["sha256"]) == 64 and rec["bytes"] == shard_file(tmp_path).stat().st_size
    assert len(rec["sample_sha256"]) == 3 and len(rec["keys"]) == 3
    info = json.loads((tmp_path / "dataset.json").read_text())
    assert info["config"] == {"test": True} and "code_version" in info and info["format_version"] == 2


def test_readable_by_webdataset(tmp_path, rng):
    wds = pytest.importorskip("webdataset")
    written = write_dataset(tmp_path, rng, shards=3)
    urls = open_dataset(tmp_path).urls()  # brace patterns, as `verify` prints them
    assert urls == [str(tmp_path / "shards" / "0000" / "raw-{000000..000002}.tar")]
    read = list(wds.WebDataset("::".join(urls), shardshuffle=False))  # webdataset's own brace expansion
    assert [r["__key__"] for r in read] == [w["__key__"] for w in written]
    ours = list(open_dataset(tmp_path).iter_samples())
    for w, r, o in zip(written, read, ours):
        decoded = schema.decode_sample(r)  # the README's recipe
        assert np.array_equal(decoded["depth_ir"], o["depth_ir"])
        assert np.array_equal(decoded["disparity"], o["disparity"])
        assert np.array_equal(decoded["rgb"], w["rgb"])
        assert decoded["meta"]["baseline_m"] == w["meta"]["baseline_m"]


def test_writer_rejects_bad_samples_before_writing(tmp_path, rng):
    init_dataset(tmp_path, "raw", {})
    bad = make_sample("k", rng)
    bad["depth_ir"][0, 0] = np.nan
    with pytest.raises(ShardError, match=r"\[k\].*depth_ir.*non-finite"):
        with ShardWriter(tmp_path, "raw-000000") as w:
            w.add(bad)
    assert not shard_file(tmp_path).exists()
    assert list((tmp_path / ".tmp").iterdir()) == []
    assert len(open_dataset(tmp_path)) == 0


def test_config_mismatch_refused(tmp_path):
    init_dataset(tmp_path, "raw", {"seed": 1})
    init_dataset(tmp_path, "raw", {"seed": 1})  # same config: fine
    with pytest.raises(DatasetError, match="differs in: seed"):
        init_dataset(tmp_path, "raw", {"seed": 2})
    init_dataset(tmp_path, "raw", {"seed": 2}, force=True)


KILL_SCRIPT = textwrap.dedent("""
    import sys, time, numpy as np
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from conftest import make_sample
    from synth.shards import ShardWriter
    w = ShardWriter(sys.argv[1], "raw-000001")
    rng = np.random.default_rng(0)
    for v in range(1000):
        w.add(make_sample(f"s00001-v{{v:06d}}", rng, ir_hw=(60, 80), rgb_hw=(60, 80)))
        if v == 3:
            print("writing", flush=True)
""")


def test_killed_writer_leaves_nothing_a_reader_accepts(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=1)
    before = sorted(p.name for p in (tmp_path / "records").rglob("*"))
    script = KILL_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"))
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not shard_file(tmp_path, "raw-000001.tar").exists()
    assert list((tmp_path / ".tmp").glob("raw-000001.tar.*.partial"))  # the partial is only in .tmp
    assert sorted(p.name for p in (tmp_path / "records").rglob("*")) == before
    report = verify_dataset(tmp_path)
    assert report.ok and report.samples == 3
    assert any("partial" in w for w in report.warnings)


CONCURRENT = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from conftest import make_sample
    from synth.shards import ShardWriter, shard_name
    start = int(sys.argv[2])
    rng = np.random.default_rng(start)
    for i in range(start, start + 8):
        with ShardWriter(sys.argv[1], shard_name("raw", i)) as w:
            w.add(make_sample(f"s{{i:05d}}-v000000", rng))
""")


def test_concurrent_writers_merge_into_one_manifest(tmp_path):
    init_dataset(tmp_path, "raw", {})
    script = CONCURRENT.format(root=str(ROOT), tests=str(ROOT / "tests"))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(s)]) for s in (0, 8)]
    assert all(p.wait() == 0 for p in procs)
    ds = open_dataset(tmp_path)
    assert len(ds.records) == 16 and len(ds) == 16
    assert verify_dataset(tmp_path).ok


def test_iter_shard_reports_truncation(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=1)
    path = shard_file(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2 + 100])
    with pytest.raises(ShardError, match="cut.tar"):
        list(iter_shard(cut))
