"""Placement: put generated items into the room without interpenetration, floating or wall piercing.

Every candidate pose is tested with per-part world AABBs against everything placed so far (and the
keep-out boxes in front of doors and windows) and against the room interior. Wall items get their
back flush with a wall's interior face, surface items stand exactly on a support surface, ceiling
items hang from the ceiling.
"""
from __future__ import annotations

import math

import numpy as np

from scenes.geometry import Occupancy, parts_aabbs, rects_inside_room, rot2
from scenes.items import Item, R
from scenes.model import Room, SceneObject, Surface, Wall


class Placer:
    """Holds the room, the placed objects and their occupancy; offers pose samplers."""

    def __init__(self, room: Room, occupancy: Occupancy):
        self.room = room
        self.occ = occupancy
        self.objects: list[SceneObject] = []
        self.lamps: list[tuple[str, tuple[float, float, float]]] = []  # (owner, world bulb position)
        self._counts: dict[str, int] = {}
        self.wall_of: dict[str, tuple[Wall, float]] = {}  # object -> (wall, offset along it) for wall-placed items

    # ---------------------------------------------------------------- core

    def _name(self, category: str) -> str:
        n = self._counts.get(category, 0)
        self._counts[category] = n + 1
        return f"{category}_{n:02d}"

    def fits(self, item: Item, position, yaw: float, keepouts: bool = True) -> bool:
        lo, hi = parts_aabbs(item.parts, position, yaw, item.arrays())
        room = self.room
        if not rects_inside_room(lo, hi, room.width, room.depth, room.height, room.notch):
            return False
        return not self.occ.collides(lo, hi, keepouts)

    def commit(self, item: Item, position, yaw: float, kind: str, mount: str, support: str | None = None,
               support_surface: int | None = None) -> SceneObject:
        position = (float(position[0]), float(position[1]), float(position[2]))
        obj = SceneObject(self._name(item.category), item.category, kind, mount, position, float(yaw), item.parts,
                          support, support_surface, item.surfaces)
        lo, hi = parts_aabbs(item.parts, position, yaw, item.arrays())
        self.occ.add(obj.name, lo, hi)
        self.objects.append(obj)
        rot = rot2(yaw)
        for lx, ly, lz in item.lamps:
            wx, wy = rot @ np.array([lx, ly])
            self.lamps.append((obj.name, (float(wx + position[0]), float(wy + position[1]), float(lz + position[2]))))
        return obj

    def try_pose(self, item: Item, position, yaw: float, kind: str, mount: str, support: str | None = None,
                 support_surface: int | None = None, keepouts: bool = True) -> SceneObject | None:
        if not self.fits(item, position, yaw, keepouts):
            return None
        return self.commit(item, position, yaw, kind, mount, support, support_surface)

    # ---------------------------------------------------------------- samplers

    def against_wall(self, r: R, item: Item, kind: str = "furniture", mount: str = "floor", z: float = 0.0,
                     tries: int = 14, walls: list[Wall] | None = None, corner: bool = False) -> SceneObject | None:
        """Back of the item flush with a wall (mount 'floor' stands on the floor, 'wall' hangs at z)."""
        lo, hi = item.extents()
        walls = walls or self.room.walls
        lengths = np.array([w.length for w in walls])
        usable = lengths - (hi[0] - lo[0]) - 0.04
        if (usable <= 0).all():
            return None
        weights = np.clip(usable, 0, None)
        for _ in range(tries):
            wall = r.choice(walls, weights)
            a, b = -lo[0] + 0.02, wall.length - hi[0] - 0.02
            if b < a:
                continue
            s = (a if r.p(0.5) else b) if corner else r.u(a, b)
            pos = self._wall_point(wall, s, -lo[1], z - lo[2])
            obj = self.try_pose(item, pos, wall.yaw, kind, mount, support=wall.name if mount == "wall" else None)
            if obj is not None:
                self.wall_of[obj.name] = (wall, s)
                return obj
        return None

    def on_wall_at(self, item: Item, wall: Wall, s: float, z: float, kind: str = "fixture") -> SceneObject | None:
        """Hang ``item`` on ``wall`` centred at offset ``s`` with its lowest point at height ``z``."""
        lo, hi = item.extents()
        pos = self._wall_point(wall, s - (lo[0] + hi[0]) / 2, -lo[1], z - lo[2])
        obj = self.try_pose(item, pos, wall.yaw, kind, "wall", support=wall.name)
        if obj is not None:
            self.wall_of[obj.name] = (wall, s)
        return obj

    def _wall_point(self, wall: Wall, s: float, out: float, z: float) -> tuple[float, float, float]:
        dx, dy = wall.direction
        nx, ny = wall.inward
        return (wall.start[0] + dx * s + nx * out, wall.start[1] + dy * s + ny * out, z)

    def free(self, r: R, item: Item, kind: str = "furniture", margin: float = 0.3, tries: int = 14,
             yaw_jitter: float = 0.0) -> SceneObject | None:
        """Anywhere on the floor, axis-aligned yaw (plus optional jitter), keeping ``margin`` to walls."""
        rects = self.room.floor_rects()
        areas = np.array([(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects])
        lo, hi = item.extents()
        half = max(hi[0] - lo[0], hi[1] - lo[1]) / 2
        for _ in range(tries):
            x0, y0, x1, y1 = r.choice(rects, areas)
            m = half + margin
            if x1 - x0 < 2 * m or y1 - y0 < 2 * m:
                m = half + 0.02
                if x1 - x0 < 2 * m or y1 - y0 < 2 * m:
                    continue
            pos = (r.u(x0 + m, x1 - m), r.u(y0 + m, y1 - m), 0.0)
            yaw = r.choice([0.0, math.pi / 2, math.pi, -math.pi / 2]) + (r.u(-yaw_jitter, yaw_jitter) if yaw_jitter else 0.0)
            obj = self.try_pose(item, pos, yaw, kind, "floor")
            if obj is not None:
                return obj
        return None

    def relative(self, item: Item, anchor: SceneObject, local_xy: tuple[float, float], local_yaw: float,
                 kind: str = "furniture") -> SceneObject | None:
        """Floor item at a pose given in the anchor's frame (chairs at tables, nightstands by beds)."""
        wx, wy = rot2(anchor.yaw) @ np.array(local_xy)
        pos = (wx + anchor.position[0], wy + anchor.position[1], 0.0)
        return self.try_pose(item, pos, anchor.yaw + local_yaw, kind, "floor")

    def on_surface(self, r: R, item: Item, owner: SceneObject, index: int, tries: int = 6,
                   local_xy: tuple[float, float] | None = None, yaw: float | None = None,
                   kind: str = "clutter") -> SceneObject | None:
        """Stand ``item`` on surface ``index`` of ``owner`` (footprint inside the rect, below clearance)."""
        surf: Surface = owner.surfaces[index]
        lo, hi = item.extents()
        if hi[2] - lo[2] > surf.clearance - 0.005:
            return None
        x0, y0, x1, y1 = surf.rect
        for _ in range(tries if local_xy is None else 1):
            rel_yaw = yaw if yaw is not None else r.choice([0.0, math.pi / 2, math.pi, -math.pi / 2]) + r.u(-0.3, 0.3)
            # footprint of the item in the surface frame
            rot = rot2(rel_yaw)
            corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]]) @ rot.T
            cmin, cmax = corners.min(axis=0), corners.max(axis=0)
            ax, bx = x0 - cmin[0], x1 - cmax[0]
            ay, by = y0 - cmin[1], y1 - cmax[1]
            if bx < ax or by < ay:
                continue
            if local_xy is None:
                lx, ly = r.u(ax, bx), r.u(ay, by)
            else:
                lx, ly = min(max(local_xy[0], ax), bx), min(max(local_xy[1], ay), by)
            wx, wy = rot2(owner.yaw) @ np.array([lx, ly])
            pos = (wx + owner.position[0], wy + owner.position[1], owner.position[2] + surf.z)
            obj = self.try_pose(item, pos, owner.yaw + rel_yaw, kind, "surface", owner.name, index, keepouts=False)
            if obj is not None:
                return obj
        return None

    def on_ceiling(self, item: Item, xy: tuple[float, float], yaw: float = 0.0,
                   kind: str = "fixture") -> SceneObject | None:
        lo, hi = item.extents()
        pos = (xy[0], xy[1], self.room.height - hi[2])
        return self.try_pose(item, pos, yaw, kind, "ceiling", keepouts=False)

    def surfaces(self, categories: set[str] | None = None) -> list[tuple[SceneObject, int]]:
        """All (owner, surface index) pairs, optionally only for owners of given categories."""
        out = []
        for obj in self.objects:
            if categories is not None and obj.category not in categories:
                continue
            for k in range(len(obj.surfaces)):
                out.append((obj, k))
        return out

    def of(self, *categories: str) -> list[SceneObject]:
        return [o for o in self.objects if o.category in categories]
