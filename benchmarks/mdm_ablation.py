"""Does the synthetic sensor help? (issue 15, point 4.) Train the same `tiny` model for the same number of
steps on three input recipes and score all three on rendered unseen scenes and on real captures.

    python benchmarks/mdm_ablation.py --data TRAIN --test TEST --real ../shared/data/real_rgbd \\
        [--steps 400] [--minutes M] [--variants a,b,c] [--out DIR] [--seed 0] [--threads 1]

Variants (everything else = `train` defaults: tiny, 168x224, batch 8, LRs from scratch, blend prior):

  a  sensor depth (SGM holes of `cli.py sgm`) as input, 30 % of samples GT + random blocks instead, report
     patch masking (60-90 %, mixed patches 0.75): the `train` default.
  b  GT + random blocks/noise only (block-prob 1), no patch masking beyond the report's forced rule for
     fully empty patches (mask-ratio 0 0, mask-mixed 0).
  c  clean GT only (no holes, no noise) + report patch masking 60-90 %: the tech report's recipe for
     synthetic data. The input swap is a wrapper around `mdm.data.make_example` in this process (inherited
     by forked loader workers), not a `train` option.

Rendered scoring = `mdm.evaluate.evaluate` (sensor, sensor_holes, block levels) on TEST; real scoring =
`mdm.real_eval.evaluate_real` (real_blocks, real_holes) with the three models side by side. The real set is
never trained on. Output: OUT/summary.md (the table), OUT/<variant>/run (checkpoints), OUT/<variant>/eval,
OUT/real (metrics.json/.md, images). A variant whose OUT/<v>/run/last.pt exists is not retrained (so the
run of the default `cli.py train --steps 400` can be copied to OUT/a/run).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "a": {"desc": "sensor depth (SGM holes) + 30 % GT blocks, patch masking 60-90 % (train defaults)",
          "block_prob": 0.3, "mask_ratio": (0.6, 0.9), "mask_mixed": 0.75, "gt_input": False},
    "b": {"desc": "GT + random blocks/noise only, no patch masking",
          "block_prob": 1.0, "mask_ratio": (0.0, 0.0), "mask_mixed": 0.0, "gt_input": False},
    "c": {"desc": "clean GT + patch masking 60-90 % only (tech report, synthetic data)",
          "block_prob": 0.0, "mask_ratio": (0.6, 0.9), "mask_mixed": 0.75, "gt_input": True},
}
RENDERED = ("sensor", "sensor_holes", "block_easy", "block_hard", "block_extreme")
REAL = ("real_blocks", "real_holes")
REAL_GT = ("real_gt", "real_gt_transparent")  # ClearGrasp frames with GT: the sensor's own holes
FILLS = ("nearest", "ip_basic", "inpaint", "harmonic", "guided")


def use_gt_as_input(enabled: bool) -> None:
    """Make every training example's input the clean GT (as uint16 mm 'sensor depth', so block-prob 0 picks
    it): wraps ``mdm.data.make_example`` once; forked DataLoader workers inherit the wrapper."""
    import numpy as np

    import mdm.data as data

    original = getattr(data.make_example, "__wrapped_original__", data.make_example)
    if not enabled:
        data.make_example = original
        return

    def make_example(sample, *args, **kwargs):
        gt = np.nan_to_num(np.asarray(sample["depth_rgb"], np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        sample = dict(sample, sensor_depth=np.clip(np.round(gt * 1000.0), 0, 65535).astype(np.uint16))
        return original(sample, *args, **kwargs)

    make_example.__wrapped_original__ = original
    data.make_example = make_example


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", action="append", required=True, help="training shards with sensor_depth (repeatable)")
    ap.add_argument("--test", action="append", required=True, help="rendered test shards of unseen scenes")
    ap.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real_rgbd"), help="real frames folder")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "mdm_ablation_out"))
    ap.add_argument("--steps", type=int, default=400, help="training steps per variant (default 400)")
    ap.add_argument("--minutes", type=float, default=None, help="also stop each run after this wall time")
    ap.add_argument("--variants", default="a,b,c")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-samples", type=int, default=None, help="rendered test samples scored (default all)")
    ap.add_argument("--train-only", action="store_true",
                    help="train the missing variants and stop (DataLoader workers forked after an evaluation in "
                         "the same process can deadlock; a second run scores the cached runs)")
    args = ap.parse_args()

    import torch

    from mdm.checkpoint import load_model
    from mdm.evaluate import evaluate
    from mdm.real_eval import evaluate_real
    from mdm.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    rendered, models, runs = {}, {}, {}
    pending = [n for n in names if not (out / n / "run" / "last.pt").exists()]
    if len(pending) > 1 and not args.train_only:
        sys.exit(f"{len(pending)} variants to train ({', '.join(pending)}): run with --train-only first (one "
                 f"training per process start is safe), then again to score")
    for name in names:
        v = VARIANTS[name]
        run = out / name / "run"
        if not (run / "last.pt").exists():
            use_gt_as_input(v["gt_input"])
            t0 = time.time()
            res = train(TrainConfig(data=args.data, out=str(run), steps=args.steps, seed=args.seed,
                                    workers=args.workers, threads=args.threads, block_prob=v["block_prob"],
                                    mask_ratio=v["mask_ratio"], mask_mixed=v["mask_mixed"],
                                    time_limit_s=args.minutes * 60 if args.minutes else None,
                                    ckpt_every=args.steps, progress=False))
            use_gt_as_input(False)
            runs[name] = {"steps": res["step"], "minutes": (time.time() - t0) / 60, "loss": res["loss"]}
            (out / name / "train.json").write_text(json.dumps(runs[name]))
        elif (out / name / "train.json").exists():
            runs[name] = json.loads((out / name / "train.json").read_text())
        else:  # a run trained elsewhere (e.g. `cli.py train` with defaults for (a)), copied to OUT/<v>/run
            from mdm.train import read_log
            log = read_log(run / "log.csv")
            runs[name] = {"steps": int(log[-1]["step"]), "minutes": float(log[-1]["elapsed_s"]) / 60,
                          "loss": float(log[-1]["loss"])}
        print(f"{name}: {runs[name]}", flush=True)
        if args.train_only:
            continue
        done = out / name / "eval" / "metrics.json"
        if done.exists() and done.stat().st_mtime > (run / "last.pt").stat().st_mtime:
            rendered[name] = json.loads(done.read_text())["protocols"]  # already scored (same seed assumed)
        else:
            rendered[name] = evaluate(run / "last.pt", args.test, out / name / "eval", seed=args.seed,
                                      max_samples=args.max_samples, progress=False)["protocols"]
        models[name] = load_model(run / "last.pt")
    if args.train_only:
        return
    real = evaluate_real(models, Path(args.real), out / "real", seed=args.seed, images=8, progress=False,
                         header="# Ablation on real captures (benchmarks/mdm_ablation.py)")

    first = rendered[names[0]]
    protos = [p for p in RENDERED if p in first]
    gt_protos = [p for p in REAL_GT if p in real["protocols"]]
    head = [f"rendered {p}" for p in protos] + [f"real {p.split('_', 1)[1]} (all / active stereo)" for p in REAL]
    head += [f"{p} ({real['counts'][p]['overall']} frames)" for p in gt_protos]
    lines = ["# MDM ablation: does training on the synthetic sensor help?", "",
             f"train {', '.join(args.data)}; rendered test {', '.join(args.test)}; real {args.real}; tiny, "
             f"{args.steps} steps x 8 at 168x224 per variant, seed {args.seed}. RMSE (m): rendered = mean over test "
             "views, real = mean over frames (overall / active_stereo frames). `model` rows are "
             "what `complete --refine` writes on rendered data (the eval's `model`).", "",
             "| input recipe | steps | min | " + " | ".join(head) + " |", "|---|---|---|" + "---|" * len(head)]

    def real_cell(method: str, proto: str) -> str:
        overall = real["protocols"][proto][method]["rmse"]
        stereo = real["by_sensor_type"][proto].get("active_stereo", {}).get(method, {}).get("rmse", float("nan"))
        return f"{overall:.4f} / {stereo:.4f}"

    for name in names:
        cells = [f"{rendered[name][p]['model']['rmse']:.4f}" for p in protos]
        cells += [real_cell(name, p) for p in REAL]
        cells += [f"{real['protocols'][p][name]['rmse']:.4f}" for p in gt_protos]
        lines.append(f"| ({name}) {VARIANTS[name]['desc']} | {runs[name]['steps']} | {runs[name]['minutes']:.1f} | "
                     + " | ".join(cells) + " |")
    for fill in FILLS:
        cells = [f"{first[p][fill]['rmse']:.4f}" for p in protos] + [real_cell(fill, p) for p in REAL]
        cells += [f"{real['protocols'][p][fill]['rmse']:.4f}" for p in gt_protos]
        lines.append(f"| {fill} fill (no learning) | - | - | " + " | ".join(cells) + " |")
    lines += ["", "Frames won on real data (lower RMSE than the fill, of all frames):", ""]
    for proto in REAL:
        for name in names:
            w = real["wins"][proto][name]
            lines.append(f"- {proto}, ({name}): vs guided {w['guided']}, vs harmonic {w['harmonic']}, "
                         f"vs inpaint {w['inpaint']}, "
                         f"vs nearest {w['nearest']} of {real['counts'][proto]['overall']}")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
