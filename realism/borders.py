"""How trustworthy measured depth is next to holes, against GT, for simulated and real frames alike.

Every hole fill (and the MDM prior) starts from the valid pixels around a hole, so wrong values there
spread into the whole hole. Per frame (depth and GT in metres, 0 = none, on one pixel grid, first brought
to the working grid of :mod:`realism.gtfree` by nearest neighbour), over the valid pixels with GT:

* **wrong share by distance to the nearest hole**: share of valid pixels more than ``wrong_rel``
  (relative) off GT, binned by their Euclidean distance (px) to the nearest hole pixel
  (:data:`DISTANCE_BINS_PX`; a frame without holes counts in the last bin);
* **islands**: valid pixels in 8-connected valid components of at most :data:`ISLAND_MAX_PX` px (they
  sit inside holes and seed them), their share of the valid pixels and their wrong share.

Measured (``cli.py realism SENSOR --real ../shared/data/real_rgbd``) on 24 rendered views of the
`d435` preset against the 4 ClearGrasp D435 frames with GT: 25 % of the simulated valid pixels within
3 px of a hole are wrong against 3.7 % of the real ones, and 53 % of the simulated island pixels against
18 % (mdm/README.md, "Hole borders: simulated vs real").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from realism.gtfree import to_work_grid

DISTANCE_BINS_PX = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 16.0, float("inf"))  # (lo, hi] px to the nearest hole
NEAR_PX = 3.0  # "next to a hole": distance <= this
ISLAND_MAX_PX = 100  # valid components up to this size (px, working grid) are islands


def _bin_labels() -> list[str]:
    edges = DISTANCE_BINS_PX
    return [f"{edges[i]:g}-{edges[i + 1]:g}" if np.isfinite(edges[i + 1]) else f">{edges[i]:g}"
            for i in range(len(edges) - 1)]


@dataclass
class BorderStats:
    """Wrong shares of measured depth by distance to the nearest hole and on islands, over frames."""

    wrong_rel: float = 0.05
    work_side: int = 640
    frames: int = 0
    pixels: np.ndarray = field(default_factory=lambda: np.zeros(len(DISTANCE_BINS_PX) - 1, np.int64))
    wrong: np.ndarray = field(default_factory=lambda: np.zeros(len(DISTANCE_BINS_PX) - 1, np.int64))
    island_pixels: int = 0
    island_wrong: int = 0

    def add(self, depth_m: np.ndarray, gt_m: np.ndarray) -> None:
        """One frame: measured depth and GT (m, 0 / NaN = none) on the same pixel grid."""
        if depth_m.shape != gt_m.shape:
            raise ValueError(f"depth {depth_m.shape} and GT {gt_m.shape} are on different grids")
        depth, _ = to_work_grid(np.nan_to_num(depth_m.astype(np.float32)), None, self.work_side)
        gt, _ = to_work_grid(np.nan_to_num(gt_m.astype(np.float32)), None, self.work_side)
        valid = depth > 0
        scored = valid & (gt > 0)
        if not scored.any():
            return
        self.frames += 1
        bad = scored & (np.abs(depth - gt) > self.wrong_rel * np.maximum(gt, 1e-6))
        dist = ndimage.distance_transform_edt(valid) if (~valid).any() else np.full(valid.shape, np.inf)
        which = np.digitize(dist[scored], DISTANCE_BINS_PX[1:-1], right=True)
        self.pixels += np.bincount(which, minlength=len(self.pixels))
        self.wrong += np.bincount(which, weights=bad[scored], minlength=len(self.wrong)).astype(np.int64)
        _, labels, comp, _ = cv2.connectedComponentsWithStats(valid.astype(np.uint8), connectivity=8)
        small = comp[:, cv2.CC_STAT_AREA] <= ISLAND_MAX_PX
        small[0] = False  # label 0 = the holes
        island = small[labels] & scored
        self.island_pixels += int(island.sum())
        self.island_wrong += int((island & bad).sum())

    def result(self) -> dict | None:
        """Per-bin and summary shares (None without a frame)."""
        if not self.frames:
            return None
        share = [float(w / n) if n else None for w, n in zip(self.wrong, self.pixels)]
        near = np.array([hi <= NEAR_PX for hi in DISTANCE_BINS_PX[1:]])

        def part(mask: np.ndarray) -> float | None:
            n = int(self.pixels[mask].sum())
            return float(self.wrong[mask].sum() / n) if n else None

        total = int(self.pixels.sum())
        return {
            "frames": self.frames, "wrong_rel": self.wrong_rel, "bins_px": _bin_labels(),
            "pixels": self.pixels.tolist(), "wrong_share": share,
            "wrong_share_near": part(near), "wrong_share_far": part(~near), "near_px": NEAR_PX,
            "island_max_px": ISLAND_MAX_PX,
            "island_share_of_valid": self.island_pixels / total if total else None,
            "island_wrong_share": self.island_wrong / self.island_pixels if self.island_pixels else None,
        }
