"""The dot projector: a spot light whose node tree projects a pattern image like a pinhole.

In a light's shader the Texture Coordinate node's ``Normal`` output is the emission direction in the
light's own frame (the light looks down its -Z, +Y up). For a pinhole with focal length fx_p (projector
pixels) and a W_p x H_p pattern, the image coordinates are
    u = cx_p / W_p + (fx_p / W_p) * X / (-Z)      v = 1 - cy_p / H_p + (fy_p / H_p) * Y / (-Z)
(Blender's v runs bottom -> top). The Image Texture uses Closest interpolation and CLIP extension, so
no light leaves outside the pattern. Shadows are on with a zero radius: objects cast sharp dot-less
shadows (a real source of sensor holes). Irradiance falls off with the inverse square of distance
(Cycles point-light physics). The mapping constants live in Value nodes that :func:`configure`
rewrites for every sample *after* the rig intrinsics are drawn, and every sample gets its own uniquely
named pattern image (the previous one is freed).
"""
from __future__ import annotations

import math

import bpy
import numpy as np

from synth.blender.rig_cameras import _matrix, cv_to_blender
from synth.rig import Rig

OBJECT_NAME = "LBD_Projector"
IMAGE_PREFIX = "LBD_pattern_"
_VALUES = ("u0", "su", "v0", "sv")


def _value(nodes, name: str, x: float) -> bpy.types.Node:
    node = nodes.new("ShaderNodeValue")
    node.name = node.label = name
    node.outputs[0].default_value = x
    node.location = (-900, 200 - 100 * _VALUES.index(name))
    return node


def _math(nodes, op: str, loc) -> bpy.types.Node:
    node = nodes.new("ShaderNodeMath")
    node.operation = op
    node.location = loc
    return node


def create() -> bpy.types.Object:
    """Create (or return) the projector spot light with its projection node tree."""
    obj = bpy.data.objects.get(OBJECT_NAME)
    if obj is not None:
        return obj
    light = bpy.data.lights.new(OBJECT_NAME, "SPOT")
    light.use_shadow = True
    light.shadow_soft_size = 0.0
    light.spot_blend = 0.0
    light.use_soft_falloff = False
    light.energy = 0.0
    light.color = (1.0, 1.0, 1.0)
    light.use_nodes = True
    nt = light.node_tree
    nodes, links = nt.nodes, nt.links
    for n in list(nodes):
        if n.bl_idname != "ShaderNodeOutputLight":
            nodes.remove(n)
    out = next(n for n in nodes if n.bl_idname == "ShaderNodeOutputLight")
    tex_coord = nodes.new("ShaderNodeTexCoord")
    sep = nodes.new("ShaderNodeSeparateXYZ")
    links.new(tex_coord.outputs["Normal"], sep.inputs[0])
    neg_z = _math(nodes, "MULTIPLY", (-700, -200))
    links.new(sep.outputs["Z"], neg_z.inputs[0])
    neg_z.inputs[1].default_value = -1.0
    vals = {k: _value(nodes, k, 0.0) for k in _VALUES}
    combine = nodes.new("ShaderNodeCombineXYZ")
    for axis, (off, scale) in {"X": ("u0", "su"), "Y": ("v0", "sv")}.items():
        div = _math(nodes, "DIVIDE", (-500, 0))
        links.new(sep.outputs[axis], div.inputs[0])
        links.new(neg_z.outputs[0], div.inputs[1])
        mad = _math(nodes, "MULTIPLY_ADD", (-300, 0))
        links.new(div.outputs[0], mad.inputs[0])
        links.new(vals[scale].outputs[0], mad.inputs[1])
        links.new(vals[off].outputs[0], mad.inputs[2])
        links.new(mad.outputs[0], combine.inputs[axis])
    tex = nodes.new("ShaderNodeTexImage")
    tex.name = "pattern"
    tex.interpolation = "Closest"
    tex.extension = "CLIP"
    links.new(combine.outputs[0], tex.inputs["Vector"])
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Strength"].default_value = 1.0
    links.new(tex.outputs["Color"], emission.inputs["Color"])
    links.new(emission.outputs[0], out.inputs[0])
    obj = bpy.data.objects.new(OBJECT_NAME, light)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def pattern_image(pattern: np.ndarray, name: str) -> bpy.types.Image:
    """A float, non-colour Blender image from a (H, W) pattern in [0, 1] (row 0 = top)."""
    h, w = pattern.shape
    img = bpy.data.images.new(name, width=w, height=h, alpha=False, float_buffer=True)
    img.colorspace_settings.name = "Non-Color"
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = np.flipud(pattern)[..., None]
    img.pixels.foreach_set(rgba.ravel())
    img.pack()
    return img


def spot_size(rig: Rig) -> float:
    """Cone angle (radians) that just encloses the pattern frustum (its diagonal), capped at pi."""
    k, (h, w) = rig.projector.K, rig.projector.size
    half = math.hypot(max(k[0, 2], w - k[0, 2]), max(k[1, 2], h - k[1, 2])) / k[0, 0]
    return min(math.pi, 2.0 * math.atan(half) * 1.02)


def configure(obj: bpy.types.Object, rig: Rig, t_world_from_ir: np.ndarray, pattern: np.ndarray,
              tag: str) -> None:
    """Set pose, cone, mapping (from ``rig.projector.K``) and a fresh pattern image named by ``tag``.

    The power is not set here (see :mod:`synth.blender.ir_mode`: the projector is on only for IR)."""
    proj = rig.projector
    t_world_from_proj = np.asarray(t_world_from_ir, float) @ proj.T_ir_from_proj
    obj.matrix_world = _matrix(cv_to_blender(t_world_from_proj))
    light = obj.data
    light.spot_size = spot_size(rig)
    (h, w), k = proj.size, proj.K
    nodes = light.node_tree.nodes
    values = {"u0": k[0, 2] / w, "su": k[0, 0] / w, "v0": 1.0 - k[1, 2] / h, "sv": k[1, 1] / h}
    for name, x in values.items():
        nodes[name].outputs[0].default_value = float(x)
    tex = nodes["pattern"]
    old = tex.image
    tex.image = pattern_image(pattern, IMAGE_PREFIX + tag)
    if old is not None:
        bpy.data.images.remove(old)
