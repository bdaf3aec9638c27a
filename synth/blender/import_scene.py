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
import sys
from pathlib import Path

import bpy
import numpy as np

from lbd.classes import SURFACE_CLASSES
from scenes.shell import describe_shell
from synth.blender.build_scene import (
    MAX_INSTANCES,
    MIX_NODE,
    PRINCIPLED,
    BuiltScene,
    add_description,
    add_shadow_pass,
    clear_scene,
    set_world,
    tag_material,
    wire_ir_switch,
    world_aabb,
)
from synth.blender.ir_switch import ir_switch_node, set_ir_switch

SUPPORTED = (".blend", ".glb", ".gltf", ".obj", ".fbx")
DEFAULT_IR_AMBIENT = 0.05

# checked in this order; the first class whose keyword occurs in the material (or object) name wins
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mirror", ("mirror",)),
    ("dark", ("black", "dark", "rubber", "screen", "monitor", "display", "carbon", "tyre", "tire", "asphalt")),
    ("glass", ("glass", "window", "transparent", "acrylic", "crystal", "pane", "lens", "vitrine", "perspex")),
    ("metal", ("metal", "steel", "chrome", "alumin", "iron", "brass", "copper", "gold", "silver", "nickel", "inox",
               "titanium", "zinc")),
    ("textured", ("wood", "fabric", "cloth", "tile", "marble", "carpet", "brick", "stone", "granite", "leather", "paper",
                  "book", "texture", "pattern", "rug", "oak", "walnut", "parquet", "terrazzo", "cork")),
    ("glossy", ("gloss", "plastic", "lacquer", "ceramic", "porcelain", "enamel", "varnish", "polished", "vinyl")),
    ("textureless", ("wall", "plaster", "paint", "matte", "ceiling", "concrete", "white")),
)
NOT_GLASS = ("opaque", "frame", "label")  # "GlassHolder-opaque" is the holder's base, not its glass
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
        if spec is None or spec.get("class") not in SURFACE_CLASSES:
            raise ValueError(f"{label}: entry {key!r} has unknown class {value!r}; classes: {', '.join(SURFACE_CLASSES)}")
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
    return (_name_rule(names) or (None, ""))[0]


def _name_rule(names: list[str]) -> tuple[str, str] | None:
    for name in names:
        low = name.lower()
        for cls, words in KEYWORDS:
            if cls == "glass" and any(w in low for w in NOT_GLASS):
                continue
            word = next((w for w in words if w in low), None)
            if word:
                return cls, f"name keyword {word!r} in {name!r}"
    return None


def _group_factors(mat: bpy.types.Material) -> dict[str, float]:
    """Unlinked float inputs of node groups (old glTF-Blender materials keep MetallicFactor etc. there
    when their library is missing)."""
    out = {}
    for n in mat.node_tree.nodes:
        if n.bl_idname == "ShaderNodeGroup":
            for sock in n.inputs:
                if not sock.is_linked and isinstance(getattr(sock, "default_value", None), float):
                    out[sock.name.lower()] = float(sock.default_value)
    return out


def classify_by_nodes(mat: bpy.types.Material, hint: dict | None = None) -> str:
    return _node_rule(mat, hint)[0]


