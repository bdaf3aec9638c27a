"""`cli.py verify` catches each kind of bad input, names shard and sample, exits non-zero,
and never modifies what is on disk."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_sample
from test_shards import write_dataset

from cli import cli
from synth import schema
from synth.shards import Layout, atomic_write_json


def run_verify(path):
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    result = CliRunner().invoke(cli, ["verify", str(path)])
    after = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} if path.exists() else {}
    assert before == after, "verify modified the dataset"
    return result


def write_foreign_shard(root, name, samples_members):
    """A shard written outside ShardWriter (a buggy or foreign tool), with a correct record."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for member, data in samples_members:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    Layout(2).shard_path(root, name).parent.mkdir(parents=True, exist_ok=True)
    Layout(2).shard_path(root, name).write_bytes(data)
    keys = sorted({m.split(".")[0] for m, _ in samples_members})
    atomic_write_json(Layout(2).record_path(root, name),
                      {"name": name, "samples": len(keys), "keys": keys, "bytes": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()})


def members_of(sample, skip=(), override=None):
    override = override or {}
    out = []
    for field in sorted(f for f in sample if not f.startswith("__")):
        if field in skip:
            continue
        data = override.get(field) or schema.encode_field(field, sample[field])
        out.append((f"{sample['__key__']}.{field}.{schema.EXTENSIONS[field]}", data))
    return out


@pytest.fixture
def good(tmp_path, rng):
    write_dataset(tmp_path, rng, shards=1, per_shard=2)
    return tmp_path


def test_good_dataset_passes(good):
    result = run_verify(good)
    assert result.exit_code == 0, result.output
    assert "OK: 1 shard(s), 2 sample(s)" in result.output


def test_missing_directory(tmp_path):
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_empty_tar(good):
    write_foreign_shard(good, "raw-000009.tar", [])
    Layout(2).shard_path(good, "raw-000009.tar").write_bytes(b"")
    rec = json.loads(Layout(2).record_path(good, "raw-000009.tar").read_text())
    rec.update(bytes=0, sha256=hashlib.sha256(b"").hexdigest(), samples=1)
    atomic_write_json(Layout(2).record_path(good, "raw-000009.tar"), rec)
    result = run_verify(good)
    assert result.exit_code == 1
    assert "PROBLEM raw-000009.tar: truncated or corrupt tar (empty file)" in result.output


def test_truncated_tar(good, rng):
    sample = make_sample("s00009-v000000", rng)
    write_foreign_shard(good, "raw-000009.tar", members_of(sample))
    path = Layout(2).shard_path(good, "raw-000009.tar")
    data = path.read_bytes()[:1500]
    path.write_bytes(data)
    rec = json.loads(Layout(2).record_path(good, "raw-000009.tar").read_text())
    rec.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    atomic_write_json(Layout(2).record_path(good, "raw-000009.tar"), rec)
    result = run_verify(good)
    assert result.exit_code == 1
    assert "PROBLEM raw-000009.tar [s00009-v000000]" in result.output and "truncated" in result.output


def test_member_that_does_not_decode(good, rng):
    sample = make_sample("s00009-v000000", rng)
    write_foreign_shard(good, "raw-000009.tar", members_of(sample, override={"depth_ir": b"not an exr"}))
    result = run_verify(good)
    assert result.exit_code == 1
    assert "raw-000009.tar [s00009-v000000]: field 'depth_ir': not a decodable EXR" in result.output


def test_sample_missing_a_field(good, rng):
    sample = make_sample("s00009-v000000", rng)
    write_foreign_shard(good, "raw-000009.tar", members_of(sample, skip=("depth_rgb",)))
    result = run_verify(good)
    assert result.exit_code == 1
    assert "raw-000009.tar [s00009-v000000]: missing field 'depth_rgb'" in result.output


def test_wrong_dtype(good, rng):
    sample = make_sample("s00009-v000000", rng)
    png16 = schema.encode_png(sample["rgb"][..., 0].astype(np.uint16) * 100)
    write_foreign_shard(good, "raw-000009.tar", members_of(sample, override={"material": png16}))
    result = run_verify(good)
    assert result.exit_code == 1
    assert "[s00009-v000000]: field 'material' has dtype uint16, expected uint8" in result.output


def test_wrong_shape(good, rng):
    sample = make_sample("s00009-v000000", rng)
    wrong = schema.encode_exr(np.ones((5, 7), np.float32))
    write_foreign_shard(good, "raw-000009.tar", members_of(sample, override={"disparity": wrong}))
    result = run_verify(good)
    assert result.exit_code == 1
    assert "[s00009-v000000]: field 'disparity' is 5x7 but other ir-frame fields are 12x16" in result.output


def test_nan_in_gt_depth(good, rng):
    sample = make_sample("s00009-v000000", rng)
    depth = sample["depth_rgb"].copy()
    depth[3, 4] = np.nan
    write_foreign_shard(good, "raw-000009.tar",
                        members_of(sample, override={"depth_rgb": schema.encode_exr(depth)}))
    result = run_verify(good)
    assert result.exit_code == 1
    assert "[s00009-v000000]: field 'depth_rgb' has 1 non-finite values" in result.output


def test_checksum_mismatch(good):
    path = Layout(2).shard_path(good, "raw-000000.tar")
    data = bytearray(path.read_bytes())
    data[700] ^= 0xFF
    path.write_bytes(bytes(data))
    result = run_verify(good)
    assert result.exit_code == 1
    assert "raw-000000.tar [s00000-v000000]: sha256 checksum mismatch with its record" in result.output


def test_manifest_lists_missing_shard(good):
    Layout(2).shard_path(good, "raw-000000.tar").unlink()
    result = run_verify(good)
    assert result.exit_code == 1
    assert "raw-000000.tar: has a record but the shard is missing on disk" in result.output


def test_duplicate_key_across_shards(good, rng):
    sample = make_sample("s00000-v000000", rng)  # same key as a sample in raw-000000
    write_foreign_shard(good, "raw-000009.tar", members_of(sample))
    result = run_verify(good)
    assert result.exit_code == 1
    assert "raw-000009.tar [s00000-v000000]: duplicate sample key" in result.output


def test_preview_writes_sheet_and_point_clouds(tmp_path, rng):
    write_dataset(tmp_path / "ds", rng, shards=2, per_shard=2, sensor=True)
    result = CliRunner().invoke(cli, ["preview", str(tmp_path / "ds"), "--out", str(tmp_path / "sheet.png"),
                                      "--n", "3", "--ply", str(tmp_path / "ply")])
    assert result.exit_code == 0, result.output
    import imageio.v3 as iio

    sheet = iio.imread(tmp_path / "sheet.png")
    assert sheet.shape[0] > 300 and sheet.shape[1] > 1000
    plys = sorted((tmp_path / "ply").glob("*.ply"))
    assert len(plys) == 6  # gt + sensor per sample
    import open3d as o3d

    cloud = o3d.io.read_point_cloud(str(plys[0]))
    assert len(cloud.points) > 100 and cloud.has_colors()


def test_preview_of_missing_dataset_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["preview", str(tmp_path / "none"), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and "does not exist" in result.output
