"""Clutter stage: rows of products/books on shelves, loose objects on surfaces, boxes on the floor,
and the per-scene guarantee of at least one transparent and one specular object."""
from __future__ import annotations

from dataclasses import replace

from lbd.errors import UserError
from scenes.clutter import CLUTTER, beaker, bottle, can, drinking_glass, jar, wine_glass
from scenes.items import Item, R
from scenes.materials import GROUPS, MaterialPicker
from scenes.model import SceneObject
from scenes.placement import Placer
from scenes.rooms import CLUTTER_MIX, ROW_OWNERS, ROW_PRODUCTS_COOLER

MAX_ROW_ITEMS = 120


class ClutterError(UserError, ValueError):
    """Clutter that cannot be placed (message names the scene and what failed)."""


def _make(name: str, r: R, m: MaterialPicker) -> Item:
    return CLUTTER[name][0](r, m)


def fill_row(r: R, m: MaterialPicker, p: Placer, owner: SceneObject, index: int, product: str, budget: int) -> int:
    """Stand copies of one product side by side along a shelf, front-aligned; returns the count."""
    surf = owner.surfaces[index]
    x0, y0, x1, y1 = surf.rect
    template = _make(product, r, m)
    cursor = x0 + r.u(0.0, 0.05)
    stop = x0 + (x1 - x0) * r.u(0.6, 1.0)
    gap = r.u(0.005, 0.03)
    placed = misses = 0
    while placed < budget and misses < 2:
        item = _make(product, r, m) if product == "book" else Item(template.category, [replace(q) for q in template.parts])
        lo, hi = item.extents()
        w, d = hi[0] - lo[0], hi[1] - lo[1]
        if cursor + w > min(stop, x1):
            break
        ly = y1 - d / 2 - 0.005 - r.u(0.0, 0.02)
        lx = cursor - lo[0]
        if p.on_surface(r, item, owner, index, local_xy=(lx, ly), yaw=0.0) is not None:
            placed += 1
            misses = 0
        else:
            misses += 1
        cursor += w + (0.001 if product == "book" else gap)
    return placed


def populate(r: R, m: MaterialPicker, p: Placer, room_type: str, scene_label: str,
             count: int | None = None) -> int:
    """Place clutter; ``count`` = exact number requested (None = the room type's random default).

    Raises :class:`ClutterError` when an explicitly requested count cannot be placed.
    """
    spec = CLUTTER_MIX[room_type]
    target = r.i(*spec["n"]) if count is None else count
    placed = 0
    names, weights = zip(*spec["mix"].items())

    # rows on shelves (about 80 % of shelf boards); by default on top of the loose clutter (at most
    # MAX_ROW_ITEMS), with an explicit count they are part of it
    shelves = p.surfaces(ROW_OWNERS)
    order = r.g.permutation(len(shelves)) if shelves else []
    row_budget = MAX_ROW_ITEMS if count is None else target
    rows = 0
    for k in order:
        if rows >= row_budget:
            break
        owner, idx = shelves[int(k)]
        if not r.p(0.8):
            continue
        if owner.category == "bookshelf" and r.p(0.6):
            product = "book"
        elif owner.category == "drink_cooler":
            product = r.choice(list(ROW_PRODUCTS_COOLER))
        else:
            product = r.choice(list(spec["rows"]))
        rows += fill_row(r, m, p, owner, idx, product, min(16, row_budget - rows))
    if count is not None:
        placed = rows

    # loose objects on any surface (weighted by area), boxes on the floor
    surfaces = p.surfaces()
    areas = [max(1e-3, (s.rect[2] - s.rect[0]) * (s.rect[3] - s.rect[1])) for s in (o.surfaces[i] for o, i in surfaces)]
    if count is None:
        for _ in range(r.i(*spec["floor"])):
            p.free(r, _make("box", r, m), kind="clutter", margin=0.05, tries=6)
    attempts = misses = 0
    while placed < target and surfaces and attempts < 6 * target + 20 and misses < 120:
        attempts += 1
        owner, idx = r.choice(surfaces, areas)
        item = _make(r.choice(list(names), list(weights)), r, m)
        if p.on_surface(r, item, owner, idx, tries=3) is not None:
            placed += 1
            misses = 0
        else:
            misses += 1
    if count is not None and placed < count:
        raise ClutterError(f"{scene_label}: placed only {placed} of {count} requested clutter objects "
                           f"(no free supporting surface left)")
    return placed


def ensure_groups(r: R, m: MaterialPicker, p: Placer, room_type: str, scene_label: str) -> None:
    """Guarantee one transparent and one specular object (not counting windows and the shell)."""
    transparent = (drinking_glass, wine_glass, jar, beaker, lambda r_, m_: bottle(r_, m_, "bottle_glass"))
    for group, makers in (("transparent", transparent), ("specular", (can,))):
        if _has_group(p, m, group):
            continue
        surfaces = p.surfaces()
        ok = False
        for _ in range(40):
            item = r.choice(list(makers))(r, m)
            if surfaces:
                owner, idx = r.choice(surfaces)
                ok = p.on_surface(r, item, owner, idx, tries=3) is not None
            else:
                ok = p.free(r, item, kind="clutter", margin=0.05, tries=3) is not None
            if ok:
                break
        if not ok:
            for _ in range(20):  # last resort: on the floor
                if p.free(r, r.choice(list(makers))(r, m), kind="clutter", margin=0.05, tries=3) is not None:
                    ok = True
                    break
        if not ok:
            raise ClutterError(f"{scene_label}: could not place a required {group} object")


def _has_group(p: Placer, m: MaterialPicker, group: str) -> bool:
    members = set(GROUPS[group])
    for obj in p.objects:
        if obj.kind in ("shell", "opening"):
            continue
        if any(m.cls(part.material) in members for part in obj.parts):
            return True
    return False
