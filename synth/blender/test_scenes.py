"""Tiny analytic scenes, described in the scene model (:class:`scenes.Scene`) and built by the one
builder (:func:`synth.blender.build_scene.build_scene`) like every other scene.

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

Instance ids: back wall 1, left 2, right 3, floor 4, ceiling 5, rear 6, the extra object 7.
"""
from __future__ import annotations

from scenes.model import Light, Material, Part, Room, Scene, SceneObject
from synth.blender.build_scene import BuiltScene, build_scene

KINDS = ("plane", "plane_box", "mirror", "glass")
TEST_ROOM_TYPE = "test"


def _material(name: str, cls: str, rgb: tuple[float, float, float], ir: float, checker: bool = False) -> Material:
    rough, metallic, transmission, ior = 0.8, 0.0, 0.0, 1.5
    if cls == "mirror":
        rough, metallic = 0.0, 1.0
    elif cls == "glass":
        rough, transmission, ior = 0.0, 1.0, 1.45
    return Material(name=name, cls=cls, base=name, color=rgb, ir_reflectance=ir, roughness=rough, metallic=metallic,
                    transmission=transmission, ior=ior, texture="fabric" if checker else "none",
                    color2=(rgb[2], rgb[0], rgb[1]), texture_scale=4.0)


def _box(name: str, centre, size, material: str, kind: str = "shell") -> SceneObject:
    return SceneObject(name, name, kind, "shell" if kind == "shell" else "floor", (0.0, 0.0, 0.0), 0.0,
                       [Part("box", tuple(float(c) for c in centre), tuple(float(v) for v in size), material)])


def describe_test_scene(kind: str = "plane", distance: float = 2.0, ir_ambient: float = 0.1,
                        scene_id: int = 0) -> Scene:
    """The description of an analytic scene (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"test scene kind {kind!r} unknown; choose one of {', '.join(KINDS)}")
    if distance <= 0.3:
        raise ValueError(f"distance {distance} m must be > 0.3")
    d, half, t = distance, 8.0, 0.05
    mats = [_material("wall", "textured", (0.7, 0.5, 0.3), 0.6, checker=True),
            _material("side", "textureless", (0.6, 0.6, 0.6), 0.5)]
    objects = [
        _box("back_wall", (0, 0, d + t / 2), (2 * half, 2 * half, t), "wall"),
        _box("wall_left", (-half, 0, d / 2 - 2), (t, 2 * half, d + 4), "side"),
        _box("wall_right", (half, 0, d / 2 - 2), (t, 2 * half, d + 4), "side"),
        _box("floor", (0, 2.5 + t / 2, d / 2 - 2), (2 * half, t, d + 4), "side"),
        _box("ceiling", (0, -3 - t / 2, d / 2 - 2), (2 * half, t, d + 4), "side"),
        _box("rear_wall", (0, 0, -4 - t / 2), (2 * half, 2 * half, t), "side"),
    ]
    if kind == "plane_box":
        mats.append(_material("box", "textureless", (0.2, 0.6, 0.2), 0.7))
        objects.append(_box("box", (-0.25 * d, 0.0, d / 2), (0.3, 0.3, 0.3), "box", "furniture"))
    elif kind == "mirror":
        mats.append(_material("mirror", "mirror", (0.9, 0.9, 0.9), 0.95))
        objects.append(_box("mirror", (0.0, 0.35 * d + t / 2, 0.5 * d + 0.1), (2 * d, t, d - 0.2), "mirror", "furniture"))
    elif kind == "glass":
        mats.append(_material("glass", "glass", (1.0, 1.0, 1.0), 1.0))
        objects.append(_box("glass", (-0.5 * d, 0.0, d / 2), (1.0 * d, 2 * d, 0.006), "glass", "furniture"))
    light = Light("ceiling", "ceiling", "POINT", (0.5, -2.5, d / 2), (0.0, 1.0, 0.0), 400.0, (1.0, 1.0, 1.0), 6500.0,
                  (0.1, 0.0))
    room = Room(TEST_ROOM_TYPE, "rect", 2 * half, d + 4, 5.5, t, None, [], [])
    return Scene(scene_id=int(scene_id), seed=0, room=room, materials=mats, objects=objects, lights=[light],
                 world_color=(0.05, 0.05, 0.05), world_strength=0.2, ir_ambient=float(ir_ambient), daylight=False)


def build_test_scene(kind: str = "plane", distance: float = 2.0, ir_ambient: float = 0.1,
                     scene_id: int = 0) -> BuiltScene:
    """Reset Blender and build an analytic scene with the one builder. Returns its BuiltScene."""
    import bpy

    description = describe_test_scene(kind, distance, ir_ambient, scene_id)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return build_scene(description, source=f"test:{kind}")
