"""MDM speed: training samples/s of `cli.py train` per model and crop size, the loader's share of a step.

    python benchmarks/mdm_speed.py [--data DIR] [--models tiny,small] [--sizes 168x224,336x448] [--smooth guided,harmonic]
                                   [--batch 8] [--steps 12] [--warmup 2] [--workers 2] [--threads 0]
                                   [--repeats 4] [--loader-batches 40]

Data: ``--data`` (rendered shards), else an analytic fixture of 24 full-resolution (960x1280) views
written once to a temporary directory (mdm.synthetic), so PNG/EXR decoding costs what real shards cost.

Training: for each model and size, the real command in a fresh subprocess, ``python cli.py train --data DATA
--out TMP --model M --size S --steps N --batch B --workers W --threads T --repeats R``; its ``log.csv`` has
one row per step with ``wait_s`` (s blocked on the DataLoader for the batch) and ``step_s`` (s of forward,
backward, AdamW, grad clip). The first ``--warmup`` steps (worker start-up, allocator warm-up) are dropped.
Figures over the remaining steps: samples/s = batch / mean(wait_s + step_s); loader wait = sum(wait_s) /
sum(wait_s + step_s), the share of training time spent waiting for data (near 0 % = the loader is not the
bottleneck); peak RSS = the largest resident set of the run's processes (trainer, or a loader worker it
reaped; os.wait4 ru_maxrss).

Loader alone: batches/s of the DataLoader with ``--workers`` processes (shard decode, crop, augmentation,
masking, ``--repeats`` examples per decoded frame), after the first batch, in a fresh subprocess per size,
without training competing for the cores. loader/train = loader-alone samples/s / training samples/s: the
headroom of the loader at that model and size.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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


def _loader_in_subprocess(**kw) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
            f"import mdm_speed; print(json.dumps(mdm_speed.measure_loader(**{kw!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"loader measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_train(data: str, model: str, size: str, batch: int, steps: int, warmup: int, workers: int,
                  threads: int, repeats: int, smooth: str = "guided") -> dict:
    """Run ``cli.py train`` and summarise its log.csv after ``warmup`` steps (times in s, RSS in MB)."""
    from mdm.train import read_log

    with tempfile.TemporaryDirectory(prefix="mdm_speed_") as tmp:
        run, err_path = Path(tmp) / "run", Path(tmp) / "stderr.txt"
        cmd = [sys.executable, str(ROOT / "cli.py"), "train", "--data", data, "--out", str(run), "--model", model,
               "--size", size, "--steps", str(steps), "--batch", str(batch), "--workers", str(workers),
               "--threads", str(threads), "--repeats", str(repeats), "--smooth", smooth]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        with open(err_path, "w") as err:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)  # this run's rusage (subprocess.wait would not give it)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err_path.read_text()[-3000:]}")
        rows = read_log(run / "log.csv")[warmup:]
    wait = [float(r["wait_s"]) for r in rows]
    wall = [float(r["wait_s"]) + float(r["step_s"]) for r in rows]
    return {"model": model, "size": size, "smooth": smooth, "batch": batch, "timed_steps": len(rows),
            "samples_per_s": batch * len(wall) / sum(wall), "step_wall_s": sum(wall) / len(wall),
            "wait_share": sum(wait) / sum(wall), "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="shard dataset (default: a 960x1280 analytic fixture, made once)")
    ap.add_argument("--models", default="tiny,small", help="comma-separated model sizes (default tiny,small)")
    ap.add_argument("--sizes", default="168x224,336x448", help="comma-separated crops HxW px (default 168x224,336x448)")
    ap.add_argument("--smooth", default="guided",
                    help="comma-separated train --smooth fills to time (default guided; guided,harmonic = "
                         "the prior before it, for the ratio)")
    ap.add_argument("--batch", type=int, default=8, help="samples per step (default 8)")
    ap.add_argument("--steps", type=int, default=12, help="training steps per run, warm-up included (default 12)")
    ap.add_argument("--warmup", type=int, default=2, help="first logged steps left out of the figures (default 2)")
    ap.add_argument("--workers", type=int, default=2, help="loader worker processes (default 2)")
    ap.add_argument("--threads", type=int, default=0, help="train --threads: torch threads, 0 = torch's default")
    ap.add_argument("--repeats", type=int, default=4, help="examples per decoded sample, as train --repeats (default 4)")
    ap.add_argument("--loader-batches", type=int, default=40,
                    help="timed batches of the loader alone (default 40; the 2 x 4 prefetched at the start are a small part)")
    args = ap.parse_args()
    if args.steps <= args.warmup:
        ap.error(f"--steps {args.steps} leaves no timed step after --warmup {args.warmup}")
    models, sizes = args.models.split(","), args.sizes.split(",")
    data = args.data
    if data is None:
        data = str(Path(tempfile.gettempdir()) / "mdm_speed_fixture_960x1280")
        if not (Path(data) / "dataset.json").exists():
            from mdm.synthetic import write_fixture_dataset
            write_fixture_dataset(Path(data), 24, size=(960, 1280), shard_size=8, seed=11, progress=True)
    print(f"data {data}; batch {args.batch}, {args.workers} workers, threads {args.threads or 'default'}, "
          f"{args.steps} steps ({args.steps - args.warmup} timed)")
    results = []
    for size in sizes:
        hw = tuple(int(v) for v in size.split("x"))
        loader = _loader_in_subprocess(data=data, size=hw, batch=args.batch, batches=args.loader_batches,
                                       workers=args.workers, repeats=args.repeats)
        print(f"loader alone {size}: {loader['samples_per_s']:.1f} samples/s")
        for model in models:
            for smooth in args.smooth.split(","):
                r = measure_train(data, model, size, args.batch, args.steps, args.warmup, args.workers,
                                  args.threads, args.repeats, smooth)
                r |= {"loader_samples_per_s": loader["samples_per_s"],
                      "loader_over_train": loader["samples_per_s"] / r["samples_per_s"]}
                results.append(r)
                print(f"train {model} {size} --smooth {smooth}: {r['samples_per_s']:.2f} samples/s, "
                      f"loader wait {r['wait_share']:.0%}")
    print("\n| model | size | smooth | train samples/s | step s | loader wait | loader alone samples/s | loader/train "
          "| peak RSS MB (largest process) |\n|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['size']} | {r['smooth']} | {r['samples_per_s']:.2f} | {r['step_wall_s']:.3f} | "
              f"{r['wait_share']:.1%} | {r['loader_samples_per_s']:.1f} | {r['loader_over_train']:.1f}x | "
              f"{r['peak_rss_mb']:.0f} |")
    print(json.dumps({"data": data, "batch": args.batch, "workers": args.workers, "threads": args.threads,
                      "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "results": results}))


if __name__ == "__main__":
    main()
