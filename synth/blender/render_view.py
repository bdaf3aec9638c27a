"""Render one complete sample of a built scene: rig, pattern, RGB, GT (IR + RGB frames), IR pair.

Order per view (one Blender scene, Cycles persistent data keeps the BVH between renders):
    RGB mode   -> RGB frame (denoised), GT render of the RGB camera
    (any mode) -> GT render of the left IR camera
    IR mode    -> left and right IR frames, each the sum of a projector-only render (no denoiser)
                  and an ambient-only render (denoised) -> sensor model (synth.noise)
Random streams: ``SeedSequence([seed, scene_id, view_id])`` spawns one child per purpose, so a
sample does not depend on which worker renders it or on other samples.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import bpy
import cv2
import numpy as np

from patterns.generators import generate as generate_pattern
from patterns.generators import sample_params as sample_pattern_params
from synth import camera_response, noise
from synth.blender import ir_mode, passes, projector
from synth.blender.build_scene import BuiltScene
from synth.blender.devices import configure_device
from synth.blender.rig_cameras import RigCameras
from synth.quality import Quality
from synth.rig import Rig, RigRanges, sample_rig
from synth.schema import MATERIAL_CLASSES

STREAMS = ("rig", "pattern", "sensor", "ir_noise", "rgb_response", "cycles")


def sample_key(scene_id: int, view_id: int) -> str:
    return f"s{scene_id:05d}-v{view_id:06d}"


def sample_streams(seed: int, scene_id: int, view_id: int) -> dict[str, np.random.Generator]:
    """Independent generators for one sample, spawned from (seed, scene_id, view_id)."""
    children = np.random.SeedSequence([int(seed), int(scene_id), int(view_id)]).spawn(len(STREAMS))
    return {name: np.random.default_rng(c) for name, c in zip(STREAMS, children)}


def class_fractions(material: np.ndarray) -> dict[str, float]:
    """Fraction of pixels per material class present (names from the schema)."""
    ids, counts = np.unique(material, return_counts=True)
    return {MATERIAL_CLASSES.get(int(i), str(int(i))): round(float(c) / material.size, 6)
            for i, c in zip(ids, counts)}


@dataclass
class IrPair:
    """Linear grey IR radiance of the left and right cameras (HxW float32, Cycles units), the
    projector's share of it, and the left projector render (its Depth/Index passes)."""

    left: np.ndarray
    right: np.ndarray
    projector_left: np.ndarray
    projector_right: np.ndarray
    gt_left: passes.RenderOutput
    seconds: float


