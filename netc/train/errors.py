"""Errors that training reports to the user (bad data, a checkpoint that does not fit), never as tracebacks."""
from __future__ import annotations

from ..dsl.source import Span


class TrainError(Exception):
    """A problem with the user's data, checkpoint or settings found while training; `span` points into the
    .net file when the problem belongs to one of its settings."""

    def __init__(self, message: str, span: Span | None = None, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.help = help
