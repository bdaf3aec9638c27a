"""Patch embedding: an image is cut into non-overlapping square patches, each projected to a token."""
from __future__ import annotations

import torch
from torch import nn


class PatchEmbed(nn.Module):
    """(B, C, H, W) -> (B, rows*cols, D) tokens in row-major patch order, one per ``patch`` x ``patch`` px.

    H and W must be multiples of the patch size (the caller resizes to the token grid).
    """

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int = 14):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f"PatchEmbed: image {h}x{w} px is not a multiple of the patch size "
                             f"{self.patch_size}")
        return self.proj(x).flatten(2).transpose(1, 2)
