"""Training loop (MAE ``engine_pretrain`` style): AdamW with encoder/decoder LR groups, encoder linear
warm-up, step decay, grad clip 1.0, optional bf16 autocast, DDP under torchrun, atomic resumable
checkpoints, tqdm progress, ``log.csv`` and ``loss.png``. Loss (``--loss``): L1, per-image RMSE or their
mean, in metres on pixels with GT."""
from __future__ import annotations

import csv
import fnmatch
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from lbd.errors import OutputError, UsageError, UserError, check_writable_dir, os_error_message
from mdm.augment import NO_AUGMENT, AugmentConfig
from mdm.checkpoint import CheckpointError, load_checkpoint, load_dinov2, model_from_checkpoint, save_checkpoint
from mdm.data import ShardStream, make_loader, worker_skips
from mdm.model import MDM, build_model, model_config

PARAM_GROUPS = {"encoder": "encoder.*", "decoder": "decoder.*"}  # glob -> LR group (MoGe style)
# log.csv columns, one row per step. Times in s: wait_s = blocked on the DataLoader for the step's batch,
# step_s = forward, backward and optimiser step; a step's wall time is wait_s + step_s (= batch x ranks /
# samples_per_s). New columns go last: readers look columns up by name, and a resume rewrites an older
# log.csv under this header (its rows keep empty new columns).
LOG_FIELDS = ("step", "loss", "lr_encoder", "lr_decoder", "samples_per_s", "elapsed_s", "wait_s", "step_s")
RESUME_KEYS = ("optimizer", "scheduler", "step", "rng")
LR_FROM_SCRATCH = (3e-4, 3e-4)  # (encoder, decoder) peak LRs of a randomly initialised encoder
LR_DINOV2 = (1e-5, 1e-4)  # with --init-dinov2: the tech report's / MoGe's (pretrained encoder, new decoder)


def default_lrs(cfg: TrainConfig) -> tuple[float, float]:
    """(encoder, decoder) LRs of ``cfg``: the given ones, else the defaults for whether the encoder is
    initialised from DINOv2 (LR_DINOV2) or trained from scratch (LR_FROM_SCRATCH)."""
    base = LR_DINOV2 if cfg.init_dinov2 else LR_FROM_SCRATCH
    return (cfg.lr_encoder if cfg.lr_encoder is not None else base[0],
            cfg.lr_decoder if cfg.lr_decoder is not None else base[1])


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; nothing is saved for that step (the message names it)."""


@dataclass
class TrainConfig:
    """One training run. Sizes in pixels (H, W, multiples of 14); learning rates per optimiser step."""

    data: list[str]
    out: str
    model: str | None = None  # default "tiny"; on resume, the checkpoint's
    steps: int = 1000
    batch: int = 8
    device: str = "cpu"
    seed: int = 0
    workers: int = 2
    lr_encoder: float | None = None  # default: LR_FROM_SCRATCH, or LR_DINOV2 with init_dinov2
    lr_decoder: float | None = None
    size: tuple[int, int] = (168, 224)
    warmup: int | None = None  # encoder warm-up steps; default min(2000, steps // 10)
    decay_every: int | None = None  # LR x decay every N steps; default max(1, steps // 4)
    decay: float = 0.5
    weight_decay: float = 0.05
    clip: float = 1.0
    bf16: bool | None = None  # default: on for CUDA, off on CPU
    ckpt_every: int = 500
    block_prob: float = 0.3
    loss: str = "l1"  # one of LOSSES
    mask_ratio: tuple[float, float] = (0.6, 0.9)  # masked share of depth patches ~ U(lo, hi) (report 2.2)
    mask_mixed: float = 0.75  # probability of masking a partly valid patch (report 2.2)
    buffer: int = 64
    repeats: int = 4  # augmented examples per decoded sample (repeated augmentation)
    prior: str = "blend"  # model prior: blend | nearest | harmonic | guided | fill | median (see MDM)
    smooth: str = "guided"  # blend's smooth fill: guided | harmonic (see MDM)
    islands: float = 0.001  # far-island filter, share of the image (see MDMConfig.islands); 0 = off
    depth_skip: bool = True  # decoder sees [prior, seen] at every scale
    augment: bool = True
    init_dinov2: str | None = None
    resume: bool = False
    threads: int | None = None  # torch intra-op threads (default: torch's choice)
    time_limit_s: float | None = None  # stop (with a checkpoint) once this much wall time has passed
    progress: bool = True
    extra: dict = field(default_factory=dict)


class WarmupStepDecay:
    """LR factor at a step: linear 0 -> 1 over ``warmup`` steps, times ``decay`` every ``every`` steps."""

    def __init__(self, warmup: int, every: int, decay: float):
        self.warmup, self.every, self.decay = warmup, every, decay

    def __call__(self, step: int) -> float:
        ramp = min(1.0, step / self.warmup) if self.warmup > 0 else 1.0
        return ramp * self.decay ** (step // self.every)


def param_groups(model: MDM, cfg: TrainConfig) -> list[dict]:
    """Encoder / decoder groups, each split into decayed (matrices, kernels) and undecayed (biases,
    norms, LayerScale, tokens, position table); asserts every trainable parameter is in a group."""
    groups: dict[tuple[str, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        owner = next((g for g, pat in PARAM_GROUPS.items() if fnmatch.fnmatch(name, pat)), None)
        assert owner is not None, f"parameter {name} matches no LR group"
        no_decay = p.ndim <= 1 or name.endswith(("cls_token", "pos_embed"))
        groups.setdefault((owner, no_decay), []).append(p)
    lrs = dict(zip(("encoder", "decoder"), default_lrs(cfg)))
    return [{"params": ps, "lr": lrs[owner], "weight_decay": 0.0 if nd else cfg.weight_decay,
             "name": f"{owner}{'_no_decay' if nd else ''}"} for (owner, nd), ps in sorted(groups.items())]


LOSSES = ("l1", "rmse", "l1+rmse")


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |pred - target| in metres over pixels with GT (target > 0)."""
    valid = torch.isfinite(target) & (target > 0)
    if not bool(valid.any()):
        return pred.sum() * 0.0
    return (pred.float() - target)[valid].abs().mean()


