"""What every furniture and clutter generator returns, plus the small random helper they share."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scenes.model import Part, Surface


@dataclass
class Item:
    """A generated object in its local frame: origin at the centre of the footprint, z = 0 at its base
    (for ceiling items: at its lowest point), front = +y. ``lamps`` are local bulb positions."""

    category: str
    parts: list[Part]
    surfaces: list[Surface] = field(default_factory=list)
    lamps: list[tuple[float, float, float]] = field(default_factory=list)

    def arrays(self):
        """Cached :func:`scenes.geometry.local_arrays` of the parts (items are not edited once placed)."""
        from scenes.geometry import local_arrays
        key = tuple(id(p) for p in self.parts)
        if getattr(self, "_arrays_key", None) != key:
            self._arrays = local_arrays(self.parts)
            self._arrays_key = key
        return self._arrays

    def extents(self) -> tuple[np.ndarray, np.ndarray]:
        """Local AABB (lo, hi) of all parts."""
        c, h, _ = self.arrays()
        return (c - h).min(axis=0), (c + h).max(axis=0)

    @property
    def width(self) -> float:
        lo, hi = self.extents()
        return float(hi[0] - lo[0])

    @property
    def depth(self) -> float:
        lo, hi = self.extents()
        return float(hi[1] - lo[1])

    @property
    def height(self) -> float:
        lo, hi = self.extents()
        return float(hi[2] - lo[2])


class R:
    """Thin wrapper over a numpy Generator with the draws generators need."""

    def __init__(self, g: np.random.Generator):
        self.g = g

    def u(self, lo: float, hi: float) -> float:
        return float(lo + (hi - lo) * self.g.random())

    def p(self, prob: float) -> bool:
        return bool(self.g.random() < prob)

    def i(self, lo: int, hi: int) -> int:
        """Integer in [lo, hi] inclusive."""
        return int(self.g.integers(lo, hi + 1))

    def choice(self, options, weights=None):
        if weights is None:
            return options[int(self.g.integers(0, len(options)))]
        w = np.asarray(weights, float)
        return options[int(self.g.choice(len(options), p=w / w.sum()))]
