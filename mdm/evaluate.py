"""Evaluation of a checkpoint against classical fills under the ``sensor`` and block protocols.

Protocols: ``sensor`` (input = the sample's sensor_depth; scored on every GT pixel) with
``sensor_holes`` (same predictions, scored only on GT pixels where the sensor has a hole), and
``block_easy|medium|hard|extreme`` (GT corrupted as in ``mdm.block_masks``, seeded per
(seed, level, sample index) so every method sees the same input; scored on every GT pixel).
Frames are downscaled to at most ``max_side`` px (RGB area, depth nearest) before anything else.
Metrics per image on the scored pixels, then averaged over images: RMSE (m), MAE (m), AbsRel
(mean |p - g| / g), delta1 (share with max(p/g, g/p) < 1.25).

The model is scored as ``complete`` writes it (``mdm.complete.compose``): ``model_fill`` = ``complete``'s
default (holes filled, measured input pixels kept), ``model`` = ``complete --refine`` (measured pixels
inside the model's range replaced by the prediction; outside it, kept).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from lbd.errors import OutputError, UserError, check_writable_dir, os_error_message
from mdm.baselines import BASELINES, run_baselines
from mdm.block_masks import LEVELS, corrupt_depth
from mdm.checkpoint import load_model
from mdm.complete import compose
from mdm.data import check_sample
from mdm.model import MDM
from mdm.visualize import colorize, depth_range, rgb_to_bgr, sheet
from synth.shards import DatasetError, ShardError, open_dataset

PROTOCOLS = ("sensor", "sensor_holes") + tuple(f"block_{name}" for name in LEVELS)
METHODS = ("model", "model_fill") + tuple(BASELINES)  # model = complete --refine, model_fill = complete
SENSOR_PROTOCOLS = ("sensor", "sensor_holes")
METRICS = ("rmse", "mae", "absrel", "delta1")


def depth_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> dict[str, float] | None:
    """Metrics of ``pred`` vs ``gt`` (metres) on ``mask``; None when no pixel is scored."""
    mask = mask & np.isfinite(gt) & (gt > 0)
    if not mask.any():
        return None
    p, g = np.maximum(pred[mask].astype(np.float64), 1e-6), gt[mask].astype(np.float64)
    err = p - g
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
            "absrel": float(np.mean(np.abs(err) / g)),
            "delta1": float(np.mean(np.maximum(p / g, g / p) < 1.25))}


def downscale(sample: dict, max_side: int) -> dict:
    """RGB (area) and depth maps (nearest) scaled so the longer side is at most ``max_side`` px."""
    h, w = sample["rgb"].shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return sample
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = dict(sample)
    out["rgb"] = cv2.resize(sample["rgb"], size, interpolation=cv2.INTER_AREA)
    for name in ("depth_rgb", "sensor_depth"):
        if name in sample:
            out[name] = cv2.resize(sample[name], size, interpolation=cv2.INTER_NEAREST_EXACT)
    return out


def model_predict(model: MDM, rgb: np.ndarray, depth: np.ndarray, device: str,
                  tokens: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 + (H, W) metres -> (H, W) float32 metres at the input resolution."""
    rgb_t = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255.0).to(device)
    depth_t = torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32))[None].to(device)
    return model.predict(rgb_t, depth_t, tokens)[0].float().cpu().numpy()


def iter_eval_samples(dirs: Sequence[Path]) -> Iterable[tuple[str, dict]]:
    """(shard name, sample) of every dataset directory in shard name order."""
    for d in dirs:
        ds = open_dataset(Path(d))
        if not ds.records:
            raise DatasetError(f"dataset directory {d} has no shards")
        for rec in ds.records:
            try:
                for sample in ds.iter_shard(rec["name"], ("rgb", "depth_rgb", "sensor_depth")):
                    yield rec["name"], sample
            except ShardError as exc:
                raise DatasetError(str(exc)) from None


def comparison_image(rgb, inp, gt, preds: dict[str, np.ndarray]) -> np.ndarray:
    """Row 1: RGB, input, GT, |model - GT|, |inpaint - GT|, |guided - GT| (one error scale); row 2: model
    and every classical fill (one depth scale)."""
    lo, hi = depth_range(gt, inp)
    errs = {k: np.where(gt > 0, np.abs(preds[k] - gt), 0) for k in ("model", "inpaint", "guided")}
    emax = float(max(np.percentile(np.concatenate([e[gt > 0] for e in errs.values()] + [np.zeros(1)]), 98),
                     1e-3))
    panels = [(rgb_to_bgr(rgb), "RGB"), (colorize(inp, lo, hi), f"input ({lo:.1f}-{hi:.1f} m)"),
              (colorize(gt, lo, hi), "GT")]
    panels += [(colorize(errs[k] + 1e-9 * (gt > 0), 0, emax, cv2.COLORMAP_INFERNO),
                f"|{k} - GT| (0-{emax:.2f} m)") for k in errs]
    panels += [(colorize(preds[k], lo, hi), k) for k in preds]
    return sheet(panels, 6)


def _mean(rows: list[dict]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in rows])) if rows else float("nan") for m in METRICS}


