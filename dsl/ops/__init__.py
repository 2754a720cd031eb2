"""The op registry. Importing this package registers every op family."""
from . import activation, conv, linear, norm, pool, tensor  # noqa: F401  (registration side effects)
from .base import ALIASES, OPS, REQUIRED, Attr, AttrError, OpSpec, ShapeError, Warn, lookup

__all__ = ["ALIASES", "OPS", "REQUIRED", "Attr", "AttrError", "OpSpec", "ShapeError", "Warn", "lookup"]
