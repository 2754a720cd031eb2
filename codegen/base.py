"""What every backend returns, and the atomic file writer the CLI uses."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class GeneratedCode:
    """Generated text plus notes for the user (for example, identifiers that had to be renamed)."""

    code: str
    notes: list[str] = field(default_factory=list)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write via a temporary file in the same folder and rename, so a failure never leaves half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        # mkstemp makes the file 0600; give it the mode a plain open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
