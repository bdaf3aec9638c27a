"""MDM CLI: eval writes metrics.json in the agreed layout and scores both `complete` modes; complete handles
a 640x480 uint16 frame, keeps its units explicit and changes measured pixels only when asked."""
from __future__ import annotations

import json

import cv2
import numpy as np
import open3d as o3d
import pytest
import torch
from click.testing import CliRunner

from cli import cli
from mdm.synthetic import render_scene, write_fixture_dataset
from mdm.train import TrainConfig, train

PROTOCOLS = {"sensor", "sensor_holes", "block_easy", "block_medium", "block_hard", "block_extreme"}
METHODS = {"model", "model_fill", "nearest", "ip_basic", "inpaint", "harmonic", "guided"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mdm_cli")
    data = write_fixture_dataset(root / "fx", 4, size=(96, 128), shard_size=2)
    torch.set_num_threads(1)
    train(TrainConfig(data=[str(data)], out=str(root / "run"), steps=2, batch=2, workers=0, size=(42, 56),
                      lr_encoder=3e-4, lr_decoder=3e-4, progress=False))
    return root / "run" / "last.pt", data


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_eval_writes_metrics_json(trained, tmp_path):
    ckpt, data = trained
    out = tmp_path / "eval"
    res = invoke("eval", "--ckpt", ckpt, "--data", data, "--out", out, "--max-samples", "3", "--images", "1")
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
    # both complete modes are scored: on sensor holes they agree (fill and refine differ on measured pixels)
    assert p["sensor_holes"]["model"] == p["sensor_holes"]["model_fill"]
    md = (out / "metrics.md").read_text()
    assert "| block_extreme | 3 |" in md and "model_fill" in md and "complete --refine" in md
    assert len(list((out / "images").glob("*.png"))) == 5  # sensor + 4 block levels, first sample


def test_eval_sensor_protocol_on_raw_dataset_fails(trained, tmp_path):
    ckpt, _ = trained
    raw = write_fixture_dataset(tmp_path / "raw", 2, size=(42, 56), shard_size=2, sensor=False)
    out = tmp_path / "ev"
    res = invoke("eval", "--ckpt", ckpt, "--data", raw, "--out", out, "--protocol", "sensor")
    assert res.exit_code == 1, res.output
    assert "--protocol sensor" in res.output and "sensor_depth" in res.output and "Traceback" not in res.output
    assert not (out / "metrics.json").exists()
    # by default the sensor protocols are left out with a note and the block protocols scored
    res = invoke("eval", "--ckpt", ckpt, "--data", raw, "--out", out, "--images", "0")
    assert res.exit_code == 0, res.output
    assert "protocol sensor skipped" in res.output
    assert set(json.loads((out / "metrics.json").read_text())["protocols"]) == PROTOCOLS - {"sensor", "sensor_holes"}


def test_complete_handles_640x480_uint16_frame(trained, tmp_path):
    ckpt, _ = trained
    scene = render_scene((480, 640), np.random.default_rng(7))
    cv2.imwrite(str(tmp_path / "rgb.png"), cv2.cvtColor(scene["rgb"], cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "depth.png"), scene["sensor"])
    np.savetxt(tmp_path / "K.txt", scene["K"])
    assert (scene["sensor"] == 0).mean() > 0.01
    res = invoke("complete", "--ckpt", ckpt, "--rgb", tmp_path / "rgb.png", "--depth", tmp_path / "depth.png",
                 "--out", tmp_path / "out.png", "--intrinsics", tmp_path / "K.txt")
    assert res.exit_code == 0, res.output
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (480, 640) and (out > 0).all()
    assert 300 < np.median(out) < 20000  # millimetres, like the input
    measured = scene["sensor"] > 0
    assert np.array_equal(out[measured], scene["sensor"][measured])  # fill only: measured pixels kept
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["mode"] == "fill" and report["holes_filled"] == int((~measured).sum())
    assert report["measured_refined"] == 0 and report["measured_unchanged"] == int(measured.sum())
    assert report["input_units"] == "uint16, 0.001 m per unit" and report["output_units"] == report["input_units"]
    preview = cv2.imread(str(tmp_path / "out_preview.png"))
    assert preview.shape[1] == 3 * 640
    cloud = o3d.io.read_point_cloud(str(tmp_path / "out.ply"))
    assert len(cloud.points) == 480 * 640 and cloud.has_colors()
    z = np.asarray(cloud.points)[:, 2].reshape(480, 640)
    assert np.allclose(z, out / 1000.0, atol=1e-4)


@pytest.fixture
def frame(tmp_path):
    """A 96x128 RGB-D frame: uint16 mm depth with holes and one 30 m measured pixel."""
    scene = render_scene((96, 128), np.random.default_rng(3))
    cv2.imwrite(str(tmp_path / "rgb.png"), cv2.cvtColor(scene["rgb"], cv2.COLOR_RGB2BGR))
    depth = scene["sensor"].copy()
    depth[10, 10] = 30000  # a valid 30 m reading, beyond the model's 20 m
    assert (depth == 0).mean() > 0.01
    cv2.imwrite(str(tmp_path / "depth.png"), depth)
    return tmp_path, depth


def complete(ckpt, root, depth_name, out_name, *extra):
    return invoke("complete", "--ckpt", ckpt, "--rgb", root / "rgb.png", "--depth", root / depth_name,
                  "--out", root / out_name, *extra)


def test_complete_fill_keeps_measured_pixels_and_refine_changes_them(trained, frame, monkeypatch):
    import mdm.evaluate

    monkeypatch.setattr(mdm.evaluate, "model_predict", lambda model, rgb, depth, *a: np.full(depth.shape, 2.5))
    ckpt, _ = trained
    root, depth = frame
    measured = depth > 0
    res = complete(ckpt, root, "depth.png", "fill.png")
    assert res.exit_code == 0, res.output
    fill = cv2.imread(str(root / "fill.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(fill[measured], depth[measured]) and (fill[~measured] == 2500).all()
    assert fill[10, 10] == 30000
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["out_of_range_passed_through"] == 1 and report["model_range_m"] == [0.05, 20.0]
    assert report["holes_filled"] == int((~measured).sum()) and report["measured_refined"] == 0

    res = complete(ckpt, root, "depth.png", "refine.png", "--refine")
    assert res.exit_code == 0, res.output
    refine = cv2.imread(str(root / "refine.png"), cv2.IMREAD_UNCHANGED)
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["mode"] == "refine" and report["measured_refined"] == int(measured.sum()) - 1
    assert refine[10, 10] == 30000  # beyond the model's range: passes through even with --refine
    expected = np.full_like(depth, 2500)
    expected[10, 10] = 30000
    assert np.array_equal(refine, expected)


def test_complete_float_metres_round_trip_to_mm(trained, frame):
    ckpt, _ = trained
    root, depth = frame
    metres = depth.astype(np.float32) / 1000.0
    metres[depth == 0] = np.nan  # float holes may be NaN
    np.save(root / "depth_m.npy", metres)
    res = complete(ckpt, root, "depth_m.npy", "from_float.png")
    assert res.exit_code == 0, res.output
    out = cv2.imread(str(root / "from_float.png"), cv2.IMREAD_UNCHANGED)
    measured = depth > 0
    assert out.dtype == np.uint16 and np.array_equal(out[measured], depth[measured])
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["input_units"] == "float32 metres" and report["output_units"] == "uint16, 0.001 m per unit"
    # float in, float out (.npy): metres, measured pixels bit for bit
    res = complete(ckpt, root, "depth_m.npy", "out_m.npy")
    assert res.exit_code == 0, res.output
    out_m = np.load(root / "out_m.npy")
    assert out_m.dtype == np.float32 and np.array_equal(out_m[measured], metres[measured])
    assert np.allclose(out_m, out / 1000.0, atol=5e-4)
    # a scale makes no sense for metres: refused, nothing written
    res = complete(ckpt, root, "depth_m.npy", "scaled.png", "--depth-scale", "0.001")
    assert res.exit_code == 2 and "--depth-scale" in res.output and "depth_m.npy" in res.output
    assert not (root / "scaled.png").exists()
    # float millimetres are not silently read as kilometres of depth
    np.save(root / "depth_mm.npy", depth.astype(np.float32))
    res = complete(ckpt, root, "depth_mm.npy", "mm.png")
    assert res.exit_code == 1 and "millimetres?" in res.output and "depth_mm.npy" in res.output


def test_complete_refuses_empty_sparse_and_8bit_depth(trained, frame):
    ckpt, depth = trained[0], frame[1]
    root = frame[0]
    cv2.imwrite(str(root / "zero.png"), np.zeros_like(depth))
    sparse = np.zeros_like(depth)
    sparse[::20, ::20] = 1500  # 0.3 % valid
    cv2.imwrite(str(root / "sparse.png"), sparse)
    cv2.imwrite(str(root / "eight.png"), (depth // 100).astype(np.uint8))
    (root / "keep.png").write_bytes(b"previous output")
    for name, words in (("zero.png", "no valid depth"), ("sparse.png", "< 1 %"), ("eight.png", "8-bit")):
        res = complete(ckpt, root, name, "keep.png")
        assert res.exit_code == 1, res.output
        assert name in res.output and words in res.output and "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1
        assert (root / "keep.png").read_bytes() == b"previous output"
        assert not (root / "keep_preview.png").exists()
    res = complete(ckpt, root, "sparse.png", "sparse_out.png", "--allow-sparse")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["valid_fraction"] < 0.01


def test_complete_and_eval_bad_inputs(trained, tmp_path):
    ckpt, data = trained
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "rgb.png"), rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "small.png"), rng.integers(0, 5000, (240, 320), dtype=np.uint16))
    cv2.imwrite(str(tmp_path / "colour_depth.png"), rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")

    def run(*args):
        return invoke("complete", "--ckpt", ckpt, "--rgb", tmp_path / "rgb.png", "--out", tmp_path / "o.png", *args)

    res = run("--depth", tmp_path / "small.png")
    assert res.exit_code == 1 and "640x480" in res.output and "small.png" in res.output
    res = run("--depth", tmp_path / "colour_depth.png")
    assert res.exit_code == 1 and "colour_depth.png" in res.output
    res = run("--depth", tmp_path / "missing.png")
    assert res.exit_code == 1 and "missing.png" in res.output
    res = run("--depth", tmp_path / "small.png", "--ply", tmp_path / "x.ply")
    assert res.exit_code == 2 and "--intrinsics" in res.output
    res = run("--depth", tmp_path / "small.png", "--depth-scale", "0")
    assert res.exit_code == 2 and "--depth-scale" in res.output
    assert not (tmp_path / "o.png").exists()
    res = invoke("eval", "--ckpt", tmp_path / "broken.pt", "--data", data, "--out", tmp_path / "ev")
    assert res.exit_code == 1 and "broken.pt" in res.output
    res = invoke("eval", "--ckpt", ckpt, "--data", tmp_path / "nothing", "--out", tmp_path / "ev")
    assert res.exit_code == 1 and "nothing" in res.output and "Traceback" not in res.output
