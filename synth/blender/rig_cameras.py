"""Blender cameras of the rig: left IR, right IR, RGB, placed from OpenCV poses and intrinsics.

OpenCV camera axes (x right, y down, z forward) -> Blender camera axes (x right, y up, looks down -z):
T_world_from_cam_blender = T_world_from_cam_cv @ diag(1, -1, -1, 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import mathutils
import numpy as np

from synth.rig import SENSOR_WIDTH_MM, Rig

CV_TO_BLENDER = np.diag([1.0, -1.0, -1.0, 1.0])
CLIP_START_M = 0.01
CLIP_END_M = 200.0


def cv_to_blender(t_world_from_cam_cv: np.ndarray) -> np.ndarray:
    """4x4 world-from-camera in Blender camera axes from one in OpenCV camera axes."""
    return np.asarray(t_world_from_cam_cv, float) @ CV_TO_BLENDER


def _matrix(t: np.ndarray) -> mathutils.Matrix:
    return mathutils.Matrix([list(map(float, row)) for row in np.asarray(t)])


def make_camera(name: str) -> bpy.types.Object:
    """A camera object linked to the current scene (reused if it exists)."""
    obj = bpy.data.objects.get(name)
    if obj is None:
        cam = bpy.data.cameras.new(name)
        obj = bpy.data.objects.new(name, cam)
        bpy.context.scene.collection.objects.link(obj)
    cam = obj.data
    cam.type = "PERSP"
    cam.sensor_fit = "HORIZONTAL"
    cam.sensor_width = SENSOR_WIDTH_MM
    cam.clip_start = CLIP_START_M
    cam.clip_end = CLIP_END_M
    return obj


def set_camera(obj: bpy.types.Object, K: np.ndarray, size_hw: tuple[int, int],
               t_world_from_cam_cv: np.ndarray) -> None:
    """Set focal length and principal-point shift from K (pixels, OpenCV, centred = (W-1)/2) and pose."""
    h, w = size_hw
    cam = obj.data
    cam.lens = float(K[0, 0]) * SENSOR_WIDTH_MM / w
    # Blender shifts are in units of the larger image side; OpenCV centre (W-1)/2 == no shift.
    side = max(w, h)
    cam.shift_x = -(float(K[0, 2]) - (w - 1) / 2.0) / side
    cam.shift_y = (float(K[1, 2]) - (h - 1) / 2.0) / side
    obj.matrix_world = _matrix(cv_to_blender(t_world_from_cam_cv))


@dataclass
class RigCameras:
    """The three camera objects of the rig."""

    ir_left: bpy.types.Object
    ir_right: bpy.types.Object
    rgb: bpy.types.Object

    @classmethod
    def create(cls) -> RigCameras:
        return cls(make_camera("LBD_IR_left"), make_camera("LBD_IR_right"), make_camera("LBD_RGB"))

    def place(self, rig: Rig, t_world_from_ir: np.ndarray) -> None:
        """Pose all cameras for one sample: left IR at ``t_world_from_ir`` (OpenCV), right IR at +b x,
        RGB at ``inv(T_rgb_from_ir)``."""
        t_world_from_ir = np.asarray(t_world_from_ir, float)
        set_camera(self.ir_left, rig.K_ir, rig.ir_size, t_world_from_ir)
        set_camera(self.ir_right, rig.K_ir, rig.ir_size, t_world_from_ir @ rig.T_ir_from_right)
        set_camera(self.rgb, rig.K_rgb, rig.rgb_size, t_world_from_ir @ np.linalg.inv(rig.T_rgb_from_ir))
