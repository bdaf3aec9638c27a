"""Tiny analytic scenes built under the same contract as ``synth.blender.build_scene``.

World frame = the left IR camera's OpenCV frame at the identity pose (x right, y down, z forward),
so a test places the rig with ``T_world_from_ir = I`` and knows every depth in closed form.

Kinds
-----
``plane``     a room whose back wall (textured RGB checker, uniform grey IR) is at z = ``distance``;
              with the room 16 m wide every pixel of a <= 110 deg camera sees the back wall.
``plane_box`` the same plus a 0.3 m box at z = distance/2 left of the axis: it hides part of the wall
              from the projector (a projector shadow beside its silhouette) and occludes the right view.
``mirror``    the plane plus a horizontal floor mirror below the camera reflecting the lit back wall.
``glass``     the plane plus a clear glass pane at z = distance/2 over the left half of the view.

Contract honoured: ``mat.pass_index`` = material class, ``mat["lbd_class"]``,
``mat["lbd_ir_reflectance"]``, base colour mixed through ``LBD_IRSwitch``; ``obj.pass_index`` = instance
id; lights carry ``lbd_role`` and ``lbd_rgb_energy``; ``world["lbd_rgb_strength"]``;
``scene["lbd_ir_ambient"]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import mathutils

from synth.blender.ir_switch import ir_switch_node

KINDS = ("plane", "plane_box", "mirror", "glass")
CLASS_IDS = {"textured": 1, "textureless": 2, "glossy": 3, "metal": 4, "mirror": 5, "glass": 6, "dark": 7}


@dataclass
class BuiltScene:
    """What a scene builder returns (same fields as the real builder's)."""

    scene_id: int
    instance_ids: list[int] = field(default_factory=list)
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]] = ((0, 0, 0), (0, 0, 0))
    ir_ambient: float = 0.1


