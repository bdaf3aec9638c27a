"""MDM model: masking rule, position-table interpolation, padding, DINOv2 import, overfitting a batch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mdm.checkpoint import CheckpointError, load_dinov2
from mdm.layers import interpolate_pos_table
from mdm.masking import patch_valid_fraction, sample_depth_keep
from mdm.model import build_model, model_config, token_grid
from mdm.synthetic import render_scene
from mdm.train import l1_loss


def test_masking_rule_forced_and_ratio():
    rng = np.random.default_rng(0)
    valid = np.ones((14 * 12, 14 * 16), bool)
    valid[:28, :] = False  # two rows of fully invalid patches (32 patches)
    valid[28:42, :14 * 8] = rng.random((14, 14 * 8)) < 0.5  # 8 mixed patches
    frac = patch_valid_fraction(valid, 14)
    n = frac.size
    mixed_kept = []
    for trial in range(200):
        r = np.random.default_rng([1, trial])
        keep = sample_depth_keep(frac, r)
        assert not keep[frac == 0].any(), "a fully invalid patch was kept"
        masked_share = 1 - keep.mean()
        assert 0.6 - 1e-9 <= masked_share <= 0.9 + 1.0 / n, masked_share
        mixed_kept.append(keep[(frac > 0) & (frac < 1)].mean())
    # mixed patches survive the p = 0.75 draw about a quarter of the time (and may not be topped up)
    assert 0.15 < np.mean(mixed_kept) < 0.35


def test_masking_all_valid_hits_target_and_is_seeded():
    frac = np.ones(300, np.float32)
    a = sample_depth_keep(frac, np.random.default_rng(5))
    b = sample_depth_keep(frac, np.random.default_rng(5))
    assert np.array_equal(a, b)
    shares = [1 - sample_depth_keep(frac, np.random.default_rng(s)).mean() for s in range(100)]
    assert min(shares) >= 0.6 and max(shares) <= 0.9 + 1 / 300
    assert max(shares) - min(shares) > 0.15  # the target ratio is drawn, not fixed


def test_pos_embed_interpolates_to_non_square_grids():
    side, dim = 6, 4
    yy, xx = torch.meshgrid(torch.arange(side, dtype=torch.float32), torch.arange(side, dtype=torch.float32),
                            indexing="ij")
    table = torch.stack([xx, yy, xx + yy, torch.ones_like(xx)], -1).reshape(side * side, dim)
    assert torch.equal(interpolate_pos_table(table, side, side), table)
    out = interpolate_pos_table(table, 3, 9).reshape(3, 9, dim)
    assert out.shape == (3, 9, dim)
    assert torch.all(out[:, 1:, 0] > out[:, :-1, 0])  # x still increases along columns
    assert torch.all(out[1:, :, 1] > out[:-1, :, 1])  # y along rows
    assert torch.allclose(out[..., 3], torch.ones(3, 9), atol=1e-5)  # constants stay constant
    assert torch.allclose(out[:, :, 0].mean(), table[:, 0].mean(), atol=0.05)


def test_model_runs_on_non_square_grid_and_padding_is_invisible():
    model = build_model(model_config("tiny"), seed=0).eval()
    rgb = torch.rand(2, 3, 42, 98, generator=torch.Generator().manual_seed(0))
    depth = torch.rand(2, 42, 98, generator=torch.Generator().manual_seed(1)) * 3 + 0.5
    keep = torch.zeros(2, 3 * 7, dtype=torch.bool)
    keep[0, :4] = True
    keep[1, :15] = True  # sample 0 gets 11 padding tokens in the batch
    with torch.no_grad():
        both = model(rgb, depth, keep)
        alone = model(rgb[:1], depth[:1], keep[:1])
    assert both.shape == (2, 42, 98) and torch.isfinite(both).all() and (both > 0).all()
    assert torch.allclose(both[0], alone[0], atol=1e-5)
    assert token_grid(480, 640, 192) == (12, 16)


def test_same_seed_same_weights():
    a, b = build_model(model_config("tiny"), 3), build_model(model_config("tiny"), 3)
    c = build_model(model_config("tiny"), 4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["encoder.pos_embed"], sc["encoder.pos_embed"])


def _dinov2_layout(dim: int, depth: int, grid: int, gen: torch.Generator) -> dict:
    """A state dict with DINOv2 ViT/14 key names and shapes (random values)."""
    r = lambda *s: torch.randn(*s, generator=gen)  # noqa: E731
    sd = {"cls_token": r(1, 1, dim), "pos_embed": r(1, 1 + grid * grid, dim), "mask_token": r(1, dim),
          "patch_embed.proj.weight": r(dim, 3, 14, 14), "patch_embed.proj.bias": r(dim),
          "norm.weight": r(dim), "norm.bias": r(dim)}
    for i in range(depth):
        p = f"blocks.{i}."
        sd |= {p + "norm1.weight": r(dim), p + "norm1.bias": r(dim), p + "attn.qkv.weight": r(3 * dim, dim),
               p + "attn.qkv.bias": r(3 * dim), p + "attn.proj.weight": r(dim, dim), p + "attn.proj.bias": r(dim),
               p + "ls1.gamma": r(dim), p + "norm2.weight": r(dim), p + "norm2.bias": r(dim),
               p + "mlp.fc1.weight": r(4 * dim, dim), p + "mlp.fc1.bias": r(4 * dim),
               p + "mlp.fc2.weight": r(dim, 4 * dim), p + "mlp.fc2.bias": r(dim), p + "ls2.gamma": r(dim)}
    return sd


def test_dinov2_init_maps_keys(tmp_path):
    gen = torch.Generator().manual_seed(0)
    sd = _dinov2_layout(192, 6, 37, gen)
    path = tmp_path / "dinov2_vits_like.pth"
    torch.save(sd, path)
    model = build_model(model_config("tiny"), seed=0)
    loaded = load_dinov2(model, path)
    enc = model.encoder.state_dict()
    assert torch.equal(enc["rgb_embed.proj.weight"], sd["patch_embed.proj.weight"])
    assert torch.equal(enc["blocks.5.mlp.fc2.weight"], sd["blocks.5.mlp.fc2.weight"])
    assert torch.equal(enc["pos_embed"], sd["pos_embed"]) and torch.equal(enc["cls_token"], sd["cls_token"])
    assert torch.allclose(enc["depth_embed.proj.weight"][:, 0], sd["patch_embed.proj.weight"].mean(1))
    assert torch.all(enc["depth_embed.proj.weight"][:, 1] == 0)
    assert "mask_token" not in loaded and len(loaded) == 6 + 6 * 14 + 2
    # a different pos table size is resized; a different width is refused with the file named
    torch.save({"model": _dinov2_layout(192, 6, 16, gen)}, tmp_path / "small_grid.pth")
    load_dinov2(model, tmp_path / "small_grid.pth")
    torch.save(_dinov2_layout(384, 6, 37, gen), tmp_path / "wide.pth")
    with pytest.raises(CheckpointError, match="wide.pth"):
        load_dinov2(model, tmp_path / "wide.pth")


def test_tiny_model_overfits_one_batch():
    h, w = 56, 84
    scenes = [render_scene((h, w), np.random.default_rng(i)) for i in range(2)]
    rgb = torch.stack([torch.from_numpy(s["rgb"]).permute(2, 0, 1) for s in scenes]).float() / 255
    gt = torch.stack([torch.from_numpy(s["depth"]) for s in scenes])
    depth = torch.stack([torch.from_numpy(s["sensor"].astype(np.float32) / 1000) for s in scenes])
    keep = torch.zeros(2, (h // 14) * (w // 14), dtype=torch.bool)
    keep[:, 9] = True  # one depth patch each: the prior is nearly flat, the network must do the rest
    model = build_model(model_config("tiny"), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(300):
        loss = l1_loss(model(rgb, depth, keep), gt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if losses[-1] <= losses[0] / 10:
            break
    assert min(losses) <= losses[0] / 10, (losses[0], min(losses), len(losses))
