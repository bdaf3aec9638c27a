"""Pure-Python parts of the renderer: rig sampling, sensor noise, RGB response, plan, counts, lock."""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from synth import camera_response, noise
from synth.render import LockError, OutputLock, RenderInputError, Unit, parse_count, plan_units, views_per_scene
from synth.rig import RigRanges, sample_rig


def test_rig_ranges_and_intrinsics():
    rigs = [sample_rig(np.random.default_rng(i)) for i in range(200)]
    b = np.array([r.baseline_m for r in rigs])
    f = np.array([r.focal_mm for r in rigs])
    assert 0.05 <= b.min() and b.max() <= 0.20 and np.ptp(b) > 0.1
    assert 16 <= f.min() and f.max() <= 28
    for r in rigs[:20]:
        assert r.ir_size == (720, 960) and r.rgb_size == (960, 1280)
        assert r.K_ir[0, 0] == pytest.approx(960 * r.focal_mm / 36.0)
        assert r.K_ir[0, 2] == pytest.approx(479.5) and r.K_ir[1, 2] == pytest.approx(359.5)
        assert 427 <= r.K_ir[0, 0] <= 747
        R = r.T_rgb_from_ir[:3, :3]
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(r.T_ir_from_right[:3, 3], [r.baseline_m, 0, 0])
        px = r.projector.T_ir_from_proj[0, 3]
        assert 0.0 < px < r.baseline_m  # between the IR cameras
        # the pattern covers the IR field of view: tan(half-FOV) of projector > IR
        assert (r.projector.size[1] / 2) / r.projector.K[0, 0] > (960 / 2) / r.K_ir[0, 0]


def test_scale_scales_resolutions_and_intrinsics_consistently():
    full = sample_rig(np.random.default_rng(5))
    quarter = sample_rig(np.random.default_rng(5), RigRanges(scale=0.25))
    assert quarter.ir_size == (180, 240) and quarter.rgb_size == (240, 320)
    assert quarter.baseline_m == full.baseline_m and quarter.focal_mm == full.focal_mm
    assert quarter.K_ir[0, 0] == pytest.approx(full.K_ir[0, 0] / 4)
    z = np.array([[0.5, 2.0], [0.0, 4.0]])
    d = quarter.disparity_from_depth(z)
    assert d[1, 0] == 0 and d[0, 1] == pytest.approx(quarter.K_ir[0, 0] * quarter.baseline_m / 2.0, rel=1e-6)


def test_rig_deterministic_and_meta_json():
    a, b = sample_rig(np.random.default_rng(9)), sample_rig(np.random.default_rng(9))
    assert json.dumps(a.to_meta()) == json.dumps(b.to_meta())
    m = a.to_meta()
    for key in ("K_ir", "K_rgb", "T_rgb_from_ir", "baseline_m", "focal_mm", "projector"):
        assert key in m


@pytest.mark.parametrize("change, option", [
    ({"baseline_m": (0.2, 0.1)}, "baseline_m"), ({"baseline_m": (0.0, 0.1)}, "baseline_m"),
    ({"focal_mm": (-1.0, 5.0)}, "focal_mm"), ({"ir_size": (720, 20000)}, "ir_size"),
    ({"scale": 0.001}, "ir_size"), ({"rgb_size": (8, 8)}, "rgb_size"),
    ({"projector_fov_margin": (0.8, 1.0)}, "projector_fov_margin"),
])
def test_bad_ranges_name_the_option(change, option):
    with pytest.raises(ValueError, match=option):
        dataclasses.replace(RigRanges(), **change).validate()


def test_sensor_noise_statistics_and_quantisation():
    rng = np.random.default_rng(0)
    p = noise.SensorParams(bit_depth=10, full_well_e=10000.0, read_noise_e=5.0, black_level_dn=0.0,
                           ae_percentile=99.0, ae_target=0.5, max_exposure=1e9)
    flat = np.full((200, 200), 0.1)
    left, right, exposure = noise.sensor_pair(flat, flat, p, rng)
    assert left.dtype == np.uint16 and left.max() <= 1023
    assert exposure == pytest.approx(0.5 * 10000 / 0.1)
    gain = 1023 / 10000
    mean_e = 5000.0
    assert left.mean() == pytest.approx(mean_e * gain, rel=0.01)
    expected_std = np.sqrt(mean_e + 25) * gain  # shot + read noise, in DN
    assert left.std() == pytest.approx(np.sqrt(expected_std ** 2 + 1 / 12), rel=0.05)
    assert not np.array_equal(left, right)  # independent noise per camera
    p8 = dataclasses.replace(p, bit_depth=8)
    bright = noise.expose(np.full((10, 10), 1.0), 1e6, p8, rng)
    assert bright.dtype == np.uint8 and (bright == 255).all()  # saturation
    a = noise.sensor_pair(flat, flat, p, np.random.default_rng(4))[0]
    b = noise.sensor_pair(flat, flat, p, np.random.default_rng(4))[0]
    assert np.array_equal(a, b)


