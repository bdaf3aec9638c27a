"""Render speed and memory per quality preset, at full resolution, through the real `render` path.

For each quality: one procedural scene, V views, one worker process. Prints seconds per sample by
stage (scene build amortised over the views, RGB, IR pair, GT, encode+write, other = pattern/setup/
noise), CPU seconds per sample (all Cycles threads), peak resident memory of the worker, the IR-to-RGB
render-time ratio and the bytes per sample on disk, against the targets (2 cores, full resolution:
preview <= 5 s, default <= 30 s per sample, <= 4 GB per worker).

The machine is shared: the 1-minute load average before and after each run is printed, since wall
times stretch when other processes take the cores (CPU seconds / cores is the uncontended estimate).

    python benchmarks/render_speed.py [--qualities preview,default,paper] [--views 3,2,1] [--scale 1]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_S = {"preview": 5.0, "default": 30.0}
TARGET_GB = 4.0


def one(quality: str, views: int, scale: float, out: Path, source: str) -> dict:
    """Run in a child process: render one scene x ``views`` and report timings + worker memory."""
    from synth.render import RenderConfig, run_render
    from synth.rig import RigRanges

    cfg = RenderConfig(out=out, scenes=1, samples=views, unit_views=views, quality=quality, scale=scale,
                       seed=123, workers=1, ranges=RigRanges(scale=scale), scene_source=source,
                       progress=False)
    s = run_render(cfg)
    if s.failures:
        raise SystemExit(f"benchmark render failed: {s.failures}")
    from synth.shards import open_dataset

    total_bytes = open_dataset(out).manifest["bytes"]
    return {"samples": s.rendered_samples, "stages": s.stage_seconds, "build_s": s.build_seconds,
            "wall_s": s.seconds, "bytes": total_bytes,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qualities", default="preview,default,paper")
    ap.add_argument("--views", default="3,2,1", help="views per quality (same order)")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--scene-source", default="procedural")
    ap.add_argument("--one", nargs=2, metavar=("QUALITY", "VIEWS"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.scale, args.out, args.scene_source)))
        return
    qualities = args.qualities.split(",")
    views = [int(v) for v in args.views.split(",")]
    cores = os.cpu_count()
    print(f"render_speed: {cores} cores, scale {args.scale}, scene source {args.scene_source}")
    print(f"{'quality':8} {'views':>5} {'build':>6} {'rgb':>6} {'ir_pair':>7} {'gt':>5} {'enc+wr':>6} "
          f"{'other':>5} {'total':>6} {'cpu':>6} {'cpu/cores':>9} {'ir/rgb':>6} {'MB/smp':>6} {'peakGB':>6} "
          f"{'load':>9}  target")
    results = {}
    for q, v in zip(qualities, views):
        load0 = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix=f"bench-{q}-") as tmp:
            res = subprocess.run([sys.executable, __file__, "--one", q, str(v), "--scale", str(args.scale),
                                  "--scene-source", args.scene_source, "--out", str(Path(tmp) / "out")],
                                 capture_output=True, text=True, cwd=ROOT)
        load1 = os.getloadavg()[0]
        if res.returncode != 0:
            print(f"{q}: FAILED {res.stderr.strip()[-400:]}")
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        n = r["samples"]
        st = {k: val / n for k, val in r["stages"].items()}
        build = sum(r["build_s"]) / n
        other = st.get("setup", 0) + st.get("post", 0)
        total = build + st["rgb"] + st["ir_pair"] + st["gt"] + st["encode_write"] + other
        ratio = st["ir_pair"] / st["rgb"]
        target = TARGET_S.get(q)
        verdict = "-" if target is None else ("OK" if total <= target else "OVER") + f" (<= {target:.0f} s)"
        mem = "OK" if r["peak_rss_gb"] <= TARGET_GB else "OVER"
        print(f"{q:8} {n:5d} {build:6.2f} {st['rgb']:6.2f} {st['ir_pair']:7.2f} {st['gt']:5.2f} "
              f"{st['encode_write']:6.2f} {other:5.2f} {total:6.2f} {st['cpu']:6.1f} {st['cpu'] / cores:9.2f} "
              f"{ratio:6.2f} {r['bytes'] / n / 1e6:6.2f} {r['peak_rss_gb']:6.2f} {load0:4.1f}>{load1:4.1f}  "
              f"time {verdict}, memory {mem} (<= {TARGET_GB:.0f} GB)")
        results[q] = {"seconds_per_sample": round(total, 2), "cpu_seconds_per_sample": round(st["cpu"], 2),
                      "ir_to_rgb": round(ratio, 3), "bytes_per_sample": int(r["bytes"] / n),
                      "peak_rss_gb": round(r["peak_rss_gb"], 2)}
    print("seconds per sample by stage (wall); cpu = CPU seconds of the worker per sample (Cycles threads "
          "+ Python, excluding scene build and encode); load = 1-min load average before>after")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
