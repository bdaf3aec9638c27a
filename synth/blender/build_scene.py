"""Build a :class:`scenes.Scene` description into the current Blender scene (bpy 5.0).

Contract with the renderer (do not change without telling it):

1. ``build_scene(scene) -> BuiltScene`` clears the current bpy scene (objects, meshes, materials,
   lights, cameras, images; render settings and preferences are kept), puts the IR switch in RGB
   mode and builds the description; build first, then add cameras, projector and pattern images.
   ``BuiltScene`` carries ``scene_id``, ``instance_ids`` (object name -> id), ``bounds`` (room AABB,
   metres, world frame, ((xmin, ymin, zmin), (xmax, ymax, zmax))) and ``ir_ambient``.
   ``synth.blender.import_scene.import_scene(path, mapping=None)`` does the same for a user file, and
   the analytic test scenes (``synth.blender.test_scenes``) are descriptions built here too: this is
   the one builder, and ``BuiltScene`` the one type the renderer and the viewpoint sampler take.
2. Materials: Principled BSDF (node named "Principled BSDF"; inputs looked up by socket NAME).
   ``mat.pass_index`` = class id (``lbd.classes.CLASS_IDS``: 1 textured, 2 textureless, 3 glossy,
   4 metal, 5 mirror, 6 glass, 7 dark), ``mat["lbd_class"]`` = class name,
   ``mat["lbd_ir_reflectance"]`` = float. Base Color is fed by a Mix (RGBA) node named "RGB/IR":
   A = RGB appearance (possibly a procedural texture), B = grey IR reflectance (modulated a little
   by the same texture), Factor = ``ir_switch_node(tree).outputs["Fac"]`` (0 = RGB, 1 = IR).
   Glass keeps its transmission in IR and is transparent to shadow rays (a Mix Shader named
   "Shadow pass" with Light Path "Is Shadow Ray" -> Transparent BSDF), so sun, lamps and the
   projector shine through windows and glassware; camera rays still refract. Mirrors stay mirrors.
3. Objects: every mesh object has ``obj.pass_index`` = instance id, unique in 1..65535 (0 = nothing);
   walls, floor and ceiling are objects with ids too. ``obj["lbd_category"]`` names what it is.
4. Lights: every light object has ``obj["lbd_role"]`` in {ceiling, lamp, sun, window} and
   ``obj["lbd_rgb_energy"]`` (its energy in the RGB render); ``world["lbd_rgb_strength"]`` is the
   background strength in RGB; the bpy scene has ``scene["lbd_ir_ambient"]`` (fraction of RGB light
   present in the IR band) and ``scene["lbd_scene_id"]``. Lights are invisible to camera rays.

Coordinates: Blender world = scene description world (metres, +z up, floor top at z = 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Vector

from lbd.classes import CLASS_IDS
from scenes.layout import ROOM_TYPES
from scenes.model import Light, Material, Part, Scene, SceneObject
from scenes.shell import SHELL_ROOM_TYPE
from synth.blender.ir_switch import ir_switch_node, set_ir_switch

PRINCIPLED = "Principled BSDF"
MIX_NODE = "RGB/IR"
MAX_INSTANCES = 65535


@dataclass
class BuiltScene:
    """What the renderer and the viewpoint sampler need to know about the built bpy scene.

    ``bounds``: room (or imported geometry) AABB in metres; ``floor_z``: floor height;
    ``floor_rects``: free-floor rectangles (x0, y0, x1, y1) to sample camera positions from;
    ``shell``: names of walls/floor/ceiling (structure, not content); ``material_classes``:
    Blender material name -> class name.
    """

    scene_id: int | str
    instance_ids: dict[str, int]
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]
    ir_ambient: float
    source: str = "procedural"
    room_type: str | None = None
    floor_z: float = 0.0
    floor_rects: list[tuple[float, float, float, float]] = field(default_factory=list)
    shell: tuple[str, ...] = ()
    material_classes: dict[str, str] = field(default_factory=dict)
    material_report: list[dict] = field(default_factory=list)  # per material: class, reason, IR reflectance
    warnings: list[str] = field(default_factory=list)  # what was repaired or ignored on import
    unit_scale: float = 1.0  # metres per unit applied to an imported file
    room: str = "described"  # described | file (the file's own room) | shell (procedural shell added)

    def describe(self) -> dict:
        """JSON-able summary for a sample's ``meta["scene"]`` and ``scenes --import``."""
        d = {"scene_id": self.scene_id, "source": self.source, "room": self.room,
             "bounds": [list(self.bounds[0]), list(self.bounds[1])], "ir_ambient": self.ir_ambient,
             "objects": len(self.instance_ids)}
        if self.room_type:
            d["room_type"] = self.room_type
        if self.material_report:
            d["materials"] = self.material_report
            d["unit_scale"] = self.unit_scale
        if self.warnings:
            d["warnings"] = self.warnings
        return d


