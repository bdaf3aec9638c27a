"""Blender side of the scenes: the bpy build matches its description, materials follow the renderer
contract (classes, IR switch wired and effective), viewpoints, thumbnails, imported user scenes."""
from __future__ import annotations

import json
import math
from pathlib import Path

import bpy
import numpy as np
import pytest
from click.testing import CliRunner

from scenes import CLASS_IDS, generate
from scenes.materials import MaterialPicker
from scenes.model import Light, Part, Room, Scene, SceneObject
from synth.blender.build_scene import MIX_NODE, PRINCIPLED, build_scene
from synth.blender.import_scene import import_scene
from synth.blender.ir_switch import GROUP_NAME, set_ir_switch
from synth.blender.thumbnail import render_thumbnail
from synth.blender.viewpoints import camera_rotation, opencv_to_blender, sample_viewpoints


def _base_color_mix(mat):
    p = mat.node_tree.nodes[PRINCIPLED]
    link = p.inputs["Base Color"].links[0]
    return link.from_node


def _check_ir_wiring(mat) -> None:
    mix = _base_color_mix(mat)
    assert mix.name == MIX_NODE and mix.bl_idname == "ShaderNodeMix" and mix.data_type == "RGBA"
    factor = next(s for s in mix.inputs if s.identifier == "Factor_Float")
    src = factor.links[0].from_node
    assert src.bl_idname == "ShaderNodeGroup" and src.node_tree.name == GROUP_NAME
    assert factor.links[0].from_socket.name == "Fac"


def test_build_matches_description_objects_materials_lights():
    scene = generate(6, 0)
    built = build_scene(scene)
    meshes = {o.name: o for o in bpy.context.scene.objects if o.type == "MESH"}
    assert set(meshes) == {o.name for o in scene.objects} == set(built.instance_ids)
    ids = [o.pass_index for o in meshes.values()]
    assert sorted(ids) == list(range(1, len(scene.objects) + 1))
    for obj in scene.objects:
        bobj = meshes[obj.name]
        assert bobj.pass_index == built.instance_ids[obj.name]
        assert {s.material.name for s in bobj.material_slots} == {p.material for p in obj.parts}
        assert len(bobj.data.polygons) >= 6 * len(obj.parts)
        assert np.allclose(bobj.location, obj.position, atol=1e-6)
        assert bobj.rotation_euler.z == pytest.approx(obj.yaw, abs=1e-6)
    for m in scene.materials:
        mat = bpy.data.materials[m.name]
        assert mat.pass_index == CLASS_IDS[m.cls] and mat["lbd_class"] == m.cls
        assert mat["lbd_ir_reflectance"] == pytest.approx(m.ir_reflectance)
        _check_ir_wiring(mat)
        p = mat.node_tree.nodes[PRINCIPLED]
        if m.cls == "glass":
            assert p.inputs["Transmission Weight"].default_value == 1.0
            assert "Shadow pass" in mat.node_tree.nodes
        if m.cls == "mirror":
            assert p.inputs["Metallic"].default_value == 1.0 and p.inputs["Roughness"].default_value <= 0.011
        if m.texture != "none" and m.ir_contrast > 0:  # the texture also modulates IR
            b_in = next(s for s in _base_color_mix(mat).inputs if s.identifier == "B_Color")
            assert b_in.is_linked and b_in.links[0].from_node.name == "IR texture"
    lights = [o for o in bpy.context.scene.objects if o.type == "LIGHT"]
    assert len(lights) == len(scene.lights)
    for obj, li in zip(sorted(lights, key=lambda o: o.name), sorted(scene.lights, key=lambda li: li.name)):
        assert obj["lbd_role"] == li.role and obj["lbd_rgb_energy"] == pytest.approx(li.energy, rel=1e-6)
        assert obj.data.energy == pytest.approx(li.energy, rel=1e-6)
        if li.kind != "POINT":  # the light's -Z axis points along the described direction
            minus_z = -np.array(obj.matrix_world.to_3x3().col[2])
            assert np.allclose(minus_z, li.direction, atol=1e-5)
    bs = bpy.context.scene
    assert bs["lbd_ir_ambient"] == pytest.approx(scene.ir_ambient) and bs["lbd_scene_id"] == 6
    assert bs.world["lbd_rgb_strength"] == pytest.approx(scene.world_strength)
    assert built.bounds == ((0.0, 0.0, 0.0), (scene.room.width, scene.room.depth, scene.room.height))
    # a second build replaces the first completely
    build_scene(generate(7, 0))
    assert "lbd_scene_id" in bs and bs["lbd_scene_id"] == 7
    assert not any(name in bpy.data.objects for name in meshes if name not in {o.name for o in generate(7, 0).objects})


