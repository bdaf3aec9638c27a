"""Post-processing stages a depth camera (or its SDK) applies after stereo matching, as optional stages
of a preset (``"postprocess": [{"stage": ..., knobs...}, ...]`` in presets.json, applied in order to the
left disparity map, float px, 0 = hole, on the IR grid; see ``sensor_sample`` in sgm/dataset.py).

RealSense host filters follow Intel's public librealsense documentation (``doc/post-processing-filters.md``)
and sources (``src/proc/spatial-filter.h``, ``src/proc/hole-filling-filter.h``):

* ``decimation`` (``magnitude`` 2-8): block median of the valid pixels for 2-3, mean for 4-8 (as
  librealsense); the block value is then spread back over the block (nearest), because every sample of a
  dataset keeps the IR grid. Holes inside a block with a valid pixel are filled (the SDK's side effect).
* ``spatial`` (``iterations`` 1-5, ``alpha`` 0.25-1, ``delta_px``, ``holes_fill`` 0-5): the recursive
  1-D domain-transform edge-preserving filter (Gastal & Oliveira 2011) as librealsense runs it on
  disparity: per iteration, left-to-right and right-to-left passes along rows, then top-to-bottom and
  bottom-to-top along columns; a neighbour closer than ``delta_px`` in disparity is blended with weight
  ``alpha``. ``holes_fill`` maps 0..5 to a horizontal in-pass fill of [0, 2, 4, 8, 16, unlimited] px.
  librealsense's delta (default 20) is in its disparity representation; ``delta_px`` here is in pixels of
  disparity (20/32 px = 0.625 px assumes 1/32-px D4 disparity units: unverified).
* ``hole_filling`` (``mode``: ``fill_from_left`` | ``farest_from_around`` | ``nearest_from_around``): every
  hole takes a neighbour's value in one raster scan (in place, so fills propagate right and down), as
  librealsense: the left neighbour, or the farthest (smallest disparity) / nearest (largest disparity) of
  the up, up-left, left, down-left and down neighbours. The first column and the top and bottom rows stay.
* ``temporal`` needs a frame sequence and is not offered (one view per sample).

Other stages (not from an SDK; each models a failure real cameras show and the matcher does not):

* ``noise`` (``disparity_sigma_px``, ``correlation_px``): Gaussian disparity noise on valid pixels,
  optionally spatially correlated (a Gaussian blur of ``correlation_px`` on the noise field, rescaled to
  the same std); seeded by the sample key, so a dataset is reproducible.
* ``edge_invalidation`` (``jump_px``, ``radius_px``): holes within ``radius_px`` of a disparity jump larger
  than ``jump_px`` between 4-neighbours (both sides); removes the flying pixels and makes depth edges
  holey as aligned real depth maps are.
* ``hole_dilation`` (``radius_px``, ``min_hole_px``): hole components of at least ``min_hole_px`` pixels grow
  by ``radius_px`` (fewer, larger holes).
* ``speckle`` (``max_size``, ``range_px``): OpenCV filterSpeckles, as the matcher's own speckle knobs.
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from sgm.filters import remove_speckles

HOLES_FILL_RADII = (0, 2, 4, 8, 16, 1 << 30)
LIMIT = 1e5  # above any disparity (px)
HOLE_FILL_MODES = ("fill_from_left", "farest_from_around", "nearest_from_around")

# stage -> {knob: (default, lo, hi)}; None bounds = no check; strings handled separately
STAGES: dict[str, dict[str, tuple]] = {
    "decimation": {"magnitude": (2, 2, 8)},
    "spatial": {"iterations": (2, 1, 5), "alpha": (0.5, 0.25, 1.0), "delta_px": (0.625, 0.0, 64.0),
                "holes_fill": (0, 0, 5)},
    "hole_filling": {"mode": ("farest_from_around", None, None)},
    "noise": {"disparity_sigma_px": (0.05, 0.0, 5.0), "correlation_px": (0.0, 0.0, 16.0), "seed": (0, None, None)},
    "edge_invalidation": {"jump_px": (1.0, 0.0, 1000.0), "radius_px": (1, 0, 16)},
    "hole_dilation": {"radius_px": (1, 0, 16), "min_hole_px": (1, 1, 10 ** 6)},
    "speckle": {"max_size": (100, 0, 10 ** 6), "range_px": (1.0, 0.0, 64.0)},
}
INTEGER_KNOBS = {"magnitude", "iterations", "holes_fill", "radius_px", "min_hole_px", "max_size", "seed"}


def normalise_stages(stages: Sequence[Mapping[str, Any]] | None, where: str = "preset") -> tuple[dict, ...]:
    """Validated stages with every knob filled in (defaults); ValueError naming the stage and knob."""
    out = []
    for i, st in enumerate(stages or ()):
        if not isinstance(st, Mapping) or "stage" not in st:
            raise ValueError(f"{where}: postprocess[{i}] must be an object with a 'stage' name")
        name = st["stage"]
        if name == "temporal":
            raise ValueError(f"{where}: postprocess[{i}] 'temporal' needs a frame sequence; each sample is one "
                             f"view, so it is not offered")
        if name not in STAGES:
            raise ValueError(f"{where}: postprocess[{i}] unknown stage {name!r}; known: {', '.join(STAGES)}")
        knobs = STAGES[name]
        unknown = sorted(set(st) - set(knobs) - {"stage"})
        if unknown:
            raise ValueError(f"{where}: postprocess[{i}] ({name}) unknown knob(s) {unknown}; known: {sorted(knobs)}")
        full: dict[str, Any] = {"stage": name}
        for k, (default, lo, hi) in knobs.items():
            v = st.get(k, default)
            if k == "mode":
                if v not in HOLE_FILL_MODES:
                    raise ValueError(f"{where}: postprocess[{i}] ({name}) mode {v!r}; use one of {HOLE_FILL_MODES}")
            else:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                    raise ValueError(f"{where}: postprocess[{i}] ({name}) {k} must be a number (got {v!r})")
                if k in INTEGER_KNOBS:
                    if int(v) != v:
                        raise ValueError(f"{where}: postprocess[{i}] ({name}) {k} must be an integer (got {v!r})")
                    v = int(v)
                if lo is not None and not lo <= v <= hi:
                    raise ValueError(f"{where}: postprocess[{i}] ({name}) {k} must be in [{lo}, {hi}] (got {v!r})")
            full[k] = v
        out.append(full)
    return tuple(out)


# ---------------------------------------------------------------- stages


def decimate(disp: np.ndarray, magnitude: int) -> np.ndarray:
    """Block median (2-3) / mean (4-8) of the valid pixels, spread back over each block."""
    h, w = disp.shape
    m = int(magnitude)
    H, W = -(-h // m) * m, -(-w // m) * m
    pad = np.zeros((H, W), np.float64)
    pad[:h, :w] = disp
    blocks = pad.reshape(H // m, m, W // m, m).transpose(0, 2, 1, 3).reshape(H // m, W // m, m * m)
    valid = blocks > 0
    if m <= 3:
        vals = np.where(valid, blocks, np.nan)
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out = np.nanmedian(vals, axis=2)
        out = np.nan_to_num(out, nan=0.0)
    else:
        n = valid.sum(2)
        out = np.where(n > 0, blocks.sum(2) / np.maximum(n, 1), 0.0)
    full = np.repeat(np.repeat(out, m, 0), m, 1)[:h, :w]
    return full.astype(np.float32)


def _recursive_rows(d: np.ndarray, alpha: float, delta: float, fill_radius: int) -> None:
    """In-place left-to-right then right-to-left pass along the rows (librealsense recursive filter)."""
    h, w = d.shape
    for direction in (1, -1):
        cols = range(1, w) if direction == 1 else range(w - 2, -1, -1)
        fill = np.zeros(h, np.int64)
        for x in cols:
            prev, cur = d[:, x - direction], d[:, x]
            pv, cv = prev > 0, cur > 0
            diff = np.abs(cur - prev)
            blend = pv & cv & (diff <= delta)
            new = np.where(blend, cur * alpha + prev * (1 - alpha), cur)
            fill = np.where(pv & cv, 0, fill)
            if fill_radius:
                hole_next = pv & ~cv
                fill = np.where(hole_next, fill + 1, fill)
                take = hole_next & (fill < fill_radius)
                new = np.where(take, prev, new)
            d[:, x] = new


def spatial_filter(disp: np.ndarray, iterations: int = 2, alpha: float = 0.5, delta_px: float = 0.625,
                   holes_fill: int = 0) -> np.ndarray:
    """librealsense's edge-preserving spatial filter on a disparity map (see the module docstring)."""
    d = disp.astype(np.float64).copy()
    radius = HOLES_FILL_RADII[int(holes_fill)]
    for _ in range(int(iterations)):
        _recursive_rows(d, alpha, delta_px, radius)
        t = np.ascontiguousarray(d.T)
        _recursive_rows(t, alpha, delta_px, 0)  # vertical passes: no hole filling (as librealsense)
        d = np.ascontiguousarray(t.T)
    return d.astype(np.float32)


