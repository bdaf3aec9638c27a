"""Parametric furniture: boxes and cylinders composed into recognisable shapes (metres).

Each generator ``f(r, m) -> Item`` draws its dimensions from ``r`` (furniture rng) and its materials
from ``m`` (a :class:`~scenes.materials.MaterialPicker`). Local frame: origin at the footprint centre
on the floor, front = +y, so wall-standing furniture has its back at y = -depth/2. Parts of one item
touch each other; support surfaces (table tops, shelf boards) are listed for clutter.
"""
from __future__ import annotations

import math

from scenes.geometry import box, cup, cyl, sphere, tube
from scenes.items import Item, R
from scenes.materials import MaterialPicker
from scenes.model import Surface


def _top_surface(w: float, d: float, z: float, clearance: float = 1.0, margin: float = 0.03) -> Surface:
    return Surface((-w / 2 + margin, -d / 2 + margin, w / 2 - margin, d / 2 - margin), z, clearance)


def _legs(w: float, d: float, z1: float, size: float, inset: float, mat: str, round_: bool = False):
    parts = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            cx = sx * (w / 2 - inset - size / 2)
            cy = sy * (d / 2 - inset - size / 2)
            if round_:
                parts.append(cyl(cx, cy, 0.0, z1, size / 2, mat))
            else:
                parts.append(box(cx - size / 2, cy - size / 2, 0.0, cx + size / 2, cy + size / 2, z1, mat))
    return parts


# ---------------------------------------------------------------------------------------- tables


def table(r: R, m: MaterialPicker, w: float | None = None, d: float | None = None) -> Item:
    """Dining / work table: top + 4 legs; glass top on metal legs or a dark top sometimes."""
    w = w or r.u(1.0, 1.9)
    d = d or r.u(0.7, 1.0)
    h = r.u(0.72, 0.78)
    style = r.choice(["wood", "glass", "dark"], [0.6, 0.25, 0.15])
    if style == "glass":
        top, legs, tt = m.pick("glass"), m.pick("metal"), r.u(0.01, 0.015)
    elif style == "dark":
        top, tt = m.pick("dark"), r.u(0.025, 0.045)
        legs = r.choice([top, m.pick("metal")])
    else:
        top, tt = m.pick("wood"), r.u(0.025, 0.05)
        legs = r.choice([top, m.pick("metal"), m.pick("dark")])
    parts = [box(-w / 2, -d / 2, h - tt, w / 2, d / 2, h, top)]
    parts += _legs(w, d, h - tt, r.u(0.035, 0.07), r.u(0.02, 0.08), legs, r.p(0.3))
    return Item("table", parts, [_top_surface(w, d, h, 1.0)])


def round_table(r: R, m: MaterialPicker) -> Item:
    """Cafe table: round top on a pedestal and a base disc."""
    rad = r.u(0.3, 0.5)
    h = r.u(0.72, 0.76)
    tt = r.u(0.02, 0.04)
    top = m.pick(r.choice(["wood", "countertop", "glass", "dark"], [3, 2, 1, 1]))
    metal = m.pick(r.choice(["metal", "dark"]))
    base_r, base_t = r.u(0.18, 0.28), r.u(0.015, 0.03)
    parts = [cyl(0, 0, h - tt, h, rad, top), cyl(0, 0, base_t, h - tt, r.u(0.025, 0.045), metal),
             cyl(0, 0, 0, base_t, base_r, metal)]
    s = rad * 0.68
    return Item("round_table", parts, [Surface((-s, -s, s, s), h, 1.0)])


