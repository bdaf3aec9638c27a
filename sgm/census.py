"""Census transform of a grey image into packed integer codes (torch, any device).

A pixel's census code has one bit per window neighbour (centre excluded): bit = 1 when the neighbour
is darker than the centre (or the window mean, see census_transform). Codes are packed 31 bits per
int32 word so that words stay non-negative (arithmetic shifts in the popcount never see a sign bit).
A 9x7 window gives 62 bits = 2 words.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

BITS_PER_WORD = 31


def census_bits(window: tuple[int, int]) -> int:
    """Number of census bits for a (width, height) window: width*height - 1."""
    width, height = window
    return width * height - 1


def census_words(window: tuple[int, int]) -> int:
    """Number of int32 words holding the census bits of one pixel."""
    return -(-census_bits(window) // BITS_PER_WORD)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of an (H, W) float image (sigma px; radius 2 sigma; replicated edges)."""
    if sigma <= 0:
        return image
    radius = max(1, int(round(2 * sigma)))
    taps = [float(np.exp(-0.5 * (k / sigma) ** 2)) for k in range(-radius, radius + 1)]
    taps = [t / sum(taps) for t in taps]
    rows, cols = image.shape
    padded = F.pad(image[None, None].float(), (radius, radius, radius, radius), mode="replicate")[0, 0]
    horizontal = sum(t * padded[:, k:k + cols] for k, t in enumerate(taps))
    return sum(t * horizontal[k:k + rows] for k, t in enumerate(taps))


def box_sum(padded: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sums over height x width windows of a 2-D tensor padded by (height // 2, width // 2), by
    separable shifted-slice additions (exact, cheap for small windows)."""
    rows = padded.shape[0] - 2 * (height // 2)
    cols = padded.shape[1] - 2 * (width // 2)
    across = padded[:, 0:cols].clone()
    for k in range(1, width):
        across += padded[:, k:k + cols]
    out = across[0:rows].clone()
    for k in range(1, height):
        out += across[k:k + rows]
    return out


def census_transform(image: torch.Tensor, window: tuple[int, int], threshold: float = 0.0,
                     reference: str = "centre") -> torch.Tensor:
    """Census codes of an (H, W) image -> (n_words, H, W) int32.

    bit = 1 where the neighbour is darker than the reference by more than `threshold` (image
    units); the reference is the centre pixel ('centre', classic census) or the window mean
    ('mean', the modified census transform: noise on the centre pixel no longer flips every bit).
    Borders are handled by edge replication. `window` is (width, height) px, both odd.
    """
    width, height = window
    rx, ry = width // 2, height // 2
    img = image.float()
    rows, cols = img.shape
    padded = F.pad(img[None, None], (rx, rx, ry, ry), mode="replicate")[0, 0]
    if reference == "mean":
        img = box_sum(padded, height, width) / float(height * width)
    elif reference != "centre":
        raise ValueError(f"census reference must be 'centre' or 'mean', got {reference!r}")
    img = img - float(threshold)
    # bits are gathered 8 at a time in uint8 (cheap, wide vector ops), then packed 31 per int32 word;
    # the comparisons go to one preallocated bool plane and are added with weight 2^k (bits differ,
    # so adding is OR-ing) to avoid a fresh plane per shifted copy
    n_bits = census_bits(window)
    codes = torch.zeros((census_words(window), rows, cols), dtype=torch.int32, device=image.device)
    byte = torch.zeros((rows, cols), dtype=torch.uint8, device=image.device)
    darker = torch.empty((rows, cols), dtype=torch.bool, device=image.device)
    wide = torch.empty((rows, cols), dtype=torch.int32, device=image.device)
    offsets = [(dy, dx) for dy in range(height) for dx in range(width) if (dy, dx) != (ry, rx)]
    start = 0
    while start < n_bits:
        word, shift = divmod(start, BITS_PER_WORD)
        count = min(8, n_bits - start, BITS_PER_WORD - shift)  # a byte never straddles two words
        byte.zero_()
        for k, (dy, dx) in enumerate(offsets[start:start + count]):
            torch.lt(padded[dy:dy + rows, dx:dx + cols], img, out=darker)
            byte.add_(darker.view(torch.uint8), alpha=1 << k)
        codes[word].add_(wide.copy_(byte), alpha=1 << shift)
        start += count
    return codes
