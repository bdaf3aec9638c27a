"""Colourised depth / error maps and labelled panel sheets (BGR uint8 images for cv2.imwrite)."""
from __future__ import annotations

import cv2
import numpy as np


def colorize(values: np.ndarray, vmin: float, vmax: float, cmap: int = cv2.COLORMAP_TURBO) -> np.ndarray:
    """(H, W) values -> (H, W, 3) BGR; values <= 0 or non-finite (no data) are black."""
    ok = np.isfinite(values) & (values > 0)
    scaled = np.clip((np.nan_to_num(values) - vmin) / max(vmax - vmin, 1e-6), 0, 1)
    img = cv2.applyColorMap((scaled * 255).astype(np.uint8), cmap)
    img[~ok] = 0
    return img


def depth_range(*maps: np.ndarray) -> tuple[float, float]:
    """A shared (vmin, vmax) in metres: 1st-99th percentile of the valid pixels of all maps."""
    vals = np.concatenate([m[np.isfinite(m) & (m > 0)].ravel() for m in maps] + [np.zeros(0)])
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(vals, [1, 99])
    return float(lo), float(max(hi, lo + 1e-3))


def label(img: np.ndarray, text: str) -> np.ndarray:
    """Image with a black caption bar above it."""
    bar = np.zeros((22, img.shape[1], 3), np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([bar, img], axis=0)


def sheet(panels: list[tuple[np.ndarray, str]], columns: int) -> np.ndarray:
    """Labelled panels (same size) laid out in rows of ``columns``; empty cells black."""
    cells = [label(img, text) for img, text in panels]
    blank = np.zeros_like(cells[0])
    while len(cells) % columns:
        cells.append(blank)
    rows = [np.concatenate(cells[i:i + columns], axis=1) for i in range(0, len(cells), columns)]
    return np.concatenate(rows, axis=0)


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