def coffee_table(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(0.8, 1.3), r.u(0.45, 0.7), r.u(0.35, 0.45)
    glass = r.p(0.45)
    top = m.pick("glass") if glass else m.pick("wood")
    tt = r.u(0.01, 0.015) if glass else r.u(0.025, 0.04)
    legs = m.pick(r.choice(["metal", "wood", "dark"]))
    leg = r.u(0.035, 0.06)
    parts = [box(-w / 2, -d / 2, h - tt, w / 2, d / 2, h, top)]
    parts += _legs(w, d, h - tt, leg, 0.02, legs)
    surfaces = [_top_surface(w, d, h, 0.8)]
    if r.p(0.5):  # lower shelf between the legs
        z0 = r.u(0.06, 0.12)
        st = 0.02
        shelf = m.pick("wood")
        inner = w / 2 - 0.02 - leg
        parts.append(box(-inner, -d / 2 + 0.02, z0, inner, d / 2 - 0.02, z0 + st, shelf))
        surfaces.append(Surface((-inner + 0.02, -d / 2 + 0.04, inner - 0.02, d / 2 - 0.04), z0 + st,
                                h - tt - z0 - st))
    return Item("coffee_table", parts, surfaces)


def desk(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(1.1, 1.8), r.u(0.6, 0.8), r.u(0.72, 0.76)
    tt = r.u(0.025, 0.04)
    top = m.pick(r.choice(["wood", "cabinet", "dark", "glass"], [3, 2, 1, 0.6]))
    frame = m.pick(r.choice(["metal", "dark", "cabinet"]))
    parts = [box(-w / 2, -d / 2, h - tt, w / 2, d / 2, h, top)]
    if r.p(0.5):  # two side panels
        pt = r.u(0.02, 0.04)
        parts += [box(-w / 2 + 0.02, -d / 2 + 0.03, 0, -w / 2 + 0.02 + pt, d / 2 - 0.03, h - tt, frame),
                  box(w / 2 - 0.02 - pt, -d / 2 + 0.03, 0, w / 2 - 0.02, d / 2 - 0.03, h - tt, frame)]
    else:
        parts += _legs(w, d, h - tt, r.u(0.035, 0.06), 0.03, frame)
    if r.p(0.5):  # drawer pedestal on one side, with a handle
        side = r.choice([-1, 1])
        pw = 0.4
        x0 = side * (w / 2 - 0.1) - (pw if side > 0 else 0)
        body = m.pick("cabinet")
        parts.append(box(x0, -d / 2 + 0.08, 0.0, x0 + pw, d / 2 - 0.06, h - tt, body))
        handle = m.pick("metal")
        hy = d / 2 - 0.06
        parts.append(box(x0 + pw / 2 - 0.06, hy, h - tt - 0.12, x0 + pw / 2 + 0.06, hy + 0.02, h - tt - 0.1, handle))
    return Item("desk", parts, [_top_surface(w, d, h, 1.0)])


# ---------------------------------------------------------------------------------------- seating


def chair(r: R, m: MaterialPicker) -> Item:
    """Seat + 4 legs + backrest at the rear (the sitter faces +y)."""
    sw, sd, sh, st = r.u(0.4, 0.5), r.u(0.4, 0.48), r.u(0.43, 0.48), r.u(0.025, 0.05)
    frame = m.pick(r.choice(["wood", "metal", "dark"], [3, 2, 1]))
    seat = m.pick(r.choice(["wood", "plastic", "fabric"], [2, 1.5, 1.5])) if r.p(0.7) else frame
    leg = r.u(0.022, 0.04)
    parts = [box(-sw / 2, -sd / 2, sh - st, sw / 2, sd / 2, sh, seat)]
    parts += _legs(sw, sd, sh - st, leg, 0.0, frame, r.p(0.4))
    bh, bt = r.u(0.3, 0.48), r.u(0.02, 0.04)
    parts.append(box(-sw / 2, -sd / 2, sh, sw / 2, -sd / 2 + bt, sh + bh, r.choice([seat, frame])))
    return Item("chair", parts)


def office_chair(r: R, m: MaterialPicker) -> Item:
    base = m.pick(r.choice(["dark", "metal"]))
    cover = m.pick(r.choice(["fabric", "dark"]))
    br, bh = r.u(0.26, 0.32), 0.06
    sh, sw, sd = r.u(0.44, 0.52), r.u(0.46, 0.52), r.u(0.44, 0.5)
    parts = [cyl(0, 0, 0, bh, br, base), cyl(0, 0, bh, sh - 0.07, 0.025, base),
             box(-sw / 2, -sd / 2, sh - 0.07, sw / 2, sd / 2, sh, cover)]
    bt = 0.06
    parts.append(box(-sw / 2 + 0.02, -sd / 2, sh, sw / 2 - 0.02, -sd / 2 + bt, sh + r.u(0.45, 0.6), cover))
    return Item("office_chair", parts)


def stool(r: R, m: MaterialPicker) -> Item:
    h = r.choice([r.u(0.45, 0.5), r.u(0.65, 0.78)])
    rad, st = r.u(0.16, 0.2), 0.04
    seat = m.pick(r.choice(["wood", "dark", "plastic", "fabric"]))
    metal = m.pick(r.choice(["metal", "dark"]))
    if r.p(0.5):
        parts = [cyl(0, 0, h - st, h, rad, seat), cyl(0, 0, 0.02, h - st, 0.025, metal), cyl(0, 0, 0, 0.02, rad, metal)]
    else:
        a = rad * 0.62
        parts = [cyl(0, 0, h - st, h, rad, seat)] + _legs(2 * a, 2 * a, h - st, 0.03, 0.0, metal)
    return Item("stool", parts)


def sofa(r: R, m: MaterialPicker, seats: int | None = None) -> Item:
    """Base + seat cushions + back + arms; one or more seats (armchair when seats == 1)."""
    seats = seats or r.i(2, 3)
    cw = r.u(0.55, 0.7)
    aw = r.u(0.1, 0.22)
    w = seats * cw + 2 * aw
    d, sh, bh, ah = r.u(0.8, 0.95), r.u(0.42, 0.46), r.u(0.72, 0.9), r.u(0.55, 0.66)
    cover = m.pick("fabric")
    cushion = cover if r.p(0.7) else m.pick("cushion")
    leg_h = r.u(0.04, 0.1) if r.p(0.5) else 0.0
    bd = r.u(0.16, 0.24)
    ct = r.u(0.1, 0.16)
    parts = []
    if leg_h:
        parts += _legs(w, d, leg_h, 0.04, 0.03, m.pick(r.choice(["metal", "dark", "wood"])))
    parts += [box(-w / 2 + aw, -d / 2, leg_h, w / 2 - aw, d / 2, sh - ct, cover),  # base
              box(-w / 2, -d / 2, leg_h, -w / 2 + aw, d / 2, ah, cover),  # arms
              box(w / 2 - aw, -d / 2, leg_h, w / 2, d / 2, ah, cover),
              box(-w / 2 + aw, -d / 2, sh - ct, w / 2 - aw, -d / 2 + bd, bh, cover)]  # back
    for k in range(seats):
        x0 = -w / 2 + aw + k * cw
        parts.append(box(x0 + 0.003, -d / 2 + bd, sh - ct, x0 + cw - 0.003, d / 2, sh, cushion))
    surfaces = [Surface((-w / 2 + aw + 0.05, -d / 2 + bd + 0.05, w / 2 - aw - 0.05, d / 2 - 0.05), sh, 0.3)]
    return Item("sofa" if seats > 1 else "armchair", parts, surfaces)


def bed(r: R, m: MaterialPicker) -> Item:
    """Frame + mattress + duvet + pillows + headboard at the back (the foot points to +y)."""
    w = r.choice([r.u(0.9, 1.2), r.u(1.4, 1.8)])
    length = r.u(1.95, 2.15)
    fh, mh = r.u(0.2, 0.35), r.u(0.18, 0.25)
    frame = m.pick(r.choice(["wood", "fabric", "dark"]))
    hb_t, hb_h = r.u(0.05, 0.09), r.u(0.9, 1.25)
    bedding = m.pick("bedding")
    y0 = -length / 2 + hb_t
    parts = [box(-w / 2, y0, 0, w / 2, length / 2, fh, frame),
             box(-w / 2, -length / 2, 0, w / 2, y0, hb_h, frame),
             box(-w / 2 + 0.02, y0, fh, w / 2 - 0.02, length / 2 - 0.02, fh + mh, m.pick("bedding"))]
    top = fh + mh
    dl = (length - hb_t) * r.u(0.6, 0.75)
    parts.append(box(-w / 2 + 0.01, length / 2 - 0.01 - dl, top, w / 2 - 0.01, length / 2 - 0.01, top + 0.05, bedding))
    pillow = m.pick("cushion")
    n = 1 if w < 1.3 else 2
    pw = (w - 0.1) / n - 0.04
    for k in range(n):
        x0 = -w / 2 + 0.05 + k * (pw + 0.04)
        parts.append(box(x0, y0 + 0.04, top, x0 + pw, y0 + 0.04 + r.u(0.3, 0.4), top + r.u(0.1, 0.15), pillow))
    return Item("bed", parts)


# ---------------------------------------------------------------------------------------- storage


def bookshelf(r: R, m: MaterialPicker, metal: bool = False, height: float | None = None) -> Item:
    """Sides + boards (+ back panel); every board is a clutter surface with its clearance."""
    w, d = r.u(0.6, 1.2), r.u(0.28, 0.4)
    h = height or r.u(1.2, 2.1)
    mat = m.pick(r.choice(["metal", "dark"]) if metal else r.choice(["wood", "cabinet", "dark"], [3, 2, 1]))
    st = 0.02
    parts = []
    if metal:
        post = 0.03
        for sx in (-1, 1):
            for sy in (-1, 1):
                cx, cy = sx * (w / 2 - post / 2), sy * (d / 2 - post / 2)
                parts.append(box(cx - post / 2, cy - post / 2, 0, cx + post / 2, cy + post / 2, h, mat))
        inner = w / 2 - post
        back = -d / 2
        board = m.pick(r.choice(["metal", "wood", "glass"], [3, 1, 0.7]))
    else:
        parts += [box(-w / 2, -d / 2, 0, -w / 2 + st, d / 2, h, mat), box(w / 2 - st, -d / 2, 0, w / 2, d / 2, h, mat),
                  box(-w / 2 + st, -d / 2, 0, w / 2 - st, -d / 2 + 0.008, h, mat)]
        inner = w / 2 - st
        back = -d / 2 + 0.008
        board = mat
    n = max(2, int((h - 0.1) / r.u(0.28, 0.4)))
    levels = [0.06 + k * (h - 0.06 - st) / n for k in range(n)] + [h - st]
    surfaces = []
    for k, z in enumerate(levels):
        parts.append(box(-inner, back, z, inner, d / 2, z + st, board))
        clearance = (levels[k + 1] - z - st) if k + 1 < len(levels) else 0.4
        surfaces.append(Surface((-inner + 0.01, back + 0.01, inner - 0.01, d / 2 - 0.01), z + st, clearance))
    if not metal:  # plinth under the first board
        parts.append(box(-inner, back, 0, inner, d / 2 - 0.02, levels[0], mat))
    return Item("metal_shelf" if metal else "bookshelf", parts, surfaces)


def cabinet(r: R, m: MaterialPicker, w: float, d: float, h: float, category: str = "cabinet",
            drawers: bool = False, front_role: str | None = None) -> Item:
    """Body + proud front panels (doors or drawers) + metal handles; the top is a surface."""
    body = m.pick(r.choice(["cabinet", "wood"]))
    front = m.pick(front_role) if front_role else (body if r.p(0.6) else m.pick(r.choice(["cabinet", "dark"])))
    handle = m.pick(r.choice(["metal", "polished_metal", "dark"]))
    ft = 0.018
    plinth = 0.06
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2 - ft, h, body)]
    if drawers:
        n = max(2, int((h - plinth) / r.u(0.18, 0.3)))
        ph = (h - plinth - 0.02) / n
        for k in range(n):
            z0 = plinth + k * ph + 0.003
            parts.append(box(-w / 2 + 0.01, d / 2 - ft, z0, w / 2 - 0.01, d / 2, z0 + ph - 0.006, front))
            parts.append(box(-0.07, d / 2, z0 + ph / 2 - 0.01, 0.07, d / 2 + 0.025, z0 + ph / 2 + 0.01, handle))
    else:
        n = max(1, round(w / r.u(0.4, 0.6)))
        pw = (w - 0.02) / n
        for k in range(n):
            x0 = -w / 2 + 0.01 + k * pw
            parts.append(box(x0 + 0.003, d / 2 - ft, plinth, x0 + pw - 0.003, d / 2, h - 0.02, front))
            hx = x0 + (pw - 0.06 if k % 2 == 0 else 0.06)
            parts.append(box(hx - 0.01, d / 2, h - 0.2, hx + 0.01, d / 2 + 0.025, h - 0.08, handle))
    return Item(category, parts, [_top_surface(w, d - ft, h, 0.8, 0.03)])


