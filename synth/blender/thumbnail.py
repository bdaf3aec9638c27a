"""Quick RGB thumbnails of built scenes (Cycles, CPU default device, few samples, denoised) and a
labelled grid of them. Render settings touched here are restored afterwards."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy
import cv2
import numpy as np
from mathutils import Matrix

from synth.blender.build_scene import BuiltScene
from synth.blender.viewpoints import opencv_to_blender

THUMB_CAMERA = "LBD_ThumbnailCamera"


def _snapshot(scene) -> dict:
    r, c = scene.render, scene.cycles
    return dict(engine=r.engine, x=r.resolution_x, y=r.resolution_y, pct=r.resolution_percentage, path=r.filepath,
                media=r.image_settings.media_type, fmt=r.image_settings.file_format, samples=c.samples, denoise=c.use_denoising, camera=scene.camera,
                view=scene.view_settings.view_transform, adaptive=c.use_adaptive_sampling)


def _restore(scene, s: dict) -> None:
    r, c = scene.render, scene.cycles
    r.engine, r.resolution_x, r.resolution_y, r.resolution_percentage = s["engine"], s["x"], s["y"], s["pct"]
    r.filepath, r.image_settings.media_type = s["path"], s["media"]
    r.image_settings.file_format = s["fmt"]
    c.samples, c.use_denoising, c.use_adaptive_sampling = s["samples"], s["denoise"], s["adaptive"]
    scene.view_settings.view_transform = s["view"]
    if s["camera"] is not None and s["camera"].name in bpy.data.objects:
        scene.camera = s["camera"]


def render_thumbnail(built: BuiltScene, T_world_from_cam: np.ndarray, path: str | Path, width: int = 160,
                     height: int = 120, samples: int = 16, focal_mm: float = 18.0, denoise: bool = True) -> Path:
    """Render the current (built) scene from an OpenCV pose into a PNG at ``path`` (atomic write)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene = bpy.context.scene
    saved = _snapshot(scene)
    cam_data = bpy.data.cameras.new(THUMB_CAMERA)
    cam_data.lens = focal_mm
    cam_data.sensor_width = 36.0
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.clip_start = 0.05
    cam = bpy.data.objects.new(THUMB_CAMERA, cam_data)
    scene.collection.objects.link(cam)
    cam.matrix_world = Matrix(opencv_to_blender(T_world_from_cam).tolist())
    try:
        scene.camera = cam
        r = scene.render
        r.engine = "CYCLES"
        r.resolution_x, r.resolution_y, r.resolution_percentage = width, height, 100
        r.image_settings.media_type = "IMAGE"  # a multilayer-EXR setting of an earlier render allows only EXR
        r.image_settings.file_format = "PNG"
        scene.cycles.samples = samples
        scene.cycles.use_adaptive_sampling = False
        scene.cycles.use_denoising = denoise
        scene.view_settings.view_transform = "AgX"
        fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent, prefix=".thumb-")
        os.close(fd)
        r.filepath = tmp
        bpy.ops.render.render(write_still=True)
        os.replace(tmp, path)
    finally:
        if "tmp" in locals() and os.path.exists(tmp):
            os.remove(tmp)
        _restore(scene, saved)
        bpy.data.objects.remove(cam)
        bpy.data.cameras.remove(cam_data)
    return path


def make_grid(images: list[tuple[str | Path, str]], out: str | Path, cols: int = 4) -> Path:
    """Tile PNGs (path, label) into one labelled grid image (atomic write)."""
    if not images:
        raise ValueError("no thumbnails to put in a grid")
    tiles = []
    for p, label in images:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read thumbnail {p}")
        tiles.append((img, label))
    h, w = tiles[0][0].shape[:2]
    rows = (len(tiles) + cols - 1) // cols
    pad = 2
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    scale = max(0.3, w / 400)
    for k, (img, label) in enumerate(tiles):
        img = cv2.resize(img, (w, h)) if img.shape[:2] != (h, w) else img.copy()
        cv2.rectangle(img, (0, 0), (w, int(22 * scale) + 4), (0, 0, 0), -1)
        cv2.putText(img, label, (4, int(18 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(k, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    if not cv2.imwrite(str(tmp), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise ValueError(f"cannot write grid image {out}")
    os.replace(tmp, out)
    return out


def render_scene_thumbnails(scene_list, out_dir: str | Path, seed: int, width: int = 160, samples: int = 16,
                            grid_n: int = 16) -> tuple[list[Path], list[tuple[str, str]]]:
    """Build each scene, render it from its first viewpoint (rng ``[seed, scene_id, 0]``) into
    ``out_dir/scene_XXXXXX.png`` and tile the first ``grid_n`` into ``out_dir/grid.png``.
    Returns (thumbnail paths, [(scene label, reason)] for the scenes that failed)."""
    from tqdm import tqdm

    from synth.blender.build_scene import build_scene
    from synth.blender.viewpoints import sample_viewpoints

    out_dir = Path(out_dir)
    done: list[tuple[Path, str]] = []
    failures: list[tuple[str, str]] = []
    for scene in tqdm(scene_list, desc="thumbnails", unit="scene"):
        try:
            built = build_scene(scene)
            T = sample_viewpoints(built, 1, np.random.default_rng([seed, scene.scene_id, 0]))[0]
            p = render_thumbnail(built, T, out_dir / f"scene_{scene.scene_id:06d}.png", width, width * 3 // 4, samples)
            done.append((p, f"{scene.scene_id} {scene.room.room_type}"))
        except (ValueError, RuntimeError, OSError) as exc:
            failures.append((f"scene {scene.scene_id} thumbnail", str(exc)))
    if done:
        make_grid(done[:grid_n], out_dir / "grid.png", cols=4)
    return [p for p, _ in done], failures


def check_user_scenes(paths: list[Path], mapping, thumb_dir: Path | None, seed: int, width: int = 160,
                      samples: int = 16) -> tuple[list[dict], list[tuple[str, str]]]:
    """Import each user scene file, sample a viewpoint (and render a thumbnail); failures are listed
    with the file name and the batch carries on."""
    from synth.blender.import_scene import import_scene, load_mapping
    from synth.blender.viewpoints import sample_viewpoints

    try:
        load_mapping(mapping)
    except ValueError as exc:
        return [], [(f"file {p}", str(exc)) for p in paths]
    ok: list[dict] = []
    failures: list[tuple[str, str]] = []
    for k, path in enumerate(paths):
        try:
            built = import_scene(path, mapping, seed=seed)
            T = sample_viewpoints(built, 1, np.random.default_rng([seed, k, 0]))[0]
            entry = {"file": str(path), "objects": len(built.instance_ids),
                     "classes": sorted(set(built.material_classes.values())), "bounds": built.bounds,
                     "room": built.room, "unit_scale": built.unit_scale, "materials": built.material_report,
                     "warnings": built.warnings}
            if thumb_dir is not None:
                entry["thumbnail"] = str(render_thumbnail(built, T, Path(thumb_dir) / f"user_{k:02d}_{Path(path).stem}.png",
                                                          width, width * 3 // 4, samples))
            ok.append(entry)
        except (ValueError, RuntimeError, OSError) as exc:
            failures.append((f"file {path}", str(exc)))
    return ok, failures
