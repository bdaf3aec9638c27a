"""MDM speed: training samples/s of `tiny` and `small`, data-loader samples/s alone, peak memory.

    python benchmarks/mdm_speed.py [--data DIR] [--size 168x224] [--batch 8] [--steps 6]
                                   [--workers 2] [--threads 0]

Data: ``--data`` (rendered shards), else an analytic fixture of 24 full-resolution (960x1280) views
written once to a temporary directory (mdm.synthetic), so PNG/EXR decoding costs what real shards cost.
Each measurement runs in a fresh subprocess: training = real optimiser steps (forward, backward, AdamW,
grad clip) on batches taken from the real loader beforehand, after one warm-up step; loader = batches/s
of the DataLoader with ``--workers`` processes (shard decode, crop, augmentation, masking), after the
first batch, with ``--repeats`` augmented examples per decoded frame (as ``train --repeats``). Peak memory = max resident set (ru_maxrss) of the measuring process (loader: + workers).
The loader must deliver at least 5x what `tiny` training consumes; the script prints the ratio.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure_train(data: str, model: str, size, batch: int, steps: int, threads: int) -> dict:
    import resource

    import torch

    from mdm.data import ShardStream, make_loader
    from mdm.model import build_model, model_config
    from mdm.train import TrainConfig, param_groups, train_step

    if threads:
        torch.set_num_threads(threads)
    it = iter(make_loader(ShardStream([data], size, seed=0), batch, 0))
    batches = [next(it) for _ in range(steps + 1)]
    net = build_model(model_config(model, tokens=(size[0] // 14) * (size[1] // 14)), seed=0)
    opt = torch.optim.AdamW(param_groups(net, TrainConfig(data=[data], out="-")), betas=(0.9, 0.999))
    train_step(net, net, opt, batches[0], "cpu", False, 1.0)
    t0 = time.perf_counter()
    for b in batches[1:]:
        train_step(net, net, opt, b, "cpu", False, 1.0)
    dt = time.perf_counter() - t0
    return {"samples_per_s": steps * batch / dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "params_m": sum(p.numel() for p in net.parameters()) / 1e6, "threads": torch.get_num_threads()}


def measure_loader(data: str, size, batch: int, batches: int, workers: int, repeats: int) -> dict:
    import resource

    from mdm.data import ShardStream, make_loader

    it = iter(make_loader(ShardStream([data], size, seed=0, repeats=repeats), batch, workers))
    next(it)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    dt = time.perf_counter() - t0
    del it
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"samples_per_s": batches * batch / dt, "peak_rss_mb": rss / 1024, "workers": workers,
            "repeats": repeats}


def _in_subprocess(kind: str, **kw) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
            f"import mdm_speed; print(json.dumps(mdm_speed.measure_{kind}(**{kw!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{kind} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="shard dataset (default: a 960x1280 analytic fixture, made once)")
    ap.add_argument("--size", default="168x224", help="training crop HxW px (default 168x224)")
    ap.add_argument("--batch", type=int, default=8, help="samples per step (default 8)")
    ap.add_argument("--steps", type=int, default=6, help="timed training steps per model (default 6)")
    ap.add_argument("--loader-batches", type=int, default=12, help="timed loader batches (default 12)")
    ap.add_argument("--workers", type=int, default=2, help="loader worker processes (default 2)")
    ap.add_argument("--repeats", type=int, default=4, help="examples per decoded sample, as train --repeats (default 4)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads for training, 0 = default")
    ap.add_argument("--models", default="tiny,small", help="comma-separated sizes (default tiny,small)")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    data = args.data
    if data is None:
        data = str(Path(tempfile.gettempdir()) / "mdm_speed_fixture_960x1280")
        if not (Path(data) / "dataset.json").exists():
            from mdm.synthetic import write_fixture_dataset
            write_fixture_dataset(Path(data), 24, size=(960, 1280), shard_size=8, seed=11, progress=True)
    print(f"data {data}; crop {size[0]}x{size[1]}, batch {args.batch}")
    loader = _in_subprocess("loader", data=data, size=size, batch=args.batch, batches=args.loader_batches,
                            workers=args.workers, repeats=args.repeats)
    print(f"loader  {loader['samples_per_s']:7.1f} samples/s  ({args.workers} workers, {args.repeats} examples "
          f"per decoded frame)  "
          f"peak RSS {loader['peak_rss_mb']:.0f} MB (main + largest worker)")
    results = {"loader": loader}
    for name in args.models.split(","):
        r = _in_subprocess("train", data=data, model=name, size=size, batch=args.batch, steps=args.steps,
                           threads=args.threads)
        results[name] = r
        print(f"train {name:5s} {r['samples_per_s']:7.2f} samples/s  ({r['params_m']:.1f} M params, "
              f"{r['threads']} threads)  peak RSS {r['peak_rss_mb']:.0f} MB")
    if "tiny" in results:
        ratio = loader["samples_per_s"] / results["tiny"]["samples_per_s"]
        print(f"loader / tiny training = {ratio:.1f}x  ({'OK' if ratio >= 5 else 'BELOW'} the 5x target)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
