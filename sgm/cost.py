"""Matching cost volume C(y, x, d) in uint8: census Hamming distance, optionally mixed with AD.

Convention: left pixel (x, y) at disparity d is compared with right pixel (x - d, y). Where x - d < 0
(the match would fall outside the right image) the cost is the maximum cost, so aggregation and WTA
avoid those disparities. Computed in row chunks so temporaries stay small (int32 popcount by SWAR
bit tricks; no lookup tables).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from sgm.workspace import for_row_bands

ROW_CHUNK = 2


def _constants(device: torch.device) -> dict[str, torch.Tensor]:
    """0-dim int32 operands of the popcount (a Python int operand costs a tensor wrap per op)."""
    values = {"1": 1, "2": 2, "4": 4, "24": 24, "m1": 0x55555555, "m2": 0x33333333, "m4": 0x0F0F0F0F,
              "h01": 0x01010101}
    return {k: torch.tensor(v, dtype=torch.int32, device=device) for k, v in values.items()}


def _add_nibble_counts(x: torch.Tensor, scratch: torch.Tensor, acc: torch.Tensor | None,
                       c: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-4-bit-group popcount of non-negative int32 `x` (in place; each nibble holds 0..4),
    added into `acc` when given (nibbles stay <= 12 for up to 3 words, so no carries; the caller
    adds the two nibbles of each byte with masks on both, never x + (x >> 4), which could carry)."""
    torch.bitwise_right_shift(x, c["1"], out=scratch)
    scratch &= c["m1"]
    x -= scratch  # 2-bit groups: 0..2
    torch.bitwise_right_shift(x, c["2"], out=scratch)
    scratch &= c["m2"]
    x &= c["m2"]
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
                       ad_cap: float = 0.0, out: torch.Tensor | None = None, workers: int = 1) -> torch.Tensor:
    """Cost volume (H, W, D) uint8 from census codes (n_words, H, W) int32.

    cost = hamming + round(ad_weight * min(|I_left - I_right|, ad_cap)) when ad_weight > 0
    (intensities in 8-bit grey levels, int16). `max_cost` is written where x - d < 0.
    `out`: optional preallocated uint8 (H, W, D) tensor to write into. workers > 1: row bands in
    that many threads.
    """
    n_words, rows, cols = codes_left.shape
    if n_words > 3:
        raise ValueError(f"census codes of {n_words} words (> 93 bits) are not supported")
    D = max_disparity
    device = codes_left.device
    if out is None:
        out = torch.empty((rows, cols, D), dtype=torch.uint8, device=device)
    right_windows = [_right_windows(codes_right[w], D) for w in range(n_words)]
    use_ad = ad_weight > 0 and intensity_left is not None and intensity_right is not None
    ad_windows = _right_windows(intensity_right, D) if use_ad else None
    c = _constants(device)

    def fill_rows(first: int, last: int) -> None:
        """out[first:last] in chunks of ROW_CHUNK rows."""
        chunk = (min(ROW_CHUNK, last - first), cols, D)
        work = [torch.empty(chunk, dtype=torch.int32, device=device) for _ in range(3)]
        if use_ad:
            ad_abs = torch.empty(chunk, dtype=intensity_left.dtype, device=device)
            ad_real = torch.empty(chunk, dtype=torch.float32, device=device)
        for y0 in range(first, last, ROW_CHUNK):
            y1 = min(last, y0 + ROW_CHUNK)
            n = y1 - y0
            x, scratch, acc = (t[:n] for t in work)
            for w in range(n_words):
                target = acc if w == 0 else x
                torch.bitwise_xor(codes_left[w, y0:y1, :, None], right_windows[w][y0:y1], out=target)
                _add_nibble_counts(target, scratch, None if w == 0 else acc, c)
            torch.bitwise_right_shift(acc, c["4"], out=scratch)
            scratch &= c["m4"]
            acc &= c["m4"]
            acc += scratch  # bytes: 0..8 per word, summed over the words (no carries out of a byte)
            acc *= c["h01"]
            acc >>= c["24"]  # the four byte counts summed into the top byte
            if use_ad:
                ad = torch.sub(intensity_left[y0:y1, :, None], ad_windows[y0:y1], out=ad_abs[:n])
                ad.abs_().clamp_(max=int(ad_cap))
                real = ad_real[:n]
                real.copy_(ad)
                real.mul_(float(ad_weight)).round_()
                acc += scratch.copy_(real)
            out[y0:y1] = acc.flip(-1)  # window index k = D - 1 - d  ->  d

    for_row_bands(rows, workers, fill_rows)
    # matches outside the right image (x - d < 0): maximum cost. Every computed cost is <= max_cost,
    # so a maximum with a (band, D) template (max_cost outside, 0 inside) writes exactly those entries
    band = min(D, cols)
    x = torch.arange(band, device=out.device)[:, None]
    d = torch.arange(D, device=out.device)[None, :]
    template = ((d > x) * max_cost).to(torch.uint8)
    torch.maximum(out[:, :band], template, out=out[:, :band])
    return out
