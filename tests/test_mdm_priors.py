"""The unlearned depth priors of ``mdm.priors`` and the ``blend`` model's pass-through of measurements."""
import math

import numpy as np
import torch

from mdm.baselines import harmonic_fill as harmonic_baseline
from mdm.model import build_model, model_config
from mdm.priors import guided_fill, harmonic_fill, nearest_seen, push_pull_fill


def _plane_with_hole(h=96, w=128):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    value = (0.5 + 0.01 * xx + 0.004 * yy)[None, None]
    weight = torch.ones_like(value)
    weight[..., 20:70, 30:100] = 0  # a 50 x 70 px hole inside the image
    return value, weight


def test_harmonic_fill_is_exact_on_a_plane_and_keeps_seen_pixels():
    value, weight = _plane_with_hole()
    fallback = torch.zeros(1, 1, 1, 1)
    out = harmonic_fill(value * weight, weight, fallback)
    hole = weight == 0
    assert torch.equal(out[~hole], value[~hole])
    assert (out[hole] - value[hole]).abs().max() < 0.01 * value[hole].std()  # linear = harmonic
    # the other fills are not exact inside a hole of a slanted plane: harmonic is the smooth one
    for other in (nearest_seen, push_pull_fill):
        assert (other(value * weight, weight, fallback)[hole] - value[hole]).abs().mean() > \
            20 * (out[hole] - value[hole]).abs().mean()


def test_harmonic_fill_with_nothing_seen_returns_fallback():
    value = torch.rand(2, 1, 30, 40)
    weight = torch.zeros_like(value)
    weight[1, :, 5, 5] = 1
    out = harmonic_fill(value * weight, weight, torch.tensor([3.0, 0.0]).view(2, 1, 1, 1))
    assert torch.allclose(out[0], torch.tensor(3.0))
    assert torch.allclose(out[1], value[1, :, 5, 5].expand_as(out[1]))  # one seen pixel: constant


def test_harmonic_baseline_metres_and_holes():
    depth = np.full((60, 80), 2.0, np.float32)
    depth[:, 40:] = 3.0
    depth[20:40, 30:50] = 0.0
    out = harmonic_baseline(depth)
    assert out.dtype == np.float32 and np.all(out > 0)
    assert np.array_equal(out[depth > 0], depth[depth > 0])
    assert np.all((out[depth == 0] >= 2.0 - 1e-4) & (out[depth == 0] <= 3.0 + 1e-4))


def test_untrained_blend_model_passes_measurements_through():
    torch.manual_seed(0)
    net = build_model(model_config("tiny", prior="blend"), seed=0).eval()
    rgb = torch.rand(1, 3, 112, 140)
    depth = torch.full((1, 112, 140), 2.0) + torch.linspace(0, 1, 140)
    depth[:, 40:80, 50:100] = 0
    with torch.no_grad():
        pred = net(rgb, depth)
    seen = depth > 0
    # measured pixels: residual x trust (~0.018) only; holes: between the two priors plus the residual
    assert (pred[seen] / depth[seen] - 1).abs().max() < 0.01
    assert torch.isfinite(pred).all() and (pred[~seen] > 1.5).all() and (pred[~seen] < 3.5).all()


