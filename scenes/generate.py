"""``generate(scene_id, seed)``: one deterministic scene description.

Randomness: ``SeedSequence(seed)`` spawns one child per scene (spawn key = scene id), which spawns
one generator per subsystem (layout, furniture, clutter, materials, lights), so e.g. a change in the
lighting code does not move the furniture. The room type cycles through :data:`ROOM_TYPES` with the
scene id (offset by the seed), so any 8 consecutive ids cover all types.
"""
from __future__ import annotations

import numpy as np

from lbd.errors import UserError
from scenes.geometry import Occupancy, object_aabbs
from scenes.items import R
from scenes.layout import ROOM_TYPES, make_layout
from scenes.lighting import light_scene
from scenes.materials import MaterialPicker
from scenes.model import Scene
from scenes.placement import Placer
from scenes.populate import ClutterError, ensure_groups, populate
from scenes.rooms import PROGRAMS, Ctx

SUBSYSTEMS = ("layout", "furniture", "clutter", "materials", "lights")


class SceneGenerationError(UserError, ValueError):
    """A scene that cannot be generated; the message names the scene."""


def room_type_for(scene_id: int, seed: int) -> str:
    return ROOM_TYPES[(scene_id + seed) % len(ROOM_TYPES)]


def scene_rngs(scene_id: int, seed: int) -> dict[str, np.random.Generator]:
    """One generator per subsystem, spawned from (seed, scene_id)."""
    scene_seq = np.random.SeedSequence(entropy=seed, spawn_key=(scene_id,))
    return {name: np.random.default_rng(child) for name, child in zip(SUBSYSTEMS, scene_seq.spawn(len(SUBSYSTEMS)))}


def check_args(scene_id, seed, room_type: str | None = None, clutter: int | None = None) -> None:
    if not isinstance(scene_id, (int, np.integer)) or isinstance(scene_id, bool) or scene_id < 0:
        raise SceneGenerationError(f"scene {scene_id!r}: scene id must be an integer >= 0")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise SceneGenerationError(f"scene {scene_id}: seed must be an integer >= 0, got {seed!r}")
    if room_type is not None and room_type not in ROOM_TYPES:
        raise SceneGenerationError(f"scene {scene_id}: unknown room type {room_type!r}; known: {', '.join(ROOM_TYPES)}")
    if clutter is not None and (not isinstance(clutter, (int, np.integer)) or clutter < 0):
        raise SceneGenerationError(f"scene {scene_id}: clutter count must be an integer >= 0, got {clutter!r}")


def generate(scene_id: int, seed: int = 0, room_type: str | None = None, clutter: int | None = None) -> Scene:
    """Describe scene ``scene_id`` of the run seeded with ``seed``.

    ``room_type`` overrides the cycling room type; ``clutter`` asks for an exact number of clutter
    objects (an error if they do not fit). Raises :class:`SceneGenerationError` naming the scene.
    """
    check_args(scene_id, seed, room_type, clutter)
    scene_id, seed = int(scene_id), int(seed)
    room_type = room_type or room_type_for(scene_id, seed)
    label = f"scene {scene_id} ({room_type})"
    g = scene_rngs(scene_id, seed)
    mats = MaterialPicker(g["materials"])
    layout = make_layout(g["layout"], room_type, mats)
    occ = Occupancy()
    placer = Placer(layout.room, occ)
    for obj in layout.openings:
        lo, hi = object_aabbs(obj)
        occ.add(obj.name, lo, hi)
    for lo, hi in layout.keepouts:
        occ.add_keepout(lo, hi)
    PROGRAMS[room_type](Ctx(R(g["furniture"]), mats, placer, layout.room))
    try:
        populate(R(g["clutter"]), mats, placer, room_type, label, clutter)
        lighting = light_scene(g["lights"], layout.room, placer, mats)
        ensure_groups(R(g["clutter"]), mats, placer, room_type, label)
    except ClutterError as exc:
        raise SceneGenerationError(str(exc)) from None
    objects = layout.shell + layout.openings + placer.objects
    used = {p.material for o in objects for p in o.parts}
    materials = [mat for name, mat in mats.materials.items() if name in used]
    scene = Scene(scene_id=scene_id, seed=seed, room=layout.room, materials=materials, objects=objects,
                  lights=lighting.lights, world_color=lighting.world_color, world_strength=lighting.world_strength,
                  ir_ambient=lighting.ir_ambient, daylight=lighting.daylight)
    return Scene.from_dict(scene.to_dict())  # the rounded, serialised form