def _segment_scan(first: np.ndarray, cand: np.ndarray, hole: np.ndarray, farthest: bool) -> np.ndarray:
    """One row of the in-place raster fill: for holes, the running extreme of the candidates since the last
    valid pixel (which seeds the run with its own value): min positive disparity (farthest) or max."""
    x = np.where(hole, cand, first).astype(np.float64)
    offset = np.cumsum(~hole).astype(np.float64) * 1e6  # restarts the running max at every valid pixel
    if farthest:  # running min of positive values = LIMIT - running max of (LIMIT - x); 0 = no candidate
        y = np.where(x > 0, LIMIT - x, 0.0)
        run = np.maximum.accumulate(offset + y) - offset
        return np.where(run > 0, LIMIT - run, 0.0)
    return np.maximum.accumulate(offset + x) - offset


def hole_filling(disp: np.ndarray, mode: str = "farest_from_around") -> np.ndarray:
    """librealsense hole-filling filter (raster scan, in place) on a disparity map."""
    d = disp.astype(np.float64).copy()
    h, w = d.shape
    if mode == "fill_from_left":
        idx = np.where(d > 0, np.arange(w)[None, :], 0)
        np.maximum.accumulate(idx, axis=1, out=idx)
        filled = np.take_along_axis(d, idx, axis=1)
        d[:, 1:] = np.where(d[:, 1:] > 0, d[:, 1:], filled[:, 1:])
        return d.astype(np.float32)
    farthest = mode == "farest_from_around"
    for y in range(1, h - 1):
        row = d[y]
        hole = row <= 0
        hole[0] = False
        if not hole.any():
            continue
        up, down = d[y - 1], d[y + 1]
        neigh = [up[1:], up[:-1], down[:-1], down[1:]]  # up, up-left, down-left, down (for x >= 1)
        stack = np.stack(neigh)
        if farthest:
            cand = np.where(stack > 0, stack, np.inf).min(0)
            cand = np.where(np.isfinite(cand), cand, 0.0)
        else:
            cand = stack.max(0)
        c = np.concatenate([[0.0], cand])
        d[y] = np.where(hole, _segment_scan(row, c, hole, farthest), row)
    return d.astype(np.float32)


