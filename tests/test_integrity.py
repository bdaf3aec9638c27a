"""Integrity of the data layer: corrupt data never propagates, strays and kills are repaired, old
datasets still read, the index is incremental, shard bytes reproduce."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, make_sample
from test_shards import write_dataset

from cli import cli
from synth import schema
from synth.shards import (
    FOLDER_SIZE,
    DatasetError,
    Layout,
    ShardError,
    ShardWriter,
    init_dataset,
    load_index,
    open_dataset,
    recorded_names,
    shard_name,
    write_manifest,
)
from synth.verify import STRAY_GRACE_S, verify_dataset


def flip_meta_digit(path) -> None:
    """Change one digit inside the first meta.json of a shard, keeping the size (only sha256 differs)."""
    data = bytearray(path.read_bytes())
    start = data.index(b'"baseline_m":') + len(b'"baseline_m":')
    for i in range(start, start + 12):
        if chr(data[i]).isdigit() and chr(data[i]) != "0":
            data[i] = ord("9") if data[i] != ord("9") else ord("1")
            break
    path.write_bytes(bytes(data))


def age(path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_corrupt_sample_is_never_yielded(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=2, per_shard=2)
    flip_meta_digit(Layout(2).shard_path(tmp_path, "raw-000001.tar"))
    ds = open_dataset(tmp_path)
    keys = []
    with pytest.raises(ShardError, match=r"raw-000001.tar \[s00001-v000000\]: sha256 checksum mismatch"):
        for sample in ds.iter_samples():
            keys.append(sample["__key__"])
    assert keys == ["s00000-v000000", "s00000-v000001"]  # the good shard only
    # opting out of the checksum still checks sizes
    Layout(2).shard_path(tmp_path, "raw-000000.tar").write_bytes(b"x")
    with pytest.raises(ShardError, match="raw-000000.tar: size 1 B, its record says"):
        list(open_dataset(tmp_path, verify=False).iter_samples())


def test_sgm_skips_a_corrupt_input_shard_and_fails(tmp_path, rng):
    raw, out = tmp_path / "raw", tmp_path / "sensor"
    init_dataset(raw, "raw", {})
    for index in range(2):
        with ShardWriter(raw, shard_name("raw", index)) as w:
            w.add(make_sample(f"s{index:05d}-v000000", rng, ir_hw=(32, 48), rgb_hw=(32, 48)))
    flip_meta_digit(Layout(2).shard_path(raw, "raw-000000.tar"))
    result = CliRunner().invoke(cli, ["sgm", "--in", str(raw), "--out", str(out), "--preset", "generic",
                                      "--backend", "opencv", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "raw-000000.tar [s00000-v000000]: sha256 checksum mismatch" in result.output
    assert "Traceback" not in result.output
    assert recorded_names(out) == {"sensor-000001.tar"}  # nothing derived from the corrupt shard
    assert verify_dataset(out).ok


def test_verify_refuses_a_directory_without_dataset_json(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=1, per_shard=1)
    write_manifest(tmp_path)
    (tmp_path / "dataset.json").unlink()
    result = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    assert result.exit_code == 1 and "is not a dataset: it has no dataset.json" in result.output


def test_stray_shard_is_a_problem_and_repair_adopts_it(tmp_path, rng):
    """A writer killed between the shard's rename and its record leaves a stray, complete shard."""
    write_dataset(tmp_path, rng, shards=2, per_shard=2)
    rec = Layout(2).record_path(tmp_path, "raw-000001.tar")
    rec.unlink()
    stray = Layout(2).shard_path(tmp_path, "raw-000001.tar")
    assert len(open_dataset(tmp_path)) == 2  # readers ignore it
    young = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    assert young.exit_code == 0 and "warning raw-000001.tar: shard without a record" in young.output
    age(stray, STRAY_GRACE_S + 5)
    result = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    assert result.exit_code == 1 and "PROBLEM raw-000001.tar: stray shard" in result.output
    before = stray.read_bytes()
    result = CliRunner().invoke(cli, ["verify", "--repair", str(tmp_path)])
    assert "repaired raw-000001.tar: every sample validates; wrote its record (adopted)" in result.output
    assert stray.read_bytes() == before and rec.exists()
    assert CliRunner().invoke(cli, ["verify", str(tmp_path)]).exit_code == 0
    assert len(open_dataset(tmp_path)) == 4


