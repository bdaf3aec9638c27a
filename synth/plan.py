"""The render plan (pure Python, no bpy): counts, units, the run's configuration, plan.json, dry run.

Plan. ``--samples M`` are spread over ``--scenes N`` (scene i gets M//N views, +1 for i < M%N);
each scene's views are cut into *units* of at most ``views_per_scene`` (K) consecutive views. A unit
is one shard ``raw-{index:06d}.tar`` (index = position in the plan, so it never changes for a given
N, M, K) holding samples ``s{scene:05d}-v{view:06d}``. :func:`plan_units` is a pure function, so a farm
executor (Ray, Slurm array) can hand the same units to other machines; ``plan.json`` beside the dataset
records the arguments and every unit, and a run whose arguments differ is refused unless ``--force``.

Bounds. A plan holds at most :data:`MAX_SAMPLES` samples, :data:`MAX_SCENES` scenes and
:data:`MAX_UNITS` units; sizes are checked with arithmetic (constant memory and time) before any unit
list is built, so ``--samples 1e24`` is refused at once.

Scene sources. Procedural scenes are ids ``0..P-1``; ``--scenes-from`` adds scene JSON and users' scene
files after them (:mod:`scenes.sources`: ids from the content hash). A unit's ``scene_id`` is the
scene's *position* in this table (``RenderConfig.scene_for``); the worker gets the scene's own id and
source in its job, and samples are keyed by that id. ``plan.json`` lists every non-procedural scene with
its position, id, kind, path and SHA-256; the dataset config (what must match on resume) lists their
ids, file names and hashes. User files are test-imported in a Blender child process before the plan is
written (:func:`check_scene_files`), so a corrupt file or a mapping that names nothing stops the run
before anything is rendered.

Array mode: slice ``i`` of ``n`` is ``units[i::n]`` (round robin, so slices take similar time); every
unit is in exactly one slice.

This module is the bottom of the render driver: :mod:`synth.leases`, :mod:`synth.status`,
:mod:`synth.executors` and :mod:`synth.render` import it, never the other way round.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

from lbd.errors import UsageError, UserError
from scenes.sources import SceneSource
from synth import quality as quality_mod
from synth.rig import RigRanges
from synth.shards import atomic_write_bytes, shard_name

ROOT = Path(__file__).resolve().parent.parent
PLAN = "plan.json"
SHARD_PREFIX = "raw"
DEFAULT_UNIT_VIEWS = 32
SCENE_SOURCES = ("procedural", "test:plane", "test:plane_box", "test:mirror", "test:glass")
# Documented limits of one plan (README, "Running it on a render farm"). The paper plan (442 scenes,
# 10M samples) has 312,686 units; a bigger job is several output directories.
MAX_SAMPLES = 1_000_000_000
MAX_SCENES = 1_000_000
MAX_UNITS = 2_000_000


class RenderInputError(UsageError, ValueError):
    """Bad render input, detected before anything is rendered (message names the option); exit code 2."""


class PlanMismatchError(UsageError):
    """The output directory holds a plan made with other arguments."""


class PlanFileError(UserError):
    """plan.json exists but cannot be read or is not a plan (exit code 1)."""


# ---------------------------------------------------------------- counts and plan

_COUNT = re.compile(r"\s*([0-9][0-9,_]*(?:\.[0-9]+)?)(?:[eE]\+?([0-9]{1,4}))?\s*([kKmMgG]?)\s*")


def parse_count(text: str | int, option: str = "--samples", limit: int | None = MAX_SAMPLES) -> int:
    """'10M' -> 10_000_000, '250k' -> 250_000, '1,000' -> 1000, '1.5k' -> 1500, '1e6' -> 1_000_000.

    Must be a positive whole number not above ``limit``; checked exactly (Decimal) before any int of
    that size exists, so '1e24' or a thousand digits answer at once.
    """
    if isinstance(text, int):
        value = Decimal(text)
    else:
        m = _COUNT.fullmatch(str(text))
        if not m:
            raise RenderInputError(f"{option} {text!r} is not a count (examples: 1000, 1,000, 250k, 10M)")
        try:
            value = Decimal(m.group(1).replace(",", "").replace("_", ""))
        except InvalidOperation:
            raise RenderInputError(f"{option} {text!r} is not a count (examples: 1000, 1,000, 250k, 10M)") \
                from None
        value = value.scaleb(int(m.group(2) or 0)) * {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}[
            m.group(3).lower()]
    if value <= 0:
        raise RenderInputError(f"{option} must be positive, got {text!r}")
    if limit is not None and value > limit:
        raise RenderInputError(f"{option} {text!r} is above the limit of {limit:,} per plan; split the job "
                               f"into several --out directories (different --seed)")
    if value != value.to_integral_value():
        raise RenderInputError(f"{option} {text!r} is not a whole number of samples")
    return int(value)


class Unit(NamedTuple):
    """A work unit: ``view_count`` views of one scene starting at ``view_start``, into one shard."""

    scene_id: int
    view_start: int
    view_count: int
    shard_index: int

    @property
    def shard(self) -> str:
        return shard_name(SHARD_PREFIX, self.shard_index)

    @property
    def view_ids(self) -> range:
        return range(self.view_start, self.view_start + self.view_count)

    def to_dict(self) -> dict:
        return {"scene_id": self.scene_id, "view_start": self.view_start, "view_count": self.view_count,
                "shard_index": self.shard_index}


def views_per_scene(n_scenes: int, n_samples: int) -> list[int]:
    """How many views each scene gets: ``n_samples`` spread evenly over ``n_scenes``."""
    base, extra = divmod(n_samples, n_scenes)
    return [base + (1 if i < extra else 0) for i in range(n_scenes)]


def count_units(n_scenes: int, n_samples: int, unit_views: int) -> int:
    """Number of units of a plan, by arithmetic (constant time and memory)."""
    base, extra = divmod(n_samples, n_scenes)
    return extra * -(-(base + 1) // unit_views) + (n_scenes - extra) * -(-base // unit_views)


def check_plan_size(n_scenes: int, n_samples: int, unit_views: int) -> int:
    """Refuse a plan beyond the documented limits (message names the option); returns its unit count."""
    if n_scenes <= 0 or n_samples <= 0 or unit_views <= 0:
        raise RenderInputError(f"--scenes ({n_scenes}), --samples ({n_samples}) and --views-per-scene "
                               f"({unit_views}) must be positive")
    if n_samples > MAX_SAMPLES:
        raise RenderInputError(f"--samples {n_samples:,} is above the limit of {MAX_SAMPLES:,} per plan; split "
                               f"the job into several --out directories (different --seed)")
    if n_scenes > MAX_SCENES:
        raise RenderInputError(f"--scenes {n_scenes:,} is above the limit of {MAX_SCENES:,} per plan")
    n_units = count_units(n_scenes, n_samples, unit_views)
    if n_units > MAX_UNITS:
        raise RenderInputError(f"--views-per-scene {unit_views}: the plan would have {n_units:,} units, above "
                               f"the limit of {MAX_UNITS:,}; raise --views-per-scene")
    return n_units


def plan_units(n_scenes: int, n_samples: int, unit_views: int) -> list[Unit]:
    """The deterministic list of units (pure; see module docstring). 312,686 units take ~0.2 s."""
    check_plan_size(n_scenes, n_samples, unit_views)
    base, extra = divmod(n_samples, n_scenes)
    units: list[Unit] = []
    append, new = units.append, tuple.__new__
    for scene_id in range(n_scenes):
        n_views = base + (1 if scene_id < extra else 0)
        for start in range(0, n_views, unit_views):
            append(new(Unit, (scene_id, start, min(unit_views, n_views - start), len(units))))
    return units


def default_unit_views(n_scenes: int, n_samples: int) -> int:
    """min(32, ceil(samples/scenes)); for plans that would exceed MAX_UNITS, the smallest size that fits."""
    k = max(1, min(DEFAULT_UNIT_VIEWS, math.ceil(n_samples / max(n_scenes, 1))))
    if n_scenes <= 0 or n_samples <= 0 or n_scenes > MAX_SCENES or n_samples > MAX_SAMPLES \
            or count_units(n_scenes, n_samples, k) <= MAX_UNITS:
        return k
    lo, hi = k, max(k, n_samples)  # count_units decreases with k; bisect for the smallest k that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if count_units(n_scenes, n_samples, mid) <= MAX_UNITS:
            hi = mid
        else:
            lo = mid + 1
    return lo


def slice_units(units: list[Unit], index: int, size: int) -> list[Unit]:
    """Slice ``index`` of ``size`` (round robin). Raises RenderInputError for a bad index."""
    if size < 1:
        raise RenderInputError(f"--array-size must be >= 1, got {size}")
    if not 0 <= index < size:
        raise RenderInputError(f"--array-index {index} is outside 0..{size - 1} (--array-size {size})")
    return units[index::size]


# ---------------------------------------------------------------- configuration

_RANGE_OPTIONS = (("baseline_m", "--baseline"), ("focal_mm", "--focal"), ("ir_size", "--ir-size"),
                  ("rgb_size", "--rgb-size"), ("scale", "--scale"))


def option_hint(message: str) -> str:
    """Map rig-range field names at the start of a message to the CLI options that set them."""
    for name, opt in _RANGE_OPTIONS:
        if message.startswith(name):
            return f"{opt}: {message}"
    return message


@dataclass
class RenderConfig:
    """Everything a render run needs. ``dataset_config()`` is what must match on resume."""

    out: Path
    scenes: int
    samples: int
    unit_views: int
    quality: str = "default"
    scale: float = 1.0
    seed: int = 0
    workers: int = 1
    device: str = "cpu"
    ranges: RigRanges = field(default_factory=RigRanges)
    ir_bit_depth: int | None = None
    pattern_kind: str | None = None
    scene_source: str = "procedural"
    progress: bool = True
    blender: str | None = None  # run workers under this Blender binary instead of the bpy module
    sources: tuple[SceneSource, ...] = ()  # --scenes-from: scene JSON and user files, after the procedural ids
    mapping: str | None = None  # material mapping JSON for user files
    unit_scale: float | None = None  # metres per file unit (None = detect)
    up_axis: str = "auto"  # OBJ up axis: auto (the importer's Y) | y | z

    @property
    def procedural_scenes(self) -> int:
        return self.scenes - len(self.sources)

    def scene_for(self, index: int) -> SceneSource:
        """The scene at plan position ``index`` (a unit's ``scene_id``)."""
        if not 0 <= index < self.scenes:
            raise IndexError(f"scene position {index} outside 0..{self.scenes - 1}")
        p = self.procedural_scenes
        if index >= p:
            return self.sources[index - p]
        if self.scene_source.startswith("test:"):
            return SceneSource(index, "test", name=self.scene_source.split(":", 1)[1])
        return SceneSource(index, "procedural")

    def import_options(self) -> dict:
        return {"mapping": self.mapping, "unit_scale": self.unit_scale, "up_axis": self.up_axis}

    def dataset_config(self) -> dict:
        cfg = {"scenes": self.scenes, "samples": self.samples, "views_per_scene": self.unit_views,
               "quality": self.quality, "seed": self.seed, "rig": self.ranges.to_dict(),
               "ir_bit_depth": self.ir_bit_depth, "pattern_kind": self.pattern_kind,
               "scene_source": self.scene_source}
        if self.sources:
            cfg["scenes_from"] = [s.identity() for s in self.sources]
            cfg["import"] = {"mapping_sha256": _sha256_or_none(self.mapping), "unit_scale": self.unit_scale,
                             "up_axis": self.up_axis}
        return cfg

    def validate(self, *, probe_device: bool = True) -> None:
        """Raise RenderInputError (naming the option) for anything that would fail later.

        The same checks for a dry run and a run, except that a dry run does not probe the GPU
        (``probe_device=False``: a plan may be made on a machine without the farm's GPUs).
        """
        check_plan_size(self.scenes, self.samples, self.unit_views)
        try:
            self.ranges.validate()
            quality_mod.get(self.quality)
        except ValueError as exc:
            raise RenderInputError(option_hint(str(exc))) from None
        if self.scene_source not in SCENE_SOURCES:
            raise RenderInputError(f"--scene-source {self.scene_source!r} unknown; choose {SCENE_SOURCES}")
        if self.workers < 1:
            raise RenderInputError(f"--workers must be >= 1, got {self.workers}")
        if self.ir_bit_depth not in (None, 8, 10):
            raise RenderInputError(f"--ir-bit-depth must be 8 or 10, got {self.ir_bit_depth}")
        if self.sources and self.scene_source != "procedural":
            raise RenderInputError(f"--scene-source {self.scene_source} and --scenes-from clash: a test scene "
                                   f"source cannot be mixed with scene files")
        if self.procedural_scenes < 0 or len({s.scene_id for s in self.sources}) != len(self.sources):
            raise RenderInputError("the scene table is inconsistent (--scenes-from sources counted twice)")
        if self.unit_scale is not None and not (self.unit_scale > 0 and math.isfinite(self.unit_scale)):
            raise RenderInputError(f"--unit-scale must be a positive number of metres per unit, got {self.unit_scale}")
        if self.up_axis not in ("auto", "y", "z"):
            raise RenderInputError(f"--up-axis must be auto, y or z, got {self.up_axis!r}")
        if (self.mapping or self.unit_scale is not None or self.up_axis != "auto") and \
                not any(s.kind == "file" for s in self.sources):
            raise RenderInputError("--mapping, --unit-scale and --up-axis apply to scene files (.blend .glb .gltf "
                                   ".obj .fbx) given with --scenes-from, and none was given")
        if self.mapping:
            check_mapping_file(self.mapping)
        if any(s.kind == "file" for s in self.sources) and not self._checked_before():
            check_scene_files(self)
        if self.scene_source == "procedural" and self.procedural_scenes > 0:
            try:
                import scenes  # noqa: F401
                from scenes import generate  # noqa: F401
            except ImportError as exc:
                raise RenderInputError(f"procedural scenes are not available ({exc})") from None
        if self.device != "cpu" and probe_device:
            check_device_subprocess(self.device)


    def _checked_before(self) -> bool:
        """The files were test-imported when this output's plan.json was written with these arguments."""
        try:
            return read_plan(self.out)["args"] == plan_args(self)
        except (RenderInputError, PlanFileError):
            return False


def _sha256_or_none(path: str | None) -> str | None:
    if not path:
        return None
    from lbd.files import sha256_file
    try:
        return sha256_file(Path(path))
    except OSError:
        return None


def check_mapping_file(path: str) -> dict:
    """The material mapping JSON must exist and be an object (its entries are checked against the
    files' materials by :func:`check_scene_files`)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise RenderInputError(f"--mapping {path}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RenderInputError(f"--mapping {path} is not valid JSON ({str(exc).splitlines()[0][:160]})") from None
    if not isinstance(data, dict):
        raise RenderInputError(f"--mapping {path} must be a JSON object (material name -> class)")
    return data


def check_scene_files(cfg: RenderConfig) -> list[dict]:
    """Test-import every user file of ``cfg`` in a Blender child process (keeping bpy out of the driver):
    a file that fails to import or has no mesh with faces, or a mapping entry that matches no material
    or object of any file, is a RenderInputError naming the file (or the mapping entry)."""
    files = [s.path for s in cfg.sources if s.kind == "file"]
    request = json.dumps({"files": files, **cfg.import_options()})
    res = subprocess.run([sys.executable, "-m", "synth.blender.import_scene", "--check", request], cwd=ROOT,
                         capture_output=True, text=True)
    last = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    try:
        report = json.loads(last)
    except ValueError:
        raise RenderInputError(f"checking the scene files failed (exit code {res.returncode}): "
                               f"{res.stderr.strip()[-400:]}") from None
    if report.get("error"):
        raise RenderInputError(report["error"])
    return report.get("files", [])


def check_device_subprocess(device: str) -> None:
    """Ask Blender (in a child process, keeping bpy out of the driver) whether ``device`` exists."""
    code = ("import sys\nfrom synth.blender.devices import check_device, DeviceError\n"
            f"try:\n    check_device({device!r})\nexcept DeviceError as e:\n    print(e); sys.exit(3)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if res.returncode == 3:
        raise RenderInputError(res.stdout.strip().splitlines()[-1])
    if res.returncode != 0:
        raise RenderInputError(f"--device {device}: probing failed: {res.stderr.strip()[-300:]}")


# ---------------------------------------------------------------- plan.json


def plan_args(cfg: RenderConfig) -> dict:
    """The arguments that define the plan and its samples (what must match on resume)."""
    return json.loads(json.dumps(cfg.dataset_config()))


def plan_document(cfg: RenderConfig, units: list[Unit]) -> dict:
    per_scene = views_per_scene_range(cfg.scenes, cfg.samples)
    sources = [{"position": cfg.procedural_scenes + i, **s.to_dict()} for i, s in enumerate(cfg.sources)]
    return {"args": plan_args(cfg), "scenes": cfg.scenes, "samples": cfg.samples, "units": len(units),
            "procedural_scenes": cfg.procedural_scenes, "scene_sources": sources,
            "samples_per_scene": {"min": per_scene[0], "max": per_scene[1]},
            "unit_fields": ["shard_index", "scene_id", "view_start", "view_count"],
            "unit_table": [[u.shard_index, u.scene_id, u.view_start, u.view_count] for u in units]}


def read_plan(out: Path) -> dict:
    """plan.json of ``out``, checked for shape; PlanFileError (one line, names the file) if corrupt."""
    path = Path(out) / PLAN
    try:
        plan = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise RenderInputError(f"{out} has no {PLAN}: not a render job directory (run `cli.py render` or "
                               f"`cli.py render --dry-run` first)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:200]
        raise PlanFileError(f"{path} is corrupt or unreadable ({reason}); rerun `cli.py render` with the "
                            f"job's arguments and --force to write it again") from None
    table = plan.get("unit_table") if isinstance(plan, dict) else None
    if not (isinstance(plan, dict) and isinstance(plan.get("args"), dict) and isinstance(table, list)
            and plan.get("units") == len(table) and isinstance(plan.get("samples"), int)
            and all(isinstance(r, list) and len(r) == 4 for r in table[:1] + table[-1:])):
        raise PlanFileError(f"{path} is not a valid plan (fields missing or unit table incomplete); rerun "
                            f"`cli.py render` with the job's arguments and --force to write it again")
    return plan


def plan_table_units(plan: dict) -> list[Unit]:
    """The units of a plan document (``unit_table`` rows are shard_index, scene_id, view_start, view_count)."""
    new = tuple.__new__
    return [new(Unit, (r[1], r[2], r[3], r[0])) for r in plan["unit_table"]]


def write_plan(cfg: RenderConfig, units: list[Unit], *, force: bool = False) -> Path:
    """Write ``plan.json`` (compact JSON, atomic); refuse if one with other arguments exists, unless
    ``force``. A corrupt plan.json is refused with a one-line message (``force`` replaces it)."""
    path = Path(cfg.out) / PLAN
    if path.exists() and not force:
        old = read_plan(cfg.out)
        new = plan_args(cfg)
        if old["args"] != new:
            diff = sorted(k for k in set(old["args"]) | set(new) if old["args"].get(k) != new.get(k))
            raise PlanMismatchError(
                f"{path} was made with other arguments (differ in: {', '.join(diff)}); rerun with the "
                f"same arguments to resume, use another --out, or pass --force to replace the plan")
        return path
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(plan_document(cfg, units), separators=(",", ":")).encode())
    return path


# ---------------------------------------------------------------- dry run


def views_per_scene_range(n_scenes: int, n_samples: int) -> tuple[int, int]:
    base, extra = divmod(n_samples, n_scenes)
    return base, base + (1 if extra else 0)


def bytes_per_sample(cfg: RenderConfig) -> float:
    """Disk per sample, scaled from the measured full-resolution figure by pixel count."""
    return quality_mod.BYTES_PER_SAMPLE.get(cfg.quality, 0.0) * cfg.ranges.scale ** 2


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000.0
    return f"{n:.1f} PB"


def dry_run_text(cfg: RenderConfig, units: list[Unit] | int, seconds_per_sample: float | None = None,
                 measured_on: str = "2-core CPU (this project's reference machine)") -> str:
    """What the plan is and what it will cost, for people (``units``: the unit list or its length)."""
    n_units = units if isinstance(units, int) else len(units)
    lo, hi = views_per_scene_range(cfg.scenes, cfg.samples)
    sps = seconds_per_sample if seconds_per_sample is not None else \
        quality_mod.SECONDS_PER_SAMPLE.get(cfg.quality, 0.0) * cfg.ranges.scale ** 2
    core_hours = sps * cfg.samples * 2 / 3600.0  # measured with 2 cores busy
    disk = bytes_per_sample(cfg) * cfg.samples
    lines = [
        f"plan for {cfg.out}",
        f"  scenes            {cfg.scenes:,}" + (f" ({cfg.procedural_scenes:,} procedural, "
                                                      f"{len(cfg.sources):,} from --scenes-from)" if cfg.sources else ""),
        f"  samples           {cfg.samples:,}",
        f"  samples per scene {lo:,}" + (f" .. {hi:,}" if hi != lo else ""),
        f"  units (shards)    {n_units:,} of <= {cfg.unit_views:,} views each",
        f"  quality           {cfg.quality} at scale {cfg.ranges.scale:g}",
        f"  estimated time    {sps:.1f} s per sample on a {measured_on}"
        f" = {sps * cfg.samples / 3600:,.0f} machine-hours = {core_hours:,.0f} CPU core-hours",
        f"  estimated disk    {human_bytes(bytes_per_sample(cfg))} per sample = {human_bytes(disk)}",
    ]
    if cfg.sources:
        lines.append("  scene sources     position  scene id    source")
        shown = cfg.sources if len(cfg.sources) <= 20 else cfg.sources[:20]
        for i, s in enumerate(shown):
            lines.append(f"                    {cfg.procedural_scenes + i:>8,}  {s.scene_id:<10}  {s.kind} {s.path}")
        if len(shown) < len(cfg.sources):
            lines.append(f"                    ... and {len(cfg.sources) - len(shown):,} more (plan.json lists all)")
    return "\n".join(lines)


def pending_samples(units: list[Unit], done: set[str]) -> int:
    return sum(u.view_count for u in units if u.shard not in done)
