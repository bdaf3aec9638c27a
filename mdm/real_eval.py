"""Evaluation on real RGB-D captures (``cli.py eval --real DIR``).

Most real frames have no GT, only the sensor's own depth with holes. Two protocols hide *valid* sensor
depth and score every method on exactly the hidden pixels (the sensor's values are the target):

* ``real_blocks`` (hidden blocks): ``BLOCKS`` random rectangles, area log-uniform in ``BLOCK_AREA`` of the
  frame, aspect log-uniform in 1/2-2, each at least half valid and not overlapping the others.
* ``real_holes`` (transplanted holes): real hole shapes: connected hole components (8-connected, not
  touching the border, ``HOLE_AREA`` of their frame's area) of the *other* frames of the folder, scaled by
  the ratio of the frame sizes, pasted at random places where at least 90 % of the pixels under them are
  valid, not overlapping (``BLOCKS`` per frame). So the holes have the shapes of glass, dark surfaces,
  depth edges and shadows, and a known target.

Frames that ship a ground truth ``GT_NAME`` (uint16, same units and pixel grid as ``raw_depth.png``,
0 = no GT; ClearGrasp's ``gt_depth_opaque_8frame_mean.png``: the same view with the transparent objects
replaced by painted opaque copies, mean of the non-zero values of 8 raw frames) are also scored against
it, on the sensor's *own* holes, which is the job the model does (frames without it are not part of these
protocols; with no such frame they are omitted and listed under "skipped"):

* ``real_gt`` (sensor holes vs GT): input = the frame's raw depth unchanged (its natural holes, and its
  wrong readings on glass kept); scored on raw == 0 & GT > 0.
* ``real_gt_transparent`` (transparent objects vs GT): needs ``MASK_NAME`` too (non-zero = transparent
  object). Input = raw depth with the mask's pixels removed (on glass the sensor reads missing or wrong
  depth, typically the background through it, so a completion pipeline drops them); scored on
  mask & GT > 0: whole transparent objects, ClearGrasp's point.

Every draw is seeded by (seed, protocol, frame index); every method sees the same input. Frames are first
downscaled to a longer side of ``max_side`` px (RGB area; depth, GT and mask nearest, on the same grid).
Metrics (RMSE, MAE, AbsRel, delta<1.25) per frame on the scored pixels, then averaged over the frames of
each sensor type (``index.json`` ``sensor_type``) and over all frames ("overall"), each protocol over its
own frames. ``model`` = what ``complete`` writes on those pixels (they are holes of its input in every
protocol, so fill and ``--refine`` agree).

Caveats, stated in metrics.md: in ``real_blocks`` / ``real_holes`` the target is the sensor's own (noisy,
quantised) depth, and hidden pixels are pixels the sensor *could* measure, so they favour surfaces the
sensor handles; transparent objects are never scored there. The GT of the GT protocols is itself a sensor
measurement of a re-staged scene (an 8-frame mean; on ClearGrasp, off the objects, a median 1-2 mm from the
raw frame): it has its own holes (never scored) and is valid on a sensor hole only where some of its 8
frames measured, which leaves out the hardest holes; the opaque copies are placed by hand (they match the
mask closely on the 4 shared frames).
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from lbd.errors import UserError, check_writable_dir
from lbd.real_frames import (
    DEPTH_NAME,
    GT_NAME,
    MASK_NAME,
    RealFrame,
    RealFrameError,
    downscale_frame,
    load_real_frames,
    read_gt_depth,
    resize_nearest,
)
from mdm.baselines import BASELINES, run_baselines
from mdm.visualize import colorize, depth_range, rgb_to_bgr, sheet

REAL_PROTOCOLS = ("real_blocks", "real_holes", "real_gt", "real_gt_transparent")  # append only: seeds use the index
GT_PROTOCOLS = ("real_gt", "real_gt_transparent")
METRICS = ("rmse", "mae", "absrel", "delta1")
BLOCKS = 12  # hidden rectangles / transplanted holes per frame
BLOCK_AREA = (0.003, 0.03)  # share of the frame per rectangle (log-uniform)
BLOCK_ASPECT = (0.5, 2.0)
BLOCK_MIN_VALID = 0.5  # share of a rectangle that must be valid sensor depth
HOLE_AREA = (0.0005, 0.04)  # share of its frame a donor hole component may cover
HOLE_MIN_VALID = 0.9  # share of a pasted hole that must land on valid depth
TRIES = 300  # placement attempts per block / hole
PROTOCOL_TEXT = {
    "real_blocks": f"{BLOCKS} rectangles of valid sensor depth hidden per frame; target = the sensor's depth",
    "real_holes": f"{BLOCKS} hole shapes of other frames pasted on valid sensor depth; target = the sensor's depth",
    "real_gt": f"input = the raw depth unchanged; scored on its own holes where `{GT_NAME}` is valid (target = GT)",
    "real_gt_transparent": f"input = raw depth minus the `{MASK_NAME}` pixels; scored on that mask where the GT is "
                           "valid (target = GT)",
}


def _metrics(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float] | None:
    mask = mask & np.isfinite(target) & (target > 0)
    if not mask.any():
        return None
    p, g = np.maximum(pred[mask].astype(np.float64), 1e-6), target[mask].astype(np.float64)
    err = p - g
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
            "absrel": float(np.mean(np.abs(err) / g)), "delta1": float(np.mean(np.maximum(p / g, g / p) < 1.25))}


def hidden_blocks(valid: np.ndarray, rng: np.random.Generator, n: int = BLOCKS, area=BLOCK_AREA,
                  aspect=BLOCK_ASPECT, min_valid: float = BLOCK_MIN_VALID, tries: int = TRIES
                  ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """``n`` non-overlapping rectangles (y0, x0, h, w), each at least ``min_valid`` valid; returns the
    hidden mask (rectangles & valid) and the rectangles (fewer than ``n`` when they do not fit)."""
    h, w = valid.shape
    taken = np.zeros_like(valid, dtype=bool)
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(tries):
        if len(boxes) == n:
            break
        a = np.exp(rng.uniform(*np.log(area))) * h * w
        r = np.exp(rng.uniform(*np.log(aspect)))
        bh, bw = max(2, min(h, round(np.sqrt(a / r)))), max(2, min(w, round(np.sqrt(a * r))))
        y0, x0 = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        win = (slice(y0, y0 + bh), slice(x0, x0 + bw))
        if taken[win].any() or valid[win].mean() < min_valid:
            continue
        taken[win] = True
        boxes.append((y0, x0, bh, bw))
    return taken & valid, boxes


def hole_components(valid: np.ndarray, area=HOLE_AREA) -> list[np.ndarray]:
    """Boolean crops of the hole components (8-connected ~valid) that do not touch the border and cover
    ``area`` of the frame."""
    h, w = valid.shape
    labels, count = ndimage.label(~valid, structure=np.ones((3, 3), bool))
    out = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None or sl[0].start == 0 or sl[1].start == 0 or sl[0].stop == h or sl[1].stop == w:
            continue
        comp = labels[sl] == i
        if area[0] * h * w <= comp.sum() <= area[1] * h * w:
            out.append(comp)
    return out


def transplant_holes(valid: np.ndarray, donors: list[tuple[str, tuple[int, int], list[np.ndarray]]],
                     rng: np.random.Generator, n: int = BLOCKS, min_valid: float = HOLE_MIN_VALID,
                     tries: int = TRIES) -> tuple[np.ndarray, list[dict]]:
    """Paste ``n`` hole components of donor frames (name, (H, W), components) onto valid depth, scaled by
    sqrt(area ratio) of the frames, non-overlapping (2 px apart); returns (hidden mask = pasted & valid,
    [{"donor", "y", "x", "h", "w", "pixels"}])."""
    h, w = valid.shape
    donors = [d for d in donors if d[2]]
    taken = np.zeros_like(valid, dtype=bool)
    placed: list[dict] = []
    if not donors:
        return taken, placed
    for _ in range(tries):
        if len(placed) == n:
            break
        name, (dh, dw), comps = donors[int(rng.integers(len(donors)))]
        comp = comps[int(rng.integers(len(comps)))]
        s = np.sqrt(h * w / (dh * dw))
        ch, cw = max(1, round(comp.shape[0] * s)), max(1, round(comp.shape[1] * s))
        if ch >= h or cw >= w:
            continue
        shape = cv2.resize(comp.astype(np.uint8), (cw, ch), interpolation=cv2.INTER_NEAREST) > 0
        if not shape.any():
            continue
        if rng.random() < 0.5:
            shape = shape[:, ::-1]
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        win = (slice(y0, y0 + ch), slice(x0, x0 + cw))
        if taken[win][shape].any() or valid[win][shape].mean() < min_valid:
            continue
        taken[win] |= shape
        placed.append({"donor": name, "y": y0, "x": x0, "h": ch, "w": cw, "pixels": int(shape.sum())})
    taken = taken & valid
    return taken, placed


def read_gt(frame: RealFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(GT depth in metres (0 = none), transparent mask) of a frame at its loaded resolution, each None when
    the file is absent (no mask without a GT). The GT is read and checked like ``raw_depth.png`` (integer
    single-channel, the frame's depth scale) and must have its shape; the mask is any 8/16-bit image of that
    shape, non-zero = transparent. Anything else is a :class:`RealFrameError` naming the file."""
    gt = read_gt_depth(frame)
    if gt is None:
        return None, None
    h, w = frame.depth.shape
    mask = None
    mpath = frame.extra(MASK_NAME)
    if mpath is not None:
        m = cv2.imread(str(mpath), cv2.IMREAD_UNCHANGED)
        if m is None:
            raise RealFrameError(f"frame {frame.name}: cannot read mask {mpath} (not an image?)")
        if m.ndim == 3:
            m = m.max(axis=2)
        if m.shape != (h, w) or m.dtype not in (np.uint8, np.uint16):
            raise RealFrameError(f"frame {frame.name}: mask {mpath} is {m.shape[1]}x{m.shape[0]} {m.dtype}; "
                                 f"expected 8/16-bit {w}x{h} like {DEPTH_NAME} (non-zero = transparent)")
        mask = m > 0
    return gt, mask


