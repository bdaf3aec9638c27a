"""WebDataset-compatible tar shards, per-shard records and the dataset manifest.

Layout of a dataset directory::

    DIR/dataset.json          kind ("raw", "sensor") and the config that made the dataset
    DIR/<prefix>-000000.tar   shards; members <key>.<field>.<ext>, one sample's members adjacent
    DIR/records/<shard>.json  one record per finished shard: samples, keys, bytes, sha256
    DIR/manifest.json         dataset.json + all records, rebuilt under a file lock
    DIR/.tmp/                 partial files of writers still running (never read)

A shard exists under its final name only once it is complete (temp file, fsync, rename), and it counts
only once its record is written. So a killed writer leaves nothing a reader accepts, and writers on
many machines can share one directory: each writes its own records; the manifest is their merge.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import socket
import tarfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from synth import schema
from synth.version import code_version

FORMAT = "lingbot-depth-s"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATASET = "dataset.json"
RECORDS = "records"
TMP = ".tmp"


class DatasetError(Exception):
    """A dataset, shard or sample that cannot be read or written; the message names it."""


class ShardError(DatasetError):
    """A problem inside one shard; ``shard`` and ``key`` name where."""

    def __init__(self, shard: str, key: str | None, message: str):
        self.shard, self.key, self.message = shard, key, message
        super().__init__(f"{shard}" + (f" [{key}]" if key else "") + f": {message}")


# ---------------------------------------------------------------- small file utilities


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a unique temporary name and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shard_name(prefix: str, index: int) -> str:
    """``<prefix>-000123.tar``."""
    return f"{prefix}-{index:06d}.tar"


# ---------------------------------------------------------------- dataset metadata


def init_dataset(out_dir: Path, kind: str, config: dict, *, force: bool = False) -> dict:
    """Create ``out_dir`` with its dataset.json, or check that an existing one has the same config.

    Raises DatasetError if the directory holds a dataset made with a different kind or config
    (unless ``force``, which records the new config and keeps the shards already written).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RECORDS).mkdir(exist_ok=True)
    (out_dir / TMP).mkdir(exist_ok=True)
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
            "config": json.loads(json.dumps(config))}
    path = out_dir / DATASET
    if path.exists() and not force:
        old = json.loads(path.read_text())
        if old.get("kind") != kind or old.get("config") != info["config"]:
            changed = sorted(k for k in set(old.get("config", {})) | set(info["config"])
                             if old.get("config", {}).get(k) != info["config"].get(k))
            raise DatasetError(
                f"{out_dir} already holds a {old.get('kind')!r} dataset made with a different "
                f"config (differs in: {', '.join(changed) or 'kind'}); use a new directory or --force"
            )
        return old
    info["code_version"] = code_version()
    atomic_write_json(path, info)
    rebuild_manifest(out_dir)
    return info


def read_records(out_dir: Path) -> dict[str, dict]:
    """All shard records of a dataset, by shard file name."""
    records = {}
    for path in sorted((Path(out_dir) / RECORDS).glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"record {path} is not valid JSON: {exc}") from None
        records[rec["name"]] = rec
    return records