# ---------------------------------------------------------------------------------------- clearing


def clear_scene() -> bpy.types.Scene:
    """Remove every object and the data they used; keep render settings, world and preferences."""
    scene = bpy.context.scene
    for coll in list(scene.collection.children):
        scene.collection.children.unlink(coll)
    for block in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.lights, bpy.data.cameras,
                  bpy.data.images, bpy.data.curves, bpy.data.collections):
        if len(block):
            bpy.data.batch_remove(list(block))
    for key in ("lbd_ir_ambient", "lbd_scene_id"):
        if key in scene:
            del scene[key]
    return scene


# ---------------------------------------------------------------------------------------- meshes


def _segments(radius: float) -> int:
    return 12 if radius < 0.03 else 16 if radius < 0.1 else 24 if radius < 0.3 else 32


class MeshBuilder:
    """Accumulates vertices/faces (local frame) with a material slot and a smooth flag per face."""

    def __init__(self) -> None:
        self.verts: list[tuple[float, float, float]] = []
        self.faces: list[tuple[int, ...]] = []
        self.mat: list[int] = []
        self.smooth: list[bool] = []

    def _add_verts(self, pts) -> int:
        base = len(self.verts)
        self.verts.extend(pts)
        return base

    def _face(self, idx, slot: int, smooth: bool) -> None:
        self.faces.append(tuple(idx))
        self.mat.append(slot)
        self.smooth.append(smooth)

    def box(self, c, s, slot: int) -> None:
        x0, x1 = c[0] - s[0] / 2, c[0] + s[0] / 2
        y0, y1 = c[1] - s[1] / 2, c[1] + s[1] / 2
        z0, z1 = c[2] - s[2] / 2, c[2] + s[2] / 2
        b = self._add_verts([(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0),
                             (x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)])
        for f in ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)):
            self._face([b + i for i in f], slot, False)

    def _ring(self, cx, cy, z, r, n):
        return [(cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n), z) for k in range(n)]

    def _side(self, ring0: int, ring1: int, n: int, slot: int, outward: bool = True) -> None:
        for k in range(n):
            a, b = k, (k + 1) % n
            q = (ring0 + a, ring0 + b, ring1 + b, ring1 + a)
            self._face(q if outward else q[::-1], slot, True)

    def _cap(self, ring: int, n: int, slot: int, up: bool) -> None:
        idx = [ring + k for k in range(n)]
        self._face(idx if up else idx[::-1], slot, False)

    def _annulus(self, outer: int, inner: int, n: int, slot: int, up: bool) -> None:
        for k in range(n):
            a, b = k, (k + 1) % n
            q = (outer + a, outer + b, inner + b, inner + a)
            self._face(q if up else q[::-1], slot, False)

    def round_part(self, p: Part, slot: int) -> None:
        cx, cy, cz = p.center
        z0, z1 = cz - p.size[2] / 2, cz + p.size[2] / 2
        r0 = p.size[0] / 2 / max(1.0, p.taper)
        r1 = r0 * p.taper
        n = _segments(max(r0, r1))
        if p.shape == "cylinder":
            s0 = self._add_verts(self._ring(cx, cy, z0, r0, n))
            s1 = self._add_verts(self._ring(cx, cy, z1, r1, n))
            self._side(s0, s1, n, slot)
            self._cap(self._add_verts(self._ring(cx, cy, z0, r0, n)), n, slot, up=False)
            self._cap(self._add_verts(self._ring(cx, cy, z1, r1, n)), n, slot, up=True)
            return
        w = max(1e-4, min(p.wall, 0.45 * min(r0, r1)))
        bottom = p.shape == "cup"
        zi = z0 + w if bottom else z0
        ri0 = r0 - w + (r1 - r0) * (zi - z0) / max(z1 - z0, 1e-9)
        o0 = self._add_verts(self._ring(cx, cy, z0, r0, n))
        o1 = self._add_verts(self._ring(cx, cy, z1, r1, n))
        i0 = self._add_verts(self._ring(cx, cy, zi, ri0, n))
        i1 = self._add_verts(self._ring(cx, cy, z1, r1 - w, n))
        self._side(o0, o1, n, slot, outward=True)
        self._side(i0, i1, n, slot, outward=False)
        self._annulus(self._add_verts(self._ring(cx, cy, z1, r1, n)), self._add_verts(self._ring(cx, cy, z1, r1 - w, n)),
                      n, slot, up=True)
        if bottom:
            self._cap(self._add_verts(self._ring(cx, cy, z0, r0, n)), n, slot, up=False)
            self._cap(self._add_verts(self._ring(cx, cy, zi, ri0, n)), n, slot, up=True)
        else:
            self._annulus(self._add_verts(self._ring(cx, cy, z0, r0, n)), self._add_verts(self._ring(cx, cy, z0, ri0, n)),
                          n, slot, up=False)

    def sphere(self, p: Part, slot: int) -> None:
        cx, cy, cz = p.center
        rx, ry, rz = p.size[0] / 2, p.size[1] / 2, p.size[2] / 2
        n = _segments(max(rx, ry, rz))
        rings = max(6, n // 2)
        b = self._add_verts([(cx, cy, cz - rz)])
        for j in range(1, rings):
            phi = -math.pi / 2 + math.pi * j / rings
            self._add_verts([(cx + rx * math.cos(phi) * math.cos(2 * math.pi * k / n),
                              cy + ry * math.cos(phi) * math.sin(2 * math.pi * k / n), cz + rz * math.sin(phi))
                             for k in range(n)])
        top = self._add_verts([(cx, cy, cz + rz)])
        first = b + 1
        for k in range(n):
            self._face((b, first + (k + 1) % n, first + k), slot, True)
        for j in range(rings - 2):
            r0, r1 = first + j * n, first + (j + 1) * n
            for k in range(n):
                a, c = k, (k + 1) % n
                self._face((r0 + a, r0 + c, r1 + c, r1 + a), slot, True)
        last = first + (rings - 2) * n
        for k in range(n):
            self._face((last + k, last + (k + 1) % n, top), slot, True)

    def add(self, p: Part, slot: int) -> None:
        if p.shape == "box":
            self.box(p.center, p.size, slot)
        elif p.shape == "sphere":
            self.sphere(p, slot)
        elif p.shape in ("cylinder", "cup", "tube"):
            self.round_part(p, slot)
        else:
            raise ValueError(f"unknown part shape {p.shape!r}")

    def to_mesh(self, name: str) -> bpy.types.Mesh:
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata(self.verts, [], self.faces)
        mesh.polygons.foreach_set("material_index", self.mat)
        mesh.polygons.foreach_set("use_smooth", self.smooth)
        mesh.update()
        return mesh


# ---------------------------------------------------------------------------------------- materials


def _sock(sockets, identifier: str):
    """Socket by identifier (the Mix node has several sockets named "A", "B", "Result")."""
    for sock in sockets:
        if sock.identifier == identifier:
            return sock
    raise KeyError(f"no socket with identifier {identifier!r}")


def _link(tree, out_socket, in_socket) -> None:
    tree.links.new(out_socket, in_socket)


def _planar_coords(tree, scale):
    """Object-space coordinates (metres) projected on the dominant plane of the face normal:
    (x, y) on floors/tops, (x + y, z) on vertical faces; scaled by ``scale`` (3 floats)."""
    nodes = tree.nodes
    tc = nodes.new("ShaderNodeTexCoord")
    geo = nodes.new("ShaderNodeNewGeometry")
    sep = nodes.new("ShaderNodeSeparateXYZ")
    nsep = nodes.new("ShaderNodeSeparateXYZ")
    _link(tree, tc.outputs["Object"], sep.inputs["Vector"])
    _link(tree, geo.outputs["Normal"], nsep.inputs["Vector"])
    absz = nodes.new("ShaderNodeMath")
    absz.operation = "ABSOLUTE"
    _link(tree, nsep.outputs["Z"], absz.inputs[0])
    flat = nodes.new("ShaderNodeMath")
    flat.operation = "GREATER_THAN"
    _link(tree, absz.outputs[0], flat.inputs[0])
    flat.inputs[1].default_value = 0.7
    xy = nodes.new("ShaderNodeMath")
    xy.operation = "ADD"
    _link(tree, sep.outputs["X"], xy.inputs[0])
    _link(tree, sep.outputs["Y"], xy.inputs[1])
    vert = nodes.new("ShaderNodeCombineXYZ")
    _link(tree, xy.outputs[0], vert.inputs["X"])
    _link(tree, sep.outputs["Z"], vert.inputs["Y"])
    horiz = nodes.new("ShaderNodeCombineXYZ")
    _link(tree, sep.outputs["X"], horiz.inputs["X"])
    _link(tree, sep.outputs["Y"], horiz.inputs["Y"])
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "VECTOR"
    _link(tree, flat.outputs[0], _sock(mix.inputs, "Factor_Float"))
    _link(tree, vert.outputs["Vector"], _sock(mix.inputs, "A_Vector"))
    _link(tree, horiz.outputs["Vector"], _sock(mix.inputs, "B_Vector"))
    mapping = nodes.new("ShaderNodeMapping")
    mapping.inputs["Scale"].default_value = scale
    _link(tree, _sock(mix.outputs, "Result_Vector"), mapping.inputs["Vector"])
    return mapping.outputs["Vector"]


def _texture(tree, m: Material):
    """RGB colour socket and a 0..1 pattern socket for a procedural texture."""
    nodes = tree.nodes
    s = m.texture_scale
    c1, c2 = (*m.color, 1.0), (*m.color2, 1.0)
    if m.texture == "tile":
        coords = _planar_coords(tree, (1.0, 1.0, 1.0))
        tex = nodes.new("ShaderNodeTexBrick")
        tex.offset = 0.0
        tex.inputs["Scale"].default_value = s
        tex.inputs["Brick Width"].default_value = 1.0
        tex.inputs["Row Height"].default_value = 1.0
        tex.inputs["Mortar Size"].default_value = 0.004 * s
        tex.inputs["Color1"].default_value = c1
        tex.inputs["Color2"].default_value = tuple(0.93 * v for v in m.color) + (1.0,)
        tex.inputs["Mortar"].default_value = c2
        _link(tree, coords, tex.inputs["Vector"])
        inv = nodes.new("ShaderNodeMath")
        inv.operation = "SUBTRACT"
        inv.inputs[0].default_value = 1.0
        _link(tree, tex.outputs["Fac"], inv.inputs[1])
        return tex.outputs["Color"], inv.outputs[0]
    if m.texture == "wood":
        coords = _planar_coords(tree, (1.0, 1.0, 1.0))
        tex = nodes.new("ShaderNodeTexWave")
        tex.wave_type = "BANDS"
        tex.bands_direction = "X"
        tex.inputs["Scale"].default_value = s
        tex.inputs["Distortion"].default_value = 4.0
        tex.inputs["Detail"].default_value = 3.0
        tex.inputs["Detail Scale"].default_value = 1.5
        pattern = tex.outputs["Fac"]
    elif m.texture == "fabric":
        coords = _planar_coords(tree, (1.0, 1.0, 1.0))
        tex = nodes.new("ShaderNodeTexChecker")
        tex.inputs["Scale"].default_value = s
        tex.inputs["Color1"].default_value = (1, 1, 1, 1)
        tex.inputs["Color2"].default_value = (0, 0, 0, 1)
        pattern = tex.outputs["Fac"]
    elif m.texture == "brushed":
        coords = _planar_coords(tree, (s, 3.0, 3.0))
        tex = nodes.new("ShaderNodeTexNoise")
        tex.inputs["Scale"].default_value = 1.0
        tex.inputs["Detail"].default_value = 2.0
        pattern = tex.outputs["Fac"]
    else:  # noise
        coords = _planar_coords(tree, (1.0, 1.0, 1.0))
        tex = nodes.new("ShaderNodeTexNoise")
        tex.inputs["Scale"].default_value = s
        tex.inputs["Detail"].default_value = 6.0
        tex.inputs["Roughness"].default_value = 0.6
        contrast = nodes.new("ShaderNodeMapRange")
        contrast.inputs["From Min"].default_value = 0.35
        contrast.inputs["From Max"].default_value = 0.65
        _link(tree, tex.outputs["Fac"], contrast.inputs["Value"])
        pattern = contrast.outputs["Result"]
    _link(tree, coords, tex.inputs["Vector"])
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    _link(tree, pattern, _sock(mix.inputs, "Factor_Float"))
    _sock(mix.inputs, "A_Color").default_value = c2
    _sock(mix.inputs, "B_Color").default_value = c1
    return _sock(mix.outputs, "Result_Color"), pattern


def wire_ir_switch(tree, principled, rgb_socket, rgb_default, ir_reflectance: float, pattern=None,
                   ir_contrast: float = 0.0):
    """Feed Base Color through the "RGB/IR" Mix node (A = RGB, B = IR grey, Factor = IR switch)."""
    nodes = tree.nodes
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.name = mix.label = MIX_NODE
    switch = ir_switch_node(tree)
    _link(tree, switch.outputs["Fac"], _sock(mix.inputs, "Factor_Float"))
    if rgb_socket is not None:
        _link(tree, rgb_socket, _sock(mix.inputs, "A_Color"))
    else:
        _sock(mix.inputs, "A_Color").default_value = rgb_default
    ir = float(ir_reflectance)
    if pattern is not None and ir_contrast > 0:
        ir_map = nodes.new("ShaderNodeMapRange")
        ir_map.name = ir_map.label = "IR texture"
        _link(tree, pattern, ir_map.inputs["Value"])
        ir_map.inputs["To Min"].default_value = ir * (1.0 - ir_contrast)
        ir_map.inputs["To Max"].default_value = ir
        _link(tree, ir_map.outputs["Result"], _sock(mix.inputs, "B_Color"))
    else:
        _sock(mix.inputs, "B_Color").default_value = (ir, ir, ir, 1.0)
    _link(tree, _sock(mix.outputs, "Result_Color"), principled.inputs["Base Color"])
    return mix


def tag_material(mat: bpy.types.Material, cls: str, ir_reflectance: float) -> None:
    mat.pass_index = CLASS_IDS[cls]
    mat["lbd_class"] = cls
    mat["lbd_ir_reflectance"] = float(ir_reflectance)


def add_shadow_pass(tree, principled, output, tint=(1.0, 1.0, 1.0)) -> None:
    """Glass: camera/reflection rays see the Principled glass, shadow rays pass (tinted)."""
    nodes = tree.nodes
    path = nodes.new("ShaderNodeLightPath")
    transparent = nodes.new("ShaderNodeBsdfTransparent")
    transparent.inputs["Color"].default_value = (*tint, 1.0)
    mix = nodes.new("ShaderNodeMixShader")
    mix.name = mix.label = "Shadow pass"
    _link(tree, path.outputs["Is Shadow Ray"], mix.inputs["Fac"])
    _link(tree, principled.outputs["BSDF"], mix.inputs[1])
    _link(tree, transparent.outputs["BSDF"], mix.inputs[2])
    _link(tree, mix.outputs["Shader"], output.inputs["Surface"])


def make_material(m: Material) -> bpy.types.Material:
    """A Blender material from a catalogue instance (see the module docstring for the contract)."""
    mat = bpy.data.materials.new(m.name)
    tree = mat.node_tree
    principled = tree.nodes.get(PRINCIPLED) or tree.nodes.new("ShaderNodeBsdfPrincipled")
    principled.name = PRINCIPLED
    output = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial")
    inp = principled.inputs
    inp["Roughness"].default_value = m.roughness
    inp["Metallic"].default_value = m.metallic
    inp["IOR"].default_value = m.ior
    inp["Transmission Weight"].default_value = m.transmission
    inp["Coat Weight"].default_value = m.coat
    inp["Coat Roughness"].default_value = 0.05
    rgb_socket, pattern = (None, None)
    if m.texture != "none":
        rgb_socket, pattern = _texture(tree, m)
    wire_ir_switch(tree, principled, rgb_socket, (*m.color, 1.0), m.ir_reflectance, pattern, m.ir_contrast)
    if m.cls == "glass":
        add_shadow_pass(tree, principled, output, tint=tuple(min(1.0, 0.5 + 0.5 * c) for c in m.color))
    tag_material(mat, m.cls, m.ir_reflectance)
    mat["lbd_base"] = m.base
    mat.diffuse_color = (*m.color, 1.0)  # viewport
    return mat


# ---------------------------------------------------------------------------------------- lights, world


def _aim(obj: bpy.types.Object, direction) -> None:
    """Rotate so the light's -Z axis points along ``direction``."""
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = Vector(direction).normalized().to_track_quat("-Z", "Y")


def make_light(li: Light, collection) -> bpy.types.Object:
    data = bpy.data.lights.new(li.name, li.kind)
    data.color = li.color
    data.energy = li.energy
    if li.kind == "AREA":
        data.shape = "RECTANGLE" if li.size[1] > 0 and li.size[0] != li.size[1] else "DISK"
        data.size = li.size[0]
        if data.shape == "RECTANGLE":
            data.size_y = li.size[1]
    elif li.kind in ("POINT", "SPOT"):
        data.shadow_soft_size = li.size[0]
    elif li.kind == "SUN":
        data.angle = li.size[0]
    obj = bpy.data.objects.new(li.name, data)
    obj.location = li.position
    _aim(obj, li.direction)
    obj.visible_camera = False
    obj["lbd_role"] = li.role
    obj["lbd_rgb_energy"] = float(li.energy)
    if li.fixture:
        obj["lbd_fixture"] = li.fixture
    collection.objects.link(obj)
    return obj


def set_world(color, strength: float) -> bpy.types.World:
    scene = bpy.context.scene
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    tree = world.node_tree
    bg = next((n for n in tree.nodes if n.bl_idname == "ShaderNodeBackground"), None)
    if bg is None:
        bg = tree.nodes.new("ShaderNodeBackground")
        out = next((n for n in tree.nodes if n.bl_idname == "ShaderNodeOutputWorld"), None) or \
            tree.nodes.new("ShaderNodeOutputWorld")
        tree.links.new(bg.outputs["Background"], out.inputs["Surface"])
    bg.inputs["Color"].default_value = (*color, 1.0)
    bg.inputs["Strength"].default_value = strength
    world["lbd_rgb_strength"] = float(strength)
    return world


# ---------------------------------------------------------------------------------------- build


def build_object(obj: SceneObject, materials: dict[str, bpy.types.Material], collection) -> bpy.types.Object:
    slots: dict[str, int] = {}
    mb = MeshBuilder()
    for part in obj.parts:
        slot = slots.setdefault(part.material, len(slots))
        mb.add(part, slot)
    mesh = mb.to_mesh(obj.name)
    for name in slots:
        mesh.materials.append(materials[name])
    bobj = bpy.data.objects.new(obj.name, mesh)
    bobj.location = obj.position
    bobj.rotation_euler = (0.0, 0.0, obj.yaw)
    bobj["lbd_category"] = obj.category
    bobj["lbd_kind"] = obj.kind
    collection.objects.link(bobj)
    return bobj


def add_description(scene: Scene, collection, first_id: int = 1) -> dict[str, int]:
    """Build the materials, objects and lights of ``scene`` into ``collection`` (without clearing);
    objects get instance ids from ``first_id`` on. Returns object name -> instance id."""
    if first_id - 1 + len(scene.objects) > MAX_INSTANCES:
        raise ValueError(f"scene {scene.scene_id}: {len(scene.objects)} objects exceed {MAX_INSTANCES} instance ids")
    materials = {m.name: make_material(m) for m in scene.materials}
    instance_ids: dict[str, int] = {}
    for i, obj in enumerate(scene.objects, start=first_id):
        try:
            bobj = build_object(obj, materials, collection)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"scene {scene.scene_id}: cannot build object {obj.name}: {exc}") from None
        bobj.pass_index = i
        instance_ids[bobj.name] = i
    for li in scene.lights:
        make_light(li, collection)
    return instance_ids


