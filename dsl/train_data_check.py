"""The data a `train` section declares (sources, transforms, noises), checked against the networks' inputs;
array files are read by their headers only."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import ast
from .diagnostics import Label, did_you_mean
from .dims import Dim, IntLike, sym
from .source import Span
from .train_args import ArgsChecker
from .train_registry import (
    DATA,
    NOISES,
    TRANSFORM_FNS,
)
from .train_spec import (
    BATCH,
    ERR,
    FnCall,
    ModelSpec,
    TargetNeed,
    TVal,
    _numel,
)
from .types import DTYPES, FLOAT_DTYPES, TensorType


class DataChecker(ArgsChecker):
    """`data`, `transforms` and `noise`: what the data gives against the networks' inputs."""

    # -- data ------------------------------------------------------------------------------------
    def _data(self) -> FnCall:
        entry = self._entry("data")
        if entry is None:
            # Every sample trains offline: without a data source, inputs of the declared types.
            return FnCall("synthetic", {"n": 512, "val": 0.2, "test": 0.0}, self.t.name_span)
        call = self._call(entry.value, DATA, "data source")
        if call is ERR:
            return FnCall("synthetic", {"n": 512, "val": 0.2, "test": 0.0}, entry.value.span)
        if call.args.get("val", 0) + call.args.get("test", 0) >= 1:
            self.error("E506", "`val` and `test` leave nothing to train on", entry.value.span,
                       help="together they must be below 1, e.g. val=0.1, test=0.2")
        return call  # type: ignore[no-any-return]

    def _bind_data(self, data: FnCall, model: ModelSpec | None) -> None:
        """Types of `x` and `target` in loss expressions; None (free) until their first use fixes them."""
        x_type: TensorType | None = None
        self.env["x"] = TVal(None, ref="x")
        self.env["target"] = TVal(None, ref="target")
        if model is not None:
            if len(model.required_inputs) != 1:
                names = ", ".join(model.required_inputs) or "none"
                self.error("E512", f"`{model.network}` needs {len(model.required_inputs)} inputs ({names}); "
                           "training feeds one input from the data", model.span,
                           help="train a network with one required input, or several networks with `loss` "
                           "expressions that call them")
                return
            name = model.required_inputs[0]
            value = next(v for n, v, _ in model.graph.inputs if n == name)
            x_type = self._batched(value.type, model, name)
            if x_type is None:
                return
            self.free["x"] = x_type
        self.transforms = self._transforms()
        if data.name == "torchvision":
            # Its files are torchvision's to read (this module never imports it): the classes come from the
            # network's scores, the layout is checked when training opens the data set (netc/train/vision.py).
            self.labels = TargetNeed("class", TensorType("i64", (sym(BATCH),)), None)
        if self.transforms or data.name in ("images", "csv", "text", "npz", "npy"):
            self._source_layout(data, x_type, model)
        elif data.name == "digits":
            self._digits_fit(data, x_type, model)
        elif data.name in ("npz", "npy"):
            self._array_files(data, x_type)
        x_val = TVal(self.free.get("x"), ref="x")
        self.env["x"] = x_val
        if model is not None:
            self.env[model.required_inputs[0]] = x_val
        self.env["target"] = TVal(None, ref="target")

    def _batched(self, t: TensorType, model: ModelSpec, name: str) -> TensorType | None:
        """The input type with its first dim as the batch B; other dims must be known numbers."""
        if not t.dims:
            self.error("E512", f"input `{name}` of `{model.network}` has no batch dim", model.span)
            return None
        dims: list[IntLike] = [sym(BATCH)]
        for d in t.dims[1:]:
            if not isinstance(d, int):
                sym_names = sorted(d.symbols()) if isinstance(d, Dim) else [str(d)]
                self.error("E512", f"input `{name}` of `{model.network}` is {t}: training needs every dim "
                           "but the batch to be a number", model.span,
                           help=f"bind {', '.join(sym_names)} with `--set {sym_names[0]}=...` or a default "
                           "parameter")
                return None
            dims.append(d)
        return TensorType(t.dtype, tuple(dims))

    def _transforms(self) -> list[FnCall]:
        entry = self._entry("transforms")
        if entry is None:
            return []
        items = entry.value.items if isinstance(entry.value, ast.ListExpr) else (entry.value,)
        out = []
        for item in items:
            call = self._call(item, TRANSFORM_FNS, "transform")
            if call is not ERR:
                out.append(call)
        return out

    def _source_layout(self, data: FnCall, x_type: TensorType | None, model: ModelSpec | None) -> None:
        """What the source gives (from the files' headers), through the declared transforms, against the
        network's input; a mismatch names the transform that fixes it."""
        from . import train_data as td

        base = Path(self.t.span.source.path).resolve().parent
        args = data.args
        try:
            if data.name == "digits":
                self.labels = TargetNeed("class", TensorType("i64", (sym(BATCH),)), args["classes"])
                layout = td.Layout((8, 8), "float32")
            elif data.name == "images":
                folders = td.class_folders(base / args["path"])
                self.labels = TargetNeed("class", TensorType("i64", (sym(BATCH),)), len(folders))
                layout = td.image_layout(folders[0][1][0])
            elif data.name == "csv":
                columns = td.csv_columns(base / args["path"])
                if args["label"] not in columns:
                    guess = did_you_mean(args["label"], columns)
                    self.error("E513", f"{args['path']} has no column `{args['label']}`", data.span,
                               help=f"did you mean label=\"{guess}\"?" if guess else f"its columns: {', '.join(columns)}")
                    return
                layout = td.Layout((len(columns) - 1,), "float32")
            elif data.name == "text":
                length, vocabulary = td.text_vocabulary(base / args["path"])
                if length <= args["length"]:
                    self.error("E513", f"{args['path']} has {length} characters: fewer than one block of "
                               f"{args['block']} and the next character", data.span)
                    return
                layout = td.Layout((args["length"],), "int64")
                self.given_target = TensorType("i64", (sym(BATCH), args["length"]))
                self._text_vocabulary(vocabulary, model, data.span)
            elif data.name in ("npz", "npy"):
                before = self.free.pop("x", None)
                self._array_files(data, None)  # reads the headers; sets the raw type of x as if free
                x = self.free.pop("x", None)
                if before is not None:
                    self.free["x"] = before
                if x is None:
                    return
                layout = td.Layout(tuple(int(d) for d in x.dims[1:]), DTYPES.get(x.dtype, "float32"))
            else:  # synthetic data is already what the network takes
                return
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.error("E513", f"cannot read the training data: {exc}", data.span,
                       help=f"paths are relative to the folder of {self.t.span.source.path}")
            return
        for call in self.transforms:
            try:
                layout = td.apply(layout, [(call.name, call.args)])
            except td.LayoutError as exc:
                self.error("E512", str(exc), call.span)
                return
        if x_type is None:
            self.free["x"] = TensorType(_np_dtype(layout.dtype), (sym(BATCH), *layout.dims))
            return
        want = tuple(x_type.dims[1:])
        floating = x_type.dtype in FLOAT_DTYPES
        where = self._entry("transforms")
        span = where.value.span if where is not None else data.span
        if layout.dims != want:
            self.error("E512", f"the data's x is {layout} per sample, but the network takes {x_type}", span,
                       help=td.fixing_hint(layout, want, floating) or "each sample must have the shape of the "
                       "input after its batch dim")
        elif floating and not layout.dtype.startswith("float"):
            self.error("E512", f"the data's x is {layout} per sample, but the network takes {x_type}", span,
                       help="add `to_float(255)` to `transforms` (pixels 0..255 to 0..1), or `to_float` to keep "
                       "the numbers as they are")
        elif not floating and layout.dtype.startswith("float"):
            self.error("E512", f"the data's x is {layout} per sample, but the network takes {x_type}", span,
                       help="integer inputs (token ids) cannot come from floating-point data")

    def _text_vocabulary(self, vocabulary: int, model: ModelSpec | None, span: Span) -> None:
        if model is None or not model.graph.inputs:
            return
        first = model.graph.inputs[0][1]
        for node in model.graph.op_nodes():
            if node.op == "Embedding" and any(v.id == first.id for v in node.inputs):
                size = int(node.attrs["num_embeddings"])
                if size < vocabulary:
                    self.error("E512", f"the text has {vocabulary} distinct characters, but `{model.network}` "
                               f"embeds only {size}", span, help=f"give its Embedding {vocabulary} or more entries")

    def _digits_fit(self, data: FnCall, x_type: TensorType | None, model: ModelSpec | None) -> None:
        self.labels = TargetNeed("class", TensorType("i64", (sym(BATCH),)), data.args["classes"])
        if x_type is None:
            self.free_numel["x"] = (64, data.span)  # several networks: the first that takes `x` shapes it
            return
        if _numel(x_type) != 64 or x_type.dtype not in FLOAT_DTYPES:
            self.error("E512", f"`digits` gives 8x8 images of f32, but the input is {x_type}", data.span,
                       secondary=[Label(model.span, "this network")] if model and
                       model.span.source is data.span.source else [],
                       help="declare the input as f32[B, 64], f32[B, 8, 8] or f32[B, 1, 8, 8]")

    def _array_files(self, data: FnCall, x_type: TensorType | None) -> None:
        """Read the shapes and dtypes of the arrays (headers only) so a mismatch is found now."""
        base = Path(self.t.span.source.path).resolve().parent
        fields: dict[str, tuple[tuple[int, ...], str] | None] = {}
        try:
            if data.name == "npz":
                path = base / data.args["path"]
                fields = _npz_headers(path, [data.args["x"], data.args["y"]])
                x_hdr, y_hdr = fields.get(data.args["x"]), fields.get(data.args["y"])
                if x_hdr is None:
                    keys = sorted(fields)
                    guess = did_you_mean(data.args["x"], keys)
                    self.error("E513", f"{data.args['path']} has no array `{data.args['x']}`", data.span,
                               help=f"did you mean x=\"{guess}\"?" if guess else f"its arrays are: {', '.join(keys)}")
                    return
            else:
                x_hdr = _npy_header(base / data.args["x"])
                y_hdr = _npy_header(base / data.args["y"]) if data.args["y"] else None
        except OSError as exc:
            # Name the file as written, not the absolute path: messages must not depend on the machine.
            written = Path(str(exc.filename)).name if exc.filename else "the data file"
            reason = (exc.strerror or str(exc)).lower()
            self.error("E513", f"cannot read `{written}`: {reason}", data.span,
                       help=f"paths are relative to the folder of {self.t.span.source.path}")
            return
        except ValueError as exc:
            self.error("E513", f"cannot read the training data: {exc}", data.span)
            return
        shape, dtype = x_hdr  # type: ignore[misc]
        if x_type is not None:
            want = tuple(x_type.dims[1:])
            if tuple(shape[1:]) != want:
                self.error("E512", f"the data's x is {dtype}{list(shape)}, but the network takes {x_type}", data.span,
                           help="each sample must have the shape of the input after its batch dim")
        else:
            self.free["x"] = TensorType(_np_dtype(dtype), (sym(BATCH), *shape[1:]))
        if y_hdr is not None:
            yshape, ydtype = y_hdr
            if yshape[:1] != shape[:1]:
                self.error("E512", f"the data has {shape[0]} inputs but {yshape[0] if yshape else 0} targets",
                           data.span)
            self.given_target = TensorType(_np_dtype(ydtype), (sym(BATCH), *yshape[1:]))
        else:
            self.has_target = False

    def _noise_entries(self) -> dict[str, tuple[str, TensorType, Span]]:
        out: dict[str, tuple[str, TensorType, Span]] = {}
        for entry in self.entries.get("noise", []):
            name = entry.target or ""
            v = entry.value
            if not (isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and len(v.args) == 1
                    and v.args[0].name is None and isinstance(v.args[0].value, ast.Index)):
                self.error("E506", "a noise is `normal(f32[B, ...])` or `uniform(f32[B, ...])`", v.span)
                continue
            if v.func.id not in NOISES:
                guess = did_you_mean(v.func.id, NOISES)
                self.error("E504", f"unknown noise `{v.func.id}`", v.func.span,
                           help=f"did you mean `{guess}`?" if guess else "use `normal` or `uniform`")
                continue
            ttype = self._type_literal(v.args[0].value)
            if ttype is not ERR:
                out[name] = (v.func.id, ttype, entry.span)
        return out

    def _type_literal(self, e: ast.Index) -> Any:
        if not isinstance(e.value, ast.Name) or e.value.id not in DTYPES:
            guess = did_you_mean(e.value.span.text, DTYPES)
            return self.error("E506", "expected a tensor type like f32[B, 100]", e.value.span,
                              help=f"did you mean `{guess}`?" if guess else None)
        if e.value.id not in FLOAT_DTYPES:
            return self.error("E506", "noise is floating point", e.value.span, help="use f32")
        dims: list[IntLike] = []
        for i, d in enumerate(e.items):
            if isinstance(d, ast.Name) and d.id == BATCH and i == 0:
                dims.append(sym(BATCH))
            elif isinstance(d, ast.Number) and isinstance(d.value, int) and d.value > 0:
                dims.append(d.value)
            else:
                return self.error("E506", f"a noise dim is a positive number (the first may be {BATCH}, the batch)",
                                  d.span)
        return TensorType(e.value.id, tuple(dims))

    def _check_batch_dims(self, batch: int) -> None:
        entry = self._entry("batch")
        if entry is None:
            return
        for m in self.models.values():
            defn = self.result.definitions.get(m.network)
            declared = {st.name: st.type.dims[0] for st in getattr(defn, "body", ()) if isinstance(st, ast.Input)
                        and st.type.dims}
            for name, value, span in m.graph.inputs:
                d = value.type.dims[0] if value.type.dims else None
                first = declared.get(name)
                if isinstance(first, ast.Name) and first.id in self.overrides:
                    continue  # `--set B=3` for `netc verify` or `check`: the file still trains with `batch`
                if isinstance(d, int) and d != batch:
                    self.error("E508", f"batch {batch} does not fit input `{name}` of `{m.network}`, declared with "
                               f"{d} samples", entry.value.span,
                               secondary=[Label(span, "declared here")] if span.source is entry.span.source else [],
                               help="declare the first dim as a symbol (`B`) or use that batch size")


_NP_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64", "int32": "i32", "int16": "i16",
              "int8": "i8", "uint8": "u8", "bool": "bool"}


def _np_dtype(name: str) -> str:
    return _NP_DTYPES.get(name, name)


def _npy_header(path: Path) -> tuple[tuple[int, ...], str]:
    import numpy as np

    with open(path, "rb") as fh:
        return _read_header(np, fh)


def _read_header(np: Any, fh: Any) -> tuple[tuple[int, ...], str]:
    """Shape and dtype from a .npy header, without reading the data."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    # Version 3.0 differs from 2.0 only in the header's text encoding (utf8), which the 2.0 reader accepts.
    reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = reader(fh)
    return tuple(shape), str(dtype)


def _npz_headers(path: Path, keys: list[str]) -> dict[str, tuple[tuple[int, ...], str] | None]:
    import zipfile

    import numpy as np

    out: dict[str, tuple[tuple[int, ...], str] | None] = {}
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path.name} is not an .npz file") from None
    with zf:
        for info in zf.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if key in keys:
                with zf.open(info) as fh:
                    out[key] = _read_header(np, fh)
            else:
                out.setdefault(key, None)
    return out
