"""The census SGM matcher (`sgm.match`) on analytic random-dot scenes, Middlebury and bad input."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sgm
from sgm.aggregation import aggregate, penalty_map
from sgm.census import census_transform
from sgm.cost import census_cost_volume
from sgm.presets import PRESETS_FILE, SGMParams
from sgm.synthetic import StereoScene, render_pair, shifted_pair

ROOT = Path(__file__).resolve().parent.parent


def interior(disp: np.ndarray, left: int, margin: int = 8) -> np.ndarray:
    """disp without `margin` px borders and without the first `left` columns."""
    return disp[margin:-margin, left:-margin]


def test_integer_shift_is_recovered_exactly():
    left, right = shifted_pair(96, 64, 9.0, seed=1)
    disp = sgm.match(left, right, max_disparity=24)
    core = interior(disp, 9 + 8)
    assert (core > 0).all()
    assert np.abs(core - 9.0).max() < 1e-3


@pytest.mark.parametrize("shift", [7.25, 7.625])
def test_fractional_shift_within_a_tenth_of_a_pixel(shift):
    left, right = shifted_pair(96, 64, shift, seed=2)
    disp = sgm.match(left, right, max_disparity=24)
    core = interior(disp, 16)
    assert (core > 0).mean() > 0.99
    err = np.abs(core[core > 0] - shift)
    assert err.mean() < 0.1 and abs(float(core[core > 0].mean()) - shift) < 0.05


def test_slanted_plane_within_two_tenths_of_a_pixel():
    scene = StereoScene(width=160, height=120, fx=120.0, baseline_m=0.1, z0_m=1.0, slope_x=0.3, slope_y=0.1)
    pair = render_pair(scene, seed=4)
    disp = sgm.match(pair["left"], pair["right"], max_disparity=32)
    gt = pair["disparity"]
    scored = np.zeros(gt.shape, bool)
    scored[4:-4, 32:-4] = True
    valid = scored & (disp > 0)
    assert valid.sum() / scored.sum() > 0.98
    err = np.abs(disp - gt)[valid]
    assert err.mean() < 0.1 and np.percentile(err, 95) < 0.2


def _box_scene():
    scene = StereoScene(width=200, height=120, fx=120.0, baseline_m=0.1, z0_m=1.0,
                        box=(-0.15, 0.1, -0.12, 0.12), z_box_m=0.6)
    pair = render_pair(scene, seed=3)
    ys, xs = np.nonzero(pair["surface"] == 1)
    return pair, ys, xs


@pytest.mark.parametrize("lr_mode", ["winners", "volume"])
def test_occluding_box_leaves_lr_holes_on_its_occluded_side(lr_mode):
    pair, ys, xs = _box_scene()
    x_edge = xs.min()  # card's left edge; background 12 px, card 20 px: 8 px occluded strip
    rows = slice(ys.min() + 3, ys.max() - 3)
    strip = (rows, slice(x_edge - 8, x_edge))
    beside = (rows, slice(x_edge + 2, x_edge + 30))
    other_side = (rows, slice(xs.max() + 2, xs.max() + 30))
    only_lr = dict(uniqueness_pct=0, speckle_size=0, median=False, texture_count=0, lr_mode=lr_mode)
    with_lr = sgm.match(pair["left"], pair["right"], max_disparity=32, preset="d435", overrides=only_lr)
    without = sgm.match(pair["left"], pair["right"], max_disparity=32, preset="d435",
                        overrides=dict(only_lr, lr_tolerance_32=None))
    assert (with_lr[strip] == 0).mean() > 0.85
    assert (without[strip] == 0).mean() < 0.05
    for region in (beside, other_side):
        assert (with_lr[region] > 0).mean() > 0.98


def test_textureless_patch_is_a_hole_with_texture_test_only():
    scene = StereoScene(width=160, height=96, fx=120.0, baseline_m=0.1, z0_m=1.0,
                        textureless=(70, 100, 30, 60))
    pair = render_pair(scene, seed=5)
    patch = (slice(34, 56), slice(74, 96))
    knobs = dict(texture_diff=4, texture_count=10, speckle_size=0)
    on = sgm.match(pair["left"], pair["right"], max_disparity=32, overrides=knobs)
    off = sgm.match(pair["left"], pair["right"], max_disparity=32, overrides=dict(knobs, texture_count=0))
    assert (on[patch] == 0).mean() > 0.95
    assert (off[patch] > 0).mean() > 0.95
    assert np.median(np.abs(off[patch] - pair["disparity"][patch])) < 0.5  # filled by propagation
    textured = (slice(10, 86), slice(40, 60))
    assert (on[textured] > 0).mean() > 0.98


def test_backends_take_the_same_arguments_and_agree_on_a_textured_plane():
    scene = StereoScene(width=200, height=120, fx=150.0, baseline_m=0.1, z0_m=1.2, slope_x=0.2)
    pair = render_pair(scene, seed=6)
    args = dict(max_disparity=32, preset="generic")
    ours = sgm.match(pair["left"], pair["right"], backend="torch", **args)
    ref = sgm.match(pair["left"], pair["right"], backend="opencv", **args)
    scored = (slice(6, -6), slice(40, -6))
    agree = (ours[scored] > 0) & (ref[scored] > 0) & (np.abs(ours[scored] - ref[scored]) <= 1.0)
    assert agree.mean() > 0.95


def test_median_network_sorts_and_skips_holes():
    import itertools

    from sgm.filters import SORT9, median3_valid
    for bits in itertools.product([0, 1], repeat=9):  # 0-1 principle: sorts every input
        v = list(bits)
        for i, j in SORT9:
            v[i], v[j] = min(v[i], v[j]), max(v[i], v[j])
        assert v == sorted(bits)
    disp = torch.tensor([[1.0, 2.0, 9.0], [0.0, 3.0, 4.0], [0.0, 0.0, 5.0]])
    med = median3_valid(disp)
    assert med[1, 1] == 3.0  # median of the 6 valid values 1 2 9 3 4 5 (lower median)
    assert med[1, 0] == 0 and med[0, 0] == 2.0  # holes stay holes; corner: median of 1 2 3


def test_presets_load_validate_and_document_every_knob():
    table = json.loads(PRESETS_FILE.read_text())
    knobs = {f.name for f in dataclasses.fields(SGMParams)} - {"name"}
    assert knobs <= set(table["_knobs"]), knobs - set(table["_knobs"])
    assert set(sgm.preset_names()) == {"generic", "d435", "d415"}
    for name in sgm.preset_names():
        params = sgm.load_preset(name)
        assert params.subpixel_levels in (0, 32) and params.depth_unit_m == 0.001
    d435 = sgm.load_preset("d435")
    assert d435.subpixel_levels == 32 and d435.lr_tolerance_32 is not None and not d435.invalid_left_band


def test_d435_quantises_to_1_32_px_and_invalidates_the_left_band():
    scene = StereoScene(width=160, height=96, fx=120.0, baseline_m=0.1, z0_m=1.0, slope_x=0.2)
    pair = render_pair(scene, seed=8)
    disp = sgm.match(pair["left"], pair["right"], max_disparity=32, preset="d435")
    # D4xx invalid band: where the scene's own match leaves the right image (f*b/z px, 10-14 px
    # here), not the whole max_disparity-wide search window
    x = np.arange(disp.shape[1])[None, :]
    assert (disp[x < pair["disparity"]] == 0).mean() > 0.9
    assert (disp[:, 20:32] > 0).mean() > 0.8
    valid = disp[disp > 0]
    assert valid.size > 0.8 * disp[:, 32:].size
    assert np.allclose(valid * 32, np.round(valid * 32))


@pytest.mark.parametrize("window", [(9, 7), (9, 9), (5, 5)])
def test_census_cost_is_the_hamming_distance(window):
    rng = np.random.default_rng(0)
    left = torch.from_numpy(rng.integers(0, 255, (12, 30)).astype(np.float32))
    right = torch.roll(left, -3, 1)
    codes_l, codes_r = census_transform(left, window), census_transform(right, window)
    bits = window[0] * window[1] - 1
    cost = census_cost_volume(codes_l, codes_r, 8, bits).numpy()
    want = np.full(cost.shape, bits)
    for y in range(12):
        for x in range(30):
            for d in range(min(8, x + 1)):
                want[y, x, d] = sum(bin(int(codes_l[w, y, x]) ^ int(codes_r[w, y, x - d])).count("1")
                                    for w in range(codes_l.shape[0]))
    assert np.array_equal(cost, want)
    assert cost[:, 8:22, 3].max() == 0  # the true shift matches exactly (away from the roll seam)


def test_aggregation_matches_a_per_pixel_reference():
    """Vectorised 8-path aggregation against a direct per-pixel implementation of the recurrence."""
    rng = np.random.default_rng(0)
    cost = rng.integers(0, 63, (6, 8, 5)).astype(np.uint8)
    grey = rng.integers(0, 255, (6, 8)).astype(np.uint8)
    p1, p2, gamma = 10, 120, 15.0
    got = aggregate(torch.from_numpy(cost), torch.from_numpy(grey), p1, p2, gamma, 8).numpy()
    H, W, D = cost.shape
    want = np.zeros((H, W, D), np.int64)
    for dx, dy in [(-1, 0), (1, 0), (-1, -1), (0, -1), (1, -1), (-1, 1), (0, 1), (1, 1)]:
        p2map = penalty_map(torch.from_numpy(grey), (dx, dy), p1, p2, gamma).numpy().astype(np.int64) + p1
        L = np.zeros((H, W, D), np.int64)
        ys = range(H) if dy <= 0 else range(H - 1, -1, -1)
        xs = list(range(W)) if dx <= 0 else list(range(W - 1, -1, -1))
        for y in ys:
            for x in xs:
                py, px = y + dy, x + dx
                if not (0 <= py < H and 0 <= px < W):
                    L[y, x] = cost[y, x]
                    continue
                prev = L[py, px]
                padded = np.pad(prev, 1, constant_values=10 ** 9)
                best = np.minimum(np.minimum(prev, np.minimum(padded[:-2], padded[2:]) + p1),
                                  prev.min() + p2map[y, x])
                L[y, x] = cost[y, x] + best - prev.min()
        want += L
    assert np.array_equal(got, want)


def test_generic_beats_opencv_on_middlebury_cones():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from sgm_accuracy import MIDDLEBURY_DIR, evaluate_middlebury
    if not (MIDDLEBURY_DIR / "cones").is_dir():
        pytest.skip(f"Middlebury data not found in {MIDDLEBURY_DIR}")
    ours = evaluate_middlebury("cones", "torch", "generic")
    ref = evaluate_middlebury("cones", "reference")
    assert ours["bad2"] < ref["bad2"], (ours, ref)
    assert ours["density"] > 95.0


# ------------------------------------------------------------------ bad input

@pytest.fixture(scope="module")
def pair():
    return shifted_pair(64, 32, 4.0, seed=9)


def test_different_sizes_are_refused(pair):
    left, right = pair
    with pytest.raises(ValueError, match="differ in size"):
        sgm.match(left, right[:, :-2], max_disparity=16)


def test_colour_images_are_converted_with_a_warning(pair):
    left, right = pair
    colour = [np.repeat(im[..., None], 3, axis=2) for im in (left, right)]
    with pytest.warns(UserWarning, match="converted to grey"):
        got = sgm.match(colour[0], colour[1], max_disparity=16)
    assert np.array_equal(got, sgm.match(left, right, max_disparity=16))


def test_uint16_input_is_accepted(pair):
    left, right = (im.astype(np.uint16) * 257 for im in pair)
    disp = sgm.match(left, right, max_disparity=16)
    assert np.abs(interior(disp, 12, 6) - 4.0).max() < 1e-3


def test_10_bit_ir_in_uint16_keeps_8_bit_grey_level_thresholds():
    scene = StereoScene(width=160, height=96, fx=120.0, baseline_m=0.1, z0_m=1.0,
                        textureless=(70, 100, 30, 60))
    pair = render_pair(scene, seed=5)
    knobs = dict(texture_diff=4, texture_count=10)
    eight = sgm.match(pair["left"], pair["right"], max_disparity=32, preset="d435", overrides=knobs)
    ten = sgm.match(*(im.astype(np.uint16) * 4 for im in (pair["left"], pair["right"])),
                    max_disparity=32, preset="d435", overrides=knobs)
    assert abs((eight > 0).mean() - (ten > 0).mean()) < 0.01
    both = (eight > 0) & (ten > 0)
    assert np.mean(np.abs(eight[both] - ten[both]) < 0.1) > 0.99


@pytest.mark.parametrize("which", ["left", "right"])
def test_constant_images_are_refused(pair, which):
    images = dict(left=pair[0], right=pair[1])
    images[which] = np.full_like(pair[0], 77)
    with pytest.raises(ValueError, match=f"{which} image is constant"):
        sgm.match(images["left"], images["right"], max_disparity=16)


@pytest.mark.parametrize("max_disparity,message", [(64, "not below the image width"), (100, "not below"),
                                                   (1, ">= 2"), (8.5, "integer")])
def test_bad_disparity_ranges_are_refused(pair, max_disparity, message):
    with pytest.raises(ValueError, match=message):
        sgm.match(*pair, max_disparity=max_disparity)


def test_nan_negative_and_float_inputs_are_refused(pair):
    left, right = pair
    nan = left.astype(np.float32)
    nan[3, 3] = np.nan
    with pytest.raises(ValueError, match="left: image contains NaN"):
        sgm.match(nan, right, max_disparity=16)
    with pytest.raises(ValueError, match="right: image contains negative"):
        sgm.match(left, right.astype(np.int32) - 100, max_disparity=16)
    with pytest.raises(ValueError, match="expected uint8 or uint16"):
        sgm.match(left.astype(np.float32), right, max_disparity=16)
    with pytest.raises(ValueError, match="too small"):
        sgm.match(left[:8], right[:8], max_disparity=4)


def test_unknown_preset_backend_device_and_knob_are_refused(pair):
    with pytest.raises(ValueError, match="unknown SGM preset 'd999'.*generic"):
        sgm.match(*pair, max_disparity=16, preset="d999")
    with pytest.raises(ValueError, match="unknown SGM backend"):
        sgm.match(*pair, max_disparity=16, backend="cuda-magic")
    with pytest.raises(ValueError, match="device"):
        sgm.match(*pair, max_disparity=16, device="tpu")
    with pytest.raises(ValueError, match="unknown SGM knob"):
        sgm.match(*pair, max_disparity=16, overrides={"p3": 4})
    with pytest.raises(ValueError, match="p2"):
        sgm.match(*pair, max_disparity=16, overrides={"p2": 250})
