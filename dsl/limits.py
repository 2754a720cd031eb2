"""Resource limits: an input too large to check, build or run is rejected early, as a located diagnostic.

Without them a 50 MB source ran for minutes to a 10 GB peak and a MemoryError, and `LSTM(8, 2147483648)`
grew memory until the machine gave out. Each limit is far above any real network, is checked before the
work it bounds, has its own diagnostic code, and can be raised through an environment variable (named in
the hint), for the rare user who really needs more.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    code: str
    env: str
    default: int
    what: str  # "a source file's size in bytes", ...

    @property
    def value(self) -> int:
        raw = os.environ.get(self.env, "").replace("_", "").strip()
        try:
            n = int(float(raw)) if raw else self.default
        except (ValueError, OverflowError):
            return self.default  # a malformed setting is ignored rather than lifting every limit
        return n if n > 0 else self.default

    def hint(self) -> str:
        return f"the limit on {self.what} is {self.value:,}; raise it with the environment variable {self.env}=N"


SOURCE_BYTES = Limit("E106", "NETC_MAX_SOURCE_BYTES", 8 * 2 ** 20, "a source file's size in bytes")
LAYERS = Limit("E211", "NETC_MAX_LAYERS", 100_000, "the layers of a network (repeats unrolled, recurrent layers stacked)")
PARAMS = Limit("E212", "NETC_MAX_PARAMS", 10 ** 12, "the parameters of a network")
ELEMENTS = Limit("E213", "NETC_MAX_ELEMENTS", 2 ** 48, "the elements of one tensor")
# What `netc verify` may allocate: it materialises every weight and activation, twice (torch and NumPy).
VERIFY_ELEMENTS = Limit("E213", "NETC_VERIFY_MAX_ELEMENTS", 2 ** 28,
                        "the weights and activations `netc verify` materialises (elements)")

ALL = (SOURCE_BYTES, LAYERS, PARAMS, ELEMENTS, VERIFY_ELEMENTS)