def build_scene(scene: Scene, *, scene_id: int | None = None, source: str = "procedural") -> BuiltScene:
    """Clear the current bpy scene and build ``scene`` into it (see the module docstring).

    ``scene_id`` overrides the description's id (a scene JSON is rendered under its content-hash id);
    ``source`` names where the description came from. A procedural room's bounds are its rectangle;
    any other description's (the test scenes) the AABB of its meshes."""
    bscene = clear_scene()
    set_ir_switch(False)  # a fresh scene starts in RGB mode
    instance_ids = add_description(scene, bscene.collection)
    set_world(scene.world_color, scene.world_strength)
    sid = int(scene.scene_id if scene_id is None else scene_id)
    bscene["lbd_ir_ambient"] = float(scene.ir_ambient)
    bscene["lbd_scene_id"] = sid
    room = scene.room
    if room.room_type in ROOM_TYPES or room.room_type == SHELL_ROOM_TYPE:
        bounds = ((0.0, 0.0, 0.0), (room.width, room.depth, room.height))
    else:
        lo, hi = world_aabb(mesh_objects())
        bounds = (tuple(float(v) for v in lo), tuple(float(v) for v in hi))
    return BuiltScene(
        scene_id=sid, instance_ids=instance_ids, bounds=bounds, ir_ambient=scene.ir_ambient,
        source=source, room_type=room.room_type, floor_z=0.0, floor_rects=room.floor_rects(),
        shell=tuple(o.name for o in scene.objects if o.kind == "shell"),
        material_classes={m.name: m.cls for m in scene.materials},
    )


def mesh_objects() -> list[bpy.types.Object]:
    return sorted((o for o in bpy.context.scene.objects if o.type == "MESH"), key=lambda o: o.name)


def world_aabb(objects) -> tuple[np.ndarray, np.ndarray]:
    """AABB (lo, hi) of the evaluated bounding boxes of ``objects`` (world frame, metres)."""
    pts = []
    for o in objects:
        mw = np.array(o.matrix_world)
        corners = np.array([list(c) + [1.0] for c in o.bound_box])
        pts.append((corners @ mw.T)[:, :3])
    allp = np.vstack(pts)
    return allp.min(axis=0), allp.max(axis=0)
