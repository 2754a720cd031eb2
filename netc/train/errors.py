"""Errors that training reports to the user (bad data, a checkpoint that does not fit), never as tracebacks."""
from __future__ import annotations

from ..dsl.source import Span


class TrainError(Exception):
    """A problem with the user's data, checkpoint or settings found while training. `key` names the setting
    it belongs to (`data`, `init`, `batch`...), so it can be shown at that line of the .net file; `span`
    is that place once known."""

    def __init__(self, message: str, span: Span | None = None, help: str | None = None,
                 key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.help = help
        self.key = key
