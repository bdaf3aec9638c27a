#!/usr/bin/env python3
"""Bookkeeping of the paper plan (442 scenes x 10M samples = 312,686 shards) without rendering.

Fills a temporary raw dataset with fake shards and realistic records (32 keys, 32 per-sample sha256,
per-sample timings of 7 stages) up to 1k, 10k, 100k and 312,686 shards, and at each size measures:

* one real ``ShardWriter.close`` (a one-sample shard: tar, fsync, rename, record) - p50 / p99 of 40;
* the reference: the format-1 close, which rebuilt the global manifest from every record under a lock
  (``rebuild_v1``, re-implemented here as it was, measured on the same records);
* building the full index from scratch (no cached folder index), and updating it after one new shard;
* ``status`` (plan + listing; render's "what is left"), ``verify --level structure``; peak memory.

Targets (issue 12): close <= 20 ms at every size (flat); status <= 30 s and full index <= 60 s at
312,686 shards on a 2-core machine.

Usage: python benchmarks/farm_scale.py [--sizes 1000,10000,100000,312686] [--dir /tmp/x] [--keep]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synth import shards  # noqa: E402

FAKE_SHARD = os.urandom(10_000)
FAKE_SHA = hashlib.sha256(FAKE_SHARD).hexdigest()
STAGES = ("scene_build", "rgb", "ir_pair", "gt", "encode_write", "total", "sgm")


def fake_record(name: str, index: int) -> dict:
    keys = [f"s{index % 442:05d}-v{(index * 32 + v):06d}" for v in range(32)]
    return {"name": name, "samples": 32, "keys": keys, "bytes": len(FAKE_SHARD), "sha256": FAKE_SHA,
            "sample_sha256": [hashlib.sha256(k.encode()).hexdigest() for k in keys],
            "timings": shards.timings_by_stage([{s: round(10 + v * 0.001, 4) for s in STAGES} for v in range(32)]),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": "node-17",
            "code_version": "0.1.0+gbench", "unit": {"shard_index": index}}


def fill(root: Path, start: int, stop: int) -> None:
    """Fake shards start..stop-1 written directly (no fsync: this is set-up, not what is measured)."""
    layout = shards.Layout(shards.FORMAT_VERSION)
    for i in range(start, stop):
        name = shards.shard_name("raw", i)
        sp, rp = layout.shard_path(root, name), layout.record_path(root, name)
        if i % shards.FOLDER_SIZE == 0 or i == start:
            sp.parent.mkdir(parents=True, exist_ok=True)
            rp.parent.mkdir(parents=True, exist_ok=True)
        sp.write_bytes(FAKE_SHARD)
        rp.write_text(json.dumps(fake_record(name, i), sort_keys=True))


def rebuild_v1(root: Path) -> None:
    """The format-1 close's shared step: read every record, rewrite one manifest (the reference)."""
    records = {}
    for folder in sorted((root / shards.RECORDS).iterdir()):
        for path in sorted(folder.glob("*.json")):
            rec = json.loads(path.read_text())
            records[rec["name"]] = rec
    manifest = {"shards": [records[n] for n in sorted(records)],
                "samples": sum(r["samples"] for r in records.values())}
    shards.atomic_write_json(root / "manifest-v1.json", manifest)


def time_closes(root: Path, first_index: int, n: int, sample: dict) -> list[float]:
    times = []
    for j in range(n):
        w = shards.ShardWriter(root, shards.shard_name("raw", first_index + j))
        w.add(dict(sample, __key__=f"bench-{first_index + j}"))
        t0 = time.perf_counter()
        w.close()
        times.append(time.perf_counter() - t0)
    return times


def status_seconds(root: Path) -> float | None:
    try:
        from synth.status import job_status  # the farm layer's status (plan + listings)
    except ImportError:
        try:
            from synth.farm import job_status
        except ImportError:
            return None
    t0 = time.perf_counter()
    job_status(root)
    return time.perf_counter() - t0


