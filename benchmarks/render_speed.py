"""Render cost per quality preset through the user's `render` command, and whether the images stay the same.

For each quality, one child process runs exactly what a user runs,
    python cli.py render --scenes S --samples N --quality Q --seed SEED --scale X --out DIR --no-progress
(hidden reference presets such as ``default_ref`` - the pipeline before issue 17 - go through the same
command with its --quality choice widened). Reported per sample:
* CPU seconds = user + system time of the command and every worker it waited for (os.wait4), / N:
  what a farm pays; it includes process start, scene build, pattern, sensor noise, encode and write;
* wall seconds / N (stretches when other jobs share the cores: the 1-min load average is printed);
* per stage, from the shard records: wall seconds (rgb, gt, ir_pair, setup, post) and CPU seconds of the
  renders (cpu_rgb, cpu_gt, cpu_ir_pair: all Cycles/OIDN threads);
* peak resident memory (largest process), and the CPU and wall ratio to the first quality listed.

With two or more qualities the same scenes and views are compared with the first one ("before"):
* GT: depth_ir, depth_rgb (m), disparity (px): largest absolute difference; material/instance masks
  (IR and RGB frames): pixels that differ. Target: identical, or within 1e-4 m / 1e-3 px;
* RGB: PSNR (dB) and SSIM of the developed 8-bit RGB against a reference render of the same view with
  ``--reference`` settings (default ``paper_ref``: the paper preset before issue 17), developed with the
  sample's own camera response (auto-exposure, white balance). Target: not lower than before;
* IR: dot contrast of the left IR frame (std of the 2-px high-pass over the mean, %, GT-valid pixels),
  and SGM (``--sgm`` preset, default d435, as `cli.py sgm` runs it: sgm.dataset.sensor_sample)
  density (% of GT-valid pixels with a disparity) and bad-1 (% of those off by more than 1 px from the
  GT disparity). Target: within 1 point of before (per view the Monte-Carlo noise alone moves them by
  up to ~1 point: compare the means).
Procedural scenes only. The paper-quality RGB reference is the slow part (~5-8 min per view).

    python benchmarks/render_speed.py --qualities default_ref,default --scenes 2 --samples 4  # ~45 min
    python benchmarks/render_speed.py --qualities preview,default,paper --samples 2 --no-compare
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GT_FIELDS = ("depth_ir", "depth_rgb", "disparity", "material", "material_rgb", "instance", "instance_rgb")
STAGES = ("setup", "rgb", "gt", "ir_pair", "post")
CPU_STAGES = ("cpu_rgb", "cpu_gt", "cpu_ir_pair")


# ------------------------------------------------------------------------------------------ children


def run_cli_child(argv: list[str]) -> None:
    """`cli.py render ...` with the hidden reference presets accepted by --quality."""
    import click

    import cli
    from synth import quality
    from synth.commands import render

    for p in render.params:
        if p.name == "quality":
            p.type = click.Choice(list(quality.PRESETS) + list(quality.REFERENCE_PRESETS))
    sys.argv = ["cli.py", *argv]
    cli.cli()


def rgb_reference_child(dataset: Path, quality_name: str, scale: float, seed: int, out: Path) -> None:
    """Render the RGB frame of every sample of ``dataset`` with ``quality_name``'s RGB settings (same scene,
    pose, rig) and develop it with the sample's camera response; save {key: uint8 image} to ``out``."""
    from synth import camera_response, quality
    from synth.blender import ir_mode, passes
    from synth.blender.render_view import ViewRenderer
    from synth.rig import RigRanges
    from synth.shards import open_dataset
    from synth.worker import build

    ds = open_dataset(dataset)
    by_scene: dict[int, list[tuple[str, int, dict]]] = {}
    for s in ds.iter_samples(fields=["meta"]):
        m = s["meta"]
        by_scene.setdefault(int(m["scene_id"]), []).append((s["__key__"], int(m["view_id"]), m))
    q = quality.get(quality_name)
    images = {}
    with tempfile.TemporaryDirectory(prefix="rgbref-") as tmp:
        for scene_id, views in sorted(by_scene.items()):
            built, viewpoints = build({"scene_source": "procedural", "scene_id": scene_id, "seed": seed})
            vr = ViewRenderer(built, q, RigRanges(scale=scale), tmp)
            poses = viewpoints([v for _, v, _ in views])
            for (key, view_id, meta), pose in zip(views, poses):
                setup = vr.prepare_view(seed, scene_id, view_id, pose)
                assert setup.key == key
                ir_mode.set_rgb_mode(vr.scene, vr.projector)
                out_r = passes.render(vr.scene, vr.cameras.rgb, setup.rig.rgb_size, q.rgb, 1234567 + view_id,
                                      os.path.join(tmp, "ref.exr"))
                r = meta["rgb_response"]
                resp = camera_response.RgbResponse(r["exposure_ev"], tuple(r["wb_gains"]), r.get("key", 0.18))
                images[key] = camera_response.develop(out_r.combined, resp)[0]
                print(f"reference {key}: {out_r.seconds:.1f} s", file=sys.stderr, flush=True)
    np.savez_compressed(out, **images)


