"""Source text and spans: every AST node and diagnostic points back into a `Source`."""
from __future__ import annotations

import bisect
import os
import stat
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(eq=False)
class Source:
    """A named piece of `.net` text. Line starts are computed once, on first use."""

    path: str
    text: str

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        return starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        starts = self._line_starts
        if line < 1 or line > len(starts):
            return ""
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[starts[line - 1]:end].rstrip("\r")


@dataclass(frozen=True)
class Span:
    """A half-open character range `[start, end)` in a source."""

    source: Source = field(compare=False, repr=False)
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    @property
    def text(self) -> str:
        return self.source.text[self.start:self.end]

    def to(self, other: Span) -> Span:
        """The span covering both `self` and `other`."""
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))

    def location(self) -> str:
        line, col = self.source.line_col(self.start)
        return f"{self.source.path}:{line}:{col}"


class UnreadableSource(Exception):
    """A source file that cannot be read as `.net` text: `code` is E105, or E106 when it is too large."""

    def __init__(self, reason: str, code: str = "E105", help: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.code, self.help = reason, code, help


def read_source_text(path: str | os.PathLike[str]) -> str:
    """The text of a `.net` file, read within bounds: only a regular file (a FIFO would block, /dev/zero never
    ends), at most the size limit (checked before reading, and again while reading a file that grows), UTF-8
    with or without a byte-order mark."""
    from .limits import SOURCE_BYTES

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, pipe or socket)"
            raise UnreadableSource(kind)
        limit = SOURCE_BYTES.value
        if st.st_size > limit:
            raise UnreadableSource(f"the file is too large ({st.st_size:,} bytes)", "E106", SOURCE_BYTES.hint())
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise UnreadableSource("no such file") from None
    except OSError as exc:
        raise UnreadableSource(exc.strerror or str(exc)) from None
    except ValueError as exc:  # a NUL character in the path
        raise UnreadableSource(str(exc)) from None
    if len(data) > limit:
        raise UnreadableSource(f"the file is too large (over {limit:,} bytes)", "E106", SOURCE_BYTES.hint())
    try:
        return data.decode("utf-8-sig")  # a leading byte-order mark is not part of the text
    except UnicodeDecodeError as exc:
        raise UnreadableSource(f"not UTF-8 text (byte {exc.start:,} cannot be decoded)") from None
