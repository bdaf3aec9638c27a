"""Post-filters on a left disparity map (pixels, 0 = hole): texture test, 3x3 median over valid
pixels, speckle removal (OpenCV filterSpeckles), the invalid left band and 1/N px quantisation."""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from sgm.census import box_sum
from sgm.workspace import volume_buffer

SPECKLE_SCALE = 16  # filterSpeckles works on int16 disparities in 1/16 px


def texture_mask(intensity: torch.Tensor, window: int, diff: float, count: int) -> torch.Tensor:
    """True where at least `count` pixels of the window x window neighbourhood differ from the centre
    by more than `diff` grey levels (8-bit scale). count <= 0 disables the test (all True)."""
    if count <= 0:
        return torch.ones(intensity.shape, dtype=torch.bool, device=intensity.device)
    r = window // 2
    # grey levels in 1/8 steps as int16: the 48 compares run on narrow integers
    img = torch.round(intensity.float() * 8).to(torch.int16)
    threshold = int(np.floor(diff * 8))
    rows, cols = img.shape
    padded = F.pad(img[None, None].float(), (r, r, r, r), mode="replicate")[0, 0].to(torch.int16)
    low, high = img - threshold, img + threshold
    differing = torch.zeros((rows, cols), dtype=torch.uint8, device=img.device)
    for dy in range(window):
        for dx in range(window):
            if dy == r and dx == r:
                continue
            neighbour = padded[dy:dy + rows, dx:dx + cols]
            differing += torch.lt(neighbour, low).view(torch.uint8)
            differing += torch.gt(neighbour, high).view(torch.uint8)
    return differing >= count


# Floyd's 25-comparator network that fully sorts 9 values (checked by the 0-1 principle in tests)
SORT9 = ((0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (0, 3), (3, 6), (0, 3),
         (1, 4), (4, 7), (1, 4), (2, 5), (5, 8), (2, 5), (1, 3), (5, 7), (2, 6), (4, 6), (2, 4), (2, 3), (5, 6))


def median3_valid(disp: torch.Tensor) -> torch.Tensor:
    """3x3 median over the valid (> 0) neighbours of each valid pixel (the lower median for an even
    count); holes stay holes. Holes sort last as +inf through a sorting network."""
    valid = disp > 0
    rows, cols = disp.shape
    # the 9 shifted planes and a spare in one buffer (on huge pages when large: fresh planes per
    # compare-exchange cost more in page faults than the compares); each compare-exchange writes
    # the minimum to the spare plane and the maximum in place, then the two planes swap roles
    stack = volume_buffer((10, rows, cols), disp.dtype, disp.device)
    stack[9].copy_(disp).masked_fill_(~valid, float("inf"))
    padded = F.pad(stack[9][None, None], (1, 1, 1, 1), value=float("inf"))[0, 0]
    for k in range(9):
        stack[k] = padded[k // 3:k // 3 + rows, k % 3:k % 3 + cols]
    slot, spare = list(range(9)), 9  # slot[i]: plane holding sorting-network wire i
    for i, j in SORT9:
        torch.minimum(stack[slot[i]], stack[slot[j]], out=stack[spare])
        torch.maximum(stack[slot[i]], stack[slot[j]], out=stack[slot[j]])
        spare, slot[i] = slot[i], spare
    count = box_sum(F.pad(valid.to(torch.int16), (1, 1, 1, 1)), 3, 3)
    index = ((count.long() - 1) // 2).clamp(min=0)
    plane = torch.tensor(slot, device=disp.device)[index]
    med = stack.gather(0, plane[None])[0]
    return torch.where(valid, med, torch.zeros_like(disp))


def remove_speckles(disp: np.ndarray, max_size: int, max_diff_px: float) -> np.ndarray:
    """Holes where a connected region of similar disparity (neighbour step <= max_diff_px) has at
    most max_size pixels. disp float32 px, 0 = hole; returns a new array."""
    if max_size <= 0:
        return disp.copy()
    fixed = np.round(disp * SPECKLE_SCALE).astype(np.int16)
    cv2.filterSpeckles(fixed, 0, int(max_size), max(1, int(round(max_diff_px * SPECKLE_SCALE))))
    return np.where(fixed == 0, 0.0, disp).astype(np.float32)


def quantise(disp: torch.Tensor, levels: int) -> torch.Tensor:
    """Round to 1/levels px (levels <= 0: unchanged). A valid disparity never rounds to 0."""
    if levels <= 0:
        return disp
    q = torch.round(disp * levels) / levels
    return torch.where(disp > 0, q.clamp(min=1.0 / levels), q)