def _resize_nearest(a: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """``a`` on a (H, W) grid the way :func:`downscale_frame` resizes depth (None stays None)."""
    return a if a is None or a.shape == shape else resize_nearest(a, shape[::-1])


def gt_scored(proto: str, frame: RealFrame, gt: np.ndarray | None, mask: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray] | None:
    """(input depth, scored mask) of a GT protocol, None when the frame lacks what it needs."""
    if gt is None or (proto == "real_gt_transparent" and mask is None):
        return None
    if proto == "real_gt":
        return frame.depth.copy(), ~frame.valid & (gt > 0)
    return np.where(mask, 0.0, frame.depth).astype(np.float32), mask & (gt > 0)


def _why_skipped(proto: str, gts: list, masks: list) -> str:
    if proto not in GT_PROTOCOLS:
        return "no frame had depth that could be hidden"
    if all(g is None for g in gts):
        return f"no frame has {GT_NAME}"
    if proto == "real_gt_transparent" and all(g is None or m is None for g, m in zip(gts, masks)):
        return f"no frame has both {GT_NAME} and {MASK_NAME}"
    return "no frame has a scored pixel (" + ("sensor hole" if proto == "real_gt" else "mask") + " & GT valid)"


def _predictor(model, device: str, tokens: int | None):
    """(rgb uint8, depth m) -> prediction (m) of an MDM, or a callable used as is."""
    if callable(model) and not hasattr(model, "predict"):
        return model
    from mdm.evaluate import model_predict
    return lambda rgb, depth: model_predict(model, rgb, depth, device, tokens)


def _interleave_by_type(frames: list[RealFrame]) -> list[int]:
    """Frame indices, round-robin over sensor types (so the first images show every sensor type)."""
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(frames):
        groups.setdefault(f.sensor_type, []).append(i)
    order, lists = [], list(groups.values())
    while any(lists):
        for lst in lists:
            if lst:
                order.append(lst.pop(0))
    return order


def comparison_image(frame: RealFrame, inp: np.ndarray, hidden: np.ndarray, preds: dict[str, np.ndarray],
                     first: str, target: np.ndarray | None = None, name: str = "sensor") -> np.ndarray:
    """Row 1: RGB, input (hidden pixels black), the target (``target``, default the sensor depth, called
    ``name``) with the scored outline, |first - target|, |inpaint - target| and |guided - target| on the
    scored pixels (one error scale); row 2: every method's output."""
    gt = frame.depth if target is None else target
    lo, hi = depth_range(gt)
    errs = {k: np.where(hidden, np.abs(preds[k] - gt), 0.0) for k in (first, "inpaint", "guided") if k in preds}
    emax = float(max(np.percentile(np.concatenate([e[hidden] for e in errs.values()] + [np.zeros(1)]), 98), 1e-3))
    shown = colorize(gt, lo, hi)
    edge = hidden ^ ndimage.binary_erosion(hidden)
    shown[ndimage.binary_dilation(edge)] = (255, 255, 255)
    panels = [(rgb_to_bgr(frame.rgb), f"{frame.name} ({frame.sensor_type})"),
              (colorize(inp, lo, hi), f"input ({lo:.2f}-{hi:.2f} m)"),
              (shown, f"{name} depth, {'hidden' if target is None else 'scored'} outlined")]
    panels += [(colorize(e + 1e-9 * hidden, 0, emax, cv2.COLORMAP_INFERNO), f"|{k} - {name}| (0-{emax:.3g} m)")
               for k, e in errs.items()]
    panels += [(colorize(p, lo, hi), k) for k, p in preds.items()]
    return sheet(panels, 6)


def _mean(rows: list[dict]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in rows])) for m in METRICS}


