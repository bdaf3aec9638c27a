"""Hole-border reliability (realism/borders.py) on a frame whose answer is known by construction."""
from __future__ import annotations

import numpy as np
import pytest

from realism.borders import DISTANCE_BINS_PX, BorderStats

H, W, BAND = 40, 50, 10  # columns 0..9 are a hole: a valid pixel in column x is x - 9 px from it


def band_frame() -> tuple[np.ndarray, np.ndarray]:
    """GT = 2 m plane; sensor: hole band, first valid column 25 % off, a 2x2 wrong island in the band."""
    gt = np.full((H, W), 2.0, np.float32)
    depth = gt.copy()
    depth[:, :BAND] = 0
    depth[:, BAND] = 2.5  # wrong, 1 px from the hole
    depth[20:22, 3:5] = 3.0  # island inside the hole, wrong, each pixel 1 px from the hole
    return depth, gt


def test_wrong_shares_by_distance_and_islands():
    stats = BorderStats(wrong_rel=0.05)
    stats.add(*band_frame())
    r = stats.result()
    assert r["frames"] == 1 and len(r["wrong_share"]) == len(DISTANCE_BINS_PX) - 1
    assert r["pixels"][0] == H + 4 and r["wrong_share"][0] == 1.0  # column 10 and the island
    assert r["pixels"][1] == H and r["wrong_share"][1] == 0.0  # column 11
    assert r["wrong_share_near"] == pytest.approx((H + 4) / (3 * H + 4))
    assert r["wrong_share_far"] == 0.0
    assert r["island_wrong_share"] == 1.0
    assert r["island_share_of_valid"] == pytest.approx(4 / ((W - BAND) * H + 4))


def test_frames_without_holes_or_gt_and_bad_shapes():
    stats = BorderStats()
    gt = np.full((H, W), 2.0, np.float32)
    stats.add(gt, gt)  # no hole: every pixel in the last bin, none wrong
    r = stats.result()
    assert r["pixels"][-1] == H * W and r["wrong_share"][-1] == 0.0 and r["island_wrong_share"] is None
    stats.add(gt, np.zeros_like(gt))  # no GT: not a frame
    assert stats.result()["frames"] == 1
    assert BorderStats().result() is None
    with pytest.raises(ValueError, match="different grids"):
        stats.add(gt, gt[:10])
