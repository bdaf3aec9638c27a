"""MDM data: rank/worker split, shuffle-buffer resume, intrinsics under crop/flip, bad datasets."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mdm.augment import AugmentConfig, augment
from mdm.block_masks import LEVELS, corrupt_depth
from mdm.data import ShardStream, epoch_plan, list_shards, shuffle_buffer_order
from mdm.synthetic import fixture_sample, write_fixture_dataset
from synth import shards
from synth.shards import DatasetError


@pytest.fixture(scope="module")
def five_shards(tmp_path_factory):
    return write_fixture_dataset(tmp_path_factory.mktemp("mdm_data") / "five", 18, size=(42, 56), shard_size=4)


@pytest.fixture(scope="module")
def one_shard(tmp_path_factory):
    return write_fixture_dataset(tmp_path_factory.mktemp("mdm_data") / "one", 7, size=(42, 56), shard_size=8,
                                 seed=1)


def _epoch_keys(data, rank: int, world: int, workers: int = 1, worker: int = 0) -> list[str]:
    """Keys one reader delivers in epoch 0, read through the real shard reader."""
    stream = ShardStream([data], (28, 42), seed=3, rank=rank, world=world, buffer=4)
    plan = epoch_plan(stream.shards, 0, 3, rank * workers + worker, world * workers)
    keys = []
    for _shard, _pos, sample in stream._read(plan):
        keys.append(sample["__key__"])
    return keys


@pytest.mark.parametrize("fixture", ["five_shards", "one_shard"])
def test_ddp_ranks_disjoint_and_cover_epoch(fixture, request):
    data = request.getfixturevalue(fixture)
    all_keys = {s["__key__"] for s in shards.open_dataset(data).iter_samples(fields=())}
    for world, workers in ((2, 1), (2, 2)):
        per_reader = [_epoch_keys(data, r, world, workers, w) for r in range(world) for w in range(workers)]
        flat = [k for keys in per_reader for k in keys]
        assert len(flat) == len(set(flat)), "a sample was read twice in one epoch"
        assert set(flat) == all_keys, "the readers do not cover the epoch"
        assert all(per_reader), "a reader got nothing"


def test_stream_rank_split_through_iterator(five_shards):
    """Two ranks' streams (infinite) deliver disjoint keys in their first epoch."""
    n = sum(s.samples for s in list_shards([five_shards]))
    firsts = []
    for rank in range(2):
        stream = ShardStream([five_shards], (28, 42), seed=3, rank=rank, world=2, buffer=4)
        count = sum(len(p) for _, p in epoch_plan(stream.shards, 0, 3, rank, 2))
        it = iter(stream)
        firsts.append([next(it)["key"] for _ in range(count)])
    assert not set(firsts[0]) & set(firsts[1])
    assert len(set(firsts[0]) | set(firsts[1])) == n


def test_dataloader_workers_split_epoch(five_shards):
    stream = ShardStream([five_shards], (28, 42), seed=0, buffer=8)
    loader = DataLoader(stream, batch_size=1, num_workers=2)
    keys = []
    it = iter(loader)
    plans = [sum(len(p) for _, p in epoch_plan(stream.shards, 0, 0, w, 2)) for w in range(2)]
    for _ in range(2 * min(plans)):
        keys.append(next(it)["key"][0])
    del it
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("repeats", [1, 2])
def test_shuffle_buffer_order_and_resume_skip(one_shard, repeats):
    perm = shuffle_buffer_order(50, 8, np.random.default_rng(0))
    assert sorted(perm) == list(range(50)) and all(perm[k] < k + 8 for k in range(50))
    full = ShardStream([one_shard], (28, 42), seed=2, buffer=3, repeats=repeats)
    it = iter(full)
    ref = [next(it) for _ in range(7 * repeats + 3)]  # crosses an epoch boundary (7 samples per epoch)
    resumed = iter(ShardStream([one_shard], (28, 42), seed=2, buffer=3, skip=[6], repeats=repeats))
    for want in ref[6:]:
        got = next(resumed)
        assert got["key"] == want["key"]
        assert torch.equal(got["depth"], want["depth"]) and torch.equal(got["rgb"], want["rgb"])
        assert torch.equal(got["keep"], want["keep"])
    epoch = [r["key"] for r in ref[:7 * repeats]]
    keys = [s["__key__"] for s in shards.open_dataset(one_shard).iter_samples(())]
    assert sorted(epoch) == sorted(keys * repeats)


