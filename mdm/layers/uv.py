"""Normalised view-plane UV coordinates fed to the decoder at every scale."""
from __future__ import annotations

import math

import torch


def normalized_view_plane_uv(height: int, width: int, *, device=None,
                             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(2, H, W) map of pixel-centre coordinates, linear in u (right) and v (down), scaled so the
    half-diagonal of the image is 1: u in +-a/sqrt(1+a^2), v in +-1/sqrt(1+a^2), a = W/H."""
    aspect = width / height
    span_u = aspect / math.sqrt(1.0 + aspect * aspect)
    span_v = 1.0 / math.sqrt(1.0 + aspect * aspect)
    u = torch.linspace(-span_u * (width - 1) / width, span_u * (width - 1) / width, width,
                       device=device, dtype=dtype)
    v = torch.linspace(-span_v * (height - 1) / height, span_v * (height - 1) / height, height,
                       device=device, dtype=dtype)
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    return torch.stack([uu, vv], dim=0)