def rmse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image RMSE in metres over pixels with GT, averaged over the images that have GT (the
    evaluation's metric): unlike L1 (the median's loss), it penalises a confident wrong surface more than
    an in-between value."""
    valid = (torch.isfinite(target) & (target > 0)).flatten(1)
    err2 = (pred.float().flatten(1) - torch.nan_to_num(target).flatten(1)).square() * valid
    count = valid.sum(1)
    has = count > 0
    if not bool(has.any()):
        return pred.sum() * 0.0
    return (err2.sum(1)[has] / count[has] + 1e-8).sqrt().mean()


def depth_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Training loss (metres) of ``kind`` in LOSSES; ``l1+rmse`` = the mean of the two."""
    if kind == "l1":
        return l1_loss(pred, target)
    if kind == "rmse":
        return rmse_loss(pred, target)
    if kind == "l1+rmse":
        return 0.5 * (l1_loss(pred, target) + rmse_loss(pred, target))
    raise ValueError(f"unknown loss {kind!r}; choose one of {', '.join(LOSSES)}")


def train_step(net: torch.nn.Module, model: MDM, opt: torch.optim.Optimizer, batch: dict, device: str,
               bf16: bool, clip: float, loss: str = "l1") -> torch.Tensor:
    """One optimiser step on a collated batch (rgb uint8, depth m, target m, keep); returns the loss."""
    rgb = batch["rgb"].to(device).float() / 255.0
    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
        pred = net(rgb, batch["depth"].to(device), batch["keep"].to(device))
    value = depth_loss(pred, batch["target"].to(device), loss)
    opt.zero_grad(set_to_none=True)
    value.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return value.detach()


