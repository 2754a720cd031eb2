"""Tensor types: a dtype and a tuple of dims (ints or symbolic `Dim`s)."""
from __future__ import annotations

from dataclasses import dataclass

from .dims import IntLike

# Source spelling -> torch/numpy name. The short spellings are what `.net` files use.
DTYPES: dict[str, str] = {
    "f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64",
    "i8": "int8", "u8": "uint8", "i16": "int16", "i32": "int32", "i64": "int64", "bool": "bool",
}
FLOAT_DTYPES = {"f16", "bf16", "f32", "f64"}
INT_DTYPES = {"i8", "u8", "i16", "i32", "i64"}
_RANK = {"bool": 0, "u8": 1, "i8": 1, "i16": 2, "i32": 3, "i64": 4, "f16": 5, "bf16": 5, "f32": 6, "f64": 7}


@dataclass(frozen=True)
class TensorType:
    dtype: str
    dims: tuple[IntLike, ...]

    @property
    def rank(self) -> int:
        return len(self.dims)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def with_dims(self, dims: tuple[IntLike, ...] | list[IntLike]) -> TensorType:
        return TensorType(self.dtype, tuple(dims))

    def with_dtype(self, dtype: str) -> TensorType:
        return TensorType(dtype, self.dims)

    def shape_str(self) -> str:
        return "(" + ", ".join(str(d) for d in self.dims) + ")"

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(str(d) for d in self.dims)}]"


def promote(a: str, b: str) -> str:
    """Result dtype of a binary op, following torch's category-then-width promotion."""
    if a == b:
        return a
    return a if _RANK[a] >= _RANK[b] else b


def promote_scalar(dtype: str, scalar: object) -> str:
    """Result dtype of a tensor with a Python number, as torch computes it: the number only changes the
    dtype's category (a float makes an integer or bool tensor f32, an int makes a bool tensor i64)."""
    if isinstance(scalar, bool) or scalar is None:
        return dtype
    if isinstance(scalar, float) and dtype not in FLOAT_DTYPES:
        return "f32"
    if isinstance(scalar, int) and dtype == "bool":
        return "i64"
    return dtype
