"""Checkpoint files: atomic save, validated load, model rebuild, and DINOv2 weight import.

A checkpoint is a ``torch.save`` dict: ``format`` ("mdm-checkpoint"), ``version``, ``model_config``
(MDMConfig as a dict), ``model`` (state dict) and, for training checkpoints, ``optimizer``,
``scheduler``, ``step``, ``rng`` and ``data`` (position of the data stream) and ``train`` (run options).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from lbd.errors import UserError
from mdm.model import MDM, MDMConfig

FORMAT, VERSION = "mdm-checkpoint", 1


class CheckpointError(UserError, ValueError):
    """A checkpoint that is missing, unreadable, or does not fit the requested model; names the file."""


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` through a temporary file in the same directory and ``os.replace``:
    a reader never sees a half-written checkpoint, and a crash leaves the previous file intact."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "version": VERSION} | state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _first_sentence(exc: BaseException, limit: int = 160) -> str:
    """The start of an exception's message, on one line (torch's can run to several sentences)."""
    text = " ".join(str(exc).split())
    text = text.split(". ")[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_checkpoint(path: Path) -> dict:
    """Read and check a checkpoint; raises CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, not a torch file, foreign pickle ...
        raise CheckpointError(f"checkpoint {path} is not readable, truncated or not a torch file "
                              f"({type(exc).__name__}: {_first_sentence(exc)})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an MDM checkpoint (no 'format': '{FORMAT}' entry)")
    for key in ("model_config", "model"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path} lacks {key!r}")
    return ckpt


def model_from_checkpoint(ckpt: dict, path: Path, expect_size: str | None = None) -> MDM:
    """Rebuild the model of a loaded checkpoint; CheckpointError if it is another size or mismatched."""
    try:
        cfg = MDMConfig.from_dict(ckpt["model_config"])
    except (TypeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path} has an unusable model_config ({exc})") from None
    if expect_size is not None and cfg.name != expect_size:
        raise CheckpointError(f"checkpoint {path} holds a {cfg.name!r} model, not {expect_size!r}")
    model = MDM(cfg)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise CheckpointError(f"checkpoint {path} does not fit the {cfg.name!r} architecture: "
                              f"{' '.join(first)}") from None
    return model


def load_model(path: Path, device: str = "cpu", expect_size: str | None = None) -> MDM:
    model = model_from_checkpoint(load_checkpoint(path), path, expect_size)
    return model.to(device).eval()


# ---------------------------------------------------------------- DINOv2 initialisation

_PREFIXES = ("module.", "backbone.", "encoder.")


def _dinov2_state(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"DINOv2 checkpoint {path} does not exist")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"DINOv2 checkpoint {path} is not readable ({type(exc).__name__})") from None
    for wrapper in ("teacher", "model", "state_dict"):
        if isinstance(sd, dict) and isinstance(sd.get(wrapper), dict):
            sd = sd[wrapper]
    if not isinstance(sd, dict) or "patch_embed.proj.weight" not in {_strip(k) for k in sd}:
        raise CheckpointError(f"{path} does not look like a DINOv2 state dict (no patch_embed.proj.weight)")
    return {_strip(k): v for k, v in sd.items()}


def _strip(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
    return re.sub(r"^blocks\.\d+\.(\d+)\.", r"blocks.\1.", key)  # chunked blocks (blocks.c.i.) -> blocks.i.


def load_dinov2(model: MDM, path: Path) -> list[str]:
    """Copy a local DINOv2 ViT/14 state dict into the encoder: patch_embed -> RGB patch embed,
    pos_embed (resized bicubically if the table size differs), cls_token, blocks, norm. The depth patch
    embed gets the RGB kernel averaged over colour channels (validity channel zero). Nothing is
    downloaded. Returns the encoder keys that were loaded; raises CheckpointError on a size mismatch."""
    from mdm.layers import interpolate_pos_table

    src = _dinov2_state(path)
    enc = model.encoder
    target = enc.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for key, value in src.items():
        if key.startswith("patch_embed."):
            mapped["rgb_embed." + key[len("patch_embed."):]] = value
        elif key.startswith(("blocks.", "norm.")) or key in ("cls_token", "pos_embed"):
            mapped[key] = value
    if "pos_embed" in mapped and mapped["pos_embed"].shape != target["pos_embed"].shape:
        pe = mapped["pos_embed"]
        side = model.cfg.pos_grid
        mapped["pos_embed"] = torch.cat([pe[:, :1], interpolate_pos_table(pe[0, 1:], side, side)[None]], 1)
    rgb_w = mapped.get("rgb_embed.proj.weight")
    if rgb_w is not None:
        depth_w = torch.zeros_like(target["depth_embed.proj.weight"])
        if depth_w.shape[0] == rgb_w.shape[0] and depth_w.shape[2:] == rgb_w.shape[2:]:
            depth_w[:, 0] = rgb_w.mean(dim=1)
            mapped["depth_embed.proj.weight"] = depth_w
            mapped["depth_embed.proj.bias"] = mapped["rgb_embed.proj.bias"].clone()
    problems = [f"{k}: {tuple(v.shape)} vs model {tuple(target[k].shape)}"
                for k, v in mapped.items() if k in target and v.shape != target[k].shape]
    unknown = [k for k in mapped if k not in target]
    if problems or unknown:
        raise CheckpointError(f"DINOv2 checkpoint {path} does not fit the {model.cfg.name!r} encoder: "
                              + "; ".join((problems + [f"no slot for {k}" for k in unknown])[:4]))
    enc.load_state_dict(mapped, strict=False)
    return sorted(mapped)