def sideboard(r: R, m: MaterialPicker) -> Item:
    return cabinet(r, m, r.u(1.1, 1.9), r.u(0.4, 0.5), r.u(0.7, 0.9), "sideboard")


def nightstand(r: R, m: MaterialPicker) -> Item:
    return cabinet(r, m, r.u(0.4, 0.55), r.u(0.35, 0.45), r.u(0.45, 0.6), "nightstand", drawers=True)


def dresser(r: R, m: MaterialPicker) -> Item:
    return cabinet(r, m, r.u(0.8, 1.4), r.u(0.45, 0.55), r.u(0.8, 1.1), "dresser", drawers=True)


def tv_stand(r: R, m: MaterialPicker) -> Item:
    return cabinet(r, m, r.u(1.2, 2.0), r.u(0.4, 0.5), r.u(0.4, 0.6), "tv_stand")


def filing_cabinet(r: R, m: MaterialPicker) -> Item:
    return cabinet(r, m, r.u(0.4, 0.5), r.u(0.5, 0.6), r.u(0.7, 1.3), "filing_cabinet", drawers=True,
                   front_role=r.choice(["appliance", "metal", "cabinet"]))


def wardrobe(r: R, m: MaterialPicker, max_h: float) -> Item:
    """Tall cabinet; its doors are mirrors in about half of the wardrobes."""
    h = min(max_h, r.u(1.9, 2.2))
    role = "mirror" if r.p(0.45) else None
    it = cabinet(r, m, r.u(0.9, 1.8), r.u(0.55, 0.62), h, "wardrobe", front_role=role)
    it.surfaces[0].clearance = 0.3
    return it


