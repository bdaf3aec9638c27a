"""Descriptions that are not procedural rooms, in the same scene model (pure Python):

* :func:`describe_shell`: the procedural shell (floor, four walls, ceiling, ceiling lights) that an
  imported scene file without a room of its own is placed in: the objects stand on the floor in the
  middle of a rectangular room at least ``margin`` larger on every side (documented in the README);
* the analytic test scenes are described in :mod:`synth.blender.test_scenes` with the same classes.

Both are :class:`scenes.Scene` objects, built by the one builder (:mod:`synth.blender.build_scene`).
"""
from __future__ import annotations

import numpy as np

from scenes.layout import _shell_objects
from scenes.lighting import kelvin_to_rgb
from scenes.materials import MaterialPicker
from scenes.model import Light, Room, Scene, Wall

SHELL_ROOM_TYPE = "shell"


def describe_shell(scene_id: int, seed: int, footprint: tuple[float, float], object_height: float,
                   margin: float = 1.6) -> Scene:
    """A rectangular room around a footprint ``(w, d)`` (metres) centred in it, ceiling above
    ``object_height``; materials and light colour drawn from (seed, scene_id)."""
    g = np.random.default_rng([int(seed), int(scene_id), 11])
    width = float(max(4.0, footprint[0] + 2 * margin))
    depth = float(max(4.0, footprint[1] + 2 * margin))
    height = float(max(2.6, object_height + 1.0))
    t = 0.15
    pts = [(0.0, 0.0), (width, 0.0), (width, depth), (0.0, depth)]
    walls = [Wall(f"wall_{i}", pts[i], pts[(i + 1) % 4], t) for i in range(4)]
    room = Room(SHELL_ROOM_TYPE, "rect", width, depth, height, t, None, walls, [])
    mats = MaterialPicker(g)
    objects = _shell_objects(room, pts, mats.pick("floor"), mats.pick("wall"), mats.pick("ceiling"))
    temp = float(g.uniform(3000, 6000))
    n = 2 if width * depth > 30 else 1
    lights = []
    for k in range(n):
        x = width * (k + 0.5) / n
        lights.append(Light(f"shell_light_{k}", "ceiling", "AREA", (x, depth / 2, height - 0.02), (0.0, 0.0, -1.0),
                            float(12.0 * width * depth / n), kelvin_to_rgb(temp), temp, (0.6, 0.6)))
    used = {p.material for o in objects for p in o.parts}
    materials = [m for name, m in mats.materials.items() if name in used]
    scene = Scene(scene_id=int(scene_id), seed=int(seed), room=room, materials=materials, objects=objects,
                  lights=lights, world_color=(0.05, 0.05, 0.05), world_strength=0.2,
                  ir_ambient=float(g.uniform(0.03, 0.08)), daylight=False)
    return Scene.from_dict(scene.to_dict())
