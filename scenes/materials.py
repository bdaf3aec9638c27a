"""Material catalogue: every entry has an RGB appearance and, separately, an IR (~850 nm) reflectance.

Classes (names and ids fixed by ``lbd.classes``): textured, textureless, glossy, metal, mirror, glass,
dark. Groups: transparent = glass; specular = metal + mirror + glossy. Colours are linear RGB albedo;
the IR value is a grey reflectance, deliberately decoupled from RGB (black dyed fabric and foliage are
bright in IR, carbon-black plastic and screens absorb it, white plastic can be IR-dull).

Furniture asks a :class:`MaterialPicker` for a *role* ("wood", "glass", ...); the picker keeps a small
per-scene palette per role so a scene looks coherent and needs few Blender materials.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lbd.classes import CLASS_IDS as _TABLE_IDS
from lbd.classes import MATERIAL_GROUPS as _TABLE_GROUPS
from scenes.model import Material

CLASS_IDS: dict[str, int] = {k: v for k, v in _TABLE_IDS.items() if k != "none"}
MATERIAL_CLASSES: tuple[str, ...] = tuple(sorted(CLASS_IDS, key=CLASS_IDS.get))
GROUPS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _TABLE_GROUPS.items()}
TEXTURES = ("none", "wood", "tile", "fabric", "noise", "brushed")

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Entry:
    """One catalogue entry: ranges that an instance is sampled from.

    ``colors``: candidate sRGB colours (0..1), jittered by ``jitter``; ``ir``: IR reflectance range;
    ``color2``: multiplier on the colour for the texture's second colour (or a fixed sRGB colour if
    ``color2_fixed``); ``scale``: texture frequency range (1/m).
    """

    cls: str
    colors: tuple[RGB, ...]
    ir: tuple[float, float]
    roughness: tuple[float, float]
    metallic: float = 0.0
    transmission: float = 0.0
    ior: float = 1.5
    coat: tuple[float, float] = (0.0, 0.0)
    texture: str = "none"
    color2: float = 0.6
    color2_fixed: RGB | None = None
    scale: tuple[float, float] = (1.0, 1.0)
    ir_contrast: tuple[float, float] = (0.0, 0.0)
    jitter: float = 0.06


GREY_GROUT = (0.55, 0.55, 0.53)

CATALOGUE: dict[str, Entry] = {
    # ---- textured: diffuse with a procedural texture (also modulates IR a little)
    "oak_wood": Entry("textured", ((0.72, 0.52, 0.32), (0.78, 0.60, 0.40)), (0.45, 0.6), (0.45, 0.7),
                      texture="wood", color2=0.7, scale=(3.0, 8.0), ir_contrast=(0.1, 0.25)),
    "walnut_wood": Entry("textured", ((0.40, 0.26, 0.16), (0.33, 0.21, 0.13)), (0.35, 0.5), (0.4, 0.65),
                         texture="wood", color2=0.65, scale=(3.0, 8.0), ir_contrast=(0.1, 0.25)),
    "pine_wood": Entry("textured", ((0.85, 0.70, 0.48),), (0.55, 0.7), (0.5, 0.75),
                       texture="wood", color2=0.78, scale=(2.0, 6.0), ir_contrast=(0.1, 0.2)),
    "parquet": Entry("textured", ((0.66, 0.46, 0.28), (0.55, 0.36, 0.22), (0.80, 0.66, 0.48)), (0.4, 0.6),
                     (0.35, 0.6), texture="wood", color2=0.68, scale=(4.0, 10.0), ir_contrast=(0.15, 0.3)),
    "tile_ceramic": Entry("textured", ((0.92, 0.92, 0.90), (0.70, 0.78, 0.85), (0.85, 0.80, 0.72),
                                       (0.35, 0.45, 0.55)), (0.5, 0.75), (0.1, 0.3), coat=(0.2, 0.5),
                          texture="tile", color2_fixed=GREY_GROUT, scale=(2.0, 8.0), ir_contrast=(0.15, 0.3)),
    "terrazzo": Entry("textured", ((0.80, 0.78, 0.74), (0.62, 0.62, 0.60)), (0.45, 0.65), (0.3, 0.55),
                      texture="noise", color2=0.55, scale=(30.0, 80.0), ir_contrast=(0.15, 0.3)),
    "marble": Entry("textured", ((0.90, 0.89, 0.86), (0.25, 0.25, 0.26)), (0.5, 0.8), (0.1, 0.3),
                    coat=(0.3, 0.7), texture="noise", color2=0.7, scale=(2.0, 6.0), ir_contrast=(0.1, 0.2)),
    "granite": Entry("textured", ((0.45, 0.44, 0.43), (0.30, 0.28, 0.27)), (0.3, 0.45), (0.2, 0.4),
                     texture="noise", color2=0.5, scale=(40.0, 120.0), ir_contrast=(0.15, 0.3)),
    "carpet": Entry("textured", ((0.55, 0.55, 0.55), (0.45, 0.40, 0.35), (0.30, 0.35, 0.45)), (0.35, 0.6),
                    (0.85, 1.0), texture="fabric", color2=0.75, scale=(60.0, 150.0), ir_contrast=(0.1, 0.2)),
    "fabric": Entry("textured", ((0.25, 0.35, 0.55), (0.75, 0.68, 0.55), (0.55, 0.20, 0.18), (0.35, 0.45, 0.30),
                                 (0.60, 0.60, 0.62)), (0.45, 0.7), (0.8, 1.0), texture="fabric", color2=0.7,
                    scale=(60.0, 160.0), ir_contrast=(0.1, 0.25)),
    "fabric_black": Entry("textured", ((0.05, 0.05, 0.055),), (0.35, 0.6), (0.85, 1.0), texture="fabric",
                          color2=0.6, scale=(60.0, 160.0), ir_contrast=(0.1, 0.25), jitter=0.01),
    "cardboard": Entry("textured", ((0.66, 0.50, 0.32),), (0.55, 0.7), (0.8, 0.95), texture="noise",
                       color2=0.8, scale=(20.0, 60.0), ir_contrast=(0.1, 0.2)),
    "printed_cover": Entry("textured", ((0.7, 0.15, 0.12), (0.12, 0.3, 0.6), (0.85, 0.75, 0.2), (0.15, 0.5, 0.3),
                                        (0.9, 0.9, 0.88)), (0.4, 0.75), (0.4, 0.7), texture="noise", color2=0.45,
                           scale=(10.0, 40.0), ir_contrast=(0.1, 0.3), jitter=0.1),
    "foliage": Entry("textured", ((0.18, 0.38, 0.12), (0.25, 0.45, 0.15), (0.12, 0.30, 0.10)), (0.45, 0.6),
                     (0.5, 0.8), texture="noise", color2=0.55, scale=(15.0, 40.0), ir_contrast=(0.15, 0.3)),
    "soil": Entry("textured", ((0.22, 0.16, 0.11),), (0.15, 0.25), (0.9, 1.0), texture="noise", color2=0.6,
                  scale=(40.0, 100.0), ir_contrast=(0.1, 0.2)),
    # ---- textureless: uniform matte
    "paint_white": Entry("textureless", ((0.93, 0.93, 0.91), (0.90, 0.89, 0.86)), (0.75, 0.88), (0.7, 0.95),
                         jitter=0.02),
    "paint_colour": Entry("textureless", ((0.80, 0.85, 0.78), (0.85, 0.78, 0.68), (0.70, 0.78, 0.86),
                                          (0.88, 0.80, 0.80), (0.75, 0.75, 0.76)), (0.6, 0.85), (0.7, 0.95)),
    "plaster": Entry("textureless", ((0.86, 0.84, 0.80),), (0.65, 0.8), (0.85, 1.0), jitter=0.03),
    "concrete": Entry("textureless", ((0.55, 0.55, 0.53), (0.45, 0.45, 0.44)), (0.3, 0.45), (0.75, 0.95)),
    "matte_plastic_white": Entry("textureless", ((0.88, 0.88, 0.87),), (0.25, 0.4), (0.6, 0.85), jitter=0.02),
    "paper_white": Entry("textureless", ((0.92, 0.92, 0.9),), (0.75, 0.85), (0.85, 1.0), jitter=0.02),
    "laminate": Entry("textureless", ((0.85, 0.85, 0.83), (0.65, 0.65, 0.64), (0.80, 0.72, 0.60)), (0.45, 0.7),
                      (0.45, 0.7)),
    "ceramic_matte": Entry("textureless", ((0.85, 0.83, 0.78), (0.55, 0.62, 0.58), (0.70, 0.50, 0.40)),
                           (0.5, 0.75), (0.6, 0.85)),
    # ---- glossy: painted / plastic / glazed with a clear coat
    "lacquer": Entry("glossy", ((0.92, 0.92, 0.90), (0.15, 0.25, 0.45), (0.70, 0.12, 0.10), (0.85, 0.80, 0.70)),
                     (0.45, 0.8), (0.05, 0.25), coat=(0.6, 1.0)),
    "plastic_glossy": Entry("glossy", ((0.85, 0.15, 0.12), (0.12, 0.35, 0.75), (0.95, 0.80, 0.15), (0.15, 0.60, 0.35),
                                       (0.92, 0.92, 0.92)), (0.35, 0.75), (0.1, 0.3), coat=(0.4, 0.9), jitter=0.08),
    "white_plastic_irdull": Entry("glossy", ((0.90, 0.90, 0.89),), (0.15, 0.3), (0.1, 0.3), coat=(0.4, 0.8),
                                  jitter=0.02),
    "ceramic_glazed": Entry("glossy", ((0.95, 0.95, 0.93), (0.80, 0.85, 0.90), (0.30, 0.45, 0.65), (0.85, 0.60, 0.40)),
                            (0.55, 0.85), (0.02, 0.15), coat=(0.7, 1.0)),
    # ---- metal: brushed and polished
    "steel_brushed": Entry("metal", ((0.72, 0.72, 0.73),), (0.5, 0.6), (0.25, 0.45), metallic=1.0,
                           texture="brushed", color2=0.85, scale=(150.0, 400.0), jitter=0.02),
    "aluminium_brushed": Entry("metal", ((0.85, 0.86, 0.87),), (0.8, 0.9), (0.2, 0.4), metallic=1.0,
                               texture="brushed", color2=0.85, scale=(150.0, 400.0), jitter=0.02),
    "chrome": Entry("metal", ((0.90, 0.90, 0.92),), (0.6, 0.7), (0.01, 0.06), metallic=1.0, jitter=0.01),
    "steel_polished": Entry("metal", ((0.78, 0.77, 0.76),), (0.55, 0.65), (0.05, 0.15), metallic=1.0, jitter=0.02),
    "brass": Entry("metal", ((0.95, 0.80, 0.45),), (0.85, 0.95), (0.08, 0.3), metallic=1.0, jitter=0.03),
    "copper": Entry("metal", ((0.96, 0.64, 0.54),), (0.9, 0.97), (0.1, 0.3), metallic=1.0, jitter=0.03),
    # ---- mirror
    "mirror": Entry("mirror", ((0.95, 0.95, 0.95),), (0.88, 0.95), (0.0, 0.01), metallic=1.0, jitter=0.01),
    # ---- glass: clear, frosted, tinted, transparent plastic
    "clear_glass": Entry("glass", ((1.0, 1.0, 1.0), (0.95, 1.0, 0.98)), (0.92, 0.98), (0.0, 0.02),
                         transmission=1.0, ior=1.5, jitter=0.0),
    "frosted_glass": Entry("glass", ((0.97, 0.98, 1.0),), (0.9, 0.96), (0.25, 0.45), transmission=1.0, ior=1.5,
                           jitter=0.0),
    "tinted_glass": Entry("glass", ((0.55, 0.80, 0.45), (0.70, 0.45, 0.20), (0.55, 0.70, 0.85)), (0.75, 0.92),
                          (0.0, 0.03), transmission=1.0, ior=1.52, jitter=0.04),
    "acrylic": Entry("glass", ((1.0, 1.0, 1.0),), (0.9, 0.97), (0.0, 0.05), transmission=1.0, ior=1.49, jitter=0.0),
    # ---- dark: IR-absorbing black
    "black_plastic": Entry("dark", ((0.03, 0.03, 0.03),), (0.02, 0.06), (0.35, 0.7), jitter=0.01),
    "black_paint": Entry("dark", ((0.04, 0.04, 0.04),), (0.03, 0.07), (0.5, 0.9), jitter=0.01),
    "screen_black": Entry("dark", ((0.01, 0.01, 0.012),), (0.02, 0.05), (0.03, 0.1), coat=(0.5, 1.0), jitter=0.005),
    "black_leather": Entry("dark", ((0.05, 0.045, 0.04),), (0.05, 0.1), (0.35, 0.6), jitter=0.01),
    "black_rubber": Entry("dark", ((0.03, 0.03, 0.03),), (0.02, 0.04), (0.8, 1.0), jitter=0.005),
    "black_epoxy": Entry("dark", ((0.05, 0.05, 0.05),), (0.03, 0.06), (0.15, 0.35), coat=(0.2, 0.6), jitter=0.01),
}

# role -> ((catalogue entry, weight), ...): what furniture and clutter ask for
ROLES: dict[str, tuple[tuple[str, float], ...]] = {
    "wood": (("oak_wood", 3), ("walnut_wood", 2), ("pine_wood", 1), ("lacquer", 1.2), ("black_paint", 0.8)),
    "light_wood": (("oak_wood", 2), ("pine_wood", 2), ("laminate", 1)),
    "floor": (("parquet", 4), ("tile_ceramic", 2), ("carpet", 1.5), ("concrete", 1), ("terrazzo", 1),
              ("marble", 0.7)),
    "floor_wet": (("tile_ceramic", 4), ("terrazzo", 1.5), ("marble", 1), ("concrete", 0.5)),
    "floor_lab": (("concrete", 2), ("terrazzo", 2), ("black_rubber", 1), ("tile_ceramic", 1)),
    "wall": (("paint_white", 4), ("paint_colour", 3), ("plaster", 2), ("concrete", 0.4)),
    "wall_wet": (("tile_ceramic", 3), ("paint_white", 1), ("plaster", 0.5)),
    "ceiling": (("paint_white", 5), ("plaster", 1)),
    "fabric": (("fabric", 5), ("fabric_black", 2), ("black_leather", 1.5), ("carpet", 0.5)),
    "cushion": (("fabric", 4), ("fabric_black", 1), ("paper_white", 0.5)),
    "bedding": (("paper_white", 2), ("fabric", 3), ("fabric_black", 0.5)),
    "metal": (("steel_brushed", 3), ("aluminium_brushed", 2), ("chrome", 2), ("brass", 0.7),
              ("steel_polished", 1.5), ("black_paint", 0.8)),
    "polished_metal": (("chrome", 3), ("steel_polished", 2), ("brass", 1), ("copper", 0.8)),
    "appliance": (("steel_brushed", 3), ("white_plastic_irdull", 1.5), ("lacquer", 1), ("black_paint", 1)),
    "plastic": (("plastic_glossy", 4), ("white_plastic_irdull", 2), ("matte_plastic_white", 1.5),
                ("black_plastic", 1.5)),
    "ceramic": (("ceramic_glazed", 5), ("ceramic_matte", 2)),
    "glass": (("clear_glass", 6), ("frosted_glass", 1.5), ("acrylic", 2)),
    "clear_glass": (("clear_glass", 1),),
    "bottle_glass": (("clear_glass", 3), ("tinted_glass", 3), ("acrylic", 1)),
    "mirror": (("mirror", 1),),
    "screen": (("screen_black", 1),),
    "dark": (("black_plastic", 3), ("black_paint", 2), ("black_leather", 1)),
    "countertop": (("marble", 2), ("granite", 2), ("laminate", 1.5), ("steel_brushed", 1), ("black_epoxy", 1),
                   ("oak_wood", 1)),
    "lab_top": (("black_epoxy", 3), ("laminate", 2), ("steel_brushed", 1)),
    "cabinet": (("laminate", 2), ("lacquer", 2), ("oak_wood", 1.5), ("paint_white", 1), ("black_paint", 1)),
    "paper": (("cardboard", 3), ("paper_white", 1), ("printed_cover", 1)),
    "book": (("printed_cover", 4), ("paper_white", 1), ("lacquer", 0.7), ("black_paint", 0.7)),
    "foliage": (("foliage", 1),),
    "soil": (("soil", 1),),
    "textureless": (("paint_white", 2), ("matte_plastic_white", 2), ("paint_colour", 2), ("ceramic_matte", 1),
                    ("laminate", 1)),
    "frame": (("paint_white", 3), ("aluminium_brushed", 2), ("black_paint", 1.5), ("oak_wood", 1)),
    "canvas": (("printed_cover", 3), ("fabric", 1)),
    "shade": (("paper_white", 2), ("fabric", 2), ("frosted_glass", 1), ("steel_polished", 1), ("black_paint", 0.5)),
}


def srgb_to_linear(c: float) -> float:
    """sRGB transfer function inverse (0..1)."""
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


class MaterialPicker:
    """Hands out material names per role from a small per-scene palette (materials rng only)."""

    def __init__(self, rng: np.random.Generator, max_variants: int = 3):
        self.rng = rng
        self.max_variants = max_variants
        self.materials: dict[str, Material] = {}
        self._palettes: dict[str, list[str]] = {}
        self._targets: dict[str, int] = {}
        self._counts: dict[str, int] = {}

    def pick(self, role: str) -> str:
        """Name of a material for ``role`` (one of :data:`ROLES`); the role's palette grows up to a
        per-scene size of 1..max_variants distinct instances."""
        if role not in ROLES:
            raise ValueError(f"unknown material role {role!r}; known: {', '.join(sorted(ROLES))}")
        palette = self._palettes.setdefault(role, [])
        if role not in self._targets:
            self._targets[role] = 1 + int(self.rng.integers(0, self.max_variants))
        if not palette or (len(palette) < self._targets[role] and self.rng.random() < 0.5):
            names, weights = zip(*ROLES[role])
            p = np.asarray(weights, float) / sum(weights)
            palette.append(self.new(names[int(self.rng.choice(len(names), p=p))]))
            return palette[-1]
        return palette[int(self.rng.integers(0, len(palette)))]

    def pick_entry(self, role: str, entry: str) -> str:
        """A material of a given catalogue entry, reusing the role's palette when it has one."""
        key = f"{role}:{entry}"
        palette = self._palettes.setdefault(key, [])
        if not palette:
            palette.append(self.new(entry))
        return palette[0]

    def new(self, entry_name: str) -> str:
        """Sample a fresh instance of a catalogue entry; returns its unique name."""
        e = CATALOGUE[entry_name]
        g = self.rng
        n = self._counts.get(entry_name, 0)
        self._counts[entry_name] = n + 1
        name = f"{entry_name}_{n}"
        base = e.colors[int(g.integers(0, len(e.colors)))]
        srgb = [min(1.0, max(0.0, c + e.jitter * (g.random() * 2 - 1))) for c in base]
        color = tuple(srgb_to_linear(c) for c in srgb)
        if e.color2_fixed is not None:
            color2 = tuple(srgb_to_linear(c) for c in e.color2_fixed)
        else:
            color2 = tuple(c * e.color2 for c in color)
        self.materials[name] = Material(
            name=name, cls=e.cls, base=entry_name, color=color,
            ir_reflectance=_uniform(g, e.ir), roughness=_uniform(g, e.roughness), metallic=e.metallic,
            transmission=e.transmission, ior=e.ior, coat=_uniform(g, e.coat), texture=e.texture,
            color2=color2, texture_scale=_uniform(g, e.scale), ir_contrast=_uniform(g, e.ir_contrast),
        )
        return name

    def cls(self, name: str) -> str:
        return self.materials[name].cls


def _uniform(g: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    lo, hi = lo_hi
    return lo if hi <= lo else float(lo + (hi - lo) * g.random())


def classes_with_groups(classes: set[str]) -> set[str]:
    """Add the group names (transparent, specular) that a set of classes satisfies."""
    out = set(classes)
    for group, members in GROUPS.items():
        if out.intersection(members):
            out.add(group)
    return out