# ------------------------------------------------------------------------------------------ metrics


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the luma (Gaussian window sigma 1.5, 8-bit constants)."""
    import cv2

    luma = np.array([0.299, 0.587, 0.114])
    x, y = a.astype(np.float64) @ luma, b.astype(np.float64) @ luma
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def g(z):
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = g(x), g(y)
    vx, vy, cxy = g(x * x) - mx * mx, g(y * y) - my * my, g(x * y) - mx * my
    return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean())


def dot_contrast(ir: np.ndarray, valid: np.ndarray) -> float:
    """Std of the high-pass (image minus its 2-px Gaussian blur) over the mean, on ``valid`` pixels (%)."""
    import cv2

    img = ir.astype(np.float64)
    hp = img - cv2.GaussianBlur(img, (0, 0), 2.0)
    return float(100.0 * hp[valid].std() / max(img[valid].mean(), 1e-9))


def image_metrics(sample: dict, rgb_ref: np.ndarray | None, sgm_params) -> dict:
    gt = sample["disparity"]
    valid = gt > 0
    out = {"dot_contrast": dot_contrast(sample["ir_left"], valid)}
    if rgb_ref is not None:
        out |= {"rgb_psnr": psnr(sample["rgb"], rgb_ref), "rgb_ssim": ssim(sample["rgb"], rgb_ref)}
    if sgm_params is not None:
        from sgm.dataset import sensor_sample  # what `cli.py sgm` writes

        d = sensor_sample(sample, sgm_params, "torch", "cpu")["sensor_disparity"]
        hit = valid & (d > 0)
        out["sgm_density"] = 100.0 * hit.sum() / max(valid.sum(), 1)
        out["sgm_bad1"] = 100.0 * (np.abs(d[hit] - gt[hit]) > 1.0).mean() if hit.any() else float("nan")
    return out


def gt_diff(a: dict, b: dict) -> dict:
    out = {}
    for f in GT_FIELDS:
        x, y = a[f], b[f]
        if f.startswith(("depth", "disparity")):
            both = np.isfinite(x) & np.isfinite(y)
            out[f] = float(np.abs(x[both].astype(np.float64) - y[both]).max()) if both.any() else 0.0
        else:
            out[f] = int((x != y).sum())
    return out


# ------------------------------------------------------------------------------------------ driver


def run_quality(quality: str, args, out: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--run-cli", "render", "--scenes", str(args.scenes),
           "--samples", str(args.samples), "--quality", quality, "--seed", str(args.seed), "--scale",
           str(args.scale), "--out", str(out), "--no-progress"]
    load0 = os.getloadavg()[0]
    log = out.parent / f"{quality}.log"
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)  # rusage of the command and every worker it waited for
    wall = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if code != 0:
        raise SystemExit(f"{quality}: render failed ({code}): {text.strip()[-800:]}")
    from synth.shards import open_dataset

    ds = open_dataset(out)
    n = len(ds)
    stages: dict[str, float] = {}
    for rec in ds.records:
        for stage, values in ds.read_record(rec["name"])["timings"].items():
            stages[stage] = stages.get(stage, 0.0) + float(sum(values))
    return {"quality": quality, "samples": n, "cpu_s": (ru.ru_utime + ru.ru_stime) / n, "wall_s": wall / n,
            "stages": {k: v / n for k, v in stages.items()}, "peak_rss_gb": ru.ru_maxrss / 2 ** 20,
            "bytes": sum(int(r["bytes"]) for r in ds.records) / n, "load": (load0, os.getloadavg()[0]),
            "summary": [ln for ln in text.splitlines() if ln.startswith("rendered")][-1:]}


def print_speed(results: list[dict]) -> None:
    base = results[0]
    print("\nper sample (CPU = user+sys of the command and its workers; wall; stage wall s / render CPU s)")
    head = (f"{'quality':12} {'n':>2} {'CPU s':>7} {'wall s':>7} {'xCPU':>5} {'xwall':>5} | "
            + " ".join(f"{s:>7}" for s in STAGES) + " | " + " ".join(f"{s:>11}" for s in CPU_STAGES)
            + f" | {'peakGB':>6} {'MB':>5} {'load':>9}")
    print(head)
    for r in results:
        st = r["stages"]
        print(f"{r['quality']:12} {r['samples']:2d} {r['cpu_s']:7.1f} {r['wall_s']:7.1f} "
              f"{r['cpu_s'] / base['cpu_s']:5.2f} {r['wall_s'] / base['wall_s']:5.2f} | "
              + " ".join(f"{st.get(s, 0.0):7.2f}" for s in STAGES) + " | "
              + " ".join(f"{st.get(s, float('nan')):11.2f}" for s in CPU_STAGES)
              + f" | {r['peak_rss_gb']:6.2f} {r['bytes'] / 1e6:5.2f} {r['load'][0]:4.1f}>{r['load'][1]:4.1f}")


def compare(results: list[dict], dirs: dict[str, Path], args, tmp: Path) -> dict:
    from sgm.presets import load_preset
    from synth.shards import open_dataset

    ref_path = tmp / f"rgb_ref_{args.reference}.npz"
    if not (args.reuse and ref_path.exists()):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--rgb-reference",
                        str(dirs[results[0]["quality"]]), "--reference", args.reference, "--scale", str(args.scale),
                        "--seed", str(args.seed), "--ref-out", str(ref_path)], cwd=ROOT, check=True)
        print(f"\nRGB reference ({args.reference}) rendered in {time.perf_counter() - t0:.0f} s")
    refs = dict(np.load(ref_path))
    sgm_params = load_preset(args.sgm) if args.sgm != "none" else None
    base_q = results[0]["quality"]
    base = {s["__key__"]: s for s in open_dataset(dirs[base_q]).iter_samples()}
    table: dict[str, dict] = {}
    for r in results:
        q = r["quality"]
        rows = []
        for s in open_dataset(dirs[q]).iter_samples():
            key = s["__key__"]
            row = {"key": key} | image_metrics(s, refs.get(key), sgm_params)
            if q != base_q:
                row["gt"] = gt_diff(base[key], s)
            rows.append(row)
        table[q] = {"views": rows}
    print(f"\nsame views, {len(base)} samples (RGB vs {args.reference}; SGM preset {args.sgm}); per view:")
    metrics = ["rgb_psnr", "rgb_ssim", "dot_contrast", "sgm_density", "sgm_bad1"]
    print(f"{'quality':12} {'key':16} " + " ".join(f"{m:>12}" for m in metrics))
    for q, t in table.items():
        for row in t["views"]:
            print(f"{q:12} {row['key']:16} " + " ".join(f"{row.get(m, float('nan')):12.4f}" for m in metrics))
    print(f"\nmeans over the views (delta to {base_q}):")
    for q, t in table.items():
        means = {m: float(np.nanmean([row.get(m, np.nan) for row in t["views"]])) for m in metrics}
        t["mean"] = means
        d = {m: means[m] - table[base_q]["mean"][m] for m in metrics} if q != base_q else None
        print(f"{q:12} " + " ".join(f"{m} {means[m]:.4f}" + (f" ({d[m]:+.4f})" if d else "") for m in metrics))
    for q, t in table.items():
        if q == base_q:
            continue
        worst = {f: max(row["gt"][f] for row in t["views"]) for f in GT_FIELDS}
        ok = all(worst[f] <= (1e-3 if f == "disparity" else 1e-4) if f.startswith(("depth", "disparity"))
                 else worst[f] == 0 for f in GT_FIELDS)
        t["gt_worst"] = worst
        print(f"GT {q} vs {base_q}: " + ", ".join(f"{f} {v:g}" for f, v in worst.items())
              + ("  -> identical/within tolerance" if ok else "  -> DIFFERENT"))
    return table


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--run-cli":
        run_cli_child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qualities", default="default_ref,default",
                    help="comma-separated presets; the first is the baseline of the ratios and comparisons")
    ap.add_argument("--scenes", type=int, default=1)
    ap.add_argument("--samples", type=int, default=2, help="samples per quality (spread over --scenes)")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--reference", default="paper_ref", help="preset whose RGB settings make the RGB reference")
    ap.add_argument("--sgm", default="d435", help="SGM preset for the IR comparison ('none' = skip SGM)")
    ap.add_argument("--no-compare", action="store_true", help="speed only")
    ap.add_argument("--json", type=Path, help="write every figure to this JSON file")
    ap.add_argument("--keep", type=Path, help="keep the rendered datasets (and the RGB reference) here")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: reuse the datasets, timings and RGB reference a previous run kept there")
    ap.add_argument("--rgb-reference", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--ref-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rgb_reference:
        rgb_reference_child(args.rgb_reference, args.reference, args.scale, args.seed, args.ref_out)
        return
    qualities = args.qualities.split(",")
    print(f"render_speed: {os.cpu_count()} cores, scale {args.scale}, {args.scenes} scene(s), {args.samples} "
          f"samples per quality, seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="bench-render-") as t:
        tmp = args.keep or Path(t)
        tmp.mkdir(parents=True, exist_ok=True)
        dirs, results = {}, []
        for q in qualities:
            dirs[q] = tmp / q
            saved = tmp / f"{q}.run.json"
            if args.reuse and saved.exists():
                results.append(json.loads(saved.read_text()))
            else:
                results.append(run_quality(q, args, dirs[q]))
                saved.write_text(json.dumps(results[-1]))
            r = results[-1]
            print(f"{q}: {r['cpu_s']:.1f} CPU-s, {r['wall_s']:.1f} s wall per sample", flush=True)
        print_speed(results)
        table = compare(results, dirs, args, tmp) if len(qualities) > 1 and not args.no_compare else {}
    if args.json:
        args.json.write_text(json.dumps({"speed": results, "images": table}, indent=1, default=float))


if __name__ == "__main__":
    main()
