"""Depth priors computed from the depth the model is allowed to see (no learning, torch, any device).

All functions take ``value`` (B, 1, H, W) (log metres in the model), ``weight`` (B, 1, H, W) with 1 where
the value is seen and 0 elsewhere, and ``fallback`` (B, 1, 1, 1) for an image with nothing seen; they
return (B, 1, H, W) with the seen pixels unchanged.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def masked_median(values: torch.Tensor, weight: torch.Tensor, fallback: float = math.log(2.5)) -> torch.Tensor:
    """(B, 1, 1, 1) median of ``values`` (B, 1, H, W) where ``weight`` > 0; ``fallback`` if none."""
    out = []
    for v, w in zip(values, weight):
        sel = v[w > 0]
        out.append(sel.median() if sel.numel() else torch.tensor(fallback, device=v.device))
    return torch.stack(out).float().view(-1, 1, 1, 1)


@torch.no_grad()
def nearest_seen(value: torch.Tensor, weight: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Every pixel takes the value of the nearest seen pixel: piecewise constant, keeps depth edges
    sharp, wrong on slanted surfaces. On the CPU the exact Euclidean distance transform (scipy); on other
    devices the jump flooding algorithm (``nearest_seen_jfa``), so nothing leaves the GPU."""
    if value.device.type != "cpu":
        return nearest_seen_jfa(value, weight, fallback)
    from scipy import ndimage

    out = torch.empty_like(value)
    for b in range(value.shape[0]):
        seen = (weight[b, 0] > 0).cpu().numpy()
        if not seen.any():
            out[b] = fallback[b]
            continue
        idx = ndimage.distance_transform_edt(~seen, return_distances=False, return_indices=True)
        flat = torch.from_numpy(np.ravel_multi_index(tuple(idx), seen.shape)).to(value.device)
        out[b, 0] = value[b, 0].reshape(-1)[flat.reshape(-1)].reshape(seen.shape)
    return out


def _shifted(t: torch.Tensor, dy: int, dx: int, fill: int) -> torch.Tensor:
    """(B, H, W) -> out[:, y, x] = t[:, y + dy, x + dx], ``fill`` where that falls outside."""
    h, w = t.shape[-2:]
    out = torch.full_like(t, fill)
    y0, y1, x0, x1 = max(0, -dy), min(h, h - dy), max(0, -dx), min(w, w - dx)
    if y0 < y1 and x0 < x1:
        out[:, y0:y1, x0:x1] = t[:, y0 + dy:y1 + dy, x0 + dx:x1 + dx]
    return out


