"""Multi-scale convolutional decoder stack (after MoGe's ConvStack): per level, add a 1x1 projection of
that level's input to the upsampled running features, refine with pre-activation residual blocks, then
upsample x2 into the next level."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ResidualConvBlock(nn.Module):
    """ReLU -> 3x3 conv -> ReLU -> 3x3 conv (replicate padding), plus the input (no normalisation)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="replicate")
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="replicate")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class Resampler(nn.Module):
    """x2 upsampling from ``c_in`` to ``c_out`` channels followed by a 3x3 conv.

    ``conv_transpose``: kernel 2 stride 2, all four taps initialised equal (starts as nearest upsampling
    of a 1x1 conv); ``bilinear``: bilinear upsampling then the 3x3 conv changes the width.
    """

    def __init__(self, c_in: int, c_out: int, mode: str = "conv_transpose"):
        super().__init__()
        self.mode = mode
        if mode == "conv_transpose":
            self.up = nn.ConvTranspose2d(c_in, c_out, kernel_size=2, stride=2)
            self.conv = nn.Conv2d(c_out, c_out, 3, padding=1, padding_mode="replicate")
        elif mode == "bilinear":
            self.up = None
            self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="replicate")
        else:
            raise ValueError(f"Resampler: unknown mode {mode!r} (conv_transpose, bilinear)")

    def tie_taps(self) -> None:
        """Make the four transpose-conv taps equal (copy of the top-left tap)."""
        if self.up is not None:
            with torch.no_grad():
                self.up.weight.copy_(self.up.weight[:, :, :1, :1].expand_as(self.up.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up is not None:
            return self.conv(self.up(x))
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))


class ConvStack(nn.Module):
    """Levels l = 0..L-1 at resolution grid * 2^l. ``in_dims[l]`` = channels of the extra input fed at
    level l, ``widths[l]`` = feature width, ``res_blocks[l]`` = residual blocks, ``resamplers[l]`` the
    upsampler from level l to l+1 (L-1 entries). ``out_dim``: optional 1x1 conv on the last level.
    ``forward`` returns the features of every level (the last one through the output conv)."""

    def __init__(self, in_dims: Sequence[int], widths: Sequence[int], res_blocks: Sequence[int],
                 resamplers: Sequence[str], out_dim: int | None = None):
        super().__init__()
        n = len(widths)
        if not (len(in_dims) == len(res_blocks) == n and len(resamplers) == n - 1):
            raise ValueError("ConvStack: in_dims, widths, res_blocks need L entries, resamplers L-1")
        self.in_proj = nn.ModuleList(nn.Conv2d(c, w, 1) for c, w in zip(in_dims, widths))
        self.blocks = nn.ModuleList(
            nn.Sequential(*(ResidualConvBlock(w) for _ in range(k))) for w, k in zip(widths, res_blocks))
        self.resamplers = nn.ModuleList(
            Resampler(widths[i], widths[i + 1], resamplers[i]) for i in range(n - 1))
        self.out_conv = nn.Conv2d(widths[-1], out_dim, 1) if out_dim else None

    def forward(self, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        outs: list[torch.Tensor] = []
        x = None
        for level, feed in enumerate(inputs):
            y = self.in_proj[level](feed)
            x = y if x is None else x + y
            x = self.blocks[level](x)
            if level < len(inputs) - 1:
                outs.append(x)
                x = self.resamplers[level](x)
        outs.append(x if self.out_conv is None else self.out_conv(x))
        return outs
