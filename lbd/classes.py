"""The material-class table, defined once (bottom floor: every package may import it, it imports none).

Ids are what the ``material`` / ``material_rgb`` label maps hold (0 = no surface) and what a built
Blender material carries as ``pass_index``. Groups are the sensor-hard families the realism report
and the scene summaries count.
"""
from __future__ import annotations

MATERIAL_CLASSES: dict[int, str] = {
    0: "none",
    1: "textured",
    2: "textureless",
    3: "glossy",
    4: "metal",
    5: "mirror",
    6: "glass",
    7: "dark",
}
CLASS_IDS: dict[str, int] = {name: i for i, name in MATERIAL_CLASSES.items()}
# the classes a surface can have (without "none"), in id order
SURFACE_CLASSES: tuple[str, ...] = tuple(name for i, name in sorted(MATERIAL_CLASSES.items()) if i > 0)
MATERIAL_GROUPS: dict[str, tuple[str, ...]] = {
    "transparent": ("glass",),
    "specular": ("metal", "mirror", "glossy"),
}
