"""`cli.py sgm` (dataset command, resume) and `cli.py sgm-pair`, run through click's CliRunner."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from cli import cli
from lbd.files import sha256_file
from sgm.synthetic import StereoScene, raw_sample, shifted_pair
from synth import schema
from synth.shards import ShardWriter, init_dataset, open_dataset

SCENE = StereoScene(width=96, height=72, fx=80.0, baseline_m=0.1, z0_m=1.0, slope_x=0.3,
                    box=(-0.15, 0.05, -0.1, 0.1), z_box_m=0.6)


@pytest.fixture(scope="module")
def raw_dataset(tmp_path_factory) -> Path:
    """Two shards of two analytic samples each (72x96 IR, 96x128 RGB, exact GT)."""
    root = tmp_path_factory.mktemp("sgm_cli") / "raw"
    init_dataset(root, "raw", {"source": "sgm.synthetic analytic scene"})
    for shard in range(2):
        with ShardWriter(root, f"raw-{shard:06d}") as writer:
            for view in range(2):
                writer.add(raw_sample(SCENE, f"s{shard:06d}-v{view:06d}", seed=10 * shard + view))
    return root


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_sgm_dataset_end_to_end_and_resume(raw_dataset, tmp_path):
    out = tmp_path / "d435"
    result = run("sgm", "--in", raw_dataset, "--out", out, "--preset", "d435", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "2 shard(s) written (4 samples)" in result.output
    ds = open_dataset(out)
    assert ds.kind == "sensor" and len(ds) == 4
    assert [s["name"] for s in ds.manifest["shards"]] == ["sensor-000000.tar", "sensor-000001.tar"]
    config = ds.manifest["config"]
    assert config["preset"] == "d435" and config["backend"] == "torch"
    assert config["source_dataset"] == str(raw_dataset.resolve())
    for sample in ds.iter_samples():
        assert schema.validate_sample(sample, schema.RAW_FIELDS + schema.SENSOR_FIELDS) == []
        assert sample["meta"]["sensor"]["preset"] == "d435"
        D = sample["meta"]["sensor"]["max_disparity"]
        assert D == 48  # fx * b / z_min = 80 * 0.1 / 0.2 = 40 -> multiple of 16
        disp, gt = sample["sensor_disparity"], sample["disparity"]
        outside = np.arange(disp.shape[1])[None, :] < gt  # match leaves the right image: D4xx band
        assert (disp[outside] == 0).mean() > 0.9
        valid = disp > 0
        assert valid[:, D:].mean() > 0.8
        assert np.median(np.abs(disp[valid] - gt[valid])) < 0.1
        depth_ir = sample["sensor_depth_ir"]
        assert np.array_equal(depth_ir > 0, valid)
        assert np.median(np.abs(depth_ir[valid] / 1000.0 - sample["depth_ir"][valid])) < 0.01
        depth_rgb, gt_rgb = sample["sensor_depth"], sample["depth_rgb"]
        assert depth_rgb.shape == sample["rgb"].shape[:2]
        ok = depth_rgb > 0
        assert ok.mean() > 0.3
        assert np.median(np.abs(depth_rgb[ok] / 1000.0 - gt_rgb[ok]) / gt_rgb[ok]) < 0.01

    # resume: the first shard survives untouched, the "interrupted" second one is redone
    first = ds.shard_path("sensor-000000.tar")
    digest = sha256_file(first)
    ds.shard_path("sensor-000001.tar").unlink()
    ds.record_path("sensor-000001.tar").unlink()
    result = run("sgm", "--in", raw_dataset, "--out", out, "--preset", "d435", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "1 shard(s) written (2 samples), 1 already done" in result.output
    assert sha256_file(first) == digest and len(open_dataset(out)) == 4
    result = run("sgm", "--in", raw_dataset, "--out", out, "--preset", "d435", "--no-progress")
    assert "0 shard(s) written (0 samples), 2 already done" in result.output

    # the same output directory with another sensor is refused, nothing is overwritten
    result = run("sgm", "--in", raw_dataset, "--out", out, "--preset", "d415", "--no-progress")
    assert result.exit_code != 0 and "different config" in result.output
    assert sha256_file(first) == digest


def test_sgm_dataset_opencv_backend(raw_dataset, tmp_path):
    out = tmp_path / "ocv"
    result = run("sgm", "--in", raw_dataset, "--out", out, "--preset", "d415", "--backend", "opencv",
                 "--no-progress")
    assert result.exit_code == 0, result.output
    ds = open_dataset(out)
    assert ds.manifest["config"]["backend"] == "opencv" and len(ds) == 4
    sample = next(ds.iter_samples())
    assert (sample["sensor_disparity"] > 0).mean() > 0.3


@pytest.mark.parametrize("args,message", [
    (["--preset", "d999"], "unknown SGM preset 'd999'"),
    (["--device", "cuda:7"], "device"),
])
def test_sgm_dataset_bad_options(raw_dataset, tmp_path, args, message):
    result = run("sgm", "--in", raw_dataset, "--out", tmp_path / "x", "--no-progress", *args)
    assert result.exit_code != 0 and message in result.output


def test_sgm_dataset_missing_input(tmp_path):
    result = run("sgm", "--in", tmp_path / "nope", "--out", tmp_path / "x", "--no-progress")
    assert result.exit_code != 0 and "nope" in result.output


@pytest.fixture
def pair_files(tmp_path) -> tuple[Path, Path]:
    left, right = shifted_pair(96, 48, 6.0, seed=3)
    paths = tmp_path / "left.png", tmp_path / "right.png"
    for path, image in zip(paths, (left, right)):
        cv2.imwrite(str(path), image)
    return paths


def test_sgm_pair_writes_disparity_depth_and_preview(pair_files, tmp_path):
    left, right = pair_files
    out, depth, preview = tmp_path / "disp.npy", tmp_path / "depth.png", tmp_path / "disp.png"
    result = run("sgm-pair", left, right, "--max-disparity", 16, "--out", out, "--fx", 100,
                 "--baseline", 0.1, "--depth-out", depth, "--preview", preview)
    assert result.exit_code == 0, result.output
    disp = np.load(out)
    assert disp.dtype == np.float32 and disp.shape == (48, 96)
    assert np.abs(disp[8:-8, 24:-8] - 6.0).max() < 1e-3
    depth_mm = cv2.imread(str(depth), cv2.IMREAD_UNCHANGED)
    assert depth_mm.dtype == np.uint16 and depth_mm[24, 50] == round(100 * 0.1 / 6.0 * 1000)
    assert cv2.imread(str(preview)).shape == (48, 96, 3)


def test_sgm_pair_errors(pair_files, tmp_path):
    left, right = pair_files
    out = tmp_path / "d.npy"
    result = run("sgm-pair", left, right, "--max-disparity", 16, "--out", out, "--depth-out", tmp_path / "z.png")
    assert result.exit_code != 0 and "--fx" in result.output and not out.exists()
    result = run("sgm-pair", left, right, "--max-disparity", 200, "--out", out)
    assert result.exit_code != 0 and "not below the image width" in result.output and not out.exists()
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image")
    result = run("sgm-pair", garbage, right, "--max-disparity", 16, "--out", out)
    assert result.exit_code != 0 and "garbage.png" in result.output
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((48, 90), np.uint8) + np.arange(90, dtype=np.uint8))
    result = run("sgm-pair", small, right, "--max-disparity", 16, "--out", out)
    assert result.exit_code != 0 and "differ in size" in result.output


def test_sgm_pair_converts_colour_with_a_note(pair_files, tmp_path):
    left, right = pair_files
    colour = tmp_path / "left_rgb.png"
    cv2.imwrite(str(colour), cv2.cvtColor(cv2.imread(str(left), cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2BGR))
    result = CliRunner().invoke(
        cli, ["sgm-pair", str(colour), str(right), "--max-disparity", "16", "--out", str(tmp_path / "d.npy")])
    assert result.exit_code == 0 and "converted to grey" in result.stderr


def test_search_range_from_meta():
    from sgm import load_preset
    from sgm.dataset import max_disparity_for
    meta = {"K_ir": [[400.0, 0, 479.5], [0, 400.0, 359.5], [0, 0, 1]], "baseline_m": 0.05}
    d435, d415, generic = (load_preset(n) for n in ("d435", "d415", "generic"))
    assert max_disparity_for(meta, d435, 960) == 112  # 400 * 0.05 / 0.2 = 100 -> 112
    assert max_disparity_for(meta, d415, 960) == 48  # 400 * 0.05 / 0.45 = 44.4 -> 48
    assert max_disparity_for(meta, generic, 960) == 256  # no z_min: the preset's cap
    wide = dict(meta, baseline_m=0.2)
    assert max_disparity_for(wide, d435, 960) == 128  # 400 px: capped at the D4xx search range
    assert max_disparity_for(wide, generic, 100) == 96  # below the image width
    with pytest.raises(ValueError, match="baseline_m"):
        max_disparity_for(dict(meta, baseline_m=0.0), d435, 960)
