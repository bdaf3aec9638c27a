"""CLI commands ``train``, ``eval`` and ``complete`` (registered in cli.py as mdm.commands:train,
mdm.commands:eval_cmd, mdm.commands:complete). Thin wrappers: parse, check the options, call the package.
User mistakes raise :class:`lbd.errors.UserError` subclasses, which cli.py turns into one line."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from lbd.errors import UsageError, UserError

SIZE_HELP = "training crop H x W in px, multiples of 14"


def _clean(exc: Exception) -> str:
    """Message of an exception; for one re-raised from a DataLoader worker, its original last line."""
    msg = str(exc)
    if "Original Traceback" in msg:
        last = [line for line in msg.strip().splitlines() if line.strip()][-1]
        msg = last.split(": ", 1)[1] if ": " in last and last.split(": ", 1)[0].endswith(("Error", "Exception")) else last
    return msg


def _one_line(exc: UserError) -> UserError:
    """A user error re-raised from a DataLoader worker carries the worker's traceback in its message:
    the same error with only the original message."""
    if "Original Traceback" not in str(exc):
        return exc
    clean = UserError(_clean(exc))
    clean.exit_code = exc.exit_code
    return clean


def check_device(device: str, option: str = "--device") -> str:
    """``device`` if this torch can use it, else a UsageError naming the option (no traceback)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(f"{option} {device}: not a torch device (use cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{option} {device}: this torch ({torch.__version__}) has no usable CUDA; "
                             f"use {option} cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"{option} {device}: there are only {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError(f"{option} {device}: MPS is not available here; use {option} cpu")
    elif dev.type != "cpu":
        raise UsageError(f"{option} {device}: device type {dev.type!r} is not supported (use cpu or cuda)")
    return device


def _parse_size(ctx, param, value: str | None):
    if value is None:
        return None
    try:
        h, w = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HxW (e.g. 168x224)") from None
    if h <= 0 or w <= 0 or h % 14 or w % 14:
        raise click.BadParameter(f"{value!r}: both sides must be positive multiples of 14 px")
    return (h, w)


@click.command()
@click.option("--data", "data", multiple=True, required=True, type=click.Path(path_type=Path),
              help="dataset directory with manifest.json (repeat for several)")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="run directory: last.pt, step_XXXXXX.pt, log.csv, loss.png")
@click.option("--model", type=click.Choice(["tiny", "small", "base", "large"]), default=None,
              help="model size  [default: tiny; on --resume the checkpoint's]")
@click.option("--steps", type=click.IntRange(1), default=1000, show_default=True,
              help="total optimiser steps (on --resume: train up to this step)")
@click.option("--batch", type=click.IntRange(1), default=8, show_default=True, help="samples per step per rank")
@click.option("--device", default="cpu", show_default=True, help="torch device: cpu, cuda, cuda:N")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of init, data order, augmentation")
@click.option("--resume", is_flag=True, help="continue RUN/last.pt (data stream, LR schedule and options "
              "from the checkpoint; --steps, --device, --workers, --ckpt-every may change)")
@click.option("--workers", type=click.IntRange(0), default=2, show_default=True,
              help="DataLoader worker processes per rank")
@click.option("--lr-encoder", type=float, default=None,
              help="peak encoder LR (linear warm-up from 0)  [default: 3e-4 from scratch, 1e-5 with --init-dinov2]")
@click.option("--lr-decoder", type=float, default=None,
              help="decoder LR  [default: 3e-4 from scratch, 1e-4 with --init-dinov2]")
@click.option("--size", callback=_parse_size, default="168x224", show_default=True, help=SIZE_HELP)
@click.option("--warmup", type=click.IntRange(0), default=None,
              help="encoder warm-up steps  [default: min(2000, steps/10)]")
@click.option("--decay-every", type=click.IntRange(1), default=None,
              help="halve both LRs every N steps  [default: steps/4]")
@click.option("--bf16/--no-bf16", default=None, help="bf16 autocast  [default: on for CUDA, off on CPU]")
@click.option("--ckpt-every", type=click.IntRange(1), default=500, show_default=True,
              help="write step_XXXXXX.pt and last.pt every N steps (and at the end)")
@click.option("--block-prob", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="share of samples with sensor depth that get block-corrupted GT as input instead")
@click.option("--loss", type=click.Choice(["l1", "rmse", "l1+rmse"]), default="l1", show_default=True,
              help="depth loss in metres: l1 (mean |error|), rmse (per-image RMSE, the eval's metric), or their mean")
@click.option("--mask-ratio", type=click.FloatRange(0, 1), nargs=2, default=(0.6, 0.9), show_default=True,
              help="masked share of depth patches drawn from U(LO, HI) (tech report: 0.6 0.9)")
@click.option("--mask-mixed", type=click.FloatRange(0, 1), default=0.75, show_default=True,
              help="probability of masking a partly valid depth patch (tech report: 0.75)")
@click.option("--buffer", type=click.IntRange(1), default=64, show_default=True,
              help="shuffle buffer, samples per worker")
@click.option("--repeats", type=click.IntRange(1), default=4, show_default=True,
              help="differently augmented examples per decoded sample (decoding is the loader's cost)")
@click.option("--prior", type=click.Choice(["blend", "nearest", "harmonic", "guided", "fill", "median"]),
              default="blend", show_default=True,
              help="what the head's log-depth residual is added to: a learned per-pixel blend of the nearest "
                   "kept pixel and a smooth fill (--smooth), one fill alone, a push-pull fill, or the image "
                   "median (= the released design, network predicts everything)")
@click.option("--smooth", type=click.Choice(["guided", "harmonic"]), default="guided", show_default=True,
              help="blend's smooth fill: guided = membrane fill that stops at colour edges of the RGB, "
                   "harmonic = plain membrane (Laplace) fill")
@click.option("--islands", type=click.FloatRange(0, 0.1), default=0.001, show_default=True,
              help="far-island filter: measured components smaller than this share of the image and more "
                   "than ~10 %% farther than the fill of the rest are treated as holes (matches through glass "
                   "or a mirror); 0 = use every measured pixel")
@click.option("--no-depth-skip", is_flag=True, help="decoder sees RGB tokens + UV only (released design)")
@click.option("--no-augment", is_flag=True, help="centre crop only, no photometric augmentation")
@click.option("--init-dinov2", type=click.Path(path_type=Path), default=None,
              help="local DINOv2 ViT/14 state dict to initialise the encoder (never downloaded)")
@click.option("--threads", type=click.IntRange(0), default=0, show_default=True,
              help="torch intra-op threads, 0 = torch's default (use 1 on a busy shared CPU)")
def train(data, out, model, steps, batch, device, seed, resume, workers, lr_encoder, lr_decoder, size,
          warmup, decay_every, bf16, ckpt_every, block_prob, loss, mask_ratio, mask_mixed, buffer, repeats, prior, smooth, islands, no_depth_skip, no_augment, init_dinov2, threads):
    """Train an MDM model on shard datasets (depth loss in metres on GT pixels, see --loss)."""
    from mdm.train import TrainConfig
    from mdm.train import train as run

    check_device(device)
    cfg = TrainConfig(data=[str(d) for d in data], out=str(out), model=model, steps=steps, batch=batch,
                      device=device, seed=seed, workers=workers, lr_encoder=lr_encoder,
                      lr_decoder=lr_decoder, size=size, warmup=warmup, decay_every=decay_every, bf16=bf16,
                      ckpt_every=ckpt_every, block_prob=block_prob, loss=loss, mask_ratio=tuple(mask_ratio),
                      mask_mixed=mask_mixed, buffer=buffer, repeats=repeats,
                      prior=prior, smooth=smooth, islands=islands, depth_skip=not no_depth_skip, augment=not no_augment,
                      init_dinov2=str(init_dinov2) if init_dinov2 else None, resume=resume,
                      threads=threads or None)
    try:
        result = run(cfg)
    except UserError as exc:
        raise _one_line(exc) from None
    except RuntimeError as exc:  # a user error wrapped by a DataLoader worker keeps its message
        if "Original Traceback" in str(exc) and ("DatasetError" in str(exc) or "ShardError" in str(exc)):
            raise UserError(_clean(exc)) from None
        raise
    if os.environ.get("RANK", "0") != "0":
        return
    click.echo(f"step {result['step']}: loss {result['loss']:.4f} m, {result['samples_per_s']:.1f} samples/s; "
               f"checkpoint {out / 'last.pt'}")


@click.command("eval")
@click.option("--ckpt", required=True, type=click.Path(path_type=Path), help="checkpoint (.pt)")
@click.option("--data", "data", multiple=True, type=click.Path(path_type=Path),
              help="test dataset directory (repeat for several; --data and/or --real is required)")
@click.option("--real", "real", type=click.Path(path_type=Path), default=None,
              help="folder of real RGB-D frames (<frame>/rgb.*, raw_depth.png, intrinsics.txt): GT-free protocols "
                   "real_blocks and real_holes, per sensor type (mdm/real_eval.py); results in OUT, or OUT/real "
                   "with --data")
@click.option("--depth-scale", type=click.FloatRange(min=0, min_open=True), default=0.001, show_default=True,
              help="--real: metres per unit of raw_depth.png (0.001 = mm; TUM's 1/5000 = 0.0002)")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="output directory: metrics.json, metrics.md, images/")
