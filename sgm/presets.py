"""Sensor presets (`presets.json`, or a preset JSON file such as `cli.py calibrate` writes) as validated
`SGMParams`."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sgm.census import census_bits

PRESETS_FILE = Path(__file__).with_name("presets.json")


@dataclasses.dataclass(frozen=True)
class SGMParams:
    """Matcher knobs; see the `_knobs` section of presets.json for meanings and units."""
    name: str
    description: str
    census_window: tuple[int, int]
    census_threshold: float
    census_reference: str
    prefilter_sigma: float
    ad_weight: float
    ad_cap: int
    paths: int
    p1: int
    p2: int
    p2_gamma: float
    subpixel: str
    refine_window: int
    refine_min_gradient: float
    subpixel_levels: int
    uniqueness_pct: float
    lr_tolerance_32: int | None
    lr_mode: str
    max_cost: float | None
    texture_window: int
    texture_diff: float
    texture_count: int
    median: bool
    speckle_size: int
    speckle_range_px: float
    invalid_left_band: bool
    z_min_m: float | None
    max_search_disparities: int | None
    z_max_m: float | None
    depth_unit_m: float
    postprocess: tuple = ()  # stages after SGM (sgm/postprocess.py), each a dict {"stage": name, knobs...}

    @property
    def max_matching_cost(self) -> int:
        """Largest per-pixel matching cost (census bits plus the AD term)."""
        return census_bits(self.census_window) + int(round(self.ad_weight * self.ad_cap))

    def validate(self) -> SGMParams:
        """Raise ValueError naming the preset and knob when a value is out of range."""
        def bad(knob: str, why: str) -> ValueError:
            return ValueError(f"preset {self.name!r}: {knob} {why} (got {getattr(self, knob)!r})")
        w, h = self.census_window
        if w < 3 or h < 3 or w % 2 == 0 or h % 2 == 0:
            raise bad("census_window", "must be two odd sizes >= 3")
        if self.census_reference not in ("centre", "mean"):
            raise bad("census_reference", "must be 'centre' or 'mean'")
        if self.prefilter_sigma < 0 or self.census_threshold < 0:
            raise ValueError(f"preset {self.name!r}: prefilter_sigma and census_threshold must be >= 0")
        if self.paths not in (4, 8):
            raise bad("paths", "must be 4 or 8")
        if not 0 < self.p1 < self.p2:
            raise bad("p2", "must exceed p1 > 0")
        if self.max_matching_cost + self.p2 > 254:
            raise bad("p2", f"plus the maximum matching cost {self.max_matching_cost} must be <= 254")
        if self.subpixel not in ("parabola", "equiangular"):
            raise bad("subpixel", "must be 'parabola' or 'equiangular'")
        if self.refine_window < 0 or (self.refine_window and (self.refine_window < 3 or self.refine_window % 2 == 0)):
            raise bad("refine_window", "must be 0 (off) or odd and >= 3")
        if not 0 <= self.uniqueness_pct < 100:
            raise bad("uniqueness_pct", "must be in [0, 100)")
        if self.lr_tolerance_32 is not None and self.lr_tolerance_32 < 0:
            raise bad("lr_tolerance_32", "must be >= 0 or null")
        if self.lr_mode not in ("winners", "volume"):
            raise bad("lr_mode", "must be 'winners' or 'volume'")
        if self.texture_window < 3 or self.texture_window % 2 == 0:
            raise bad("texture_window", "must be odd and >= 3")
        if self.subpixel_levels < 0 or self.speckle_size < 0 or self.ad_weight < 0:
            raise ValueError(f"preset {self.name!r}: subpixel_levels, speckle_size, ad_weight must be >= 0")
        if self.z_min_m is not None and self.z_max_m is not None and not 0 < self.z_min_m < self.z_max_m:
            raise bad("z_min_m", "must be > 0 and below z_max_m")
        if self.max_search_disparities is not None and (self.max_search_disparities < 16
                                                        or self.max_search_disparities % 16):
            raise bad("max_search_disparities", "must be a multiple of 16 (>= 16) or null")
        if self.depth_unit_m <= 0:
            raise bad("depth_unit_m", "must be > 0")
        from sgm.postprocess import normalise_stages
        normalise_stages(self.postprocess, f"preset {self.name!r}")
        return self


def preset_names() -> list[str]:
    """Names of the presets in presets.json."""
    return [k for k in _load_file() if not k.startswith("_")]


def _load_file() -> dict[str, Any]:
    with open(PRESETS_FILE) as f:
        return json.load(f)


def read_preset_file(path: str | Path) -> dict[str, Any]:
    """The knobs of a preset JSON file (e.g. written by ``cli.py calibrate``): a single preset object
    (keys of SGMParams; ``"base": "d435"`` fills the knobs it omits from that preset of presets.json;
    keys starting with ``_`` are notes), or a table holding exactly one preset. ValueError names the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"preset file {path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"preset file {path}: expected a JSON object of preset knobs")
    if "census_window" not in data and "base" not in data:
        tables = [v for k, v in data.items() if not k.startswith("_") and isinstance(v, dict)]
        if len(tables) != 1:
            raise ValueError(f"preset file {path}: expected one preset (knobs such as census_window, or "
                             f"\"base\": \"d435\"), found {len(tables)} preset tables")
        data = tables[0]
    values = {k: v for k, v in data.items() if not k.startswith("_")}
    base = values.pop("base", None)
    if base is not None:
        table = _load_file()
        if not isinstance(base, str) or base.startswith("_") or base not in table:
            raise ValueError(f"preset file {path}: unknown base preset {base!r}; known: {', '.join(preset_names())}")
        values = dict({k: v for k, v in table[base].items() if not k.startswith("_")}, **values)
    values.setdefault("name", path.stem)
    values.setdefault("description", f"from {path.name}")
    return values


def is_preset_file(preset: str) -> bool:
    return preset.lower().endswith(".json") or Path(preset).is_file()


def load_preset(preset: str | SGMParams, overrides: Mapping[str, Any] | None = None) -> SGMParams:
    """A validated SGMParams from a preset name (or an SGMParams) with optional knob overrides."""
    if isinstance(preset, SGMParams):
        values = dataclasses.asdict(preset)
    else:
        table = _load_file()
        if isinstance(preset, str) and preset not in table and is_preset_file(preset):
            if not Path(preset).is_file():
                raise ValueError(f"preset file {preset} does not exist")
            values = read_preset_file(preset)
        elif not isinstance(preset, str) or preset.startswith("_") or preset not in table:
            raise ValueError(f"unknown SGM preset {preset!r}; known presets: {', '.join(preset_names())} "
                             f"(or a preset JSON file)")
        else:
            values = {k: v for k, v in table[preset].items() if not k.startswith("_")}  # "_..." = notes
            values["name"] = preset
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(SGMParams)})
        if unknown:
            raise ValueError(f"unknown SGM knob(s) {unknown} in overrides")
        values.update(overrides)
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(SGMParams)})
    if unknown:
        raise ValueError(f"preset {values.get('name')!r}: unknown knob(s) {unknown}")
    values["census_window"] = tuple(values["census_window"])
    values["postprocess"] = tuple(dict(st) for st in values.get("postprocess") or ())
    try:
        return SGMParams(**values).validate()
    except TypeError as exc:  # a knob missing from a preset file without "base"
        raise ValueError(f"preset {values.get('name')!r}: {exc}; give every knob or \"base\": \"d435\"") from None