def write_plan(root: Path) -> bool:
    """plan.json of the paper plan (442 x 10M), as `render --dry-run` writes it."""
    try:
        from synth import plan as plan_mod
        cfg = plan_mod.RenderConfig(out=root, scenes=442, samples=10_000_000,
                                    unit_views=plan_mod.default_unit_views(442, 10_000_000))
        plan_mod.write_plan(cfg, plan_mod.plan_units(cfg.scenes, cfg.samples, cfg.unit_views), force=True)
        return True
    except (ImportError, AttributeError, TypeError):
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000,312686")
    ap.add_argument("--closes", type=int, default=40)
    ap.add_argument("--reference-max", type=int, default=10_000,
                    help="measure the format-1 reference only up to this many shards (it is linear)")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    from conftest import make_sample

    sample = make_sample("bench", np.random.default_rng(0), ir_hw=(8, 10), rgb_hw=(8, 10))
    base = Path(args.dir or tempfile.mkdtemp(prefix="lbd-farm-scale-"))
    root = base / "raw"
    shards.init_dataset(root, "raw", {"bench": True})
    have_plan = write_plan(root)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, have = [], 0
    spare = 900_000  # close-test shards live above the plan's indices, in their own folders
    print(f"dataset {root}; fake records of {len(json.dumps(fake_record('raw-000000.tar', 0)))} B",
          flush=True)
    for size in sizes:
        t0 = time.perf_counter()
        fill(root, have, size)
        have = size
        print(f"filled {size:,} shards in {time.perf_counter() - t0:.0f} s", flush=True)
        closes = time_closes(root, spare, args.closes, sample)
        for j in range(args.closes):  # remove them again so the sizes stay exact
            name = shards.shard_name("raw", spare + j)
            shards.Layout(2).shard_path(root, name).unlink()
            shards.Layout(2).record_path(root, name).unlink()
        ref = None
        if size <= args.reference_max:
            t0 = time.perf_counter()
            rebuild_v1(root)
            ref = time.perf_counter() - t0
        shutil.rmtree(root / shards.INDEX, ignore_errors=True)
        old = time.time() - 10  # folders last changed > 2 s ago, so their indexes are cached
        for folder in (root / shards.RECORDS).iterdir():
            os.utime(folder, (old, old))
        t0 = time.perf_counter()
        manifest = shards.write_manifest(root)
        index_full = time.perf_counter() - t0
        assert manifest["shards"] == size, manifest["shards"]
        t0 = time.perf_counter()
        shards.write_manifest(root)
        index_cached = time.perf_counter() - t0
        st = status_seconds(root) if have_plan else None
        from synth.verify import verify_dataset
        t0 = time.perf_counter()
        report = verify_dataset(root, level="structure")
        verify_s = time.perf_counter() - t0
        assert report.ok, report.problems[:3]
        t0 = time.perf_counter()
        left = len(shards.recorded_names(root))
        listing = time.perf_counter() - t0
        rows.append({"shards": size, "close_p50_ms": 1e3 * statistics.median(closes),
                     "close_p99_ms": 1e3 * float(np.percentile(closes, 99)),
                     "v1_close_s": ref, "index_full_s": index_full, "index_cached_s": index_cached,
                     "status_s": st, "verify_structure_s": verify_s, "listing_s": listing, "listed": left,
                     "urls": len(manifest["urls"]),
                     "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        print(json.dumps(rows[-1]), flush=True)
    print("\n| shards | close p50 ms | close p99 ms | format-1 close s (reference) | full index s | cached index s "
          "| status s | verify --level structure s | what-is-left listing s | URL patterns | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        def fmt(v, f="{:.2f}"):
            return ("-" if v is None else f.format(v))
        print(f"| {r['shards']:,} | {r['close_p50_ms']:.1f} | {r['close_p99_ms']:.1f} | {fmt(r['v1_close_s'])} "
              f"| {r['index_full_s']:.1f} | {r['index_cached_s']:.2f} | {fmt(r['status_s'])} "
              f"| {r['verify_structure_s']:.1f} | {r['listing_s']:.2f} | {r['urls']} | {r['peak_rss_mb']:.0f} |")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
