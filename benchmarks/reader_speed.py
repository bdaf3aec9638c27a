#!/usr/bin/env python3
"""What checking every shard against its record costs a reader.

Reads a dataset three ways, each pass after one warm-up pass (so the file cache is equally warm):
``open_dataset(DIR, verify=True)`` (per-sample sha256 before a sample is decoded, whole-file sha256 at
the end: the default of every reader), ``verify=False`` (sizes only) and the bare tar read with
nothing checked (``iter_shard`` without a record, the reference). Prints samples/s and MB/s for decoding
every field and for the trainer's fields only (rgb, depth_rgb, sensor_depth).

Usage: python benchmarks/reader_speed.py DIR [--repeat 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synth.shards import iter_shard, open_dataset  # noqa: E402


def read_all(root: Path, mode: str, fields) -> tuple[int, float]:
    ds = open_dataset(root, verify=mode == "verify")
    n, t0 = 0, time.perf_counter()
    for rec in ds.records:
        if mode == "bare":
            it = iter_shard(ds.shard_path(rec["name"]), fields)
        else:
            it = ds.iter_shard(rec["name"], fields)
        for _ in it:
            n += 1
    return n, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    ds = open_dataset(args.data)
    mb = sum(int(r["bytes"]) for r in ds.records) / 1e6
    print(f"{args.data}: {len(ds)} samples, {mb:.1f} MB in {len(ds.records)} shards")
    print("| fields | reader | samples/s | MB/s | x bare |")
    print("|---|---|---|---|---|")
    for label, fields in (("all", None), ("trainer (rgb, depth_rgb, sensor_depth)",
                                          ("rgb", "depth_rgb", "sensor_depth"))):
        read_all(args.data, "bare", fields)  # warm the file cache
        best = {}
        for mode in ("bare", "sizes", "verify"):
            best[mode] = min(read_all(args.data, mode, fields)[1] for _ in range(args.repeat))
        n = len(ds)
        for mode, name in (("bare", "nothing checked (reference)"), ("sizes", "verify=False (sizes)"),
                           ("verify", "verify=True (sha256, default)")):
            print(f"| {label} | {name} | {n / best[mode]:.1f} | {mb / best[mode]:.0f} | "
                  f"{best['bare'] / best[mode]:.2f} |")


if __name__ == "__main__":
    main()
