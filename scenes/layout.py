"""Room layout: rectangular or L-shaped shell, walls with door and window openings (metres).

The interior polygon is traversed counter-clockwise so the room lies on the left of every wall; walls
are solid on the outer side of their interior face. Walls are split into boxes around the openings
(no booleans needed), windows get a frame, a glass pane and an inner sill; doors a frame, a leaf and
a handle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenes.geometry import box, cyl
from scenes.materials import MaterialPicker
from scenes.model import Opening, Part, Room, SceneObject, Surface, Wall

# room type -> (width range, depth range, height range, L-shape probability, door count, window count range)
ROOM_SPECS: dict[str, dict] = {
    "living_room": dict(w=(3.8, 6.0), d=(3.6, 6.0), h=(2.5, 3.2), p_l=0.35, doors=(1, 2), windows=(1, 3)),
    "kitchen": dict(w=(2.8, 4.6), d=(2.8, 5.0), h=(2.4, 3.0), p_l=0.25, doors=(1, 1), windows=(0, 2)),
    "bedroom": dict(w=(3.0, 4.6), d=(3.0, 5.0), h=(2.4, 3.0), p_l=0.2, doors=(1, 1), windows=(1, 2)),
    "bathroom": dict(w=(2.0, 3.2), d=(2.2, 3.6), h=(2.4, 2.8), p_l=0.0, doors=(1, 1), windows=(0, 1)),
    "office": dict(w=(3.6, 7.0), d=(3.2, 6.0), h=(2.6, 3.5), p_l=0.3, doors=(1, 2), windows=(1, 3)),
    "shop": dict(w=(4.0, 7.5), d=(4.0, 7.5), h=(2.8, 3.5), p_l=0.25, doors=(1, 1), windows=(1, 3)),
    "lab": dict(w=(4.0, 7.0), d=(3.6, 6.5), h=(2.7, 3.5), p_l=0.25, doors=(1, 2), windows=(0, 3)),
    "cafe": dict(w=(4.0, 7.5), d=(3.6, 7.0), h=(2.7, 3.5), p_l=0.35, doors=(1, 1), windows=(1, 3)),
}
ROOM_TYPES: tuple[str, ...] = tuple(ROOM_SPECS)

FLOOR_THICKNESS = 0.05
DOOR_CLEARANCE = 1.0  # free depth in front of a door (m)
WINDOW_CLEARANCE = 0.4  # free depth in front of a window, from its sill up (m)


@dataclass
class Layout:
    """The room plus its shell and opening objects and the keep-out boxes (lo, hi) they imply."""

    room: Room
    shell: list[SceneObject]
    openings: list[SceneObject]
    keepouts: list[tuple[tuple[float, float, float], tuple[float, float, float]]]


def _u(g: np.random.Generator, lo_hi) -> float:
    lo, hi = lo_hi
    return float(lo + (hi - lo) * g.random())


def polygon(width: float, depth: float, notch) -> list[tuple[float, float]]:
    """Counter-clockwise interior polygon of the rectangle, with a notched corner replaced."""
    corners = {"BL": (0.0, 0.0), "BR": (width, 0.0), "TR": (width, depth), "TL": (0.0, depth)}
    if notch is None:
        return list(corners.values())
    nx0, ny0, nx1, ny1 = notch
    which = ("B" if ny0 <= 0.0 else "T") + ("L" if nx0 <= 0.0 else "R")
    replace = {
        "BR": [(nx0, 0.0), (nx0, ny1), (width, ny1)],
        "TR": [(width, ny0), (nx0, ny0), (nx0, depth)],
        "TL": [(nx1, depth), (nx1, ny0), (0.0, ny0)],
        "BL": [(0.0, ny1), (nx1, ny1), (nx1, 0.0)],
    }
    out: list[tuple[float, float]] = []
    for key in ("BL", "BR", "TR", "TL"):
        out += replace[key] if key == which else [corners[key]]
    return out


def make_layout(g: np.random.Generator, room_type: str, mats: MaterialPicker) -> Layout:
    """Sample the room shell and its openings for ``room_type`` (layout rng ``g``)."""
    spec = ROOM_SPECS[room_type]
    width, depth, height = _u(g, spec["w"]), _u(g, spec["d"]), _u(g, spec["h"])
    thickness = _u(g, (0.1, 0.2))
    notch = None
    if g.random() < spec["p_l"]:
        nw = width * _u(g, (0.3, 0.5))
        nd = depth * _u(g, (0.3, 0.5))
        corner = int(g.integers(0, 4))
        x0, x1 = (0.0, nw) if corner in (0, 3) else (width - nw, width)
        y0, y1 = (0.0, nd) if corner in (0, 1) else (depth - nd, depth)
        notch = (x0, y0, x1, y1)
    pts = polygon(width, depth, notch)
    walls = [Wall(f"wall_{i}", pts[i], pts[(i + 1) % len(pts)], thickness) for i in range(len(pts))]
    room = Room(room_type, "L" if notch else "rect", width, depth, height, thickness, notch, walls, [])
    _sample_openings(g, room, spec, _convex_flags(pts))

    wet = room_type in ("bathroom",)
    floor_mat = mats.pick("floor_wet" if wet else "floor_lab" if room_type == "lab" else "floor")
    wall_mat = mats.pick("wall_wet" if wet and g.random() < 0.7 else "wall")
    ceil_mat = mats.pick("ceiling")
    shell = _shell_objects(room, pts, floor_mat, wall_mat, ceil_mat)
    openings, keepouts = _opening_objects(g, room, mats)
    return Layout(room, shell, openings, keepouts)


# ---------------------------------------------------------------------------------------- openings


def _sample_openings(g: np.random.Generator, room: Room, spec: dict, convex: list[bool]) -> None:
    n_doors = int(g.integers(spec["doors"][0], spec["doors"][1] + 1))
    n_windows = int(g.integers(spec["windows"][0], spec["windows"][1] + 1))
    taken: dict[str, list[tuple[float, float]]] = {w.name: [] for w in room.walls}
    shop = room.room_type in ("shop", "cafe")

    def place(kind: str, idx: int, width: float, sill: float, height: float) -> None:
        order = g.permutation(len(room.walls))
        for wi in order:
            wall = room.walls[int(wi)]
            # at a reflex (inner) corner the neighbouring wall's solid occupies the first metres
            m0 = 0.15 + (0.0 if convex[int(wi)] else wall.thickness)
            m1 = 0.15 + (0.0 if convex[(int(wi) + 1) % len(convex)] else wall.thickness)
            lo, hi = m0 + width / 2, wall.length - m1 - width / 2
            if hi <= lo:
                continue
            for _ in range(6):
                off = _u(g, (lo, hi))
                a, b = off - width / 2 - 0.2, off + width / 2 + 0.2
                if all(b <= s or a >= e for s, e in taken[wall.name]):
                    taken[wall.name].append((a, b))
                    room.openings.append(Opening(f"{kind}_{idx}", kind, wall.name, off, width, sill, height))
                    return

    for i in range(n_doors):
        glass_door = shop or (room.room_type == "office" and g.random() < 0.5)
        width = _u(g, (1.0, 1.8) if shop else (0.8, 1.0))
        if glass_door and width < 0.9:
            width = 0.9
        place("door", i, width, 0.0, min(room.height - 0.25, _u(g, (2.0, 2.3))))
    for i in range(n_windows):
        if room.room_type == "bathroom":
            width, sill = _u(g, (0.5, 0.9)), _u(g, (1.2, 1.5))
            top = min(room.height - 0.2, sill + _u(g, (0.5, 0.8)))
        elif shop and i == 0:
            width, sill = _u(g, (1.8, 3.2)), _u(g, (0.05, 0.4))
            top = room.height - _u(g, (0.25, 0.5))
        else:
            width, sill = _u(g, (0.7, 2.4)), _u(g, (0.4, 1.0))
            top = min(room.height - 0.2, sill + _u(g, (1.0, 1.6)))
        place("window", i, width, sill, top - sill)


def _opening_objects(g: np.random.Generator, room: Room, mats: MaterialPicker):
    objects: list[SceneObject] = []
    keepouts = []
    for op in room.openings:
        wall = room.wall(op.wall)
        sx, sy = wall.start
        dx, dy = wall.direction
        pos = (sx + dx * op.offset, sy + dy * op.offset, 0.0)
        t = wall.thickness
        if op.kind == "window":
            parts, surfaces = _window_parts(g, op, t, mats)
            category = "window"
            depth, z0, z1 = WINDOW_CLEARANCE, op.sill - 0.05, op.sill + op.height
        else:
            parts, surfaces = _door_parts(g, op, t, mats, room.room_type)
            category = "door"
            depth, z0, z1 = DOOR_CLEARANCE, 0.0, op.height + 0.3
        objects.append(SceneObject(op.name, category, "opening", "opening", pos, wall.yaw, parts,
                                   support=op.name, surfaces=surfaces))
        # keep-out box in front of the opening, in world coordinates (walls are axis-aligned)
        nx, ny = wall.inward
        half = op.width / 2 + 0.1
        corners = [(pos[0] + dx * s + nx * u, pos[1] + dy * s + ny * u) for s in (-half, half) for u in (0.0, depth)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        keepouts.append(((min(xs), min(ys), z0), (max(xs), max(ys), z1)))
    return objects, keepouts


def _window_parts(g, op: Opening, t: float, mats: MaterialPicker) -> tuple[list[Part], list[Surface]]:
    """Window in local frame: x along the wall, y = inward (wall solid at -t < y < 0), z up."""
    frame = mats.pick("frame")
    glass = mats.pick("clear_glass")
    w, z0, z1 = op.width / 2, op.sill, op.sill + op.height
    fw = _u(g, (0.04, 0.07))
    fd = min(t - 0.02, _u(g, (0.06, 0.1)))
    yc0, yc1 = -t / 2 - fd / 2, -t / 2 + fd / 2
    parts = [
        box(-w, yc0, z0, -w + fw, yc1, z1, frame), box(w - fw, yc0, z0, w, yc1, z1, frame),
        box(-w + fw, yc0, z0, w - fw, yc1, z0 + fw, frame), box(-w + fw, yc0, z1 - fw, w - fw, yc1, z1, frame),
    ]
    gt = _u(g, (0.006, 0.012))
    if op.width > 1.3 and g.random() < 0.7:  # mullion: two panes
        parts.append(box(-fw / 2, yc0, z0 + fw, fw / 2, yc1, z1 - fw, frame))
        parts.append(box(-w + fw, -t / 2 - gt / 2, z0 + fw, -fw / 2, -t / 2 + gt / 2, z1 - fw, glass))
        parts.append(box(fw / 2, -t / 2 - gt / 2, z0 + fw, w - fw, -t / 2 + gt / 2, z1 - fw, glass))
    else:
        parts.append(box(-w + fw, -t / 2 - gt / 2, z0 + fw, w - fw, -t / 2 + gt / 2, z1 - fw, glass))
    surfaces: list[Surface] = []
    if op.sill > 0.3:  # inner sill ledge: a surface for plants and bottles
        ledge, lt = _u(g, (0.05, 0.12)), 0.025
        parts.append(box(-w, yc1, z0, w, ledge, z0 + lt, frame))  # on the bottom frame, in the opening
        surfaces.append(Surface((-w + fw + 0.01, yc1 + 0.005, w - fw - 0.01, ledge - 0.005), z0 + lt,
                                min(0.35, op.height - 0.1)))
    return parts, surfaces


def _door_parts(g, op: Opening, t: float, mats: MaterialPicker, room_type: str) -> tuple[list[Part], list[Surface]]:
    w, h = op.width / 2, op.height
    fw, fd = 0.05, min(t, _u(g, (0.1, 0.16)))
    glass_door = op.width >= 0.9 and (room_type in ("shop", "cafe") or (room_type == "office" and g.random() < 0.6))
    frame = mats.pick("metal" if glass_door else "frame")
    y0, y1 = -t / 2 - fd / 2, -t / 2 + fd / 2
    parts = [box(-w, y0, 0.0, -w + fw, y1, h, frame), box(w - fw, y0, 0.0, w, y1, h, frame),
             box(-w + fw, y0, h - fw, w - fw, y1, h, frame)]
    lt = 0.04
    ly0, ly1 = -t / 2 - lt / 2, -t / 2 + lt / 2
    handle = mats.pick("polished_metal")
    if glass_door:
        glass = mats.pick("clear_glass")
        pane_t = 0.012
        rail = 0.08
        parts += [box(-w + fw, ly0, 0.0, w - fw, ly1, rail, frame),
                  box(-w + fw, -t / 2 - pane_t / 2, rail, w - fw, -t / 2 + pane_t / 2, h - fw, glass)]
        # vertical bar handle on the room side, attached to the rail by a stand-off
        parts += [box(w - fw - 0.12, ly1, rail - 0.02, w - fw - 0.09, ly1 + 0.05, rail, handle),
                  cyl(w - fw - 0.105, ly1 + 0.035, rail, min(h - fw - 0.1, 1.6), 0.015, handle)]
    else:
        leaf = mats.pick("cabinet")
        parts.append(box(-w + fw, ly0, 0.0, w - fw, ly1, h - fw, leaf))
        hx = w - fw - 0.08
        parts.append(box(hx - 0.025, ly1, 0.985, hx + 0.025, ly1 + 0.02, 1.055, handle))  # rose
        parts.append(box(hx - 0.12, ly1 + 0.02, 1.005, hx + 0.02, ly1 + 0.05, 1.035, handle))  # lever
    return parts, []


# ---------------------------------------------------------------------------------------- shell


def _convex_flags(pts: list[tuple[float, float]]) -> list[bool]:
    """Per vertex: True when the interior angle is convex (left turn of a CCW polygon)."""
    n = len(pts)
    flags = []
    for i in range(n):
        ax, ay = pts[i][0] - pts[i - 1][0], pts[i][1] - pts[i - 1][1]
        bx, by = pts[(i + 1) % n][0] - pts[i][0], pts[(i + 1) % n][1] - pts[i][1]
        flags.append(ax * by - ay * bx > 0)
    return flags


def _shell_objects(room: Room, pts, floor_mat: str, wall_mat: str, ceil_mat: str) -> list[SceneObject]:
    H, t = room.height, room.wall_thickness
    convex = _convex_flags(pts)
    objects: list[SceneObject] = []
    floor_parts, ceil_parts = [], []
    for x0, y0, x1, y1 in room.floor_rects():
        e = 0.9 * t  # slabs run under the walls so no seam shows
        floor_parts.append(box(x0 - e, y0 - e, -FLOOR_THICKNESS, x1 + e, y1 + e, 0.0, floor_mat))
        ceil_parts.append(box(x0 - e, y0 - e, H, x1 + e, y1 + e, H + FLOOR_THICKNESS, ceil_mat))
    objects.append(SceneObject("floor", "floor", "shell", "shell", (0.0, 0.0, 0.0), 0.0, floor_parts))
    objects.append(SceneObject("ceiling", "ceiling", "shell", "shell", (0.0, 0.0, 0.0), 0.0, ceil_parts))
    z_lo, z_hi = -FLOOR_THICKNESS, H + FLOOR_THICKNESS
    for i, wall in enumerate(room.walls):
        a0 = -t if convex[i] else 0.0
        a1 = wall.length + (t if convex[(i + 1) % len(pts)] else 0.0)
        ops = sorted((o for o in room.openings if o.wall == wall.name), key=lambda o: o.offset)
        spans: list[tuple[float, float, float, float]] = []  # (a, b, z0, z1) along the wall
        cursor = a0
        for o in ops:
            oa, ob = o.offset - o.width / 2, o.offset + o.width / 2
            spans.append((cursor, oa, z_lo, z_hi))
            if o.sill > 0:
                spans.append((oa, ob, z_lo, o.sill))
            spans.append((oa, ob, o.sill + o.height, z_hi))
            cursor = ob
        spans.append((cursor, a1, z_lo, z_hi))
        parts = [_wall_box(wall, a, b, z0, z1, wall_mat) for a, b, z0, z1 in spans if b - a > 1e-6 and z1 - z0 > 1e-6]
        objects.append(SceneObject(wall.name, "wall", "shell", "shell", (0.0, 0.0, 0.0), 0.0, parts))
    return objects


def _wall_box(wall: Wall, a: float, b: float, z0: float, z1: float, material: str) -> Part:
    sx, sy = wall.start
    dx, dy = wall.direction
    nx, ny = wall.inward
    t = wall.thickness
    xs = [sx + dx * s - nx * u for s in (a, b) for u in (0.0, t)]
    ys = [sy + dy * s - ny * u for s in (a, b) for u in (0.0, t)]
    return box(min(xs), min(ys), z0, max(xs), max(ys), z1, material)