def _write_text(out: Path, name: str, text: str) -> None:
    """OUT/name through a temporary file; a full disk or lost permissions: OutputError, no partial file."""
    tmp = out / f".{name}.tmp"
    try:
        tmp.write_text(text)
        os.replace(tmp, out / name)
    except OSError as exc:
        reason = os_error_message(exc)
        if reason is None:
            raise
        raise OutputError(f"--out {out}: cannot write {name} ({reason.split(': ', 1)[-1]})") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_metrics(out: Path, results: dict, counts: dict, header: str) -> None:
    """EVAL/metrics.json ({"protocols": {protocol: {method: metrics}}}) and metrics.md, atomically."""
    _write_text(out, "metrics.json", json.dumps({"protocols": results}, indent=1) + "\n")
    lines = [header, "", "| protocol | images | method | RMSE (m) | MAE (m) | AbsRel | δ<1.25 |",
             "|---|---|---|---|---|---|---|"]
    for proto, methods in results.items():
        best = min(methods, key=lambda k: methods[k]["rmse"])
        for name, m in methods.items():
            mark = "**" if name == best else ""
            lines.append(f"| {proto} | {counts[proto]} | {mark}{name}{mark} | {m['rmse']:.4f} | "
                         f"{m['mae']:.4f} | {m['absrel']:.4f} | {m['delta1']:.4f} |")
    _write_text(out, "metrics.md", "\n".join(lines) + "\n")


def evaluate(ckpt: Path, data: Sequence[Path], out: Path, *, device: str = "cpu", seed: int = 0,
             max_samples: int | None = None, max_side: int = 640, tokens: int | None = None,
             images: int = 4, protocols: Sequence[str] = PROTOCOLS, progress: bool = True,
             strict: bool = False, notes: list[str] | None = None) -> dict:
    """Score the checkpoint and the baselines; writes metrics.json, metrics.md, images/. Returns the
    metrics dict ({"protocols": ...}).

    A protocol no sample can be scored in (sensor protocols on a dataset without sensor depth) is an
    error when ``strict`` (the user asked for it), else left out with a note in ``notes``; nothing
    scorable at all is always an error."""
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown protocol(s) {unknown}; known: {', '.join(PROTOCOLS)}")
    out = check_writable_dir(Path(out), "--out")
    model = load_model(Path(ckpt), device)
    lo_m, hi_m = float(model.cfg.min_depth), float(model.cfg.max_depth)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, list]] = {p: {m: [] for m in METHODS} for p in protocols}
    n_seen, no_sensor = 0, 0
    total = sum(len(open_dataset(Path(d))) for d in data)
    total = min(total, max_samples) if max_samples is not None else total
    bar = tqdm(total=total, desc="eval", unit="sample", disable=not progress)
    for index, (shard, sample) in enumerate(iter_eval_samples(data)):
        if max_samples is not None and index >= max_samples:
            break
        check_sample(sample, shard)
        sample = downscale(sample, max_side)
        rgb, gt = sample["rgb"], np.nan_to_num(sample["depth_rgb"].astype(np.float32))
        inputs: dict[str, np.ndarray] = {}
        if "sensor_depth" in sample:
            inputs["sensor"] = sample["sensor_depth"].astype(np.float32) / 1000.0
        else:
            no_sensor += 1
        for li, name in enumerate(LEVELS):
            if f"block_{name}" in protocols:
                inputs[f"block_{name}"] = corrupt_depth(gt, LEVELS[name], np.random.default_rng([seed, li, index]))
        for source, inp in inputs.items():
            raw = model_predict(model, rgb, inp, device, tokens)
            preds = {"model": compose(inp, raw, True, lo_m, hi_m)[0],  # = complete --refine
                     "model_fill": compose(inp, raw, False, lo_m, hi_m)[0]}  # = complete (default)
            preds |= run_baselines(inp, rgb)
            scored = {source: gt > 0}
            if source == "sensor":
                scored = {"sensor": gt > 0, "sensor_holes": (gt > 0) & (inp <= 0)}
            for proto, mask in scored.items():
                if proto not in rows:
                    continue
                for method, pred in preds.items():
                    m = depth_metrics(pred, gt, mask)
                    if m is not None:
                        rows[proto][method].append(m)
            if index < images:
                img = comparison_image(rgb, inp, gt, {k: v for k, v in preds.items() if k != "model_fill"})
                path = out / "images" / f"{source}_{index:03d}_{sample['__key__']}.png"
                if not cv2.imwrite(str(path), img):
                    raise OutputError(f"--out {out}: cannot write {path.relative_to(out)} (full disk?)")
        n_seen += 1
        bar.update()
    bar.close()
    if n_seen == 0:
        raise DatasetError(f"no samples to evaluate in {', '.join(map(str, data))}")
    results = {p: {m: _mean(rows[p][m]) for m in METHODS} for p in protocols if rows[p]["model"]}
    counts = {p: len(rows[p]["model"]) for p in protocols}
    missing = [p for p in protocols if p not in results]
    if missing:
        why = {p: (f"no sample has sensor_depth ({no_sensor} of {n_seen} lack it: a raw dataset? run "
                   f"`cli.py sgm` on it first)" if p in SENSOR_PROTOCOLS and no_sensor
                   else "no sample has GT depth to score") for p in missing}
        if strict or not results:
            p = missing[0]
            raise UserError(f"{'--protocol' if strict else 'protocol'} {p}: nothing to score in "
                            f"{', '.join(map(str, data))}: {why[p]}")
        if notes is not None:
            notes += [f"protocol {p} skipped: {why[p]}" for p in missing]
    header = (f"# MDM evaluation\n\ncheckpoint `{ckpt}`, data {', '.join(f'`{d}`' for d in data)}, "
              f"{n_seen} samples (longer side <= {max_side} px), seed {seed}. Per-image metrics averaged "
              f"over images; best RMSE in bold. `model` = what `complete --refine` writes (measured pixels "
              f"inside {lo_m:g}-{hi_m:g} m replaced), `model_fill` = what `complete` writes (default: holes "
              f"filled, measured pixels kept). Protocol definitions: `mdm/evaluate.py`, `mdm/block_masks.py`."
              + (f"\n\n{no_sensor} samples had no sensor_depth (not in the sensor protocols)." if no_sensor else ""))
    write_metrics(out, results, counts, header)
    return {"protocols": results}
