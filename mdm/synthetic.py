"""Analytic indoor scenes written as real shards, for tests and benchmarks before rendered data exists.

A scene is a box-shaped room (floor, ceiling, three walls, sometimes a window with no GT behind it) with
3-7 boxes on the floor, each with a material class. Rays are cast exactly, so ``depth_rgb`` (planar z,
metres, RGB frame) and ``rgb`` agree; ``sensor_depth`` (uint16 mm, 0 = hole) imitates an active-stereo
sensor: noise growing with z^2, occlusion bands left of depth edges, holes on dark and specular
surfaces, see-through depth on glass, virtual depth on mirrors, no return beyond 8 m. This is a fixture
with realistic failure modes, not a stand-in for the Blender renderer.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lbd.classes import CLASS_IDS, MATERIAL_CLASSES
from synth import shards

TEXTURED, TEXTURELESS, GLOSSY, METAL, MIRROR, GLASS, DARK = (
    CLASS_IDS[c] for c in ("textured", "textureless", "glossy", "metal", "mirror", "glass", "dark"))
BOX_MATERIALS = (TEXTURED, TEXTURED, TEXTURELESS, GLOSSY, METAL, MIRROR, GLASS, DARK)


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return r_yaw @ r_pitch


def _hit_box(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Slab test: ray parameter t (inf = miss) and the hit face's axis (0, 1, 2) and sign."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1, t2 = (lo - o) * inv, (hi - o) * inv
    tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
    axis = np.argmax(tmin, axis=-1)
    tnear, tfar = tmin.max(axis=-1), tmax.min(axis=-1)
    hit = (tnear <= tfar) & (tnear > 1e-3)
    sign = -np.sign(np.take_along_axis(d, axis[..., None], -1)[..., 0])
    return np.where(hit, tnear, np.inf), axis, sign


def _smooth_noise(shape, rng, cell: int = 24) -> np.ndarray:
    h, w = shape
    small = rng.random((max(2, h // cell), max(2, w // cell))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def render_scene(size: tuple[int, int], rng: np.random.Generator) -> dict:
    """One view: rgb (H, W, 3) uint8, depth (H, W) float32 m, sensor (H, W) uint16 mm, material, K."""
    h, w = size
    fx = w * rng.uniform(0.7, 1.1)
    K = np.array([[fx, 0, (w - 1) / 2 + rng.uniform(-2, 2)], [0, fx, (h - 1) / 2 + rng.uniform(-2, 2)],
                  [0, 0, 1]])
    R = _rotation(rng.uniform(-0.35, 0.35), rng.uniform(-0.3, 0.1))
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    rays_cam = np.stack([(u - K[0, 2]) / fx, (v - K[1, 2]) / fx, np.ones_like(u, dtype=float)], -1)
    d = rays_cam @ R.T  # world direction with camera-z component 1, so t = planar depth
    o = np.zeros(3)
    cam_h, room_h = rng.uniform(1.0, 1.7), rng.uniform(2.4, 3.2)
    back, left, right = rng.uniform(3.0, 9.0), rng.uniform(1.5, 4.0), rng.uniform(1.5, 4.0)
    # room: interior of a box; the exit distance of each slab is the wall hit
    lo, hi = np.array([-left, cam_h - room_h, -2.0]), np.array([right, cam_h, back])
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hi, t_lo = (hi - o) / d, (lo - o) / d
    t_exit = np.where(d > 0, t_hi, t_lo)
    t_exit = np.where(np.isfinite(t_exit) & (t_exit > 0), t_exit, np.inf)
    axis = np.argmin(t_exit, -1)
    t_room = t_exit.min(-1)
    normal_sign = -np.sign(np.take_along_axis(d, axis[..., None], -1)[..., 0])
    surf_id = axis.astype(np.int32)  # 0 side walls, 1 floor/ceiling, 2 back/front wall
    t, ids, ax, sg = t_room, surf_id, axis, normal_sign
    n_boxes = int(rng.integers(3, 8))
    boxes = []
    for _ in range(n_boxes):
        sx, sz, sy = rng.uniform(0.2, 1.2), rng.uniform(0.2, 1.2), rng.uniform(0.2, 1.6)
        cx, cz = rng.uniform(-left + sx / 2, right - sx / 2), rng.uniform(1.0, back - sz / 2)
        blo, bhi = np.array([cx - sx / 2, cam_h - sy, cz - sz / 2]), np.array([cx + sx / 2, cam_h, cz + sz / 2])
        boxes.append((blo, bhi, int(rng.choice(BOX_MATERIALS)), rng.uniform(0.1, 0.9, 3)))
    opaque_t, opaque_id, opaque_ax, opaque_sg = t.copy(), ids.copy(), ax.copy(), sg.copy()
    glass_t = np.full(t.shape, np.inf)
    for b, (blo, bhi, mat, _) in enumerate(boxes):
        tb, axb, sgb = _hit_box(o, d, blo, bhi)
        if mat == GLASS:
            glass_t = np.minimum(glass_t, tb)
            continue
        closer = tb < opaque_t
        opaque_t = np.where(closer, tb, opaque_t)
        opaque_id = np.where(closer, 3 + b, opaque_id)
        opaque_ax = np.where(closer, axb, opaque_ax)
        opaque_sg = np.where(closer, sgb, opaque_sg)
    glass = glass_t < opaque_t
    depth = np.where(glass, glass_t, opaque_t)
    # materials and colours of the opaque surfaces
    wall_mat = TEXTURED if rng.random() < 0.6 else TEXTURELESS
    wall_rgb = rng.uniform(0.3, 0.9, 3)
    floor_rgb = rng.uniform(0.2, 0.7, 3)
    pts = o + d * opaque_t[..., None]
    material = np.full((h, w), wall_mat, np.uint8)
    base = np.where((opaque_id == 1)[..., None], floor_rgb, wall_rgb)
    freq = rng.uniform(3, 10)
    pattern = 0.75 + 0.25 * np.sign(np.sin(freq * pts[..., 0]) * np.sin(freq * pts[..., 1] + 0.3)
                                     * np.sin(freq * pts[..., 2]))
    tex = np.where((opaque_id <= 2) & (wall_mat == TEXTURED), pattern, 1.0)
    for b, (_, _, mat, colour) in enumerate(boxes):
        sel = opaque_id == 3 + b
        material[sel] = mat
        base[sel] = colour * (0.08 if mat == DARK else 1.0)
        if mat == TEXTURED:
            tex = np.where(sel, 0.7 + 0.3 * np.sin(freq * 2 * (pts[..., 0] + pts[..., 1] + pts[..., 2])), tex)
    normal = np.zeros(pts.shape)
    np.put_along_axis(normal, opaque_ax[..., None], opaque_sg[..., None], -1)
    light = np.array([0.3, -0.8, -0.5]) / np.linalg.norm([0.3, -0.8, -0.5])
    lambert = np.clip(normal @ light, 0, 1)
    view = -d / np.linalg.norm(d, axis=-1, keepdims=True)
    half = (light + view) / np.linalg.norm(light + view, axis=-1, keepdims=True)
    spec = np.clip((normal * half).sum(-1), 0, 1) ** 40
    shiny = np.isin(material, (GLOSSY, METAL, MIRROR))
    rgb = base * tex[..., None] * (0.35 + 0.65 * lambert[..., None]) + np.where(shiny, spec, 0)[..., None]
    rgb = np.where((material == MIRROR)[..., None], 0.5 * rgb + 0.4 * rgb[::-1], rgb)
    rgb = np.where(glass[..., None], 0.75 * rgb + np.array([0.05, 0.12, 0.18]), rgb)
    material = np.where(glass, GLASS, material).astype(np.uint8)
    # window: no surface behind it (GT 0), bright sky
    if rng.random() < 0.3:
        window = (opaque_id == 2) & (np.abs(pts[..., 0] - rng.uniform(-1, 1)) < rng.uniform(0.4, 1.0)) \
            & (pts[..., 1] > cam_h - room_h + 0.4) & (pts[..., 1] < cam_h - 0.9) & ~glass
        depth = np.where(window, 0.0, depth)
        rgb = np.where(window[..., None], np.array([0.75, 0.85, 1.0]), rgb)
        material = np.where(window, 0, material).astype(np.uint8)
    rgb = np.clip(rgb + rng.normal(0, 0.01, rgb.shape), 0, 1)
    depth = np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)
    sensor = _sensor_depth(depth, np.where(glass, opaque_t, depth), material, spec, fx, rng)
    return {"rgb": (rgb * 255).round().astype(np.uint8), "depth": depth, "sensor": sensor,
            "material": material, "K": K, "R": R}


def _sensor_depth(depth, behind, material, spec, fx, rng) -> np.ndarray:
    """Active-stereo-like measurement of ``depth`` (m) -> uint16 mm, 0 = hole."""
    shape = depth.shape
    z = np.where(material == GLASS, np.where(np.isfinite(behind), behind, 0.0), depth)
    mirror = material == MIRROR
    z = np.where(mirror, z + rng.uniform(0.3, 1.5), z)
    z = z + rng.standard_normal(shape) * 0.002 * z ** 2
    blotch = _smooth_noise(shape, rng)
    holes = (depth <= 0) | (z > 8.0) | (z < 0.3)
    holes |= (material == DARK) & (blotch < 0.85)
    holes |= (material == GLASS) & (blotch < 0.4)
    holes |= mirror & (blotch < 0.3)
    holes |= np.isin(material, (GLOSSY, METAL)) & (spec > 0.2)
    holes |= rng.random(shape) < 0.01
    # occlusion band: pixels left of a far-to-near... jump see the background only in one camera
    jump = np.zeros(shape, bool)
    jump[:, 1:] = (depth[:, 1:] - depth[:, :-1]) < -0.15  # depth drops going right: occluder on the right
    band = max(1, int(round(fx * 0.05 / 3.0)))
    kernel = np.zeros((1, 2 * band + 1), np.uint8)
    kernel[0, band:] = 1
    holes |= cv2.dilate(jump.astype(np.uint8), kernel).astype(bool)
    mm = np.where(holes, 0, np.clip(np.round(z * 1000.0), 0, 65535))
    return mm.astype(np.uint16)


def fixture_sample(key: str, size: tuple[int, int], rng: np.random.Generator, scene_id: int, view_id: int,
                   seed: int) -> dict:
    scene = render_scene(size, rng)
    T_world = np.eye(4)
    T_world[:3, :3] = scene["R"]
    K_ir = scene["K"].copy()
    meta = {"K_rgb": scene["K"].tolist(), "K_ir": K_ir.tolist(), "baseline_m": 0.075,
            "focal_mm": float(scene["K"][0, 0] * 36.0 / size[1]), "T_rgb_from_ir": np.eye(4).tolist(),
            "T_world_from_ir": T_world.tolist(), "projector": {"kind": "analytic fixture"},
            "scene_id": scene_id, "view_id": view_id, "seed": seed,
            "material_classes": {str(k): v for k, v in MATERIAL_CLASSES.items()},
            "generator": "mdm.synthetic"}
    return {"__key__": key, "rgb": scene["rgb"], "depth_rgb": scene["depth"],
            "sensor_depth": scene["sensor"], "material_rgb": scene["material"], "meta": meta}


def write_fixture_dataset(out_dir: Path, n_samples: int, size: tuple[int, int] = (120, 160),
                          shard_size: int = 8, seed: int = 0, sensor: bool = True,
                          prefix: str = "fixture", progress: bool = False) -> Path:
    """Write ``n_samples`` analytic views (one scene each) into shards of ``shard_size`` samples."""
    out_dir = Path(out_dir)
    shards.init_dataset(out_dir, "sensor" if sensor else "raw",
                        {"generator": "mdm.synthetic", "size": list(size), "seed": seed, "sensor": sensor})
    seeds = np.random.SeedSequence(seed).spawn(n_samples)
    required = ("rgb", "depth_rgb") + (("sensor_depth",) if sensor else ())
    bar = tqdm(total=n_samples, desc=f"fixture {out_dir.name}", unit="view", disable=not progress)
    for start in range(0, n_samples, shard_size):
        with shards.ShardWriter(out_dir, shards.shard_name(prefix, start // shard_size),
                                required=required) as writer:
            for i in range(start, min(start + shard_size, n_samples)):
                sample = fixture_sample(f"s{seed:03d}{i:05d}-v000000", size, np.random.default_rng(seeds[i]),
                                        scene_id=i, view_id=0, seed=seed)
                if not sensor:
                    del sample["sensor_depth"]
                writer.add(sample)
                bar.update()
    bar.close()
    return out_dir
