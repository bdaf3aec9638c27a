"""Writing user-facing output files all-or-nothing."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lbd.errors import OutputError, os_error_message


def write_outputs(files: list[tuple[Path, str, bytes]]) -> None:
    """Write every (path, option, bytes) through a temporary name (fsync), then rename them all.

    On a failure (full disk, permissions) no partial file is left, no existing output is changed, and an
    OutputError names the option and the file.
    """
    tmps: list[tuple[Path, Path]] = []
    try:
        for path, option, data in files:
            path = Path(path)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmps.append((tmp, path))
            try:
                _write_synced(tmp, data)
            except OSError as exc:
                reason = (os_error_message(exc) or exc.strerror or str(exc)).split(": ", 1)[-1]
                raise OutputError(f"{option} {path}: cannot write ({reason})") from None
        for tmp, path in tmps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in tmps:
            tmp.unlink(missing_ok=True)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