@torch.no_grad()
def nearest_seen_jfa(value: torch.Tensor, weight: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """``nearest_seen`` by jump flooding (Rong & Tan 2006, with a final step-1 pass): log2(side) + 1
    rounds of 8 neighbour look-ups in torch. Distances match the exact transform except for ~0.02 % of
    pixels, which get a seed at most a fraction of a pixel farther."""
    b, _, h, w = value.shape
    far = 1 << 30
    yy = torch.arange(h, device=value.device).view(1, h, 1).expand(b, h, w)
    xx = torch.arange(w, device=value.device).view(1, 1, w).expand(b, h, w)
    seen = weight[:, 0] > 0
    sy = torch.where(seen, yy, torch.full_like(yy, -far))
    sx = torch.where(seen, xx, torch.full_like(xx, -far))

    def sq_dist(cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
        return (yy - cy).double() ** 2 + (xx - cx).double() ** 2

    best = sq_dist(sy, sx)
    steps, k = [], 1 << max(h, w).bit_length()
    while k > 1:
        k //= 2
        steps.append(k)
    for k in steps + [1]:
        for dy in (-k, 0, k):
            for dx in (-k, 0, k):
                if dy or dx:
                    cy, cx = _shifted(sy, dy, dx, -far), _shifted(sx, dy, dx, -far)
                    d = sq_dist(cy, cx)
                    better = d < best
                    best, sy, sx = torch.where(better, d, best), torch.where(better, cy, sy), torch.where(better, cx, sx)
    idx = (sy.clamp(0, h - 1) * w + sx.clamp(0, w - 1)).view(b, -1)
    out = torch.gather(value.reshape(b, -1), 1, idx).view(b, 1, h, w)
    return torch.where(seen.flatten(1).any(1).view(b, 1, 1, 1), out, fallback.expand_as(out))


def _pyramid(value: torch.Tensor, weight: torch.Tensor, min_side: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """[(weighted sum, weight)] halving (2x2 average, ceil) until the shorter side is <= ``min_side``."""
    pyramid = [(value * weight, weight)]
    while min(pyramid[-1][1].shape[-2:]) > min_side and not bool((pyramid[-1][1] > 0).all()):
        num, den = pyramid[-1]
        pyramid.append((F.avg_pool2d(num, 2, ceil_mode=True), F.avg_pool2d(den, 2, ceil_mode=True)))
    return pyramid


def push_pull_fill(value: torch.Tensor, weight: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Fill from a pyramid of weighted 2x2 averages (push), blended back up bilinearly (pull)."""
    pyramid = _pyramid(value, weight, 1)
    num, den = pyramid[-1]
    filled = torch.where(den > 0, num / den.clamp_min(1e-6), fallback.expand_as(num))
    for num, den in reversed(pyramid[:-1]):
        up = F.interpolate(filled, size=num.shape[-2:], mode="bilinear", align_corners=False)
        filled = torch.where(den > 0, num / den.clamp_min(1e-6), up) * den.clamp(max=1) + up * (1 - den.clamp(max=1))
    return filled


_LAPLACE = torch.tensor([[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]]).view(1, 1, 3, 3)


@torch.no_grad()
def harmonic_fill(value: torch.Tensor, weight: torch.Tensor, fallback: torch.Tensor, *, omega: float = 1.8,
                  sweeps: tuple[int, int, int] = (100, 30, 12), coarse_side: int = 64) -> torch.Tensor:
    """Membrane (Laplace) interpolation of the unseen pixels with the seen ones as boundary values:
    smooth, exact on planes seen on both sides of a hole, blurs across depth edges.

    Coarse to fine over the weighted-average pyramid: at each level the cells with more than half of their
    pixels seen (all of them at full resolution) are fixed, the rest start from the upsampled coarser
    solution and get red-black successive over-relaxation (``omega``) sweeps: ``sweeps[0]`` on levels
    whose longer side is <= ``coarse_side``, ``sweeps[1]`` up to twice that, ``sweeps[2]`` above
    (converged to ~1 % of the full-resolution 300-sweep answer on 480x640 frames at 70 % holes).
    Image borders are reflecting (Neumann)."""
    pyramid = _pyramid(value, weight, 1)
    num, den = pyramid[-1]
    total = den.sum(dim=(-2, -1), keepdim=True)
    mean = torch.where(total > 0, num.sum(dim=(-2, -1), keepdim=True) / total.clamp_min(1e-12), fallback)
    x = torch.where(den > 0, num / den.clamp_min(1e-6), mean.expand_as(num))
    kernel = _LAPLACE.to(device=value.device, dtype=value.dtype)
    for level, (num, den) in enumerate(reversed(pyramid)):
        h, w = num.shape[-2:]
        if level:
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        fixed = den >= 0.999 if level == len(pyramid) - 1 else den > 0.5
        known = num / den.clamp_min(1e-6)
        x = torch.where(fixed, known, x)
        yy, xx = torch.meshgrid(torch.arange(h, device=value.device), torch.arange(w, device=value.device),
                                indexing="ij")
        red = (yy + xx) % 2 == 0
        colours = (red & ~fixed, ~red & ~fixed)
        side = max(h, w)
        n = sweeps[0] if side <= coarse_side else sweeps[1] if side <= 2 * coarse_side else sweeps[2]
        for _ in range(n):
            for free in colours:
                avg = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel)
                x = torch.where(free, x + omega * (avg - x), x)
    return x