def glass_cabinet(r: R, m: MaterialPicker, max_h: float) -> Item:
    """Vitrine: hollow body, glass (or wood) shelves inside, glass front; the shelves carry clutter."""
    w, d, h = r.u(0.6, 1.2), r.u(0.35, 0.45), min(max_h, r.u(1.5, 2.0))
    body = m.pick(r.choice(["wood", "cabinet", "metal", "dark"]))
    shelf = m.pick(r.choice(["glass", "wood"], [2, 1]))
    glass = m.pick("glass")
    t, gt = 0.02, 0.006
    parts = [box(-w / 2, -d / 2, 0, -w / 2 + t, d / 2, h, body), box(w / 2 - t, -d / 2, 0, w / 2, d / 2, h, body),
             box(-w / 2 + t, -d / 2, 0, w / 2 - t, d / 2, 0.08, body), box(-w / 2 + t, -d / 2, h - t, w / 2 - t, d / 2, h, body),
             box(-w / 2 + t, -d / 2, 0.08, w / 2 - t, -d / 2 + 0.01, h - t, body),
             box(-w / 2 + t, d / 2 - gt, 0.08, w / 2 - t, d / 2, h - t, glass)]
    n = r.i(2, 4)
    z_levels = [0.08] + [0.08 + k * (h - 0.1) / (n + 1) for k in range(1, n + 1)]
    surfaces = []
    inner_y0, inner_y1 = -d / 2 + 0.01, d / 2 - gt
    for k, z in enumerate(z_levels):
        top = z
        if k > 0:
            parts.append(box(-w / 2 + t, inner_y0, z, w / 2 - t, inner_y1 - 0.005, z + 0.01, shelf))
            top = z + 0.01
        nxt = z_levels[k + 1] if k + 1 < len(z_levels) else h - t
        surfaces.append(Surface((-w / 2 + t + 0.01, inner_y0 + 0.01, w / 2 - t - 0.01, inner_y1 - 0.015), top,
                                nxt - top))
    surfaces.append(_top_surface(w, d, h, 0.3))
    return Item("glass_cabinet", parts, surfaces)


def display_case(r: R, m: MaterialPicker) -> Item:
    """Shop/cafe counter with a glass box on top; the base top inside the glass carries clutter."""
    w, d, h = r.u(0.8, 1.6), r.u(0.5, 0.7), r.u(0.85, 0.95)
    gh, gt = r.u(0.3, 0.5), 0.008
    body = m.pick(r.choice(["cabinet", "wood", "metal", "dark"]))
    glass = m.pick("clear_glass")
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2, h, body),
             box(-w / 2, -d / 2, h, -w / 2 + gt, d / 2, h + gh - gt, glass),
             box(w / 2 - gt, -d / 2, h, w / 2, d / 2, h + gh - gt, glass),
             box(-w / 2 + gt, -d / 2, h, w / 2 - gt, -d / 2 + gt, h + gh - gt, glass),
             box(-w / 2 + gt, d / 2 - gt, h, w / 2 - gt, d / 2, h + gh - gt, glass),
             box(-w / 2, -d / 2, h + gh - gt, w / 2, d / 2, h + gh, glass)]
    inner = Surface((-w / 2 + gt + 0.01, -d / 2 + gt + 0.01, w / 2 - gt - 0.01, d / 2 - gt - 0.01), h, gh - gt)
    return Item("display_case", parts, [inner])


def drink_cooler(r: R, m: MaterialPicker, max_h: float) -> Item:
    """Fridge with a glass door and metal shelves full of bottles and cans."""
    w, d, h = r.u(0.6, 1.1), r.u(0.6, 0.7), min(max_h, r.u(1.8, 2.0))
    body = m.pick(r.choice(["appliance", "dark", "plastic"]))
    shelf = m.pick("metal")
    glass = m.pick("clear_glass")
    t, gt = 0.04, 0.01
    parts = [box(-w / 2, -d / 2, 0, -w / 2 + t, d / 2, h, body), box(w / 2 - t, -d / 2, 0, w / 2, d / 2, h, body),
             box(-w / 2 + t, -d / 2, 0, w / 2 - t, d / 2, 0.12, body), box(-w / 2 + t, -d / 2, h - 0.15, w / 2 - t, d / 2, h, body),
             box(-w / 2 + t, -d / 2, 0.12, w / 2 - t, -d / 2 + t, h - 0.15, body),
             box(-w / 2 + t, d / 2 - gt, 0.12, w / 2 - t, d / 2, h - 0.15, glass),
             box(w / 2 - t - 0.06, d / 2, 0.8, w / 2 - t - 0.03, d / 2 + 0.04, 1.4, m.pick("metal"))]
    n = r.i(3, 4)
    inner_h = h - 0.27
    levels = [0.12] + [0.12 + k * inner_h / (n + 1) for k in range(1, n + 1)]
    y0, y1 = -d / 2 + t, d / 2 - gt - 0.005
    surfaces = []
    for k, z in enumerate(levels):
        top = z
        if k > 0:
            parts.append(box(-w / 2 + t, y0, z, w / 2 - t, y1, z + 0.01, shelf))
            top = z + 0.01
        nxt = levels[k + 1] if k + 1 < len(levels) else h - 0.15
        surfaces.append(Surface((-w / 2 + t + 0.01, y0 + 0.01, w / 2 - t - 0.01, y1 - 0.01), top, nxt - top))
    return Item("drink_cooler", parts, surfaces)