@click.option("--device", default="cpu", show_default=True, help="torch device")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the block corruptions")
@click.option("--max-samples", type=click.IntRange(1), default=None, help="evaluate the first N samples  [default: all]")
@click.option("--max-side", type=click.IntRange(14), default=640, show_default=True,
              help="downscale frames so the longer side is at most this many px")
@click.option("--tokens", type=click.IntRange(1), default=None,
              help="token budget of the model's grid  [default: the training grid's]")
@click.option("--images", type=click.IntRange(0), default=4, show_default=True,
              help="comparison images for the first N samples per protocol")
@click.option("--protocol", "protocols", multiple=True,
              type=click.Choice(["sensor", "sensor_holes", "block_easy", "block_medium", "block_hard",
                                 "block_extreme"]), help="protocols to run  [default: all]")
def eval_cmd(ckpt, data, real, depth_scale, out, device, seed, max_samples, max_side, tokens, images, protocols):
    """Score a checkpoint and the classical fills (nearest, ip_basic, inpaint, harmonic, guided) on the same inputs.

    The model is scored as ``complete`` writes it: ``model_fill`` = the default (holes filled, measured
    pixels kept), ``model`` = ``complete --refine`` (measured pixels inside the model's range replaced)."""
    from mdm.evaluate import PROTOCOLS, evaluate

    check_device(device)
    if not data and real is None:
        raise UsageError("eval: give --data (rendered test shards) and/or --real (folder of real RGB-D frames)")
    if real is not None:
        from mdm.real_eval import eval_real_checkpoint

        for line in eval_real_checkpoint(ckpt, real, out / "real" if data else out, depth_scale=depth_scale,
                                         seed=seed, max_side=max_side, tokens=tokens, images=images, device=device):
            click.echo(line)
        if not data:
            return
    notes: list[str] = []
    result = evaluate(ckpt, list(data), out, device=device, seed=seed, max_samples=max_samples,
                      max_side=max_side, tokens=tokens, images=images, protocols=protocols or PROTOCOLS,
                      strict=bool(protocols), notes=notes)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    for proto, methods in result["protocols"].items():
        click.echo(f"{proto:14s} " + "  ".join(f"{m} {v['rmse']:.3f}" for m, v in methods.items()) + "  (RMSE m)")
    click.echo(f"wrote {out / 'metrics.json'}, {out / 'metrics.md'}, {out / 'images'}")


