"""Render one complete sample of a built scene: rig, pattern, RGB, GT (IR + RGB frames), IR pair.

Order per view (one Blender scene, Cycles persistent data keeps the BVH between renders):
    RGB mode   -> RGB frame (denoised)
    RGB mode, or dark mode (``Quality.gt_unlit``: every light off) -> GT render of the RGB camera
    (same)     -> GT render of the left IR camera, unless ``Quality.ir_gt_from_ambient`` (then the
                  point-sampled left ambient IR render below, seeded like the GT render, is the GT)
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
    gt_left: passes.RenderOutput  # left render whose Depth/Index passes can be the GT (point-sampled)
    seconds: float
    cpu_seconds: float  # CPU seconds of the four renders (all threads)


@dataclass
class ViewSetup:
    """Everything a view draws before rendering: rig, random streams, Cycles seeds, key."""

    key: str
    rig: Rig
    rngs: dict[str, np.random.Generator]
    cycles_seeds: list[int]  # rgb, gt, ir_left, ir_right


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

    def render_ir_pair(self, rig: Rig, ir_ambient: float, seeds: list[int],
                       ambient_left_seed: int | None = None) -> IrPair:
        """Left and right IR radiance (grey, linear) = projector part + ambient part, rendered apart.

        Projector part: the projector is the only light, so Cycles never has to choose between it
        and the room lights (with several lights, each sample picks one light at random, which
        decimates the dots differently in the two cameras: measured with light groups in one render,
        the projector part came out ~11 dB noisier); no denoiser (it smears dots).
        Ambient part: room lights and sky x ``ir_ambient``, projector off, denoised (it holds no dots,
        and its Monte-Carlo noise would otherwise be independent speckle in the two cameras).
        ``ambient_left_seed``: Cycles seed of the left ambient render (default ``seeds[0] + 1``); with
        ``Quality.ir_gt_from_ambient`` it is the GT seed, and ``gt_left`` is that render."""
        scene, q = self.scene, self.quality
        t0 = time.perf_counter()
        ir_mode.set_ir_mode(scene, self.projector, 0.0, rig.projector.power_w)
        proj_l = passes.render(scene, self.cameras.ir_left, rig.ir_size, q.ir, seeds[0], self._path("ir_l"))
        proj_r = passes.render(scene, self.cameras.ir_right, rig.ir_size, q.ir, seeds[1], self._path("ir_r"))
        ir_mode.set_ir_mode(scene, self.projector, ir_ambient, 0.0)
        h, w = rig.ir_size
        amb_hw = (max(1, round(h * q.ambient_scale)), max(1, round(w * q.ambient_scale)))
        seed_al = seeds[0] + 1 if ambient_left_seed is None else ambient_left_seed
        amb_l = passes.render(scene, self.cameras.ir_left, amb_hw, q.ir_ambient, seed_al, self._path("ir_al"))
        amb_r = passes.render(scene, self.cameras.ir_right, amb_hw, q.ir_ambient, seeds[1] + 1, self._path("ir_ar"))
        ir_mode.set_rgb_mode(scene, self.projector)

        def grey(out: passes.RenderOutput) -> np.ndarray:
            """The IR look is grey; a reduced-resolution part is upsampled to the IR frame (same FOV)."""
            g = out.combined.mean(axis=2)
            return g if g.shape == (h, w) else cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)

        return IrPair(left=grey(proj_l) + grey(amb_l), right=grey(proj_r) + grey(amb_r),
                      projector_left=grey(proj_l), projector_right=grey(proj_r),
                      gt_left=amb_l if q.ir_gt_from_ambient else proj_l,
                      seconds=time.perf_counter() - t0,
                      cpu_seconds=sum(o.cpu_seconds for o in (proj_l, proj_r, amb_l, amb_r)))

    def prepare_view(self, seed: int, scene_id: int, view_id: int, t_world_from_ir: np.ndarray) -> ViewSetup:
        """Draw the view's rig and pattern and pose the cameras and the projector (no render)."""
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
        return ViewSetup(key, rig, rngs, cycles_seeds)

    def render_sample(self, seed: int, scene_id: int, view_id: int,
                      t_world_from_ir: np.ndarray) -> tuple[dict, dict]:
        """One sample dict (schema fields + meta) and its per-stage timings in seconds."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        view = self.prepare_view(seed, scene_id, view_id, t_world_from_ir)
        key, rig, rngs, cycles_seeds = view.key, view.rig, view.rngs, view.cycles_seeds
        timings["setup"] = time.perf_counter() - t0

        scene, q = self.scene, self.quality
        ir_mode.set_rgb_mode(scene, self.projector)
        rgb_out = passes.render(scene, self.cameras.rgb, rig.rgb_size, q.rgb, cycles_seeds[0], self._path("rgb"))
        timings["rgb"], timings["cpu_rgb"] = rgb_out.seconds, rgb_out.cpu_seconds
        gt_ir = None
        if q.gt_from_main:
            gt_rgb = rgb_out
            timings["gt"] = timings["cpu_gt"] = 0.0
        else:
            if q.gt_unlit:
                ir_mode.set_dark_mode(scene, self.projector)
            gt_rgb = passes.render(scene, self.cameras.rgb, rig.rgb_size, q.gt, cycles_seeds[1],
                                   self._path("gt_rgb"))
            timings["gt"], timings["cpu_gt"] = gt_rgb.seconds, gt_rgb.cpu_seconds
            if not q.ir_gt_from_ambient:
                gt_ir = passes.render(scene, self.cameras.ir_left, rig.ir_size, q.gt, cycles_seeds[1],
                                      self._path("gt_ir"))
                timings["gt"] += gt_ir.seconds
                timings["cpu_gt"] += gt_ir.cpu_seconds

        ir_ambient = float(self.built.ir_ambient)
        ir = self.render_ir_pair(rig, ir_ambient, cycles_seeds[2:],
                                 ambient_left_seed=cycles_seeds[1] if q.ir_gt_from_ambient else None)
        timings["ir_pair"], timings["cpu_ir_pair"] = ir.seconds, ir.cpu_seconds
        if gt_ir is None:
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
