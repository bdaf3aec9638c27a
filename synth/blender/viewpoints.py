"""Camera viewpoints in free space, found by ray casts on the built bpy scene (procedural or imported).

``sample_viewpoints(built, n, rng)`` returns ``n`` 4x4 ``T_world_from_cam`` matrices in the OpenCV
camera convention (x right, y down, z forward; metres, world +z up). A view is accepted when

* the camera is 0.3-2.0 m above the floor, on the floor (a downward ray hits it), not inside an
  object's bounding box, and at least ``min_clearance`` from any geometry in 14 directions;
* it aims at a content object 0.2-6 m away with a hand-held / robot tilt (pitch -70..+35 deg,
  roll within +-12 deg);
* a coarse grid of rays over the field of view hits surfaces (>= 70 %), nothing nearer than 0.2 m
  (5th percentile), median depth <= 6 m, with depth variety, at least three objects, no object on
  more than 50 % and no single surface orientation on more than 75 % of the rays, and >= 10 % content
  (so never a single flat wall); the aimed-at object is >= 0.8 m away except in 20 % close-ups.

Views are independent: :func:`sample_viewpoints_for` takes one generator per view (the worker keys
each on ``(seed, scene, view)``, so a view is the same whatever unit it falls in);
:func:`sample_viewpoints` gives view k the k-th child of ``rng.spawn(n)``. A scene that offers no
valid view raises ValueError naming the scene (its file for an imported one) and the most frequent
reasons candidates were rejected.
``opencv_to_blender(T)`` converts a pose for a Blender camera (looks down -Z, +Y up).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

import bpy
import numpy as np
from mathutils import Vector

from synth.blender.build_scene import BuiltScene, world_aabb

CV_TO_BLENDER = np.diag([1.0, -1.0, -1.0, 1.0])
_DIRS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1],
                  [1, 1, 1], [1, -1, 1], [-1, 1, 1], [-1, -1, 1], [1, 1, -1], [1, -1, -1], [-1, 1, -1], [-1, -1, -1]],
                 float)
_DIRS /= np.linalg.norm(_DIRS, axis=1, keepdims=True)


def opencv_to_blender(T_world_from_cam: np.ndarray) -> np.ndarray:
    """OpenCV camera pose (x right, y down, z forward) -> Blender camera ``matrix_world`` (as numpy;
    use ``mathutils.Matrix(M.tolist())``)."""
    return np.asarray(T_world_from_cam, float) @ CV_TO_BLENDER


def blender_to_opencv(matrix_world) -> np.ndarray:
    return np.asarray(matrix_world, float) @ CV_TO_BLENDER


@dataclass
class ViewConfig:
    """Acceptance thresholds (metres, degrees)."""

    height: tuple[float, float] = (0.3, 2.0)
    min_clearance: float = 0.25
    target_distance: tuple[float, float] = (0.2, 6.0)
    pitch_deg: tuple[float, float] = (-70.0, 35.0)
    roll_deg: float = 12.0
    fov_deg: tuple[float, float] = (70.0, 55.0)
    grid: tuple[int, int] = (8, 6)
    min_hit_fraction: float = 0.7
    min_depth: float = 0.2
    max_median_depth: float = 6.0
    min_content_fraction: float = 0.1
    min_objects: int = 3
    max_object_fraction: float = 0.5
    max_plane_fraction: float = 0.75
    close_up_probability: float = 0.2  # else the aimed-at content is at least far_min away
    far_min: float = 0.8
    tries_per_view: int = 300


class _Caster:
    def __init__(self) -> None:
        self.scene = bpy.context.scene
        self.depsgraph = bpy.context.evaluated_depsgraph_get()

    def cast(self, origin, direction, distance: float = 1e4):
        """(hit, distance, normal (3,), object name)."""
        hit, loc, normal, _, obj, _ = self.scene.ray_cast(self.depsgraph, Vector(origin), Vector(direction),
                                                          distance=distance)
        if not hit:
            return False, math.inf, None, None
        d = (Vector(loc) - Vector(origin)).length
        return True, d, np.array(normal), obj.name


def _content(built: BuiltScene):
    """Content objects (not shell, not room-sized) with their world AABBs."""
    meshes = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    lo_b, hi_b = np.array(built.bounds[0]), np.array(built.bounds[1])
    vol_b = float(np.prod(np.maximum(hi_b - lo_b, 1e-3)))
    out = []
    for o in sorted(meshes, key=lambda o: o.name):
        if o.name in built.shell:
            continue
        lo, hi = world_aabb([o])
        ext = np.maximum(hi - lo, 1e-3)
        if np.prod(ext) > 0.3 * vol_b or (ext[:2] > 0.8 * (hi_b - lo_b)[:2]).all():
            continue  # room-sized (an imported room mesh): structure, not content
        out.append((o.name, lo, hi))
    return out


def camera_rotation(forward: np.ndarray, roll: float) -> np.ndarray:
    """R_world_from_cam (columns x right, y down, z forward) for a forward vector and a roll (rad)."""
    z = forward / np.linalg.norm(forward)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-6:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = math.cos(roll), math.sin(roll)
    x, y = c * x + s * y, -s * x + c * y
    return np.stack([x, y, z], axis=1)


def sample_viewpoints(built: BuiltScene, n: int, rng: np.random.Generator,
                      config: ViewConfig | None = None) -> list[np.ndarray]:
    """``n`` accepted 4x4 T_world_from_cam (OpenCV) poses; raises ValueError naming the scene if the
    scene offers too few valid views."""
    if n < 0:
        raise ValueError(f"scene {built.scene_id}: number of viewpoints must be >= 0, got {n}")
    return sample_viewpoints_for(built, list(rng.spawn(n)), config)


def _scene_label(built: BuiltScene) -> str:
    if built.source and built.source != "procedural" and not str(built.source).startswith("test:"):
        return f"scene {built.scene_id} ({built.source})"
    return f"scene {built.scene_id}"


def sample_viewpoints_for(built: BuiltScene, rngs: list[np.random.Generator], config: ViewConfig | None = None,
                          label: str | None = None) -> list[np.ndarray]:
    """One accepted pose per generator (view k from ``rngs[k]`` only)."""
    n = len(rngs)
    label = label or _scene_label(built)
    cfg = config or ViewConfig()
    caster = _Caster()
    content = _content(built)
    targets = content
    if not content:  # e.g. an imported scene that is one merged mesh: aim anywhere inside it
        meshes = sorted((o for o in bpy.context.scene.objects if o.type == "MESH"), key=lambda o: o.name)
        if not meshes:
            raise ValueError(f"scene {built.scene_id}: no mesh objects to look at")
        targets = [(o.name, *world_aabb([o])) for o in meshes]
    sizes = np.array([np.prod(np.maximum(hi - lo, 0.05)) for _, lo, hi in targets]) ** (1 / 3)
    if built.room == "shell" and config is None:  # an imported object in a procedural shell: frame it
        size = float((np.max([hi for _, _, hi in targets], axis=0) - np.min([lo for _, lo, _ in targets], axis=0)).max())
        cfg = replace(cfg, far_min=min(0.8, max(0.35, 2.5 * size)), close_up_probability=0.5,
                      min_content_fraction=0.02, max_object_fraction=0.95, max_plane_fraction=0.97, min_objects=2,
                      grid=(12, 9))
    weights = sizes / sizes.sum()
    rects = built.floor_rects or [(built.bounds[0][0], built.bounds[0][1], built.bounds[1][0], built.bounds[1][1])]
    ctx = _Ctx(caster, targets, weights, content, {name for name, _, _ in content}, rects,
               len([o for o in bpy.context.scene.objects if o.type == "MESH"]), Counter())
    views = []
    for k, child in enumerate(rngs):
        T = _one_view(built, ctx, child, cfg)
        if T is None:
            why = ", ".join(f"{reason} ({count})" for reason, count in ctx.rejected.most_common(3))
            raise ValueError(f"{label}: {'no valid viewpoint' if k == 0 else f'found only {k} of {n} valid viewpoints'}"
                             f" ({cfg.tries_per_view} candidates tried for view {k}; rejected as: {why}); the camera "
                             f"needs free floor space {cfg.height[0]}-{cfg.height[1]} m below a ceiling, "
                             f"{cfg.min_clearance} m from any surface, looking at content")
        views.append(T)
    return views


@dataclass
class _Ctx:
    caster: _Caster
    targets: list
    weights: np.ndarray
    content: list  # content objects whose AABBs the camera must stay out of
    content_names: set
    rects: list
    n_meshes: int
    rejected: Counter  # reason -> candidates rejected for it (for the error message)


def _one_view(built, ctx: _Ctx, g: np.random.Generator, cfg: ViewConfig):
    caster, rects = ctx.caster, ctx.rects
    areas = np.array([max(1e-6, (x1 - x0) * (y1 - y0)) for x0, y0, x1, y1 in rects])
    ceiling = built.bounds[1][2]
    floor = built.floor_z
    margin = cfg.min_clearance
    for _ in range(cfg.tries_per_view):
        x0, y0, x1, y1 = rects[int(g.choice(len(rects), p=areas / areas.sum()))]
        if x1 - x0 <= 2 * margin or y1 - y0 <= 2 * margin:
            ctx.rejected["floor narrower than twice the clearance"] += 1
            continue
        top = min(cfg.height[1], ceiling - floor - margin)
        if top <= cfg.height[0]:
            top = cfg.height[0] + 0.01
        pos = np.array([g.uniform(x0 + margin, x1 - margin), g.uniform(y0 + margin, y1 - margin),
                        floor + g.uniform(cfg.height[0], top)])
        name, lo, hi = ctx.targets[int(g.choice(len(ctx.targets), p=ctx.weights))]
        target = lo + (hi - lo) * g.uniform(0.2, 0.8, 3)
        jitter_yaw, jitter_pitch = np.radians(g.normal(0, 6)), np.radians(g.normal(0, 5))
        roll = float(np.radians(np.clip(g.normal(0, 5), -cfg.roll_deg, cfg.roll_deg)))
        near = cfg.target_distance[0] + 0.1 if g.random() < cfg.close_up_probability else cfg.far_min
        if not _free(caster, pos, ctx.content, cfg):
            ctx.rejected["camera position not free (no floor below, or too close to a surface)"] += 1
            continue
        d = target - pos
        dist = float(np.linalg.norm(d))
        if not (near <= dist <= cfg.target_distance[1]):
            ctx.rejected["content too near or too far"] += 1
            continue
        yaw = math.atan2(d[1], d[0]) + jitter_yaw
        pitch = math.asin(max(-1.0, min(1.0, d[2] / dist))) + jitter_pitch
        if not (math.radians(cfg.pitch_deg[0]) <= pitch <= math.radians(cfg.pitch_deg[1])):
            ctx.rejected["camera tilt out of range"] += 1
            continue
        fwd = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
        R = camera_rotation(fwd, roll)
        if _good_view(ctx, pos, R, cfg):
            T = np.eye(4)
            T[:3, :3] = R
            T[:3, 3] = pos
            return T
        ctx.rejected["view content (holes, too near, one surface, too few objects)"] += 1
    return None


def _free(caster: _Caster, pos: np.ndarray, content, cfg: ViewConfig) -> bool:
    for _, lo, hi in content:
        if (pos > lo - 0.05).all() and (pos < hi + 0.05).all():
            return False
    backfaces = 0
    for i, d in enumerate(_DIRS):
        hit, dist, normal, _ = caster.cast(pos, d)
        if i == 5:  # straight down: must land on the floor, not too far
            if not hit or dist > cfg.height[1] + 0.3 or normal[2] < 0.5:
                return False
        if hit and dist < cfg.min_clearance:
            return False
        if hit and float(normal @ d) > 0:
            backfaces += 1
    return backfaces < 10


def _largest_orientation_share(normals: np.ndarray) -> float:
    """Share of the rays whose surface normal lies within ~25 deg (either sign) of the most common one."""
    best = 0
    for ref in normals[:: max(1, len(normals) // 12)]:
        best = max(best, int((np.abs(normals @ ref) > 0.9).sum()))
    return best / len(normals)


def _good_view(ctx: _Ctx, pos, R, cfg: ViewConfig) -> bool:
    caster = ctx.caster
    gw, gh = cfg.grid
    tx, ty = math.tan(math.radians(cfg.fov_deg[0] / 2)), math.tan(math.radians(cfg.fov_deg[1] / 2))
    depths, names, normals = [], [], []
    misses = 0
    total = gw * gh
    for v in np.linspace(-ty, ty, gh):
        for u in np.linspace(-tx, tx, gw):
            ray = R @ np.array([u, v, 1.0])
            ray /= np.linalg.norm(ray)
            hit, dist, normal, name = caster.cast(pos, ray)
            if not hit:
                misses += 1
                if misses > (1 - cfg.min_hit_fraction) * total:
                    return False
                continue
            depths.append(dist * float(ray @ R[:, 2]))
            names.append(name)
            normals.append(normal)
    depths_a = np.array(depths)
    if np.percentile(depths_a, 5) < cfg.min_depth or np.median(depths_a) > cfg.max_median_depth:
        return False
    if np.percentile(depths_a, 90) < 1.15 * np.percentile(depths_a, 10):
        return False
    counts = sorted(Counter(names).values(), reverse=True)
    if len(counts) < min(cfg.min_objects, ctx.n_meshes) or counts[0] > cfg.max_object_fraction * total:
        return False
    if _largest_orientation_share(np.array(normals)) > cfg.max_plane_fraction:  # a flat wall fills the view
        return False
    if not ctx.content_names:
        return True
    content_hits = sum(1 for nm in names if nm in ctx.content_names)
    return content_hits >= cfg.min_content_fraction * total