def _ir_test_scene() -> Scene:
    """Two blocks seen from above: black fabric (IR-bright) left, white IR-dull plastic right."""
    picker = MaterialPicker(np.random.default_rng(0))
    fabric, plastic = picker.new("fabric_black"), picker.new("white_plastic_irdull")
    floor = picker.new("paint_white")
    block = (1.0, 2.0, 0.5)
    objects = [
        SceneObject("floor", "floor", "shell", "shell", (0.0, 0.0, 0.0), 0.0, [Part("box", (0, 0, -0.05), (6, 6, 0.1), floor)]),
        SceneObject("left", "box", "furniture", "floor", (-0.55, 0.0, 0.0), 0.0, [Part("box", (0, 0, 0.25), block, fabric)]),
        SceneObject("right", "box", "furniture", "floor", (0.55, 0.0, 0.0), 0.0, [Part("box", (0, 0, 0.25), block, plastic)]),
    ]
    light = Light("sun", "sun", "SUN", (0.0, 0.0, 5.0), (0.0, 0.0, -1.0), 3.0, (1.0, 1.0, 1.0), 5500.0, (0.01, 0.0))
    room = Room("living_room", "rect", 2.0, 2.0, 2.5, 0.1, None, [], [])
    return Scene(99, 0, room, list(picker.materials.values()), objects, [light], (1.0, 1.0, 1.0), 0.1, 0.1, True)


def test_ir_switch_flips_rgb_look_to_ir_reflectance(tmp_path):
    import cv2

    built = build_scene(_ir_test_scene())
    T = np.eye(4)
    T[:3, :3] = camera_rotation(np.array([0.0, 0.0, -1.0]), 0.0)
    T[:3, 3] = (0.0, 0.0, 2.6)
    try:
        kw = dict(width=32, height=24, samples=4, focal_mm=40.0, denoise=False)  # boxes fill the view
        rgb = cv2.imread(str(render_thumbnail(built, T, tmp_path / "rgb.png", **kw)), 0).astype(float)
        set_ir_switch(True)
        ir = cv2.imread(str(render_thumbnail(built, T, tmp_path / "ir.png", **kw)), 0).astype(float)
    finally:
        set_ir_switch(False)
    left, right = (slice(6, 18), slice(3, 12)), (slice(6, 18), slice(20, 29))
    assert ir[left].mean() > rgb[left].mean() + 60  # black fabric is bright in IR
    assert ir[right].mean() < rgb[right].mean() - 30  # white plastic is dull in IR


def test_viewpoints_are_valid_deterministic_and_opencv():
    scene = generate(12, 0)
    built = build_scene(scene)
    views = sample_viewpoints(built, 4, np.random.default_rng([0, 12]))
    again = sample_viewpoints(built, 2, np.random.default_rng([0, 12]))
    assert len(views) == 4 and all(np.array_equal(a, b) for a, b in zip(again, views[:2]))
    depsgraph = bpy.context.evaluated_depsgraph_get()
    from mathutils import Vector
    for T in views:
        R = T[:3, :3]
        assert np.allclose(R.T @ R, np.eye(3), atol=1e-9) and np.linalg.det(R) == pytest.approx(1.0)
        assert 0.3 <= T[2, 3] <= 2.0
        x0, y0, x1, y1 = 0.0, 0.0, scene.room.width, scene.room.depth
        assert x0 < T[0, 3] < x1 and y0 < T[1, 3] < y1
        roll = math.degrees(math.asin(abs(R[2, 0])))  # camera x axis tilt out of the horizontal
        assert roll <= 12.5
        hit, loc, *_ = bpy.context.scene.ray_cast(depsgraph, Vector(T[:3, 3]), Vector(R[:, 2]))
        assert hit and 0.2 <= (Vector(loc) - Vector(T[:3, 3])).length <= 12.0
        M = opencv_to_blender(T)
        assert np.allclose(-M[:3, 2], R[:, 2]) and np.allclose(M[:3, 1], -R[:, 1]) and np.allclose(M[:3, 3], T[:3, 3])
    with pytest.raises(ValueError, match="scene 12"):
        sample_viewpoints(built, -1, np.random.default_rng(0))


def _obj_box(lines, x0, y0, z0, x1, y1, z1, start, inward=False):
    """Append an axis-aligned box in Blender coordinates (z up) as OBJ (y up): v = (x, z, -y)."""
    corners = [(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0), (x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)]
    for x, y, z in corners:
        lines.append(f"v {x} {z} {-y}")
    faces = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    for f in faces:
        f = f[::-1] if inward else f
        lines.append("f " + " ".join(str(start + i + 1) for i in f))
    return start + 8


def _write_obj(path: Path) -> None:
    lines = [f"mtllib {path.stem}.mtl"]
    n = 0
    lines += ["o Room", "usemtl Wall_paint"]
    n = _obj_box(lines, 0, 0, 0, 4, 4, 2.6, n, inward=True)
    lines += ["o FloorSlab", "usemtl Floor_wood"]
    n = _obj_box(lines, 0, 0, -0.05, 4, 4, 0.0, n)
    lines += ["o Table", "usemtl Steel_table"]
    n = _obj_box(lines, 1.5, 1.5, 0.0, 2.5, 2.2, 0.75, n)
    lines += ["o Vase", "usemtl Glass_vase"]
    n = _obj_box(lines, 1.9, 1.7, 0.75, 2.05, 1.85, 1.0, n)
    lines += ["o Block", "usemtl Mystery"]
    n = _obj_box(lines, 0.3, 3.0, 0.0, 1.0, 3.7, 1.2, n)
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".mtl").write_text(
        "newmtl Wall_paint\nKd 0.8 0.8 0.8\nnewmtl Floor_wood\nKd 0.5 0.3 0.2\nnewmtl Steel_table\nKd 0.7 0.7 0.7\n"
        "newmtl Glass_vase\nKd 0.9 0.9 0.9\nnewmtl Mystery\nKd 0.01 0.01 0.01\n")


