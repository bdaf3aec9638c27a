"""Real Cycles renders of analytic scenes at tiny resolution: GT depth/disparity, stereo consistency,
pattern in IR only, projector shadows, glass GT, determinism."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from synth import quality
from synth.blender import test_scenes
from synth.blender.render_view import ViewRenderer
from synth.rig import RigRanges

DIST = 2.0
SEED = 11


def render(kind: str, scale: float, tmp_path, view_id: int = 0, seed: int = SEED, ir_samples: int = 4,
           ir_ambient: float = 0.1, preset: str = "default"):
    """``default`` = antialiased renders + separate GT renders; ``preview`` = GT from point-sampled renders."""
    built = test_scenes.build_test_scene(kind, DIST, ir_ambient=ir_ambient)
    q = quality.with_samples(quality.get(preset), rgb=2, ir=ir_samples)
    vr = ViewRenderer(built, q, RigRanges(scale=scale), str(tmp_path), threads=2, ir_bit_depth=10)
    sample, _ = vr.render_sample(seed, 0, view_id, np.eye(4))
    return sample


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gt")
    return {
        "plane": render("plane", 0.25, tmp),
        "plane_again": render("plane", 0.25, tmp),
        "box": render("plane_box", 0.5, tmp, view_id=3, ir_samples=16, ir_ambient=0.02),
        "mirror": render("mirror", 0.5, tmp, view_id=1, ir_samples=8),
        "glass": render("glass", 0.25, tmp, view_id=2, preset="preview"),
    }


def test_plane_depth_and_disparity_exact(samples):
    s = samples["plane"]
    m = s["meta"]
    assert s["depth_ir"].shape == (180, 240)
    np.testing.assert_allclose(s["depth_ir"], DIST, atol=1e-5)
    fx, b = m["K_ir"][0][0], m["baseline_m"]
    assert abs(fx - 240 * m["focal_mm"] / 36.0) < 1e-9
    np.testing.assert_allclose(s["disparity"], fx * b / DIST, atol=1e-3)
    assert (s["material"] == 1).all() and (s["instance"] == 1).all()


def test_rgb_depth_is_planar_z_at_pixel_centres(samples):
    """The RGB camera is rotated/translated w.r.t. the wall: its planar z varies over the image and
    must equal the analytic ray/plane intersection through each pixel centre (OpenCV convention)."""
    s = samples["plane"]
    m = s["meta"]
    K = np.array(m["K_rgb"])
    T_ir_from_rgb = np.linalg.inv(np.array(m["T_rgb_from_ir"]))
    h, w = s["depth_rgb"].shape
    v, u = np.mgrid[0:h, 0:w].astype(float)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)  # z = 1
    r_ir = rays @ T_ir_from_rgb[:3, :3].T
    t = T_ir_from_rgb[:3, 3]
    z_rgb = (DIST - t[2]) / r_ir[..., 2]  # scale along the ray with z_rgb = 1 -> planar z in RGB frame
    assert np.ptp(z_rgb) > 1e-3  # the test is not trivial
    np.testing.assert_allclose(s["depth_rgb"], z_rgb, atol=2e-4)


def _warp_right_to_left(right: np.ndarray, disparity: np.ndarray) -> np.ndarray:
    h, w = disparity.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(right.astype(np.float32), u - disparity, v, cv2.INTER_LINEAR, borderValue=np.nan)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_warp_matches_on_lambertian_not_on_mirror(samples):
    s = samples["mirror"]
    left = s["ir_left"].astype(np.float32)
    warped = _warp_right_to_left(s["ir_right"], s["disparity"])
    valid = np.isfinite(warped)
    valid[:, :4] = valid[:, -4:] = False
    lamb = valid & (s["material"] == 1) & (s["depth_ir"] > 0)
    mirror = valid & (s["material"] == 5)
    lamb = cv2.erode(lamb.astype(np.uint8), np.ones((5, 5))).astype(bool)
    mirror = cv2.erode(mirror.astype(np.uint8), np.ones((5, 5))).astype(bool)
    assert lamb.sum() > 2000 and mirror.sum() > 2000
    ncc_lamb, ncc_mirror = _ncc(left[lamb], warped[lamb]), _ncc(left[mirror], warped[mirror])
    assert ncc_lamb > 0.6, ncc_lamb
    assert ncc_mirror < 0.3, ncc_mirror
    # and the unwarped right image does not match the left (the test has teeth)
    assert _ncc(left[lamb], s["ir_right"].astype(np.float32)[lamb]) < 0.3


def test_pattern_in_ir_not_in_rgb(samples):
    s = samples["plane"]

    def dottiness(img: np.ndarray) -> float:
        img = img.astype(np.float32)
        if img.ndim == 3:
            img = img.mean(axis=2)
        img = cv2.resize(img, (240, 180), interpolation=cv2.INTER_AREA)
        hp = img - cv2.GaussianBlur(img, (0, 0), 2.0)
        return float(np.std(hp) / (img.mean() + 1e-6))

    assert dottiness(s["ir_left"]) > 0.3
    assert dottiness(s["rgb"]) < 0.05
    assert dottiness(s["ir_left"]) > 10 * dottiness(s["rgb"])


def test_projector_shadow_is_dark_in_ir(samples):
    """Wall pixels whose line of sight to the projector is blocked by the box are dark in IR."""
    s = samples["box"]
    m = s["meta"]
    K = np.array(m["K_ir"])
    proj = np.array(m["projector"]["T_ir_from_projector"])[:3, 3]
    depth = s["depth_ir"]
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(float)
    pts = np.stack([(u - K[0, 2]) / K[0, 0] * depth, (v - K[1, 2]) / K[1, 1] * depth, depth], -1)
    lo = np.array([-0.25 * DIST - 0.15, -0.15, DIST / 2 - 0.15])
    hi = np.array([-0.25 * DIST + 0.15, 0.15, DIST / 2 + 0.15])
    # slab test of the segment projector -> wall point against the box
    dirs = pts - proj
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - proj) / dirs, (hi - proj) / dirs
    tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
    tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
    wall = (s["instance"] == 1) & (np.abs(depth - DIST) < 1e-3)
    shadow = wall & (tmax >= np.maximum(tmin, 0)) & (tmin < 1)
    lit = wall & ~shadow
    k = np.ones((5, 5), np.uint8)
    shadow_in = cv2.erode(shadow.astype(np.uint8), k).astype(bool)
    near = cv2.dilate(shadow.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    lit_near = cv2.erode(lit.astype(np.uint8), k).astype(bool) & near
    assert shadow_in.sum() > 100 and lit_near.sum() > 100
    ir = s["ir_left"].astype(np.float32)  # the scene's IR ambient is 2 % of its RGB light
    # darker overall (ambient and light bounced off the box remain) and without dots
    assert ir[shadow_in].mean() < 0.6 * ir[lit_near].mean(), (ir[shadow_in].mean(), ir[lit_near].mean())
    dots = np.maximum(ir - cv2.medianBlur(ir, 5), 0)  # brightness above the local median
    assert dots[shadow_in].mean() < 0.25 * dots[lit_near].mean(), (dots[shadow_in].mean(), dots[lit_near].mean())


def test_glass_gt_is_the_glass_surface(samples):
    s = samples["glass"]
    glass = s["material"] == 6
    assert 0.3 < glass.mean() < 0.7
    np.testing.assert_allclose(s["depth_ir"][glass], DIST / 2 - 0.003, atol=1e-4)
    np.testing.assert_allclose(s["depth_ir"][~glass], DIST, atol=1e-4)
    # dots reach the wall behind the pane (light passes thin glass), so the IR there is not black
    ir = s["ir_left"].astype(np.float32)
    assert ir[glass].mean() > 0.2 * ir[~glass].mean()


def test_same_seed_same_sample(samples):
    a, b = samples["plane"], samples["plane_again"]
    assert a["meta"] == b["meta"]
    for name in a:
        if name not in ("meta", "__key__"):
            assert np.array_equal(a[name], b[name]), name
    assert samples["plane"]["meta"]["render"]["cycles_seeds"] != samples["glass"]["meta"]["render"]["cycles_seeds"]
