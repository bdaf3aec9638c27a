"""Streaming training data: shards are read one after another (never random access), split across DDP
ranks and DataLoader workers, shuffled through a buffer, augmented and masked in the workers.

Split, per epoch: the shard list (all ``--data`` dirs, shard name order) is permuted with
``rng([seed, epoch])`` (same on every rank). With T = world x workers readers and at least T shards,
reader g takes shards g, g+T, ...; with fewer shards the epoch's sample sequence is cut into T contiguous
runs (sample granularity). Either way no sample is read twice per epoch and every sample is read once.
Each reader's stream is infinite (epoch after epoch), so ranks never run dry at different steps.

Determinism: each sample's augmentation and masking use ``rng([seed, epoch, shard, position])``
(independent of the split), the shuffle order ``rng([seed, epoch, rank, worker])``. The order of a
reader's outputs depends only on indices, so a resumed run skips exactly the samples already consumed.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from mdm.augment import AugmentConfig, augment
from mdm.block_masks import corrupt_depth, random_training_level
from mdm.masking import MASK_RATIO_RANGE, P_MIXED, patch_valid_fraction, sample_depth_keep
from synth.shards import DatasetError, ShardError, iter_shard, open_dataset, read_json

TRAIN_FIELDS = ("rgb", "depth_rgb", "sensor_depth")


@dataclass(frozen=True)
class ShardInfo:
    """One shard of the training set: path, sample count, index in the combined shard list, and the path
    of its record (read when the shard is opened, to check every sample's bytes against it)."""

    path: Path
    samples: int
    index: int
    record_path: Path | None = None


def list_shards(dirs: Sequence[Path]) -> list[ShardInfo]:
    """Shards of every dataset directory (shard name order). Raises DatasetError naming an empty dir."""
    if not dirs:
        raise DatasetError("no data directory given")
    out: list[ShardInfo] = []
    for d in dirs:
        ds = open_dataset(Path(d))
        recs = [r for r in ds.records if int(r.get("samples", 0)) > 0]
        if not recs:
            raise DatasetError(f"dataset directory {d} has no samples (no finished non-empty shard)")
        for rec in recs:
            path = ds.shard_path(rec["name"])
            if not path.exists():
                raise DatasetError(f"shard {path} has a record in {ds.root} but is missing")
            out.append(ShardInfo(path, int(rec["samples"]), len(out), ds.record_path(rec["name"])))
    return out


def _record(shard: ShardInfo) -> dict | None:
    return read_json(shard.record_path, "record") if shard.record_path else None


def epoch_plan(shards: Sequence[ShardInfo], epoch: int, seed: int, reader: int, readers: int
               ) -> list[tuple[ShardInfo, list[int]]]:
    """This reader's (shard, sample positions) for one epoch, in reading order."""
    order = [shards[i] for i in np.random.default_rng([seed, epoch]).permutation(len(shards))]
    if len(order) >= readers:
        return [(s, list(range(s.samples))) for i, s in enumerate(order) if i % readers == reader]
    total = sum(s.samples for s in order)
    if total < readers:
        raise DatasetError(f"the data has {total} samples, fewer than ranks x workers = {readers}; "
                           f"use fewer --workers")
    bounds = np.linspace(0, total, readers + 1).round().astype(int)
    lo, hi = bounds[reader], bounds[reader + 1]
    plan, start = [], 0
    for s in order:
        positions = [p for p in range(s.samples) if lo <= start + p < hi]
        if positions:
            plan.append((s, positions))
        start += s.samples
    return plan


def shuffle_buffer_order(n: int, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """Order in which a shuffle buffer of ``buffer`` slots emits items 0..n-1 read in sequence: fill the
    buffer, then repeatedly emit a random slot and refill it with the next item. Item perm[k] is always
    among the first k + buffer items read."""
    slots = list(range(min(buffer, n)))
    nxt, out = len(slots), []
    while slots:
        j = int(rng.integers(len(slots)))
        out.append(slots[j])
        if nxt < n:
            slots[j] = nxt
            nxt += 1
        else:
            slots[j] = slots[-1]
            slots.pop()
    return np.asarray(out, dtype=np.int64)


def check_sample(sample: dict, shard: str) -> None:
    """Raise DatasetError naming shard, sample and field if a training field is missing or inconsistent."""
    key = sample.get("__key__", "?")
    for name in ("rgb", "depth_rgb", "meta"):
        if name not in sample:
            raise DatasetError(f"{shard} [{key}]: missing field {name!r}")
    if "K_rgb" not in sample["meta"]:
        raise DatasetError(f"{shard} [{key}]: meta lacks 'K_rgb'")
    hw = sample["rgb"].shape[:2]
    for name in ("depth_rgb", "sensor_depth"):
        if name in sample and sample[name].shape[:2] != hw:
            raise DatasetError(f"{shard} [{key}]: field {name!r} is {sample[name].shape[:2]} but rgb is {hw}")


def make_example(sample: dict, size: tuple[int, int], rng: np.random.Generator, aug: AugmentConfig,
                 block_prob: float, patch: int, mask_ratio: tuple[float, float] = MASK_RATIO_RANGE,
                 mask_mixed: float = P_MIXED) -> dict:
    """Decoded sample -> training example at ``size`` (H, W): rgb uint8 (3, H, W), input depth (H, W) m
    (sensor depth, or GT with random blocks + noise), target GT (H, W) m (0 = none), keep (N,), K (3, 3)."""
    depths = {"gt": sample["depth_rgb"]}
    if "sensor_depth" in sample:
        depths["sensor"] = sample["sensor_depth"]
    rgb, depths, K = augment(sample["rgb"], depths, np.asarray(sample["meta"]["K_rgb"]), size, aug, rng)
    depths["gt"] = np.nan_to_num(depths["gt"].astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if "sensor" in depths and rng.random() >= block_prob:
        inp = depths["sensor"].astype(np.float32) / 1000.0
    else:
        inp = corrupt_depth(depths["gt"], random_training_level(rng), rng)
    keep = sample_depth_keep(patch_valid_fraction(inp > 0, patch), rng, mask_ratio, mask_mixed)
    return {"rgb": torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
            "depth": torch.from_numpy(np.ascontiguousarray(inp, dtype=np.float32)),
            "target": torch.from_numpy(np.ascontiguousarray(depths["gt"])),
            "keep": torch.from_numpy(keep), "K": torch.from_numpy(K.astype(np.float32)),
            "key": sample["__key__"]}


class ShardStream(IterableDataset):
    """Infinite stream of training examples for one rank (see module docstring).

    ``skip[worker]`` = examples this rank's worker already delivered (resume); ``world``/``rank`` = DDP;
    ``repeats`` = differently augmented (and masked) examples made from each decoded sample, shuffled
    apart by the buffer (repeated augmentation: decoding a full-size frame costs more than a step
    consumes on a small CPU).
    """

    def __init__(self, dirs: Sequence[Path], size: tuple[int, int], *, seed: int = 0, rank: int = 0,
                 world: int = 1, buffer: int = 64, aug: AugmentConfig = AugmentConfig(),
                 block_prob: float = 0.3, patch: int = 14, skip: Sequence[int] | None = None,
                 repeats: int = 1, mask_ratio: tuple[float, float] = MASK_RATIO_RANGE,
                 mask_mixed: float = P_MIXED):
        super().__init__()
        self.repeats = max(1, int(repeats))
        self.shards = list_shards([Path(d) for d in dirs])
        self.size, self.seed, self.rank, self.world = tuple(size), seed, rank, world
        self.buffer, self.aug, self.block_prob, self.patch = buffer, aug, block_prob, patch
        self.mask_ratio, self.mask_mixed = tuple(mask_ratio), mask_mixed
        self.skip = list(skip) if skip else None

    def reader(self) -> tuple[int, int, int]:
        """(worker id, readers = world x workers, global reader id) of the calling process."""
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        return worker, self.world * workers, self.rank * workers + worker

    def _read(self, plan) -> Iterator[tuple[ShardInfo, int, dict]]:
        for shard, positions in plan:
            wanted, last = set(positions), positions[-1]
            try:
                samples = iter_shard(shard.path, TRAIN_FIELDS, record=_record(shard))
                for pos, sample in enumerate(samples):
                    if pos in wanted:
                        check_sample(sample, shard.path.name)
                        yield shard, pos, sample
                    if pos >= last:
                        break
            except ShardError as exc:  # re-raise as a single-message error (survives worker pickling)
                raise DatasetError(str(exc)) from None

    def __iter__(self) -> Iterator[dict]:
        cv2.setNumThreads(1)
        worker, readers, reader = self.reader()
        skip = self.skip[worker] if self.skip else 0
        r = self.repeats
        for epoch in itertools.count():
            plan = epoch_plan(self.shards, epoch, self.seed, reader, readers)
            n = sum(len(p) for _, p in plan) * r  # examples: sample i makes examples i*r .. i*r+r-1
            if skip >= n:
                skip -= n
                continue
            perm = shuffle_buffer_order(n, self.buffer, np.random.default_rng([self.seed, epoch, reader]))
            rank_of = np.empty(n, np.int64)
            rank_of[perm] = np.arange(n)
            ready: dict[int, dict] = {}
            k = 0
            for item, (shard, pos, sample) in enumerate(self._read(plan)):
                for rep in range(r):
                    ex = item * r + rep
                    if rank_of[ex] >= skip:
                        rng = np.random.default_rng([self.seed, epoch, shard.index, pos, rep])
                        ready[ex] = make_example(sample, self.size, rng, self.aug, self.block_prob, self.patch,
                                                 self.mask_ratio, self.mask_mixed)
                while k < n and perm[k] < (item + 1) * r:
                    if k >= skip:
                        yield ready.pop(int(perm[k]))
                    k += 1
            skip = 0


def worker_skips(batches: int, batch_size: int, workers: int) -> list[int]:
    """Examples each DataLoader worker delivered after ``batches`` batches (workers take turns)."""
    w = max(workers, 1)
    return [(batches // w + (1 if i < batches % w else 0)) * batch_size for i in range(w)]


def make_loader(stream: ShardStream, batch_size: int, workers: int) -> DataLoader:
    return DataLoader(stream, batch_size=batch_size, num_workers=workers, persistent_workers=workers > 0,
                      prefetch_factor=4 if workers else None, pin_memory=False)