def evaluate_real(models: Mapping[str, object], root: Path, out: Path, *, depth_scale: float = 0.001,
                  seed: int = 0, max_side: int = 640, tokens: int | None = None, images: int = 4,
                  device: str = "cpu", protocols=REAL_PROTOCOLS, progress: bool = True,
                  header: str = "") -> dict:
    """Score ``models`` ({name: MDM or callable(rgb, depth) -> depth}) and the classical fills on the
    real frames of ``root`` under ``protocols`` (the GT ones on the frames with a ``GT_NAME``); writes
    OUT/metrics.json, OUT/metrics.md and OUT/images/<protocol>_<frame>.png (for the first ``images``
    frames of each protocol, every sensor type first). Returns the metrics dict (see :func:`summarise`)."""
    unknown = [p for p in protocols if p not in REAL_PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown real protocol(s) {unknown}; known: {', '.join(REAL_PROTOCOLS)}")
    out = check_writable_dir(Path(out), "--out")
    frames, gts, masks = [], [], []
    for full in load_real_frames(Path(root), depth_scale, require_intrinsics=False):
        gt, mask = read_gt(full)
        frame = downscale_frame(full, max_side)
        frames.append(frame)
        gts.append(_resize_nearest(gt, frame.depth.shape))
        masks.append(_resize_nearest(mask, frame.depth.shape))
    predictors = {name: _predictor(m, device, tokens) for name, m in models.items()}
    methods = list(predictors) + list(BASELINES)
    first = next(iter(predictors), "nearest")
    donors = [(f.name, f.depth.shape, hole_components(f.valid)) for f in frames]
    order = _interleave_by_type(frames)
    with_image = {p: set([i for i in order if p not in GT_PROTOCOLS or gt_scored(p, frames[i], gts[i], masks[i])
                          is not None][:images]) for p in protocols}
    (out / "images").mkdir(parents=True, exist_ok=True)
    per_frame: dict[str, dict[str, dict]] = {p: {} for p in protocols}
    info: dict[str, dict] = {}
    bar = tqdm(total=len(frames) * len(protocols), desc="eval --real", unit="input", disable=not progress)
    for index, frame in enumerate(frames):
        info[frame.name] = {"sensor": frame.sensor, "sensor_type": frame.sensor_type, "registered": frame.registered,
                            "size_wh": [frame.depth.shape[1], frame.depth.shape[0]],
                            "valid_fraction": round(frame.valid_fraction, 4), "notes": frame.notes,
                            "gt": GT_NAME if gts[index] is not None else None,
                            "transparent_mask": MASK_NAME if masks[index] is not None else None, "hidden": {}}
        for pi, proto in enumerate(protocols):
            bar.update()
            target = frame.depth
            if proto in GT_PROTOCOLS:
                scored = gt_scored(proto, frame, gts[index], masks[index])
                if scored is None:
                    continue  # not part of this protocol
                inp, hidden = scored
                target = gts[index]
                pieces = int(ndimage.label(hidden, structure=np.ones((3, 3), bool))[1])
            else:
                rng = np.random.default_rng([seed, pi, index])
                if proto == "real_blocks":
                    hidden, shapes = hidden_blocks(frame.valid, rng)
                else:
                    hidden, shapes = transplant_holes(frame.valid, [d for d in donors if d[0] != frame.name], rng)
                inp, pieces = np.where(hidden, 0.0, frame.depth).astype(np.float32), len(shapes)
            info[frame.name]["hidden"][proto] = {"pieces": pieces, "pixels": int(hidden.sum())}
            if not hidden.any():
                continue
            preds = {name: np.where(inp > 0, inp, fn(frame.rgb, inp)).astype(np.float32)
                     for name, fn in predictors.items()}
            preds |= run_baselines(inp, frame.rgb)
            per_frame[proto][frame.name] = {m: _metrics(preds[m], target, hidden) for m in methods}
            if index in with_image[proto]:
                extra = {} if proto not in GT_PROTOCOLS else {"target": target, "name": "GT"}
                cv2.imwrite(str(out / "images" / f"{proto}_{frame.name}.png"),
                            comparison_image(frame, inp, hidden, preds, first, **extra))
    bar.close()
    if not any(per_frame.values()):
        raise UserError(f"--real {root}: no frame had depth that could be hidden and scored")
    skipped = {p: _why_skipped(p, gts, masks) for p, scored in per_frame.items() if not scored}
    result = summarise(per_frame, info, methods, skipped)
    write_real_metrics(out, result, root, seed, max_side, header)
    return result


def summarise(per_frame: dict[str, dict[str, dict]], info: dict[str, dict], methods: list[str],
              skipped: dict[str, str] | None = None) -> dict:
    """{"protocols": {p: {method: overall metrics}}, "by_sensor_type": {p: {type: {method: metrics}}},
    "frames": {p: {frame: {method: metrics}}}, "frame_info": {...}, "counts": {p: {group: frames}},
    "wins": {p: {method: {other: frames where method's RMSE < other's}}}, "skipped": {p: why}} (first
    methods are models). A protocol without any scored frame appears only in "skipped"."""
    result: dict = {"protocols": {}, "by_sensor_type": {}, "frames": {p: f for p, f in per_frame.items() if f},
                    "frame_info": info, "counts": {}, "wins": {}, "skipped": dict(skipped or {})}
    for proto, frames in per_frame.items():
        if not frames:
            result["skipped"].setdefault(proto, "no frame scored")
            continue
        groups: dict[str, list[str]] = {"overall": list(frames)}
        for name in frames:
            groups.setdefault(info[name]["sensor_type"], []).append(name)
        result["protocols"][proto] = {m: _mean([frames[f][m] for f in frames]) for m in methods}
        result["by_sensor_type"][proto] = {g: {m: _mean([frames[f][m] for f in names]) for m in methods}
                                           for g, names in groups.items() if g != "overall"}
        result["counts"][proto] = {g: len(names) for g, names in groups.items()}
        result["wins"][proto] = {a: {b: sum(frames[f][a]["rmse"] < frames[f][b]["rmse"] for f in frames)
                                     for b in methods if b != a} for a in methods if a not in BASELINES}
    return result


def write_real_metrics(out: Path, result: dict, root: Path, seed: int, max_side: int, header: str = "") -> None:
    """OUT/metrics.json and OUT/metrics.md (atomic)."""
    tmp = out / ".metrics.json.tmp"
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, out / "metrics.json")
    n = len(result["frame_info"])
    lines = [header or "# MDM evaluation on real captures", "",
             f"{n} real frames from `{root}` (longer side <= {max_side} px), seed {seed} (`mdm/real_eval.py`). "
             "RMSE (m) per frame, averaged per sensor type and over the frames of each protocol; best in bold.", ""]
    lines += [f"* `{p}`: {PROTOCOL_TEXT[p]}." for p in result["protocols"]]
    lines += [f"* `{p}`: not scored ({why})." for p, why in result["skipped"].items()]
    if any(p in result["protocols"] for p in ("real_blocks", "real_holes")):
        lines.append("* `real_blocks` / `real_holes` have no GT: hidden pixels are ones the sensor could measure.")
    if any(p in result["protocols"] for p in GT_PROTOCOLS):
        lines.append(f"* GT protocols: `{GT_NAME}` is itself a sensor measurement (ClearGrasp: mean of 8 raw frames "
                     "of the scene with opaque copies of the transparent objects) and valid on a sensor hole only "
                     "where one of its frames measured, so the hardest holes are not scored.")
    lines.append("")
    for proto, overall in result["protocols"].items():
        methods = list(overall)
        lines += [f"## {proto}", "", "| sensor type | frames | " + " | ".join(methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        rows = [("overall", overall)] + sorted(result["by_sensor_type"][proto].items())
        for group, ms in rows:
            best = min(ms, key=lambda k: ms[k]["rmse"])
            cells = [f"**{ms[m]['rmse']:.4f}**" if m == best else f"{ms[m]['rmse']:.4f}" for m in methods]
            lines.append(f"| {group} | {result['counts'][proto][group]} | " + " | ".join(cells) + " |")
        lines += ["", "| overall | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        for metric in ("mae", "absrel", "delta1"):
            lines.append(f"| {metric} | " + " | ".join(f"{overall[m][metric]:.4f}" for m in methods) + " |")
        wins = result["wins"][proto]
        if wins:
            lines.append("")
            for a, against in wins.items():
                total = result["counts"][proto]["overall"]
                lines.append(f"`{a}` has the lower RMSE on " + ", ".join(
                    f"{k} of {total} frames vs {b}" for b, k in against.items()) + ".")
        px = "scored px" if proto in GT_PROTOCOLS else "hidden px"
        lines += ["", "<details><summary>per frame (RMSE m)</summary>", "",
                  f"| frame | sensor type | {px} | " + " | ".join(methods) + " |",
                  "|---|---|---|" + "---|" * len(methods)]
        for name, ms in result["frames"][proto].items():
            fi = result["frame_info"][name]
            best = min(ms, key=lambda k: ms[k]["rmse"])
            cells = [f"**{ms[m]['rmse']:.4f}**" if m == best else f"{ms[m]['rmse']:.4f}" for m in methods]
            lines.append(f"| {name}{'' if fi['registered'] is not False else ' (unregistered)'} | "
                         f"{fi['sensor_type']} | {fi['hidden'][proto]['pixels']} | " + " | ".join(cells) + " |")
        lines += ["", "</details>", ""]
    tmp = out / ".metrics.md.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out / "metrics.md")


def eval_real_checkpoint(ckpt: Path, root: Path, out: Path, *, depth_scale: float = 0.001, seed: int = 0,
                         max_side: int = 640, tokens: int | None = None, images: int = 4, device: str = "cpu",
                         progress: bool = True) -> list[str]:
    """``eval --real``: the checkpoint (as ``model``) and the fills on the real frames of ``root``; returns
    the summary lines the CLI prints."""
    from mdm.checkpoint import load_model

    model = load_model(Path(ckpt), device)
    header = f"# MDM evaluation on real captures\n\ncheckpoint `{ckpt}`"
    result = evaluate_real({"model": model}, Path(root), Path(out), depth_scale=depth_scale, seed=seed,
                           max_side=max_side, tokens=tokens, images=images, device=device, progress=progress,
                           header=header)
    lines = []
    for proto, methods in result["protocols"].items():
        lines.append(f"{proto:19s} " + "  ".join(f"{m} {v['rmse']:.3f}" for m, v in methods.items())
                     + f"  (RMSE m, mean of {result['counts'][proto]['overall']} frames)")
    lines += [f"{proto:19s} not scored: {why}" for proto, why in result["skipped"].items()]
    lines.append(f"wrote {Path(out) / 'metrics.json'}, {Path(out) / 'metrics.md'}, {Path(out) / 'images'}")
    return lines
