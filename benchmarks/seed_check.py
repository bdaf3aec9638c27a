"""Wrong seeds: how much of the fills' error on simulated sensor holes comes from wrong measured pixels, and
can a small per-pixel check learn to leave them out?

    python benchmarks/seed_check.py --train TRAIN [--train TRAIN2] --test TEST [--real DIR] [--seconds 240] [--max-side 640]
                                    [--seed 0]

TRAIN and TEST are sensor datasets (`cli.py sgm` output; TEST of other scenes). A seen pixel is a *wrong
seed* when its measured depth is more than 5 % off GT (|log(measured / GT)| > 0.05). For every TEST view
(downscaled to --max-side like `cli.py eval`) the guided and harmonic fills are run (1) on every measured
pixel, as `eval` does, (2) without the wrong seeds (oracle: what a perfect check would give) and (3) without
the pixels a small CNN flags, the CNN trained for --seconds on TRAIN crops at native resolution against GT
(`SeedCheckNet`: 4 dilated 3x3 convolutions, receptive field 31 px; input RGB, log depth minus the image
median, validity). Printed: RMSE (m) in the `sensor` protocol (every GT pixel; "kept" = measured pixels
output as measured, as the fills do; "replaced" = flagged measurements replaced by the fill) and in
`sensor_holes`, plus the CNN's AUC and precision / recall per threshold. With --real (a folder of real frames, as `cli.py eval --real`): the share
of each real frame's measured pixels the same CNN flags, and against `gt_depth_opaque_8frame_mean.png`
where a frame ships one, the wrong share and the flags' precision: does a check learnt on simulated
sensor depth transfer to a real camera? Single process, 1 torch thread.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WRONG = 0.05  # |log(measured / GT)| above this = a wrong seed
CROP = (168, 224)  # training crop, px
THRESHOLDS = (0.7, 0.8, 0.9)  # P(wrong) above which the CNN's flags are left out of the fills


def load(path: str, max_side: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """[(rgb uint8, sensor depth m, GT depth m)] of every sample, downscaled as `cli.py eval` does."""
    from mdm.evaluate import downscale, iter_eval_samples

    views = []
    for _, sample in iter_eval_samples([Path(path)]):
        sample = downscale(sample, max_side)
        views.append((sample["rgb"], sample["sensor_depth"].astype(np.float32) / 1000.0,  # uint16 mm -> m
                      np.nan_to_num(sample["depth_rgb"].astype(np.float32))))
    return views


def wrong_seeds(sensor: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(measured pixels with GT, those more than WRONG off GT in log depth)."""
    both = (sensor > 0) & (gt > 0)
    ratio = np.where(both, np.maximum(sensor, 1e-6) / np.maximum(gt, 1e-6), 1.0)
    return both, both & (np.abs(np.log(ratio)) > WRONG)


def features(rgb: np.ndarray, sensor: np.ndarray, with_rgb: bool):
    """(C, H, W) float32 torch tensor: [RGB in [0, 1] (``with_rgb``),] log depth minus the image median
    (0 on holes), validity."""
    import torch

    valid = sensor > 0
    logd = np.log(np.where(valid, sensor, 1.0))
    if valid.any():
        logd = np.where(valid, logd - np.median(logd[valid]), 0.0)
    planes = ([rgb.transpose(2, 0, 1) / 255.0] if with_rgb else []) + [logd[None], valid[None]]
    return torch.from_numpy(np.concatenate(planes).astype(np.float32))


def seed_check_net(with_rgb: bool):
    from torch import nn

    layers: list[nn.Module] = []
    chans = 5 if with_rgb else 2
    for dilation in (1, 2, 4, 8):
        layers += [nn.Conv2d(chans, 16, 3, padding=dilation, dilation=dilation), nn.ReLU()]
        chans = 16
    return nn.Sequential(*layers, nn.Conv2d(16, 1, 1))