def add_noise(disp: np.ndarray, sigma: float, correlation_px: float, rng: np.random.Generator) -> np.ndarray:
    if sigma <= 0:
        return disp
    n = rng.standard_normal(disp.shape)
    if correlation_px > 0:
        n = cv2.GaussianBlur(n, (0, 0), correlation_px)
        n /= max(float(n.std()), 1e-12)
    valid = disp > 0
    out = np.where(valid, disp + sigma * n, 0.0)
    return np.where(valid & (out <= 0), disp, out).astype(np.float32)


def edge_invalidation(disp: np.ndarray, jump_px: float, radius_px: int) -> np.ndarray:
    valid = disp > 0
    edge = np.zeros(disp.shape, bool)
    for axis in (0, 1):
        a = np.moveaxis(disp, axis, 0)
        va = np.moveaxis(valid, axis, 0)
        jump = (np.abs(a[1:] - a[:-1]) > jump_px) & va[1:] & va[:-1]
        e = np.moveaxis(edge, axis, 0)
        e[1:] |= jump
        e[:-1] |= jump
    if radius_px > 1:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px - 1, 2 * radius_px - 1))
        edge = cv2.dilate(edge.astype(np.uint8), k) > 0
    return np.where(edge, 0.0, disp).astype(np.float32)


def hole_dilation(disp: np.ndarray, radius_px: int, min_hole_px: int) -> np.ndarray:
    if radius_px <= 0:
        return disp
    hole = disp <= 0
    if min_hole_px > 1:
        labels, n = ndimage.label(hole, structure=np.ones((3, 3), bool))
        if n:
            sizes = np.bincount(labels.ravel())
            big = sizes >= min_hole_px
            big[0] = False
            hole = big[labels]
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))
    grown = cv2.dilate(hole.astype(np.uint8), k) > 0
    return np.where(grown, 0.0, disp).astype(np.float32)


def stage_seed(key: str, seed: int = 0) -> int:
    return (zlib.crc32(str(key).encode()) + 7919 * int(seed)) & 0xFFFFFFFF


def apply_postprocess(disp: np.ndarray, stages: Sequence[Mapping[str, Any]], key: str = "") -> np.ndarray:
    """The preset's stages, in order, on a disparity map (float32 px, 0 = hole); returns a new array."""
    out = np.asarray(disp, np.float32).copy()
    for st in normalise_stages(stages):
        name = st["stage"]
        if name == "decimation":
            out = decimate(out, st["magnitude"])
        elif name == "spatial":
            out = spatial_filter(out, st["iterations"], st["alpha"], st["delta_px"], st["holes_fill"])
        elif name == "hole_filling":
            out = hole_filling(out, st["mode"])
        elif name == "noise":
            rng = np.random.default_rng(stage_seed(key, st["seed"]))
            out = add_noise(out, st["disparity_sigma_px"], st["correlation_px"], rng)
        elif name == "edge_invalidation":
            out = edge_invalidation(out, st["jump_px"], st["radius_px"])
        elif name == "hole_dilation":
            out = hole_dilation(out, st["radius_px"], st["min_hole_px"])
        elif name == "speckle":
            out = remove_speckles(out, st["max_size"], st["range_px"])
    return out
