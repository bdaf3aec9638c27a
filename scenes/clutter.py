"""Clutter: small objects made of primitives (metres, local frame, origin at the base centre).

Generators ``f(r, m) -> Item``. Hollow glassware uses the ``cup`` primitive so glass renders as thin
walls rather than solid blocks. :data:`CLUTTER` maps a name to (generator, material-class tags) so the
placement code can ask for "something transparent" or "something specular".
"""
from __future__ import annotations

from collections.abc import Callable

from scenes.geometry import box, cup, cyl, sphere
from scenes.items import Item, R
from scenes.materials import MaterialPicker


def drinking_glass(r: R, m: MaterialPicker) -> Item:
    rad, h = r.u(0.028, 0.045), r.u(0.08, 0.15)
    return Item("glass", [cup(0, 0, 0, h, rad, r.u(0.002, 0.004), m.pick("glass"), taper=r.u(1.0, 1.2))])


def wine_glass(r: R, m: MaterialPicker) -> Item:
    g = m.pick("clear_glass")
    br, sh, bh = r.u(0.03, 0.04), r.u(0.06, 0.1), r.u(0.07, 0.1)
    return Item("wine_glass", [cyl(0, 0, 0, 0.005, br, g), cyl(0, 0, 0.005, 0.005 + sh, 0.004, g),
                               cup(0, 0, 0.005 + sh, 0.005 + sh + bh, r.u(0.03, 0.038), 0.002, g, taper=r.u(1.0, 1.25))])


def bottle(r: R, m: MaterialPicker, role: str | None = None) -> Item:
    """Hollow body + shoulder + neck + cap."""
    mat = m.pick(role or r.choice(["bottle_glass", "plastic"], [3, 1]))
    rad, bh = r.u(0.028, 0.045), r.u(0.12, 0.24)
    nr = rad * r.u(0.3, 0.45)
    sh, nh = r.u(0.03, 0.06), r.u(0.03, 0.08)
    wall = 0.003
    parts = [cup(0, 0, 0, bh, rad, wall, mat), cup(0, 0, bh, bh + sh, rad, wall, mat, taper=nr / rad),
             cup(0, 0, bh + sh, bh + sh + nh, nr, wall, mat),
             cyl(0, 0, bh + sh + nh, bh + sh + nh + 0.015, nr + 0.002, m.pick(r.choice(["metal", "plastic", "dark"])))]
    return Item("bottle", parts)


def jar(r: R, m: MaterialPicker) -> Item:
    rad, h = r.u(0.04, 0.07), r.u(0.08, 0.16)
    return Item("jar", [cup(0, 0, 0, h, rad, 0.003, m.pick("clear_glass")),
                        cyl(0, 0, h, h + 0.015, rad + 0.002, m.pick(r.choice(["metal", "plastic"])))])


def vase(r: R, m: MaterialPicker) -> Item:
    rad, h = r.u(0.045, 0.1), r.u(0.15, 0.38)
    mat = m.pick(r.choice(["glass", "ceramic", "polished_metal"], [3, 2, 0.6]))
    return Item("vase", [cup(0, 0, 0, h, rad, 0.004, mat, taper=r.u(0.7, 1.3))])


def mug(r: R, m: MaterialPicker) -> Item:
    rad, h = r.u(0.036, 0.045), r.u(0.085, 0.105)
    mat = m.pick(r.choice(["ceramic", "polished_metal", "plastic"], [4, 1, 1]))
    return Item("mug", [cup(0, 0, 0, h, rad, 0.005, mat), box(rad, -0.006, h * 0.25, rad + 0.03, 0.006, h * 0.8, mat)])


def bowl(r: R, m: MaterialPicker) -> Item:
    rad, h = r.u(0.05, 0.09), r.u(0.045, 0.09)
    mat = m.pick(r.choice(["ceramic", "glass", "polished_metal", "wood"], [3, 1.5, 1, 1]))
    return Item("bowl", [cup(0, 0, 0, h, rad, 0.005, mat, taper=r.u(1.4, 1.8))])


def plate(r: R, m: MaterialPicker) -> Item:
    return Item("plate", [cyl(0, 0, 0, r.u(0.012, 0.02), r.u(0.1, 0.14), m.pick(r.choice(["ceramic", "glass"], [3, 1])))])


def can(r: R, m: MaterialPicker) -> Item:
    rad, h = r.choice([(0.033, 0.115), (r.u(0.035, 0.05), r.u(0.06, 0.14))])
    return Item("can", [cyl(0, 0, 0, h, rad, m.pick(r.choice(["metal", "polished_metal"], [2, 1])))])


