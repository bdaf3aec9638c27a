"""Physical validity of a scene description: support, no interpenetration, inside the room.

``check_scene(scene) -> list[str]`` returns human-readable problems (empty = valid). It re-derives
everything from the description (not from the generator's bookkeeping), with a contact tolerance of
``EPS`` metres, using conservative per-part AABBs.
"""
from __future__ import annotations

import math

import numpy as np

from scenes.geometry import EPS, object_aabbs, overlaps, rects_inside_room, world_to_local_xy
from scenes.materials import CLASS_IDS, GROUPS
from scenes.model import Scene, SceneObject

LIGHT_ROLES = ("ceiling", "lamp", "sun", "window")


def check_scene(scene: Scene) -> list[str]:
    problems: list[str] = []
    room = scene.room
    label = f"scene {scene.scene_id}"
    names = [o.name for o in scene.objects]
    if len(set(names)) != len(names):
        problems.append(f"{label}: duplicate object names")
    mats = {m.name: m for m in scene.materials}
    for m in scene.materials:
        if m.cls not in CLASS_IDS:
            problems.append(f"{label}: material {m.name} has unknown class {m.cls!r}")
    boxes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for obj in scene.objects:
        for part in obj.parts:
            if part.material not in mats:
                problems.append(f"{label}: {obj.name} uses undefined material {part.material!r}")
            if min(part.size) <= 0:
                problems.append(f"{label}: {obj.name} has a degenerate part {part.shape} {part.size}")
        boxes[obj.name] = object_aabbs(obj)

    by_name = {o.name: o for o in scene.objects}
    inner = [o for o in scene.objects if o.kind not in ("shell", "opening")]
    for obj in inner:
        lo, hi = boxes[obj.name]
        if not rects_inside_room(lo, hi, room.width, room.depth, room.height, room.notch):
            problems.append(f"{label}: {obj.name} is not inside the room (pierces a wall, floor or ceiling)")
        problems += [f"{label}: {p}" for p in _support_problems(obj, lo, hi, scene, by_name)]
        if not _connected(lo, hi):
            problems.append(f"{label}: {obj.name} has a floating part (parts do not touch)")

    # interpenetration between different objects (openings included: door handles, sills)
    solid = [o for o in scene.objects if o.kind != "shell"]
    lo_all = np.vstack([boxes[o.name][0] for o in solid])
    hi_all = np.vstack([boxes[o.name][1] for o in solid])
    owner = np.concatenate([np.full(len(o.parts), i) for i, o in enumerate(solid)])
    hit = overlaps(lo_all, hi_all, lo_all, hi_all) & (owner[:, None] != owner[None, :])
    for i, j in zip(*np.nonzero(np.triu(hit))):
        problems.append(f"{label}: {solid[owner[i]].name} interpenetrates {solid[owner[j]].name}")

    # openings stay inside their wall hole, walls leave the hole free
    shell_walls = [o for o in scene.objects if o.category == "wall"]
    if shell_walls:
        wl = np.vstack([boxes[o.name][0] for o in shell_walls])
        wh = np.vstack([boxes[o.name][1] for o in shell_walls])
        for obj in (o for o in scene.objects if o.kind == "opening"):
            lo, hi = boxes[obj.name]
            if overlaps(lo, hi, wl, wh, 2 * EPS).any():
                problems.append(f"{label}: opening {obj.name} intersects a wall")

    for li in scene.lights:
        if li.role not in LIGHT_ROLES:
            problems.append(f"{label}: light {li.name} has unknown role {li.role!r}")
        if not (li.energy > 0 and math.isfinite(li.energy)):
            problems.append(f"{label}: light {li.name} has energy {li.energy}")
        if li.kind != "SUN":
            x, y, z = li.position
            if not (0 <= x <= room.width and 0 <= y <= room.depth and 0 < z < room.height):
                problems.append(f"{label}: light {li.name} is outside the room")
    if not scene.lights:
        problems.append(f"{label}: no lights")
    for group in ("transparent", "specular"):
        if not any(scene.object_classes(o) & set(GROUPS[group]) for o in inner):
            problems.append(f"{label}: no {group} object")
    return problems


def _support_problems(obj: SceneObject, lo: np.ndarray, hi: np.ndarray, scene: Scene, by_name) -> list[str]:
    room = scene.room
    if obj.mount == "floor":
        if abs(lo[:, 2].min()) > EPS:
            return [f"{obj.name} should stand on the floor but its lowest point is at z={lo[:, 2].min():.4f}"]
        return []
    if obj.mount == "ceiling":
        if abs(hi[:, 2].max() - room.height) > EPS:
            return [f"{obj.name} should hang from the ceiling but its top is at z={hi[:, 2].max():.4f}"]
        return []
    if obj.mount == "wall":
        try:
            wall = room.wall(obj.support or "")
        except KeyError:
            return [f"{obj.name} is wall-mounted on unknown wall {obj.support!r}"]
        # distance of the object's back from the wall plane, along the wall's inward normal
        nx, ny = wall.inward
        corners = np.concatenate([lo[:, :2], hi[:, :2], np.c_[lo[:, 0], hi[:, 1]], np.c_[hi[:, 0], lo[:, 1]]])
        dist = (corners[:, 0] - wall.start[0]) * nx + (corners[:, 1] - wall.start[1]) * ny
        if abs(dist.min()) > 1e-3:
            return [f"{obj.name} should hang on {wall.name} but is {dist.min():.4f} m from it"]
        return []
    if obj.mount == "surface":
        owner = by_name.get(obj.support or "")
        if owner is None or obj.support_surface is None or obj.support_surface >= len(owner.surfaces):
            return [f"{obj.name} stands on a missing surface {obj.support}[{obj.support_surface}]"]
        surf = owner.surfaces[obj.support_surface]
        z = owner.position[2] + surf.z
        if abs(lo[:, 2].min() - z) > EPS:
            return [f"{obj.name} floats or sinks: base z={lo[:, 2].min():.4f}, surface of {owner.name} at {z:.4f}"]
        # footprint corners (exact, in the object frame) must lie on the surface rectangle
        pts = []
        for part in obj.parts:
            (cx, cy, _), (sx, sy, _) = part.center, part.size
            pts += [(cx + ax * sx / 2, cy + ay * sy / 2) for ax in (-1, 1) for ay in (-1, 1)]
        from scenes.geometry import rot2
        world = np.asarray(pts) @ rot2(obj.yaw).T + np.asarray(obj.position[:2])
        local = world_to_local_xy(world, owner.position, owner.yaw)
        x0, y0, x1, y1 = surf.rect
        if (local[:, 0] < x0 - 1e-3).any() or (local[:, 0] > x1 + 1e-3).any() or \
                (local[:, 1] < y0 - 1e-3).any() or (local[:, 1] > y1 + 1e-3).any():
            return [f"{obj.name} overhangs the surface of {owner.name}"]
        return []
    return [f"{obj.name} has unknown mount {obj.mount!r}"]


def _connected(lo: np.ndarray, hi: np.ndarray, tol: float = 2e-3) -> bool:
    """Parts' AABBs (grown by tol) form one connected contact graph."""
    n = len(lo)
    if n <= 1:
        return True
    touch = np.all((lo[:, None, :] <= hi[None, :, :] + tol) & (hi[:, None, :] >= lo[None, :, :] - tol), axis=2)
    seen = {0}
    stack = [0]
    while stack:
        i = stack.pop()
        for j in np.nonzero(touch[i])[0]:
            if int(j) not in seen:
                seen.add(int(j))
                stack.append(int(j))
    return len(seen) == n