def _node_rule(mat: bpy.types.Material, hint: dict | None = None) -> tuple[str, str]:
    """Class from the Principled settings (and an OBJ material's MTL values in ``hint``)."""
    p = _principled(mat)
    if p is None:
        g = _group_factors(mat)
        metallic = next((v for k, v in g.items() if "metal" in k), None)
        rough = next((v for k, v in g.items() if "rough" in k), 0.5)
        if metallic is not None and metallic >= 0.5:
            return ("mirror" if rough < 0.05 else "metal"), f"no Principled BSDF; group input metallic {metallic:g}"
        return "textureless", "no Principled BSDF (default)"
    inp = p.inputs
    tr = inp["Transmission Weight"]
    if tr.is_linked:
        return "glass", "transmission driven by a texture"
    transmission, alpha = tr.default_value, inp["Alpha"].default_value
    metallic, rough = inp["Metallic"].default_value, inp["Roughness"].default_value
    coat = inp["Coat Weight"].default_value
    if (transmission >= 0.5 or (alpha < 0.5 and not inp["Alpha"].is_linked)):
        return "glass", f"transmission {transmission:.2g}, alpha {alpha:.2g}"
    if metallic >= 0.5 and not inp["Metallic"].is_linked:
        if rough < 0.05:
            return "mirror", f"metallic {metallic:.2g}, roughness {rough:.2g}"
        return "metal", f"metallic {metallic:.2g}, roughness {rough:.2g}"
    if hint and hint.get("illum") in (3, 5) and max(hint.get("Ks", (0,))) >= 0.8 and hint.get("Ns", 0) >= 500:
        return "mirror", f"MTL illum {hint['illum']}, Ks {max(hint['Ks']):g}, Ns {hint['Ns']:g}"
    base = inp["Base Color"]
    if base.is_linked:
        why = "base colour from a texture"
        if inp["Metallic"].is_linked:
            why += " (metallic from a texture too: map it with --mapping if it is metal)"
        return "textured", why
    r, g_, b, _ = base.default_value
    lum = 0.2126 * r + 0.7152 * g_ + 0.0722 * b
    if lum < 0.03:
        if rough < 0.05:
            return "mirror", f"black (luminance {lum:.3f}) and roughness {rough:.2g}: a mirror"
        return "dark", f"base colour luminance {lum:.3f}"
    if hint and max(hint.get("Ks", (0,))) >= 0.2:
        return "glossy", f"MTL Ks {max(hint['Ks']):g}"
    if rough < 0.25 or coat > 0.3:
        return "glossy", f"roughness {rough:.2g}, coat {coat:.2g}"
    return "textureless", f"roughness {rough:.2g}, uniform colour"


def mtl_hints(path: Path) -> dict[str, dict]:
    """Per material of an OBJ's MTL files: illum, d, Ks, Ns, Tf (what the importer blurs)."""
    hints: dict[str, dict] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return hints
    libs = [line.split(None, 1)[1].strip() for line in text.splitlines() if line.startswith("mtllib ")]
    for lib in libs:
        try:
            lines = (path.parent / lib.replace("\\", "/")).read_text(errors="replace").splitlines()
        except OSError:
            continue
        cur = None
        for line in lines:
            parts = line.split()
            if not parts:
                continue
            key, vals = parts[0], parts[1:]
            try:
                if key == "newmtl" and vals:
                    cur = hints.setdefault(" ".join(vals), {})
                elif cur is not None and key == "illum":
                    cur["illum"] = int(float(vals[0]))
                elif cur is not None and key in ("d", "Ns", "Ni"):
                    cur[key] = float(vals[0])
                elif cur is not None and key in ("Ks", "Tf", "Kd"):
                    cur[key] = tuple(float(v) for v in vals[:3])
            except (ValueError, IndexError):
                continue
    return hints


def classify_material(mat: bpy.types.Material, names: list[str], table: dict, hint: dict | None) -> tuple[str, float | None, str]:
    """(class, IR reflectance or None, reason): the mapping, then unambiguous Principled transmission,
    then name keywords, then the Principled settings."""
    key = _lookup_key(table, names)
    if key is not None:
        spec = table[key]
        return spec["class"], spec.get("ir_reflectance"), f"mapping entry {key!r}"
    p = _principled(mat)
    if p is not None and not p.inputs["Transmission Weight"].is_linked \
            and p.inputs["Transmission Weight"].default_value >= 0.5:
        if hint is not None and hint.get("illum") not in (4, 6, 7, 9) and hint.get("d", 1.0) >= 0.99:
            # MTL "Tf 1 1 1" means "no filter" but imports as transmission 1: not glass (README trap)
            p.inputs["Transmission Weight"].default_value = 0.0
        else:
            return "glass", None, f"transmission {p.inputs['Transmission Weight'].default_value:.2g}"
    named = _name_rule(names)
    if named is not None:
        return named[0], None, named[1]
    cls, why = _node_rule(mat, hint)
    return cls, None, why