def test_intrinsics_follow_crop_resize_flip():
    h, w = 120, 160
    K = np.array([[150.0, 0, 79.5], [0, 140.0, 59.5], [0, 0, 1]])
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    rgb = np.zeros((h, w, 3), np.uint8)
    cfg = AugmentConfig(hflip=0.5, color_jitter=0, jpeg=0, motion_blur=0, shot_noise=0)
    flips = []
    for seed in range(6):
        out_rgb, maps, K2 = augment(rgb, {"u": u, "v": v}, K, (28, 42), cfg, np.random.default_rng(seed))
        assert out_rgb.shape == (28, 42, 3)
        ou, ov = np.meshgrid(np.arange(42), np.arange(28))
        # a pixel's ray must be the ray of the source pixel it was sampled from (mirrored in x after a
        # flip: the flipped image is a camera looking at the mirrored scene, K with cx -> W - 1 - cx)
        flipped = maps["u"][0, 0] > maps["u"][0, -1]
        x_src, y_src = (maps["u"] - K[0, 2]) / K[0, 0], (maps["v"] - K[1, 2]) / K[1, 1]
        x_src = -x_src if flipped else x_src
        flips.append(flipped)
        x_out, y_out = (ou - K2[0, 2]) / K2[0, 0], (ov - K2[1, 2]) / K2[1, 1]
        tol_x, tol_y = 1.0 / K[0, 0] * (1 + 160 / 42), 1.0 / K[1, 1] * (1 + 120 / 28)
        assert np.abs(x_src - x_out).max() <= tol_x and np.abs(y_src - y_out).max() <= tol_y
    assert any(flips) and not all(flips)


def test_block_levels_are_seeded_and_ordered():
    gt = np.full((96, 128), 3.0, np.float32)
    gt[:, :10] = 0.0  # no GT stays a hole
    holes = []
    for i, level in enumerate(LEVELS.values()):
        a = corrupt_depth(gt, level, np.random.default_rng([0, i, 7]))
        b = corrupt_depth(gt, level, np.random.default_rng([0, i, 7]))
        assert np.array_equal(a, b) and (a[:, :10] == 0).all()
        ok = a > 0
        assert np.allclose(a[ok], 3.0, atol=0.6) and np.abs(a[ok] * 1000 - np.round(a[ok] * 1000)).max() < 0.01
        holes.append(1 - ok[:, 10:].mean())
    assert holes == sorted(holes) and holes[0] >= 0.1 and holes[-1] >= 0.7


def test_missing_field_names_shard_and_field(tmp_path):
    out = tmp_path / "nofield"
    shards.init_dataset(out, "raw", {"test": "missing rgb"})
    with shards.ShardWriter(out, "bad-000000", required=("depth_rgb",)) as writer:
        sample = fixture_sample("k0-v0", (28, 42), np.random.default_rng(0), 0, 0, 0)
        del sample["rgb"]
        writer.add(sample)
    with pytest.raises(DatasetError, match=r"bad-000000\.tar.*'rgb'"):
        next(iter(ShardStream([out], (28, 42))))


def test_empty_and_missing_data_dirs(tmp_path):
    shards.init_dataset(tmp_path / "empty", "raw", {})
    with pytest.raises(DatasetError, match="empty"):
        ShardStream([tmp_path / "empty"], (28, 42))
    with pytest.raises(DatasetError, match="nowhere"):
        ShardStream([tmp_path / "nowhere"], (28, 42))
