"""Primitive constructors, object-to-world transforms and axis-aligned bounding boxes (metres).

All collision reasoning uses per-part world AABBs. For a box rotated by a yaw that is not a multiple
of 90 deg its AABB is conservative (larger than the box), so "AABBs do not overlap" implies "parts do
not interpenetrate".
"""
from __future__ import annotations

import math

import numpy as np

from scenes.model import Part, SceneObject, Surface

EPS = 1e-4  # contact tolerance (m): faces may touch, not overlap by more than this
ROUND_SHAPES = ("cylinder", "sphere", "cup", "tube")


# ---------------------------------------------------------------------------------------- constructors


def box(x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, material: str) -> Part:
    """Axis-aligned box between two corners (local frame)."""
    lo_x, hi_x = min(x0, x1), max(x0, x1)
    lo_y, hi_y = min(y0, y1), max(y0, y1)
    lo_z, hi_z = min(z0, z1), max(z0, z1)
    return Part("box", ((lo_x + hi_x) / 2, (lo_y + hi_y) / 2, (lo_z + hi_z) / 2),
                (hi_x - lo_x, hi_y - lo_y, hi_z - lo_z), material)


def cyl(x: float, y: float, z0: float, z1: float, r: float, material: str, taper: float = 1.0) -> Part:
    """Vertical cylinder (or frustum: top radius = r * taper when taper < 1) from z0 to z1."""
    rmax = r * max(1.0, taper)
    return Part("cylinder", (x, y, (z0 + z1) / 2), (2 * rmax, 2 * rmax, z1 - z0), material, taper=taper)


def cup(x: float, y: float, z0: float, z1: float, r: float, wall: float, material: str,
        taper: float = 1.0) -> Part:
    """Hollow cylinder open at the top (bottom radius r, top radius r * taper, wall thickness)."""
    rmax = r * max(1.0, taper)
    return Part("cup", (x, y, (z0 + z1) / 2), (2 * rmax, 2 * rmax, z1 - z0), material, taper=taper, wall=wall)


def tube(x: float, y: float, z0: float, z1: float, r: float, wall: float, material: str,
         taper: float = 1.0) -> Part:
    """Hollow cylinder open at both ends (lamp shades), bottom radius r, top radius r * taper."""
    rmax = r * max(1.0, taper)
    return Part("tube", (x, y, (z0 + z1) / 2), (2 * rmax, 2 * rmax, z1 - z0), material, taper=taper, wall=wall)


def sphere(x: float, y: float, z: float, r: float, material: str) -> Part:
    return Part("sphere", (x, y, z), (2 * r, 2 * r, 2 * r), material)


# ---------------------------------------------------------------------------------------- transforms


