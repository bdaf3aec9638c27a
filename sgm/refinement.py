"""From the aggregated volume S (int16, H x W x D) to a left disparity map with validity tests.

Winner-take-all for the left image, the right image's disparities read from the same volume along
diagonals (right pixel xr at disparity d is left pixel xr + d), sub-pixel refinement, the uniqueness
(second peak) test and the left-right consistency check. Disparities are in pixels of the left image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from sgm.census import box_sum

INT16_MAX = 32767


def _subpixel_offset(c_minus: torch.Tensor, c0: torch.Tensor, c_plus: torch.Tensor,
                     method: str) -> torch.Tensor:
    """Sub-pixel offset in [-0.5, 0.5] px from the costs at d*-1, d*, d*+1 (float tensors)."""
    if method == "parabola":
        denom = 2.0 * (c_minus + c_plus - 2.0 * c0)
    elif method == "equiangular":
        denom = 2.0 * torch.maximum(c_minus - c0, c_plus - c0)
    else:
        raise ValueError(f"subpixel method must be 'parabola' or 'equiangular', got {method!r}")
    offset = (c_minus - c_plus) / denom.clamp(min=1e-6)
    return offset.clamp_(-0.5, 0.5)


def _refine(volume: torch.Tensor, best: torch.Tensor, method: str) -> torch.Tensor:
    """Sub-pixel disparity (float32) from integer winners `best` (H, W) of a (H, W, D) volume."""
    D = volume.shape[-1]
    lo = (best - 1).clamp(min=0)
    hi = (best + 1).clamp(max=D - 1)
    c0 = volume.gather(-1, best[..., None])[..., 0].float()
    cm = volume.gather(-1, lo[..., None])[..., 0].float()
    cp = volume.gather(-1, hi[..., None])[..., 0].float()
    offset = _subpixel_offset(cm, c0, cp, method)
    interior = (best > 0) & (best < D - 1)
    return best.float() + torch.where(interior, offset, torch.zeros_like(offset))


def right_view(padded_total: torch.Tensor, cols: int) -> torch.Tensor:
    """(H, W, D) view R[y, xr, d] = S[y, xr + d, d] of an (H, W + D, D) int16 volume.

    The D padding columns must hold INT16_MAX (matches beyond the left image's right edge).
    """
    rows, _, D = padded_total.shape
    return padded_total.as_strided((rows, cols, D), (padded_total.stride(0), D, D + 1),
                                   padded_total.storage_offset())


def winner_take_all(volume: torch.Tensor, method: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(integer winner int64, sub-pixel disparity float32, best cost int32) per pixel."""
    best_cost, best = volume.min(-1)
    return best, _refine(volume, best, method), best_cost.to(torch.int32)


def uniqueness_mask(volume: torch.Tensor, best: torch.Tensor, best_cost: torch.Tensor,
                    ratio_pct: float) -> torch.Tensor:
    """True where the winner is unique: every cost outside d*-1..d*+1 exceeds
    best * 100 / (100 - ratio_pct). MODIFIES `volume` (writes INT16_MAX around the winners)."""
    if ratio_pct <= 0:
        return torch.ones_like(best, dtype=torch.bool)
    D = volume.shape[-1]
    for shift in (-1, 0, 1):
        idx = (best + shift).clamp(0, D - 1)
        volume.scatter_(-1, idx[..., None], INT16_MAX)
    second = volume.amin(-1).to(torch.int32)
    return second.float() * (100.0 - ratio_pct) >= best_cost.float() * 100.0


def left_right_mask_winners(disp_left: torch.Tensor, best_cost: torch.Tensor, tolerance_px: float) -> torch.Tensor:
    """Left-right check with right disparities from the left winners (OpenCV's disp12MaxDiff way).

    Every valid left pixel x claims right pixel xr = round(x - d_L(x)); among the claimants of one
    right pixel the lowest aggregated cost wins and gives d_R(xr). A left pixel passes when
    |d_L(x) - d_R(xr)| <= tolerance_px, so of two surfaces that claim one right pixel (an occlusion)
    only the better-matching one survives. disp_left: float px, 0 = hole; best_cost int32 (H, W).
    """
    rows, cols = disp_left.shape
    x = torch.arange(cols, device=disp_left.device)[None, :].expand(rows, cols)
    xr = torch.round(x - disp_left).long()
    claims = (disp_left > 0) & (xr >= 0) & (xr < cols)
    key = best_cost.long() * (1 << 20) + x  # lowest cost wins, ties to the leftmost claimant
    sentinel = torch.iinfo(torch.int64).max
    winner = torch.full((rows, cols), sentinel, dtype=torch.int64, device=disp_left.device)
    target = torch.where(claims, xr, torch.zeros_like(xr))
    winner.scatter_reduce_(1, target, torch.where(claims, key, torch.full_like(key, sentinel)), reduce="amin")
    winner_x = (winner[torch.arange(rows, device=x.device)[:, None], target] & ((1 << 20) - 1)).clamp(max=cols - 1)
    disp_right = disp_left.gather(1, winner_x)
    return claims & ((disp_left - disp_right).abs() <= tolerance_px)


def left_right_mask(disp_left: torch.Tensor, disp_right: torch.Tensor, tolerance_px: float) -> torch.Tensor:
    """Left-right check against a right disparity map (e.g. from the diagonal WTA of the volume):
    True where |d_L(x) - d_R(round(x - d_L(x)))| <= tolerance_px and the match is in the image."""
    rows, cols = disp_left.shape
    x = torch.arange(cols, device=disp_left.device, dtype=torch.float32)[None, :]
    xr = torch.round(x - disp_left).long()
    inside = (xr >= 0) & (xr < cols)
    dr = disp_right.gather(1, xr.clamp(0, cols - 1))
    return inside & ((disp_left - dr).abs() <= tolerance_px)


def refine_intensity(disp: torch.Tensor, left: torch.Tensor, right: torch.Tensor, window: int,
                     min_gradient: float = 2.0, max_change: float = 0.5) -> torch.Tensor:
    """Sub-pixel disparity from intensities, exact for a linearly interpolated right image.

    For each valid pixel with n = round(disp), the patch (window x window, one disparity for the
    whole patch) cost  sum ((L(q) - mean L) - (R(q - d) - mean R))^2  is a quadratic in d on each of
    [n - 1, n] and [n, n + 1] (the fractional part of q - d is the same for every q of the patch),
    so both minimisers are solved in closed form and the lower one kept, moved at most max_change
    px from the input. Where the patch's
    gradient energy is below min_gradient^2 per pixel (grey levels), within window // 2 + 1 px of
    the border, or where the patch would leave the right image, the input value is kept.
    left/right: float grey images; disp float px, 0 = hole (kept).
    """
    rows, cols = disp.shape
    r = window // 2
    count = float(window * window)
    x = torch.arange(cols, device=disp.device)[None, :]
    base = torch.round(disp).long()
    left_pad = F.pad(left, (r, r, r, r))
    right_rows = F.pad(right, (0, 0, r, r))
    # columns of R for k = 0 .. window + 1: [k] = x + k - 1 - r - n
    columns = [(x + (k - 1 - r) - base).clamp_(0, cols - 1) for k in range(window + 2)]
    sum_r, g_a, g_b, gg_a, gg_b, eg_a, eg_b = (torch.zeros_like(disp) for _ in range(7))
    for dy in range(window):
        rr = right_rows[dy:dy + rows]
        values = [rr.gather(1, c) for c in columns]
        # g[k] = R(k) - R(k + 1). Patch pixel dx: r0 = values[dx + 1]; its step towards
        # d = n + 1 is hp = -g[dx] ("a"), towards d = n - 1 it is hm = g[dx + 1] ("b")
        g = [values[k] - values[k + 1] for k in range(window + 1)]
        g_mid = sum(g[1:window], torch.zeros_like(disp))
        gg_mid = sum((gk * gk for gk in g[1:window]), torch.zeros_like(disp))
        g_a += g_mid + g[0]
        g_b += g_mid + g[window]
        gg_a += gg_mid + g[0] * g[0]
        gg_b += gg_mid + g[window] * g[window]
        for dx in range(window):
            r0 = values[dx + 1]
            sum_r += r0
            e = left_pad[dy:dy + rows, dx:dx + cols] - r0
            eg_a.addcmul_(e, g[dx])
            eg_b.addcmul_(e, g[dx + 1])
    sum_e = box_sum(left_pad, window, window) - sum_r
    # centred (patch means removed) sums of e * hp, hp^2, e * hm, hm^2
    ehp = sum_e * g_a / count - eg_a
    ehm = eg_b - sum_e * g_b / count
    hphp = (gg_a - g_a * g_a / count).clamp_(min=1e-6)
    hmhm = (gg_b - g_b * g_b / count).clamp_(min=1e-6)
    # d = n + t, t in [0, 1]: e(t) = e + t hp ;  d = n - s, s in [0, 1]: e(s) = e + s hm
    t = (-ehp / hphp).clamp_(0, 1)
    s = (-ehm / hmhm).clamp_(0, 1)
    change_t = 2 * t * ehp + t * t * hphp  # change of the patch cost (negative = better)
    change_s = 2 * s * ehm + s * s * hmhm
    refined = base.float() + torch.where(change_t <= change_s, t, -s)
    refined = torch.minimum(torch.maximum(refined, disp - max_change), disp + max_change)
    ok = (disp > 0) & (torch.minimum(hphp, hmhm) > count * min_gradient ** 2)
    ok &= (x - base - r - 1 >= 0) & (x + r + 1 < cols)
    ok[:r + 1] = False
    ok[rows - r - 1:] = False
    return torch.where(ok, refined, disp)