def test_repair_quarantines_a_corrupt_shard_and_drops_a_missing_ones_record(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=3, per_shard=1)
    flip_meta_digit(Layout(2).shard_path(tmp_path, "raw-000001.tar"))
    Layout(2).shard_path(tmp_path, "raw-000002.tar").unlink()
    result = CliRunner().invoke(cli, ["verify", "--repair", str(tmp_path)])
    assert result.exit_code == 1  # this run found problems; it also mended them
    assert "raw-000001.tar: moved to quarantine/" in result.output
    assert "raw-000002.tar: dropped the record of the missing shard" in result.output
    assert (tmp_path / "quarantine" / "raw-000001.tar").exists()
    assert recorded_names(tmp_path) == {"raw-000000.tar"}
    assert CliRunner().invoke(cli, ["verify", str(tmp_path)]).exit_code == 0


def test_corrupt_manifest_does_not_matter_to_readers_and_repair_rebuilds_it(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=2, per_shard=1)
    (tmp_path / "manifest.json").write_text("{not json")
    assert len(open_dataset(tmp_path)) == 2
    assert CliRunner().invoke(cli, ["verify", "--repair", str(tmp_path)]).exit_code == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["samples"] == 2 and manifest["shards"] == 2
    assert manifest["urls"] == [str(tmp_path / "shards" / "0000" / "raw-{000000..000001}.tar")]


def test_index_is_incremental_per_folder(tmp_path, rng):
    init_dataset(tmp_path, "raw", {})
    for index in (0, 1, FOLDER_SIZE):  # folders 0000 and 0001
        with ShardWriter(tmp_path, shard_name("raw", index)) as w:
            w.add(make_sample(f"s00000-v{index:06d}", rng, ir_hw=(8, 10), rgb_hw=(8, 10)))
    for folder in ("0000", "0001"):
        t = time.time() - 10
        os.utime(tmp_path / "records" / folder, (t, t))
    entries, bad = load_index(tmp_path)
    assert [e["name"] for e in entries] == ["raw-000000.tar", "raw-000001.tar", "raw-001000.tar"] and not bad
    first = (tmp_path / "index" / "0000.json").stat().st_mtime_ns
    second = (tmp_path / "index" / "0001.json").stat().st_mtime_ns
    with ShardWriter(tmp_path, shard_name("raw", FOLDER_SIZE + 1)) as w:
        w.add(make_sample("s00000-v001001", rng, ir_hw=(8, 10), rgb_hw=(8, 10)))
    entries, _ = load_index(tmp_path)
    assert len(entries) == 4
    assert (tmp_path / "index" / "0000.json").stat().st_mtime_ns == first  # untouched folder: not rebuilt
    assert (tmp_path / "index" / "0001.json").stat().st_mtime_ns != second
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["0000", "0001"]
    assert open_dataset(tmp_path).urls() == [
        str(tmp_path / "shards" / "0000" / "raw-{000000..000001}.tar"),
        str(tmp_path / "shards" / "0001" / "raw-{001000..001001}.tar")]


def test_a_record_that_cannot_be_read_is_reported(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=1, per_shard=1)
    Layout(2).record_path(tmp_path, "raw-000000.tar").write_text("{")
    result = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    assert result.exit_code == 1 and "raw-000000.json is unreadable or invalid" in result.output


def test_shard_bytes_reproduce_whatever_the_timings(tmp_path, rng):
    sample = make_sample("s00000-v000000", rng)
    digests = []
    for run, timing in enumerate((1.5, 99.0)):
        root = tmp_path / f"run{run}"
        init_dataset(root, "raw", {})
        with ShardWriter(root, "raw-000000") as w:
            w.add(sample, timings={"rgb": timing})
        record = json.loads(Layout(2).record_path(root, "raw-000000.tar").read_text())
        assert record["timings"] == {"rgb": [timing]} and record["keys"] == ["s00000-v000000"]
        digests.append(record["sha256"])
    assert digests[0] == digests[1]


