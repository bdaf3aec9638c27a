"""Import a user's own scene (.blend, .glb/.gltf, .obj, .fbx) and bring it under the renderer contract.

``import_scene(path, mapping=None) -> BuiltScene`` clears the current bpy scene, imports the file
(metres, +z up after Blender's importers), numbers the mesh objects (``pass_index`` 1..N in name
order), assigns every material a class and an IR reflectance and wires the IR switch into its Base
Color exactly like ``build_scene`` (see its module docstring), tags lights with roles (adding a
ceiling light if the file has none) and sets the scene/world properties.

Material classes come from ``mapping`` when given (a dict or a JSON file path)::

    {"materials": {"Glass*": "glass", "Floor": {"class": "textured", "ir_reflectance": 0.4}},
     "ir_ambient": 0.08}

keys are material or object names, ``fnmatch`` patterns allowed; a flat ``{"name": "class"}`` dict is
accepted too. Unmapped materials are classified by name keywords (glass, mirror, steel, black, ...)
and then by their Principled BSDF settings (transmission, metallic, roughness, texture, colour).
"""
from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import bpy
import numpy as np

from scenes.materials import CLASS_IDS
from synth.blender.ir_switch import set_ir_switch
from synth.blender.build_scene import (MAX_INSTANCES, MIX_NODE, PRINCIPLED, BuiltScene, add_shadow_pass, clear_scene,
                                       set_world, tag_material, wire_ir_switch, world_aabb)

SUPPORTED = (".blend", ".glb", ".gltf", ".obj", ".fbx")
DEFAULT_IR_AMBIENT = 0.05

# checked in this order; the first class whose keyword occurs in the material (or object) name wins
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mirror", ("mirror",)),
    ("dark", ("black", "dark", "rubber", "screen", "monitor", "display", "carbon", "tyre", "tire", "asphalt")),
    ("glass", ("glass", "window", "bottle", "transparent", "acrylic", "crystal", "pane", "lens", "vitrine", "perspex")),
    ("metal", ("metal", "steel", "chrome", "alumin", "iron", "brass", "copper", "gold", "silver", "nickel", "inox",
               "titanium", "zinc")),
    ("textured", ("wood", "fabric", "cloth", "tile", "marble", "carpet", "brick", "stone", "granite", "leather", "paper",
                  "book", "texture", "pattern", "rug", "oak", "walnut", "parquet", "terrazzo", "cork")),
    ("glossy", ("gloss", "plastic", "lacquer", "ceramic", "porcelain", "enamel", "varnish", "polished", "vinyl")),
    ("textureless", ("wall", "plaster", "paint", "matte", "ceiling", "concrete", "white")),
)
DEFAULT_IR = {"textured": 0.5, "textureless": 0.7, "glossy": 0.5, "metal": 0.75, "mirror": 0.9, "glass": 0.95,
              "dark": 0.04}


# ---------------------------------------------------------------------------------------- mapping


def load_mapping(mapping: dict | str | Path | None) -> tuple[dict[str, dict], float | None, str]:
    """Normalise a mapping to ({pattern: {"class": c, "ir_reflectance": r?}}, ir_ambient, label)."""
    if mapping is None:
        return {}, None, "no mapping"
    label = "mapping"
    if isinstance(mapping, (str, Path)):
        label = f"mapping file {mapping}"
        try:
            mapping = json.loads(Path(mapping).read_text())
        except FileNotFoundError:
            raise ValueError(f"{label} does not exist") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{label} is not valid JSON: {exc}") from None
    if not isinstance(mapping, dict):
        raise ValueError(f"{label} must be a JSON object")
    ir_ambient = mapping.get("ir_ambient")
    table = mapping.get("materials", {k: v for k, v in mapping.items() if k != "ir_ambient"})
    out: dict[str, dict] = {}
    for key, value in table.items():
        spec = {"class": value} if isinstance(value, str) else dict(value) if isinstance(value, dict) else None
        if spec is None or spec.get("class") not in CLASS_IDS:
            raise ValueError(f"{label}: entry {key!r} has unknown class {value!r}; classes: {', '.join(CLASS_IDS)}")
        if "ir_reflectance" in spec and not 0.0 <= float(spec["ir_reflectance"]) <= 1.0:
            raise ValueError(f"{label}: entry {key!r} has ir_reflectance outside 0..1")
        out[key] = spec
    if ir_ambient is not None and not 0.0 <= float(ir_ambient) <= 1.0:
        raise ValueError(f"{label}: ir_ambient must be within 0..1")
    return out, (None if ir_ambient is None else float(ir_ambient)), label


