"""MDM CLI: eval writes metrics.json in the agreed layout; complete handles a 640x480 uint16 frame."""
from __future__ import annotations

import json

import cv2
import numpy as np
import open3d as o3d
import pytest
import torch
from click.testing import CliRunner

from mdm.commands import complete, eval_cmd
from mdm.synthetic import render_scene, write_fixture_dataset
from mdm.train import TrainConfig, train

PROTOCOLS = {"sensor", "sensor_holes", "block_easy", "block_medium", "block_hard", "block_extreme"}
METHODS = {"model", "nearest", "ip_basic", "inpaint", "harmonic"}




@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mdm_cli")
    data = write_fixture_dataset(root / "fx", 4, size=(96, 128), shard_size=2)
    torch.set_num_threads(1)
    train(TrainConfig(data=[str(data)], out=str(root / "run"), steps=2, batch=2, workers=0, size=(42, 56),
                      lr_encoder=3e-4, lr_decoder=3e-4, progress=False))
    return root / "run" / "last.pt", data


def test_eval_writes_metrics_json(trained, tmp_path):
    ckpt, data = trained
    out = tmp_path / "eval"
    res = CliRunner().invoke(eval_cmd, ["--ckpt", str(ckpt), "--data", str(data), "--out", str(out),
                                        "--max-samples", "3", "--images", "1"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"protocols"} and set(metrics["protocols"]) == PROTOCOLS
    for proto, methods in metrics["protocols"].items():
        assert set(methods) == METHODS, proto
        for values in methods.values():
            assert set(values) == {"rmse", "mae", "absrel", "delta1"}
            assert all(np.isfinite(v) for v in values.values())
            assert values["rmse"] >= values["mae"] >= 0 and 0 <= values["delta1"] <= 1
    # same inputs for every method, and the levels get harder
    p = metrics["protocols"]
    for method in METHODS:
        assert p["block_extreme"][method]["rmse"] > p["block_easy"][method]["rmse"], method
    assert "| block_extreme | 3 |" in (out / "metrics.md").read_text()
    assert len(list((out / "images").glob("*.png"))) == 5  # sensor + 4 block levels, first sample


def test_complete_handles_640x480_uint16_frame(trained, tmp_path):
    ckpt, _ = trained
    scene = render_scene((480, 640), np.random.default_rng(7))
    cv2.imwrite(str(tmp_path / "rgb.png"), cv2.cvtColor(scene["rgb"], cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "depth.png"), scene["sensor"])
    np.savetxt(tmp_path / "K.txt", scene["K"])
    assert (scene["sensor"] == 0).mean() > 0.01
    res = CliRunner().invoke(complete, ["--ckpt", str(ckpt), "--rgb", str(tmp_path / "rgb.png"),
                                        "--depth", str(tmp_path / "depth.png"), "--out", str(tmp_path / "out.png"),
                                        "--intrinsics", str(tmp_path / "K.txt")])
    assert res.exit_code == 0, res.output
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (480, 640) and (out > 0).all()
    assert 300 < np.median(out) < 20000  # millimetres, like the input
    preview = cv2.imread(str(tmp_path / "out_preview.png"))
    assert preview.shape[1] == 3 * 640
    cloud = o3d.io.read_point_cloud(str(tmp_path / "out.ply"))
    assert len(cloud.points) == 480 * 640 and cloud.has_colors()


def test_complete_and_eval_bad_inputs(trained, tmp_path):
    ckpt, data = trained
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "rgb.png"), rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "small.png"), rng.integers(0, 5000, (240, 320), dtype=np.uint16))
    cv2.imwrite(str(tmp_path / "colour_depth.png"), rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(complete, ["--ckpt", str(ckpt), "--rgb", str(tmp_path / "rgb.png"),
                                        "--out", str(tmp_path / "o.png"), *args])

    res = run("--depth", str(tmp_path / "small.png"))
    assert res.exit_code == 1 and "640x480" in res.output and "small.png" in res.output
    res = run("--depth", str(tmp_path / "colour_depth.png"))
    assert res.exit_code == 1 and "colour_depth.png" in res.output
    res = run("--depth", str(tmp_path / "missing.png"))
    assert res.exit_code == 1 and "missing.png" in res.output
    res = run("--depth", str(tmp_path / "small.png"), "--ply", str(tmp_path / "x.ply"))
    assert res.exit_code == 1 and "--intrinsics" in res.output
    assert not (tmp_path / "o.png").exists()
    res = runner.invoke(eval_cmd, ["--ckpt", str(tmp_path / "broken.pt"), "--data", str(data),
                                   "--out", str(tmp_path / "ev")])
    assert res.exit_code == 1 and "broken.pt" in res.output
    res = runner.invoke(eval_cmd, ["--ckpt", str(ckpt), "--data", str(tmp_path / "nothing"),
                                   "--out", str(tmp_path / "ev")])
    assert res.exit_code == 1 and "nothing" in res.output