def _lookup_key(table: dict[str, dict], names: list[str]) -> str | None:
    for name in names:  # exact names first (material, then objects), then patterns
        if name in table:
            return name
    for name in names:
        for pattern in table:
            if fnmatch.fnmatchcase(name, pattern):
                return pattern
    return None


# ---------------------------------------------------------------------------------------- conversion


def _sock(sockets, identifier: str):
    return next(s for s in sockets if s.identifier == identifier)


def convert_material(mat: bpy.types.Material, cls: str, ir: float | None, ir_ambient: float = DEFAULT_IR_AMBIENT) -> float:
    """Bring an imported material under the contract (Principled, RGB/IR mix, tags); returns its IR
    reflectance (derived from the class and colour when ``ir`` is None)."""
    tree = mat.node_tree
    p = _principled(mat)
    output = next((n for n in tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial"), None) or \
        tree.nodes.new("ShaderNodeOutputMaterial")
    if p is None:  # e.g. a plain Diffuse BSDF or a missing node group: a Principled of the same colour
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
    _dim_emission_in_ir(tree, p, ir_ambient)
    tag_material(mat, cls, ir)
    return float(ir)


def _dim_emission_in_ir(tree, p, ir_ambient: float) -> None:
    """An emissive surface (an OBJ light quad) is a room light: in IR it keeps only ``ir_ambient``."""
    strength = p.inputs["Emission Strength"]
    colour = p.inputs["Emission Color"]
    if strength.is_linked or strength.default_value <= 0 or (not colour.is_linked and max(colour.default_value[:3]) <= 0):
        return
    remap = tree.nodes.new("ShaderNodeMapRange")
    remap.name = remap.label = "IR emission"
    tree.links.new(ir_switch_node(tree).outputs["Fac"], remap.inputs["Value"])
    remap.inputs["To Min"].default_value = float(strength.default_value)
    remap.inputs["To Max"].default_value = float(strength.default_value) * ir_ambient
    tree.links.new(remap.outputs["Result"], strength)


def _already_converted(mat: bpy.types.Material) -> bool:
    p = _principled(mat)
    return bool(p is not None and "lbd_class" in mat and p.inputs["Base Color"].is_linked
                and p.inputs["Base Color"].links[0].from_node.name == MIX_NODE)


# ---------------------------------------------------------------------------------------- import


def _run_importer(path: Path, up_axis: str = "auto") -> None:
    ext = path.suffix.lower()
    if ext == ".blend":
        with bpy.data.libraries.load(str(path), link=False) as (src, dst):
            dst.objects = list(src.objects)
            dst.images = list(src.images)  # so missing textures are found (old files use texture slots)
        for obj in dst.objects:
            if obj is not None and obj.name not in bpy.context.scene.collection.objects:
                bpy.context.scene.collection.objects.link(obj)
        return
    if ext in (".glb", ".gltf"):
        result = bpy.ops.import_scene.gltf(filepath=str(path))
    elif ext == ".obj":
        axes = {"forward_axis": "Y", "up_axis": "Z"} if up_axis == "z" else {}
        result = bpy.ops.wm.obj_import(filepath=str(path), use_split_groups=True, **axes)
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


def detect_unit_scale(extent: float) -> tuple[float, str]:
    """Metres per file unit from the largest extent of the geometry (in file units): a scene or object
    larger than 250 units is taken to be in millimetres, 50-250 units in centimetres, smaller than
    0.05 units (a model written in metres but meant in mm/cm) is scaled x100 (x1000 below 0.5 mm)."""
    if extent > 250.0:
        return 0.001, f"largest extent {extent:.4g} units: read as millimetres"
    if extent > 50.0:
        return 0.01, f"largest extent {extent:.4g} units: read as centimetres"
    if 0 < extent < 0.0005:
        return 1000.0, f"largest extent {extent:.4g} units: too small for metres, scaled x1000"
    if 0 < extent < 0.05:
        return 100.0, f"largest extent {extent:.4g} units: too small for metres, scaled x100"
    return 1.0, "metres"


def _transform_roots(objects, M) -> None:
    from mathutils import Matrix
    Mm = Matrix(np.asarray(M).tolist())
    for o in objects:
        if o.parent is None:
            o.matrix_world = Mm @ o.matrix_world
    bpy.context.view_layer.update()


def _mesh_edges(mesh) -> tuple[int, int]:
    """(directed edges used twice = inconsistent winding, boundary edges) from the loops."""
    nl, npoly = len(mesh.loops), len(mesh.polygons)
    if nl == 0:
        return 0, 0
    lv = np.empty(nl, np.int64)
    mesh.loops.foreach_get("vertex_index", lv)
    start = np.empty(npoly, np.int64)
    total = np.empty(npoly, np.int64)
    mesh.polygons.foreach_get("loop_start", start)
    mesh.polygons.foreach_get("loop_total", total)
    nxt = np.arange(nl) + 1
    ends = start + total - 1
    nxt[ends] = start
    a, b = lv, lv[nxt]
    nv = int(lv.max()) + 1
    directed = a * nv + b
    _, dcount = np.unique(directed, return_counts=True)
    undirected = np.minimum(a, b) * nv + np.maximum(a, b)
    _, ucount = np.unique(undirected, return_counts=True)
    return int((dcount > 1).sum()), int((ucount == 1).sum())


def _signed_volume(mesh) -> float:
    mesh.calc_loop_triangles()
    n = len(mesh.loop_triangles)
    if n == 0:
        return 0.0
    tri = np.empty(n * 3, np.int64)
    mesh.loop_triangles.foreach_get("vertices", tri)
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    v = co.reshape(-1, 3)[tri.reshape(-1, 3)]
    return float(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0)


def repair_normals(meshes, room_like: set[str], warnings: list[str]) -> None:
    """Broken custom normals are dropped (shading from the faces); objects (not the room's own
    structure) get consistent winding, closed ones facing outwards."""
    import bmesh

    done = set()
    for obj in meshes:
        mesh = obj.data
        if mesh.name in done:
            continue
        done.add(mesh.name)
        if mesh.has_custom_normals:
            attr = mesh.attributes.get("custom_normal")
            if attr is not None:
                mesh.attributes.remove(attr)
            else:
                with bpy.context.temp_override(object=obj, active_object=obj):
                    bpy.ops.mesh.customdata_custom_splitnormals_clear()
        if obj.name in room_like or len(mesh.polygons) > 300_000:
            continue
        inconsistent, boundary = _mesh_edges(mesh)
        if inconsistent:
            bm = bmesh.new()
            bm.from_mesh(mesh)
            bmesh.ops.recalc_face_normals(bm, faces=bm.faces)
            bm.to_mesh(mesh)
            bm.free()
            warnings.append(f"object {obj.name}: {inconsistent} edges with inconsistent face winding, made consistent")
        elif boundary == 0 and _signed_volume(mesh) < 0:
            mesh.flip_normals()
            warnings.append(f"object {obj.name}: closed mesh facing inwards, flipped outwards")
        mesh.update()


def missing_textures(warnings: list[str]) -> int:
    """Images that could not be loaded: warn, and unlink them so the material's own colour shows
    (instead of Cycles' magenta)."""
    missing = [im for im in bpy.data.images if im.source == "FILE" and tuple(im.size) == (0, 0)]
    for im in missing:
        warnings.append(f"texture {im.filepath or im.name} is missing; the material's base colour is used")
    names = {im.name for im in missing}
    if not names:
        return 0
    for mat in bpy.data.materials:
        if mat.node_tree is None:
            continue
        for node in mat.node_tree.nodes:
            if node.bl_idname == "ShaderNodeTexImage" and node.image is not None and node.image.name in names:
                for out in node.outputs:
                    for link in list(out.links):
                        mat.node_tree.links.remove(link)
    return len(missing)


def is_room(lo: np.ndarray, hi: np.ndarray) -> bool:
    """The file is a room if a camera fits inside (>= 1.5 m across, >= 1.5 m high) and rays from the
    middle (in free space: no hit within 0.4 m, no back face) hit a floor below and geometry in at
    least 3 of the 4 horizontal directions."""
    from mathutils import Vector
    ext = hi - lo
    if ext[0] < 1.5 or ext[1] < 1.5 or ext[2] < 1.5:
        return False
    depsgraph = bpy.context.evaluated_depsgraph_get()

    def probe(fx: float, fy: float) -> bool:
        c = Vector((lo[0] + fx * ext[0], lo[1] + fy * ext[1], lo[2] + 0.5 * ext[2]))
        hits = {}
        for d in ((0, 0, -1), (0, 0, 1), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0)):
            hit, loc, normal, *_ = bpy.context.scene.ray_cast(depsgraph, c, Vector(d))
            hits[d] = (bool(hit) and (loc - c).length >= 0.4, bool(hit) and normal.dot(Vector(d)) > 0)
        if not hits[(0, 0, -1)][0] or sum(back for _, back in hits.values()) >= 4:  # no floor, or inside a solid
            return False
        return sum(hits[d][0] for d in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0))) >= 3

    return any(probe(fx, fy) for fx, fy in ((0.5, 0.5), (0.3, 0.3), (0.7, 0.3), (0.3, 0.7), (0.7, 0.7)))


