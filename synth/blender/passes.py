"""Cycles setup and one render of one camera into a multilayer EXR, read back with OpenEXR.

Facts checked with bpy 5.0.1 (tests/test_render_gt.py keeps them true):
* ``image_settings.media_type = 'MULTI_LAYER_IMAGE'`` selects OPEN_EXR_MULTILAYER (5.0 API); the
  file holds linear scene-referred float32 (no view transform), rows top-to-bottom.
* The Depth pass is *planar* z along the camera axis (not ray distance): an off-centre plane
  parallel to the image reads its exact distance everywhere. Background = 1e10, mapped to 0 here.
* Depth / Object Index / Material Index are written by the *first* sample only (not antialiased),
  at that sample's filter-jittered position; the GT render therefore uses 1 sample with a 0.01 px box
  filter, i.e. the exact first hit through the pixel centre.
* On glass (transmission BSDF) the first hit is the glass surface; ``pass_alpha_threshold = 0``
  makes alpha-transparent surfaces count as hits too. GT on glass = the glass surface.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import bpy
import numpy as np
import OpenEXR

from synth.quality import PassSettings

BACKGROUND_DEPTH = 1e9  # Cycles writes 1e10 where no surface is hit


def setup_scene(scene: bpy.types.Scene) -> None:
    """Cycles, persistent data, linear multilayer EXR output, no compositing, Standard transform."""
    scene.render.engine = "CYCLES"
    scene.render.use_persistent_data = True
    scene.render.use_compositing = False
    scene.render.use_sequencer = False
    scene.render.film_transparent = False
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    scene.render.use_border = False
    scene.cycles.use_animated_seed = False
    scene.cycles.film_exposure = 1.0
    scene.cycles.caustics_reflective = False
    scene.cycles.caustics_refractive = False
    scene.cycles.denoiser = "OPENIMAGEDENOISE"
    scene.cycles.denoising_use_gpu = False
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    ims = scene.render.image_settings
    ims.media_type = "MULTI_LAYER_IMAGE"
    ims.color_depth = "32"
    ims.exr_codec = "NONE"  # temporary file, read back at once: skip compression
    for vl in scene.view_layers:
        vl.use_pass_combined = True
        vl.use_pass_z = True
        vl.use_pass_object_index = True
        vl.use_pass_material_index = True
        vl.pass_alpha_threshold = 0.0


def apply(scene: bpy.types.Scene, s: PassSettings, seed: int) -> None:
    """Apply one render's settings (samples, bounces, denoiser, filter, seed)."""
    c = scene.cycles
    c.samples = s.samples
    c.use_adaptive_sampling = s.adaptive_threshold > 0
    if s.adaptive_threshold > 0:
        c.adaptive_threshold = s.adaptive_threshold
        c.adaptive_min_samples = s.adaptive_min_samples
    c.max_bounces = s.max_bounces
    c.diffuse_bounces = s.diffuse_bounces
    c.glossy_bounces = s.glossy_bounces
    c.transmission_bounces = s.transmission_bounces
    c.transparent_max_bounces = s.transparent_bounces
    c.volume_bounces = 0
    c.use_denoising = s.denoise
    if s.denoise:
        c.denoising_quality = s.denoise_quality
        c.denoising_prefilter = s.denoise_prefilter
    c.use_light_tree = s.light_tree
    c.sampling_pattern = s.sampling_pattern
    c.pixel_filter_type = s.filter_type
    c.filter_width = s.filter_width_px
    c.sample_clamp_indirect = s.clamp_indirect
    c.use_auto_tile = True
    c.tile_size = s.tile_size
    c.seed = int(seed) % (2 ** 31)


@dataclass
class RenderOutput:
    """Arrays of one render (rows top-to-bottom): linear RGB, planar z (m, 0 = none), indices."""

    combined: np.ndarray  # HxWx3 float32
    depth: np.ndarray  # HxW float32
    object_index: np.ndarray  # HxW uint16
    material_index: np.ndarray  # HxW uint8
    seconds: float  # wall seconds of the render call
    cpu_seconds: float = 0.0  # CPU seconds of this process (all Cycles/OIDN threads) during the call


def read_exr(path: str) -> dict[str, np.ndarray]:
    """Channels of a Blender multilayer EXR by pass name ('Combined', 'Depth', 'Object Index', ...)."""
    out: dict[str, np.ndarray] = {}
    with OpenEXR.File(path) as f:
        for part in f.parts:
            for name, ch in part.channels.items():
                # names look like "ViewLayer.Depth.Z" or "ViewLayer.Combined" (RGBA grouped)
                pieces = name.split(".")
                pas = pieces[1] if len(pieces) > 1 else pieces[0]
                out[pas] = np.array(ch.pixels)
    return out


def render(scene: bpy.types.Scene, camera: bpy.types.Object, size_hw: tuple[int, int],
           settings: PassSettings, seed: int, path: str) -> RenderOutput:
    """Render ``camera`` at ``size_hw`` (H, W) with ``settings`` into ``path`` and read it back."""
    scene.camera = camera
    scene.render.resolution_y, scene.render.resolution_x = int(size_hw[0]), int(size_hw[1])
    apply(scene, settings, seed)
    scene.render.filepath = path
    t0, c0 = time.perf_counter(), time.process_time()
    bpy.ops.render.render(write_still=True)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    if not os.path.exists(path):
        raise RuntimeError(f"Cycles wrote no file at {path}")
    ch = read_exr(path)
    os.unlink(path)
    missing = [k for k in ("Combined", "Depth", "Object Index", "Material Index") if k not in ch]
    if missing:
        raise RuntimeError(f"render {path} lacks passes {missing}; has {sorted(ch)}")
    depth = ch["Depth"].astype(np.float32)
    depth[~np.isfinite(depth) | (depth >= BACKGROUND_DEPTH)] = 0.0
    return RenderOutput(
        combined=np.ascontiguousarray(ch["Combined"][..., :3], np.float32),
        depth=depth,
        object_index=np.rint(ch["Object Index"]).astype(np.uint16),
        material_index=np.rint(ch["Material Index"]).astype(np.uint8),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
    )