def test_old_format_datasets_still_read(tmp_path, rng):
    """Format 1: flat shards and records, float32 ZIP EXR with a stored disparity, whole-file sha256."""
    sample = make_sample("s00000-v000000", rng)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for field in sorted(f for f in sample if not f.startswith("__")):
            data = (json.dumps(sample[field]).encode() if field == "meta" else
                    schema.encode_exr(sample[field]) if schema.FIELDS[field].ext == "exr" else
                    schema.encode_png(sample[field]))
            info = tarfile.TarInfo(f"{sample['__key__']}.{field}.{schema.EXTENSIONS[field]}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    (tmp_path / "raw-000000.tar").write_bytes(data)
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "raw-000000.json").write_text(json.dumps(
        {"name": "raw-000000.tar", "samples": 1, "keys": [sample["__key__"]], "bytes": len(data),
         "sha256": hashlib.sha256(data).hexdigest()}))
    (tmp_path / "dataset.json").write_text(json.dumps({"format": "lingbot-depth-s", "format_version": 1,
                                                       "kind": "raw", "config": {}}))
    ds = open_dataset(tmp_path)
    (read,) = list(ds.iter_samples())
    assert np.array_equal(read["depth_ir"], sample["depth_ir"])  # old lossless depth, bit-exact
    assert np.array_equal(read["disparity"], sample["disparity"])  # stored disparity wins over derived
    assert verify_dataset(tmp_path).ok
    with pytest.raises(DatasetError, match="data format version 1; this code writes version 2"):
        init_dataset(tmp_path, "raw", {})
    # a corrupt old shard is refused before any sample is yielded
    (tmp_path / "raw-000000.tar").write_bytes(data.replace(b'"baseline_m": 0', b'"baseline_m": 9'))
    with pytest.raises(ShardError, match="sha256 checksum mismatch"):
        list(open_dataset(tmp_path).iter_samples())


KILL_BETWEEN = textwrap.dedent("""
    import os, signal, sys, numpy as np
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from conftest import make_sample
    import synth.shards as shards
    def die(*a, **k):  # the record is never written: the machine died right after the rename
        os.kill(os.getpid(), signal.SIGKILL)
    shards.write_record = die
    with shards.ShardWriter(sys.argv[1], "raw-000005") as w:
        w.add(make_sample("s00005-v000000", np.random.default_rng(5)))
""")


def test_kill_between_rename_and_record(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=1, per_shard=1)
    script = KILL_BETWEEN.format(root=str(ROOT), tests=str(ROOT / "tests"))
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)])
    assert proc.returncode == -9
    stray = Layout(2).shard_path(tmp_path, "raw-000005.tar")
    assert stray.exists() and "raw-000005.tar" not in recorded_names(tmp_path)
    assert len(open_dataset(tmp_path)) == 1
    age(stray, STRAY_GRACE_S + 5)
    assert not verify_dataset(tmp_path).ok
    report = verify_dataset(tmp_path, repair=True)
    assert any("adopted" in r for r in report.repairs)
    assert verify_dataset(tmp_path).ok and len(open_dataset(tmp_path)) == 2


def test_index_of_many_folders_is_built_in_parallel_and_matches(tmp_path, rng):
    init_dataset(tmp_path, "raw", {})
    for folder in range(10):
        with ShardWriter(tmp_path, shard_name("raw", folder * FOLDER_SIZE + 7)) as w:
            w.add(make_sample(f"s{folder:05d}-v000000", rng, ir_hw=(8, 10), rgb_hw=(8, 10)))
    entries, bad = load_index(tmp_path)  # 10 stale folders: built by a process pool
    assert not bad and [e["name"] for e in entries] == [shard_name("raw", f * FOLDER_SIZE + 7) for f in range(10)]
    assert len(list((tmp_path / "index").glob("*.json"))) == 10
    assert len(open_dataset(tmp_path).urls()) == 10


def test_full_disk_during_sgm_is_one_line_and_leaves_nothing_partial(tmp_path, rng, monkeypatch):
    import errno

    import synth.shards as shards_mod

    raw, out = tmp_path / "raw", tmp_path / "sensor"
    init_dataset(raw, "raw", {})
    for index in range(2):
        with ShardWriter(raw, shard_name("raw", index)) as w:
            w.add(make_sample(f"s{index:05d}-v000000", rng, ir_hw=(32, 48), rgb_hw=(32, 48)))
    args = ["sgm", "--in", str(raw), "--out", str(out), "--preset", "generic", "--backend", "opencv",
            "--no-progress"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    first = Layout(2).shard_path(out, "sensor-000000.tar")
    before = first.read_bytes()
    Layout(2).shard_path(out, "sensor-000001.tar").unlink()
    Layout(2).record_path(out, "sensor-000001.tar").unlink()

    def full(self, b):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / ".tmp"))

    monkeypatch.setattr(shards_mod._HashingWriter, "write", full)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"Error: {out / '.tmp'}: no space left on the device"
    assert "Traceback" not in result.output
    assert first.read_bytes() == before  # what was written stays
    assert not list((out / ".tmp").glob("*.partial"))  # the partial shard was removed
    assert recorded_names(out) == {"sensor-000000.tar"}
