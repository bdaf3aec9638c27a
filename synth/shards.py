"""WebDataset-compatible tar shards, per-shard records, the incremental index and the manifest.

Layout of a dataset directory (format version 2)::

    DIR/dataset.json                       kind ("raw", "sensor"), format version, the config that made it
    DIR/shards/0000/raw-000000.tar         shards, <= 1,000 per folder (folder = index // 1000);
                                           members <key>.<field>.<ext>, one sample's members adjacent
    DIR/records/0000/raw-000000.json       one record per finished shard: samples, keys, bytes, sha256,
                                           per-sample sha256, per-sample timings, who wrote it
    DIR/index/0000.json                    merged records of one folder (a cache, rebuilt when stale)
    DIR/manifest.json                      summary: totals, folders, WebDataset URL patterns (a cache)
    DIR/.tmp/                              partial files of writers still running (never read)

A shard exists under its final name only once it is complete (temp file, fsync, rename), and it counts
only once its record is written. A writer writes its shard and its record and nothing shared, so closing a
shard costs the same at shard 10 and at shard 300,000, and writers on many machines can share one
directory. The index and the manifest are derived views, built when someone needs them (readers,
``verify``, ``status``, the end of a run): a folder's index is rebuilt only when its records folder
changed, so updating the view after new shards costs the new folders, not the whole job.

Format version 1 (flat ``DIR/<shard>.tar`` and ``DIR/records/<shard>.json``) is still read.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import tarfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lbd.errors import UserError
from lbd.files import sha256_file
from synth import schema
from synth.version import code_version

FORMAT = "lingbot-depth-s"
FORMAT_VERSION = 2
# Bump when what given arguments put into a sample changes (renderer, plan rules, encoding): a directory
# started by another value is not resumed into (see init_dataset).
SAMPLE_RULES = 3
FOLDER_SIZE = 1000
MANIFEST = "manifest.json"
DATASET = "dataset.json"
SHARDS = "shards"
RECORDS = "records"
INDEX = "index"
TMP = ".tmp"
QUARANTINE = "quarantine"
_SHARD_NAME = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9_]*)-(?P<index>[0-9]{6,})\.tar")


class DatasetError(UserError):
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
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj, *, indent: int | None = 1) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=indent, sort_keys=True) + "\n").encode())


def read_json(path: Path, what: str = "file"):
    """Parsed JSON of ``path``; DatasetError naming the file when it is unreadable or corrupt."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DatasetError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{what} {path} is unreadable or not valid JSON ({exc})") from None


# ---------------------------------------------------------------- names and layout


def shard_name(prefix: str, index: int) -> str:
    """``<prefix>-000123.tar``: the one shard-name format (the unit index of a raw render)."""
    return f"{prefix}-{index:06d}.tar"


def parse_shard_name(name: str) -> tuple[str, int]:
    """``raw-000123.tar`` -> ("raw", 123); DatasetError for anything else."""
    m = _SHARD_NAME.fullmatch(name)
    if not m:
        raise DatasetError(f"shard name {name!r} is not <prefix>-<6+ digits>.tar")
    return m.group("prefix"), int(m.group("index"))


def folder_of(name: str) -> str:
    """Folder of a shard: ``raw-001234.tar`` -> ``0001`` (FOLDER_SIZE shards per folder)."""
    return f"{parse_shard_name(name)[1] // FOLDER_SIZE:04d}"


@dataclass(frozen=True)
class Layout:
    """Where shards and records of one format version live, relative to the dataset root."""

    version: int

    @property
    def nested(self) -> bool:
        return self.version >= 2

    def shard_path(self, root: Path, name: str) -> Path:
        return Path(root) / SHARDS / folder_of(name) / name if self.nested else Path(root) / name

    def record_path(self, root: Path, name: str) -> Path:
        stem = name[:-4] + ".json"
        return Path(root) / RECORDS / folder_of(name) / stem if self.nested else Path(root) / RECORDS / stem

    def record_folders(self, root: Path) -> list[tuple[str, Path]]:
        """(folder name, records folder) pairs; version 1 has one flat folder, named ``flat``."""
        rec = Path(root) / RECORDS
        if not self.nested:
            return [("flat", rec)] if rec.is_dir() else []
        if not rec.is_dir():
            return []
        return sorted((e.name, Path(e.path)) for e in os.scandir(rec) if e.is_dir() and e.name.isdigit())

    def shard_files(self, root: Path) -> Iterator[Path]:
        """Every ``*.tar`` under the shard folders (complete files only: partials live in .tmp)."""
        if not self.nested:
            yield from sorted(Path(root).glob("*.tar"))
            return
        base = Path(root) / SHARDS
        if base.is_dir():
            for folder in sorted(base.iterdir()):
                if folder.is_dir():
                    yield from sorted(folder.glob("*.tar"))


