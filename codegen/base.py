"""What every backend returns, and the atomic file writer the CLI uses."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class GeneratedCode:
    """Generated text plus notes for the user (for example, identifiers that had to be renamed)."""

    code: str
    notes: list[str] = field(default_factory=list)


class UnwritableOutput(Exception):
    """An output netc will not or cannot write; the CLI reports it as a usage error (exit 2) with the path."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path, self.reason = str(path), reason


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write via a temporary file in the same folder and rename, so a failure never leaves half a file.

    What it will replace, deliberately:
    * only a regular file: never a device (`/dev/full`), a FIFO, a socket or a folder;
    * never a read-only file (no write permission, even for root): that is a file someone protected;
    * a replaced file keeps its permission bits; a new one gets what `open()` would give (0666 less umask);
    * a symbolic link is followed, as a shell's `>` does: the link stays and the file it points to is
      replaced (a dangling link creates its target);
    * the folder must exist: a mistyped `-o` folder is an error, not a new folder tree.
    Every refusal and OS error is an UnwritableOutput naming `path`.
    """
    given = Path(path)
    try:
        target = Path(os.path.realpath(given)) if given.is_symlink() else given
        try:
            st: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            st = None
    except (OSError, ValueError, RuntimeError) as exc:  # a symlink loop, a NUL in the path
        raise UnwritableOutput(given, getattr(exc, "strerror", None) or str(exc)) from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, pipe or socket)"
            raise UnwritableOutput(given, f"it is {kind}; netc only replaces regular files")
        if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise UnwritableOutput(given, "it is read-only; make it writable or remove it first")
    folder = target.parent
    if not folder.is_dir():
        raise UnwritableOutput(given, f"the folder {folder.as_posix()}/ does not exist")
    if st is not None:
        mode = stat.S_IMODE(st.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    import tempfile  # only when writing: keeps `netc check` start-up lean

    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, mode)  # mkstemp makes the file 0600
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        raise UnwritableOutput(given, exc.strerror or str(exc)) from None
    except BaseException:
        _discard(tmp)
        raise


def make_folder(path: str | Path) -> Path:
    """Create an output folder (and its parents) for files netc writes there; OS errors name the path."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UnwritableOutput(folder, "it exists and is not a folder") from None
    except OSError as exc:
        raise UnwritableOutput(folder, exc.strerror or str(exc)) from None
    return folder


def _discard(tmp: str | None) -> None:
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass
