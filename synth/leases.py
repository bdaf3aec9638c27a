"""Who is rendering what (pure Python): the output lock, unit leases with a heartbeat, failed units,
and the cleanup of what dead processes left behind.

* ``DIR/.render.lock`` (O_EXCL, pid + host) refuses a second concurrent local or Ray run; a lock left by
  a dead process of this host is stale and replaced. Array slices share a directory and do not take it.
* ``DIR/units/unit-000123.json`` is a unit's *state* while it is not done (removed when its shard is
  recorded): ``running`` (a lease: host, pid, ``since`` and ``heartbeat`` times) or ``failed``
  (attempts, last reason). The first lease of a unit is taken with ``link()`` (atomic, fails if the
  name exists, on NFS too), so of two executors exactly one gets it.
* The process that holds a lease (the local driver for its workers, the Ray task) refreshes its
  ``heartbeat`` every :func:`heartbeat_interval_s` seconds from a daemon thread (:class:`Heartbeat`;
  temp file + ``os.replace``). A lease is *live* while its heartbeat is younger than
  :func:`lease_timeout_s` (``$LBD_LEASE_TIMEOUT_S``, default 300 s) and, on this host, its process
  exists. A lease that is not live is taken over: the dead state is renamed away (atomic; only one
  taker can move it, and it checks that what it moved is what it judged dead) and the new lease is
  linked into place.
* :func:`remove_dead_leftovers` deletes partial shards, job files and worker scratch directories in
  ``DIR/.tmp`` whose writer is dead: on this host when their pid is gone; of other hosts when the unit's
  lease is not live and the file is older than the lease timeout.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

from lbd.errors import UserError
from synth.shards import TMP

LOCK_NAME = ".render.lock"
UNITS = "units"
TIMEOUT_ENV = "LBD_LEASE_TIMEOUT_S"
HEARTBEAT_ENV = "LBD_LEASE_HEARTBEAT_S"
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_HEARTBEAT_S = 30.0

# names of what writers leave in DIR/.tmp (host names may contain dots; pids are digits)
_PARTIAL = re.compile(r"(?P<shard>[A-Za-z][A-Za-z0-9_]*-(?P<index>[0-9]{6,})\.tar)\.(?P<host>.+)\.(?P<pid>\d+)"
                      r"\.partial")
_JOB = re.compile(r"job-s\d+\.(?P<host>.+)\.(?P<pid>\d+)\.json")
_SCRATCH = re.compile(r"lbd-s(?P<scene>\d+)\.(?P<host>.+)\.(?P<pid>\d+)\.\w+")
_STATE_TMP = re.compile(r"\.unit-\d+\.json\.(?P<host>.+)\.(?P<pid>\d+)\.\d+\.(?:tmp|dead)")


def lease_timeout_s() -> float:
    return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))


def heartbeat_interval_s() -> float:
    if os.environ.get(HEARTBEAT_ENV):
        return float(os.environ[HEARTBEAT_ENV])
    return max(0.05, min(DEFAULT_HEARTBEAT_S, lease_timeout_s() / 4))


def hostname() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def job_file_name(scene_id: int) -> str:
    """Name of a worker's job file in DIR/.tmp (host and pid of the driver that wrote it)."""
    return f"job-s{scene_id:05d}.{hostname()}.{os.getpid()}.json"


def scratch_prefix(scene_id: int) -> str:
    """Prefix of a worker's scratch directory in DIR/.tmp (``tempfile.mkdtemp(prefix=...)``)."""
    return f"lbd-s{scene_id:05d}.{hostname()}.{os.getpid()}."


# ---------------------------------------------------------------- output directory lock


class LockError(UserError):
    """Another run holds the output directory's lock."""