def read_info(root: Path) -> dict:
    """dataset.json of ``root``; DatasetError when it is not a dataset."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset directory {root} does not exist")
    if not (root / DATASET).exists():
        raise DatasetError(f"{root} is not a dataset: it has no {DATASET}")
    info = read_json(root / DATASET, "dataset file")
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise DatasetError(f"{root / DATASET} is not a {FORMAT} dataset file")
    version = int(info.get("format_version", 1))
    if version > FORMAT_VERSION:
        raise DatasetError(f"{root} has data format version {version}; this code reads <= {FORMAT_VERSION} "
                           f"(update the code)")
    return info


def layout_of(info: dict) -> Layout:
    return Layout(int(info.get("format_version", 1)))


def recorded_names(root: Path) -> set[str]:
    """Names of every shard that has a record: directory listings only, no file is read."""
    info = read_info(root)
    names = set()
    for _, folder in layout_of(info).record_folders(root):
        names.update(e.name[:-5] + ".tar" for e in os.scandir(folder)
                     if e.name.endswith(".json") and not e.name.startswith("."))
    return names


def has_record(root: Path, name: str) -> bool:
    """Whether shard ``name`` is finished (its record exists): one stat."""
    return Layout(FORMAT_VERSION).record_path(root, name).exists() or \
        Layout(1).record_path(root, name).exists()


def read_record(root: Path, name: str, layout: Layout | None = None) -> dict:
    layout = layout or layout_of(read_info(root))
    return read_json(layout.record_path(root, name), "record")


# ---------------------------------------------------------------- dataset metadata


def init_dataset(out_dir: Path, kind: str, config: dict, *, force: bool = False) -> dict:
    """Create ``out_dir`` with its dataset.json, or check that an existing one is compatible.

    Raises DatasetError if the directory holds a dataset of another data format version (never mixed),
    or made with another kind, config or sample rules (unless ``force``, which records the new config
    and keeps the shards already written).
    """
    from lbd.errors import check_writable_dir

    out_dir = check_writable_dir(Path(out_dir))
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, "sample_rules": SAMPLE_RULES, "kind": kind,
            "config": json.loads(json.dumps(config))}
    path = out_dir / DATASET
    if path.exists():
        try:
            old = read_info(out_dir)
        except DatasetError as exc:
            if not force:
                raise DatasetError(f"{exc}; use a new directory, or --force to start it again") from None
            old = None
        if old is not None:
            if int(old.get("format_version", 1)) != FORMAT_VERSION:
                raise DatasetError(
                    f"{out_dir} holds a dataset of data format version {old.get('format_version', 1)}; this "
                    f"code writes version {FORMAT_VERSION} and never mixes them: use a new directory")
            if not force:
                if old.get("sample_rules") != SAMPLE_RULES:
                    raise DatasetError(
                        f"{out_dir} was started by code with sample rules {old.get('sample_rules')} "
                        f"({old.get('code_version')}); this code makes samples by rules {SAMPLE_RULES}, so "
                        f"the shards would differ: use a new directory, or --force to mix them anyway")
                if old.get("kind") != kind or old.get("config") != info["config"]:
                    changed = sorted(k for k in set(old.get("config", {})) | set(info["config"])
                                     if old.get("config", {}).get(k) != info["config"].get(k))
                    raise DatasetError(
                        f"{out_dir} already holds a {old.get('kind')!r} dataset made with a different "
                        f"config (differs in: {', '.join(changed) or 'kind'}); use a new directory or --force")
                _ensure_dirs(out_dir)
                return old
    info["code_version"] = code_version()
    _ensure_dirs(out_dir)
    atomic_write_json(path, info)
    return info


def _ensure_dirs(out_dir: Path) -> None:
    for sub in (SHARDS, RECORDS, TMP):
        (out_dir / sub).mkdir(exist_ok=True)


# ---------------------------------------------------------------- index and manifest


INDEX_FIELDS = ("name", "samples", "bytes", "sha256", "written_at")


def _build_folder_index(layout: Layout, root: Path, folder: str, rec_dir: Path, stamp: int) -> dict:
    entries, bad = [], []
    for e in sorted(os.scandir(rec_dir), key=lambda e: e.name):
        if not e.name.endswith(".json") or e.name.startswith("."):
            continue
        try:
            rec = json.loads(Path(e.path).read_text())
            entry = {k: rec[k] for k in INDEX_FIELDS if k in rec}
            if entry.get("name") != e.name[:-5] + ".tar" or "sha256" not in entry or "bytes" not in entry:
                raise ValueError("fields or name do not match the file name")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            bad.append(f"record {e.path} is unreadable or invalid ({exc})")
            continue
        entries.append(entry)
    return {"folder": folder, "stamp": stamp, "records": entries, "bad": bad}


def _build_folder_indexes(stale: list[tuple]) -> Iterator[dict]:
    """Folder indexes to rebuild; many of them (a first build of a big job) in parallel processes."""
    workers = min(os.cpu_count() or 1, 8, len(stale) // 4)
    if workers < 2:
        yield from (_build_folder_index(*args) for args in stale)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_build_folder_index, *zip(*stale), chunksize=4)


def load_index(root: Path, *, info: dict | None = None, write: bool = True) -> tuple[list[dict], list[str]]:
    """Every shard's index entry (name, samples, bytes, sha256, written_at), sorted by name, and the
    records that could not be read. Folder indexes whose records folder changed since they were built
    are rebuilt (and written back when ``write`` and the directory is writable)."""
    root = Path(root)
    info = info or read_info(root)
    layout = layout_of(info)
    entries: list[dict] = []
    bad: list[str] = []
    index_dir = root / INDEX
    folders: dict[str, dict] = {}
    stale = []
    for folder, rec_dir in layout.record_folders(root):
        stamp = rec_dir.stat().st_mtime_ns
        cached = None
        try:
            cached = json.loads((index_dir / f"{folder}.json").read_text())
        except (OSError, ValueError):
            pass
        if isinstance(cached, dict) and cached.get("stamp") == stamp and cached.get("folder") == folder \
                and time.time_ns() - stamp > 2_000_000_000:  # a folder changed < 2 s ago may change again
            folders[folder] = cached
        else:
            stale.append((layout, root, folder, rec_dir, stamp))
    for built in _build_folder_indexes(stale):
        folders[built["folder"]] = built
        if write:
            try:
                index_dir.mkdir(exist_ok=True)
                atomic_write_json(index_dir / f"{built['folder']}.json", built, indent=None)
            except OSError:
                pass  # a read-only dataset: the index lives in memory only
    for folder in sorted(folders):
        entries += folders[folder]["records"]
        bad += folders[folder].get("bad", [])
    entries.sort(key=lambda e: e["name"])
    return entries, bad


def url_patterns(root: Path, names: Iterable[str], layout: Layout) -> list[str]:
    """WebDataset brace-expansion URLs covering exactly ``names``: one per run of consecutive indices
    within a folder (so one per folder for a finished job)."""
    runs: list[tuple[str, int, int, str]] = []  # prefix, first, last, folder
    for prefix, idx in sorted(parse_shard_name(n) for n in names):
        folder = f"{idx // FOLDER_SIZE:04d}" if layout.nested else ""
        if runs and runs[-1][0] == prefix and runs[-1][2] == idx - 1 and runs[-1][3] == folder:
            runs[-1] = (prefix, runs[-1][1], idx, folder)
        else:
            runs.append((prefix, idx, idx, folder))
    out = []
    for prefix, lo, hi, folder in runs:
        base = Path(root) / SHARDS / folder if layout.nested else Path(root)
        digits = max(6, len(str(hi)))
        body = f"{lo:0{digits}d}" if lo == hi else f"{{{lo:0{digits}d}..{hi:0{digits}d}}}"
        out.append(str(base / f"{prefix}-{body}.tar"))
    return out


def write_manifest(root: Path) -> dict:
    """Rebuild the index (incrementally) and write manifest.json: the dataset info, totals, per-folder
    counts and the WebDataset URL patterns. Never needed by readers; this is the repair of both views."""
    root = Path(root)
    info = read_info(root)
    entries, bad = load_index(root, info=info)
    layout = layout_of(info)
    folders: dict[str, dict] = {}
    for e in entries:
        f = folders.setdefault(folder_of(e["name"]) if layout.nested else "flat",
                               {"shards": 0, "samples": 0, "bytes": 0})
        f["shards"] += 1
        f["samples"] += int(e["samples"])
        f["bytes"] += int(e["bytes"])
    manifest = dict(info) | {
        "shards": len(entries), "samples": sum(int(e["samples"]) for e in entries),
        "bytes": sum(int(e["bytes"]) for e in entries), "folders": folders,
        "urls": url_patterns(root, [e["name"] for e in entries], layout), "bad_records": bad,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write_json(root / MANIFEST, manifest)
    return manifest


def index_summary(root: Path) -> dict:
    """Totals of the records (from the incremental index) and their ``written_at`` times, for status."""
    entries, bad = load_index(root)
    return {"shards": len(entries), "samples": sum(int(e["samples"]) for e in entries),
            "bytes": sum(int(e["bytes"]) for e in entries),
            "written_at": sorted(e["written_at"] for e in entries if "written_at" in e), "bad_records": bad}


# ---------------------------------------------------------------- writing


class _HashingWriter(io.RawIOBase):
    """A write-only file object that counts and hashes what passes through it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.f.write(b)
        self.h.update(b)
        self.n += len(b)
        return len(b)


