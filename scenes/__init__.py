"""Procedural indoor scenes for LingBot-Depth-S (pure Python: no ``bpy`` anywhere in this package).

``generate(scene_id, seed) -> Scene`` gives a deterministic description (room shell, openings,
furniture, clutter, materials with RGB and IR appearance, lights) that serialises to byte-stable JSON
(``Scene.to_json()`` / ``Scene.from_json()``). ``synth.blender.build_scene`` turns it into Blender data.
"""
from scenes.generate import SceneGenerationError, generate, room_type_for
from scenes.layout import ROOM_TYPES
from scenes.materials import CATALOGUE, CLASS_IDS, GROUPS, MATERIAL_CLASSES
from scenes.model import Light, Material, Opening, Part, Room, Scene, SceneObject, Surface, Wall, load_scene
from scenes.validity import check_scene

__all__ = [
    "generate", "load_scene", "room_type_for", "SceneGenerationError", "check_scene", "ROOM_TYPES", "CATALOGUE", "CLASS_IDS",
    "GROUPS", "MATERIAL_CLASSES", "Scene", "Room", "Wall", "Opening", "SceneObject", "Part", "Surface", "Material",
    "Light",
]
