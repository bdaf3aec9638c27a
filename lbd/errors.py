"""User errors: mistakes in input, options or data that deserve one clear line, not a traceback.

Every package raises a subclass of :class:`UserError` for what the user can fix (a bad option, a corrupt
or missing file, a full disk). ``cli.py`` maps them once: the message on one line to stderr and exit
code :attr:`UserError.exit_code` (2 = usage, 1 = data/runtime). Anything else is our bug and keeps its
traceback.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path


class UserError(Exception):
    """A data or runtime problem the user can fix; the message names the file, sample or option."""

    exit_code = 1


class UsageError(UserError):
    """A bad option value or combination (exit code 2, like click's own usage errors)."""

    exit_code = 2


class OutputError(UserError):
    """An output location that cannot be written (permissions, read-only, full disk)."""


_OS_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
}


def os_error_message(exc: OSError) -> str | None:
    """One line for an OSError that is the user's environment (full disk, permissions), else None."""
    reason = _OS_REASONS.get(exc.errno)
    if reason is None:
        return None
    where = exc.filename or "output"
    return f"{where}: {reason}"


def check_writable_dir(path: Path, option: str = "--out") -> Path:
    """Create ``path`` (a directory) if needed and prove it is writable, before any work starts.

    Raises OutputError naming the option and the path.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{option} {path}: exists and is not a directory") from None
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot create ({os_error_message(exc) or exc.strerror})") from None
    probe = path / f".lbd-write-test.{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{option} {path}: not writable ({_OS_REASONS.get(exc.errno, exc.strerror)})") from None
    return path


def check_writable_file(path: Path, option: str = "--out") -> Path:
    """Prove that the file ``path`` can be created (its folder exists or is created, and is writable)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a directory, expected a file name")
    check_writable_dir(path.parent if str(path.parent) else Path("."), option)
    return path