def test_import_obj_and_glb_build_and_yield_viewpoints(tmp_path):
    obj_path = tmp_path / "room.obj"
    _write_obj(obj_path)
    built = import_scene(obj_path)
    assert set(built.instance_ids) == {"Room", "FloorSlab", "Table", "Vase", "Block"}
    assert sorted(built.instance_ids.values()) == [1, 2, 3, 4, 5]
    assert built.material_classes == {"Wall_paint": "textureless", "Floor_wood": "textured", "Steel_table": "metal",
                                      "Glass_vase": "glass", "Mystery": "dark"}
    assert built.floor_z == pytest.approx(0.0, abs=1e-4)
    for name, cls in built.material_classes.items():
        mat = bpy.data.materials[name]
        assert mat.pass_index == CLASS_IDS[cls]
        _check_ir_wiring(mat)
    assert [o["lbd_role"] for o in bpy.context.scene.objects if o.type == "LIGHT"] == ["ceiling"]
    views = sample_viewpoints(built, 2, np.random.default_rng(1))
    assert all(0.3 <= T[2, 3] - built.floor_z <= 2.0 for T in views)

    mapped = import_scene(obj_path, mapping={"materials": {"Mystery": {"class": "glossy", "ir_reflectance": 0.3},
                                                           "Wall*": "textured"}, "ir_ambient": 0.2})
    assert mapped.material_classes["Mystery"] == "glossy" and mapped.material_classes["Wall_paint"] == "textured"
    assert bpy.data.materials["Mystery"]["lbd_ir_reflectance"] == pytest.approx(0.3) and mapped.ir_ambient == 0.2

    build_scene(generate(3, 0))
    glb = tmp_path / "scene3.glb"
    bpy.ops.export_scene.gltf(filepath=str(glb), export_format="GLB")
    built = import_scene(glb, scene_id=1003)
    described = generate(3, 0)
    assert set(built.instance_ids) == {o.name for o in described.objects}
    assert {"glass", "mirror"} <= set(built.material_classes.values())
    assert bpy.context.scene["lbd_scene_id"] == 1003
    assert len(sample_viewpoints(built, 2, np.random.default_rng(2))) == 2


def test_import_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"scene file .*missing\.glb does not exist"):
        import_scene(tmp_path / "missing.glb")
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"not a gltf at all")
    with pytest.raises(ValueError, match=r"scene file .*broken\.glb failed to import"):
        import_scene(bad)
    empty = tmp_path / "empty.obj"
    empty.write_text("# no geometry\n")
    with pytest.raises(ValueError, match=r"empty\.obj failed to import: it contains no mesh"):
        import_scene(empty)
    odd = tmp_path / "scene.stl"
    odd.write_text("solid x\nendsolid x\n")
    with pytest.raises(ValueError, match=r"scene\.stl: unsupported format"):
        import_scene(odd)
    obj_path = tmp_path / "room.obj"
    _write_obj(obj_path)
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Table": "velvet"}))
    with pytest.raises(ValueError, match=r"mapping file .*map\.json: entry 'Table' has unknown class"):
        import_scene(obj_path, mapping=mapping)


def test_cli_thumbnails_grid_and_user_files_with_a_failure(tmp_path):
    from scenes.commands import scenes as scenes_cmd

    good = tmp_path / "room.obj"
    _write_obj(good)
    out = tmp_path / "out"
    res = CliRunner().invoke(scenes_cmd, ["--scenes", "2", "--seed", "0", "--out", str(out), "--thumbnails",
                                          "--thumbnail-width", "32", "--thumbnail-samples", "2",
                                          "--import", str(good), "--import", str(tmp_path / "nope.fbx")])
    assert res.exit_code == 1, res.output
    assert "nope.fbx" in res.output and "does not exist" in res.output
    import cv2
    grid = cv2.imread(str(out / "thumbnails" / "grid.png"))
    assert grid is not None and grid.std() > 5
    for i in range(2):
        img = cv2.imread(str(out / "thumbnails" / f"scene_{i:06d}.png"))
        assert img.shape == (24, 32, 3) and img.std() > 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["thumbnails"] == 2 and summary["user_scenes"][0]["file"] == str(good)
    assert Path(summary["user_scenes"][0]["thumbnail"]).exists()
    assert [f["what"] for f in summary["failed"]] == [f"file {tmp_path / 'nope.fbx'}"]