def _lookup(table: dict[str, dict], names: list[str]) -> dict | None:
    for name in names:  # exact names first (material, then objects), then patterns
        if name in table:
            return table[name]
    for name in names:
        for pattern, spec in table.items():
            if fnmatch.fnmatchcase(name, pattern):
                return spec
    return None


# ---------------------------------------------------------------------------------------- classification


def _principled(mat: bpy.types.Material):
    return next((n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"), None)


def classify_by_name(names: list[str]) -> str | None:
    for name in names:
        low = name.lower()
        for cls, words in KEYWORDS:
            if any(w in low for w in words):
                return cls
    return None


def classify_by_nodes(mat: bpy.types.Material) -> str:
    p = _principled(mat)
    if p is None:
        return "textureless"
    inp = p.inputs
    transmission = inp["Transmission Weight"].default_value
    alpha = inp["Alpha"].default_value
    metallic = inp["Metallic"].default_value
    rough = inp["Roughness"].default_value
    coat = inp["Coat Weight"].default_value
    if transmission >= 0.5 or alpha < 0.5:
        return "glass"
    if metallic >= 0.5:
        return "mirror" if rough < 0.03 else "metal"
    if inp["Base Color"].is_linked:
        return "textured"
    r, g, b, _ = inp["Base Color"].default_value
    if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.03:
        return "dark"
    return "glossy" if rough < 0.25 or coat > 0.3 else "textureless"


# ---------------------------------------------------------------------------------------- conversion


def convert_material(mat: bpy.types.Material, cls: str, ir: float | None) -> None:
    """Bring an imported material under the contract (Principled, RGB/IR mix, tags)."""
    tree = mat.node_tree
    p = _principled(mat)
    output = next((n for n in tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial"), None) or \
        tree.nodes.new("ShaderNodeOutputMaterial")
    if p is None:  # e.g. a plain Diffuse BSDF: replace with a Principled of the same colour
        colour = (0.6, 0.6, 0.6, 1.0)
        for n in tree.nodes:
            if "Color" in n.inputs and n.bl_idname.startswith("ShaderNodeBsdf"):
                colour = tuple(n.inputs["Color"].default_value)
                break
        p = tree.nodes.new("ShaderNodeBsdfPrincipled")
        p.inputs["Base Color"].default_value = colour
        tree.links.new(p.outputs["BSDF"], output.inputs["Surface"])
    p.name = PRINCIPLED
    inp = p.inputs
    base = inp["Base Color"]
    rgb_socket = base.links[0].from_socket if base.is_linked else None
    if base.is_linked:
        tree.links.remove(base.links[0])
    rgb_default = tuple(base.default_value)
    if cls == "glass":
        inp["Transmission Weight"].default_value = 1.0
        inp["Alpha"].default_value = 1.0
    elif cls in ("mirror", "metal"):
        inp["Metallic"].default_value = 1.0
        if cls == "mirror":
            inp["Roughness"].default_value = 0.0
    if ir is None:
        lum = 0.2126 * rgb_default[0] + 0.7152 * rgb_default[1] + 0.0722 * rgb_default[2]
        ir = DEFAULT_IR[cls] if rgb_socket is not None or cls in ("metal", "mirror", "glass", "dark") else \
            float(min(0.9, max(0.1, 0.3 + 0.6 * lum)))
    pattern = rgb_socket if (rgb_socket is not None and cls == "textured") else None
    wire_ir_switch(tree, p, rgb_socket, rgb_default, ir, pattern, 0.2 if pattern is not None else 0.0)
    if cls == "glass" and not any(n.name == "Shadow pass" for n in tree.nodes):
        add_shadow_pass(tree, p, output)
    tag_material(mat, cls, ir)


def _already_converted(mat: bpy.types.Material) -> bool:
    p = _principled(mat)
    return bool(p is not None and "lbd_class" in mat and p.inputs["Base Color"].is_linked
                and p.inputs["Base Color"].links[0].from_node.name == MIX_NODE)


# ---------------------------------------------------------------------------------------- import


def _run_importer(path: Path) -> None:
    ext = path.suffix.lower()
    if ext == ".blend":
        with bpy.data.libraries.load(str(path), link=False) as (src, dst):
            dst.objects = list(src.objects)
        for obj in dst.objects:
            if obj is not None and obj.name not in bpy.context.scene.collection.objects:
                bpy.context.scene.collection.objects.link(obj)
        return
    if ext in (".glb", ".gltf"):
        result = bpy.ops.import_scene.gltf(filepath=str(path))
    elif ext == ".obj":
        result = bpy.ops.wm.obj_import(filepath=str(path))
    else:
        result = bpy.ops.import_scene.fbx(filepath=str(path))
    if "FINISHED" not in result:
        raise RuntimeError(f"importer returned {sorted(result)}")


def _light_role(obj: bpy.types.Object) -> str:
    kind = obj.data.type
    if kind == "SUN":
        return "sun"
    if kind == "AREA":
        down = np.array(obj.matrix_world.to_3x3().col[2])  # light shines along -Z
        return "ceiling" if -down[2] > 0.7 else "window"
    return "lamp"


def _floor_height(lo: np.ndarray, hi: np.ndarray) -> float:
    """Height of the first upward-facing surface below the middle of the bounds (else the bottom)."""
    from mathutils import Vector
    origin = Vector(((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2] - 0.01))
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for _ in range(8):  # step through down-facing surfaces (ceilings, table tops' undersides)
        hit, loc, normal, *_ = bpy.context.scene.ray_cast(depsgraph, origin, Vector((0, 0, -1)))
        if not hit:
            break
        if normal.z > 0.5 and loc.z < lo[2] + 0.2 * (hi[2] - lo[2]):
            return float(loc.z)
        origin = loc + Vector((0, 0, -1e-3))
    return float(lo[2])


def import_scene(path: str | Path, mapping: dict | str | Path | None = None,
                 scene_id: int | str | None = None) -> BuiltScene:
    """Clear the current bpy scene and import a user scene file; raises ValueError naming the file."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"scene file {path} does not exist")
    if path.suffix.lower() not in SUPPORTED:
        raise ValueError(f"scene file {path}: unsupported format {path.suffix!r}; supported: {', '.join(SUPPORTED)}")
    table, ir_ambient, label = load_mapping(mapping)
    bscene = clear_scene()
    set_ir_switch(False)
    try:
        _run_importer(path)
    except Exception as exc:  # importers raise RuntimeError, OSError, KeyError, ... on broken files
        clear_scene()
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"scene file {path} failed to import: {reason}") from None
    for cam in [o for o in bscene.objects if o.type == "CAMERA"]:
        bpy.data.objects.remove(cam)
    for empty in [o for o in bscene.objects if o.type == "MESH" and len(o.data.polygons) == 0]:
        bpy.data.objects.remove(empty)
    meshes = sorted((o for o in bscene.objects if o.type == "MESH"), key=lambda o: o.name)
    if not meshes:
        clear_scene()
        raise ValueError(f"scene file {path} failed to import: it contains no mesh objects with faces")
    if len(meshes) > MAX_INSTANCES:
        raise ValueError(f"scene file {path}: {len(meshes)} mesh objects exceed {MAX_INSTANCES} instance ids")

    # materials: class from mapping, then name keywords, then node settings
    default = None
    users: dict[str, list[str]] = {}
    for obj in meshes:
        if not obj.material_slots or any(s.material is None for s in obj.material_slots):
            if default is None:
                default = bpy.data.materials.new("LBD_default")
                default.node_tree.nodes[PRINCIPLED].inputs["Base Color"].default_value = (0.6, 0.6, 0.6, 1.0)
            if not obj.material_slots:
                obj.data.materials.append(default)
            for slot in obj.material_slots:
                if slot.material is None:
                    slot.material = default
        for slot in obj.material_slots:
            users.setdefault(slot.material.name, []).append(obj.name)
    classes: dict[str, str] = {}
    for mat_name in sorted(users):
        mat = bpy.data.materials[mat_name]
        names = [mat_name] + users[mat_name]
        spec = _lookup(table, names)
        converted = _already_converted(mat)
        if spec is not None:
            cls, ir = spec["class"], spec.get("ir_reflectance")
        elif converted:  # a file written from one of our scenes keeps its classes
            cls, ir = str(mat["lbd_class"]), mat.get("lbd_ir_reflectance")
        else:
            cls, ir = classify_by_name(names) or classify_by_nodes(mat), None
        if converted:
            tag_material(mat, cls, float(ir if ir is not None else DEFAULT_IR[cls]))
        else:
            convert_material(mat, cls, None if ir is None else float(ir))
        classes[mat_name] = cls

    instance_ids = {}
    for i, obj in enumerate(meshes, start=1):
        obj.pass_index = i
        obj["lbd_category"] = "imported"
        instance_ids[obj.name] = i
    lo, hi = world_aabb(meshes)
    floor_z = _floor_height(lo, hi)
    lights = [o for o in bscene.objects if o.type == "LIGHT"]
    for obj in lights:
        obj["lbd_role"] = _light_role(obj)
        obj["lbd_rgb_energy"] = float(obj.data.energy)
    if not lights:  # a user scene without lights: one ceiling area light under the top of the bounds
        data = bpy.data.lights.new("LBD_ceiling", "AREA")
        area = float((hi[0] - lo[0]) * (hi[1] - lo[1]))
        data.energy = 12.0 * max(area, 1.0)
        data.size = float(max(0.5, 0.3 * min(hi[0] - lo[0], hi[1] - lo[1])))
        light = bpy.data.objects.new("LBD_ceiling", data)
        light.location = ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2] - 0.05)
        light["lbd_role"] = "ceiling"
        light["lbd_rgb_energy"] = float(data.energy)
        bscene.collection.objects.link(light)
    world = bscene.world
    strength = 0.3
    if world is not None:
        bg = next((n for n in world.node_tree.nodes if n.bl_idname == "ShaderNodeBackground"), None)
        if bg is not None:
            strength = float(bg.inputs["Strength"].default_value)
            colour = tuple(bg.inputs["Color"].default_value)[:3]
        else:
            colour = (0.05, 0.05, 0.05)
    else:
        colour = (0.05, 0.05, 0.05)
    set_world(colour, strength)
    ir = DEFAULT_IR_AMBIENT if ir_ambient is None else ir_ambient
    sid = scene_id if scene_id is not None else path.stem
    bscene["lbd_ir_ambient"] = float(ir)
    bscene["lbd_scene_id"] = sid
    return BuiltScene(
        scene_id=sid, instance_ids=instance_ids,
        bounds=(tuple(float(v) for v in lo), tuple(float(v) for v in hi)), ir_ambient=float(ir), source=str(path),
        room_type=None, floor_z=floor_z, floor_rects=[(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))],
        shell=(), material_classes=classes,
    )