def shop_shelf(r: R, m: MaterialPicker, max_h: float) -> Item:
    """Gondola against a wall: plinth, back panel, end posts, boards."""
    w, d, h = r.u(0.9, 2.0), r.u(0.4, 0.55), min(max_h, r.u(1.5, 2.0))
    mat = m.pick(r.choice(["metal", "plastic", "cabinet"], [3, 1, 1]))
    board = m.pick(r.choice(["metal", "wood", "glass"], [3, 1, 0.6]))
    bt, post = 0.02, 0.03
    parts = [box(-w / 2, -d / 2, 0, w / 2, -d / 2 + bt, h, mat), box(-w / 2, -d / 2 + bt, 0, w / 2, d / 2, 0.1, mat),
             box(-w / 2, -d / 2 + bt, 0.1, -w / 2 + post, d / 2, h, mat), box(w / 2 - post, -d / 2 + bt, 0.1, w / 2, d / 2, h, mat)]
    n = r.i(3, 5)
    levels = [0.1] + [0.1 + k * (h - 0.15) / n for k in range(1, n + 1)]
    surfaces = []
    for k, z in enumerate(levels):
        top = z
        if k > 0:
            parts.append(box(-w / 2 + post, -d / 2 + bt, z, w / 2 - post, d / 2, z + 0.02, board))
            top = z + 0.02
        nxt = levels[k + 1] if k + 1 < len(levels) else top + 0.35
        surfaces.append(Surface((-w / 2 + post + 0.01, -d / 2 + bt + 0.01, w / 2 - post - 0.01, d / 2 - 0.01), top,
                                nxt - top))
    return Item("shop_shelf", parts, surfaces)


# ---------------------------------------------------------------------------------------- kitchen, bath, lab


def counter(r: R, m: MaterialPicker, w: float | None = None, sink: bool | None = None,
            top_role: str = "countertop") -> Item:
    """Base cabinets + countertop (+ sink and faucet, or a black cooktop)."""
    w = w or r.u(1.2, 3.0)
    d, h, ct = r.u(0.6, 0.65), r.u(0.88, 0.92), r.u(0.025, 0.04)
    front = m.pick(r.choice(["cabinet", "plastic"], [3, 1]))
    body = m.pick("textureless")
    top = m.pick(top_role)
    handle = m.pick(r.choice(["metal", "polished_metal"]))
    plinth, ft = 0.1, 0.018
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2 - 0.06, plinth, m.pick("dark")),
             box(-w / 2, -d / 2, plinth, w / 2, d / 2 - 0.02 - ft, h - ct, body),
             box(-w / 2, -d / 2, h - ct, w / 2, d / 2, h, top)]
    n = max(1, round(w / 0.6))
    pw = w / n
    for k in range(n):
        x0 = -w / 2 + k * pw
        parts.append(box(x0 + 0.003, d / 2 - 0.02 - ft, plinth, x0 + pw - 0.003, d / 2 - 0.02, h - ct - 0.005, front))
        parts.append(box(x0 + pw / 2 - 0.08, d / 2 - 0.02, h - ct - 0.07, x0 + pw / 2 + 0.08, d / 2, h - ct - 0.05, handle))
    surfaces: list[Surface] = []
    keep = [(-w / 2, w / 2)]
    sink = r.p(0.6) if sink is None else sink
    if sink and w > 1.0:
        sx = r.u(-w / 2 + 0.4, w / 2 - 0.4)
        steel = m.pick("metal")
        parts.append(box(sx - 0.28, -d / 2 + 0.12, h, sx + 0.28, d / 2 - 0.06, h + 0.01, steel))
        parts.append(cyl(sx, -d / 2 + 0.07, h, h + r.u(0.22, 0.32), 0.015, steel))
        parts.append(box(sx - 0.012, -d / 2 + 0.07, parts[-1].center[2] + parts[-1].size[2] / 2 - 0.025, sx + 0.012,
                         -d / 2 + 0.25, parts[-1].center[2] + parts[-1].size[2] / 2, steel))
        keep = [(-w / 2, sx - 0.33), (sx + 0.33, w / 2)]
    elif r.p(0.5) and w > 1.0:
        cx = r.u(-w / 2 + 0.35, w / 2 - 0.35)
        parts.append(box(cx - 0.3, -d / 2 + 0.04, h, cx + 0.3, d / 2 - 0.04, h + 0.006, m.pick("screen")))
        keep = [(-w / 2, cx - 0.32), (cx + 0.32, w / 2)]
    for a, b in keep:
        if b - a > 0.15:
            surfaces.append(Surface((a + 0.03, -d / 2 + 0.03, b - 0.03, d / 2 - 0.03), h, 0.45))
    return Item("counter", parts, surfaces)


def fridge(r: R, m: MaterialPicker, max_h: float) -> Item:
    w, d, h = r.u(0.6, 0.9), r.u(0.65, 0.75), min(max_h, r.u(1.75, 2.0))
    body = m.pick("appliance")
    handle = m.pick("polished_metal")
    split = h * r.u(0.55, 0.7)
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2 - 0.03, h, body),
             box(-w / 2, d / 2 - 0.03, 0.02, w / 2, d / 2, split - 0.005, body),
             box(-w / 2, d / 2 - 0.03, split + 0.005, w / 2, d / 2, h, body),
             box(w / 2 - 0.07, d / 2, split - 0.6, w / 2 - 0.05, d / 2 + 0.04, split - 0.1, handle),
             box(w / 2 - 0.07, d / 2, split + 0.1, w / 2 - 0.05, d / 2 + 0.04, split + 0.5, handle)]
    return Item("fridge", parts, [_top_surface(w, d - 0.03, h, 0.3)])


def upper_cabinet(r: R, m: MaterialPicker) -> Item:
    """Wall cabinet (kitchen); glass doors sometimes."""
    w, d, h = r.u(0.6, 1.8), r.u(0.3, 0.36), r.u(0.55, 0.8)
    it = cabinet(r, m, w, d, h, "upper_cabinet", front_role="glass" if r.p(0.3) else None)
    return Item("upper_cabinet", it.parts, [])