def _member_digest(h, name: str, data: bytes) -> None:
    h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little"))
    h.update(data)


class ShardWriter:
    """Write samples into one shard; the shard appears (atomically) only on :meth:`close`.

    ``required`` lists the fields every sample must have (validated before writing); fields that are
    derived on decode (``schema.DERIVED_FIELDS``) are not stored. ``extra`` is stored in the shard's record
    (e.g. the work unit that produced it); per-sample ``timings`` passed to :meth:`add` go to the record,
    not into the sample, so the shard's bytes are reproducible.
    """

    def __init__(self, out_dir: Path, name: str, *, required: tuple[str, ...] = schema.RAW_FIELDS,
                 extra: dict | None = None):
        self.out_dir = Path(out_dir)
        if not (self.out_dir / DATASET).exists():
            raise DatasetError(f"{self.out_dir} is not an initialised dataset (call init_dataset)")
        self.layout = layout_of(read_info(self.out_dir))
        self.name = name if name.endswith(".tar") else name + ".tar"
        parse_shard_name(self.name)
        self.required = required
        self.extra = extra or {}
        self.keys: list[str] = []
        self.sample_sha256: list[str] = []
        self.timings: list[dict] = []
        (self.out_dir / TMP).mkdir(exist_ok=True)
        self.tmp_path = (self.out_dir / TMP /
                         f"{self.name}.{socket.gethostname()}.{os.getpid()}.partial")
        self._file = open(self.tmp_path, "wb")
        self._hashing = _HashingWriter(self._file)
        self._tar = tarfile.open(fileobj=self._hashing, mode="w|", format=tarfile.PAX_FORMAT)
        self._closed = False

    def add(self, sample: dict, timings: dict | None = None) -> None:
        key = sample.get("__key__")
        if not key or "." in key or "/" in key:
            raise DatasetError(f"{self.name}: sample key {key!r} must be non-empty, without '.' or '/'")
        if key in self.keys:
            raise DatasetError(f"{self.name} [{key}]: duplicate sample key")
        problems = schema.validate_sample(sample, self.required)
        if problems:
            raise ShardError(self.name, key, "; ".join(problems))
        derived = set(schema.DERIVED_FIELDS)
        h = hashlib.sha256()
        for field in sorted(f for f in sample if not f.startswith("__") and f not in derived):
            data = schema.encode_field(field, sample[field])
            member = f"{key}.{field}.{schema.EXTENSIONS[field]}"
            info = tarfile.TarInfo(member)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            self._tar.addfile(info, io.BytesIO(data))
            _member_digest(h, member, data)
        self.keys.append(key)
        self.sample_sha256.append(h.hexdigest())
        self.timings.append({k: round(float(v), 4) for k, v in (timings or {}).items()})

    def close(self) -> dict:
        """Finish the shard: fsync, rename it into its folder, write its record. Nothing shared."""
        if self._closed:
            raise DatasetError(f"{self.name}: writer already closed")
        self._closed = True
        try:
            self._tar.close()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            final = self.layout.shard_path(self.out_dir, self.name)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp_path, final)
        except BaseException:
            self._file.close()
            self.tmp_path.unlink(missing_ok=True)
            raise
        record = {"name": self.name, "samples": len(self.keys), "keys": self.keys,
                  "bytes": self._hashing.n, "sha256": self._hashing.h.hexdigest(),
                  "sample_sha256": self.sample_sha256, "timings": timings_by_stage(self.timings)} | self.extra
        return write_record(self.out_dir, record, self.layout)

    def abort(self) -> None:
        """Drop the partial shard (nothing becomes visible)."""
        if not self._closed:
            self._closed = True
            try:
                self._tar.close()
            except Exception:  # noqa: BLE001 - the tar is thrown away anyway (e.g. a full disk)
                pass
            self._file.close()
            self.tmp_path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def timings_by_stage(per_sample: list[dict]) -> dict[str, list]:
    """[{stage: s}, ...] per sample -> {stage: [s per sample, aligned with the record's keys]} (None where a
    sample has no figure): the compact form records keep (seconds)."""
    stages = sorted({k for t in per_sample for k in t})
    return {s: [t.get(s) for t in per_sample] for s in stages}


