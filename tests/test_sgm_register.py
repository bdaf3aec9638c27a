"""Depth from disparity and registration of sensor depth into the RGB camera (sgm.register)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sgm.register import depth_to_units, disparity_to_depth, register_depth, sensor_fields

IR_HW, RGB_HW = (72, 96), (96, 128)
FX_IR, FX_RGB = 80.0, 80.0 * 4 / 3


def intrinsics(fx: float, hw: tuple[int, int]) -> np.ndarray:
    return np.array([[fx, 0, (hw[1] - 1) / 2], [0, fx, (hw[0] - 1) / 2], [0, 0, 1.0]])


def rgb_camera(offset_x: float) -> tuple[np.ndarray, np.ndarray]:
    """K_rgb and T_rgb_from_ir for an RGB camera `offset_x` m to the right of the IR camera."""
    T = np.eye(4)
    T[0, 3] = -offset_x
    return intrinsics(FX_RGB, RGB_HW), T


def plane_depth_ir(z0: float, slope_x: float) -> np.ndarray:
    """Planar depth Z = z0 + slope_x * X seen by the IR camera (m)."""
    u = np.arange(IR_HW[1]) - (IR_HW[1] - 1) / 2
    z = z0 / (1 - slope_x * u / FX_IR)
    return np.repeat(z[None, :], IR_HW[0], axis=0).astype(np.float32)


def plane_depth_rgb(z0: float, slope_x: float, offset_x: float) -> np.ndarray:
    """The same plane seen by the RGB camera at (offset_x, 0, 0)."""
    u = np.arange(RGB_HW[1]) - (RGB_HW[1] - 1) / 2
    z = (z0 + slope_x * offset_x) / (1 - slope_x * u / FX_RGB)
    return np.repeat(z[None, :], RGB_HW[0], axis=0)


def test_disparity_to_depth_and_millimetres():
    disp = np.array([[8.0, 0.0, 4.0, 1.0]], np.float32)
    z = disparity_to_depth(disp, fx=80.0, baseline_m=0.1, z_max_m=5.0)
    assert np.allclose(z, [[1.0, 0.0, 2.0, 0.0]])  # 8 m is beyond z_max -> hole
    mm = depth_to_units(np.array([[1.0, 0.0, 2.0004, 70.0]]))
    assert mm.dtype == np.uint16 and mm.tolist() == [[1000, 0, 2000, 0]]  # 70 m overflows -> hole
    with pytest.raises(ValueError, match="baseline_m"):
        disparity_to_depth(disp, fx=80.0, baseline_m=0.0)


@pytest.mark.parametrize("offset", [0.0, 0.03])
def test_registration_places_a_plane_correctly(offset):
    K_rgb, T = rgb_camera(offset)
    depth_ir = plane_depth_ir(1.0, 0.3)
    got = register_depth(depth_ir, intrinsics(FX_IR, IR_HW), K_rgb, T, RGB_HW)
    want = plane_depth_rgb(1.0, 0.3, offset)
    valid = got > 0
    # the IR view covers all of the RGB view except a strip the offset uncovers on the right
    uncovered = int(np.ceil(FX_RGB * offset / 1.0)) + 2
    assert valid[:, : RGB_HW[1] - uncovered].all()
    # facets carry their IR pixel's depth: error below the depth change across one IR pixel
    step = np.abs(np.diff(depth_ir, axis=1)).max()
    assert np.abs(got[valid] - want[valid]).max() < step


def test_registration_keeps_holes_and_does_not_cross_them():
    K_rgb, T = rgb_camera(0.03)
    depth_ir = plane_depth_ir(1.0, 0.0)
    depth_ir[30:40, 40:50] = 0  # a 10 x 10 px hole
    got = register_depth(depth_ir, intrinsics(FX_IR, IR_HW), K_rgb, T, RGB_HW)
    holes = got == 0
    labels, n = ndimage.label(holes)
    sizes = ndimage.sum(holes, labels, range(1, n + 1))
    hole_area = sorted(sizes)[-2:]  # the registered hole and the uncovered border strip
    expected = (10 * 4 / 3) ** 2
    assert any(abs(a - expected) < 0.25 * expected for a in hole_area)
    assert (sizes < 3).sum() == 0  # no cracks on the continuous surface


def test_registration_z_buffer_and_occlusion_holes():
    """A near card in front of a far wall: the RGB camera (3 cm to the right) sees, right of the
    card, wall that the card hid from the IR camera (a hole), and the card wins where both project."""
    K_rgb, T = rgb_camera(0.03)
    depth_ir = plane_depth_ir(2.0, 0.0)
    depth_ir[20:50, 30:50] = 0.5
    got = register_depth(depth_ir, intrinsics(FX_IR, IR_HW), K_rgb, T, RGB_HW)
    row = got[RGB_HW[0] // 2]
    card = np.nonzero(np.isclose(row, 0.5, atol=1e-3))[0]
    assert card.size > 20
    # right of the card: wall hidden from the IR camera -> a hole of f * t * (1/0.5 - 1/2) = 6 px
    gap = FX_RGB * 0.03 * (1 / 0.5 - 1 / 2.0)
    assert (row[card.max() + 1: card.max() + int(gap)] == 0).all()
    assert row[card.max() + int(gap) + 2] == pytest.approx(2.0, abs=1e-3)
    assert row[card.min() - 1] == pytest.approx(2.0, abs=1e-3)  # no hole on the other side


def test_sensor_fields_from_meta():
    meta = {"K_ir": intrinsics(FX_IR, IR_HW).tolist(), "baseline_m": 0.1,
            "K_rgb": intrinsics(FX_RGB, RGB_HW).tolist(), "T_rgb_from_ir": np.eye(4).tolist()}
    disp = np.full(IR_HW, 8.0, np.float32)
    disp[:, :5] = 0
    disp[0, 10] = 0.5  # 16 m: beyond z_max -> hole everywhere
    out = sensor_fields(disp, meta, RGB_HW, z_min_m=0.2, z_max_m=10.0)
    assert out["sensor_disparity"].dtype == np.float32 and out["sensor_disparity"][0, 10] == 0
    assert out["sensor_depth_ir"].dtype == np.uint16 and out["sensor_depth_ir"][5, 20] == 1000
    assert out["sensor_depth"].shape == RGB_HW and out["sensor_depth"].dtype == np.uint16
    assert set(np.unique(out["sensor_depth"])) <= {0, 1000}
    with pytest.raises(ValueError, match="T_rgb_from_ir"):
        register_depth(disp, meta["K_ir"], meta["K_rgb"], np.eye(3), RGB_HW)
