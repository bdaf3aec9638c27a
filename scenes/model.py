"""The scene description: plain dataclasses that serialise to byte-stable JSON.

Frames and units: world frame with +z up, metres, radians. The floor's top face is z = 0 and the room
interior spans ``[0, room.width] x [0, room.depth]`` (minus ``room.notch`` for an L-shaped room).
Every object has a pose (``position`` = its origin, ``yaw`` = rotation about +z) and parts given in the
object's local frame: local +x along the object's width, local +y = its front (for wall-standing
furniture this is the wall's inward normal), +z up, origin at the centre of the footprint on the base.

Floats are rounded to :data:`DECIMALS` decimals when serialised, so the same description gives the
same JSON bytes on any machine. :func:`scenes.generate` returns the rounded (serialised) form.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1
DECIMALS = 6

Vec3 = tuple[float, float, float]


# ---------------------------------------------------------------------------------------- parts


@dataclass
class Part:
    """One primitive of an object, in the object's local frame (metres).

    ``shape``: ``box`` (``size`` = full extents), ``cylinder`` (``size`` = (2r, 2r, height), vertical
    axis; ``taper`` = top radius / bottom radius), ``sphere`` (``size`` = diameters), ``cup`` (a hollow
    cylinder open at the top: glasses, mugs, vases, bowls; ``wall`` = wall and bottom thickness),
    ``tube`` (hollow, open at both ends: lamp shades). For the round shapes the bottom radius is
    ``size[0] / 2 / max(1, taper)`` and the top radius ``bottom * taper``.
    ``center`` is the centre of the part's bounding box.
    """

    shape: str
    center: Vec3
    size: Vec3
    material: str
    taper: float = 1.0
    wall: float = 0.0


@dataclass
class Surface:
    """A horizontal rectangle that can carry clutter, in the owner's local frame.

    ``rect`` = (x0, y0, x1, y1), ``z`` = height of the supporting top face, ``clearance`` = free
    height above it (metres; e.g. up to the next shelf board).
    """

    rect: tuple[float, float, float, float]
    z: float
    clearance: float


@dataclass
class SceneObject:
    """One object = one Blender mesh object = one instance id.

    ``kind``: ``shell`` (floor, ceiling, walls; parts in world coordinates, identity pose),
    ``opening`` (doors, windows, inside a wall opening), ``furniture``, ``fixture`` (ceiling lights,
    wall items), ``clutter`` (objects standing on a supporting surface or the floor).
    ``mount``: how it is held: ``floor`` / ``surface`` (on ``support``'s surface ``support_surface``) /
    ``wall`` (back face on wall ``support``) / ``ceiling`` / ``opening`` (in opening ``support``) /
    ``shell``.
    """

    name: str
    category: str
    kind: str
    mount: str
    position: Vec3
    yaw: float
    parts: list[Part]
    support: str | None = None
    support_surface: int | None = None
    surfaces: list[Surface] = field(default_factory=list)


# ---------------------------------------------------------------------------------------- room


@dataclass
class Wall:
    """A straight wall: interior face from ``start`` to ``end`` (x, y at the floor), room on the left.

    The inward normal is the direction rotated by +90 deg; the wall's solid lies on the outer side.
    """

    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    thickness: float

    @property
    def length(self) -> float:
        return math.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1])

    @property
    def direction(self) -> tuple[float, float]:
        n = self.length
        return ((self.end[0] - self.start[0]) / n, (self.end[1] - self.start[1]) / n)

    @property
    def inward(self) -> tuple[float, float]:
        dx, dy = self.direction
        return (-dy, dx)

    @property
    def yaw(self) -> float:
        """Yaw that maps an object's local +x onto the wall and local +y into the room."""
        dx, dy = self.direction
        return math.atan2(dy, dx)


@dataclass
class Opening:
    """A door or window cut in a wall: ``offset`` = distance of its centre from the wall's start,
    ``width`` along the wall, ``sill`` = bottom height, ``height`` (metres)."""

    name: str
    kind: str  # "door" | "window"
    wall: str
    offset: float
    width: float
    sill: float
    height: float


@dataclass
class Room:
    """Room shell: rectangle ``width`` x ``depth`` (x, y), optionally minus the corner ``notch``
    (x0, y0, x1, y1) for an L shape; ``height`` floor to ceiling (metres)."""

    room_type: str
    shape: str  # "rect" | "L"
    width: float
    depth: float
    height: float
    wall_thickness: float
    notch: tuple[float, float, float, float] | None
    walls: list[Wall]
    openings: list[Opening]

    def wall(self, name: str) -> Wall:
        for w in self.walls:
            if w.name == name:
                return w
        raise KeyError(f"room has no wall {name!r}")

    def floor_rects(self) -> list[tuple[float, float, float, float]]:
        """The interior as disjoint axis-aligned rectangles (x0, y0, x1, y1)."""
        return interior_rects(self.width, self.depth, self.notch)


def interior_rects(width: float, depth: float,
                   notch: tuple[float, float, float, float] | None) -> list[tuple[float, float, float, float]]:
    """Decompose [0,w]x[0,d] minus a corner notch into at most two rectangles."""
    if notch is None:
        return [(0.0, 0.0, width, depth)]
    nx0, ny0, nx1, ny1 = notch
    if ny0 <= 0.0:  # notch touches y = 0: full-width strip above it, partial strip beside it
        top = (0.0, ny1, width, depth)
        side = (0.0, 0.0, nx0, ny1) if nx0 > 0.0 else (nx1, 0.0, width, ny1)
    else:  # notch touches y = depth
        top = (0.0, 0.0, width, ny0)
        side = (0.0, ny0, nx0, depth) if nx0 > 0.0 else (nx1, ny0, width, depth)
    return [top, side]


# ---------------------------------------------------------------------------------------- materials, lights


@dataclass
class Material:
    """A material instance. ``cls`` is its class (``lbd.classes.MATERIAL_CLASSES``), ``color`` its
    linear RGB albedo, ``ir_reflectance`` its grey reflectance at ~850 nm (separate from RGB).

    ``texture``: ``none`` | ``wood`` | ``tile`` | ``fabric`` | ``noise`` | ``brushed``; ``color2`` is
    the texture's second colour, ``texture_scale`` its frequency (1/m), ``ir_contrast`` how strongly
    the texture modulates the IR reflectance (0..1). ``coat`` = clear-coat weight, ``transmission``
    1 for glass, ``frosted`` roughens the transmission.
    """

    name: str
    cls: str
    base: str
    color: Vec3
    ir_reflectance: float
    roughness: float
    metallic: float = 0.0
    transmission: float = 0.0
    ior: float = 1.5
    coat: float = 0.0
    texture: str = "none"
    color2: Vec3 = (0.0, 0.0, 0.0)
    texture_scale: float = 1.0
    ir_contrast: float = 0.0


@dataclass
class Light:
    """A light. ``role`` in {ceiling, lamp, sun, window}; ``kind`` = Blender light type (POINT, AREA,
    SPOT, SUN); ``direction`` = unit vector the light shines along (world); ``energy`` in watts (sun:
    irradiance W/m^2) for the RGB render; ``size`` = (x, y) for area lights, radius for point lights,
    angular diameter (radians) for the sun."""

    name: str
    role: str
    kind: str
    position: Vec3
    direction: Vec3
    energy: float
    color: Vec3
    temperature_k: float
    size: tuple[float, float]
    fixture: str | None = None


@dataclass
class Scene:
    """A full scene description; ``ir_ambient`` = fraction of the RGB light present in the IR band."""

    scene_id: int
    seed: int
    room: Room
    materials: list[Material]
    objects: list[SceneObject]
    lights: list[Light]
    world_color: Vec3
    world_strength: float
    ir_ambient: float
    daylight: bool
    version: int = FORMAT_VERSION

    # ---------------------------------------------------------------- lookups

    def material(self, name: str) -> Material:
        return self._materials_by_name()[name]

    def _materials_by_name(self) -> dict[str, Material]:
        return {m.name: m for m in self.materials}

    def object(self, name: str) -> SceneObject:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(f"scene {self.scene_id} has no object {name!r}")

    def object_classes(self, obj: SceneObject) -> set[str]:
        mats = self._materials_by_name()
        return {mats[p.material].cls for p in obj.parts}

    def classes_present(self, include_shell: bool = True) -> set[str]:
        """Material classes used by at least one object (optionally ignoring walls/floor/ceiling)."""
        mats = self._materials_by_name()
        return {mats[p.material].cls for o in self.objects
                if include_shell or o.kind != "shell" for p in o.parts}

    # ---------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def to_json(self) -> str:
        """Byte-stable JSON (floats rounded to DECIMALS, fixed key order, trailing newline)."""
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        try:
            room = data["room"]
            return cls(
                scene_id=int(data["scene_id"]),
                seed=int(data["seed"]),
                room=Room(
                    room_type=room["room_type"], shape=room["shape"], width=room["width"],
                    depth=room["depth"], height=room["height"], wall_thickness=room["wall_thickness"],
                    notch=_tuple(room["notch"]),
                    walls=[Wall(w["name"], _tuple(w["start"]), _tuple(w["end"]), w["thickness"])
                           for w in room["walls"]],
                    openings=[Opening(**o) for o in room["openings"]],
                ),
                materials=[Material(**_tuples(m)) for m in data["materials"]],
                objects=[_object_from_dict(o) for o in data["objects"]],
                lights=[Light(**_tuples(li)) for li in data["lights"]],
                world_color=_tuple(data["world_color"]),
                world_strength=data["world_strength"],
                ir_ambient=data["ir_ambient"],
                daylight=bool(data["daylight"]),
                version=int(data.get("version", FORMAT_VERSION)),
            )
        except (KeyError, TypeError) as exc:
            sid = data.get("scene_id", "?") if isinstance(data, dict) else "?"
            raise ValueError(f"scene {sid}: malformed scene description ({type(exc).__name__}: {exc})") from None

    @classmethod
    def from_json(cls, text: str) -> Scene:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"malformed scene JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("malformed scene JSON: not an object")
        return cls.from_dict(data)


def load_scene(path) -> Scene:
    """Read a scene description written by ``cli.py scenes``; errors name the file."""
    from pathlib import Path
    path = Path(path)
    try:
        return Scene.from_json(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"scene file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"scene file {path}: {exc}") from None


# ---------------------------------------------------------------------------------------- helpers


def _round(x: float) -> float:
    if not math.isfinite(x):
        raise ValueError(f"non-finite number {x!r} in scene description")
    r = round(float(x), DECIMALS)
    return 0.0 if r == 0.0 else r  # no "-0.0"


def _to_plain(value: Any) -> Any:
    t = type(value)
    if t is float:
        return _round(value)
    if t is str or t is bool or t is int or value is None:
        return value
    if t is list or t is tuple:
        return [_to_plain(v) for v in value]
    names = getattr(t, "__dataclass_fields__", None)
    if names is not None:  # dataclass: fields in definition order
        return {name: _to_plain(getattr(value, name)) for name in names}
    if isinstance(value, float):  # float subclasses (numpy.float64)
        return _round(float(value))
    if isinstance(value, int):  # int subclasses (numpy ints are not, see below)
        return int(value)
    if hasattr(value, "item"):
        return _to_plain(value.item())
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _tuple(v):
    return None if v is None else tuple(v)


def _tuples(d: dict) -> dict:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}


def _object_from_dict(o: dict) -> SceneObject:
    return SceneObject(
        name=o["name"], category=o["category"], kind=o["kind"], mount=o["mount"],
        position=_tuple(o["position"]), yaw=o["yaw"],
        parts=[Part(**_tuples(p)) for p in o["parts"]],
        support=o.get("support"), support_surface=o.get("support_surface"),
        surfaces=[Surface(_tuple(s["rect"]), s["z"], s["clearance"]) for s in o.get("surfaces", [])],
    )
