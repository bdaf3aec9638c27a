"""Scene descriptions (pure Python, no Blender): determinism, physical validity, class coverage,
bad input, batches and the ``scenes`` command."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scenes import GROUPS, MATERIAL_CLASSES, ROOM_TYPES, Scene, SceneGenerationError, check_scene, generate, load_scene
from scenes.batch import SceneRequest, describe_many, summarise
from scenes.commands import scenes as scenes_cmd
from scenes.lighting import kelvin_to_rgb
from scenes.materials import CATALOGUE, ROLES, srgb_to_linear

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------- determinism


def test_same_id_and_seed_give_identical_json_bytes_even_in_a_fresh_process():
    text = generate(11, 3).to_json()
    assert text == generate(11, 3).to_json()
    code = (f"import hashlib, sys; sys.path.insert(0, {str(ROOT)!r}); from scenes import generate; "
            "print(hashlib.sha256(generate(11, 3).to_json().encode()).hexdigest())")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == hashlib.sha256(text.encode()).hexdigest()


def test_different_ids_and_seeds_differ():
    texts = {generate(i, 0).to_json() for i in range(6)}
    assert len(texts) == 6
    assert generate(2, 0).to_json() != generate(2, 1).to_json()


def test_json_round_trip_is_lossless():
    scene = generate(4, 0)
    text = scene.to_json()
    back = Scene.from_json(text)
    assert back.to_json() == text
    assert back == scene  # generate() already returns the rounded form
    data = json.loads(text)
    assert data["scene_id"] == 4 and data["room"]["room_type"] == scene.room.room_type


# ---------------------------------------------------------------------------------------- validity


def test_many_scenes_are_physically_valid():
    problems = []
    for sid in range(0, 442, 6):
        problems += check_scene(generate(sid, 0))
    for sid in range(0, 40, 5):
        problems += check_scene(generate(sid, 7))
    assert problems == []


def _move(obj, dx=0.0, dy=0.0, dz=0.0):
    x, y, z = obj.position
    obj.position = (x + dx, y + dy, z + dz)


def test_validity_check_catches_floating_interpenetrating_and_wall_piercing_objects():
    scene = generate(0, 0)
    clutter = next(o for o in scene.objects if o.mount == "surface")
    _move(clutter, dz=0.05)
    assert any("floats" in p and clutter.name in p for p in check_scene(scene))

    scene = generate(0, 0)
    furniture = [o for o in scene.objects if o.kind == "furniture" and o.mount == "floor"]
    a, b = furniture[0], furniture[1]
    b.position = (a.position[0], a.position[1], 0.0)
    assert any("interpenetrates" in p for p in check_scene(scene))

    scene = generate(0, 0)
    obj = next(o for o in scene.objects if o.kind == "furniture" and o.mount == "floor")
    _move(obj, dx=-20.0)
    assert any("not inside the room" in p and obj.name in p for p in check_scene(scene))

    scene = generate(0, 0)
    part = next(o for o in scene.objects if o.kind == "furniture" and len(o.parts) > 2).parts[0]
    part.center = (part.center[0], part.center[1], part.center[2] + 3.0)
    assert any("floating part" in p or "not inside" in p for p in check_scene(scene))

    scene = generate(0, 0)
    glass = {m.name for m in scene.materials if m.cls == "glass"}
    scene.objects = [o for o in scene.objects if o.kind in ("shell", "opening")
                     or not any(p.material in glass for p in o.parts)]
    assert any("no transparent object" in p for p in check_scene(scene))


# ---------------------------------------------------------------------------------------- coverage


def test_all_442_scenes_cover_every_class_and_room_type():
    scenes = [generate(i, 0) for i in range(442)]
    summary = summarise(scenes, 442)
    classes = summary["material_classes"]
    assert set(MATERIAL_CLASSES) | set(GROUPS) <= set(classes)
    assert all(classes[c] > 0 for c in MATERIAL_CLASSES)
    # per-scene guarantee: a transparent and a specular object inside the room (windows not counted)
    for s in scenes:
        inner = s.classes_present(include_shell=False)
        assert inner & set(GROUPS["transparent"]), f"scene {s.scene_id} has no transparent object"
        assert inner & set(GROUPS["specular"]), f"scene {s.scene_id} has no specular object"
    # the other classes appear in most scenes
    for c in MATERIAL_CLASSES:
        assert classes[c] > 442 / 2, (c, classes[c])
    assert all(summary["room_types"][t] >= 50 for t in ROOM_TYPES) and len(ROOM_TYPES) >= 6
    assert {s.room.shape for s in scenes} == {"rect", "L"}
    assert all(2.4 <= s.room.height <= 3.5 for s in scenes)
    assert all(any(o.kind == "door" for o in s.room.openings) for s in scenes)
    assert sum(any(o.kind == "window" for o in s.room.openings) for s in scenes) > 0.8 * 442
    assert all(s.lights and all(li.role in ("ceiling", "lamp", "sun", "window") for li in s.lights) for s in scenes)
    sunny = [s.ir_ambient for s in scenes if s.daylight]
    dark = [s.ir_ambient for s in scenes if not s.daylight]
    assert sunny and dark and min(sunny) > max(dark) * 0.9 and all(0.0 < v <= 0.3 for v in sunny + dark)
    categories = {o.category for s in scenes for o in s.objects}
    for cat in ("table", "chair", "bookshelf", "sofa", "bed", "counter", "desk", "monitor", "glass", "bottle",
                "mug", "bowl", "books", "vase", "can", "plant", "mirror", "window", "door", "shower", "display_case"):
        assert cat in categories, cat


def test_catalogue_decouples_ir_from_rgb_and_roles_are_consistent():
    black_fabric, white_plastic = CATALOGUE["fabric_black"], CATALOGUE["white_plastic_irdull"]
    assert max(black_fabric.colors[0]) < 0.1 and black_fabric.ir[0] >= 0.3
    assert min(white_plastic.colors[0]) > 0.8 and white_plastic.ir[1] <= 0.3
    assert all(e.cls in MATERIAL_CLASSES for e in CATALOGUE.values())
    assert {e.cls for e in CATALOGUE.values()} == set(MATERIAL_CLASSES)
    assert all(name in CATALOGUE for entries in ROLES.values() for name, _ in entries)
    assert all(CATALOGUE[n].ir[1] <= 0.1 for n, e in CATALOGUE.items() if e.cls == "dark")
    assert srgb_to_linear(1.0) == pytest.approx(1.0) and srgb_to_linear(0.5) == pytest.approx(0.214, abs=1e-3)
    warm, cold = kelvin_to_rgb(2700), kelvin_to_rgb(9000)
    assert warm[0] == 1.0 and warm[2] < 0.5 and cold[2] == 1.0 and cold[0] < 1.0


def test_scenes_package_never_imports_bpy():
    for path in (ROOT / "scenes").glob("*.py"):
        text = path.read_text()
        assert "import bpy" not in text and "from bpy" not in text, path
    code = "import sys; sys.path.insert(0, %r); import scenes, scenes.commands; scenes.generate(0); print('bpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code % str(ROOT)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------- bad input, batches


def test_bad_input_gives_errors_naming_the_scene():
    with pytest.raises(SceneGenerationError, match=r"scene 3: unknown room type 'castle'"):
        generate(3, 0, room_type="castle")
    with pytest.raises(SceneGenerationError, match=r"scene -1"):
        generate(-1, 0)
    with pytest.raises(SceneGenerationError, match=r"scene 2: seed"):
        generate(2, -5)
    with pytest.raises(SceneGenerationError, match=r"scene 2: clutter count"):
        generate(2, 0, clutter=-3)
    with pytest.raises(SceneGenerationError, match=r"scene 3 \(bathroom\): placed only \d+ of 2000 requested clutter"):
        generate(3, 0, clutter=2000)
    with pytest.raises(ValueError, match="scene 9: malformed"):
        Scene.from_dict({"scene_id": 9})


def test_load_scene_names_the_file(tmp_path):
    good = tmp_path / "scene_000004.json"
    good.write_text(generate(4, 0).to_json())
    assert load_scene(good).to_json() == good.read_text()
    with pytest.raises(ValueError, match=r"scene file .*missing\.json does not exist"):
        load_scene(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"scene file .*bad\.json: malformed scene JSON"):
        load_scene(bad)


def test_batch_carries_on_and_lists_failures():
    result = describe_many([SceneRequest(0), SceneRequest(1, room_type="castle"), SceneRequest(2, clutter=5000),
                            SceneRequest(3, room_type="bathroom", clutter=3)], seed=0)
    assert [s.scene_id for s in result.scenes] == [0, 3]
    assert result.scenes[1].room.room_type == "bathroom"
    assert [sid for sid, _ in result.failures] == [1, 2]
    assert "castle" in result.failures[0][1] and "scene 2" in result.failures[1][1]
    assert sum(o.kind == "clutter" for o in result.scenes[1].objects) >= 3


def test_cli_writes_descriptions_summary_and_table(tmp_path):
    from cli import cli

    out = tmp_path / "scenes"
    res = CliRunner().invoke(cli, ["scenes", "--scenes", "8", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in out.glob("scene_*.json"))
    assert files == [f"scene_{i:06d}.json" for i in range(8)]
    assert (out / "scene_000005.json").read_text() == generate(5, 1).to_json()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenes"] == 8 and summary["failed"] == []
    assert set(summary["room_types"]) == set(ROOM_TYPES) and sum(summary["room_types"].values()) == 8
    assert summary["material_classes"]["transparent"] == 8 and summary["material_classes"]["specular"] == 8
    assert "material class / group" in res.output and "transparent" in res.output and "cafe" in res.output


def test_cli_rejects_bad_options_and_reports_failed_scenes(tmp_path):
    runner = CliRunner()
    res = runner.invoke(scenes_cmd, ["--scenes", "-1", "--out", str(tmp_path / "a")])
    assert res.exit_code == 2 and "--scenes" in res.output
    res = runner.invoke(scenes_cmd, ["--scenes", "2", "--room-type", "castle", "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "--room-type" in res.output
    out = tmp_path / "c"
    res = runner.invoke(scenes_cmd, ["--scenes", "3", "--clutter", "5000", "--out", str(out)])
    assert res.exit_code == 1
    assert "scene 0" in res.output and "placed only" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["generated"] == 0 and len(summary["failed"]) == 3
    assert not list(out.glob("scene_*.json"))


def test_room_type_filter_and_start(tmp_path):
    out = tmp_path / "d"
    res = CliRunner().invoke(scenes_cmd, ["--scenes", "3", "--start", "10", "--room-type", "lab", "--room-type", "shop",
                                          "--out", str(out)])
    assert res.exit_code == 0, res.output
    rooms = [json.loads((out / f"scene_{i:06d}.json").read_text())["room"]["room_type"] for i in (10, 11, 12)]
    assert set(rooms) <= {"lab", "shop"} and len(set(rooms)) == 2


def test_dataclasses_serialise_every_field():
    scene = generate(1, 0)
    data = scene.to_dict()
    assert set(data) == {f.name for f in dataclasses.fields(Scene)}
    assert all(isinstance(v, (int, float)) for v in data["objects"][0]["position"])