def import_scene(path: str | Path, mapping: dict | str | Path | None = None, scene_id: int | str | None = None,
                 unit_scale: float | None = None, up_axis: str = "auto", seed: int = 0) -> BuiltScene:
    """Clear the current bpy scene and import a user scene file; raises ValueError naming the file.

    Geometry as found in the wild: cameras are dropped and lights kept (scaled with the units);
    objects without faces are dropped; units are detected (:func:`detect_unit_scale`) unless
    ``unit_scale`` (metres per unit) is given; ``up_axis="z"`` for Z-up OBJ exports; broken normals
    and inconsistent winding are repaired; missing textures are a warning. A file that is not a room
    a camera fits into is placed on the floor in the middle of a procedural shell
    (:func:`scenes.shell.describe_shell`, materials and light drawn from ``(seed, scene_id)``)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"scene file {path} does not exist")
    if path.suffix.lower() not in SUPPORTED:
        raise ValueError(f"scene file {path}: unsupported format {path.suffix!r}; supported: {', '.join(SUPPORTED)}")
    table, ir_ambient, label = load_mapping(mapping)
    bscene = clear_scene()
    set_ir_switch(False)
    warnings: list[str] = []
    try:
        _run_importer(path, up_axis)
    except Exception as exc:  # importers raise RuntimeError, OSError, KeyError, ... on broken files
        clear_scene()
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"scene file {path} failed to import: {reason}") from None
    bpy.context.view_layer.update()  # appended .blend objects have no world matrices before this
    cams = [o for o in bscene.objects if o.type == "CAMERA"]
    for cam in cams:
        bpy.data.objects.remove(cam)
    if cams:
        warnings.append(f"{len(cams)} camera(s) in the file ignored (the rig places its own)")
    for empty in [o for o in bscene.objects if o.type == "MESH" and len(o.data.polygons) == 0]:
        warnings.append(f"object {empty.name} has no faces, dropped")
        bpy.data.objects.remove(empty)
    meshes = sorted((o for o in bscene.objects if o.type == "MESH"), key=lambda o: o.name)
    if not meshes:
        clear_scene()
        raise ValueError(f"scene file {path} failed to import: it contains no mesh objects with faces")
    if len(meshes) > MAX_INSTANCES:
        raise ValueError(f"scene file {path}: {len(meshes)} mesh objects exceed {MAX_INSTANCES} instance ids")

    # units
    lo, hi = world_aabb(meshes)
    if unit_scale is None:
        unit_scale, why = detect_unit_scale(float((hi - lo).max()))
    else:
        why = "--unit-scale"
    if unit_scale != 1.0:
        warnings.append(f"units: {why}; scaled by {unit_scale:g}")
        _transform_roots(list(bscene.objects), np.diag([unit_scale] * 3 + [1.0]))
        for light in (o for o in bscene.objects if o.type == "LIGHT" and o.data.type != "SUN"):
            light.data.energy *= unit_scale ** 2  # same irradiance at the scaled distances
        lo, hi = world_aabb(meshes)
    room = is_room(lo, hi)
    room_like = {o.name for o in meshes if room and _room_sized(o, lo, hi)}
    repair_normals(meshes, room_like, warnings)
    missing_textures(warnings)

    # materials: class from mapping, then transmission, name keywords, then node settings
    hints = mtl_hints(path) if path.suffix.lower() == ".obj" else {}
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
    amb = DEFAULT_IR_AMBIENT if ir_ambient is None else ir_ambient
    classes: dict[str, str] = {}
    report: list[dict] = []
    for mat_name in sorted(users):
        mat = bpy.data.materials[mat_name]
        names = [mat_name] + sorted(set(users[mat_name]))
        if _already_converted(mat) and _lookup_key(table, names) is None:  # written from one of our scenes
            cls, ir, reason = str(mat["lbd_class"]), mat.get("lbd_ir_reflectance"), "LingBot class tag in the file"
            tag_material(mat, cls, float(ir if ir is not None else DEFAULT_IR[cls]))
            ir = float(mat["lbd_ir_reflectance"])
        else:
            cls, ir, reason = classify_material(mat, names, table, hints.get(mat_name))
            ir = convert_material(mat, cls, None if ir is None else float(ir), amb)
        classes[mat_name] = cls
        report.append({"material": mat_name, "class": cls, "reason": reason, "ir_reflectance": round(float(ir), 4),
                       "objects": len(set(users[mat_name]))})

    lights = [o for o in bscene.objects if o.type == "LIGHT"]
    for obj in lights:
        obj["lbd_role"] = _light_role(obj)
        obj["lbd_rgb_energy"] = float(obj.data.energy)
    shell_names: tuple[str, ...] = ()
    instance_ids: dict[str, int] = {}
    for i, obj in enumerate(meshes, start=1):
        obj.pass_index = i
        obj["lbd_category"] = "imported"
        instance_ids[obj.name] = i
    sid = scene_id if scene_id is not None else path.stem
    if room:
        floor_z = _floor_height(lo, hi)
        rects = [(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))]
        bounds = (tuple(float(v) for v in lo), tuple(float(v) for v in hi))
        if not lights:  # a room without lights: one ceiling area light under the top of the bounds
            _add_ceiling_light(bscene, lo, hi)
            warnings.append("no lights in the file: a ceiling light was added")
        room_kind = "file"
    else:
        shell = describe_shell(sid if isinstance(sid, int) else 0, seed, (float(hi[0] - lo[0]), float(hi[1] - lo[1])),
                               float(hi[2] - lo[2]))
        # stand the objects on the shell's floor, in the middle of the room
        centre = np.array([shell.room.width / 2, shell.room.depth / 2, 0.0])
        shift = centre - np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2] - 0.001])
        M = np.eye(4)
        M[:3, 3] = shift
        _transform_roots(list(bscene.objects), M)
        shell_ids = add_description(shell, bscene.collection, first_id=len(meshes) + 1)
        instance_ids.update(shell_ids)
        shell_names = tuple(shell_ids)
        for m in shell.materials:
            classes[m.name] = m.cls
        floor_z = 0.0
        # cameras stand within reach of the objects (a small object seen from across the room is a few pixels)
        reach = max(0.8, 2.5 * float((hi - lo).max()))
        hx, hy = (hi[0] - lo[0]) / 2 + reach, (hi[1] - lo[1]) / 2 + reach
        W, D = shell.room.width, shell.room.depth
        rects = [(max(0.0, W / 2 - hx), max(0.0, D / 2 - hy), min(W, W / 2 + hx), min(D, D / 2 + hy))]
        bounds = ((0.0, 0.0, 0.0), (shell.room.width, shell.room.depth, shell.room.height))
        if ir_ambient is None:
            amb = shell.ir_ambient
        warnings.append(f"no room around the objects: placed on the floor of a {shell.room.width:.1f} x "
                        f"{shell.room.depth:.1f} x {shell.room.height:.1f} m procedural shell")
        room_kind = "shell"
    world = bscene.world
    strength, colour = 0.3, (0.05, 0.05, 0.05)
    if world is not None:
        bg = next((n for n in world.node_tree.nodes if n.bl_idname == "ShaderNodeBackground"), None)
        if bg is not None:
            strength = float(bg.inputs["Strength"].default_value)
            colour = tuple(bg.inputs["Color"].default_value)[:3]
    set_world(colour, strength)
    bscene["lbd_ir_ambient"] = float(amb)
    bscene["lbd_scene_id"] = sid
    return BuiltScene(
        scene_id=sid, instance_ids=instance_ids, bounds=bounds, ir_ambient=float(amb), source=str(path),
        room_type=None, floor_z=floor_z, floor_rects=rects, shell=shell_names, material_classes=classes,
        material_report=report, warnings=warnings, unit_scale=float(unit_scale), room=room_kind,
    )


def _room_sized(obj, lo, hi) -> bool:
    olo, ohi = world_aabb([obj])
    ext, full = ohi - olo, np.maximum(hi - lo, 1e-6)
    return bool((ext[:2] > 0.8 * full[:2]).any() or ext[2] > 0.8 * full[2])


def _add_ceiling_light(bscene, lo, hi) -> None:
    data = bpy.data.lights.new("LBD_ceiling", "AREA")
    area = float((hi[0] - lo[0]) * (hi[1] - lo[1]))
    data.energy = 12.0 * max(area, 1.0)
    data.size = float(max(0.5, 0.3 * min(hi[0] - lo[0], hi[1] - lo[1])))
    light = bpy.data.objects.new("LBD_ceiling", data)
    light.location = ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2] - 0.05)
    light.visible_camera = False
    light["lbd_role"] = "ceiling"
    light["lbd_rgb_energy"] = float(data.energy)
    bscene.collection.objects.link(light)


# ---------------------------------------------------------------------------------------- check (driver side)


def check_files(files: list[str], mapping=None, unit_scale=None, up_axis: str = "auto") -> dict:
    """Import each file as a render would; {"files": [per-file report], "error": first problem or None}.
    Also an error: a mapping entry that matches no material or object of any file."""
    try:
        table, _, label = load_mapping(mapping)
    except ValueError as exc:
        return {"files": [], "error": str(exc)}
    out, names = [], set()
    for f in files:
        try:
            built = import_scene(f, mapping, scene_id=0, unit_scale=unit_scale, up_axis=up_axis)
        except ValueError as exc:
            return {"files": out, "error": str(exc)}
        names |= {m["material"] for m in built.material_report}
        names |= set(o.name for o in bpy.context.scene.objects if o.type == "MESH")
        out.append({"file": f, **built.describe()})
    unused = [k for k in table if not any(k == n or fnmatch.fnmatchcase(n, k) for n in names)]
    if unused:
        return {"files": out, "error": f"{label}: entr{'y' if len(unused) == 1 else 'ies'} "
                                       f"{', '.join(repr(k) for k in unused)} match no material or object of "
                                       f"{', '.join(Path(f).name for f in files)}"}
    return {"files": out, "error": None}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--check":
        print("usage: python -m synth.blender.import_scene --check JSON", file=sys.stderr)
        return 64
    req = json.loads(argv[1])
    report = check_files(req["files"], req.get("mapping"), req.get("unit_scale"), req.get("up_axis", "auto"))
    sys.stdout.write("\n" + json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