def vanity(r: R, m: MaterialPicker) -> Item:
    """Bathroom cabinet with a vessel basin and a faucet."""
    w, d = r.u(0.6, 1.2), r.u(0.45, 0.55)
    base = cabinet(r, m, w, d, r.u(0.8, 0.88), "vanity")
    h = base.surfaces[0].z
    basin = m.pick("ceramic")
    steel = m.pick("polished_metal")
    yf = -d / 2 + 0.04  # faucet behind the basin
    br = min(r.u(0.17, 0.21), (d - 0.018 - 0.1) / 2)
    yb = yf + 0.03 + br
    bx = 0.0 if w < 0.9 else r.choice([-1, 1]) * (w / 2 - br - 0.1)
    fh = r.u(0.25, 0.32)
    parts = base.parts + [cup(bx, yb, h, h + r.u(0.12, 0.15), br, 0.012, basin),
                          cyl(bx, yf, h, h + fh, 0.014, steel),
                          box(bx - 0.012, yf, h + fh - 0.025, bx + 0.012, yb, h + fh, steel)]
    surfaces = []
    for a, b in ((-w / 2, bx - br - 0.02), (bx + br + 0.02, w / 2)):
        if b - a > 0.12:
            surfaces.append(Surface((a + 0.03, -d / 2 + 0.1, b - 0.03, d / 2 - 0.06), h, 0.4))
    return Item("vanity", parts, surfaces)


def toilet(r: R, m: MaterialPicker) -> Item:
    c = m.pick("ceramic")
    parts = [box(-0.18, -0.3, 0, 0.18, 0.28, 0.38, c), box(-0.19, -0.18, 0.38, 0.19, 0.3, 0.41, c),
             box(-0.21, -0.35, 0.38, 0.21, -0.18, 0.78, c),
             box(-0.03, -0.29, 0.78, 0.03, -0.24, 0.79, m.pick("polished_metal"))]
    return Item("toilet", parts)


def bathtub(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(1.5, 1.8), r.u(0.7, 0.8), r.u(0.5, 0.6)
    c = m.pick(r.choice(["ceramic", "plastic"], [3, 1]))
    t = 0.06
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2, 0.1, c),
             box(-w / 2, -d / 2, 0.1, w / 2, -d / 2 + t, h, c), box(-w / 2, d / 2 - t, 0.1, w / 2, d / 2, h, c),
             box(-w / 2, -d / 2 + t, 0.1, -w / 2 + t, d / 2 - t, h, c), box(w / 2 - t, -d / 2 + t, 0.1, w / 2, d / 2 - t, h, c)]
    steel = m.pick("polished_metal")
    parts += [cyl(-w / 2 + 0.03, 0, h, h + 0.2, 0.015, steel),
              box(-w / 2 + 0.015, -0.012, h + 0.18, -w / 2 + 0.2, 0.012, h + 0.2, steel)]
    return Item("bathtub", parts)


def shower(r: R, m: MaterialPicker) -> Item:
    """Shower tray in a corner with two glass panels (front and one side) and a metal riser."""
    w, d = r.u(0.8, 1.0), r.u(0.8, 1.0)
    tray = m.pick("ceramic")
    glass = m.pick(r.choice(["clear_glass", "glass"], [2, 1]))
    steel = m.pick("polished_metal")
    th, gt, gh = 0.05, 0.008, r.u(1.85, 2.0)
    side = r.choice([-1, 1])
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2, th, tray),
             box(-w / 2, d / 2 - gt, th, w / 2, d / 2, th + gh, glass),
             box(side * (w / 2) - (gt if side > 0 else 0), -d / 2, th, side * (w / 2) + (0 if side > 0 else gt),
                 d / 2 - gt, th + gh, glass),
             box(-side * (w / 2 - 0.2) - 0.015, -d / 2, th, -side * (w / 2 - 0.2) + 0.015, -d / 2 + 0.03, th + 1.9, steel),
             box(-side * (w / 2 - 0.2) - 0.08, -d / 2 + 0.03, th + 1.86, -side * (w / 2 - 0.2) + 0.08,
                 -d / 2 + 0.2, th + 1.9, steel)]
    return Item("shower", parts)


def lab_bench(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(1.4, 2.8), r.u(0.7, 0.8), r.u(0.88, 0.92)
    top = m.pick("lab_top")
    frame = m.pick(r.choice(["metal", "dark", "textureless"]))
    tt = 0.03
    leg = 0.05
    parts = [box(-w / 2, -d / 2, h - tt, w / 2, d / 2, h, top)] + _legs(w, d, h - tt, leg, 0.02, frame)
    z0 = r.u(0.12, 0.25)
    inner = w / 2 - 0.02 - leg
    shelf = m.pick(r.choice(["metal", "textureless"]))
    parts.append(box(-inner, -d / 2 + 0.02, z0, inner, d / 2 - 0.02, z0 + 0.02, shelf))
    surfaces = [_top_surface(w, d, h, 0.9),
                Surface((-inner + 0.02, -d / 2 + 0.04, inner - 0.02, d / 2 - 0.04), z0 + 0.02, h - tt - z0 - 0.02)]
    return Item("lab_bench", parts, surfaces)


def fume_hood(r: R, m: MaterialPicker, max_h: float) -> Item:
    """Base cabinet, work surface, side and back panels, top box, glass sash."""
    w, d, h = r.u(1.2, 1.8), r.u(0.75, 0.85), min(max_h, r.u(2.1, 2.4))
    body = m.pick(r.choice(["textureless", "appliance"]))
    top = m.pick("lab_top")
    glass = m.pick("clear_glass")
    t, bh, ws = 0.04, 0.85, 0.03
    hood0 = h - 0.35
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2, bh, body), box(-w / 2, -d / 2, bh, w / 2, d / 2, bh + ws, top),
             box(-w / 2, -d / 2, bh + ws, -w / 2 + t, d / 2, h, body), box(w / 2 - t, -d / 2, bh + ws, w / 2, d / 2, h, body),
             box(-w / 2 + t, -d / 2, bh + ws, w / 2 - t, -d / 2 + t, h, body),
             box(-w / 2 + t, -d / 2 + t, hood0, w / 2 - t, d / 2, h, body),
             box(-w / 2 + t, d / 2 - 0.1, bh + ws + 0.3, w / 2 - t, d / 2 - 0.09, hood0, glass)]
    inner = Surface((-w / 2 + t + 0.02, -d / 2 + t + 0.02, w / 2 - t - 0.02, d / 2 - 0.12), bh + ws, hood0 - bh - ws)
    return Item("fume_hood", parts, [inner])