@click.command()
@click.option("--ckpt", required=True, type=click.Path(path_type=Path), help="checkpoint (.pt)")
@click.option("--rgb", "rgb", required=True, type=click.Path(path_type=Path), help="RGB image (any size)")
@click.option("--depth", required=True, type=click.Path(path_type=Path),
              help="depth, same size as --rgb, 0 = hole: uint16 PNG/TIFF in --depth-scale units, or float32 "
                   "TIFF/EXR/.npy in metres (8-bit refused)")
@click.option("--depth-scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help="metres per unit of integer depth  [default: 0.001 = millimetres; float depth is metres "
                   "and takes no scale]")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="completed depth: .png = uint16 in the input's units (mm for float input), .tif/.npy = "
                   "the input's kind, .exr = float32 metres; <out>_preview.png is written beside it")
@click.option("--refine", is_flag=True,
              help="also replace measured pixels inside the model's range (0.05-20 m) by the prediction  "
                   "[default: fill holes only; measured pixels keep their values]")
@click.option("--allow-sparse", is_flag=True,
              help="complete even when under 1 % of the pixels have depth (the result is mostly a guess)")
@click.option("--intrinsics", type=click.Path(path_type=Path), default=None,
              help="text file with the RGB camera's 3x3 K (or fx fy cx cy), pixels; writes a point cloud")
@click.option("--ply", type=click.Path(path_type=Path), default=None,
              help="point cloud path  [default: <out>.ply when --intrinsics is given]")
@click.option("--device", default="cpu", show_default=True, help="torch device")
@click.option("--tokens", type=click.IntRange(1), default=None,
              help="token budget of the model's grid  [default: the training grid's]")
def complete(ckpt, rgb, depth, depth_scale, out, refine, allow_sparse, intrinsics, ply, device, tokens):
    """Complete one RGB-D frame at any resolution.

    Holes get the model's prediction; measured pixels are kept unless --refine, and measured pixels
    outside the model's range always are. Prints a JSON line saying what changed."""
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    from mdm.complete import complete_frame

    check_device(device)
    notes: list[str] = []
    result = complete_frame(ckpt, rgb, depth, depth_scale, out, intrinsics=intrinsics, ply=ply, device=device,
                            tokens=tokens, refine=refine, allow_sparse=allow_sparse, notes=notes)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(json.dumps(result))