def reset() -> bpy.types.Scene:
    """Empty the Blender session (factory settings, no objects)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


def make_material(name: str, cls: str, rgb: tuple[float, float, float], ir: float,
                  checker: bool = False) -> bpy.types.Material:
    """A Principled material whose base colour is RGB (optionally a checker) or grey IR via the switch."""
    mat = bpy.data.materials.new(name)
    mat.pass_index = CLASS_IDS[cls]
    mat["lbd_class"] = cls
    mat["lbd_ir_reflectance"] = float(ir)
    nt = mat.node_tree
    bsdf = nt.nodes.get("Principled BSDF") or nt.nodes.new("ShaderNodeBsdfPrincipled")
    mix = nt.nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    switch = ir_switch_node(nt)
    nt.links.new(switch.outputs["Fac"], mix.inputs["Factor"])
    if checker:
        tex = nt.nodes.new("ShaderNodeTexChecker")
        tex.inputs["Scale"].default_value = 8.0
        tex.inputs["Color1"].default_value = (*rgb, 1.0)
        tex.inputs["Color2"].default_value = (rgb[2], rgb[0], rgb[1], 1.0)
        nt.links.new(tex.outputs["Color"], mix.inputs["A"])
    else:
        mix.inputs["A"].default_value = (*rgb, 1.0)
    mix.inputs["B"].default_value = (ir, ir, ir, 1.0)
    nt.links.new(mix.outputs["Result"], bsdf.inputs["Base Color"])
    if cls == "mirror":
        bsdf.inputs["Metallic"].default_value = 1.0
        bsdf.inputs["Roughness"].default_value = 0.0
    elif cls == "glass":
        bsdf.inputs["Transmission Weight"].default_value = 1.0
        bsdf.inputs["Roughness"].default_value = 0.0
        bsdf.inputs["IOR"].default_value = 1.45
    else:
        bsdf.inputs["Roughness"].default_value = 0.8
    return mat


def add_box(name: str, centre, size, mat: bpy.types.Material, instance_id: int) -> bpy.types.Object:
    """An axis-aligned box (world metres) with one material and ``pass_index`` = instance id."""
    mesh = bpy.data.meshes.new(name)
    cx, cy, cz = centre
    sx, sy, sz = (s / 2.0 for s in size)
    verts = [(cx + x * sx, cy + y * sy, cz + z * sz) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    mesh.materials.append(mat)
    obj = bpy.data.objects.new(name, mesh)
    obj.pass_index = instance_id
    bpy.context.scene.collection.objects.link(obj)
    return obj


def build_test_scene(kind: str = "plane", distance: float = 2.0, ir_ambient: float = 0.1,
                     scene_id: int = 0) -> BuiltScene:
    """Reset Blender and build an analytic scene (see module docstring). Returns its BuiltScene."""
    if kind not in KINDS:
        raise ValueError(f"test scene kind {kind!r} unknown; choose one of {', '.join(KINDS)}")
    if distance <= 0.3:
        raise ValueError(f"distance {distance} m must be > 0.3")
    scene = reset()
    wall = make_material("wall", "textured", (0.7, 0.5, 0.3), 0.6, checker=True)
    side = make_material("side", "textureless", (0.6, 0.6, 0.6), 0.5)
    d, half, t = distance, 8.0, 0.05
    ids = []
    # back wall (its front face at z = d), side walls, floor (y = +2.5), ceiling (y = -3), rear wall
    add_box("back_wall", (0, 0, d + t / 2), (2 * half, 2 * half, t), wall, 1)
    add_box("wall_left", (-half, 0, d / 2 - 2), (t, 2 * half, d + 4), side, 2)
    add_box("wall_right", (half, 0, d / 2 - 2), (t, 2 * half, d + 4), side, 3)
    add_box("floor", (0, 2.5 + t / 2, d / 2 - 2), (2 * half, t, d + 4), side, 4)
    add_box("ceiling", (0, -3 - t / 2, d / 2 - 2), (2 * half, t, d + 4), side, 5)
    add_box("rear_wall", (0, 0, -4 - t / 2), (2 * half, 2 * half, t), side, 6)
    ids += [1, 2, 3, 4, 5, 6]
    if kind == "plane_box":
        box = make_material("box", "textureless", (0.2, 0.6, 0.2), 0.7)
        add_box("box", (-0.25 * d, 0.0, d / 2), (0.3, 0.3, 0.3), box, 7)
        ids.append(7)
    elif kind == "mirror":
        mirror = make_material("mirror", "mirror", (0.9, 0.9, 0.9), 0.95)
        add_box("mirror", (0.0, 0.35 * d + t / 2, 0.5 * d + 0.1), (2 * d, t, d - 0.2), mirror, 7)
        ids.append(7)
    elif kind == "glass":
        glass = make_material("glass", "glass", (1.0, 1.0, 1.0), 1.0)
        add_box("glass", (-0.5 * d, 0.0, d / 2), (1.0 * d, 2 * d, 0.006), glass, 7)
        ids.append(7)
    # lighting: a ceiling point light and a dim world
    light = bpy.data.lights.new("ceiling", "POINT")
    light.shadow_soft_size = 0.1
    lobj = bpy.data.objects.new("ceiling", light)
    lobj.location = mathutils.Vector((0.5, -2.5, d / 2))
    lobj["lbd_role"] = "ceiling"
    lobj["lbd_rgb_energy"] = 400.0
    light.energy = 400.0
    scene.collection.objects.link(lobj)
    world = bpy.data.worlds.new("world")
    scene.world = world
    bg = world.node_tree.nodes.get("Background") or world.node_tree.nodes.new("ShaderNodeBackground")
    bg.inputs["Strength"].default_value = 0.2
    world["lbd_rgb_strength"] = 0.2
    scene["lbd_ir_ambient"] = float(ir_ambient)
    return BuiltScene(scene_id=scene_id, instance_ids=ids,
                      bounds=((-half, -3.0, -4.0), (half, 2.5, d)), ir_ambient=float(ir_ambient))
