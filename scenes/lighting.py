"""Lighting: ceiling fixtures, lamp bulbs, sun and sky through windows, IR ambient level.

Energies are for the RGB render in Blender units (watts; the sun in W/m^2). ``ir_ambient`` is the
fraction of that light present in the ~850 nm band: high with sunlight (it washes the projected dot
pattern out), low under LED/fluorescent ceiling light at night.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scenes.geometry import box, cyl
from scenes.items import Item, R
from scenes.materials import MaterialPicker
from scenes.model import Light, Room
from scenes.placement import Placer


def kelvin_to_rgb(kelvin: float) -> tuple[float, float, float]:
    """Linear-sRGB colour (max channel 1) of a black body at ``kelvin`` (1667-25000 K).

    Planckian locus in CIE xy (Kim et al. cubic approximation) -> XYZ -> linear sRGB.
    """
    t = min(max(kelvin, 1667.0), 25000.0)
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    X, Y, Z = x / y, 1.0, (1 - x - y) / y
    r = 3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z
    g = -0.9692660 * X + 1.8760108 * Y + 0.0415560 * Z
    b = 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z
    r, g, b = max(r, 0.0), max(g, 0.0), max(b, 0.0)
    m = max(r, g, b)
    return (r / m, g / m, b / m)


@dataclass
class LightingResult:
    lights: list[Light]
    world_color: tuple[float, float, float]
    world_strength: float
    ir_ambient: float
    daylight: bool


def ceiling_fixture(r: R, m: MaterialPicker) -> tuple[Item, tuple[float, float], str]:
    """Flush ceiling fixture; returns (item, emitting size (x, y) in m, area light shape)."""
    kind = r.choice(["panel", "downlight", "round"], [2, 1.5, 1])
    if kind == "panel":
        w, d, t = r.u(0.3, 0.6), r.u(0.3, 1.2), r.u(0.02, 0.05)
        frame = m.pick(r.choice(["frame", "metal"]))
        diffuser = m.pick_entry("glass", "frosted_glass") if r.p(0.3) else m.pick_entry("textureless", "paint_white")
        return Item("ceiling_light", [box(-w / 2, -d / 2, 0.01, w / 2, d / 2, t, frame),
                                      box(-w / 2 + 0.01, -d / 2 + 0.01, 0.0, w / 2 - 0.01, d / 2 - 0.01, 0.01, diffuser)]), \
            (w - 0.02, d - 0.02), "RECTANGLE"
    if kind == "downlight":
        rad = r.u(0.05, 0.1)
        top = r.u(0.01, 0.03)
        mat = m.pick(r.choice(["polished_metal", "metal", "frame"]))
        return Item("ceiling_light", [cyl(0, 0, 0, top, rad, mat)]), (2 * rad * 0.8, 2 * rad * 0.8), "DISK"
    rad = r.u(0.15, 0.25)
    return Item("ceiling_light", [cyl(0, 0, 0.0, r.u(0.06, 0.12), rad, m.pick(r.choice(["glass", "shade"])), taper=1.0)]), \
        (2 * rad * 0.9, 2 * rad * 0.9), "DISK"


def light_scene(g, room: Room, placer: Placer, m: MaterialPicker) -> LightingResult:
    """Add ceiling fixtures to ``placer`` and return all lights (lights rng ``g``)."""
    r = R(g)
    windows = [o for o in room.openings if o.kind == "window"]
    daylight = bool(windows) and r.p(0.65)
    lights: list[Light] = []

    # ---- ceiling fixtures on a grid (geometry always; light on unless it's a bright day)
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in room.floor_rects())
    spacing = r.u(1.6, 3.0)
    nx, ny = max(1, round(room.width / spacing)), max(1, round(room.depth / spacing))
    ceiling_on = (not daylight) or r.p(0.5)
    density = r.u(8.0, 20.0)  # W per m^2 of floor
    temp = r.choice([r.u(2700, 3500), r.u(3500, 5000), r.u(5000, 6500)])
    fixture, emit, shape = ceiling_fixture(r, m)
    placed = []
    for i in range(nx):
        for j in range(ny):
            xy = ((i + 0.5) * room.width / nx, (j + 0.5) * room.depth / ny)
            obj = placer.on_ceiling(_copy(fixture), xy)
            if obj is not None:
                placed.append(obj)
    if ceiling_on and placed:
        each = density * area / len(placed)
        for obj in placed:
            z = obj.position[2] - 0.005
            lights.append(Light(f"light_{obj.name}", "ceiling", "AREA", (obj.position[0], obj.position[1], z),
                                (0.0, 0.0, -1.0), each * r.u(0.9, 1.1), kelvin_to_rgb(temp), temp, emit,
                                fixture=obj.name))

    # ---- lamp bulbs (floor, table, pendant lamps placed with the furniture)
    for owner, pos in placer.lamps:
        if r.p(0.4 if daylight else 0.8):
            t = r.u(2400, 3300)
            lights.append(Light(f"light_{owner}", "lamp", "POINT", pos, (0.0, 0.0, -1.0), r.u(15.0, 60.0),
                                kelvin_to_rgb(t), t, (r.u(0.02, 0.04), 0.0), fixture=owner))

    # ---- daylight: sun through one window and a sky light in every window
    if daylight:
        win = r.choice(windows)
        wall = room.wall(win.wall)
        nx_, ny_ = wall.inward
        az = r.u(-0.9, 0.9)
        c, s = math.cos(az), math.sin(az)
        hx, hy = nx_ * c - ny_ * s, nx_ * s + ny_ * c
        el = r.u(0.25, 0.95)
        d = (hx * math.cos(el), hy * math.cos(el), -math.sin(el))
        sun_t = r.u(5000, 6500)
        sun = r.u(1.5, 4.5)
        cx, cy = room.width / 2, room.depth / 2
        lights.append(Light("light_sun", "sun", "SUN", (cx, cy, room.height + 5.0), d, sun, kelvin_to_rgb(sun_t), sun_t,
                            (r.u(0.01, 0.05), 0.0)))
        for w in windows:
            wl = room.wall(w.wall)
            dx, dy = wl.direction
            ix, iy = wl.inward
            px = wl.start[0] + dx * w.offset + ix * 0.005
            py = wl.start[1] + dy * w.offset + iy * 0.005
            sky_t = r.u(6500, 9500)
            size = (max(0.1, w.width - 0.14), max(0.1, w.height - 0.14))
            lights.append(Light(f"light_{w.name}", "window", "AREA", (px, py, w.sill + w.height / 2), (ix, iy, 0.0),
                                size[0] * size[1] * r.u(30.0, 120.0), kelvin_to_rgb(sky_t), sky_t, size, fixture=w.name))
        world_color = kelvin_to_rgb(r.u(8000, 12000))
        world_strength = r.u(0.3, 1.2)
        ir_ambient = min(0.3, 0.06 + 0.045 * sun + r.u(0.0, 0.03))
    else:
        world_color = kelvin_to_rgb(r.u(9000, 15000))
        world_strength = r.u(0.01, 0.06)
        ir_ambient = r.u(0.01, 0.05)
    if not lights:  # never leave a scene dark: switch the ceiling on
        t = r.u(3000, 5000)
        for obj in placed[:1]:
            pos = (obj.position[0], obj.position[1], obj.position[2] - 0.005)
            lights.append(Light(f"light_{obj.name}", "ceiling", "AREA", pos, (0.0, 0.0, -1.0), 12.0 * area,
                                kelvin_to_rgb(t), t, emit, fixture=obj.name))
        if not lights:
            x0, y0, x1, y1 = room.floor_rects()[0]
            lights.append(Light("light_ceiling", "ceiling", "AREA", ((x0 + x1) / 2, (y0 + y1) / 2, room.height - 0.01),
                                (0.0, 0.0, -1.0), 12.0 * area, kelvin_to_rgb(t), t, (0.5, 0.5)))
    return LightingResult(lights, world_color, world_strength, ir_ambient, daylight)


def _copy(item: Item) -> Item:
    from dataclasses import replace
    return Item(item.category, [replace(p) for p in item.parts], list(item.surfaces), list(item.lamps))