class OutputLock:
    """An O_EXCL lock file with pid + host; stale locks of dead local processes are replaced."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / LOCK_NAME
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": hostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    other = json.loads(self.path.read_text() or "{}")
                except (OSError, ValueError):
                    other = {}
                if not isinstance(other, dict):
                    other = {}
                if other.get("host") == me["host"] and isinstance(other.get("pid"), int) \
                        and not pid_alive(other["pid"]):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                raise LockError(
                    f"{self.path.parent} is being written by another render (pid {other.get('pid')} on "
                    f"{other.get('host')}, since {other.get('started')}); wait for it, or delete "
                    f"{self.path} if that run is dead") from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return
        raise LockError(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


# ---------------------------------------------------------------- unit states


def unit_state_name(shard_index: int) -> str:
    return f"unit-{shard_index:06d}.json"


def unit_state_path(out: Path, unit) -> Path:
    """State file of a unit (anything with ``shard_index``, or the index itself)."""
    index = unit if isinstance(unit, int) else unit.shard_index
    return Path(out) / UNITS / unit_state_name(index)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _parse(raw: bytes | None) -> dict | None:
    if raw is None:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def read_state(path: Path) -> dict | None:
    return _parse(_read_bytes(Path(path)))


def lease_is_live(state: dict | None, now: float | None = None) -> bool:
    """A ``running`` state whose heartbeat is younger than the lease timeout and, on this host, whose
    process still exists."""
    if not state or state.get("state") != "running":
        return False
    now = time.time() if now is None else now
    try:
        beat = float(state.get("heartbeat", state.get("since", 0)))
        pid = int(state.get("pid", -1))
    except (TypeError, ValueError):
        return False
    if now - beat >= lease_timeout_s():
        return False
    if state.get("host") == hostname():
        return pid_alive(pid)
    return True


def _write_state(path: Path, state: dict) -> None:
    """Atomic replace (no fsync: a state is advisory and rewritten every heartbeat)."""
    tmp = path.with_name(f".{path.name}.{hostname()}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def take_lease(out: Path, unit) -> bool:
    """Mark ``unit`` running for this process; False if another live executor holds it (or took it
    over at the same moment). Register the unit with a :class:`Heartbeat` to keep the lease alive."""
    path = unit_state_path(out, unit)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = _read_bytes(path)
    old = _parse(raw)
    if lease_is_live(old):
        return False
    host, pid, now = hostname(), os.getpid(), time.time()
    state = {"state": "running", "host": host, "pid": pid, "since": now, "heartbeat": now,
             "shard_index": unit.shard_index, "scene_id": getattr(unit, "scene_id", None),
             "attempts": int((old or {}).get("attempts", 0) or 0) + 1,
             "last_reason": (old or {}).get("reason")}
    tmp = path.with_name(f".{path.name}.{host}.{pid}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(state))
    try:
        if raw is not None:  # take over a dead lease or a failed unit: move the old state out of the way
            grave = path.with_name(f".{path.name}.{host}.{pid}.{threading.get_ident()}.dead")
            try:
                os.rename(path, grave)
            except FileNotFoundError:
                return False  # another executor moved it first (or the unit was finished)
            moved = _read_bytes(grave)
            if moved != raw:  # it changed since it was judged dead (a late heartbeat, a new lease): put back
                try:
                    os.link(grave, path)
                except FileExistsError:
                    pass
                grave.unlink(missing_ok=True)
                return False
            grave.unlink(missing_ok=True)
        try:  # first taker wins: link() is atomic and fails if the name exists, on NFS too
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def holds_lease(out: Path, unit) -> bool:
    state = read_state(unit_state_path(out, unit)) or {}
    return state.get("state") == "running" and state.get("host") == hostname() and state.get("pid") == os.getpid()


def mark_failed(out: Path, unit, reason: str) -> None:
    path = unit_state_path(out, unit)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_state(path) or {}
    _write_state(path, {"state": "failed", "host": hostname(), "pid": os.getpid(), "since": time.time(),
                        "shard_index": unit.shard_index, "scene_id": getattr(unit, "scene_id", None),
                        "attempts": int(old.get("attempts", 1) or 1), "reason": reason[-2000:]})


def clear_state(out: Path, unit) -> None:
    unit_state_path(out, unit).unlink(missing_ok=True)


def list_states(out: Path) -> dict[int, Path]:
    """State files by shard index: one directory listing, no file read."""
    folder = Path(out) / UNITS
    if not folder.is_dir():
        return {}
    found = {}
    with os.scandir(folder) as it:
        for e in it:
            n = e.name
            if n.startswith("unit-") and n.endswith(".json") and n[5:-5].isdigit():
                found[int(n[5:-5])] = Path(e.path)
    return found


def live_leases(out: Path) -> dict[int, dict]:
    """Live leases by shard index (reads the state files that exist: units not done)."""
    now = time.time()
    live = {}
    for index, path in list_states(out).items():
        state = read_state(path)
        if lease_is_live(state, now):
            live[index] = state
    return live


# ---------------------------------------------------------------- heartbeat


class Heartbeat:
    """Keeps this process's leases alive: a daemon thread rewrites their ``heartbeat`` time every
    ``interval`` seconds. :meth:`finish` / :meth:`fail` release a unit before its state is cleared or
    marked failed, so a late beat can never resurrect it. A lease found taken over by another executor
    is dropped (``lost``)."""

    def __init__(self, out: Path, interval: float | None = None):
        self.out = Path(out)
        self.interval = heartbeat_interval_s() if interval is None else interval
        self.held: dict[int, object] = {}
        self.lost: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lbd-lease-heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def take(self, unit) -> bool:
        """take_lease + keep it alive."""
        if not take_lease(self.out, unit):
            return False
        with self._lock:
            self.held[unit.shard_index] = unit
        return True

    def release(self, unit) -> None:
        with self._lock:
            self.held.pop(unit.shard_index, None)

    def finish(self, unit) -> None:
        """The unit's shard is recorded: stop beating and remove its state."""
        self.release(unit)
        clear_state(self.out, unit)

    def fail(self, unit, reason: str) -> None:
        self.release(unit)
        mark_failed(self.out, unit, reason)

    def beat(self) -> None:
        """Refresh every held lease once (the thread calls this every ``interval``)."""
        host, pid = hostname(), os.getpid()
        for index in list(self.held):
            with self._lock:
                if index not in self.held:
                    continue
                path = unit_state_path(self.out, index)
                state = read_state(path)
                if not state or state.get("state") != "running" or state.get("host") != host \
                        or state.get("pid") != pid:
                    self.held.pop(index, None)  # taken over by another executor
                    self.lost.append(index)
                    continue
                state["heartbeat"] = time.time()
                try:
                    _write_state(path, state)
                except OSError:
                    pass  # a full or flaky file system: try again at the next beat

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - the heartbeat must not die on a transient error
                pass


