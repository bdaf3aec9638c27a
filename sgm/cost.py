"""Matching cost volume C(y, x, d) in uint8: census Hamming distance, optionally mixed with AD.

Convention: left pixel (x, y) at disparity d is compared with right pixel (x - d, y). Where x - d < 0
(the match would fall outside the right image) the cost is the maximum cost, so aggregation and WTA
avoid those disparities. Computed in row chunks so temporaries stay small (int32 popcount by SWAR
bit tricks; no lookup tables).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

ROW_CHUNK = 2


def _add_nibble_counts(x: torch.Tensor, scratch: torch.Tensor, acc: torch.Tensor | None) -> torch.Tensor:
    """Per-4-bit-group popcount of non-negative int32 `x` (in place; each nibble holds 0..4),
    added into `acc` when given (nibbles stay <= 12 for up to 3 words, so no carries; the caller
    adds the two nibbles of each byte with masks on both, never x + (x >> 4), which could carry)."""
    torch.bitwise_right_shift(x, 1, out=scratch)
    scratch &= 0x55555555
    x -= scratch  # 2-bit groups: 0..2
    torch.bitwise_right_shift(x, 2, out=scratch)
    scratch &= 0x33333333
    x &= 0x33333333
    x += scratch  # 4-bit groups: 0..4
    if acc is None:
        return x
    acc += x
    return acc


def _right_windows(right: torch.Tensor, max_disparity: int) -> torch.Tensor:
    """(..., W) -> (..., W, D) view where [..., x, k] = right[..., x - (D - 1) + k] (zero padded)."""
    padded = F.pad(right, (max_disparity - 1, 0))
    return padded.unfold(-1, max_disparity, 1)


def census_cost_volume(codes_left: torch.Tensor, codes_right: torch.Tensor, max_disparity: int,
                       max_cost: int, intensity_left: torch.Tensor | None = None,
                       intensity_right: torch.Tensor | None = None, ad_weight: float = 0.0,
                       ad_cap: float = 0.0) -> torch.Tensor:
    """Cost volume (H, W, D) uint8 from census codes (n_words, H, W) int32.

    cost = hamming + round(ad_weight * min(|I_left - I_right|, ad_cap)) when ad_weight > 0
    (intensities in 8-bit grey levels, int16). `max_cost` is written where x - d < 0.
    """
    n_words, rows, cols = codes_left.shape
    if n_words > 3:
        raise ValueError(f"census codes of {n_words} words (> 93 bits) are not supported")
    D = max_disparity
    device = codes_left.device
    out = torch.empty((rows, cols, D), dtype=torch.uint8, device=device)
    right_windows = [_right_windows(codes_right[w], D) for w in range(n_words)]
    use_ad = ad_weight > 0 and intensity_left is not None and intensity_right is not None
    if use_ad:
        ad_windows = _right_windows(intensity_right, D)
    chunk = (min(ROW_CHUNK, rows), cols, D)
    work = [torch.empty(chunk, dtype=torch.int32, device=device) for _ in range(3)]
    for y0 in range(0, rows, ROW_CHUNK):
        y1 = min(rows, y0 + ROW_CHUNK)
        n = y1 - y0
        x, scratch, acc = (t[:n] for t in work)
        for w in range(n_words):
            target = acc if w == 0 else x
            torch.bitwise_xor(codes_left[w, y0:y1, :, None], right_windows[w][y0:y1], out=target)
            _add_nibble_counts(target, scratch, None if w == 0 else acc)
        torch.bitwise_right_shift(acc, 4, out=scratch)
        scratch &= 0x0F0F0F0F
        acc &= 0x0F0F0F0F
        acc += scratch  # bytes: 0..8 per word, summed over the words (no carries out of a byte)
        acc *= 0x01010101
        acc >>= 24  # the four byte counts summed into the top byte
        if use_ad:
            ad = (intensity_left[y0:y1, :, None] - ad_windows[y0:y1]).abs_().clamp_(max=int(ad_cap))
            acc += (ad.float() * float(ad_weight)).round_().to(torch.int32)
        out[y0:y1] = acc.flip(-1)  # window index k = D - 1 - d  ->  d
    # matches outside the right image (x - d < 0): maximum cost
    band = min(D, cols)
    x = torch.arange(band, device=out.device)[:, None]
    d = torch.arange(D, device=out.device)[None, :]
    outside = d > x
    out[:, :band][:, outside] = max_cost
    return out
