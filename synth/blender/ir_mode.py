"""Switch the whole scene between its RGB look and its IR (~850 nm) look.

RGB mode: scene lights at ``obj["lbd_rgb_energy"]``, world at ``world["lbd_rgb_strength"]``, materials
on their RGB base colour, projector off (RGB cameras have IR-cut filters).
IR mode: lights and world scaled by the scene's IR-ambient fraction (``scene["lbd_ir_ambient"]``),
materials on their grey IR reflectance (shared ``LBD_IRSwitch`` group), projector on at its power.
Only energies and one node value change, so Cycles keeps the scene's BVH (persistent data).
"""
from __future__ import annotations

import bpy

from lbd.classes import CLASS_IDS
from synth.blender.ir_switch import set_ir_switch

ROLES = ("ceiling", "lamp", "sun", "window")


def scene_lights(scene: bpy.types.Scene) -> list[bpy.types.Object]:
    """Light objects that belong to the scene's lighting (they carry ``lbd_role``)."""
    return [o for o in scene.objects if o.type == "LIGHT" and "lbd_role" in o]


def _background_nodes(world: bpy.types.World | None) -> list[bpy.types.Node]:
    if world is None or world.node_tree is None:
        return []
    return [n for n in world.node_tree.nodes if n.bl_idname == "ShaderNodeBackground"]


def remember_rgb_levels(scene: bpy.types.Scene) -> None:
    """Store current energies as the RGB levels where the builder did not (idempotent)."""
    for obj in scene_lights(scene):
        if "lbd_rgb_energy" not in obj:
            obj["lbd_rgb_energy"] = float(obj.data.energy)
    world = scene.world
    bgs = _background_nodes(world)
    if world is not None and bgs and "lbd_rgb_strength" not in world:
        world["lbd_rgb_strength"] = float(bgs[0].inputs["Strength"].default_value)


def _set_levels(scene: bpy.types.Scene, factor: float) -> None:
    for obj in scene_lights(scene):
        obj.data.energy = float(obj["lbd_rgb_energy"]) * factor
    world = scene.world
    for bg in _background_nodes(world):
        bg.inputs["Strength"].default_value = float(world.get("lbd_rgb_strength", 1.0)) * factor


def set_rgb_mode(scene: bpy.types.Scene, projector: bpy.types.Object) -> None:
    remember_rgb_levels(scene)
    set_ir_switch(False)
    _set_levels(scene, 1.0)
    projector.data.energy = 0.0


def set_dark_mode(scene: bpy.types.Scene, projector: bpy.types.Object) -> None:
    """Every light, the sky and the projector off (materials keep their look): for GT renders, whose
    Depth and Index passes do not depend on light, so Cycles skips light sampling and shadow rays."""
    remember_rgb_levels(scene)
    _set_levels(scene, 0.0)
    projector.data.energy = 0.0


def set_ir_mode(scene: bpy.types.Scene, projector: bpy.types.Object, ir_ambient: float,
                projector_power_w: float) -> None:
    """IR look: ambient lights x ``ir_ambient`` (fraction in [0, 1]), projector at its power (W)."""
    if not 0.0 <= ir_ambient <= 1.0:
        raise ValueError(f"ir_ambient {ir_ambient} must be in [0, 1]")
    remember_rgb_levels(scene)
    set_ir_switch(True)
    _set_levels(scene, ir_ambient)
    projector.data.energy = float(projector_power_w)


GLASS_CLASS = CLASS_IDS["glass"]


def glass_passes_light(scene: bpy.types.Scene) -> int:
    """Let light through glass objects (``visible_shadow = False`` on objects whose materials are all
    glass, class 6). Cycles cannot carry the projector's point-light dots through a refracting surface
    (that is a caustic), so without this the wall behind a window would get no dots at all; with it,
    glass acts as a thin, straight-through pane for shadow rays (exact for panes, an approximation for
    thick glassware). Set once per scene (object visibility changes would rebuild the BVH).
    Returns the number of objects changed."""
    changed = 0
    for obj in scene.objects:
        if obj.type != "MESH" or not obj.material_slots:
            continue
        mats = [s.material for s in obj.material_slots if s.material is not None]
        if mats and all(m.pass_index == GLASS_CLASS for m in mats):
            obj.visible_shadow = False
            changed += 1
    return changed