def sample_sums(record: dict) -> dict[str, str] | None:
    """{key: sha256} of a record's samples (None for records without per-sample sums)."""
    sums = record.get("sample_sha256")
    if not sums:
        return None
    return dict(zip(record["keys"], sums)) if isinstance(sums, list) else dict(sums)


def write_record(root: Path, record: dict, layout: Layout | None = None) -> dict:
    """Write a shard's record (atomic): the moment the shard starts to count. Adds who and when."""
    layout = layout or layout_of(read_info(root))
    record = dict(record) | {"written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             "host": socket.gethostname(), "code_version": code_version()}
    path = layout.record_path(root, record["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record, indent=None)
    return record


def describe_shard(path: Path) -> dict:
    """The checksum part of a record, computed from a complete shard file (for adopting a stray shard
    whose writer died before recording it): name, samples, keys, bytes, sha256, per-sample sha256."""
    path = Path(path)
    reader_raw = open(path, "rb")
    with reader_raw:
        reader = _HashingReader(reader_raw)
        sums: list[str] = []
        keys: list[str] = []
        digest = None
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    key, _ = _split_member(member.name)
                    if not keys or keys[-1] != key:
                        if digest is not None:
                            sums.append(digest.hexdigest())
                        keys.append(key)
                        digest = hashlib.sha256()
                    _member_digest(digest, member.name, tar.extractfile(member).read())
        except tarfile.TarError as exc:
            raise ShardError(path.name, keys[-1] if keys else None, f"truncated or corrupt tar ({exc})") from None
        if digest is not None:
            sums.append(digest.hexdigest())
        reader.drain()
    return {"name": path.name, "samples": len(keys), "keys": keys, "bytes": reader.n,
            "sha256": reader.h.hexdigest(), "sample_sha256": sums}


# ---------------------------------------------------------------- reading


class _HashingReader(io.RawIOBase):
    """A read-only file object that hashes and counts what is read through it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        b = self.f.read(size)
        self.h.update(b)
        self.n += len(b)
        return b

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _split_member(name: str) -> tuple[str, str]:
    key, _, rest = name.partition(".")
    return key, rest.rsplit(".", 1)[0]


def iter_shard(path: Path, fields: Iterable[str] | None = None, *, record: dict | None = None,
               verify: bool = True) -> Iterator[dict]:
    """Decoded samples of one shard, in order. ``fields`` limits which members are decoded (derived
    fields such as ``disparity`` are computed when asked for, from stored ones).

    With a ``record`` (the shard's record): the size is always checked first; with ``verify`` each sample's
    bytes are checked against the record's per-sample sha256 *before* it is decoded and yielded, and the
    whole file against its sha256 at the end (records without per-sample sums: the whole file is checked
    before the first sample). A mismatch raises ShardError naming the shard: data that fails its
    checksum is never yielded. A truncated tar or an undecodable member raises ShardError too.
    """
    path = Path(path)
    wanted = None if fields is None else set(fields) | {"meta"}
    read = schema.fields_to_read(wanted)
    name = path.name
    if record is not None:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ShardError(name, None, f"cannot read ({exc.strerror})") from None
        if size != int(record["bytes"]):
            raise ShardError(name, None, f"size {size} B, its record says {record['bytes']} B "
                                         f"(changed after it was written; see `cli.py verify`)")
    sums = sample_sums(record) if (record is not None and verify) else None
    if record is not None and verify and not sums and sha256_file(path) != record["sha256"]:
        raise ShardError(name, None, "sha256 checksum mismatch with its record (corrupt shard)")
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise ShardError(name, None, f"cannot open ({exc.strerror})") from None
    with raw:
        reader = _HashingReader(raw) if sums else None
        key = None
        try:
            tar = tarfile.open(fileobj=reader, mode="r|") if sums else tarfile.open(fileobj=raw, mode="r:")
            with tar:
                members: dict[str, bytes] = {}
                digest = hashlib.sha256()
                for member in tar:
                    if not member.isfile():
                        continue
                    mkey, field = _split_member(member.name)
                    if key is not None and mkey != key:
                        yield _finish(name, key, members, digest, sums, wanted)
                        members, digest = {}, hashlib.sha256()
                    key = mkey
                    need = read is None or field in read
                    if not need and sums is None:
                        continue  # random access: the member is skipped, not read
                    data = tar.extractfile(member).read()
                    if len(data) != member.size:
                        raise ShardError(name, key, f"member {member.name} is truncated")
                    if sums is not None:
                        _member_digest(digest, member.name, data)
                    if need:
                        members[field] = data
                if key is not None:
                    yield _finish(name, key, members, digest, sums, wanted)
        except tarfile.TarError as exc:
            raise ShardError(name, key, f"truncated or corrupt tar ({exc})") from None
        if sums is not None:
            reader.drain()
            if reader.h.hexdigest() != record["sha256"]:
                raise ShardError(name, None, "sha256 checksum mismatch with its record (corrupt shard)")


def _finish(shard: str, key: str, members: dict[str, bytes], digest, sums: dict | None,
            wanted: set[str] | None) -> dict:
    """Check one sample's bytes against its record (when ``sums``), then decode it."""
    if sums is not None:
        want = sums.get(key)
        if want is None:
            raise ShardError(shard, key, "sample not in the shard's record (corrupt shard)")
        if digest.hexdigest() != want:
            raise ShardError(shard, key, "sha256 checksum mismatch with its record (corrupt sample)")
    sample: dict = {"__key__": key, "__shard__": shard}
    for field, data in members.items():
        try:
            sample[field] = schema.decode_field(field, data)
        except schema.SchemaError as exc:
            raise ShardError(shard, key, str(exc)) from None
    schema.derive_fields(sample, wanted)
    if wanted is not None:  # drop sources read only to derive a wanted field
        for field in [f for f in sample if not f.startswith("__") and f not in wanted]:
            del sample[field]
    return sample


class Dataset:
    """A dataset directory: its dataset.json and the shards that have records (via the index).

    ``verify`` (default True): every shard read is checked against its record (see :func:`iter_shard`);
    False checks sizes only (faster, for trusted local data).
    """

    def __init__(self, root: Path, *, verify: bool = True):
        self.root = Path(root)
        self.info = read_info(self.root)
        self.layout = layout_of(self.info)
        self.verify = verify
        self.records, self.bad_records = load_index(self.root, info=self.info)

    @property
    def kind(self) -> str:
        return self.info.get("kind", "raw")

    @property
    def config(self) -> dict:
        return self.info.get("config", {})

    @property
    def manifest(self) -> dict:
        """dataset.json with the shard entries and totals (what manifest.json held in format 1)."""
        return dict(self.info) | {"shards": self.records, "samples": len(self),
                                  "bytes": sum(int(r["bytes"]) for r in self.records)}

    @property
    def required_fields(self) -> tuple[str, ...]:
        return schema.RAW_FIELDS + (schema.SENSOR_FIELDS if self.kind == "sensor" else ())

    def shard_path(self, name: str) -> Path:
        return self.layout.shard_path(self.root, name)

    def record_path(self, name: str) -> Path:
        return self.layout.record_path(self.root, name)

    def shard_paths(self) -> list[Path]:
        return [self.shard_path(r["name"]) for r in self.records]

    def read_record(self, name: str) -> dict:
        return read_json(self.record_path(name), "record")

    def urls(self) -> list[str]:
        """WebDataset brace-expansion URL patterns of every recorded shard."""
        return url_patterns(self.root, [r["name"] for r in self.records], self.layout)

    def keys(self) -> list[str]:
        """Every sample key, in shard order (reads each record)."""
        return [k for r in self.records for k in self.read_record(r["name"])["keys"]]

    def __len__(self) -> int:
        return sum(int(r["samples"]) for r in self.records)

    def iter_shard(self, name: str, fields: Iterable[str] | None = None) -> Iterator[dict]:
        """Samples of one recorded shard, checked against its record."""
        yield from iter_shard(self.shard_path(name), fields, record=self.read_record(name), verify=self.verify)

    def iter_samples(self, fields: Iterable[str] | None = None) -> Iterator[dict]:
        for rec in self.records:
            yield from self.iter_shard(rec["name"], fields)


def open_dataset(root: Path, *, verify: bool = True) -> Dataset:
    return Dataset(root, verify=verify)
