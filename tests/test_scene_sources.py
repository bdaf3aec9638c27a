"""Scene sources for `render`: procedural ids, scene JSON, users' own files (the shared third-party
scenes), their geometry pathologies and material classes, bad input refused before rendering, one
class table, viewpoints keyed on (seed, scene, view). Renders at 40x56 px, preview quality."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lbd.errors import UsageError
from scenes.sources import FILE_ID_BASE, SceneSourceError, collect_sources

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "scenes"
PY = sys.executable
TINY = ["--quality", "preview", "--ir-size", "40", "56", "--rgb-size", "40", "56", "--no-progress"]
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared third-party scenes not present")


def _cli(*args, timeout=600):
    return subprocess.run([PY, "cli.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _render(args):
    from synth.commands import render
    return CliRunner().invoke(render, [str(a) for a in args])


def _z_up_obj(path: Path) -> None:
    """A 3 x 3 x 2.5 m room (inward faces) with a box, written Z-up (as 3ds Max exports without flip)."""
    v, f = [], []

    def box(x0, y0, z0, x1, y1, z1, inward):
        b = len(v)
        v.extend([(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0), (x0, y0, z1), (x1, y0, z1), (x1, y1, z1),
                  (x0, y1, z1)])
        for q in ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)):
            f.append([b + i + 1 for i in (q[::-1] if inward else q)])
    box(0, 0, 0, 3, 3, 2.5, True)
    box(1.2, 1.2, 0, 1.8, 1.8, 0.7, False)
    path.write_text("o Room\n" + "".join(f"v {x} {y} {z}\n" for x, y, z in v[:8]) + "".join(
        "f " + " ".join(map(str, q)) + "\n" for q in f[:6]) + "o Box\n" + "".join(
        f"v {x} {y} {z}\n" for x, y, z in v[8:]) + "".join("f " + " ".join(map(str, q)) + "\n" for q in f[6:]))


# ---------------------------------------------------------------------------------------- pure Python


def test_class_table_defined_once_and_scenes_imports_nothing_from_synth():
    import lbd.classes
    import scenes.materials
    import synth.schema
    assert synth.schema.MATERIAL_CLASSES is lbd.classes.MATERIAL_CLASSES
    assert scenes.materials.CLASS_IDS == {k: v for k, v in lbd.classes.CLASS_IDS.items() if k != "none"}
    code = "import sys, scenes, scenes.sources, scenes.shell; print(sorted(m for m in sys.modules if m.split('.')[0] in ('synth', 'cv2', 'OpenEXR', 'bpy')))"
    res = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.stdout.strip() == "[]", res.stdout + res.stderr


def test_ids_from_content_are_stable_when_a_folder_grows(tmp_path):
    from scenes import generate
    folder = tmp_path / "rooms"
    folder.mkdir()
    _z_up_obj(folder / "a.obj")
    (folder / "scene_000003.json").write_text(generate(3, 0).to_json())
    (folder / "summary.json").write_text("{}")  # not a scene: ignored
    first = {Path(s.path).name: s for s in collect_sources([folder])}
    assert set(first) == {"a.obj", "scene_000003.json"}
    assert first["a.obj"].kind == "file" and first["scene_000003.json"].kind == "json"
    assert all(s.scene_id >= FILE_ID_BASE for s in first.values())
    (folder / "b.obj").write_text((folder / "a.obj").read_text() + "# another room\n")
    second = {Path(s.path).name: s for s in collect_sources([folder])}
    assert {k: second[k].scene_id for k in first} == {k: s.scene_id for k, s in first.items()}
    assert second["b.obj"].scene_id not in {s.scene_id for s in first.values()}


@pytest.mark.parametrize("setup, needle", [
    (lambda d: d / "nope.glb", r"nope\.glb: no such file"),
    (lambda d: (d / "room.stl").write_text("solid\n") and d / "room.stl", r"room\.stl: unsupported extension"),
    (lambda d: (d / "bad.glb").write_bytes(b"not gltf") and d / "bad.glb", r"bad\.glb is corrupt"),
    (lambda d: (d / "bad.blend").write_bytes(b"\x00" * 64) and d / "bad.blend", r"bad\.blend is corrupt"),
    (lambda d: (d / "a.fbx").write_text("; FBX 7.4.0 project file\nFBXHeaderExtension: {\n}\n") and d / "a.fbx",
     r"a\.fbx is an ASCII FBX"),
    (lambda d: (d / "e.json").write_text('{"x": 1}') and d / "e.json", r"e\.json: .*malformed scene"),
    (lambda d: (d / "empty").mkdir() or d / "empty", r"empty: the folder holds no scene files"),
])
def test_bad_sources_are_refused_naming_the_file(tmp_path, setup, needle):
    path = setup(tmp_path)
    with pytest.raises(SceneSourceError, match=needle):
        collect_sources([path])
    out = tmp_path / "out"
    res = _render(["--scenes-from", path, "--samples", "2", "--out", out, *TINY])
    assert isinstance(res.exception, UsageError) and res.exception.exit_code == 2
    assert not out.exists()  # nothing written before the error


def test_clashing_sources_are_refused(tmp_path):
    _z_up_obj(tmp_path / "a.obj")
    shutil.copy(tmp_path / "a.obj", tmp_path / "copy.obj")
    with pytest.raises(SceneSourceError, match=r"clashing scene sources: .*copy\.obj has the same content as"):
        collect_sources([tmp_path / "a.obj", tmp_path / "copy.obj"])
    res = _render(["--scenes-from", tmp_path / "a.obj", "--scene-source", "test:plane", "--samples", "2",
                   "--out", tmp_path / "out", *TINY])
    assert isinstance(res.exception, UsageError) and "clash" in str(res.exception)


# ---------------------------------------------------------------------------------------- Blender, in process


@needs_shared
def test_geometry_pathologies_and_material_classes():
    import bpy

    from synth.blender.import_scene import import_scene

    def load(rel, **kw):
        return import_scene(SHARED / rel, scene_id=7, **kw)

    b = load("cornellbox_mm/cornell_box.obj")  # millimetres
    assert b.unit_scale == 0.001 and b.room == "shell"
    lo, hi = (np.array(v) for v in b.bounds)
    assert (hi - lo)[:2].min() >= 4.0  # the 0.56 m box stands in a procedural shell
    assert load("cornellbox_mm/cornell_box.obj", unit_scale=0.01).unit_scale == 0.01  # --unit-scale wins
    b = load("metal_rough_spheres/MetalRoughSpheresNoTextures.glb")  # 7.5 mm model written in metres
    assert b.unit_scale == 100.0 and b.material_classes["mat_42"] == "mirror" and b.material_classes["mat_48"] == "metal"
    b = load("cornellbox_mirror/CornellBox-Mirror.obj")  # a room of its own; mirror = black, roughness 0
    assert b.room == "file" and b.material_classes["tallBox"] == "mirror"
    b = load("cornellbox_glossy/CornellBox-Glossy.obj")  # MTL "Tf 1 1 1" is no glass
    assert "glass" not in {b.material_classes[m] for m in ("floor", "ceiling", "light", "sphere")}
    assert b.material_classes["sphere"] == "glossy"
    b = load("transmission_blend/14_transmission.blend")  # light kept, camera ignored, 0.2 transmission
    assert b.material_classes["Transmission"] != "glass"
    kinds = [o.type for o in bpy.context.scene.objects]
    assert "CAMERA" not in kinds and any(o.type == "LIGHT" and o.get("lbd_role") for o in bpy.context.scene.objects)
    b = load("missing_textures_blend/plane_2_textures_2_texcoords_279.blend")
    assert sum("texture" in w and "missing" in w for w in b.warnings) == 2
    b = load("box_bad_normals/BoxBadNormals.glb")  # zero-length custom normals dropped
    assert not any(o.data.has_custom_normals for o in bpy.context.scene.objects if o.type == "MESH")
    b = load("spider_obj/spider.obj")
    assert any("inconsistent face winding" in w for w in b.warnings)
    assert load("metal_box_fbx/box.fbx").material_classes["Material_50"] == "metal"
    assert load("dark_cube_inches_fbx/max_gltf_material_7700_binary.fbx").material_classes["01 - Default"] == "dark"
    b = load("glass_hurricane_candle_holder/GlassHurricaneCandleHolder.gltf")
    assert b.material_classes["GlassHurricaneCandleHolder-glass"] == "glass"
    assert b.material_classes["GlassHurricaneCandleHolder-opaque"] != "glass"
    b = load("metal_box_fbx/box.fbx", mapping={"Material_*": {"class": "glossy", "ir_reflectance": 0.3}})
    assert b.material_report[0]["class"] == "glossy" and "mapping" in b.material_report[0]["reason"]


def test_z_up_obj_and_viewpoints_keyed_on_seed_scene_view(tmp_path):
    from synth.blender.import_scene import import_scene
    from synth.blender.viewpoints import sample_viewpoints_for
    from synth.worker import view_rng

    _z_up_obj(tmp_path / "zup.obj")
    lying = import_scene(tmp_path / "zup.obj", scene_id=1)
    upright = import_scene(tmp_path / "zup.obj", scene_id=1, up_axis="z")
    assert upright.bounds[1][2] - upright.bounds[0][2] == pytest.approx(2.5, abs=1e-3) and upright.room == "file"
    assert lying.bounds[1][2] - lying.bounds[0][2] == pytest.approx(3.0, abs=1e-3)  # read as Y-up: on its side
    views = sample_viewpoints_for(upright, [view_rng(0, 1, v) for v in range(4)])
    later = sample_viewpoints_for(upright, [view_rng(0, 1, v) for v in (2, 3)])  # another unit size
    assert all(np.array_equal(a, b) for a, b in zip(views[2:], later))


# ---------------------------------------------------------------------------------------- render + verify


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """All shared third-party files and an edited scene JSON, rendered in one dataset (one view each)."""
    from scenes import generate
    tmp = tmp_path_factory.mktemp("sources")
    edited = generate(3, 0)
    glass = next(m for m in edited.materials if m.cls == "textured")
    glass.cls, glass.transmission, glass.ir_reflectance = "glass", 1.0, 0.95  # edit: a textured material is glass
    json_dir = tmp / "edited"
    json_dir.mkdir()
    (json_dir / "scene_000003.json").write_text(edited.to_json())
    n = len(collect_sources([SHARED])) + 1
    out = tmp / "ds"
    args = ["render", "--scenes-from", SHARED, "--scenes-from", json_dir, "--samples", n, "--out", out,
            "--workers", "2", *TINY]
    dry = _cli(*args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    res = _cli(*args)
    return {"out": out, "n": n, "dry": dry.stdout, "res": res}


@needs_shared
def test_shared_files_and_edited_json_render_into_a_dataset_that_verifies(rendered):
    res, out = rendered["res"], rendered["out"]
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "from --scenes-from" in rendered["dry"] and "scene_000003.json" in rendered["dry"]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["procedural_scenes"] == 0 and len(plan["scene_sources"]) == rendered["n"]
    ver = _cli("verify", out)
    assert ver.returncode == 0 and f"{rendered['n']} sample(s) checked" in ver.stdout, ver.stdout + ver.stderr


@needs_shared
def test_rendered_samples_record_their_source_and_material_classes(rendered):
    from synth import shards
    from synth.schema import CLASS_IDS
    metas = {}
    classes = {}
    for sample in shards.open_dataset(rendered["out"]).iter_samples(("material", "meta")):
        meta = sample["meta"]
        metas[Path(meta["scene"]["source"]).name] = meta
        classes[Path(meta["scene"]["source"]).name] = set(np.unique(sample["material"]))
        assert sample["__key__"].startswith(f"s{meta['scene_id']:05d}") and meta["scene_id"] >= FILE_ID_BASE
    assert len(metas) == rendered["n"]
    assert metas["CornellBox-Mirror.obj"]["scene"]["room"] == "file"
    report = {m["material"]: m for m in metas["box.fbx"]["scene"]["materials"]}
    assert report["Material_50"]["class"] == "metal" and report["Material_50"]["reason"]
    assert metas["cornell_box.obj"]["scene"]["unit_scale"] == 0.001
    assert metas["scene_000003.json"]["scene"]["source"].endswith("scene_000003.json")
    assert CLASS_IDS["metal"] in classes["box.fbx"] or CLASS_IDS["metal"] in classes["MetalRoughSpheresNoTextures.glb"]


def test_bad_blender_inputs_refused_before_rendering(tmp_path):
    """Zero meshes and a mapping naming no material are found by the test import (a Blender child
    process) before the plan is written."""
    faceless = tmp_path / "points.obj"
    faceless.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    out = tmp_path / "out"
    res = _cli("render", "--scenes-from", faceless, "--samples", 1, "--out", out, *TINY)
    assert res.returncode == 2 and "points.obj failed to import: it contains no mesh" in res.stderr, res.stderr
    assert not (out / "plan.json").exists()
    _z_up_obj(tmp_path / "room.obj")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Velvet*": "textured", "Box": "metal"}))
    res = _cli("render", "--scenes-from", tmp_path / "room.obj", "--mapping", mapping, "--samples", 1, "--out", out,
               "--dry-run", *TINY)
    assert res.returncode == 2 and "'Velvet*' match no material or object of room.obj" in res.stderr, res.stderr
    assert not (out / "plan.json").exists()
