"""Learned 2-D position table resampled (bicubic) to any token grid, square or not."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def interpolate_pos_table(table: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Resize a square position table (n*n, D) to a (rows*cols, D) table for a rows x cols grid.

    The table is read as an n x n image with D channels (row-major, like the patch tokens) and resampled
    with bicubic interpolation (no corner alignment), so a non-square grid stretches it per axis.
    """
    n_tokens, dim = table.shape
    side = math.isqrt(n_tokens)
    if side * side != n_tokens:
        raise ValueError(f"position table has {n_tokens} entries, not a square grid")
    if (rows, cols) == (side, side):
        return table
    grid = table.reshape(1, side, side, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=(rows, cols), mode="bicubic", align_corners=False)
    return grid.to(table.dtype).permute(0, 2, 3, 1).reshape(rows * cols, dim)