def setup_distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, device); initialises the process group from torchrun's env when WORLD_SIZE > 1
    (nccl on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://")
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return dist.get_rank(), world, device


def read_log(path: Path) -> list[dict]:
    """Rows of log.csv; a row cut short (a full disk while appending) is dropped."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    good = []
    for row in rows:
        try:
            int(row["step"]), float(row["loss"]), float(row["elapsed_s"])
        except (TypeError, ValueError, KeyError):
            continue
        good.append(row)
    return good


def write_log(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def append_log(path: Path, row: dict) -> None:
    with open(path, "a", newline="") as f:
        csv.DictWriter(f, fieldnames=LOG_FIELDS).writerow(row)


def plot_loss(log: Path, out: Path) -> None:
    """``loss.png``: L1 loss (m) per step, raw and smoothed, log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log)
    if not rows:
        return
    steps = np.array([int(r["step"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(steps, loss, lw=0.6, alpha=0.4, label="loss")
    k = max(1, len(loss) // 50)
    if len(loss) > k:
        ax.plot(steps[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), lw=1.5, label=f"mean of {k}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("L1 depth error (m)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = out.with_name(f".{out.stem}.tmp.png")
    try:
        fig.savefig(tmp)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)


def _output_error(exc: OSError, out: Path, what: str) -> OutputError | None:
    """One line for a full disk / permission error while writing ``what`` into the run directory."""
    reason = os_error_message(exc)
    if reason is None:
        return None
    return OutputError(f"--out {out}: cannot write {what} ({reason.split(': ', 1)[-1]})")


def _agree(flag: bool, world: int, device: str) -> bool:
    """True on every rank if it is true on any rank (so all ranks stop at the same step)."""
    if world <= 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _run_config_from_checkpoint(cfg: TrainConfig, ckpt: dict, path: Path) -> TrainConfig:
    """On resume the data stream and schedule come from the checkpoint; only steps, device, workers,
    checkpoint cadence and progress may change. A different model size is an error."""
    missing = [k for k in RESUME_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} cannot be resumed: it lacks {', '.join(missing)} (not a "
                              f"training checkpoint?)")
    saved = ckpt.get("train") or {}
    saved_model = ckpt["model_config"].get("name")
    if cfg.model is not None and saved_model != cfg.model:
        raise CheckpointError(f"checkpoint {path} holds a {saved_model!r} model, not {cfg.model!r}")
    keep = {"steps", "device", "workers", "ckpt_every", "progress", "resume", "out", "threads", "time_limit_s"}
    merged = {k: (getattr(cfg, k) if k in keep or k not in saved else saved[k]) for k in asdict(cfg)}
    merged["size"] = tuple(merged["size"])
    merged["model"] = saved_model
    if "loss" not in saved:  # checkpoints from before --loss trained with L1
        merged["loss"] = "l1"
    merged["smooth"] = ckpt["model_config"].get("smooth", "harmonic")  # the model's own, as it was built
    merged["islands"] = ckpt["model_config"].get("islands", 0.0)
    return TrainConfig(**merged)


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training; returns {"step", "loss", "samples_per_s"} of the last step.

    Raises UsageError when a resumed run is already at ``steps``, TrainingDiverged (naming the step) when
    the loss becomes NaN/inf (no checkpoint is written for it), OutputError on a full or unwritable --out."""
    out = Path(cfg.out)
    last = out / "last.pt"
    ckpt = None
    if cfg.resume:
        if not last.exists():
            raise CheckpointError(f"--resume: {last} does not exist")
        ckpt = load_checkpoint(last)
        cfg = _run_config_from_checkpoint(cfg, ckpt, last)
        done = int(ckpt["step"])
        if done >= cfg.steps:
            raise UsageError(f"--steps {cfg.steps}: checkpoint {last} is already at step {done} (>= --steps); "
                             f"pass --steps larger than {done} to train further")
    elif last.exists():
        raise CheckpointError(f"{out} already holds a run ({last}); pass --resume or choose another --out")
    else:
        cfg.model = cfg.model or "tiny"
    check_writable_dir(out, "--out")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rank, world, device = setup_distributed(cfg.device)
    bf16 = cfg.bf16 if cfg.bf16 is not None else device.startswith("cuda")
    patch = 14
    if cfg.size[0] % patch or cfg.size[1] % patch:
        raise ValueError(f"--size {cfg.size[0]}x{cfg.size[1]} must be multiples of {patch} px")
    rows, cols = cfg.size[0] // patch, cfg.size[1] // patch
    if ckpt is not None:
        model = model_from_checkpoint(ckpt, last, cfg.model)
    else:
        model = build_model(model_config(cfg.model, tokens=rows * cols, prior=cfg.prior, smooth=cfg.smooth,
                                         islands=cfg.islands,
                                         depth_skip=cfg.depth_skip), seed=cfg.seed)
        if cfg.init_dinov2:
            load_dinov2(model, Path(cfg.init_dinov2))
    model.to(device)
    warmup = cfg.warmup if cfg.warmup is not None else min(2000, cfg.steps // 10)
    every = cfg.decay_every if cfg.decay_every is not None else max(1, cfg.steps // 4)
    cfg.warmup, cfg.decay_every = warmup, every
    cfg.lr_encoder, cfg.lr_decoder = default_lrs(cfg)  # resolved, so the checkpoint records them
    opt = torch.optim.AdamW(param_groups(model, cfg), betas=(0.9, 0.999))
    lambdas = [WarmupStepDecay(warmup if g["name"].startswith("encoder") else 0, every, cfg.decay)
               for g in opt.param_groups]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambdas)
    start = 0
    if ckpt is not None:
        try:
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            _restore_rng(ckpt["rng"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {last} has an unusable optimiser/scheduler/RNG state "
                                  f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
        start = int(ckpt["step"])
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    stream = ShardStream(cfg.data, cfg.size, seed=cfg.seed, rank=rank, world=world, buffer=cfg.buffer,
                         aug=AugmentConfig() if cfg.augment else NO_AUGMENT,
                         block_prob=cfg.block_prob, patch=patch, repeats=cfg.repeats,
                         mask_ratio=tuple(cfg.mask_ratio), mask_mixed=cfg.mask_mixed,
                         skip=worker_skips(start, cfg.batch, cfg.workers))
    batches = iter(make_loader(stream, cfg.batch, cfg.workers))
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.csv"
    log = [r for r in read_log(log_path) if int(r["step"]) <= start] if rank == 0 else []
    if rank == 0:
        try:
            write_log(log_path, log)  # drop rows logged after the checkpoint we resume from
        except OSError as exc:
            raise _output_error(exc, out, "log.csv") or exc from None

    def checkpoint(step: int) -> None:
        state = {"model_config": model.cfg.to_dict(), "model": model.state_dict(),
                 "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                 "rng": _rng_state(), "train": asdict(cfg) | {"size": list(cfg.size)},
                 "data": {"batches": step, "batch": cfg.batch, "workers": cfg.workers, "world": world}}
        for path in (out / f"step_{step:06d}.pt", last):
            try:
                save_checkpoint(path, state)
            except OSError as exc:
                raise _output_error(exc, out, f"checkpoint {path.name} at step {step}") or exc from None
        try:
            plot_loss(log_path, out / "loss.png")
        except OSError as exc:
            raise _output_error(exc, out, "loss.png") or exc from None

    t0 = time.time()
    elapsed0 = float(log[-1]["elapsed_s"]) if log else 0.0
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"train {cfg.model}",
               unit="step", disable=rank != 0 or not cfg.progress, dynamic_ncols=True)
    result = {"step": start, "loss": float("nan"), "samples_per_s": 0.0}
    waited = busy = 0.0  # s waiting for batches / in whole steps, after the first (worker start-up): load=%
    net.train()
    for step in bar:
        lrs = [g["lr"] for g in opt.param_groups]
        tick = time.perf_counter()
        batch = next(batches)
        ready = time.perf_counter()
        loss = train_step(net, model, opt, batch, device, bf16, cfg.clip, cfg.loss)
        sched.step()
        loss_m = loss.item()  # waits for the device, so step_s is the step's compute
        wait_s, step_s = ready - tick, time.perf_counter() - ready
        if step > start:
            waited, busy = waited + wait_s, busy + wait_s + step_s
        rate = cfg.batch * world / max(wait_s + step_s, 1e-9)
        if _agree(not math.isfinite(loss_m), world, device):
            saved = (f"the last checkpoint, {last} (step {load_checkpoint(last)['step']}), is untouched"
                     if last.exists() else "no checkpoint was written")
            raise TrainingDiverged(f"loss is {loss_m} at step {step + 1}: training diverged; nothing was saved "
                                   f"for this step and {saved}. Lower --lr-encoder/--lr-decoder (or check the "
                                   f"data) and train again")
        result = {"step": step + 1, "loss": loss_m, "samples_per_s": rate}
        if rank == 0:
            enc_lr = max(lr for g, lr in zip(opt.param_groups, lrs) if g["name"].startswith("encoder"))
            dec_lr = max(lr for g, lr in zip(opt.param_groups, lrs) if g["name"].startswith("decoder"))
            try:
                append_log(log_path, {"step": step + 1, "loss": f"{loss_m:.6f}",
                                      "lr_encoder": f"{enc_lr:.3e}", "lr_decoder": f"{dec_lr:.3e}",
                                      "samples_per_s": f"{rate:.2f}",
                                      "elapsed_s": f"{elapsed0 + time.time() - t0:.1f}",
                                      "wait_s": f"{wait_s:.4f}", "step_s": f"{step_s:.4f}"})
            except OSError as exc:
                raise _output_error(exc, out, f"log.csv at step {step + 1}") or exc from None
            bar.set_postfix(loss=f"{loss_m:.4f}", samples_s=f"{rate:.1f}", load=f"{waited / max(busy, 1e-9):.0%}")
        out_of_time = _agree(cfg.time_limit_s is not None and time.time() - t0 > cfg.time_limit_s, world, device)
        if rank == 0 and ((step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps or out_of_time):
            checkpoint(step + 1)
        if out_of_time:
            break
    bar.close()
    if world > 1:
        dist.barrier()
    return result