# ---------------------------------------------------------------- cleanup


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _older_than(path: Path, seconds: float, now: float) -> bool:
    try:
        return now - path.stat().st_mtime > seconds
    except OSError:
        return False


def remove_dead_leftovers(out: Path) -> int:
    """Delete partial shards, job files and worker scratch dirs in ``DIR/.tmp`` (and stale state temp
    files in ``DIR/units``) whose writer is dead (see the module docstring). Safe while other executors
    run: what a live lease may still write is kept. Returns the number of entries removed."""
    out = Path(out)
    host, now, timeout = hostname(), time.time(), lease_timeout_s()
    removed = 0
    live: dict[int, dict] | None = None

    def leases() -> dict[int, dict]:
        nonlocal live
        if live is None:
            live = live_leases(out)
        return live

    tmp = out / TMP
    entries = list(os.scandir(tmp)) if tmp.is_dir() else []
    for e in entries:
        path = Path(e.path)
        m = _PARTIAL.fullmatch(e.name) or _JOB.fullmatch(e.name) or _SCRATCH.fullmatch(e.name)
        if m is None:
            continue
        if m.group("host") == host:
            dead = not pid_alive(int(m.group("pid")))
        elif not _older_than(path, timeout, now):
            dead = False
        elif m.re is _PARTIAL:
            dead = leases().get(int(m.group("index")), {}).get("host") != m.group("host")
        elif m.re is _SCRATCH:
            scene = int(m.group("scene"))
            dead = not any(s.get("host") == m.group("host") and s.get("scene_id") == scene
                           for s in leases().values())
        else:
            dead = True  # a job file is read once by its worker at start
        if dead:
            _remove(path)
            removed += 1
    units = out / UNITS
    if units.is_dir():
        for e in os.scandir(units):
            m = _STATE_TMP.fullmatch(e.name)
            if m and ((m.group("host") == host and not pid_alive(int(m.group("pid"))))
                      or (m.group("host") != host and _older_than(Path(e.path), timeout, now))):
                Path(e.path).unlink(missing_ok=True)
                removed += 1
    return removed
