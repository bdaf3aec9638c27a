"""Shared fixtures: small, schema-valid samples built from numpy (no renderer needed)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from synth import schema  # noqa: E402


def make_sample(key: str, rng: np.random.Generator, ir_hw=(12, 16), rgb_hw=(15, 20), sensor=False) -> dict:
    """A schema-valid sample with random content of the right dtypes and shapes."""
    h, w = ir_hw
    H, W = rgb_hw
    depth_ir = rng.uniform(0.3, 5.0, (h, w)).astype(np.float32)
    fx, b = 50.0, 0.1
    sample = {
        "__key__": key,
        "rgb": rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        "ir_left": rng.integers(0, 1024, (h, w), dtype=np.uint16),
        "ir_right": rng.integers(0, 1024, (h, w), dtype=np.uint16),
        "depth_ir": depth_ir,
        "depth_rgb": rng.uniform(0.3, 5.0, (H, W)).astype(np.float32),
        "disparity": (fx * b / depth_ir).astype(np.float32),
        "material": rng.integers(0, 8, (h, w), dtype=np.uint8),
        "material_rgb": rng.integers(0, 8, (H, W), dtype=np.uint8),
        "instance": rng.integers(0, 65535, (h, w), dtype=np.uint16),
        "instance_rgb": rng.integers(0, 65535, (H, W), dtype=np.uint16),
        "meta": {
            "K_ir": [[fx, 0, w / 2], [0, fx, h / 2], [0, 0, 1]],
            "K_rgb": [[60.0, 0, W / 2], [0, 60.0, H / 2], [0, 0, 1]],
            "baseline_m": b, "focal_mm": 20.0,
            "T_rgb_from_ir": np.eye(4).tolist(), "T_world_from_ir": np.eye(4).tolist(),
            "projector": {"pattern": "uniform", "seed": 1}, "scene_id": 0, "view_id": 0, "seed": 0,
            "material_classes": {str(k): v for k, v in schema.MATERIAL_CLASSES.items()},
        },
    }
    if sensor:
        sd = (sample["depth_rgb"] * 1000).round().astype(np.uint16)
        sd[: H // 3] = 0
        sample["sensor_depth"] = sd
        sample["sensor_depth_ir"] = (depth_ir * 1000).round().astype(np.uint16)
        sample["sensor_disparity"] = sample["disparity"].copy()
    return sample


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch intra-op thread per test: SGM and the tiny models issue many small ops, and OpenMP
    workers spinning against other processes on 2 shared cores slow them down up to 10x."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
