"""Describe many scenes: failures are collected (scene, reason) while the others carry on; summaries."""
from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scenes.generate import SceneGenerationError, generate
from scenes.layout import ROOM_TYPES
from scenes.materials import GROUPS, MATERIAL_CLASSES, classes_with_groups
from scenes.model import Scene


@dataclass
class SceneRequest:
    """One scene to describe: id plus optional overrides (room type, exact clutter count)."""

    scene_id: int
    room_type: str | None = None
    clutter: int | None = None


@dataclass
class BatchResult:
    scenes: list[Scene] = field(default_factory=list)
    failures: list[tuple[int | str, str]] = field(default_factory=list)


def describe_many(requests: Iterable[SceneRequest], seed: int,
                  on_scene: Callable[[Scene], None] | None = None,
                  progress: Callable[[], None] | None = None) -> BatchResult:
    """Generate every request; a failing scene is recorded with its reason and the batch goes on."""
    result = BatchResult()
    for req in requests:
        try:
            scene = generate(req.scene_id, seed, room_type=req.room_type, clutter=req.clutter)
            if on_scene is not None:
                on_scene(scene)
            result.scenes.append(scene)
        except (SceneGenerationError, ValueError, OSError) as exc:
            result.failures.append((req.scene_id, str(exc)))
        if progress is not None:
            progress()
    return result


def scene_filename(scene_id: int) -> str:
    return f"scene_{scene_id:06d}.json"


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def summarise(scenes: list[Scene], requested: int) -> dict:
    """``{"scenes": requested, "material_classes": {class or group: #scenes containing it},
    "room_types": {type: #scenes}, ...}`` (walls/floor/ceiling included in the class counts)."""
    classes: Counter = Counter()
    rooms: Counter = Counter()
    shapes: Counter = Counter()
    for s in scenes:
        classes.update(classes_with_groups(s.classes_present(include_shell=True)))
        rooms[s.room.room_type] += 1
        shapes[s.room.shape] += 1
    return {
        "scenes": requested,
        "generated": len(scenes),
        "material_classes": {k: classes.get(k, 0) for k in (*MATERIAL_CLASSES, *GROUPS)},
        "room_types": {k: rooms.get(k, 0) for k in ROOM_TYPES},
        "room_shapes": dict(sorted(shapes.items())),
        "objects": sum(len(s.objects) for s in scenes),
        "lights": sum(len(s.lights) for s in scenes),
        "daylight_scenes": sum(1 for s in scenes if s.daylight),
    }


def format_summary(summary: dict) -> str:
    """The summary as an aligned text table (counts and share of generated scenes)."""
    n = max(1, summary["generated"])
    lines = [f"scenes requested {summary['scenes']}, generated {summary['generated']}, "
             f"objects {summary['objects']}, lights {summary['lights']}, daylight {summary['daylight_scenes']}",
             f"{'material class / group':<24}{'scenes':>8}{'share':>8}"]
    for k, v in summary["material_classes"].items():
        lines.append(f"{k:<24}{v:>8}{100 * v / n:>7.0f}%")
    lines.append(f"{'room type':<24}{'scenes':>8}{'share':>8}")
    for k, v in summary["room_types"].items():
        lines.append(f"{k:<24}{v:>8}{100 * v / n:>7.0f}%")
    return "\n".join(lines)