def glass_partition(r: R, m: MaterialPicker) -> Item:
    """Free-standing glass screen on a metal foot rail (offices)."""
    w, h = r.u(1.0, 2.0), r.u(1.5, 2.0)
    rail = m.pick("metal")
    glass = m.pick("glass")
    parts = [box(-w / 2, -0.15, 0, -w / 2 + 0.05, 0.15, 0.04, rail), box(w / 2 - 0.05, -0.15, 0, w / 2, 0.15, 0.04, rail),
             box(-w / 2, -0.02, 0.04, w / 2, 0.02, 0.1, rail), box(-w / 2, -0.006, 0.1, w / 2, 0.006, h, glass)]
    return Item("glass_partition", parts)


def water_cooler(r: R, m: MaterialPicker) -> Item:
    body = m.pick(r.choice(["plastic", "appliance"]))
    bottle = m.pick("clear_glass") if r.p(0.3) else m.pick_entry("glass", "acrylic")
    parts = [box(-0.16, -0.16, 0, 0.16, 0.16, 1.0, body), cup(0, 0, 1.0, 1.36, 0.13, 0.004, bottle),
             box(-0.03, 0.16, 0.8, 0.03, 0.2, 0.85, m.pick("plastic"))]
    return Item("water_cooler", parts)


# ---------------------------------------------------------------------------------------- lamps, plants


def floor_lamp(r: R, m: MaterialPicker) -> Item:
    metal = m.pick(r.choice(["metal", "dark", "polished_metal"]))
    shade = m.pick("shade")
    br, bt = r.u(0.12, 0.17), r.u(0.02, 0.03)
    sh, sr = r.u(0.2, 0.3), r.u(0.17, 0.25)
    bulb_z = r.u(1.3, 1.6)
    s0 = bulb_z - sh * 0.5
    parts = [cyl(0, 0, 0, bt, br, metal), cyl(0, 0, bt, bulb_z - 0.04, r.u(0.01, 0.015), metal),
             tube(0, 0, s0, s0 + sh, sr, 0.004, shade, taper=r.u(0.6, 0.85))]
    parts.append(box(-sr + 0.005, -0.006, bulb_z - 0.046, sr - 0.005, 0.006, bulb_z - 0.04, metal))  # spider
    return Item("floor_lamp", parts, lamps=[(0.0, 0.0, bulb_z)])


def table_lamp(r: R, m: MaterialPicker) -> Item:
    base = m.pick(r.choice(["ceramic", "metal", "glass", "dark"], [2, 2, 1.5, 1]))
    shade = m.pick("shade")
    br, bh = r.u(0.05, 0.09), r.u(0.03, 0.2)
    sh, sr = r.u(0.14, 0.22), r.u(0.1, 0.15)
    bulb_z = bh + r.u(0.12, 0.2)
    s0 = bulb_z - sh * 0.5
    parts = [cyl(0, 0, 0, bh, br, base), cyl(0, 0, bh, bulb_z - 0.03, 0.008, m.pick("metal")),
             tube(0, 0, s0, s0 + sh, sr, 0.003, shade, taper=r.u(0.6, 0.9)),
             box(-sr + 0.004, -0.004, bulb_z - 0.034, sr - 0.004, 0.004, bulb_z - 0.03, m.pick("metal"))]
    return Item("table_lamp", parts, lamps=[(0.0, 0.0, bulb_z)])


def pendant_lamp(r: R, m: MaterialPicker, drop: float) -> Item:
    """Hangs ``drop`` metres below the ceiling: cable + open shade (metal, frosted glass) or glass globe."""
    cable = m.pick("dark")
    if r.p(0.35):  # glass globe around the bulb
        gr = r.u(0.1, 0.18)
        mat = m.pick(r.choice(["clear_glass", "glass"]))
        parts = [sphere(0, 0, gr, gr, mat), cyl(0, 0, 2 * gr - 0.01, drop, 0.004, cable)]
        return Item("pendant_lamp", parts, lamps=[(0.0, 0.0, gr)])
    sh, sr = r.u(0.15, 0.3), r.u(0.12, 0.25)
    mat = m.pick(r.choice(["polished_metal", "shade", "dark"]))
    taper = r.u(0.3, 0.7)
    parts = [tube(0, 0, 0, sh, sr, 0.003, mat, taper=taper), cyl(0, 0, sh - 0.01, drop, 0.004, cable)]
    return Item("pendant_lamp", parts, lamps=[(0.0, 0.0, sh * 0.6)])


def plant(r: R, m: MaterialPicker, small: bool = False) -> Item:
    """Pot (cup) + soil + stem + foliage spheres, all touching."""
    pot = m.pick(r.choice(["ceramic", "textureless", "dark", "metal"], [3, 2, 1, 0.7]))
    leaves = m.pick("foliage")
    if small:
        pr, ph, fr = r.u(0.05, 0.08), r.u(0.07, 0.13), r.u(0.06, 0.12)
        stem_h = r.u(0.02, 0.08)
    else:
        pr, ph, fr = r.u(0.12, 0.22), r.u(0.25, 0.5), r.u(0.2, 0.4)
        stem_h = r.u(0.15, 0.9)
    wall = max(0.006, pr * 0.08)
    parts = [cup(0, 0, 0, ph, pr, wall, pot), cyl(0, 0, wall, ph - 0.015, pr - wall, m.pick("soil"))]
    top = ph - 0.015 + stem_h
    parts.append(cyl(0, 0, ph - 0.015, top, max(0.006, pr * 0.08), leaves))
    n = r.i(1, 4)
    for k in range(n):
        a = 2 * math.pi * k / n + r.u(0, 1)
        off = fr * 0.45 if n > 1 else 0.0
        rad = fr * r.u(0.7, 1.0)
        parts.append(sphere(off * math.cos(a), off * math.sin(a), top + rad * 0.7, rad, leaves))
    return Item("plant_small" if small else "plant", parts)


