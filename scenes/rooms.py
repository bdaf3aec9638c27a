"""Furnishing programs: which furniture each room type gets and how it is arranged.

A program places furniture and the objects that belong on it (monitors on desks, lamps on
nightstands, a TV on its stand) with the furniture rng; loose clutter comes later (``scenes.populate``).
Every placement may fail (no room left); programs simply carry on with what fits.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from scenes import clutter as C
from scenes import furniture as F
from scenes.items import Item, R
from scenes.materials import MaterialPicker
from scenes.model import Room, SceneObject
from scenes.placement import Placer


@dataclass
class Ctx:
    r: R
    m: MaterialPicker
    p: Placer
    room: Room

    @property
    def max_h(self) -> float:
        return self.room.height - 0.15


# ---------------------------------------------------------------------------------------- groups


def chairs_around(c: Ctx, table: SceneObject, make: Callable[[], Item], max_chairs: int = 6) -> int:
    """Chairs facing a rectangular or round table, tucked in as far as they fit."""
    lo, hi = _extents(table)
    placed = 0
    if table.category == "round_table":
        rad = (hi[0] - lo[0]) / 2
        n = min(max_chairs, c.r.i(2, 4))
        a0 = c.r.u(0, 2 * math.pi)
        for k in range(n):
            a = a0 + 2 * math.pi * k / n
            chair = make()
            for dist in (rad + 0.05, rad + 0.15, rad + 0.3):
                if c.p.relative(chair, table, (dist * math.cos(a), dist * math.sin(a)), a + math.pi / 2) is not None:
                    placed += 1
                    break
        return placed
    w, d = hi[0] - lo[0], hi[1] - lo[1]
    seats = []
    per_side = max(1, int(w / 0.6))
    for side in (-1, 1):
        for k in range(per_side):
            seats.append(((k + 0.5) * w / per_side - w / 2, side * d / 2, 0.0 if side < 0 else math.pi))
    if d > 0.75 and w > 1.2:
        seats += [(-w / 2, 0.0, -math.pi / 2), (w / 2, 0.0, math.pi / 2)]
    order = c.r.g.permutation(len(seats))
    for idx in order[:max_chairs]:
        x, y, yaw = seats[int(idx)]
        chair = make()
        cd = chair.depth
        for tuck in (0.12, 0.0, -0.12):
            out = cd / 2 - tuck
            dx, dy = -math.sin(yaw), math.cos(yaw)  # chair front direction in the table frame
            pos = (x - dx * out, y - dy * out)
            if c.p.relative(chair, table, pos, yaw) is not None:
                placed += 1
                break
    return placed


def dining_set(c: Ctx, round_: bool = False, chair_kind: str = "chair") -> SceneObject | None:
    item = F.round_table(c.r, c.m) if round_ else F.table(c.r, c.m, w=c.r.u(0.9, 1.8), d=c.r.u(0.7, 0.95))
    table = c.p.free(c.r, item, margin=0.7)
    if table is None:
        return None
    make = (lambda: F.stool(c.r, c.m)) if chair_kind == "stool" else (lambda: F.chair(c.r, c.m))
    chairs_around(c, table, make)
    return table


def desk_set(c: Ctx, office: bool) -> SceneObject | None:
    desk = c.p.against_wall(c.r, F.desk(c.r, c.m)) if c.r.p(0.75) else c.p.free(c.r, F.desk(c.r, c.m), margin=0.8)
    if desk is None:
        return None
    lo, hi = _extents(desk)
    chair = F.office_chair(c.r, c.m) if office or c.r.p(0.4) else F.chair(c.r, c.m)
    for out in (0.2, 0.35, 0.5):
        if c.p.relative(chair, desk, (c.r.u(-0.15, 0.15), hi[1] + out), math.pi) is not None:
            break
    n_mon = c.r.choice([0, 1, 1, 2]) if office else c.r.choice([0, 1])
    surf = desk.surfaces[0]
    x0, y0, x1, y1 = surf.rect
    for k in range(n_mon):
        x = (x0 + x1) / 2 + (0.0 if n_mon == 1 else (-0.3 if k == 0 else 0.3))
        c.p.on_surface(c.r, C.monitor(c.r, c.m), desk, 0, local_xy=(x, y0 + 0.13), yaw=0.0, kind="furniture")
    if n_mon:
        c.p.on_surface(c.r, C.keyboard(c.r, c.m), desk, 0, local_xy=((x0 + x1) / 2, y1 - 0.12), yaw=0.0)
    if n_mon == 0 or c.r.p(0.3):
        c.p.on_surface(c.r, C.laptop(c.r, c.m), desk, 0, tries=8)
    return desk


def lamp_on(c: Ctx, owner: SceneObject) -> None:
    if owner.surfaces:
        c.p.on_surface(c.r, F.table_lamp(c.r, c.m), owner, 0, tries=8, kind="furniture")


def mirror_above(c: Ctx, owner: SceneObject, bathroom: bool = False) -> SceneObject | None:
    """A wall mirror centred above a wall-placed item."""
    if owner.name not in c.p.wall_of:
        return None
    wall, s = c.p.wall_of[owner.name]
    top = max(p.center[2] + p.size[2] / 2 for p in owner.parts)
    for _ in range(4):
        mirror = F.wall_mirror(c.r, c.m, bathroom=bathroom)
        z = top + c.r.u(0.15, 0.35)
        if z + mirror.height > c.room.height - 0.1:
            continue
        obj = c.p.on_wall_at(mirror, wall, s, z)
        if obj is not None:
            return obj
    return None


def wall_item(c: Ctx, make: Callable[[], Item], z: tuple[float, float], tries: int = 3) -> SceneObject | None:
    for _ in range(tries):
        item = make()
        zz = min(c.r.u(*z), c.room.height - 0.1 - item.height)
        obj = c.p.against_wall(c.r, item, kind="fixture", mount="wall", z=zz, tries=8)
        if obj is not None:
            return obj
    return None


def some(c: Ctx, n: tuple[int, int], fn: Callable[[], object]) -> None:
    for _ in range(c.r.i(*n)):
        fn()


def pendants_over(c: Ctx, table: SceneObject | None, n: tuple[int, int] = (1, 3)) -> None:
    if table is None:
        return
    lo, hi = _extents(table)
    k = c.r.i(*n)
    bottom = c.r.u(1.6, 1.95)
    drop = c.room.height - bottom
    if drop < 0.35:
        return
    item = F.pendant_lamp(c.r, c.m, drop)
    for j in range(k):
        lx = (lo[0] + hi[0]) / 2 + (j - (k - 1) / 2) * (hi[0] - lo[0]) / max(k, 1) * 0.8
        wx = table.position[0] + math.cos(table.yaw) * lx
        wy = table.position[1] + math.sin(table.yaw) * lx
        c.p.on_ceiling(_clone(item), (wx, wy), kind="fixture")


def _extents(obj: SceneObject):
    import numpy as np
    cc = np.array([p.center for p in obj.parts])
    h = np.array([p.size for p in obj.parts]) / 2
    return (cc - h).min(axis=0), (cc + h).max(axis=0)


def _clone(item: Item) -> Item:
    from dataclasses import replace
    return Item(item.category, [replace(p) for p in item.parts], list(item.surfaces), list(item.lamps))


# ---------------------------------------------------------------------------------------- programs


def living_room(c: Ctx) -> None:
    r, m, p = c.r, c.m, c.p
    sofa = p.against_wall(r, F.sofa(r, m))
    if sofa is not None:
        lo, hi = _extents(sofa)
        ct = F.coffee_table(r, m)
        for gap in (0.4, 0.5, 0.3):
            if p.relative(ct, sofa, (0.0, hi[1] + gap + ct.depth / 2), 0.0) is not None:
                break
    some(c, (0, 2), lambda: p.free(r, F.sofa(r, m, seats=1), margin=0.3, yaw_jitter=0.5))
    if r.p(0.75):
        stand = p.against_wall(r, F.tv_stand(r, m))
        if stand is not None:
            p.on_surface(r, C.tv(r, m), stand, 0, local_xy=(0.0, 0.0), yaw=0.0, kind="furniture")
    elif r.p(0.6):
        wall_item(c, lambda: F.wall_tv(r, m), (0.9, 1.3))
    some(c, (0, 2), lambda: p.against_wall(r, r.choice([F.bookshelf(r, m), F.glass_cabinet(r, m, c.max_h)])))
    if r.p(0.5):
        sb = p.against_wall(r, F.sideboard(r, m))
        if sb is not None:
            lamp_on(c, sb)
            if r.p(0.4):
                mirror_above(c, sb)
    if r.p(0.7):
        p.against_wall(r, F.floor_lamp(r, m), corner=True)
    some(c, (0, 2), lambda: p.against_wall(r, F.plant(r, m), corner=True))
    if r.p(0.35):
        dining_set(c)
    if r.p(0.6):
        wall_item(c, lambda: F.wall_mirror(r, m), (0.8, 1.3))
    some(c, (0, 2), lambda: wall_item(c, lambda: F.painting(r, m), (1.2, 1.6)))
    if r.p(0.3):
        wall_item(c, lambda: F.wall_shelf(r, m), (1.2, 1.6))


def kitchen(c: Ctx) -> None:
    r, m, p = c.r, c.m, c.p
    counters = []
    for k in range(r.i(1, 2)):
        for width in sorted([r.u(1.4, 3.2), r.u(1.0, 2.0), 0.9], reverse=True):
            obj = p.against_wall(r, F.counter(r, m, w=width, sink=(k == 0)))
            if obj is not None:
                counters.append(obj)
                break
    if r.p(0.85):
        p.against_wall(r, F.fridge(r, m, c.max_h))
    for obj in counters:
        if r.p(0.6) and obj.name in p.wall_of:
            wall, s = p.wall_of[obj.name]
            p.on_wall_at(F.upper_cabinet(r, m), wall, s + r.u(-0.4, 0.4), r.u(1.42, 1.55))
    table = None
    if r.p(0.6):
        table = dining_set(c, round_=r.p(0.3))
    if r.p(0.5):
        pendants_over(c, table or (counters[0] if counters else None))
    if r.p(0.5):
        p.against_wall(r, F.plant(r, m), corner=True)
    if r.p(0.4):
        wall_item(c, lambda: F.wall_shelf(r, m), (1.3, 1.7))
    if r.p(0.4):
        wall_item(c, lambda: F.wall_mirror(r, m), (1.0, 1.4))


def bedroom(c: Ctx) -> None:
    r, m, p = c.r, c.m, c.p
    bed = p.against_wall(r, F.bed(r, m))
    if bed is not None:
        lo, hi = _extents(bed)
        for side in (-1, 1):
            if r.p(0.8):
                ns = F.nightstand(r, m)
                x = side * (hi[0] + 0.03 + ns.width / 2)
                obj = p.relative(ns, bed, (x, lo[1] + ns.depth / 2), 0.0)
                if obj is not None:
                    lamp_on(c, obj)
    if r.p(0.8):
        p.against_wall(r, F.wardrobe(r, m, c.max_h))
    mirror = None
    if r.p(0.5):
        dr = p.against_wall(r, F.dresser(r, m))
        if dr is not None:
            mirror = mirror_above(c, dr)
    if mirror is None and r.p(0.6):
        wall_item(c, lambda: F.wall_mirror(r, m), (0.3, 1.2))
    if r.p(0.4):
        desk_set(c, office=False)
    if r.p(0.4):
        p.against_wall(r, F.floor_lamp(r, m), corner=True)
    if r.p(0.5):
        p.against_wall(r, F.plant(r, m), corner=True)
    some(c, (0, 2), lambda: wall_item(c, lambda: F.painting(r, m), (1.2, 1.6)))
    if r.p(0.3):
        p.against_wall(r, F.bookshelf(r, m))


def bathroom(c: Ctx) -> None:
    r, m, p = c.r, c.m, c.p
    vanity = p.against_wall(r, F.vanity(r, m))
    if vanity is None or mirror_above(c, vanity, bathroom=True) is None:
        wall_item(c, lambda: F.wall_mirror(r, m, bathroom=True), (1.1, 1.3), tries=6)
    p.against_wall(r, F.toilet(r, m))
    if r.p(0.5):
        p.against_wall(r, F.bathtub(r, m), corner=True)
    if r.p(0.7):
        p.against_wall(r, F.shower(r, m), corner=True)
    if r.p(0.7):
        wall_item(c, lambda: F.towel_rail(r, m), (0.9, 1.2))
    if r.p(0.5):
        wall_item(c, lambda: F.wall_shelf(r, m), (1.2, 1.5))
    if r.p(0.3):
        p.against_wall(r, F.cabinet(r, m, r.u(0.4, 0.6), r.u(0.3, 0.4), r.u(0.8, 1.6), "cabinet"))
    if r.p(0.3):
        p.against_wall(r, F.plant(r, m), corner=True)


def office(c: Ctx) -> None:
    r, m, p = c.r, c.m, c.p
    area = c.room.width * c.room.depth
    for _ in range(max(1, min(4, int(area / r.u(6, 10))))):
        desk_set(c, office=True)
    some(c, (0, 2), lambda: p.against_wall(r, F.filing_cabinet(r, m)))
    some(c, (0, 2), lambda: p.against_wall(r, r.choice([F.bookshelf(r, m), F.glass_cabinet(r, m, c.max_h)])))
    if r.p(0.4):
        p.free(r, F.glass_partition(r, m), margin=0.5)
    if r.p(0.6):
        wall_item(c, lambda: F.whiteboard(r, m), (0.85, 1.0))
    some(c, (1, 2), lambda: p.against_wall(r, F.plant(r, m), corner=True))
    if r.p(0.4):
        p.against_wall(r, F.water_cooler(r, m))
    if r.p(0.3):
        dining_set(c)
    if r.p(0.4):
        wall_item(c, lambda: F.wall_mirror(r, m), (0.8, 1.3))
    if r.p(0.5):
        wall_item(c, lambda: F.painting(r, m), (1.3, 1.7))


def shop(c: Ctx) -> None:
    r, m, p = c.r, c.m, c.p
    some(c, (2, 5), lambda: p.against_wall(r, F.shop_shelf(r, m, c.max_h)))
    some(c, (0, 2), lambda: p.against_wall(r, F.drink_cooler(r, m, c.max_h)))
    some(c, (1, 2), lambda: p.free(r, F.display_case(r, m), margin=0.6) or p.against_wall(r, F.display_case(r, m)))
    checkout = p.against_wall(r, F.counter(r, m, w=r.u(1.2, 2.0), sink=False))
    if checkout is not None:
        p.on_surface(r, C.register(r, m), checkout, 0, tries=8, kind="furniture")
    some(c, (0, 2), lambda: p.free(r, F.bookshelf(r, m, metal=True, height=r.u(1.2, 1.6)), margin=0.7))
    if r.p(0.6):
        wall_item(c, lambda: F.wall_mirror(r, m), (0.2, 0.5))
    if r.p(0.5):
        p.against_wall(r, F.plant(r, m), corner=True)


def lab(c: Ctx) -> None:
    r, m, p = c.r, c.m, c.p
    benches = []
    for _ in range(r.i(1, 3)):
        obj = p.against_wall(r, F.lab_bench(r, m))
        if obj is not None:
            benches.append(obj)
    if r.p(0.5):
        obj = p.free(r, F.lab_bench(r, m), margin=0.8)
        if obj is not None:
            benches.append(obj)
    if r.p(0.6):
        p.against_wall(r, F.fume_hood(r, m, c.max_h))
    some(c, (1, 2), lambda: p.against_wall(r, F.bookshelf(r, m, metal=True)))
    if r.p(0.5):
        p.against_wall(r, F.glass_cabinet(r, m, c.max_h))
    if r.p(0.5):
        p.against_wall(r, F.counter(r, m, w=r.u(1.2, 2.4), sink=True, top_role="lab_top"))
    for bench in benches:
        for _ in range(r.i(0, 2)):
            lo, hi = _extents(bench)
            p.relative(F.stool(r, m), bench, (r.u(lo[0] + 0.3, hi[0] - 0.3), hi[1] + 0.25), 0.0)
    if r.p(0.3):
        p.against_wall(r, F.fridge(r, m, c.max_h))
    if r.p(0.3):
        wall_item(c, lambda: F.whiteboard(r, m), (0.9, 1.0))
    if r.p(0.35):
        wall_item(c, lambda: F.wall_mirror(r, m), (1.0, 1.3))


def cafe(c: Ctx) -> None:
    r, m, p = c.r, c.m, c.p
    bar = p.against_wall(r, F.counter(r, m, w=r.u(1.8, 3.2), sink=r.p(0.5), top_role=r.choice(["countertop", "wood"])))
    if bar is not None:
        for k in range(len(bar.surfaces)):
            p.on_surface(r, C.espresso_machine(r, m) if k == 0 else C.pastry_case(r, m), bar, k, tries=6, kind="furniture")
    if r.p(0.6):
        p.against_wall(r, F.display_case(r, m))
    tables = []
    for _ in range(r.i(2, 6)):
        t = dining_set(c, round_=r.p(0.6), chair_kind="stool" if r.p(0.3) else "chair")
        if t is not None:
            tables.append(t)
    if tables and r.p(0.6):
        for t in tables[:3]:
            pendants_over(c, t, (1, 1))
    if r.p(0.4):
        p.against_wall(r, r.choice([F.glass_cabinet(r, m, c.max_h), F.bookshelf(r, m)]))
    some(c, (1, 3), lambda: p.against_wall(r, F.plant(r, m), corner=True))
    if r.p(0.65):
        wall_item(c, lambda: F.wall_mirror(r, m), (0.8, 1.2))
    some(c, (0, 2), lambda: wall_item(c, lambda: F.painting(r, m), (1.3, 1.7)))


PROGRAMS: dict[str, Callable[[Ctx], None]] = {
    "living_room": living_room, "kitchen": kitchen, "bedroom": bedroom, "bathroom": bathroom,
    "office": office, "shop": shop, "lab": lab, "cafe": cafe,
}

# room type -> clutter (name, weight), count range, shelf-row products, floor boxes
CLUTTER_MIX: dict[str, dict] = {
    "living_room": dict(n=(12, 28), floor=(0, 2), mix=dict(books=3, vase=2, bowl=1.5, ornament=1, candle=1, glass=1.5,
                        wine_glass=1, bottle=1, small_plant=1.5, tray=1, box=0.7, mug=1, speaker=0.7, phone=0.5),
                        rows=("book", "glass", "wine_glass", "vase", "bowl")),
    "kitchen": dict(n=(15, 35), floor=(0, 1), mix=dict(glass=2, wine_glass=1, bottle=2, glass_bottle=1.5, jar=1.5, mug=2,
                    bowl=2, plate=1.5, pot=1.5, kettle=1, can=1.5, toaster=0.7, tray=0.7, small_plant=1, box=0.5),
                    rows=("jar", "glass", "bowl", "glass_bottle", "can")),
    "bedroom": dict(n=(8, 22), floor=(0, 2), mix=dict(books=3, vase=1, glass=1.5, small_plant=1, box=1, phone=1, candle=1,
                    ornament=0.7, mug=1, towel=1, speaker=0.5), rows=("book", "box", "vase")),
    "bathroom": dict(n=(6, 16), floor=(0, 1), mix=dict(soap_bottle=3, glass=2, towel=2, jar=1.5, vase=1, small_plant=1,
                     bottle=1.5, tray=1, candle=1), rows=("soap_bottle", "jar", "glass", "towel")),
    "office": dict(n=(12, 30), floor=(0, 3), mix=dict(books=3, mug=2, glass=1.5, bottle=1.5, box=1.5, phone=1, small_plant=1,
                   speaker=0.5, can=1, jar=0.5, laptop=0.7), rows=("book", "box", "product_box")),
    "shop": dict(n=(40, 90), floor=(0, 3), mix=dict(product_box=3, can=2, glass_bottle=2, bottle=2, jar=1.5, box=1, vase=1,
                 glass=1, bowl=1, ornament=0.5), rows=("product_box", "can", "glass_bottle", "bottle", "jar", "glass")),
    "lab": dict(n=(20, 50), floor=(0, 3), mix=dict(beaker=3, flask=2.5, test_tube_rack=1.5, glass_bottle=2, jar=1.5,
                instrument=1.5, box=1, books=0.7, can=0.5), rows=("glass_bottle", "jar", "beaker", "flask", "box")),
    "cafe": dict(n=(20, 45), floor=(0, 1), mix=dict(glass=3, wine_glass=1.5, mug=2.5, plate=2, bowl=1, glass_bottle=1.5,
                 bottle=1, jar=1, can=1, small_plant=1, candle=1, vase=1, tray=0.7),
                 rows=("glass_bottle", "glass", "wine_glass", "mug", "jar", "can")),
}
ROW_OWNERS = {"bookshelf", "shop_shelf", "metal_shelf", "glass_cabinet", "drink_cooler", "wall_shelf"}
ROW_PRODUCTS_COOLER = ("can", "glass_bottle", "bottle")