def cardboard_box(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(0.1, 0.4), r.u(0.1, 0.35), r.u(0.05, 0.3)
    return Item("box", [box(-w / 2, -d / 2, 0, w / 2, d / 2, h, m.pick(r.choice(["paper", "plastic", "textureless"], [3, 1, 1])))])


def product_box(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(0.06, 0.2), r.u(0.05, 0.15), r.u(0.08, 0.28)
    return Item("box", [box(-w / 2, -d / 2, 0, w / 2, d / 2, h, m.pick(r.choice(["book", "plastic", "paper"])))])


def book_stack(r: R, m: MaterialPicker) -> Item:
    """1-4 books lying on each other."""
    parts = []
    z = 0.0
    for _ in range(r.i(1, 4)):
        w, d, t = r.u(0.14, 0.24), r.u(0.2, 0.3), r.u(0.015, 0.05)
        dx, dy = r.u(-0.01, 0.01), r.u(-0.01, 0.01)
        parts.append(box(dx - w / 2, dy - d / 2, z, dx + w / 2, dy + d / 2, z + t, m.pick("book")))
        z += t
    return Item("books", parts)


def standing_book(r: R, m: MaterialPicker) -> Item:
    t, d, h = r.u(0.015, 0.05), r.u(0.14, 0.22), r.u(0.18, 0.3)
    return Item("book", [box(-t / 2, -d / 2, 0, t / 2, d / 2, h, m.pick("book"))])


def pot(r: R, m: MaterialPicker) -> Item:
    rad, h = r.u(0.08, 0.12), r.u(0.08, 0.15)
    mat = m.pick(r.choice(["polished_metal", "metal", "dark"], [2, 2, 1]))
    return Item("pot", [cup(0, 0, 0, h, rad, 0.004, mat),
                        box(rad, -0.012, h - 0.03, rad + 0.06, 0.012, h - 0.015, mat)])


def kettle(r: R, m: MaterialPicker) -> Item:
    mat = m.pick(r.choice(["polished_metal", "plastic", "dark"], [2, 1.5, 1]))
    rad, h = r.u(0.07, 0.09), r.u(0.16, 0.22)
    return Item("kettle", [cyl(0, 0, 0, h, rad, mat, taper=0.8), box(-0.012, -0.05, h, 0.012, 0.05, h + 0.04, mat),
                           box(rad * 0.7, -0.01, h * 0.55, rad + 0.05, 0.01, h * 0.6, mat)])


def tray(r: R, m: MaterialPicker) -> Item:
    w, d = r.u(0.25, 0.4), r.u(0.18, 0.3)
    return Item("tray", [box(-w / 2, -d / 2, 0, w / 2, d / 2, 0.015, m.pick(r.choice(["polished_metal", "mirror", "plastic"])))])


def ornament(r: R, m: MaterialPicker) -> Item:
    """Polished sphere on a small base."""
    rad = r.u(0.035, 0.08)
    base = m.pick(r.choice(["dark", "wood", "metal"]))
    return Item("ornament", [cyl(0, 0, 0, 0.015, rad * 0.6, base),
                             sphere(0, 0, 0.015 + rad, rad, m.pick(r.choice(["polished_metal", "glass"])))])


def phone(r: R, m: MaterialPicker) -> Item:
    return Item("phone", [box(-0.036, -0.075, 0, 0.036, 0.075, 0.009, m.pick("screen"))])


def candle(r: R, m: MaterialPicker) -> Item:
    return Item("candle", [cyl(0, 0, 0, r.u(0.05, 0.2), r.u(0.02, 0.04), m.pick("textureless"))])


def speaker(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(0.1, 0.2), r.u(0.1, 0.2), r.u(0.15, 0.3)
    return Item("speaker", [box(-w / 2, -d / 2, 0, w / 2, d / 2, h, m.pick(r.choice(["dark", "wood", "plastic"])))])


def toaster(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(0.25, 0.32), r.u(0.15, 0.2), r.u(0.18, 0.22)
    return Item("toaster", [box(-w / 2, -d / 2, 0, w / 2, d / 2, h, m.pick("appliance"))])


def soap_bottle(r: R, m: MaterialPicker) -> Item:
    rad, h = r.u(0.03, 0.04), r.u(0.1, 0.16)
    return Item("soap_bottle", [cyl(0, 0, 0, h, rad, m.pick("plastic")), cyl(0, 0, h, h + 0.04, 0.008, m.pick("polished_metal"))])


def towel(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(0.25, 0.35), r.u(0.18, 0.25), r.u(0.03, 0.1)
    return Item("towel", [box(-w / 2, -d / 2, 0, w / 2, d / 2, h, m.pick("cushion"))])


def laptop(r: R, m: MaterialPicker) -> Item:
    shell = m.pick(r.choice(["metal", "dark"]))
    w, d = r.u(0.3, 0.36), r.u(0.21, 0.25)
    return Item("laptop", [box(-w / 2, -d / 2, 0, w / 2, d / 2, 0.018, shell),
                           box(-w / 2, -d / 2, 0.018, w / 2, -d / 2 + 0.007, 0.018 + d * 0.95, m.pick("screen"))])


def keyboard(r: R, m: MaterialPicker) -> Item:
    return Item("keyboard", [box(-0.22, -0.07, 0, 0.22, 0.07, 0.025, m.pick(r.choice(["dark", "plastic"])))])


def monitor(r: R, m: MaterialPicker) -> Item:
    """Thin dark slab on a stand (base plate + neck)."""
    w = r.u(0.5, 0.7)
    h, t = w * r.u(0.56, 0.62), r.u(0.02, 0.04)
    bottom = r.u(0.08, 0.15)
    stand = m.pick(r.choice(["dark", "metal"]))
    parts = [box(-0.11, -0.12, 0, 0.11, 0.06, 0.015, stand),
             box(-0.03, -0.1, 0.015, 0.03, -0.07, bottom + h / 2, stand),
             box(-w / 2, -0.07, bottom, w / 2, -0.07 + t, bottom + h, m.pick("screen"))]
    return Item("monitor", parts)


def tv(r: R, m: MaterialPicker) -> Item:
    w = r.u(0.8, 1.4)
    h, t = w * 9 / 16, r.u(0.03, 0.06)
    bottom = r.u(0.05, 0.1)
    stand = m.pick(r.choice(["dark", "metal"]))
    parts = [box(-w * 0.18, -0.12, 0, w * 0.18, 0.12, 0.015, stand),
             box(-0.04, -0.03, 0.015, 0.04, 0.0, bottom + 0.1, stand),
             box(-w / 2, 0.0, bottom, w / 2, t, bottom + h, m.pick("screen"))]
    return Item("tv", parts)


def register(r: R, m: MaterialPicker) -> Item:
    body = m.pick(r.choice(["dark", "plastic"]))
    return Item("register", [box(-0.18, -0.18, 0, 0.18, 0.18, 0.1, body),
                             box(-0.15, -0.02, 0.1, 0.15, 0.0, 0.3, m.pick("screen"))])


def espresso_machine(r: R, m: MaterialPicker) -> Item:
    steel = m.pick("polished_metal")
    w = r.u(0.3, 0.6)
    parts = [box(-w / 2, -0.2, 0, w / 2, 0.2, 0.05, steel), box(-w / 2, -0.2, 0.05, w / 2, -0.05, 0.42, steel),
             box(-w / 2, -0.05, 0.3, w / 2, 0.15, 0.42, steel), box(-0.04, 0.05, 0.24, 0.04, 0.13, 0.3, m.pick("dark"))]
    return Item("espresso_machine", parts)


def pastry_case(r: R, m: MaterialPicker) -> Item:
    """Small glass box on a counter."""
    w, d, h = r.u(0.4, 0.7), r.u(0.3, 0.4), r.u(0.25, 0.35)
    g, base = m.pick("clear_glass"), m.pick(r.choice(["metal", "wood"]))
    t = 0.006
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2, 0.02, base),
             box(-w / 2, -d / 2, 0.02, -w / 2 + t, d / 2, h - t, g), box(w / 2 - t, -d / 2, 0.02, w / 2, d / 2, h - t, g),
             box(-w / 2 + t, -d / 2, 0.02, w / 2 - t, -d / 2 + t, h - t, g),
             box(-w / 2 + t, d / 2 - t, 0.02, w / 2 - t, d / 2, h - t, g),
             box(-w / 2, -d / 2, h - t, w / 2, d / 2, h, g)]
    return Item("pastry_case", parts)


def beaker(r: R, m: MaterialPicker) -> Item:
    rad, h = r.u(0.03, 0.06), r.u(0.06, 0.15)
    return Item("beaker", [cup(0, 0, 0, h, rad, 0.002, m.pick("clear_glass"))])


def flask(r: R, m: MaterialPicker) -> Item:
    rad, bh = r.u(0.04, 0.07), r.u(0.08, 0.14)
    nr, nh = rad * 0.3, r.u(0.04, 0.08)
    g = m.pick("clear_glass")
    return Item("flask", [cup(0, 0, 0, bh, rad, 0.002, g, taper=nr / rad), cup(0, 0, bh, bh + nh, nr, 0.002, g)])


def test_tube_rack(r: R, m: MaterialPicker) -> Item:
    n = r.i(3, 6)
    w = 0.03 * n + 0.04
    rack = m.pick(r.choice(["plastic", "metal"]))
    g = m.pick("clear_glass")
    parts = [box(-w / 2, -0.03, 0, w / 2, 0.03, 0.01, rack), box(-w / 2, -0.03, 0.01, -w / 2 + 0.01, 0.03, 0.07, rack),
             box(w / 2 - 0.01, -0.03, 0.01, w / 2, 0.03, 0.07, rack)]
    for k in range(n):
        x = -w / 2 + 0.035 + 0.03 * k
        parts.append(cup(x, 0, 0.01, 0.01 + r.u(0.09, 0.13), 0.008, 0.0012, g))
    return Item("test_tube_rack", parts)


def instrument(r: R, m: MaterialPicker) -> Item:
    w, d, h = r.u(0.2, 0.45), r.u(0.2, 0.35), r.u(0.1, 0.3)
    body = m.pick(r.choice(["appliance", "metal", "dark", "plastic"]))
    parts = [box(-w / 2, -d / 2, 0, w / 2, d / 2, h, body),
             box(-w * 0.35, d / 2, h * 0.45, w * 0.1, d / 2 + 0.004, h * 0.85, m.pick("screen"))]
    for k in range(2):  # two knobs on the front panel
        x = w * (0.2 + 0.12 * k)
        parts.append(box(x - 0.012, d / 2, h * 0.3, x + 0.012, d / 2 + 0.015, h * 0.3 + 0.024, m.pick("dark")))
    return Item("instrument", parts)


def small_plant(r: R, m: MaterialPicker) -> Item:
    from scenes.furniture import plant
    return plant(r, m, small=True)


def table_lamp(r: R, m: MaterialPicker) -> Item:
    from scenes.furniture import table_lamp as _tl
    return _tl(r, m)


# name -> (generator, tags); tags say which class groups the item reliably contributes
CLUTTER: dict[str, tuple[Callable[[R, MaterialPicker], Item], frozenset[str]]] = {
    "glass": (drinking_glass, frozenset({"transparent"})),
    "wine_glass": (wine_glass, frozenset({"transparent"})),
    "bottle": (bottle, frozenset()),
    "glass_bottle": (lambda r, m: bottle(r, m, "bottle_glass"), frozenset({"transparent"})),
    "jar": (jar, frozenset({"transparent"})),
    "vase": (vase, frozenset()),
    "mug": (mug, frozenset()),
    "bowl": (bowl, frozenset()),
    "plate": (plate, frozenset()),
    "can": (can, frozenset({"specular"})),
    "box": (cardboard_box, frozenset()),
    "product_box": (product_box, frozenset()),
    "books": (book_stack, frozenset()),
    "book": (standing_book, frozenset()),
    "pot": (pot, frozenset()),
    "kettle": (kettle, frozenset()),
    "tray": (tray, frozenset()),
    "ornament": (ornament, frozenset()),
    "phone": (phone, frozenset()),
    "candle": (candle, frozenset()),
    "speaker": (speaker, frozenset()),
    "toaster": (toaster, frozenset()),
    "soap_bottle": (soap_bottle, frozenset()),
    "towel": (towel, frozenset()),
    "laptop": (laptop, frozenset()),
    "keyboard": (keyboard, frozenset()),
    "monitor": (monitor, frozenset()),
    "tv": (tv, frozenset()),
    "register": (register, frozenset()),
    "espresso_machine": (espresso_machine, frozenset({"specular"})),
    "pastry_case": (pastry_case, frozenset({"transparent"})),
    "beaker": (beaker, frozenset({"transparent"})),
    "flask": (flask, frozenset({"transparent"})),
    "test_tube_rack": (test_tube_rack, frozenset({"transparent"})),
    "instrument": (instrument, frozenset()),
    "small_plant": (small_plant, frozenset()),
    "table_lamp": (table_lamp, frozenset()),
}