def rot2(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    if abs(c) < 1e-12:
        c = 0.0
    if abs(s) < 1e-12:
        s = 0.0
    return np.array([[c, -s], [s, c]])


def local_to_world_xy(x: float, y: float, position, yaw: float) -> tuple[float, float]:
    r = rot2(yaw)
    wx, wy = r @ np.array([x, y])
    return float(wx + position[0]), float(wy + position[1])


def world_to_local_xy(points: np.ndarray, position, yaw: float) -> np.ndarray:
    """(N, 2) world xy -> (N, 2) in the frame of an object at ``position`` with ``yaw``."""
    return (points - np.asarray(position[:2])) @ rot2(yaw)


def local_arrays(parts: list[Part]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centres (N, 3), half extents (N, 3), is-box flags (N,)) of parts in their local frame."""
    c = np.array([p.center for p in parts], float).reshape(-1, 3)
    h = np.array([p.size for p in parts], float).reshape(-1, 3) / 2
    is_box = np.array([p.shape not in ROUND_SHAPES for p in parts], bool)
    return c, h, is_box


def parts_aabbs(parts: list[Part], position, yaw: float, arrays=None) -> tuple[np.ndarray, np.ndarray]:
    """World AABBs (lo, hi), each (N, 3), of an object's parts (``arrays`` = cached local_arrays)."""
    c, h, is_box = arrays if arrays is not None else local_arrays(parts)
    r = rot2(yaw)
    wc = np.empty_like(c)
    wc[:, :2] = c[:, :2] @ r.T + np.asarray(position[:2], float)
    wc[:, 2] = c[:, 2] + position[2]
    wh = h.copy()
    wh[is_box, :2] = h[is_box, :2] @ np.abs(r).T
    return wc - wh, wc + wh


def object_aabbs(obj: SceneObject) -> tuple[np.ndarray, np.ndarray]:
    return parts_aabbs(obj.parts, obj.position, obj.yaw)


def surface_world_corners(obj: SceneObject, surface: Surface) -> np.ndarray:
    """(4, 2) world xy corners of a support surface of ``obj``."""
    x0, y0, x1, y1 = surface.rect
    local = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
    return local @ rot2(obj.yaw).T + np.asarray(obj.position[:2], float)


def overlaps(lo: np.ndarray, hi: np.ndarray, lo_all: np.ndarray, hi_all: np.ndarray,
             eps: float = EPS) -> np.ndarray:
    """(N, M) bool: box i of (lo, hi) overlaps box j of (lo_all, hi_all) by more than eps in every axis."""
    if len(lo_all) == 0 or len(lo) == 0:
        return np.zeros((len(lo), len(lo_all)), bool)
    return np.all((lo[:, None, :] < hi_all[None, :, :] - eps) & (hi[:, None, :] > lo_all[None, :, :] + eps), axis=2)


def rects_inside_room(lo: np.ndarray, hi: np.ndarray, width: float, depth: float, height: float,
                      notch, eps: float = EPS) -> bool:
    """True when every box lies within the room interior (bounding box minus the notch)."""
    mn, mx = lo.min(axis=0), hi.max(axis=0)
    if mn[0] < -eps or mn[1] < -eps or mn[2] < -eps or mx[0] > width + eps or mx[1] > depth + eps \
            or mx[2] > height + eps:
        return False
    if notch is not None:
        nx0, ny0, nx1, ny1 = notch
        if mn[0] >= nx1 - eps or mx[0] <= nx0 + eps or mn[1] >= ny1 - eps or mx[1] <= ny0 + eps:
            return True  # the union box misses the notch, so every part does
        n_lo = np.array([[nx0, ny0, -1.0]])
        n_hi = np.array([[nx1, ny1, height + 1.0]])
        if overlaps(lo, hi, n_lo, n_hi, eps).any():
            return False
    return True


class Occupancy:
    """Growing set of world AABBs with owners; answers "would these boxes collide?" quickly.

    ``keepout`` boxes (door swing, space in front of windows) block furniture and floor clutter but
    not wall-mounted items or clutter on furniture.
    """

    def __init__(self) -> None:
        self._lo = np.zeros((0, 3))
        self._hi = np.zeros((0, 3))
        self._owner: list[str] = []
        self._klo = np.zeros((0, 3))
        self._khi = np.zeros((0, 3))

    def add(self, owner: str, lo: np.ndarray, hi: np.ndarray) -> None:
        self._lo = np.vstack([self._lo, lo])
        self._hi = np.vstack([self._hi, hi])
        self._owner += [owner] * len(lo)

    def add_keepout(self, lo, hi) -> None:
        self._klo = np.vstack([self._klo, np.asarray(lo, float).reshape(1, 3)])
        self._khi = np.vstack([self._khi, np.asarray(hi, float).reshape(1, 3)])

    def collides(self, lo: np.ndarray, hi: np.ndarray, keepouts: bool = True) -> bool:
        if overlaps(lo, hi, self._lo, self._hi).any():
            return True
        return bool(keepouts and overlaps(lo, hi, self._klo, self._khi).any())
