"""`cli.py realism` on small analytic sensor datasets whose answers are known by construction.

Scenes are built in numpy and written through ShardWriter (kind "sensor"): fronto-parallel planes and
a box seen by a rectified pair, so disparities, projector shadows and right-camera occlusions can be
computed by hand. The RGB frame is made identical to the left IR frame (same K, identity pose).
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from cli import cli
from realism import causes as C
from realism.metrics import MATERIALS
from realism.report import analyse_dataset
from synth import schema
from synth.shards import ShardWriter, init_dataset

FX, B = 80.0, 0.1  # px, m: disparity = 8 / z
H, W = 60, 80
BOX_ROWS, BOX_COLS = slice(20, 40), slice(40, 55)  # box at 1 m in front of a wall at 2 m
GLASS = schema.CLASS_IDS["glass"]
TEXTURED = schema.CLASS_IDS["textured"]


def make_sensor_sample(key: str, gt: np.ndarray, material: np.ndarray, sensor_disp: np.ndarray,
                       rng: np.random.Generator, fx: float = FX, b: float = B, projector_x: float = 0.05,
                       ir: np.ndarray | None = None) -> dict:
    """A schema-valid sensor sample; RGB frame = left IR frame; sensor depth = fx*b/sensor_disp (mm)."""
    h, w = gt.shape
    K = [[fx, 0, (w - 1) / 2], [0, fx, (h - 1) / 2], [0, 0, 1]]
    with np.errstate(divide="ignore"):
        sensor_mm = np.where(sensor_disp > 0, np.round(1000 * fx * b / np.where(sensor_disp > 0, sensor_disp, 1)), 0)
    sensor_mm = sensor_mm.astype(np.uint16)
    if ir is None:
        ir = rng.integers(0, 256, (h, w), dtype=np.uint8)
    rgb = np.repeat(ir[..., None], 3, axis=2)
    T_proj = np.eye(4)
    T_proj[0, 3] = projector_x
    gt = gt.astype(np.float32)
    return {
        "__key__": key, "rgb": rgb, "ir_left": ir, "ir_right": ir.copy(),
        "depth_ir": gt, "depth_rgb": gt.copy(),
        "disparity": np.where(gt > 0, fx * b / np.where(gt > 0, gt, 1), 0).astype(np.float32),
        "material": material.astype(np.uint8), "material_rgb": material.astype(np.uint8),
        "instance": np.zeros((h, w), np.uint16), "instance_rgb": np.zeros((h, w), np.uint16),
        "sensor_depth": sensor_mm, "sensor_depth_ir": sensor_mm.copy(),
        "sensor_disparity": sensor_disp.astype(np.float32),
        "meta": {"K_ir": K, "K_rgb": K, "baseline_m": b, "focal_mm": 20.0,
                 "T_rgb_from_ir": np.eye(4).tolist(), "T_world_from_ir": np.eye(4).tolist(),
                 "projector": {"T_ir_from_projector": T_proj.tolist(), "K": K, "size_hw": [h, w]},
                 "scene_id": 0, "view_id": 0, "seed": 0,
                 "material_classes": {str(k): v for k, v in schema.MATERIAL_CLASSES.items()}},
    }


def write_sensor_dataset(root, samples: list[dict], config: dict | None = None, kind: str = "sensor",
                         required=schema.RAW_FIELDS + schema.SENSOR_FIELDS):
    init_dataset(root, kind, config or {"preset": "test"})
    with ShardWriter(root, "sensor-000000", required=required) as writer:
        for s in samples:
            writer.add(s)
    return root


def box_scene(projector_x: float = 0.05):
    """Wall at 2 m, box at 1 m, far patch at 6 m; holes placed by cause. Returns sample and the
    expected cause map (0 = not a hole)."""
    rng = np.random.default_rng(7)
    gt = np.full((H, W), 2.0)
    gt[BOX_ROWS, BOX_COLS] = 1.0
    gt[50:56, 60:66] = 6.0  # beyond z_max = 5 m
    gt[0:3, 70:80] = 0.0  # no surface (sky)
    material = np.full((H, W), TEXTURED, np.uint8)
    material[5:12, 20:30] = GLASS
    ir = rng.integers(0, 256, (H, W), dtype=np.uint8)
    ir[40:56, 8:28] = 128  # textureless patch
    disp = np.where(gt > 0, FX * B / np.where(gt > 0, gt, 1), 0.0)
    expected = np.zeros((H, W), np.uint8)
    code = C.CAUSE_CODE
    # with the projector at +0.05 m: shadow on the wall just left of the box (u0-2, u0-1); the right
    # camera (at +0.1 m) misses 4 columns left of the box; the projector at -0.05 m shadows u1+1, u1+2.
    if projector_x > 0:
        shadow_cols, occl_cols = [38, 39], [36, 37]
    else:
        shadow_cols, occl_cols = [55, 56], [36, 37, 38, 39]
    expected[BOX_ROWS, shadow_cols] = code["projector_shadow"]
    expected[BOX_ROWS, occl_cols] = code["occlusion"]
    expected[3:60, 0:4] = code["occlusion"]  # match u - 4 falls outside the right image
    expected[5:12, 20:30] = code["specular_transparent"]
    expected[44:52, 12:24] = code["low_texture"]  # where the 9x9 std window is inside the flat patch
    expected[50:56, 60:66] = code["out_of_range"]
    expected[30:33, 10:13] = code["unexplained"]
    hole = expected > 0
    disp = np.where(hole, 0.0, disp)
    sample = make_sensor_sample("s000000-v000000", gt, material, disp, rng, projector_x=projector_x, ir=ir)
    return sample, expected


# ---------------------------------------------------------------- figures by hand


def test_overall_and_per_material_recomputed_by_hand(tmp_path):
    rng = np.random.default_rng(3)
    gt = np.full((H, W), 2.0)
    gt[BOX_ROWS, BOX_COLS] = 1.0
    gt[0:4, :] = 0.0
    material = rng.integers(1, 8, (H, W)).astype(np.uint8)
    material[0:10, 0:10] = 0  # "none" class with GT
    disp = FX * B / np.where(gt > 0, gt, 1) + rng.normal(0, 0.1, (H, W))
    disp[(material == GLASS) & (rng.random((H, W)) < 0.8)] = 0.0  # glass mostly fails
    wrong = rng.random((H, W)) < 0.05
    disp[wrong & (disp > 0)] *= 1.4
    disp[gt == 0] = 0.0
    sample = make_sensor_sample("s000001-v000000", gt, material, disp, rng)
    write_sensor_dataset(tmp_path / "ds", [sample])
    result = CliRunner().invoke(cli, ["realism", str(tmp_path / "ds"), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "rep" / "realism.json").read_text())

    g = sample["depth_ir"].astype(np.float64)
    s = sample["sensor_depth_ir"].astype(np.float64) / 1000
    ok = g > 0
    valid = ok & (s > 0)
    err = s[valid] - g[valid]
    o = report["overall"]
    assert o["pixels"] == ok.sum()
    assert o["hole_fraction"] == pytest.approx((ok & (s == 0)).sum() / ok.sum())
    assert o["wrong_fraction"] == pytest.approx((np.abs(err) > 0.05 * g[valid]).sum() / ok.sum())
    assert o["rmse_m"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-6)
    assert o["mae_m"] == pytest.approx(np.mean(np.abs(err)), rel=1e-6)
    assert report["overall_rgb"]["hole_fraction"] == pytest.approx(o["hole_fraction"])

    pm = report["per_material"]
    assert set(pm) == set(MATERIALS)
    for cid, name in enumerate(MATERIALS, start=1):
        assert set(pm[name]) == {"pixels", "hole_fraction", "wrong_fraction", "rmse_m"}
        sel = ok & (sample["material"] == cid)
        assert pm[name]["pixels"] == sel.sum()
        assert pm[name]["hole_fraction"] == pytest.approx((sel & (s == 0)).sum() / sel.sum())
    assert pm["glass"]["hole_fraction"] > 0.7 > 0.1 > pm["textured"]["hole_fraction"]
    assert o["none_material_pixels"] == (ok & (sample["material"] == 0)).sum()


def test_sigma_d_fit_recovers_injected_noise(tmp_path):
    """Disparity noise sigma_d = 0.15 px (so depth noise grows as z^2), plus 3 % gross outliers."""
    rng = np.random.default_rng(11)
    fx, b, sigma_d = 200.0, 0.15, 0.15
    samples = []
    for i, z in enumerate((0.6, 1.1, 1.6, 2.1, 2.6, 3.1)):
        gt = np.full((40, 60), z)
        disp = fx * b / z + rng.normal(0, sigma_d, gt.shape)
        outlier = rng.random(gt.shape) < 0.03
        disp[outlier] *= rng.choice([0.5, 2.0], outlier.sum())
        mat = np.full(gt.shape, TEXTURED, np.uint8)
        samples.append(make_sensor_sample(f"s{i:06d}-v000000", gt, mat, disp, rng, fx=fx, b=b))
    write_sensor_dataset(tmp_path / "ds", samples)
    res = analyse_dataset(tmp_path / "ds", progress=False).result()["per_range"]
    assert res["sigma_d_px"] == pytest.approx(sigma_d, rel=0.1)
    assert res["sigma_d_px_direct"] == pytest.approx(sigma_d, rel=0.1)
    assert res["z_exponent"] == pytest.approx(2.0, abs=0.25)
    bins = [b_ for b_ in res["bins"] if b_["error_pixels"]]
    assert len(bins) == 6
    for b_ in bins:  # each bin's spread matches the theory within 15 %
        assert b_["error_std_m"] == pytest.approx(b_["theory_std_m"], rel=0.15)
        assert b_["hole_fraction"] == 0.0


# ---------------------------------------------------------------- hole causes


@pytest.mark.parametrize("projector_x", [0.05, -0.05])
def test_hole_causes_shadow_on_side_away_from_projector(tmp_path, projector_x):
    sample, expected = box_scene(projector_x)
    write_sensor_dataset(tmp_path / "ds", [sample], config={"sgm": {"preset": "test", "z_max": 5.0}})
    acc = analyse_dataset(tmp_path / "ds", progress=False)
    cause = acc.examples[0].cause
    for name, code in C.CAUSE_CODE.items():
        assert ((cause == code) == (expected == code)).all(), f"{name} pixels differ"
    res = acc.result()
    assert res["sensor_range"]["z_max_m"] == 5.0
    sh = res["projector_shadow"]
    assert sh["shadow_cause_holes"] == 40
    assert sh["foreground_towards_projector"] == 1.0  # every shadow hole: box on the projector side
    assert sh["shadow_hole_fraction"] == 1.0
    assert res["hole_causes"]["pixels"]["projector_shadow"] == 40
    assert res["hole_causes"]["by_material"]["specular_transparent"]["glass"] == 70
    matchable = res["per_material_matchable"]  # geometry-caused holes are left out
    assert matchable["glass"]["pixels"] == 70 and matchable["glass"]["hole_fraction"] == 1.0
    textured = matchable["textured"]
    assert round(textured["hole_fraction"] * textured["pixels"]) == 8 * 12 + 3 * 3  # low texture + unexplained


def test_geometry_tests_directly():
    """Shadow width = fx * projector_x * (1/z_fg - 1/z_bg) px; occlusion width with the baseline."""
    gt = np.full((H, W), 2.0)
    gt[BOX_ROWS, BOX_COLS] = 1.0
    K = np.array([[FX, 0, (W - 1) / 2], [0, FX, (H - 1) / 2], [0, 0, 1]])
    T = C.translation(0.1)  # projector at +0.1 m: shadow 4 px wide
    shadow = C.projector_shadow(gt, K, T)
    assert shadow.sum() == 20 * 4 and shadow[BOX_ROWS, 36:40].all()
    occl = C.right_occlusion(gt, K, 0.2)  # baseline 0.2 m: 8 px left of the box + 8 px band (z = 2 m)
    assert occl[BOX_ROWS, 32:40].all() and occl[:, 0:8].all() and occl.sum() == 20 * 8 + 60 * 8
    # a strongly slanted floor does not shadow or occlude itself
    v = np.mgrid[0:H, 0:W][0]
    floor = 1.0 / (0.02 + 0.3 * v / H)
    assert not C.projector_shadow(floor, K, T).any()
    assert not C.right_occlusion(floor, K, 0.05)[:, 10:].any()


def test_flying_pixels_and_hole_sizes(tmp_path):
    sample, expected = box_scene()
    disp = sample["sensor_disparity"].astype(np.float64)
    disp[BOX_ROWS, 55:57] = FX * B / 1.5  # wall pixels right of the box read 1.5 m: flying
    disp[BOX_ROWS, 53:55] = FX * B / 1.02  # box pixels off by 2 %: not flying
    fresh = make_sensor_sample(sample["__key__"], sample["depth_ir"], sample["material"], disp,
                               np.random.default_rng(0), ir=sample["ir_left"])
    write_sensor_dataset(tmp_path / "ds", [fresh])
    res = analyse_dataset(tmp_path / "ds", progress=False).result()
    assert res["flying_pixels"]["count"] == 40
    # components: left band + shadow/occlusion strip (8-connected, it touches nothing else),
    # glass, textureless, unexplained, far patch (z_max not set: its holes are still holes)
    hs = res["hole_sizes"]
    sizes = sorted([57 * 4, 20 * 4, 7 * 10, 8 * 12, 3 * 3, 6 * 6])
    assert hs["components"] == len(sizes)
    assert hs["largest_px"] == max(sizes)
    assert hs["median_px"] == np.median(sizes)


# ---------------------------------------------------------------- CLI and real captures


def write_real_frames(folder, samples, layout: str):
    """Real-capture folder from sensor samples (RGB-frame sensor depth, mm) in the given layout."""
    folder.mkdir(parents=True)
    for s in samples:
        name = s["__key__"]
        if layout == "flat":
            d, r = folder / f"{name}.png", folder / f"{name}_rgb.png"
        else:
            (folder / "depth").mkdir(exist_ok=True)
            (folder / "rgb").mkdir(exist_ok=True)
            d, r = folder / "depth" / f"{name}.png", folder / "rgb" / f"{name}.png"
        cv2.imwrite(str(d), s["sensor_depth"])
        cv2.imwrite(str(r), cv2.cvtColor(s["rgb"], cv2.COLOR_RGB2BGR))


@pytest.mark.parametrize("layout", ["flat", "subfolders"])
def test_cli_end_to_end_with_real(tmp_path, layout):
    samples = [box_scene(0.05)[0], box_scene(-0.05)[0]]
    samples[1]["__key__"] = "s000001-v000000"
    write_sensor_dataset(tmp_path / "ds", samples)
    write_real_frames(tmp_path / "real", samples, layout)
    (tmp_path / "real" / "notes.txt").write_text("not a frame")
    out = tmp_path / "rep"
    result = CliRunner().invoke(cli, ["realism", str(tmp_path / "ds"), "--out", str(out),
                                      "--real", str(tmp_path / "real"), "--examples", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "realism.json").read_text())
    for name in report["plots"]:
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 100, name
    assert {"hole_fraction_per_material.png", "error_vs_range.png", "hole_sizes.png",
            "example_frames.png"} <= set(report["plots"])
    md = (out / "report.md").read_text()
    assert "## Per material" in md and "example_frames.png" in md
    sim, real = report["gt_free"]["sim"], report["gt_free"]["real"]
    # the "real" frames are the simulated RGB-frame sensor depths: identical GT-free statistics
    assert real["frames"] == sim["frames"] == 2
    for key in ("hole_fraction", "hole_sizes", "holes_on_rgb_edges", "depth_histogram"):
        assert real[key] == sim[key], key
    assert 0 < real["holes_on_rgb_edges"]["all_pixels_near_edge"] < 1
    assert not list(out.glob(".*tmp"))


def test_bad_inputs_are_clear_errors(tmp_path, rng):
    from conftest import make_sample

    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["realism", *map(str, args), "--out", str(tmp_path / "rep")])

    raw = tmp_path / "raw"
    init_dataset(raw, "raw", {})
    with ShardWriter(raw, "raw-000000") as w:
        w.add(make_sample("s000000-v000000", rng))
    r = run(raw)
    assert r.exit_code != 0 and "python cli.py sgm --in" in r.output and str(raw) in r.output

    no_gt = tmp_path / "nogt"
    s = box_scene()[0]
    del s["depth_ir"]
    write_sensor_dataset(no_gt, [s], required=schema.SENSOR_FIELDS)
    r = run(no_gt)
    assert r.exit_code != 0 and "no GT depth" in r.output and "s000000-v000000" in r.output

    zero_gt = tmp_path / "zerogt"
    s = box_scene()[0]
    s["depth_ir"][:] = 0
    write_sensor_dataset(zero_gt, [s])
    r = run(zero_gt)
    assert r.exit_code != 0 and "no GT depth" in r.output

    r = runner.invoke(cli, ["realism", str(zero_gt), "--out", str(tmp_path / "rep"), "--bin-width", "0.001"])
    assert r.exit_code == 2 and "--bin-width" in r.output

    r = run(tmp_path / "missing")
    assert r.exit_code != 0 and "does not exist" in r.output

    good = tmp_path / "good"
    write_sensor_dataset(good, [box_scene()[0]])
    (tmp_path / "empty").mkdir()
    r = runner.invoke(cli, ["realism", str(good), "--out", str(tmp_path / "rep"), "--real", str(tmp_path / "empty")])
    assert r.exit_code != 0 and "no depth PNGs" in r.output
    bad = tmp_path / "bad"
    bad.mkdir()
    cv2.imwrite(str(bad / "f0.png"), np.zeros((8, 8), np.uint8))  # 8-bit: not a depth map
    r = runner.invoke(cli, ["realism", str(good), "--out", str(tmp_path / "rep"), "--real", str(bad)])
    assert r.exit_code != 0 and "no readable frames" in r.output and "uint16" in r.output
    assert not (tmp_path / "rep").exists()  # nothing written on bad input
