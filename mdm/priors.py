"""Depth priors computed from the depth the model is allowed to see (no learning, torch, any device).

All functions take ``value`` (B, 1, H, W) (log metres in the model), ``weight`` (B, 1, H, W) with 1 where
the value is seen and 0 elsewhere, and ``fallback`` (B, 1, 1, 1) for an image with nothing seen (and
``guided_fill`` the RGB (B, 3, H, W) in [0, 1]); they return (B, 1, H, W) with the seen pixels unchanged.
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


GUIDE_EPS = 1e-3  # edge weight floor: regions walled off by colour edges still fill (slowly) from outside
GUIDE_MIN_VAR = 1e-4  # floor of the colour-difference scale (flat rendered walls have median difference 0)
GUIDE_DIRECT_MAX_PIXELS = 2_000_000  # larger images use conjugate gradients on the CPU too (the direct
# solve's fill-in grows faster than the image: 1.4 GB at 960x1280 with 70 % holes)


def colour_edge_weights(rgb: torch.Tensor, *, eps: float = GUIDE_EPS, scale: float = 1.0
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """rgb (B, 3, H, W) in [0, 1] -> weights of the horizontal (B, 1, H, W-1) and vertical (B, 1, H-1, W)
    pixel links: exp(-|c_p - c_q|^2 / (2 s2)) + ``eps``, s2 = ``scale`` x the image's median squared
    colour difference of neighbours (at least ``GUIDE_MIN_VAR``), so the weights adapt to the image's
    contrast, noise and compression (the affinity of Levin et al.'s colorization, 4-connected)."""
    rgb = rgb.float()
    dx = (rgb[..., :, 1:] - rgb[..., :, :-1]).square().sum(1, keepdim=True)
    dy = (rgb[..., 1:, :] - rgb[..., :-1, :]).square().sum(1, keepdim=True)
    s2 = torch.cat([dx.flatten(1), dy.flatten(1)], 1).median(1).values.view(-1, 1, 1, 1)
    s2 = (s2 * scale).clamp_min(GUIDE_MIN_VAR)
    return torch.exp(-dx / (2 * s2)) + eps, torch.exp(-dy / (2 * s2)) + eps


def _guided_solve_cpu(value: np.ndarray, seen: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """Exact minimiser of sum w_pq (x_p - x_q)^2 over the unseen pixels (seen ones fixed): one sparse
    symmetric positive definite system (scipy SuperLU), float64."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    h, w = seen.shape
    free = ~seen
    n = int(free.sum())
    index = np.full((h, w), -1, np.int64)
    index[free] = np.arange(n)
    diag, rhs = np.zeros(n), np.zeros(n)
    rows, cols, vals = [], [], []
    for (a, b), wt in (((np.s_[:, :-1], np.s_[:, 1:]), wx), ((np.s_[:-1, :], np.s_[1:, :]), wy)):
        ia, ib, wt = index[a].ravel(), index[b].ravel(), wt.ravel().astype(np.float64)
        va, vb = value[a].ravel().astype(np.float64), value[b].ravel().astype(np.float64)
        for i, j, vj in ((ia, ib, vb), (ib, ia, va)):  # each link seen from both ends
            mine = i >= 0
            diag += np.bincount(i[mine], wt[mine], minlength=n)
            fixed = mine & (j < 0)
            rhs += np.bincount(i[fixed], wt[fixed] * vj[fixed], minlength=n)
            both = mine & (j >= 0)
            rows.append(i[both])
            cols.append(j[both])
            vals.append(-wt[both])
    a = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    a = a + sp.diags(diag, format="csc")
    out = value.astype(np.float64).copy()
    out[free] = spla.spsolve(a, rhs)
    return out


def _guided_solve_cg(value: torch.Tensor, seen: torch.Tensor, wx: torch.Tensor, wy: torch.Tensor,
                     x0: torch.Tensor, iters: int) -> torch.Tensor:
    """The same system by Jacobi-preconditioned conjugate gradients on the 4-neighbour stencil (any device,
    batched; (B, 1, H, W) tensors, ``x0`` the start), ``iters`` iterations."""
    free = (~seen).to(value.dtype)
    zx, zy = F.pad(wx, (0, 1)), F.pad(wy, (0, 0, 0, 1))  # weight of the link to the right / below
    zl, zu = F.pad(wx, (1, 0)), F.pad(wy, (0, 0, 1, 0))  # ... to the left / above
    diag = (zx + zy + zl + zu).clamp_min(1e-12)

    def neighbours(x):  # sum_q w_pq x_q
        return (zx * F.pad(x[..., :, 1:], (0, 1)) + zl * F.pad(x[..., :, :-1], (1, 0))
                + zy * F.pad(x[..., 1:, :], (0, 0, 0, 1)) + zu * F.pad(x[..., :-1, :], (0, 0, 1, 0)))

    def apply(x):  # A x on free pixels, x zero on seen ones
        return free * (diag * x - neighbours(x * free))

    b = free * neighbours(value * (1 - free))
    x = x0 * free
    r = b - apply(x)
    z = r / diag
    p = z
    rz = (r * z).sum(dim=(1, 2, 3), keepdim=True)
    for _ in range(iters):
        ap = apply(p)
        alpha = rz / (p * ap).sum(dim=(1, 2, 3), keepdim=True).clamp_min(1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        z = r / diag
        rz_new = (r * z).sum(dim=(1, 2, 3), keepdim=True)
        p = z + (rz_new / rz.clamp_min(1e-30)) * p
        rz = rz_new
    return value * (1 - free) + x


@torch.no_grad()
def guided_fill(value: torch.Tensor, weight: torch.Tensor, fallback: torch.Tensor, rgb: torch.Tensor, *,
                eps: float = GUIDE_EPS, scale: float = 1.0, cg_iters: int | None = None) -> torch.Tensor:
    """Colour-guided membrane fill: the unseen pixels minimise sum w_pq (x_p - x_q)^2 over 4-neighbour
    links with the seen pixels fixed, w_pq from the colour difference of ``rgb`` (B, 3, H, W) in [0, 1]
    on the same grid (``colour_edge_weights``). Where colour is uniform this is the harmonic fill; a
    colour edge nearly cuts the membrane, so depth edges that show in the image stay sharp inside holes
    (Levin et al.'s colorization, as the NYU Depth v2 toolbox fills Kinect depth). On the CPU an exact
    sparse solve per image (``cg_iters`` None, at most ``GUIDE_DIRECT_MAX_PIXELS``); otherwise, or with
    ``cg_iters``, preconditioned conjugate gradients started from the harmonic fill (default 300
    iterations, 600 above that size)."""
    wx, wy = colour_edge_weights(rgb, eps=eps, scale=scale)
    seen = weight > 0
    out = value.clone()
    any_seen = seen.flatten(1).any(1)
    direct = value.shape[-2] * value.shape[-1] <= GUIDE_DIRECT_MAX_PIXELS
    if value.device.type == "cpu" and cg_iters is None and direct:
        for b in range(value.shape[0]):
            if not any_seen[b] or seen[b, 0].all():
                continue
            solved = _guided_solve_cpu(value[b, 0].double().numpy(), seen[b, 0].numpy(),
                                       wx[b, 0].numpy(), wy[b, 0].numpy())
            out[b, 0] = torch.from_numpy(solved).to(value.dtype)
    else:
        start = harmonic_fill(value, weight, fallback)
        out = _guided_solve_cg(value.double(), seen, wx.double(), wy.double(), start.double(),
                               cg_iters or (300 if direct else 600)).to(value.dtype)
    return torch.where(any_seen.view(-1, 1, 1, 1), out, fallback.to(value.dtype).expand_as(out))


ISLAND_MARGIN = 0.1  # log depth: an island's mean must be this much farther (~10 %) than its surroundings


@torch.no_grad()
def far_islands(value: torch.Tensor, weight: torch.Tensor, fallback: torch.Tensor, *, fraction: float,
                margin: float = ISLAND_MARGIN) -> torch.Tensor:
    """(B, 1, H, W) bool: the seen pixels in *far islands*, small 8-connected components of seen pixels
    (fewer than ``fraction`` x H x W pixels) whose mean log depth lies more than ``margin`` beyond the
    push-pull fill of the other seen pixels (as good a reference here as the harmonic fill, 14x cheaper).
    A stereo sensor makes them where it matches through glass, a mirror or a low-signal surface to
    something behind it; a membrane fill, the guided one most, would carry such a wrong value across the
    whole surface around it. Small *nearer* components (objects in front) are never flagged. Labelling
    runs on the CPU (OpenCV; the mask is copied there), the fill and the means on ``value``'s device."""
    import cv2

    seen = weight > 0
    labels = torch.zeros(seen.shape, dtype=torch.int64)
    max_px = fraction * seen.shape[-2] * seen.shape[-1]
    mask = seen[:, 0].cpu().numpy().astype(np.uint8)
    for b in range(mask.shape[0]):
        count, lab, stats, _ = cv2.connectedComponentsWithStats(mask[b], connectivity=8, ltype=cv2.CV_32S)
        if count > 1:
            is_small = stats[:, cv2.CC_STAT_AREA] < max_px
            is_small[0] = False  # the background (unseen) label
            labels[b, 0] = torch.from_numpy(np.where(is_small[lab], lab, 0).astype(np.int64))
    labels = labels.to(value.device)
    small = labels > 0
    if not bool(small.any()):
        return small
    ref = push_pull_fill(value, weight * (~small).to(weight.dtype), fallback)
    out = torch.zeros_like(small)
    for b in range(value.shape[0]):
        lab = labels[b, 0]
        if not bool((lab > 0).any()):
            continue
        n = int(lab.max()) + 1
        diff = (value[b, 0] - ref[b, 0]).double()
        total = torch.zeros(n, dtype=torch.float64, device=value.device).index_add_(0, lab.flatten(), diff.flatten())
        size = torch.bincount(lab.flatten(), minlength=n).clamp_min(1)
        far = total / size > margin
        far[0] = False
        out[b, 0] = far[lab]
    return out