def test_jump_flooding_nearest_matches_the_exact_transform():
    from scipy import ndimage

    from mdm.priors import nearest_seen_jfa

    gen = torch.Generator().manual_seed(0)
    weight = (torch.rand(2, 1, 60, 90, generator=gen) < 0.05).float()
    weight[:, :, 10:50, 20:70] = 0
    weight[1] = 0  # nothing seen: fallback
    index = torch.arange(60 * 90, dtype=torch.float32).view(1, 1, 60, 90).expand(2, -1, -1, -1).contiguous()
    out = nearest_seen_jfa(index, weight, torch.tensor([0.0, -1.0]).view(2, 1, 1, 1))
    assert torch.all(out[1] == -1.0)
    seed = out[0, 0].long()
    yy, xx = torch.meshgrid(torch.arange(60), torch.arange(90), indexing="ij")
    got = ((yy - seed // 90) ** 2 + (xx - seed % 90) ** 2).double().sqrt().numpy()
    exact = ndimage.distance_transform_edt(weight[0, 0].numpy() == 0)
    assert np.all(got >= exact - 1e-9)
    assert (got - exact).max() < 0.5 and np.mean(got - exact > 1e-6) < 0.005
    assert torch.equal(out[0][weight[0] > 0], index[0][weight[0] > 0])


def _two_colour_step(h=60, w=80):
    """A depth step (2 m left, 3 m right) that shows as a colour edge, with a hole across it."""
    value = torch.full((1, 1, h, w), math.log(2.0))
    value[..., w // 2:] = math.log(3.0)
    rgb = torch.zeros(1, 3, h, w)
    rgb[:, 0, :, : w // 2] = 0.8
    rgb[:, 2, :, w // 2:] = 0.7
    rgb += 0.02 * torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))  # sensor noise
    weight = torch.ones_like(value)
    weight[..., 15:45, 20:60] = 0
    return value, weight, rgb


def test_guided_fill_keeps_a_depth_edge_that_shows_in_the_rgb():
    value, weight, rgb = _two_colour_step()
    fallback = torch.zeros(1, 1, 1, 1)
    hole = weight == 0
    guided = guided_fill(value * weight, weight, fallback, rgb)
    harmonic = harmonic_fill(value * weight, weight, fallback)
    assert torch.equal(guided[~hole], value[~hole])
    err_g, err_h = (guided - value)[hole].abs().mean(), (harmonic - value)[hole].abs().mean()
    assert err_g < 0.01 and err_h > 10 * err_g  # harmonic blurs across the edge, guided stops at it


def test_guided_fill_is_harmonic_where_colour_is_uniform():
    value, weight = _plane_with_hole()
    rgb = torch.full((1, 3, *value.shape[-2:]), 0.5)
    out = guided_fill(value * weight, weight, torch.zeros(1, 1, 1, 1), rgb)
    hole = weight == 0
    assert (out[hole] - value[hole]).abs().max() < 1e-4  # exact on a plane (direct solve)


def test_guided_fill_conjugate_gradients_match_the_direct_solve_and_fallback():
    value, weight, rgb = _two_colour_step()
    value, weight, rgb = value.repeat(2, 1, 1, 1), weight.repeat(2, 1, 1, 1), rgb.repeat(2, 1, 1, 1)
    weight[1] = 0  # nothing seen: fallback
    fallback = torch.tensor([0.0, 1.5]).view(2, 1, 1, 1)
    exact = guided_fill(value * weight, weight, fallback, rgb)
    cg = guided_fill(value * weight, weight, fallback, rgb, cg_iters=400)  # the path used on GPUs
    assert (cg[0] - exact[0]).abs().max() < 1e-3
    assert torch.all(exact[1] == 1.5) and torch.all(cg[1] == 1.5)


def test_guided_fill_uses_conjugate_gradients_on_large_cpu_images(monkeypatch):
    import mdm.priors as priors

    value, weight, rgb = _two_colour_step()
    fallback = torch.zeros(1, 1, 1, 1)
    exact = guided_fill(value * weight, weight, fallback, rgb)
    monkeypatch.setattr(priors, "GUIDE_DIRECT_MAX_PIXELS", 100)  # this 60x80 image counts as large
    monkeypatch.setattr(priors, "_guided_solve_cpu", None)  # the direct solve must not be called
    big = priors.guided_fill(value * weight, weight, fallback, rgb)
    assert (big - exact).abs().max() < 1e-3


def test_far_islands_flags_small_far_components_only():
    from mdm.priors import far_islands

    depth = np.full((60, 80), 2.0, np.float32)
    depth[:, 30:50] = 0.0  # a hole band
    depth[10:14, 36:40] = 3.0  # small and far: flagged
    depth[30:34, 36:40] = 1.2  # small and near (an object in front): kept
    depth[45:48, 36:39] = 2.05  # small and consistent: kept
    depth[:20, 70:] = 4.0  # far but large (part of a big component): kept
    value = torch.from_numpy(np.log(np.where(depth > 0, depth, 1.0)))[None, None]
    seen = torch.from_numpy((depth > 0).astype(np.float32))[None, None]
    flags = far_islands(value * seen, seen, torch.zeros(1, 1, 1, 1), fraction=0.01)[0, 0].numpy()
    expected = np.zeros_like(flags)
    expected[10:14, 36:40] = True
    assert (flags == expected).all()
    assert not far_islands(value * seen, seen, torch.zeros(1, 1, 1, 1), fraction=0.001).any()  # 16 px > 4.8 px
