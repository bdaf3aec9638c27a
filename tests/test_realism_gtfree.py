"""GT-free statistics (realism/gtfree.py) on analytic frames whose answers are known by construction."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from cli import cli
from realism.gtfree import GtFreeParams, distance, frame_stats, plane_patches, summarise


def plane_depth(h=160, w=240, z0=1.0, tilt=0.2):
    """Depth of a tilted plane: 1/z affine in (u, v) (pinhole)."""
    v, u = np.mgrid[0:h, 0:w]
    return (1.0 / (1.0 / z0 + tilt * (u - w / 2) / w * 1.0 / z0 + 0.05 * (v - h / 2) / h)).astype(np.float32)


def test_hole_sizes_and_fractions_known():
    depth = np.full((100, 120), 1.5, np.float32)
    sizes = {1: (5, 5), 2: (20, 20), 3: (40, 40), 5: (70, 70)}  # side -> top-left corner
    for side, (y, x) in sizes.items():
        depth[y:y + side, x:x + side] = 0
    st = frame_stats(depth, None, GtFreeParams(work_side=1000))
    assert sorted(st.areas_px.tolist()) == [1, 4, 9, 25]
    assert st.hole_fraction == 39 / depth.size
    s = summarise([st, frame_stats(np.full((100, 120), 2.0, np.float32), None)])
    assert s["hole_fraction_per_frame"]["values"] == [39 / 12000, 0.0]
    assert s["hole_components"]["count"] == 4
    assert s["hole_components"]["per_100k_px_mean"] == (4 / 12000 * 1e5 + 0) / 2
    # hole-pixel weighted: the 25-px component holds most hole pixels
    assert abs(s["hole_components"]["pixel_weighted_median_area_fraction"] - 25 / 12000) < 1e-3


def test_plane_noise_recovered():
    rng = np.random.default_rng(0)
    clean = plane_depth()
    sigma = 0.002
    noisy = clean + rng.normal(0, sigma, clean.shape).astype(np.float32)
    p = GtFreeParams(work_side=1000)
    z, s = plane_patches(noisy, p, np.random.default_rng(1))
    assert len(z) >= 0.9 * (160 // 16) * (240 // 16)  # every patch is planar
    assert abs(np.median(s) / sigma - 1) < 0.15
    summary = summarise([frame_stats(noisy, None, p)], p)
    k = summary["depth_noise"]["k_per_m"]
    assert abs(k / np.median(sigma / z ** 2) - 1) < 0.05
    # twice the noise: the depth-noise term is ln 2
    twice = summarise([frame_stats(clean + rng.normal(0, 2 * sigma, clean.shape).astype(np.float32), None, p)], p)
    assert abs(distance(twice, summary)["terms"]["depth_noise"] - np.log(2)) < 0.15
    # a bumpy (non-planar) surface yields no planar patch
    v, u = np.mgrid[0:160, 0:240]
    bumpy = (1.0 + 0.05 * np.sin(u / 2.0) * np.sin(v / 2.0)).astype(np.float32)
    assert len(plane_patches(bumpy, p, np.random.default_rng(1))[0]) == 0


def test_flying_pixels_edge_and_dark_enrichment():
    p = GtFreeParams(work_side=1000)
    depth = np.full((60, 80), 1.0, np.float32)
    depth[:, 40:] = 2.0
    depth[:, 40] = 1.5  # one column floating between the two sides
    st = frame_stats(depth, None, p)
    assert st.flying == 60  # the floating column, every row (found along the rows)
    slanted = np.tile(np.linspace(1.0, 3.0, 80, dtype=np.float32), (60, 1))
    assert frame_stats(slanted, None, p).flying == 0
    # holes on the RGB edge: enrichment > 1; holes next to dark pixels: enrichment > 1
    rgb = np.full((60, 80, 3), 128, np.uint8)
    rgb[:, 40:] = 230
    rgb[5:15, 5:15] = 5  # dark square
    d = np.full((60, 80), 1.0, np.float32)
    d[:, 39:41] = 0
    d[8:12, 8:12] = 0
    s = summarise([frame_stats(d, rgb, p)], p)
    assert s["edge_enrichment"] > 3
    assert s["holes_next_to_dark"]["enrichment"] > 1.5
    assert s["holes_next_to_saturated"]["enrichment"] is None  # no saturated pixel
    assert distance(s, s)["total"] == 0.0


def test_realism_reads_per_frame_folders(tmp_path):
    from test_realism import box_scene, write_sensor_dataset

    samples = [box_scene(0.05)[0], box_scene(-0.05)[0]]
    samples[1]["__key__"] = "s000001-v000000"
    write_sensor_dataset(tmp_path / "ds", samples)
    real = tmp_path / "real"
    for s in samples:
        f = real / s["__key__"]
        f.mkdir(parents=True)
        cv2.imwrite(str(f / "raw_depth.png"), s["sensor_depth"])
        cv2.imwrite(str(f / "rgb.png"), cv2.cvtColor(s["rgb"], cv2.COLOR_RGB2BGR))
        gt_mm = np.round(np.nan_to_num(s["depth_rgb"]) * 1000).astype(np.uint16)
        cv2.imwrite(str(f / "gt_depth_opaque_8frame_mean.png"), gt_mm)  # GT: hole borders are measured too
    (real / "index.json").write_text(json.dumps({s["__key__"]: {"sensor": "test cam"} for s in samples}))
    out = tmp_path / "rep"
    r = CliRunner().invoke(cli, ["realism", str(tmp_path / "ds"), "--out", str(out), "--real", str(real),
                                 "--real-frames", "s00000*", "--examples", "1"])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "realism.json").read_text())
    sim, re = rep["gt_free"]["sim"], rep["gt_free"]["real"]
    assert re["frames"] == 2 and re["statistics"]["frames"] == 2
    assert sim["statistics"]["hole_fraction"] == re["statistics"]["hole_fraction"]
    assert rep["gt_free"]["distance"]["total"] < 1e-9  # the same frames: distance 0
    assert "Distance sim -> real" in (out / "report.md").read_text()
    sb, rb = rep["hole_borders"]["sim"], re["hole_borders"]  # the same frames against the same GT
    assert sb["frames"] == rb["frames"] == 2 and sb["pixels"] == rb["pixels"]
    assert sb["wrong_share_near"] == pytest.approx(rb["wrong_share_near"], abs=0.01)
    assert "Measured depth next to holes" in (out / "report.md").read_text()
