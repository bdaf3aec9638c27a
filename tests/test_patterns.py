"""Dot patterns: determinism, dot count/density per kind, blue-noise spacing, CLI."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial import cKDTree

from patterns.generators import (
    DOT_FWHM_CAMERA_PX,
    DOTS_IN_FIELD,
    FWHM_PER_RADIUS,
    KINDS,
    PatternParams,
    blue_noise_min_dist,
    generate,
    sample_params,
)

ROOT = Path(__file__).resolve().parent.parent


def params(kind: str, density: float = 25.0) -> PatternParams:
    return PatternParams(kind=kind, height=240, width=320, density=density, radius_px=(1.0, 1.5),
                         intensity=(0.5, 1.0))


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_by_seed(kind):
    a = generate(params(kind), np.random.default_rng(3))
    b = generate(params(kind), np.random.default_rng(3))
    c = generate(params(kind), np.random.default_rng(4))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.points, b.points)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("density", [10.0, 30.0])
def test_dot_count_follows_density(kind, density):
    p = generate(params(kind, density), np.random.default_rng(1))
    expected = density * 240 * 320 / 1000
    assert 0.75 * expected < len(p.points) < 1.25 * expected, (kind, len(p.points), expected)
    assert 0.0 < p.image.max() <= 1.0 and p.image.dtype == np.float32
    lit = (p.image > 0.2).mean()
    assert 0.01 < lit < 0.6


def test_blue_noise_minimum_spacing_and_uniform_has_clumps():
    density = 30.0
    d_min = blue_noise_min_dist(density)
    bn = generate(params("blue_noise", density), np.random.default_rng(2)).points
    nn_bn = cKDTree(bn).query(bn, k=2)[0][:, 1]
    assert nn_bn.min() >= d_min - 1e-9
    un = generate(params("uniform", density), np.random.default_rng(2)).points
    nn_un = cKDTree(un).query(un, k=2)[0][:, 1]
    assert (nn_un < 0.5 * d_min).mean() > 0.1  # uniform random points do crowd
    d4 = generate(params("d4xx", density), np.random.default_rng(2)).points
    nn_d4 = cKDTree(d4).query(d4, k=2)[0][:, 1]
    assert np.median(nn_d4) < np.median(nn_bn)  # D4xx-like dots cluster


def test_sample_params_valid_and_randomized():
    ps = [sample_params(np.random.default_rng(s), None, 100, 120) for s in range(20)]
    for p in ps:
        p.validate()
    assert len({p.kind for p in ps}) == 3 and len({p.density for p in ps}) == 20


def test_dot_size_in_camera_pixels_and_dot_count_do_not_depend_on_scale():
    """A projector pattern is rendered at 1.5 projector px per IR px: its dots must span the same
    1.3-2.4 IR px (FWHM) and the pattern hold the same ~5000-15000 dots at every render scale."""
    counts, radii = [], []
    for scale in (0.25, 0.5, 1.0):
        h, w = int(720 * scale * 1.5 * 1.2), int(960 * scale * 1.5 * 1.2)
        p = sample_params(np.random.default_rng(5), "uniform", h, w, pixels_per_camera_px=1.5)
        fwhm_camera_px = p.radius_px[0] * FWHM_PER_RADIUS / 1.5
        assert DOT_FWHM_CAMERA_PX[0] <= fwhm_camera_px <= DOT_FWHM_CAMERA_PX[1]
        counts.append(len(generate(p, np.random.default_rng(6)).points))
        radii.append(p.radius_px)
    assert radii[0] == radii[1] == radii[2]
    assert DOTS_IN_FIELD[0] * 0.75 < min(counts) and max(counts) < DOTS_IN_FIELD[1]
    assert max(counts) < 1.35 * min(counts)  # quarter scale saturates softly, no more


def test_bad_params_rejected():
    with pytest.raises(ValueError, match="kind"):
        generate(dataclasses.replace(params("uniform"), kind="laser"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="radius"):
        generate(dataclasses.replace(params("uniform"), radius_px=(2.0, 1.0)), np.random.default_rng(0))


def test_cli_writes_png(tmp_path):
    out = tmp_path / "p.png"
    res = subprocess.run([sys.executable, "cli.py", "patterns", "--kind", "blue_noise", "--seed", "7",
                          "--height", "60", "--width", "80", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    img = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert img.shape == (60, 80) and img.max() > 100
    res2 = subprocess.run([sys.executable, "cli.py", "patterns", "--kind", "nope", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert res2.returncode == 2 and "--kind" in res2.stderr