@dataclass
class ViewRenderer:
    """Renders views of the scene currently loaded in Blender."""

    built: BuiltScene  # the one built-scene type, whatever the source (synth.blender.build_scene)
    quality: Quality
    ranges: RigRanges
    workdir: str
    device: str = "cpu"
    threads: int = 0
    ir_bit_depth: int | None = None
    pattern_kind: str | None = None

    def __post_init__(self) -> None:
        self.scene = bpy.context.scene
        passes.setup_scene(self.scene)
        configure_device(self.scene, self.device, self.threads)
        self.cameras = RigCameras.create()
        self.projector = projector.create()
        ir_mode.remember_rgb_levels(self.scene)
        ir_mode.glass_passes_light(self.scene)
        os.makedirs(self.workdir, exist_ok=True)

    def _path(self, tag: str) -> str:
        return os.path.join(self.workdir, f"{tag}-{os.getpid()}.exr")

    def render_ir_pair(self, rig: Rig, ir_ambient: float, seeds: list[int]) -> IrPair:
        """Left and right IR radiance (grey, linear) = projector part + ambient part, rendered apart.

        Projector part: the projector is the only light, so Cycles never has to choose between it
        and the room lights (with several lights, each sample picks one light at random, which
        decimates the dots differently in the two cameras); no denoiser (it smears dots).
        Ambient part: room lights and sky x ``ir_ambient``, projector off, denoised (it holds no dots,
        and its Monte-Carlo noise would otherwise be independent speckle in the two cameras)."""
        scene, q = self.scene, self.quality
        t0 = time.perf_counter()
        ir_mode.set_ir_mode(scene, self.projector, 0.0, rig.projector.power_w)
        proj_l = passes.render(scene, self.cameras.ir_left, rig.ir_size, q.ir, seeds[0], self._path("ir_l"))
        proj_r = passes.render(scene, self.cameras.ir_right, rig.ir_size, q.ir, seeds[1], self._path("ir_r"))
        ir_mode.set_ir_mode(scene, self.projector, ir_ambient, 0.0)
        h, w = rig.ir_size
        amb_hw = (max(1, round(h * q.ambient_scale)), max(1, round(w * q.ambient_scale)))
        amb_l = passes.render(scene, self.cameras.ir_left, amb_hw, q.ir_ambient, seeds[0] + 1, self._path("ir_al"))
        amb_r = passes.render(scene, self.cameras.ir_right, amb_hw, q.ir_ambient, seeds[1] + 1, self._path("ir_ar"))
        ir_mode.set_rgb_mode(scene, self.projector)

        def grey(out: passes.RenderOutput) -> np.ndarray:
            """The IR look is grey; a reduced-resolution part is upsampled to the IR frame (same FOV)."""
            g = out.combined.mean(axis=2)
            return g if g.shape == (h, w) else cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)

        return IrPair(left=grey(proj_l) + grey(amb_l), right=grey(proj_r) + grey(amb_r),
                      projector_left=grey(proj_l), projector_right=grey(proj_r), gt_left=proj_l,
                      seconds=time.perf_counter() - t0)

    def render_sample(self, seed: int, scene_id: int, view_id: int,
                      t_world_from_ir: np.ndarray) -> tuple[dict, dict]:
        """One sample dict (schema fields + meta) and its per-stage timings in seconds."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        rngs = sample_streams(seed, scene_id, view_id)
        rig = sample_rig(rngs["rig"], self.ranges)
        ph, pw = rig.projector.size
        pparams = sample_pattern_params(rngs["pattern"], self.pattern_kind, ph, pw,
                                        self.ranges.pattern_supersample)
        pattern = generate_pattern(pparams, rngs["pattern"])
        rig.extra["pattern"] = {"pattern": pattern.info()}
        cycles_seeds = [int(s) for s in rngs["cycles"].integers(0, 2 ** 31 - 1, 4)]
        key = sample_key(scene_id, view_id)
        self.cameras.place(rig, t_world_from_ir)
        projector.configure(self.projector, rig, t_world_from_ir, pattern.image, key)
        timings["setup"] = time.perf_counter() - t0

        scene, q = self.scene, self.quality
        ir_mode.set_rgb_mode(scene, self.projector)
        rgb_out = passes.render(scene, self.cameras.rgb, rig.rgb_size, q.rgb, cycles_seeds[0], self._path("rgb"))
        timings["rgb"] = rgb_out.seconds
        if q.gt_from_main:
            gt_rgb = rgb_out
            timings["gt"] = 0.0
        else:
            gt_rgb = passes.render(scene, self.cameras.rgb, rig.rgb_size, q.gt, cycles_seeds[1],
                                   self._path("gt_rgb"))
            gt_ir = passes.render(scene, self.cameras.ir_left, rig.ir_size, q.gt, cycles_seeds[1],
                                  self._path("gt_ir"))
            timings["gt"] = gt_rgb.seconds + gt_ir.seconds

        ir_ambient = float(self.built.ir_ambient)
        ir = self.render_ir_pair(rig, ir_ambient, cycles_seeds[2:])
        timings["ir_pair"] = ir.seconds
        if q.gt_from_main:
            gt_ir = ir.gt_left

        t1 = time.perf_counter()
        sensor = noise.sample_sensor(rngs["sensor"], self.ir_bit_depth)
        left, right, exposure = noise.sensor_pair(ir.left, ir.right, sensor, rngs["ir_noise"])
        response = camera_response.sample_response(rngs["rgb_response"])
        rgb, rgb_gain = camera_response.develop(rgb_out.combined, response)
        depth_ir = gt_ir.depth
        sample = {
            "__key__": key,
            "rgb": rgb,
            "ir_left": left,
            "ir_right": right,
            "depth_ir": depth_ir,
            "depth_rgb": gt_rgb.depth,
            "disparity": rig.disparity_from_depth(depth_ir),
            "material": gt_ir.material_index,
            "material_rgb": gt_rgb.material_index,
            "instance": gt_ir.object_index,
            "instance_rgb": gt_rgb.object_index,
        }
        timings["post"] = time.perf_counter() - t1
        timings["cpu"] = time.process_time() - cpu0  # CPU seconds of all render threads + Python
        meta = rig.to_meta() | {
            "T_world_from_ir": np.asarray(t_world_from_ir, float).tolist(),
            "scene_id": int(scene_id), "view_id": int(view_id), "seed": int(seed), "key": key,
            "material_classes": {str(k): v for k, v in MATERIAL_CLASSES.items()},
            "material_fraction_ir": class_fractions(gt_ir.material_index),
            "ir_ambient": ir_ambient,
            "ir_sensor": sensor.to_meta() | {"exposure_e_per_unit": exposure},
            "ir_radiance_mean": {"projector": float(ir.projector_left.mean()),
                                 "ambient": float((ir.left - ir.projector_left).mean())},
            "rgb_response": response.to_meta() | {"gain": rgb_gain},
            "render": {"quality": q.to_meta(), "device": self.device, "engine": "CYCLES",
                       "cycles_seeds": dict(zip(("rgb", "gt", "ir_left", "ir_right"), cycles_seeds)),
                       "view_transform": "Standard (sRGB OETF, numpy)", "gt": "first hit, pixel centre"},
            "versions": {"bpy": bpy.app.version_string, "numpy": np.__version__},
            "depth_convention": "planar z, metres, 0 = no surface; GT on glass = glass surface",
        }
        sample["meta"] = meta
        return sample, timings