def train_check(views, seconds: float, seed: int, with_rgb: bool):
    """The CNN trained with Adam (3e-3, batch 8 random native-resolution crops, wrong seeds weighted 4x) for
    ``seconds`` of wall time; returns (net, steps)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = seed_check_net(with_rgb)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    t0, steps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        xs, measured, labels = [], [], []
        for j in rng.integers(0, len(views), 8):
            rgb, sensor, gt = views[j]
            y = rng.integers(0, sensor.shape[0] - CROP[0] + 1)
            x = rng.integers(0, sensor.shape[1] - CROP[1] + 1)
            box = (slice(y, y + CROP[0]), slice(x, x + CROP[1]))
            xs.append(features(rgb[box], sensor[box], with_rgb))
            both, wrong = wrong_seeds(sensor[box], gt[box])
            measured.append(torch.from_numpy(both))
            labels.append(torch.from_numpy(wrong))
        logits = net(torch.stack(xs))[:, 0]
        m, y_true = torch.stack(measured), torch.stack(labels)
        if not bool(m.any()):
            continue
        loss = F.binary_cross_entropy_with_logits(logits[m], y_true[m].float(), pos_weight=torch.tensor(4.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    return net, steps


def rmse(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """``cli.py eval``'s per-image RMSE (m) on ``mask``; NaN when no pixel there has GT."""
    from mdm.evaluate import depth_metrics

    metrics = depth_metrics(pred, gt, mask)
    return metrics["rmse"] if metrics else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True, action="append",
                    help="sensor dataset the CNN check is trained on (repeatable)")
    ap.add_argument("--test", required=True, help="sensor dataset of other scenes (scored)")
    ap.add_argument("--real", help="folder of real frames (<frame>/rgb.*, raw_depth.png): flag rates there")
    ap.add_argument("--seconds", type=float, default=240.0, help="CNN training wall time (default 240)")
    ap.add_argument("--max-side", type=int, default=640, help="frames downscaled to this side (default 640)")
    ap.add_argument("--inputs", choices=("rgbd", "depth"), default="rgbd",
                    help="what the CNN check reads: RGB + depth (default) or depth only")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with_rgb = args.inputs == "rgbd"

    import torch

    from mdm.baselines import guided_fill, harmonic_fill

    torch.set_num_threads(1)
    train = [view for path in args.train for view in load(path, args.max_side)]
    test = load(args.test, args.max_side)
    net, steps = train_check(train, args.seconds, args.seed, with_rgb)
    print(f"CNN check: {steps} steps x 8 crops of {CROP[0]}x{CROP[1]} in {args.seconds:g} s "
          f"({sum(p.numel() for p in net.parameters())} parameters)")
    scores: dict[str, list[tuple[float, float, float]]] = {}
    probs, labels = [], []
    for rgb, sensor, gt in test:
        measured = sensor > 0
        both, wrong = wrong_seeds(sensor, gt)
        with torch.no_grad():
            p = torch.sigmoid(net(features(rgb, sensor, with_rgb)[None])[0, 0]).numpy()
        probs.append(p[both])
        labels.append(wrong[both])
        drops = {"all seeds": np.zeros_like(measured), "oracle (no wrong seeds)": wrong}
        drops |= {f"CNN check, P > {t:g}": measured & (p > t) for t in THRESHOLDS}
        for name, drop in drops.items():
            seeds = np.where(drop, 0.0, sensor).astype(np.float32)
            for fill_name, fill in (("guided", guided_fill(seeds, rgb)), ("harmonic", harmonic_fill(seeds))):
                kept = np.where(measured, sensor, fill)
                scores.setdefault(f"{fill_name:8s} {name}", []).append(
                    (rmse(kept, gt, np.ones_like(measured)), rmse(fill, gt, np.ones_like(measured)),
                     rmse(kept, gt, ~measured)))
    print(f"\n{len(test)} test views; wrong seeds {np.mean(np.concatenate(labels)):.3f} of the measured pixels\n")
    print("| fill, seeds | sensor (measured kept) | sensor (flagged replaced) | sensor_holes |")
    print("|---|---|---|---|")
    for name, rows in scores.items():
        a = np.array(rows)
        print(f"| {name} | {np.nanmean(a[:, 0]):.4f} | {np.nanmean(a[:, 1]):.4f} | {np.nanmean(a[:, 2]):.4f} |")
    p, y = np.concatenate(probs), np.concatenate(labels)
    order = np.argsort(-p)
    tpr = np.concatenate([[0.0], np.cumsum(y[order]) / max(y.sum(), 1)])
    fpr = np.concatenate([[0.0], np.cumsum(~y[order]) / max((~y).sum(), 1)])
    print(f"\nCNN check AUC {np.trapz(tpr, fpr):.3f}")
    for t in THRESHOLDS:
        flag = p > t
        print(f"P > {t:g}: flags {flag.mean():.3f} of the measured pixels, precision "
              f"{(flag & y).sum() / max(flag.sum(), 1):.3f}, recall {(flag & y).sum() / max(y.sum(), 1):.3f}")
    if args.real:
        real_flags(net, Path(args.real), args.max_side, with_rgb)


def real_flags(net, root: Path, max_side: int, with_rgb: bool) -> None:
    """Per real frame: share of measured pixels flagged at each threshold; with GT, wrong share and precision."""
    import torch

    from lbd.real_frames import downscale_frame, iter_real_frames, read_gt_depth, resize_nearest
    from mdm.baselines import guided_fill, harmonic_fill

    cols = " | ".join(f"flagged P > {t:g}" for t in THRESHOLDS)
    t_mid = THRESHOLDS[1]
    print(f"\n| real frame | sensor type | {cols} | wrong vs GT | precision at {t_mid:g} | holes RMSE vs GT: "
          f"guided all seeds / check at {t_mid:g} / oracle; harmonic all seeds |")
    print("|---|---|" + "---|" * (len(THRESHOLDS) + 3))
    for frame in iter_real_frames(root, require_intrinsics=False):
        gt = read_gt_depth(frame)
        small = downscale_frame(frame, max_side)
        sensor = small.depth
        with torch.no_grad():
            p = torch.sigmoid(net(features(small.rgb, sensor, with_rgb)[None])[0, 0]).numpy()
        measured = sensor > 0
        shares = " | ".join(f"{(measured & (p > t)).sum() / max(measured.sum(), 1):.3f}" for t in THRESHOLDS)
        wrong_txt = prec_txt = fills_txt = "-"
        if gt is not None:
            gt = resize_nearest(gt, (sensor.shape[1], sensor.shape[0]))
            both, wrong = wrong_seeds(sensor, gt)
            flag = both & (p > t_mid)
            wrong_txt = f"{wrong.sum() / max(both.sum(), 1):.3f}"
            prec_txt = f"{(flag & wrong).sum() / max(flag.sum(), 1):.3f}"
            holes = ~measured
            fills = [guided_fill(np.where(drop, 0.0, sensor).astype(np.float32), small.rgb)
                     for drop in (np.zeros_like(measured), measured & (p > t_mid), wrong)]
            fills.append(harmonic_fill(sensor))
            fills_txt = " / ".join(f"{rmse(f, gt, holes):.4f}" for f in fills)
        print(f"| {frame.name} | {frame.sensor_type} | {shares} | {wrong_txt} | {prec_txt} | {fills_txt} |")


if __name__ == "__main__":
    from lbd.errors import UserError

    try:
        main()
    except UserError as exc:  # a missing or corrupt dataset, an unreadable real frame: one line, exit 1
        sys.exit(f"error: {exc}")
