"""Post-processing stages (sgm/postprocess.py), preset files, and `cli.py calibrate` on bad and tiny inputs."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from cli import cli
from sgm.postprocess import apply_postprocess, normalise_stages
from sgm.presets import load_preset
from synth.shards import ShardWriter, init_dataset

# ---------------------------------------------------------------- post-processing stages


def test_hole_filling_modes_follow_librealsense():
    d = np.zeros((3, 5), np.float32)
    d[0] = 20.0  # near (large disparity) above
    d[1:, :2] = 10.0  # far on the left
    far = apply_postprocess(d, [{"stage": "hole_filling", "mode": "farest_from_around"}])
    near = apply_postprocess(d, [{"stage": "hole_filling", "mode": "nearest_from_around"}])
    left = apply_postprocess(d, [{"stage": "hole_filling", "mode": "fill_from_left"}])
    # neighbours: up, up-left, left (already filled), down-left, down; in place, so fills run rightwards
    assert far[1, 2] == 10.0 and near[1, 2] == 20.0 and left[1, 2] == 10.0
    assert (far[1, 2:] == 10.0).all() and (near[1, 2:] == 20.0).all()
    assert (far[2, 2:] == 0.0).all()  # the bottom row is left alone (as librealsense)
    assert (left[1:, 2:] == 10.0).all()


def test_spatial_filter_smooths_but_keeps_edges_and_fills_small_holes():
    rng = np.random.default_rng(0)
    d = np.full((40, 60), 20.0, np.float32)
    d[:, 30:] = 30.0
    noisy = d + rng.normal(0, 0.1, d.shape).astype(np.float32)
    out = apply_postprocess(noisy, [{"stage": "spatial", "alpha": 0.5, "delta_px": 0.625}])
    assert out[:, 2:27].std() < 0.5 * noisy[:, 2:27].std()
    assert abs(out[:, 28].mean() - 20) < 0.1 and abs(out[:, 32].mean() - 30) < 0.1  # the 10 px step stays
    holes = noisy.copy()
    holes[:, 10:12] = 0
    filled = apply_postprocess(holes, [{"stage": "spatial", "holes_fill": 2}])  # 4 px radius
    assert (filled[:, 10:12] > 0).all()
    assert (apply_postprocess(holes, [{"stage": "spatial"}])[:, 10:12] == 0).all()


def test_decimation_noise_edges_dilation():
    d = np.arange(16, dtype=np.float32).reshape(4, 4) + 1
    dec = apply_postprocess(d, [{"stage": "decimation", "magnitude": 2}])
    assert dec[0, 0] == dec[1, 1] == np.median([1, 2, 5, 6])
    n1 = apply_postprocess(np.full((50, 50), 10, np.float32), [{"stage": "noise", "disparity_sigma_px": 0.2}], "a")
    n2 = apply_postprocess(np.full((50, 50), 10, np.float32), [{"stage": "noise", "disparity_sigma_px": 0.2}], "a")
    assert np.array_equal(n1, n2) and abs(n1.std() - 0.2) < 0.02  # seeded by the sample key
    step = np.full((10, 20), 10, np.float32)
    step[:, 10:] = 20
    e = apply_postprocess(step, [{"stage": "edge_invalidation", "jump_px": 1, "radius_px": 1}])
    assert (e[:, 9:11] == 0).all() and (e[:, :9] > 0).all() and (e[:, 11:] > 0).all()
    hole = np.full((20, 20), 10, np.float32)
    hole[10, 10] = 0
    hole[2:6, 2:6] = 0
    g = apply_postprocess(hole, [{"stage": "hole_dilation", "radius_px": 1, "min_hole_px": 4}])
    assert g[10, 11] > 0 and g[6, 3] == 0  # the 1-px hole does not grow, the 16-px one does


def test_stage_validation_and_preset_files(tmp_path):
    with pytest.raises(ValueError, match="temporal"):
        normalise_stages([{"stage": "temporal"}])
    with pytest.raises(ValueError, match="magnitude"):
        normalise_stages([{"stage": "decimation", "magnitude": 9}])
    with pytest.raises(ValueError, match="unknown stage"):
        normalise_stages([{"stage": "blur"}])
    f = tmp_path / "cam.json"
    f.write_text(json.dumps({"base": "d435", "uniqueness_pct": 12,
                             "postprocess": [{"stage": "spatial", "alpha": 0.35}], "_note": "x"}))
    p = load_preset(str(f))
    assert p.name == "cam" and p.uniqueness_pct == 12 and p.postprocess[0]["alpha"] == 0.35
    assert p.census_window == load_preset("d435").census_window
    f.write_text(json.dumps({"base": "d435", "postprocess": [{"stage": "spatial", "alpha": 2}]}))
    with pytest.raises(ValueError, match="alpha"):
        load_preset(str(f))
    with pytest.raises(ValueError, match="does not exist"):
        load_preset(str(tmp_path / "missing.json"))


def test_sensor_sample_applies_postprocess(rng):
    from conftest import make_sample

    from sgm.dataset import sensor_sample
    s = make_sample("s000000-v000000", rng, ir_hw=(24, 32), rgb_hw=(24, 32))
    plain = sensor_sample(s, load_preset("d435"), "torch", "cpu")
    filled = sensor_sample(s, load_preset("d435", {"postprocess": ({"stage": "hole_filling", "mode": "fill_from_left"},)}),
                           "torch", "cpu")
    assert (filled["sensor_disparity"] > 0).sum() >= (plain["sensor_disparity"] > 0).sum()
    assert filled["meta"]["sensor"]["preset"] == "d435"


# ---------------------------------------------------------------- calibrate command


def write_frame(root, name, depth_mm: np.ndarray, rgb: np.ndarray | None = None):
    f = root / name
    f.mkdir(parents=True)
    cv2.imwrite(str(f / "raw_depth.png"), depth_mm.astype(np.uint16))
    rgb = rgb if rgb is not None else np.full(depth_mm.shape + (3,), 120, np.uint8)
    cv2.imwrite(str(f / "rgb.png"), rgb)
    (f / "intrinsics.txt").write_text("100 0 32\n0 100 24\n0 0 1\n")


def plane_mm(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:h, 0:w]
    z = 1.0 / (1.0 + 0.2 * (u - w / 2) / w) + rng.normal(0, 0.002, (h, w))
    z[rng.random((h, w)) < 0.1] = 0
    return np.round(z * 1000)


def write_raw(root, n, rng):
    from conftest import make_sample

    init_dataset(root, "raw", {})
    with ShardWriter(root, "raw-000000") as w:
        for i in range(n):
            s = make_sample(f"s{i:06d}-v000000", rng, ir_hw=(24, 32), rgb_hw=(24, 32))
            left = cv2.GaussianBlur(rng.integers(0, 1024, (24, 40)).astype(np.float32), (3, 3), 0)
            s["ir_left"] = left[:, 4:36].astype(np.uint16)
            s["ir_right"] = left[:, 8:40].astype(np.uint16)  # a 4 px shift: something to match
            w.add(s)


def run_calibrate(tmp_path, real, raw, *extra):
    return CliRunner().invoke(cli, ["calibrate", "--real", str(real), "--raw", str(raw),
                                    "--out", str(tmp_path / "cam.json"), *map(str, extra)])


def test_calibrate_refuses_bad_inputs(tmp_path, rng):
    raw = tmp_path / "raw"
    write_raw(raw, 6, rng)
    one = tmp_path / "one"
    write_frame(one, "f0", plane_mm())
    r = run_calibrate(tmp_path, one, raw)
    assert r.exit_code == 1 and "--real" in r.output and "1 frame" in r.output, r.output
    sizes = tmp_path / "sizes"
    write_frame(sizes, "f0", plane_mm())
    write_frame(sizes, "f1", plane_mm(80, 100))
    r = run_calibrate(tmp_path, sizes, raw)
    assert r.exit_code == 1 and "different sizes" in r.output and "--frames" in r.output, r.output
    units = tmp_path / "units"
    write_frame(units, "f0", plane_mm())
    write_frame(units, "f1", plane_mm(seed=1))
    (units / "index.json").write_text(json.dumps({"f0": {}, "f1": {"depth_scale": 0.0005}}))
    r = run_calibrate(tmp_path, units, raw)
    assert r.exit_code == 1 and "depth units" in r.output, r.output
    bumpy = tmp_path / "bumpy"
    for i in range(2):
        write_frame(bumpy, f"f{i}", np.random.default_rng(i).uniform(500, 3000, (96, 128)))
    r = run_calibrate(tmp_path, bumpy, raw)
    assert r.exit_code == 1 and "no planar region" in r.output, r.output
    good = tmp_path / "good"
    for i in range(2):
        write_frame(good, f"f{i}", plane_mm(seed=i))
    small = tmp_path / "small"
    write_raw(small, 3, rng)
    r = run_calibrate(tmp_path, good, small)
    assert r.exit_code == 1 and "--raw" in r.output and "3 view(s)" in r.output, r.output
    r = CliRunner().invoke(cli, ["calibrate", "--real", str(good), "--raw", str(raw), "--out", str(tmp_path / "x.txt")])
    assert r.exit_code == 2 and ".json" in r.output
    assert not (tmp_path / "cam.json").exists()


def test_calibrate_tiny_end_to_end(tmp_path, rng):
    raw = tmp_path / "raw"
    write_raw(raw, 6, rng)
    good = tmp_path / "good"
    for i in range(2):
        write_frame(good, f"f{i}", plane_mm(seed=i))
    r = run_calibrate(tmp_path, good, raw, "--minutes", 0.05)
    assert r.exit_code == 0, r.output
    assert "warning" in r.output and "6 views" in r.output  # thin raw set
    doc = json.loads((tmp_path / "cam.json").read_text())
    assert doc["_calibration"]["distance_after"] <= doc["_calibration"]["distance_before"]
    assert load_preset(str(tmp_path / "cam.json")).name == "cam"
    rep = tmp_path / "cam_report"
    assert (rep / "report.md").is_file() and (rep / "terms.png").is_file() and (rep / "calibration.json").is_file()
