"""SGM speed: torch `sgm.match` vs OpenCV StereoSGBM MODE_HH on a 720x960 speckle pair, 128 disparities.

    python benchmarks/sgm_speed.py [--repeats 3] [--threads 1,2] [--presets generic,d435]

The pair is an analytic textured slanted plane (sgm.synthetic, exact GT disparity 30..110 px).
For each thread count, prints best-of-N wall time per matcher, the torch / OpenCV ratio, the
best-of-N process CPU time (all threads; less disturbed by other processes than the wall time, which
also counts waiting for a core), density and accuracy against the GT on x >= 128 (outside the band
OpenCV never matches), and peak memory: the resident-set growth (resource.getrusage maxrss) of a
fresh subprocess per matcher. Subprocesses run with OMP_WAIT_POLICY=PASSIVE like `cli.py sgm` (spinning
OpenMP workers collapse when other processes share the cores). The load average is printed because
other processes on the machine distort the times. With CUDA present, the GPU time is printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEIGHT, WIDTH, DISPARITIES = 720, 960, 128


def speckle_pair() -> dict:
    """720x960 random-dot slanted plane: fx 600 px, baseline 0.1 m, z 0.55..2 m."""
    from sgm.synthetic import StereoScene, render_pair
    scene = StereoScene(width=WIDTH, height=HEIGHT, fx=600.0, baseline_m=0.1, z0_m=0.9,
                        slope_x=0.8, slope_y=0.2, dot_size_m=0.9 / 600.0 * 1.5, supersample=2)
    return render_pair(scene, seed=7)


def run_matcher(kind: str, preset: str, device: str, repeats: int, threads: int) -> dict:
    """Time one matcher in this process; returns seconds (best of repeats) and quality figures."""
    import resource

    import cv2
    import torch

    import sgm
    from sgm.opencv_backend import reference_sgbm
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    pair = speckle_pair()
    left, right, gt = pair["left"], pair["right"], pair["disparity"]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        if kind == "opencv":
            raw = reference_sgbm(DISPARITIES).compute(left, right)
            disp = np.where(raw > 0, raw.astype(np.float32) / 16.0, 0.0)
        else:
            disp = sgm.match(left, right, max_disparity=DISPARITIES, preset=preset, device=device)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024.0
    scored = np.zeros_like(gt, bool)
    scored[:, DISPARITIES:] = True
    d, g = disp[scored], gt[scored]
    valid = d > 0
    err = np.abs(d - g)[valid]
    return {"seconds": min(times), "cpu_seconds": min(cpu_times), "density": 100.0 * valid.mean(),
            "mae": float(err.mean()), "bad1": 100.0 * float(np.mean(~valid | (np.abs(d - g) > 1))),
            "peak_mb": peak_mb}


def measure(kind: str, preset: str, device: str, repeats: int, threads: int) -> dict:
    """run_matcher in a fresh subprocess so peak RSS belongs to that matcher alone."""
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
            f"from sgm_speed import run_matcher; "
            f"print(json.dumps(run_matcher({kind!r}, {preset!r}, {device!r}, {repeats}, {threads})))")
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per matcher (best is kept)")
    parser.add_argument("--threads", default="1,2", help="comma-separated CPU thread counts (torch and OpenCV)")
    parser.add_argument("--presets", default="generic,d435", help="torch presets to time")
    args = parser.parse_args()
    import torch
    print(f"{HEIGHT}x{WIDTH} random-dot slanted plane, {DISPARITIES} disparities, best of {args.repeats}, "
          f"scored on x >= {DISPARITIES}; load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'matcher':<16} {'device':<6} {'threads':>7} {'time s':>7} {'x OpenCV':>8} {'cpu s':>6} "
          f"{'density %':>9} {'bad-1 %':>8} {'MAE px':>7} {'peak MB':>8}")
    for threads in (int(t) for t in args.threads.split(",")):
        rows = [("opencv HH", "cpu", measure("opencv", "", "cpu", args.repeats, threads))]
        for preset in args.presets.split(","):
            rows.append((f"torch {preset}", "cpu", measure("torch", preset, "cpu", args.repeats, threads)))
            if torch.cuda.is_available():
                rows.append((f"torch {preset}", "cuda", measure("torch", preset, "cuda", args.repeats, threads)))
        ref = rows[0][2]["seconds"]
        for name, device, m in rows:
            print(f"{name:<16} {device:<6} {threads:>7} {m['seconds']:7.3f} {m['seconds'] / ref:8.2f} "
                  f"{m['cpu_seconds']:6.3f} {m['density']:9.2f} {m['bad1']:8.2f} {m['mae']:7.3f} {m['peak_mb']:8.0f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}" +
          ("" if torch.cuda.is_available() else "; CUDA: not available on this machine"))


if __name__ == "__main__":
    main()