# ---------------------------------------------------------------------------------------- wall items


def wall_mirror(r: R, m: MaterialPicker, bathroom: bool = False) -> Item:
    """Framed or frameless mirror; local y = 0 is its back (against the wall)."""
    w = r.u(0.5, 1.1) if bathroom else r.u(0.4, 1.2)
    h = r.u(0.6, 0.9) if bathroom else r.choice([r.u(0.5, 1.0), r.u(1.4, 1.7)])
    mirror = m.pick("mirror")
    parts = [box(-w / 2, -0.01, 0, w / 2, 0.0, h, m.pick("dark")), box(-w / 2, 0.0, 0, w / 2, 0.006, h, mirror)]
    if r.p(0.6):
        f, fd = r.u(0.02, 0.06), r.u(0.02, 0.035)
        frame = m.pick("frame")
        parts = [box(-w / 2 - f, -0.01, -f, w / 2 + f, 0.0, h + f, frame), box(-w / 2, 0.0, 0, w / 2, 0.006, h, mirror),
                 box(-w / 2 - f, 0.0, -f, -w / 2, fd, h + f, frame), box(w / 2, 0.0, -f, w / 2 + f, fd, h + f, frame),
                 box(-w / 2, 0.0, -f, w / 2, fd, 0.0, frame), box(-w / 2, 0.0, h, w / 2, fd, h + f, frame)]
    return Item("mirror", _shift_to_back(parts))


def painting(r: R, m: MaterialPicker) -> Item:
    w, h, t = r.u(0.4, 1.2), r.u(0.3, 0.9), r.u(0.02, 0.04)
    parts = [box(-w / 2, 0, 0, w / 2, t, h, m.pick("canvas"))]
    if r.p(0.6):
        f = r.u(0.02, 0.05)
        frame = m.pick("frame")
        parts += [box(-w / 2 - f, 0, -f, -w / 2, t + 0.01, h + f, frame), box(w / 2, 0, -f, w / 2 + f, t + 0.01, h + f, frame),
                  box(-w / 2, 0, -f, w / 2, t + 0.01, 0, frame), box(-w / 2, 0, h, w / 2, t + 0.01, h + f, frame)]
    return Item("painting", _shift_to_back(parts))


def whiteboard(r: R, m: MaterialPicker) -> Item:
    w, h = r.u(1.2, 2.0), r.u(0.9, 1.2)
    board = m.pick_entry("plastic", r.choice(["lacquer", "white_plastic_irdull"]))
    frame = m.pick_entry("metal", "aluminium_brushed")
    f = 0.02
    parts = [box(-w / 2, 0, 0, w / 2, 0.015, h, board),
             box(-w / 2 - f, 0, 0, -w / 2, 0.025, h, frame), box(w / 2, 0, 0, w / 2 + f, 0.025, h, frame),
             box(-w / 2 - f, 0, h, w / 2 + f, 0.025, h + f, frame), box(-w / 2 - f, 0, -0.02, w / 2 + f, 0.07, 0, frame)]
    return Item("whiteboard", _shift_to_back(parts))


def wall_tv(r: R, m: MaterialPicker) -> Item:
    w = r.u(0.9, 1.6)
    h = w * 9 / 16
    parts = [box(-0.15, 0, h / 2 - 0.15, 0.15, 0.03, h / 2 + 0.15, m.pick("dark")),
             box(-w / 2, 0.03, 0, w / 2, 0.03 + r.u(0.03, 0.06), h, m.pick("screen"))]
    return Item("tv", _shift_to_back(parts))


def wall_shelf(r: R, m: MaterialPicker) -> Item:
    """Board on two brackets; z = 0 at the bracket bottoms."""
    w, d, t = r.u(0.6, 1.2), r.u(0.18, 0.28), r.u(0.02, 0.03)
    board = m.pick(r.choice(["wood", "glass", "dark"], [3, 1, 1]))
    bracket = m.pick(r.choice(["metal", "dark"]))
    parts = [box(-w / 2, 0, 0.12, w / 2, d, 0.12 + t, board)]
    for sx in (-1, 1):
        x = sx * (w / 2 - 0.1)
        parts.append(box(x - 0.01, 0, 0, x + 0.01, d * 0.7, 0.12, bracket))
    return Item("wall_shelf", _shift_to_back(parts),
                [Surface((-w / 2 + 0.02, -d / 2 + 0.02, w / 2 - 0.02, d / 2 - 0.02), 0.12 + t, r.u(0.3, 0.4))])


def towel_rail(r: R, m: MaterialPicker) -> Item:
    w = r.u(0.4, 0.8)
    steel = m.pick("polished_metal")
    parts = [box(-w / 2, 0, 0, -w / 2 + 0.02, 0.08, 0.04, steel), box(w / 2 - 0.02, 0, 0, w / 2, 0.08, 0.04, steel),
             box(-w / 2, 0.08, 0.005, w / 2, 0.1, 0.035, steel)]
    if r.p(0.7):
        parts.append(box(-w / 2 + 0.05, 0.085, -0.5, w / 2 - 0.05, 0.095, 0.005, m.pick("cushion")))
    return Item("towel_rail", _shift_to_back(_lift(parts)))


def _lift(parts):
    """Shift parts up so the lowest one starts at z = 0."""
    z0 = min(p.center[2] - p.size[2] / 2 for p in parts)
    for p in parts:
        p.center = (p.center[0], p.center[1], p.center[2] - z0)
    return parts


def _shift_to_back(parts):
    """Re-centre parts in y so that the back (min y) is at -depth/2 and the footprint is centred."""
    y0 = min(p.center[1] - p.size[1] / 2 for p in parts)
    y1 = max(p.center[1] + p.size[1] / 2 for p in parts)
    mid = (y0 + y1) / 2
    for p in parts:
        p.center = (p.center[0], p.center[1] - mid, p.center[2])
    return parts
