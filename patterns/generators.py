"""Projector dot patterns in numpy: uniform random, Poisson-disk (blue noise), D4xx-like clustered.

A pattern is a float32 image in [0, 1] of shape (H, W) in *projector pixels* (row 0 = top as seen
from behind the projector looking along its axis). Each dot is a small Gaussian-profile disc with
its own radius (projector pixels) and peak intensity. Everything is deterministic given the
``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("uniform", "blue_noise", "d4xx")


@dataclass(frozen=True)
class PatternParams:
    """Parameters of one pattern. ``density`` is dots per 1000 projector pixels (target; the
    Poisson-disk kind derives its minimum spacing from it). Radii are in projector pixels."""

    kind: str
    height: int
    width: int
    density: float
    radius_px: tuple[float, float]
    intensity: tuple[float, float]

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"pattern kind {self.kind!r} unknown; choose one of {', '.join(KINDS)}")
        if self.height < 8 or self.width < 8:
            raise ValueError(f"pattern size {self.height}x{self.width} too small (need >= 8x8)")
        if not 0 < self.density <= 250:
            raise ValueError(f"pattern density {self.density} dots/1000 px must be in (0, 250]")
        lo, hi = self.radius_px
        if not 0 < lo <= hi:
            raise ValueError(f"pattern radius range {self.radius_px} must satisfy 0 < low <= high")
        lo, hi = self.intensity
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"pattern intensity range {self.intensity} must satisfy 0 < low <= high <= 1")


@dataclass
class Pattern:
    """A rendered pattern: the image, the dot centres (x, y in projector pixels) and radii."""

    image: np.ndarray
    points: np.ndarray
    radii: np.ndarray
    intensities: np.ndarray
    params: PatternParams

    def info(self) -> dict:
        """JSON-able description (for sample meta)."""
        d = asdict(self.params)
        d["n_dots"] = int(len(self.points))
        return d


# Dot count over the projector's whole field (D435: ~5000 spots over 86 x 57 deg; D415-class
# projectors are denser) and the dot size in pixels of the camera that sees the pattern: a VCSEL spot
# is smaller than a pixel, so its image is the lens/pixel blur, about 1.5-3 px across (FWHM). The
# camera model adds its own blur (synth.noise), hence the slightly smaller range here.
DOTS_IN_FIELD: tuple[float, float] = (5000.0, 15000.0)
DOT_FWHM_CAMERA_PX: tuple[float, float] = (1.3, 2.4)
MAX_DENSITY = 250.0  # dots per 1000 projector px that PatternParams accepts
FWHM_PER_RADIUS = 2.0 * np.sqrt(2.0 * np.log(2.0)) / 2.0  # FWHM of a dot / its radius (sigma = r/2)


def density_for_count(n_dots: float, height: int, width: int) -> float:
    """Dots per 1000 projector px for ``n_dots`` over a height x width pattern, saturating softly
    below ``MAX_DENSITY`` (tiny patterns cannot hold thousands of separate dots; they merge)."""
    wanted = 1000.0 * float(n_dots) / float(height * width)
    return 1.0 / (1.0 / wanted + 1.0 / MAX_DENSITY)


def sample_params(rng: np.random.Generator, kind: str | None, height: int, width: int,
                  pixels_per_camera_px: float = 1.5) -> PatternParams:
    """Random pattern parameters for a height x width projector image (pixels).

    Kind (if None) uniform over ``KINDS``; dot count over the whole pattern log-uniform in
    ``DOTS_IN_FIELD`` (so the count does not depend on the render scale); dot FWHM uniform in
    ``DOT_FWHM_CAMERA_PX`` pixels of the camera, converted with ``pixels_per_camera_px`` (projector
    px per camera px at the image centre: ``RigRanges.pattern_supersample``), with a per-dot spread
    of up to 30 %; peak intensity per dot in [0.35-0.8, 1]."""
    if kind is None:
        kind = str(rng.choice(KINDS))
    if pixels_per_camera_px <= 0:
        raise ValueError(f"pixels_per_camera_px {pixels_per_camera_px} must be > 0")
    lo, hi = DOTS_IN_FIELD
    n_dots = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    fwhm = float(rng.uniform(*DOT_FWHM_CAMERA_PX))
    r_lo = fwhm * pixels_per_camera_px / FWHM_PER_RADIUS
    r_hi = r_lo * float(rng.uniform(1.0, 1.3))
    i_lo = float(rng.uniform(0.35, 0.8))
    return PatternParams(kind=kind, height=int(height), width=int(width),
                         density=density_for_count(n_dots, height, width), radius_px=(r_lo, r_hi),
                         intensity=(i_lo, 1.0))


# ---------------------------------------------------------------- point processes


def uniform_points(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """``n`` independent uniform points (x, y) in [0, width) x [0, height)."""
    return np.stack([rng.uniform(0, width, n), rng.uniform(0, height, n)], axis=1)


def poisson_disk_points(rng: np.random.Generator, min_dist: float, height: int, width: int,
                        rounds: int = 8) -> np.ndarray:
    """Blue-noise points no two closer than ``min_dist`` pixels (vectorised parallel dart throwing).

    The plane is cut into cells of side min_dist/sqrt(2) (at most one point per cell). In each of 9
    phases only cells whose (row, col) are congruent mod 3 get a candidate; such cells are >= 2 cells
    apart, so their candidates cannot conflict with each other and all tests run as array operations.
    """
    if min_dist <= 0:
        raise ValueError(f"min_dist {min_dist} must be > 0")
    cell = min_dist / np.sqrt(2.0)
    gh, gw = int(np.ceil(height / cell)), int(np.ceil(width / cell))
    pad = 2
    grid = np.full((gh + 2 * pad, gw + 2 * pad, 2), np.nan)
    rows, cols = np.mgrid[0:gh, 0:gw]
    for _ in range(rounds):
        for phase in range(9):
            sel = ((rows % 3) == phase // 3) & ((cols % 3) == phase % 3)
            r, c = rows[sel], cols[sel]
            empty = np.isnan(grid[r + pad, c + pad, 0])
            r, c = r[empty], c[empty]
            if r.size == 0:
                continue
            cand = np.stack([(c + rng.random(r.size)) * cell, (r + rng.random(r.size)) * cell], axis=1)
            inside = (cand[:, 0] < width) & (cand[:, 1] < height)
            ok = inside.copy()
            for dr in range(-2, 3):
                for dc in range(-2, 3):
                    nb = grid[r + pad + dr, c + pad + dc]
                    d2 = np.sum((nb - cand) ** 2, axis=1)
                    ok &= ~(d2 < min_dist ** 2)  # NaN neighbours compare False
            grid[r[ok] + pad, c[ok] + pad] = cand[ok]
    pts = grid[pad:-pad, pad:-pad].reshape(-1, 2)
    return pts[~np.isnan(pts[:, 0])]


def clustered_points(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """D4xx-like semi-random pattern: blue-noise cluster centres, each with 1-6 dots scattered
    around it (sigma = 0.3 x centre spacing), plus 25 % isolated uniform dots."""
    n_iso = int(round(0.25 * n))
    n_clustered = n - n_iso
    mean_per_cluster = 3.0
    n_centres = max(1, int(round(n_clustered / mean_per_cluster)))
    spacing = np.sqrt(0.7 * height * width / n_centres)
    centres = poisson_disk_points(rng, spacing, height, width, rounds=8)
    if len(centres) == 0:
        centres = uniform_points(rng, 1, height, width)
    counts = 1 + rng.poisson(mean_per_cluster - 1.0, len(centres)).clip(0, 5)
    owners = np.repeat(np.arange(len(centres)), counts)
    pts = centres[owners] + rng.normal(0.0, 0.3 * spacing, (len(owners), 2))
    pts = np.concatenate([pts, uniform_points(rng, n_iso, height, width)])
    keep = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
    return pts[keep]


# ---------------------------------------------------------------- rasterisation


def render_dots(points: np.ndarray, radii: np.ndarray, intensities: np.ndarray,
                height: int, width: int) -> np.ndarray:
    """Draw dots with a Gaussian profile (sigma = radius/2, cut at 2 radii), max-combined.

    Dots are drawn by splatting every offset of a small stencil at once (vectorised)."""
    image = np.zeros((height, width), np.float32)
    if len(points) == 0:
        return image
    reach = int(np.ceil(2.0 * float(radii.max()))) + 1
    offs = np.arange(-reach, reach + 1)
    cx, cy = points[:, 0], points[:, 1]
    ix, iy = np.floor(cx).astype(int), np.floor(cy).astype(int)
    sigma = radii / 2.0
    for dy in offs:
        for dx in offs:
            px, py = ix + dx, iy + dy
            d2 = (px + 0.5 - cx) ** 2 + (py + 0.5 - cy) ** 2
            val = intensities * np.exp(-0.5 * d2 / sigma ** 2)
            val[d2 > (2.0 * radii) ** 2] = 0.0
            ok = (px >= 0) & (px < width) & (py >= 0) & (py < height) & (val > 1e-3)
            np.maximum.at(image, (py[ok], px[ok]), val[ok].astype(np.float32))
    return image


def generate(params: PatternParams, rng: np.random.Generator) -> Pattern:
    """Draw one pattern with the given parameters; deterministic in ``rng``."""
    params.validate()
    h, w = params.height, params.width
    n_target = int(round(params.density * h * w / 1000.0))
    if params.kind == "uniform":
        pts = uniform_points(rng, n_target, h, w)
    elif params.kind == "blue_noise":
        # a maximal Poisson-disk set has about 0.7 / d^2 points per unit area
        min_dist = float(np.sqrt(0.7 * 1000.0 / params.density))
        pts = poisson_disk_points(rng, min_dist, h, w)
    else:
        pts = clustered_points(rng, n_target, h, w)
    radii = rng.uniform(*params.radius_px, len(pts))
    intens = rng.uniform(*params.intensity, len(pts))
    image = render_dots(pts, radii, intens, h, w)
    return Pattern(image=image, points=pts, radii=radii, intensities=intens, params=params)


def blue_noise_min_dist(density: float) -> float:
    """Minimum dot spacing (projector px) the blue-noise kind uses for a density (dots/1000 px)."""
    return float(np.sqrt(0.7 * 1000.0 / density))
