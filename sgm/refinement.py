"""From the aggregated volume S (int16, H x W x D) to a left disparity map with validity tests.

Winner-take-all for the left image, the right image's disparities read from the same volume along
diagonals (right pixel xr at disparity d is left pixel xr + d), sub-pixel refinement, the uniqueness
(second peak) test and the left-right consistency check. Disparities are in pixels of the left image.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from sgm.census import box_sum
from sgm.workspace import for_row_bands, volume_buffer

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


WTA_CHUNK_ELEMENTS = 1 << 21  # volume entries per chunk of the winner search (8 MB of int32 keys)


@dataclasses.dataclass
class Winners:
    """Per-pixel winner-take-all results of a (H, W, D) aggregated volume S."""
    best: torch.Tensor  # int64 (H, W): integer disparity d* = argmin_d S (the smallest d on ties)
    disparity: torch.Tensor  # float32 (H, W) px: d* plus the sub-pixel offset
    cost: torch.Tensor  # int32 (H, W): S(d*)
    second: torch.Tensor | None  # int32 (H, W): min S outside d*-1..d*+1 (INT16_MAX if none), when asked


def winner_take_all(volume: torch.Tensor, method: str, second: bool = False, workers: int = 1) -> Winners:
    """Winners of an int16 (H, W, D) volume (entries >= 0; may be a strided view), in row chunks
    (on `workers` row bands in parallel).

    argmin and min come from one vectorised min over int32 keys S * 2^b + d (b bits hold d; the
    smallest d wins ties), which is much faster on the CPU than torch.min with indices. The costs at
    d*-1 and d*+1 (clamped to the range) give the sub-pixel offset; second=True also returns the
    best cost outside d*-1..d*+1 (the uniqueness test).
    """
    rows, cols, D = volume.shape
    device = volume.device
    best = torch.empty((rows, cols), dtype=torch.int64, device=device)
    cost, below, above = (torch.empty((rows, cols), dtype=torch.int32, device=device) for _ in range(3))
    runner_up = torch.empty((rows, cols), dtype=torch.int32, device=device) if second else None
    for_row_bands(rows, workers, lambda y0, y1: _winner_rows(volume, y0, y1, best, cost, below, above, runner_up))
    offset = _subpixel_offset(below.float(), cost.float(), above.float(), method)
    interior = (best > 0) & (best < D - 1)
    disparity = best.float() + torch.where(interior, offset, torch.zeros_like(offset))
    return Winners(best, disparity, cost, runner_up)


def _winner_rows(volume: torch.Tensor, first: int, last: int, best: torch.Tensor, cost: torch.Tensor,
                 below: torch.Tensor, above: torch.Tensor, runner_up: torch.Tensor | None) -> None:
    """Fill rows first..last-1 of the winner_take_all outputs (d*, S(d*), S(d*-1), S(d*+1), second)."""
    _, cols, D = volume.shape
    bits = max(1, (D - 1).bit_length())
    chunk = max(1, min(last - first, WTA_CHUNK_ELEMENTS // max(1, cols * D)))
    keys = torch.empty((chunk, cols, D), dtype=torch.int32, device=volume.device)
    index = torch.arange(D, dtype=torch.int32, device=volume.device)
    for y0 in range(first, last, chunk):
        y1 = min(last, y0 + chunk)
        part, k = volume[y0:y1], keys[:y1 - y0]
        k.copy_(part)
        k <<= bits
        k += index
        key = k.amin(-1, keepdim=True)
        d = (key & ((1 << bits) - 1)).long()
        best[y0:y1] = d[..., 0]
        cost[y0:y1] = (key >> bits)[..., 0]
        lo, hi = (d - 1).clamp_(min=0), (d + 1).clamp_(max=D - 1)
        below[y0:y1] = part.gather(-1, lo)[..., 0]
        above[y0:y1] = part.gather(-1, hi)[..., 0]
        if runner_up is not None:
            for idx in (lo, d, hi):
                k.scatter_(-1, idx, INT16_MAX << bits)
            runner_up[y0:y1] = k.amin(-1) >> bits


def right_view(padded_total: torch.Tensor, cols: int) -> torch.Tensor:
    """(H, W, D) view R[y, xr, d] = S[y, xr + d, d] of an (H, W + D, D) int16 volume.

    The D padding columns must hold INT16_MAX (matches beyond the left image's right edge).
    """
    rows, _, D = padded_total.shape
    return padded_total.as_strided((rows, cols, D), (padded_total.stride(0), D, D + 1),
                                   padded_total.storage_offset())


def uniqueness_mask(best_cost: torch.Tensor, second: torch.Tensor, ratio_pct: float) -> torch.Tensor:
    """True where the winner is unique: the best cost outside d*-1..d*+1 (`second`, see
    winner_take_all) exceeds best * 100 / (100 - ratio_pct); ratio_pct <= 0: all True."""
    if ratio_pct <= 0:
        return torch.ones_like(best_cost, dtype=torch.bool)
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
                     min_gradient: float = 2.0, max_change: float = 0.5, workers: int = 1) -> torch.Tensor:
    """Sub-pixel disparity from intensities, exact for a linearly interpolated right image.

    For each valid pixel with n = round(disp), the patch (window x window, one disparity for the
    whole patch) cost  sum ((L(q) - mean L) - (R(q - d) - mean R))^2  is a quadratic in d on each of
    [n - 1, n] and [n, n + 1] (the fractional part of q - d is the same for every q of the patch),
    so both minimisers are solved in closed form and the lower one kept, moved at most max_change
    px from the input. Where the patch's
    gradient energy is below min_gradient^2 per pixel (grey levels), within window // 2 + 1 px of
    the border, or where the patch would leave the right image, the input value is kept.
    left/right: float grey images; disp float px, 0 = hole (kept). workers > 1: row bands in
    that many threads (every pixel is computed on its own, so the result is the same).
    """
    rows, cols = disp.shape
    r = window // 2
    left_pad = F.pad(left, (r, r, r, r))
    right_rows = F.pad(right, (0, 0, r, r))
    out = torch.empty_like(disp)

    def refine_band(first: int, last: int) -> None:
        """Rows first..last-1 in blocks of REFINE_BLOCK_ROWS sharing one set of temporaries."""
        block = min(REFINE_BLOCK_ROWS, last - first)
        planes = volume_buffer((REFINE_PLANES, block, cols), disp.dtype, disp.device)
        for y0 in range(first, last, block):
            y1 = min(last, y0 + block)
            _refine_rows(disp[y0:y1], left_pad[y0:y1 + 2 * r], right_rows[y0:y1 + 2 * r], window,
                         min_gradient, max_change, out[y0:y1], planes[:, :y1 - y0])

    for_row_bands(rows, workers, refine_band)
    # rows within r + 1 of the top and bottom are never refined
    out[:r + 1] = disp[:r + 1]
    out[rows - r - 1:] = disp[rows - r - 1:]
    return out


REFINE_PLANES = 17  # float (h, W) temporaries of _refine_rows
REFINE_BLOCK_ROWS = 128  # rows per block: the temporaries of a 960 px wide block (8 MB) stay in cache


def _refine_rows(disp: torch.Tensor, left_pad: torch.Tensor, right_rows: torch.Tensor, window: int,
                 min_gradient: float, max_change: float, out: torch.Tensor, planes: torch.Tensor) -> None:
    """refine_intensity on a band of rows into `out`: disp (h, W), left_pad (h + 2r, W + 2r) zero
    padded, right_rows (h + 2r, W) zero padded rows. Ignores the top/bottom border rule (the
    caller's). planes: (REFINE_PLANES, h, W) float buffer for the temporaries.

    The gathered right values and their differences stream along the patch columns (3 + 3 planes
    instead of 2 * window + 3), and all temporaries are views of one reused buffer: fresh
    multi-MB tensors per op cost more in page faults than the arithmetic. The float operations and
    their order are those of the plain formulation (sums over the patch in row-major order).
    """
    rows, cols = disp.shape
    r = window // 2
    count = float(window * window)
    x = torch.arange(cols, device=disp.device)[None, :]
    base = torch.round(disp)
    # column of R for patch column k - 1 - r at shift n: start + k, k = 0 .. window + 1; where the
    # patch leaves the image (such pixels are not refined) it is clamped to stay readable
    start = (x - 1 - r - base.long()).clamp_(0, cols - 2 - window)
    (sum_r, g_a, g_b, gg_a, gg_b, eg_a, eg_b, g_mid, gg_mid, tmp, e, g_first,
     v_prev, v_cur, v_next, g_prev, g_next) = planes.unbind(0)
    for acc in (sum_r, g_a, g_b, gg_a, gg_b, eg_a, eg_b):
        acc.zero_()
    for dy in range(window):
        rr = right_rows[dy:dy + rows]
        # values[k] = R(start + k); g[k] = values[k] - values[k + 1]. Patch pixel dx: r0 =
        # values[dx + 1]; its step towards d = n + 1 is hp = -g[dx] ("a"), towards n - 1 it is
        # hm = g[dx + 1] ("b")
        torch.gather(rr, 1, start, out=v_prev)
        torch.gather(rr[:, 1:], 1, start, out=v_cur)
        torch.sub(v_prev, v_cur, out=g_prev)  # g[0]
        g_first.copy_(g_prev)
        g_mid.zero_()
        gg_mid.zero_()
        for dx in range(window):
            torch.gather(rr[:, dx + 2:], 1, start, out=v_next)
            torch.sub(v_cur, v_next, out=g_next)  # g[dx + 1]
            sum_r += v_cur
            torch.sub(left_pad[dy:dy + rows, dx:dx + cols], v_cur, out=e)
            eg_a.addcmul_(e, g_prev)
            eg_b.addcmul_(e, g_next)
            if dx + 1 < window:  # g[1] .. g[window - 1]
                g_mid += g_next
                gg_mid += torch.mul(g_next, g_next, out=tmp)
            v_cur, v_next = v_next, v_cur
            g_prev, g_next = g_next, g_prev
        for acc, gk in ((g_a, g_first), (g_b, g_prev)):  # g_prev is now g[window]
            acc += torch.add(g_mid, gk, out=tmp)
        for acc, gk in ((gg_a, g_first), (gg_b, g_prev)):
            torch.mul(gk, gk, out=tmp)
            acc += torch.add(gg_mid, tmp, out=tmp)
    sum_e = box_sum(left_pad, window, window)
    sum_e -= sum_r
    # centred (patch means removed) sums of e * hp, hp^2, e * hm, hm^2
    ehp = torch.mul(sum_e, g_a, out=sum_r)
    ehp /= count
    ehp -= eg_a
    ehm = torch.mul(sum_e, g_b, out=tmp)
    ehm /= count
    ehm = torch.sub(eg_b, ehm, out=ehm)
    hphp = torch.mul(g_a, g_a, out=eg_a)
    hphp /= count
    hphp = torch.sub(gg_a, hphp, out=hphp).clamp_(min=1e-6)
    hmhm = torch.mul(g_b, g_b, out=eg_b)
    hmhm /= count
    hmhm = torch.sub(gg_b, hmhm, out=hmhm).clamp_(min=1e-6)
    # d = n + t, t in [0, 1]: e(t) = e + t hp ;  d = n - s, s in [0, 1]: e(s) = e + s hm
    t = torch.neg(ehp, out=g_a).div_(hphp).clamp_(0, 1)
    s = torch.neg(ehm, out=g_b).div_(hmhm).clamp_(0, 1)
    # change of the patch cost (negative = better): 2 t ehp + t^2 hphp, 2 s ehm + s^2 hmhm
    change_t = torch.mul(t, 2, out=sum_e).mul_(ehp).add_(torch.mul(t, t, out=gg_a).mul_(hphp))
    change_s = torch.mul(s, 2, out=ehp).mul_(ehm).add_(torch.mul(s, s, out=gg_b).mul_(hmhm))
    ok = (disp > 0) & (torch.minimum(hphp, hmhm, out=v_next) > count * min_gradient ** 2)
    ok &= (x - base - r - 1 >= 0) & (x + r + 1 < cols)
    step = torch.where(change_t <= change_s, t, torch.neg(s, out=v_prev), out=v_cur)
    refined = torch.add(base, step, out=base)
    refined = torch.maximum(refined, torch.sub(disp, max_change, out=v_next), out=refined)
    refined = torch.minimum(refined, torch.add(disp, max_change, out=v_next), out=refined)
    torch.where(ok, refined, disp, out=out)
