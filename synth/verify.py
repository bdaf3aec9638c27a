"""Check a dataset against its manifest and every sample against the schema."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from synth import schema
from synth.shards import MANIFEST, TMP, DatasetError, ShardError, iter_shard, open_dataset, sha256_file


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

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_dataset(root: Path, *, check_samples: bool = True, progress: bool = False) -> Report:
    """Every shard present with the manifest's size and sha256; every sample decodes and validates;
    sample counts match the records; no key appears twice in the dataset."""
    root = Path(root)
    report = Report([], [])
    try:
        ds = open_dataset(root)
    except DatasetError as exc:
        report.problems.append(Problem(None, None, str(exc)))
        return report
    required = ds.required_fields
    seen: dict[str, str] = {}
    shards = ds.manifest.get("shards", [])
    for rec in tqdm(shards, desc="verify", unit="shard", disable=not progress):
        name = rec["name"]
        path = root / name
        report.shards += 1
        if not path.exists():
            report.problems.append(Problem(name, None, f"listed in {MANIFEST} but missing on disk"))
            continue
        size = path.stat().st_size
        if size != rec["bytes"]:
            report.problems.append(Problem(name, None, f"size {size} B, manifest says {rec['bytes']} B"))
            continue
        if sha256_file(path) != rec["sha256"]:
            report.problems.append(Problem(name, None, "sha256 checksum mismatch with the manifest"))
            continue
        if not check_samples:
            continue
        count = 0
        try:
            for sample in iter_shard(path):
                count += 1
                key = sample["__key__"]
                if key in seen:
                    report.problems.append(Problem(name, key, f"duplicate sample key (also in {seen[key]})"))
                seen[key] = name
                report.problems += [Problem(name, key, p) for p in schema.validate_sample(sample, required)]
        except ShardError as exc:
            report.problems.append(Problem(exc.shard, exc.key, exc.message))
        if count != rec["samples"]:
            report.problems.append(Problem(name, None, f"{count} samples, manifest says {rec['samples']}"))
        report.samples += count
    listed = {rec["name"] for rec in shards}
    for path in sorted(root.glob("*.tar")):
        if path.name not in listed:
            report.warnings.append(f"{path.name} is on disk but not in {MANIFEST} (ignored by readers)")
    partial = list((root / TMP).glob("*.partial")) if (root / TMP).is_dir() else []
    if partial:
        report.warnings.append(f"{len(partial)} partial file(s) in {TMP}/ from interrupted writers "
                               "(ignored by readers; safe to delete when no writer runs)")
    if "samples" in ds.manifest and check_samples and ds.manifest["samples"] != report.samples:
        report.problems.append(Problem(None, None, f"manifest total {ds.manifest['samples']} samples, "
                                                   f"shards hold {report.samples}"))
    return report


def format_report(report: Report) -> str:
    lines = [f"PROBLEM {p}" for p in report.problems] + [f"warning {w}" for w in report.warnings]
    status = "OK" if report.ok else f"{len(report.problems)} problem(s)"
    lines.append(f"{status}: {report.shards} shard(s), {report.samples} sample(s) checked")
    return "\n".join(lines)


def report_json(report: Report) -> str:
    return json.dumps({"ok": report.ok, "shards": report.shards, "samples": report.samples,
                       "problems": [p.__dict__ for p in report.problems],
                       "warnings": report.warnings}, indent=1)
