"""Check a dataset against its records and every sample against the schema; repair what can be rebuilt.

Problems (exit 1): not a dataset; an unreadable record; a record whose shard is missing, has another size
or sha256, or another sample count; a sample that fails the schema or its checksum; a key in two shards;
a *stray* shard (a complete shard file that no record accounts for, older than ``STRAY_GRACE_S``: its
writer died between the rename and the record). Warnings (exit 0 unless ``strict``): partial files in
``.tmp/`` (writers still running, or dead ones; ``--repair`` removes those of dead processes) and stray
shards younger than the grace period (a writer about to write its record).

``repair``: rebuilds the index and manifest.json from the records; adopts a stray shard whose samples all
validate (writes its record) and otherwise moves it to ``quarantine/``; moves a shard that fails its
checksum or schema to ``quarantine/`` with its record (so a rerun of render/sgm redoes it); drops records
whose shard is missing; deletes partial files of dead writers.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from synth import schema
from synth.shards import (
    QUARANTINE,
    TMP,
    DatasetError,
    Layout,
    ShardError,
    describe_shard,
    iter_shard,
    layout_of,
    load_index,
    read_info,
    read_json,
    url_patterns,
    write_manifest,
    write_record,
)

STRAY_GRACE_S = 60.0
PARTIAL_MAX_AGE_S = 3600.0  # a partial of another host older than this counts as dead for --repair


@dataclass(frozen=True)
class Problem:
    """One problem found by :func:`verify_dataset`; ``shard``/``key`` say where (None = dataset)."""

    shard: str | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = self.shard or "dataset"
        if self.key:
            where += f" [{self.key}]"
        return f"{where}: {self.message}"


@dataclass
class Report:
    problems: list[Problem]
    warnings: list[str]
    shards: int = 0
    samples: int = 0
    repairs: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    strict: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not (self.strict and self.warnings)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def partial_files(root: Path) -> list[tuple[Path, bool]]:
    """Partial shard files in ``.tmp/`` and whether their writer is dead (this host: pid gone; other
    hosts: untouched for PARTIAL_MAX_AGE_S)."""
    tmp = Path(root) / TMP
    out = []
    if not tmp.is_dir():
        return out
    host = socket.gethostname()
    for path in tmp.glob("*.partial"):
        m = re.fullmatch(r".+\.tar\.(?P<host>.+)\.(?P<pid>\d+)\.partial", path.name)
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            continue
        if m and m.group("host") == host:
            dead = not _pid_alive(int(m.group("pid")))
        else:
            dead = age > PARTIAL_MAX_AGE_S
        out.append((path, dead))
    return out


def _quarantine(root: Path, *paths: Path) -> str:
    q = Path(root) / QUARANTINE
    q.mkdir(exist_ok=True)
    moved = []
    for p in paths:
        if p.exists():
            dest = q / p.name
            if dest.exists():
                dest = q / f"{p.name}.{int(time.time())}"
            os.replace(p, dest)
            moved.append(p.name)
    return ", ".join(moved)


def _adopt(root: Path, layout: Layout, path: Path, required: tuple[str, ...]) -> str | None:
    """Write the missing record of a complete stray shard when every sample validates; the reason if not."""
    try:
        record = describe_shard(path)
        samples = 0
        for s in iter_shard(path, record=record):
            problems = schema.validate_sample(s, required)
            if problems:
                return f"[{s['__key__']}] " + "; ".join(problems)
            samples += 1
    except ShardError as exc:
        return exc.message
    if not samples:
        return "holds no samples"
    write_record(root, record | {"adopted": True}, layout)
    return None


LEVELS = ("structure", "checksums", "samples")


def verify_dataset(root: Path, *, check_samples: bool = True, progress: bool = False, repair: bool = False,
                   strict: bool = False, level: str | None = None) -> Report:
    """Verify (and with ``repair`` mend) the dataset at ``root``; see the module docstring.

    ``level``: ``structure`` (records, shard presence and sizes, strays), ``checksums`` (+ every byte
    against the records' sha256), ``samples`` (+ every sample decoded and validated, unique keys; the
    default). ``check_samples=False`` means ``checksums``."""
    level = level or ("samples" if check_samples else "checksums")
    if level not in LEVELS:
        raise ValueError(f"unknown verify level {level!r}")
    check_samples = level == "samples"
    root = Path(root)
    report = Report([], [], strict=strict)
    try:
        info = read_info(root)
    except DatasetError as exc:
        report.problems.append(Problem(None, None, str(exc)))
        return report
    layout = layout_of(info)
    required = schema.RAW_FIELDS + (schema.SENSOR_FIELDS if info.get("kind") == "sensor" else ())
    entries, bad = load_index(root, info=info, write=repair)
    report.problems += [Problem(None, None, b) for b in bad]
    recorded = {e["name"] for e in entries}
    seen: dict[str, str] = {}
    for entry in tqdm(entries, desc="verify", unit="shard", disable=not progress):
        name = entry["name"]
        path, rec_path = layout.shard_path(root, name), layout.record_path(root, name)
        report.shards += 1
        if not path.exists():
            report.problems.append(Problem(name, None, "has a record but the shard is missing on disk"))
            if repair:
                rec_path.unlink(missing_ok=True)
                report.repairs.append(f"{name}: dropped the record of the missing shard (a rerun redoes it)")
            continue
        if level == "structure":
            size = path.stat().st_size
            if size != int(entry["bytes"]):
                report.problems.append(Problem(name, None, f"size {size} B, its record says {entry['bytes']} B"))
                if repair:
                    report.repairs.append(f"{name}: moved to {QUARANTINE}/ with its record "
                                          f"({_quarantine(root, path, rec_path)}); a rerun redoes it")
                continue
            report.samples += int(entry["samples"])
            continue
        try:
            record = read_json(rec_path, "record")
        except DatasetError as exc:
            report.problems.append(Problem(name, None, str(exc)))
            continue
        count = 0
        try:
            if check_samples:
                for sample in iter_shard(path, record=record):
                    count += 1
                    key = sample["__key__"]
                    if key in seen:
                        report.problems.append(Problem(name, key, f"duplicate sample key (also in {seen[key]})"))
                    seen[key] = name
                    report.problems += [Problem(name, key, p) for p in schema.validate_sample(sample, required)]
            else:
                for _ in iter_shard(path, (), record=record):
                    count += 1
        except ShardError as exc:
            report.problems.append(Problem(exc.shard, exc.key, exc.message))
            if repair:
                report.repairs.append(f"{name}: moved to {QUARANTINE}/ with its record "
                                      f"({_quarantine(root, path, rec_path)}); a rerun redoes it")
            continue
        if count != int(record["samples"]):
            report.problems.append(Problem(name, None, f"{count} samples, its record says {record['samples']}"))
        report.samples += count
    _check_strays(root, layout, recorded, required, report, repair)
    for path, dead in partial_files(root):
        if repair and dead:
            path.unlink(missing_ok=True)
            report.repairs.append(f"{TMP}/{path.name}: removed the partial file of a dead writer")
        else:
            report.warnings.append(f"{TMP}/{path.name}: partial file of a writer that is "
                                   f"{'dead (verify --repair removes it)' if dead else 'still running'}")
    if repair:
        manifest = write_manifest(root)
        report.repairs.append(f"rebuilt the index and manifest.json ({manifest['shards']} shards, "
                              f"{manifest['samples']} samples)")
        report.urls = manifest["urls"]
    else:
        report.urls = url_patterns(root, sorted(recorded & {e["name"] for e in entries}), layout)
    return report


def _check_strays(root: Path, layout: Layout, recorded: set[str], required: tuple[str, ...], report: Report,
                  repair: bool) -> None:
    for path in layout.shard_files(root):
        if path.name in recorded:
            continue
        age = time.time() - path.stat().st_mtime
        if age < STRAY_GRACE_S:
            report.warnings.append(f"{path.name}: shard without a record, written {age:.0f} s ago "
                                   f"(a writer about to record it?)")
            continue
        report.problems.append(Problem(path.name, None, "stray shard: on disk but no record accounts for it "
                                                        "(its writer died before recording it)"))
        if repair:
            reason = _adopt(root, layout, path, required)
            if reason is None:
                report.repairs.append(f"{path.name}: every sample validates; wrote its record (adopted)")
            else:
                report.repairs.append(f"{path.name}: moved to {QUARANTINE}/ ({reason})")
                _quarantine(root, path)


def format_report(report: Report, *, urls: bool = True) -> str:
    lines = [f"PROBLEM {p}" for p in report.problems] + [f"warning {w}" for w in report.warnings]
    lines += [f"repaired {r}" for r in report.repairs]
    if urls and report.urls:
        shown = report.urls[:20]
        lines.append("webdataset urls: " + " ".join(shown)
                     + (f" ... ({len(report.urls) - 20} more)" if len(report.urls) > 20 else ""))
    if report.ok:
        status = "OK"
    elif report.problems:
        status = f"{len(report.problems)} problem(s)"
    else:
        status = f"{len(report.warnings)} warning(s) (--strict)"
    lines.append(f"{status}: {report.shards} shard(s), {report.samples} sample(s) checked")
    return "\n".join(lines)


def report_json(report: Report) -> str:
    return json.dumps({"ok": report.ok, "shards": report.shards, "samples": report.samples,
                       "problems": [p.__dict__ for p in report.problems], "warnings": report.warnings,
                       "repairs": report.repairs, "urls": report.urls}, indent=1)


def repair_dataset(root: Path, progress: bool = False) -> Report:
    """What a rerun of render/sgm does first: ``verify --repair`` at the structure level (index, manifest,
    strays, records of missing shards, partials of dead writers), without reading every byte."""
    return verify_dataset(root, level="structure", progress=progress, repair=True)