def test_auto_exposure_ignores_a_few_bright_pixels_and_blur_keeps_energy():
    """The AE set point is a clipped mean: a lamp, window or saturated dots on 0.5 % of the image
    barely move the exposure; a 99th-percentile AE would be driven by them."""
    rng = np.random.default_rng(2)
    p = noise.SensorParams(bit_depth=8, full_well_e=8000.0, read_noise_e=4.0, black_level_dn=0.0,
                           ae_percentile=99.0, ae_target=0.25, max_exposure=1e9, psf_sigma_px=0.5)
    scene = rng.uniform(0.05, 0.15, (120, 160))
    lamp = scene.copy()
    lamp[:6, :16] = 100.0  # 0.5 % of the pixels, 1000x brighter
    e_scene, e_lamp = noise.auto_exposure(scene, p), noise.auto_exposure(lamp, p)
    assert e_lamp > 0.95 * e_scene
    assert e_scene == pytest.approx(0.25 * 8000.0 / scene.mean(), rel=0.02)
    dark = noise.auto_exposure(np.full((10, 10), 1e-6), dataclasses.replace(p, max_exposure=5e4))
    assert dark == 5e4  # capped: a dark scene stays dark
    dot = np.zeros((21, 21))
    dot[10, 10] = 1.0
    blurred = noise.blur(dot, p.psf_sigma_px)
    assert blurred.sum() == pytest.approx(1.0, rel=1e-3) and 0.4 < blurred.max() < 0.8


def test_rgb_response():
    rng = np.random.default_rng(1)
    lin = rng.uniform(0.01, 0.3, (20, 30, 3))
    resp = camera_response.RgbResponse(exposure_ev=0.0, wb_gains=(1.0, 1.0, 1.0))
    img, gain = camera_response.develop(lin, resp)
    assert img.dtype == np.uint8 and img.shape == (20, 30, 3)
    img2, _ = camera_response.develop(lin * 7.0, resp)  # auto-exposure removes the global scale
    assert np.abs(img.astype(int) - img2).max() <= 1


def test_parse_count():
    assert parse_count("10M") == 10_000_000
    assert parse_count("250k") == 250_000
    assert parse_count("1,000") == 1000
    assert parse_count("1.5k") == 1500
    for bad in ("0", "-5", "abc", "1.5", "10X", ""):
        with pytest.raises(RenderInputError, match="--samples"):
            parse_count(bad)


def test_plan_is_deterministic_and_complete():
    units = plan_units(3, 10, 2)
    assert units == plan_units(3, 10, 2)
    assert views_per_scene(3, 10) == [4, 3, 3]
    assert [u.shard_index for u in units] == list(range(len(units)))
    assert units[0] == Unit(0, 0, 2, 0) and units[0].shard == "raw-000000.tar"
    keys = {(u.scene_id, v) for u in units for v in u.view_ids}
    assert len(keys) == 10 and sum(u.view_count for u in units) == 10
    big = plan_units(442, parse_count("10M"), 64)
    assert sum(u.view_count for u in big) == 10_000_000 and max(u.view_count for u in big) == 64
    with pytest.raises(RenderInputError):
        plan_units(0, 10, 2)


def test_output_lock(tmp_path):
    lock = OutputLock(tmp_path)
    lock.acquire()
    with pytest.raises(LockError, match="another render"):
        OutputLock(tmp_path).acquire()
    lock.release()
    # a lock of a dead process on this host is stale and replaced
    (tmp_path / ".render.lock").write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": os.uname().nodename}))
    with OutputLock(tmp_path):
        assert json.loads((tmp_path / ".render.lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".render.lock").exists()
