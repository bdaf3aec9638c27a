"""Real-capture evaluation: the frame-folder loader and its bad inputs, the two GT-free protocols (hidden
blocks, transplanted holes), the GT protocols (sensor holes / transparent mask vs a GT file), `eval --real`
end to end, and the untrained model = its guided prior."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import cli
from lbd.errors import UserError
from lbd.real_frames import RealFrameError, load_frame, load_real_frames
from mdm.baselines import guided_fill, harmonic_fill
from mdm.checkpoint import save_checkpoint
from mdm.evaluate import model_predict
from mdm.model import build_model, model_config
from mdm.real_eval import (
    BLOCK_AREA,
    GT_NAME,
    MASK_NAME,
    evaluate_real,
    hidden_blocks,
    hole_components,
    transplant_holes,
)
from mdm.synthetic import render_scene

K_TEXT = "50 0 32\n0 50 24\n0 0 1\n"


def write_frame(root, name, rng_seed=0, hw=(48, 64), rgb_hw=None, depth=None, rgb_ext=".png", intrinsics=True):
    """A frame folder from the analytic fixture scene (uint16 mm depth with real-looking holes)."""
    scene = render_scene(hw, np.random.default_rng(rng_seed))
    d = root / name
    d.mkdir(parents=True)
    rgb = scene["rgb"] if rgb_hw is None else cv2.resize(scene["rgb"], rgb_hw[::-1])
    cv2.imwrite(str(d / f"rgb{rgb_ext}"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(d / "raw_depth.png"), scene["sensor"] if depth is None else depth)
    if intrinsics:
        (d / "intrinsics.txt").write_text(K_TEXT)
    return d, scene


def test_loader_reads_folder_with_index(tmp_path):
    _, scene = write_frame(tmp_path, "b_0", 1)
    write_frame(tmp_path, "a_0", 2, rgb_ext=".jpg")
    (tmp_path / "index.json").write_text(json.dumps({"b_0": {"sensor": "Intel RealSense D435 (x)",
                                                             "sensor_type": "active_stereo",
                                                             "registered_to_rgb": True}}))
    frames = load_real_frames(tmp_path)
    assert [f.name for f in frames] == ["a_0", "b_0"]
    a, b = frames
    assert a.sensor_type == "unknown" and b.sensor_type == "active_stereo" and b.sensor == "Intel RealSense D435"
    assert b.rgb.shape == (48, 64, 3) and b.rgb.dtype == np.uint8 and b.depth.dtype == np.float32
    assert np.allclose(b.depth, scene["sensor"] / 1000.0) and np.allclose(b.K, np.loadtxt(tmp_path / "b_0/intrinsics.txt"))
    assert b.notes == [] and (b.depth == 0).any()
    # a single frame folder works too
    assert [f.name for f in load_real_frames(tmp_path / "b_0")] == ["b_0"]


def test_loader_bad_inputs_name_the_frame(tmp_path):
    # missing intrinsics: an error naming the frame, unless index.json has K (a noted conversion)
    d, _ = write_frame(tmp_path / "noK", "f_0", intrinsics=False)
    with pytest.raises(RealFrameError, match=r"frame f_0: .*intrinsics.txt does not exist"):
        load_real_frames(tmp_path / "noK")
    (tmp_path / "noK" / "index.json").write_text(json.dumps({"f_0": {"K": [[50, 0, 32], [0, 50, 24], [0, 0, 1]]}}))
    f = load_real_frames(tmp_path / "noK")[0]
    assert f.K[0, 0] == 50 and "K from index.json" in f.notes[0]
    assert load_frame(d, require_intrinsics=False, entry={}).K is None

    # other units: TUM's 5000 per metre with --depth-scale 0.0002 = the same metres; metres in uint16 refused
    scene = render_scene((48, 64), np.random.default_rng(0))
    tum = np.round(scene["sensor"].astype(np.float64) * 5).astype(np.uint16)
    write_frame(tmp_path / "tum", "t_0", depth=tum)
    assert np.allclose(load_real_frames(tmp_path / "tum", 0.0002)[0].depth, scene["sensor"] / 1000.0, atol=1e-6)
    write_frame(tmp_path / "m", "m_0", depth=np.round(scene["sensor"] / 1000.0).astype(np.uint16))
    with pytest.raises(RealFrameError, match=r"frame m_0: median depth .* wrong units\? pass --depth-scale"):
        load_real_frames(tmp_path / "m")

    # RGB of another size: registered, resized to the depth grid with a note; another aspect ratio refused
    write_frame(tmp_path / "big", "p_0", rgb_hw=(96, 128))
    f = load_real_frames(tmp_path / "big")[0]
    assert f.rgb.shape == (48, 64, 3) and f.notes == ["RGB 128x96 resized to the depth grid 64x48"]
    write_frame(tmp_path / "aspect", "q_0", rgb_hw=(48, 48))
    with pytest.raises(RealFrameError, match=r"frame q_0: RGB rgb.png is 48x48 and depth 64x48"):
        load_real_frames(tmp_path / "aspect")

    # all-zero depth, 8-bit and colour depth PNGs, no depth file
    write_frame(tmp_path / "zero", "z_0", depth=np.zeros((48, 64), np.uint16))
    with pytest.raises(RealFrameError, match=r"frame z_0: .*no valid pixel"):
        load_real_frames(tmp_path / "zero")
    write_frame(tmp_path / "u8", "u_0", depth=np.full((48, 64), 200, np.uint8))
    with pytest.raises(RealFrameError, match=r"frame u_0: depth .*raw_depth.png is 8-bit"):
        load_real_frames(tmp_path / "u8")
    write_frame(tmp_path / "col", "c_0", depth=np.full((48, 64, 3), 2000, np.uint16))
    with pytest.raises(RealFrameError, match=r"frame c_0: depth .* has 3 channels"):
        load_real_frames(tmp_path / "col")
    d, _ = write_frame(tmp_path / "nodepth", "n_0")
    (d / "raw_depth.png").rename(d / "depth_8bit.png")
    with pytest.raises(RealFrameError, match=r"frame n_0: .*raw_depth.png does not exist \(found depth_8bit.png"):
        load_real_frames(tmp_path / "nodepth")


def test_hidden_blocks_count_shape_and_validity():
    valid = np.ones((120, 160), bool)
    mask, boxes = hidden_blocks(valid, np.random.default_rng(0))
    assert len(boxes) == 12
    union = np.zeros_like(valid)
    for y, x, h, w in boxes:
        assert not union[y:y + h, x:x + w].any()  # no overlap
        assert 0.5 * BLOCK_AREA[0] <= h * w / valid.size <= 1.5 * BLOCK_AREA[1]
        union[y:y + h, x:x + w] = True
    assert np.array_equal(mask, union) and mask.sum() == sum(h * w for _, _, h, w in boxes)
    # left half without depth: every block is at least half valid, and only valid pixels are hidden
    valid[:, :80] = False
    mask, boxes = hidden_blocks(valid, np.random.default_rng(1))
    assert len(boxes) == 12 and not (mask & ~valid).any()
    assert all(valid[y:y + h, x:x + w].mean() >= 0.5 for y, x, h, w in boxes)
    again, _ = hidden_blocks(valid, np.random.default_rng(1))
    assert np.array_equal(mask, again)  # seeded


def test_transplanted_holes_keep_donor_shapes():
    donor_valid = np.ones((60, 80), bool)
    donor_valid[10:20, 10:14] = False  # an L-shaped hole of 10*4 + 4*6 = 64 px
    donor_valid[16:20, 14:20] = False
    donor_valid[0:5, 0:80] = False  # touches the border: not a donor component
    donor_valid[40, 40] = False  # a 1-px speckle: below the minimum area
    comps = hole_components(donor_valid)
    assert len(comps) == 1 and comps[0].sum() == 64 and comps[0].shape == (10, 10)
    valid = np.ones((60, 80), bool)  # same size: shapes pasted 1:1
    valid[:, 70:] = False
    mask, placed = transplant_holes(valid, [("donor", (60, 80), comps)], np.random.default_rng(0), n=5)
    assert len(placed) == 5 and all(p["pixels"] == 64 and p["donor"] == "donor" for p in placed)
    assert not (mask & ~valid).any() and mask.sum() >= 0.9 * 5 * 64
    # a donor twice the size is scaled down by 2 (area / 4)
    mask, placed = transplant_holes(np.ones((30, 40), bool), [("d", (60, 80), comps)], np.random.default_rng(0), n=3)
    assert len(placed) == 3 and all(p["h"] == 5 and p["w"] == 5 for p in placed)
    assert transplant_holes(valid, [], np.random.default_rng(0))[1] == []


def tiny_model(**overrides):
    """Untrained tiny model; far-island filter off unless ``overrides`` turn it on (so it is exactly its fill)."""
    torch.manual_seed(0)
    return build_model(model_config("tiny", tokens=12, **({"islands": 0.0} | overrides)), seed=0).eval()


def test_untrained_model_is_its_guided_prior():
    scene = render_scene((60, 80), np.random.default_rng(5))
    depth = scene["sensor"].astype(np.float32) / 1000.0
    depth[20:40, 30:60] = 0  # a held-out block
    pred = model_predict(tiny_model(), scene["rgb"], depth, "cpu")
    ref = guided_fill(depth, scene["rgb"])
    held = depth <= 0
    assert held.sum() > 600
    assert np.abs(pred[held] / ref[held] - 1).max() < 1e-6
    assert np.abs(pred[held] / harmonic_fill(depth)[held] - 1).max() > 1e-3  # the colour guide matters here
    assert np.abs(pred[~held] / depth[~held] - 1).max() < 1e-6  # measured pixels pass through
    # a checkpoint written before the guided fill (no "smooth" in its config) is its harmonic prior
    from mdm.model import MDMConfig
    legacy = model_config("tiny", tokens=12).to_dict()
    del legacy["smooth"], legacy["islands"]
    legacy_model = build_model(MDMConfig.from_dict(legacy | {"gate": "linear"}), seed=0).eval()
    ref = harmonic_fill(depth)
    assert np.abs(model_predict(legacy_model, scene["rgb"], depth, "cpu")[held] / ref[held] - 1).max() < 1e-6
    # far-island filter: a small patch measured too far inside the block is left out of the prior
    island = depth.copy()
    island[27:32, 42:47] = depth.max() * 1.5  # 25 px < 1 % of the 60x80 frame, farther than anything
    ref = guided_fill(np.where(island == depth, depth, 0).astype(np.float32), scene["rgb"])
    held = island <= 0
    pred = model_predict(tiny_model(islands=0.01), scene["rgb"], island, "cpu")
    assert np.abs(pred[held] / ref[held] - 1).max() < 1e-6
    plain = model_predict(tiny_model(), scene["rgb"], island, "cpu")
    assert np.abs(plain[held] / ref[held] - 1).max() > 0.05  # without the filter the island spreads
    assert model_config("tiny").islands > 0  # on by default for new models
    # the gate and residual are not stuck at their zero start: the head output conv gets a gradient
    model = tiny_model().train()
    rgb = torch.from_numpy(scene["rgb"][:56, :70]).permute(2, 0, 1)[None].float() / 255
    out = model(rgb, torch.from_numpy(depth[:56, :70])[None])
    (out - torch.from_numpy(scene["depth"][:56, :70])[None]).abs().mean().backward()
    grad = model.decoder.head.out_conv.weight.grad
    assert grad[0].abs().sum() > 0 and grad[1].abs().sum() > 0


def test_eval_real_end_to_end(tmp_path):
    root = tmp_path / "real"
    for i in range(3):
        write_frame(root, f"f_{i}", 10 + i, hw=(60, 80))
    (root / "index.json").write_text(json.dumps({f"f_{i}": {"sensor_type": t} for i, t in
                                                 enumerate(["active_stereo", "active_stereo", "tof"])}))
    res = evaluate_real({"model": tiny_model()}, root, tmp_path / "out", images=2, progress=False)
    assert set(res["protocols"]) == {"real_blocks", "real_holes"}
    for proto in ("real_blocks", "real_holes"):
        assert res["counts"][proto] == {"overall": 3, "active_stereo": 2, "tof": 1}
        assert set(res["by_sensor_type"][proto]) == {"active_stereo", "tof"}
        overall = res["protocols"][proto]
        assert set(overall) == {"model", "nearest", "ip_basic", "inpaint", "harmonic", "guided"}
        assert abs(overall["model"]["rmse"] / overall["guided"]["rmse"] - 1) < 1e-5  # untrained = its prior
        for info in res["frame_info"].values():
            assert info["hidden"][proto]["pixels"] > 0
    assert res["frame_info"]["f_0"]["hidden"]["real_blocks"]["pieces"] == 12
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["protocols"].keys() == res["protocols"].keys()
    md = (tmp_path / "out" / "metrics.md").read_text()
    assert "## real_blocks" in md and "| tof | 1 |" in md and "| overall | 3 |" in md
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == [
        "real_blocks_f_0.png", "real_blocks_f_2.png", "real_holes_f_0.png", "real_holes_f_2.png"]  # both types


def write_gt_frame(root, name, rng_seed=0):
    """A frame with a GT file (the scene's true depth in mm, with a GT hole over part of the sensor holes)
    and a transparent mask (a rectangle partly on valid sensor depth); returns (raw mm, GT mm, mask)."""
    d, scene = write_frame(root, name, rng_seed, hw=(48, 64))
    gt = np.clip(np.round(scene["depth"] * 1000.0), 0, 65535).astype(np.uint16)
    gt[:, :8] = 0  # no GT there
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 20:44] = 255
    cv2.imwrite(str(d / GT_NAME), gt)
    cv2.imwrite(str(d / MASK_NAME), mask)
    return scene["sensor"], gt, mask > 0


def test_eval_real_gt_protocols(tmp_path):
    root = tmp_path / "real"
    raw, gt, mask = write_gt_frame(root, "g_0", 3)
    write_frame(root, "n_0", 4, hw=(48, 64))  # no GT: not part of the GT protocols
    scored = {"real_gt": (raw == 0) & (gt > 0), "real_gt_transparent": mask & (gt > 0)}
    assert scored["real_gt"].sum() > 20 and (mask & (raw > 0)).any() and (mask & (raw == 0) & (gt > 0)).any()
    inputs = []

    def oracle(rgb, depth):  # GT exactly (where it is valid)
        inputs.append(depth.copy())
        return gt.astype(np.float32) / 1000.0

    protos = ("real_gt", "real_gt_transparent")
    res = evaluate_real({"oracle": oracle, "const": lambda rgb, depth: np.full(depth.shape, 1.5, np.float32)},
                        root, tmp_path / "out", images=1, progress=False, protocols=protos)
    # inputs: the raw depth unchanged, then the raw depth without the mask's pixels
    assert len(inputs) == 2 and np.array_equal(inputs[0], raw / np.float32(1000.0))
    assert np.array_equal(inputs[1], np.where(mask, 0, raw) / np.float32(1000.0))
    for proto in protos:
        assert list(res["frames"][proto]) == ["g_0"] and res["counts"][proto] == {"overall": 1, "unknown": 1}
        assert res["frame_info"]["g_0"]["hidden"][proto]["pixels"] == scored[proto].sum()
        ms = res["protocols"][proto]
        assert ms["oracle"]["rmse"] < 1e-6 and ms["oracle"]["delta1"] == 1.0
        target = gt[scored[proto]] / 1000.0
        assert ms["const"]["rmse"] == pytest.approx(np.sqrt(np.mean((1.5 - target) ** 2)), rel=1e-6)
        assert ms["const"]["mae"] == pytest.approx(np.mean(np.abs(1.5 - target)), rel=1e-6)
        assert res["wins"][proto]["oracle"]["harmonic"] == 1 and res["wins"][proto]["const"]["oracle"] == 0
    assert res["frame_info"]["n_0"]["gt"] is None and res["frame_info"]["n_0"]["hidden"] == {}
    assert res["skipped"] == {}
    md = (tmp_path / "out" / "metrics.md").read_text()
    assert "## real_gt\n" in md and "## real_gt_transparent" in md and "| overall | 1 |" in md and "nan" not in md
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == [
        "real_gt_g_0.png", "real_gt_transparent_g_0.png"]  # the first frame *with* GT

    # downscaled (longer side 32): GT and mask picked like the depth (nearest), so the oracle still scores 0
    small = lambda a: cv2.resize(a, (32, 24), interpolation=cv2.INTER_NEAREST_EXACT)  # noqa: E731
    res = evaluate_real({"oracle": lambda rgb, depth: small(gt).astype(np.float32) / 1000.0}, root,
                        tmp_path / "out_small", images=0, progress=False, protocols=("real_gt",), max_side=32)
    assert res["protocols"]["real_gt"]["oracle"]["rmse"] < 1e-6
    assert res["frame_info"]["g_0"]["hidden"]["real_gt"]["pixels"] == ((small(raw) == 0) & (small(gt) > 0)).sum()

    # a GT of the wrong shape or dtype: one line naming the file
    cv2.imwrite(str(root / "g_0" / GT_NAME), gt[:, :60])
    with pytest.raises(UserError, match=rf"frame g_0: ground truth .*{GT_NAME} is 60x48 but raw_depth.png is 64x48"):
        evaluate_real({}, root, tmp_path / "bad", images=0, progress=False, protocols=protos)
    cv2.imwrite(str(root / "g_0" / GT_NAME), (gt // 40).astype(np.uint8))
    with pytest.raises(UserError, match=rf"frame g_0: depth .*{GT_NAME} is 8-bit") as err:
        evaluate_real({}, root, tmp_path / "bad", images=0, progress=False, protocols=protos)
    assert "\n" not in str(err.value)


def test_eval_real_without_gt_omits_gt_protocols(tmp_path):
    root = tmp_path / "real"
    for i in range(2):
        write_frame(root, f"f_{i}", 20 + i, hw=(48, 64))
    res = evaluate_real({}, root, tmp_path / "out", images=0, progress=False)
    assert set(res["protocols"]) == set(res["frames"]) == {"real_blocks", "real_holes"}
    assert set(res["skipped"]) == {"real_gt", "real_gt_transparent"}
    assert all(GT_NAME in why for why in res["skipped"].values())
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["skipped"] == res["skipped"] and "real_gt" not in saved["counts"]
    md = (tmp_path / "out" / "metrics.md").read_text()
    assert "## real_gt" not in md and "`real_gt`: not scored" in md and "nan" not in md.lower()


def test_eval_real_cli(tmp_path):
    ckpt = tmp_path / "m.pt"
    model = tiny_model()
    save_checkpoint(ckpt, {"model_config": model.cfg.to_dict(), "model": model.state_dict()})
    root = tmp_path / "real"
    write_frame(root, "a_0", 1)
    write_frame(root, "b_0", 2)
    run = lambda *a: CliRunner().invoke(cli, ["eval", "--ckpt", str(ckpt), *map(str, a)])  # noqa: E731
    res = run("--real", root, "--out", tmp_path / "out", "--images", "0")
    assert res.exit_code == 0, res.output
    assert "real_blocks" in res.output and (tmp_path / "out" / "metrics.md").is_file()
    write_frame(root, "c_0", depth=np.zeros((48, 64), np.uint16))
    res = run("--real", root, "--out", tmp_path / "out2")
    assert res.exit_code == 1 and "frame c_0" in res.output and "Traceback" not in res.output
    res = run("--out", tmp_path / "out3")
    assert res.exit_code == 2 and "--real" in res.output


def test_default_lrs_follow_init_dinov2():
    from mdm.train import TrainConfig, default_lrs

    assert default_lrs(TrainConfig(data=[], out="-")) == (3e-4, 3e-4)
    assert default_lrs(TrainConfig(data=[], out="-", init_dinov2="d.pth")) == (1e-5, 1e-4)
    assert default_lrs(TrainConfig(data=[], out="-", init_dinov2="d.pth", lr_encoder=2e-5)) == (2e-5, 1e-4)


def test_bound_limits_the_learnt_change():
    scene = render_scene((56, 70), np.random.default_rng(6))
    depth = scene["sensor"].astype(np.float32) / 1000.0
    depth[10:40, 20:50] = 0
    model = build_model(model_config("tiny", tokens=20, bound=0.05, smooth="harmonic"), seed=0).eval()
    assert np.allclose(model_predict(model, scene["rgb"], depth, "cpu"), harmonic_fill(depth), rtol=1e-6)
    with torch.no_grad():
        model.decoder.head.out_conv.bias[0] = 3.0  # a wild residual of +3 (x20 in depth)
    pred = model_predict(model, scene["rgb"], depth, "cpu")
    from mdm.baselines import nearest_fill
    h, n = np.log(harmonic_fill(depth)), np.log(nearest_fill(depth))
    change = np.log(pred) - h
    assert (change <= np.abs(n - h) + 0.05 + 1e-5).all() and change.max() > 0.049


def test_fade_keeps_the_smooth_fill_next_to_measurements():
    depth = np.full((56, 70), 2.0, np.float32)
    depth[8:48, 10:60] = 0  # one 40x50 hole
    rgb = np.full((56, 70, 3), 128, np.uint8)
    model = build_model(model_config("tiny", tokens=20, fade=0.02), seed=0).eval()
    with torch.no_grad():
        model.decoder.head.out_conv.bias[0] = 0.5  # a learnt change of +0.5 log m everywhere
    pred = model_predict(model, rgb, depth, "cpu")
    change = np.log(pred / 2.0)
    d0 = 0.02 * np.hypot(56, 70)
    assert change[8, 30] == pytest.approx(0.5 * (1 - np.exp(-1 / d0)), rel=1e-3)  # 1 px into the hole
    assert change[28, 35] == pytest.approx(0.5 * (1 - np.exp(-20 / d0)), rel=1e-3)  # its centre
    assert np.allclose(pred[depth > 0], 2.0 * np.exp(0.5 / (1 + np.exp(4.0))), rtol=1e-3)  # seen: trust only
    model.train()  # training sees the unfaded output
    rgb_t = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    out = model(rgb_t, torch.from_numpy(depth)[None])[0].detach().numpy()
    assert np.allclose(out[8:48, 10:60], 2.0 * np.exp(0.5), rtol=1e-4)