class _FileLock:
    """An exclusive ``flock`` on a lock file (works across processes and on NFSv4)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self):
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def rebuild_manifest(out_dir: Path) -> dict:
    """Merge dataset.json and every record into manifest.json (atomic, under a lock)."""
    out_dir = Path(out_dir)
    with _FileLock(out_dir / ".manifest.lock"):
        info = json.loads((out_dir / DATASET).read_text())
        records = read_records(out_dir)
        manifest = dict(info)
        manifest["shards"] = [records[name] for name in sorted(records)]
        manifest["samples"] = sum(r["samples"] for r in records.values())
        manifest["bytes"] = sum(r["bytes"] for r in records.values())
        atomic_write_json(out_dir / MANIFEST, manifest)
    return manifest


# ---------------------------------------------------------------- writing


class ShardWriter:
    """Write samples into one shard; the shard appears (atomically) only on :meth:`close`.

    ``required`` lists the fields every sample must have (validated before writing).
    ``extra`` is stored in the shard's record (e.g. the work unit that produced it).
    """

    def __init__(self, out_dir: Path, name: str, *, required: tuple[str, ...] = schema.RAW_FIELDS,
                 extra: dict | None = None):
        self.out_dir = Path(out_dir)
        if not (self.out_dir / DATASET).exists():
            raise DatasetError(f"{self.out_dir} is not an initialised dataset (call init_dataset)")
        self.name = name if name.endswith(".tar") else name + ".tar"
        self.required = required
        self.extra = extra or {}
        self.keys: list[str] = []
        self.tmp_path = (self.out_dir / TMP /
                         f"{self.name}.{socket.gethostname()}.{os.getpid()}.partial")
        self._file = open(self.tmp_path, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)
        self._closed = False

    def add(self, sample: dict) -> None:
        key = sample.get("__key__")
        if not key or "." in key or "/" in key:
            raise DatasetError(f"{self.name}: sample key {key!r} must be non-empty, without '.' or '/'")
        if key in self.keys:
            raise DatasetError(f"{self.name} [{key}]: duplicate sample key")
        problems = schema.validate_sample(sample, self.required)
        if problems:
            raise ShardError(self.name, key, "; ".join(problems))
        for field in sorted(f for f in sample if not f.startswith("__")):
            data = schema.encode_field(field, sample[field])
            info = tarfile.TarInfo(f"{key}.{field}.{schema.EXTENSIONS[field]}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            self._tar.addfile(info, io.BytesIO(data))
        self.keys.append(key)

    def close(self) -> dict:
        """Finish the shard: rename it into place, write its record, refresh the manifest."""
        if self._closed:
            raise DatasetError(f"{self.name}: writer already closed")
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._closed = True
        final = self.out_dir / self.name
        os.replace(self.tmp_path, final)
        record = {"name": self.name, "samples": len(self.keys), "keys": self.keys,
                  "bytes": final.stat().st_size, "sha256": sha256_file(final),
                  "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "host": socket.gethostname()} | self.extra
        atomic_write_json(self.out_dir / RECORDS / (self.name[:-4] + ".json"), record)
        rebuild_manifest(self.out_dir)
        return record

    def abort(self) -> None:
        """Drop the partial shard (nothing becomes visible)."""
        if not self._closed:
            self._closed = True
            self._tar.close()
            self._file.close()
            self.tmp_path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


# ---------------------------------------------------------------- reading


def iter_shard(path: Path, fields: Iterable[str] | None = None) -> Iterator[dict]:
    """Decoded samples of one shard, in order. ``fields`` limits which members are decoded.

    Raises ShardError naming the shard (and sample) for a truncated tar or an undecodable member.
    """
    path = Path(path)
    wanted = None if fields is None else set(fields) | {"meta"}
    sample: dict | None = None
    try:
        tar = tarfile.open(path, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise ShardError(path.name, None, f"cannot open as tar ({exc})") from None
    with tar:
        try:
            for member in tar:
                if not member.isfile():
                    continue
                key, _, rest = member.name.partition(".")
                field = rest.rsplit(".", 1)[0]
                if sample is not None and sample["__key__"] != key:
                    yield sample
                    sample = None
                if sample is None:
                    sample = {"__key__": key, "__shard__": path.name}
                if wanted is not None and field not in wanted:
                    continue
                data = tar.extractfile(member).read()
                if len(data) != member.size:
                    raise ShardError(path.name, key, f"member {member.name} is truncated")
                try:
                    sample[field] = schema.decode_field(field, data)
                except schema.SchemaError as exc:
                    raise ShardError(path.name, key, str(exc)) from None
        except tarfile.TarError as exc:
            raise ShardError(path.name, sample and sample["__key__"],
                             f"truncated or corrupt tar ({exc})") from None
    if sample is not None:
        yield sample


class Dataset:
    """A dataset directory as its manifest describes it."""

    def __init__(self, root: Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset directory {self.root} does not exist")
        path = self.root / MANIFEST
        if not path.exists():
            raise DatasetError(f"{self.root} has no {MANIFEST} (not a dataset, or nothing written yet)")
        try:
            self.manifest = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path} is not valid JSON: {exc}") from None

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "raw")

    @property
    def required_fields(self) -> tuple[str, ...]:
        return schema.RAW_FIELDS + (schema.SENSOR_FIELDS if self.kind == "sensor" else ())

    def shard_paths(self) -> list[Path]:
        return [self.root / s["name"] for s in self.manifest["shards"]]

    def __len__(self) -> int:
        return int(self.manifest.get("samples", 0))

    def iter_samples(self, fields: Iterable[str] | None = None) -> Iterator[dict]:
        for path in self.shard_paths():
            yield from iter_shard(path, fields)


def open_dataset(root: Path) -> Dataset:
    return Dataset(root)
