"""Safe, unique Python identifiers for user names: the one place generated code gets its names from.

A :class:`Namespace` hands out identifiers the way torch.fx's code generator does: a name that is not a
valid identifier is sanitised, and a name that is illegal (a keyword, a builtin, an ``nn.Module``
attribute such as ``training`` or ``forward``) or already taken gets a numeric suffix (``forward_1``).
The same key always gets the same name, so every instance of a block agrees on its identifiers, and every
rename is recorded so the compiler can report it (a renamed layer has different state_dict keys).
"""
from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

KEYWORDS = frozenset(keyword.kwlist) | frozenset(getattr(keyword, "softkwlist", ()))
BUILTINS = frozenset(dir(builtins))

# Everything `dir(nn.Module())` lists in torch 2.13, plus its instance attributes. A submodule assigned to one
# of these names would shadow the method (`forward`) or break the module (`training`, `_modules`). Kept as a
# literal so that naming never imports torch; tests/test_torch_naming.py checks it against the installed torch.
NN_MODULE_ATTRS = frozenset("""
T_destination __annotations__ __call__ __class__ __delattr__ __dict__ __dir__ __doc__ __eq__ __format__ __ge__
__getattr__ __getattribute__ __getstate__ __gt__ __hash__ __init__ __init_subclass__ __le__ __lt__ __module__
__ne__ __new__ __reduce__ __reduce_ex__ __repr__ __setattr__ __setstate__ __sizeof__ __str__ __subclasshook__
__weakref__ _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl _forward_hooks
_forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
_get_backward_hooks _get_backward_pre_hooks _get_name _is_full_backward_hook _load_from_state_dict
_load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules
_named_members _non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook
_register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict _slow_forward _state_dict_hooks
_state_dict_pre_hooks _version _wrapped_call_impl add_module apply bfloat16 buffers call_super_init children
compile cpu cuda double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules named_parameters
parameters register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty
train training type xpu zero_grad
""".split())

# Names the generated module itself uses at module level.
MODULE_GLOBALS = frozenset({"torch", "nn", "F"})

_SUFFIX = re.compile(r"(.*)_(\d+)$")


def sanitize(raw: str) -> str:
    """A valid, NFKC-stable Python identifier close to `raw` (not yet checked against any namespace).

    Python NFKC-normalises identifiers while parsing (`ﬁ` reads as `fi`), so a name that changes under NFKC
    would silently become another attribute; it is normalised here, where the rename can be reported.
    Leading double underscores would be name-mangled inside a class body, so they are reduced to one.
    """
    name = unicodedata.normalize("NFKC", raw)
    name = "".join(ch if ("_" + ch).isidentifier() else "_" for ch in name)
    if not name.isidentifier():
        name = "_" + name  # empty, or starts with a digit
    if not name.isidentifier() or unicodedata.normalize("NFKC", name) != name:
        name = "_" + "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in name)
    return _no_mangling(name)


def _no_mangling(name: str) -> str:
    """`name` without a leading double underscore: inside a class body Python rewrites `__x` to `_Class__x`."""
    return "_" + name.lstrip("_") if name.startswith("__") else name


def _why_sanitized(raw: str) -> str:
    if raw.isidentifier() and unicodedata.normalize("NFKC", raw) != raw:
        return f"Python reads it as `{unicodedata.normalize('NFKC', raw)}`"
    if raw.isidentifier() and raw.startswith("__"):
        return "a leading `__` is name-mangled inside a class"
    return "not a valid Python identifier"


@dataclass(frozen=True)
class Rename:
    what: str  # "layer", "parameter", "variable", "class", ...
    scope: str  # where it lives, e.g. "class BasicBlock"
    old: str
    new: str
    reason: str

    def message(self) -> str:
        return f"{self.what} `{self.old}` in {self.scope} is named `{self.new}` in the generated code ({self.reason})"


class Namespace:
    """Hands out unique identifiers; the same key always gets the same identifier.

    `reserved` are names that must never be handed out (keywords and builtins always are).
    """

    def __init__(self, scope: str, reserved: Iterable[str] = (), reserved_reason: str = "a reserved name",
                 builtins_ok: bool = False) -> None:
        self.scope = scope
        self._builtins_ok = builtins_ok  # `self.input` does not shadow the builtin; a local `input` would
        self._reserved = set(reserved)
        self._reserved_reason = reserved_reason
        self._used: set[str] = set()
        self._by_key: dict[Hashable, str] = {}
        self.renames: list[Rename] = []

    def _illegal(self, name: str) -> str | None:
        if name in KEYWORDS:
            return "a Python keyword"
        if name in self._reserved:
            return self._reserved_reason
        if name in BUILTINS and not self._builtins_ok:
            return "a Python builtin"
        return None

    def reserve(self, name: str) -> None:
        self._used.add(name)

    def available(self, name: str) -> bool:
        """Could `name` be handed out as it is (valid, not taken, not illegal)?"""
        return sanitize(name) == name and name not in self._used and self._illegal(name) is None

    def forbid(self, name: str) -> None:
        """Never hand out `name` from now on (a class created after this namespace)."""
        self._reserved.add(name)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._by_key

    def get(self, key: Hashable) -> str | None:
        return self._by_key.get(key)

    def name(self, raw: str, key: Hashable | None = None, what: str = "name") -> str:
        """The identifier for `raw` (remembered under `key`, by default `raw` itself)."""
        k = raw if key is None else key
        if k in self._by_key:
            return self._by_key[k]
        candidate = sanitize(raw)
        reason = None if candidate == raw else _why_sanitized(raw)
        illegal = self._illegal(candidate)
        if illegal is not None or candidate in self._used:
            reason = reason or illegal or "it clashes with another name"
            m = _SUFFIX.match(candidate)
            base, num = (m.group(1), int(m.group(2))) if m else (candidate, 0)
            while True:
                num += 1
                # `_` + `_1` would start with `__`, which Python mangles inside a class body
                candidate = _no_mangling(f"{base}_{num}")
                if candidate not in self._used and self._illegal(candidate) is None:
                    break
        self._used.add(candidate)
        self._by_key[k] = candidate
        if reason is not None:
            self.renames.append(Rename(what, self.scope, raw, candidate, reason))
        return candidate


def plain_attribute(raw: str) -> bool:
    """Can `raw` be written `self.<raw>` as it is? (An identifier Python reads unchanged, not a keyword.)"""
    return (raw.isidentifier() and raw not in KEYWORDS and unicodedata.normalize("NFKC", raw) == raw
            and not raw.startswith("__"))


def registered_name(raw: str) -> bool:
    """A submodule name that cannot be an attribute (`block1-0`, `class`) but that torch registers as it is with
    `add_module` (read back with `getattr`), as torchvision does; its state_dict keys then follow the source.
    Names of nn.Module's own attributes (`forward`, `training`) cannot be registered at all."""
    return bool(raw) and "." not in raw and raw not in NN_MODULE_ATTRS and not plain_attribute(raw)


def attribute_namespace(scope: str) -> Namespace:
    """Names of `self.<attr>` in an nn.Module subclass: submodules, stored arguments, flags."""
    return Namespace(scope, NN_MODULE_ATTRS, "an nn.Module attribute", builtins_ok=True)


def local_namespace(scope: str, extra: Iterable[str] = ()) -> Namespace:
    """Local variables and function parameters of a generated method."""
    return Namespace(scope, set(MODULE_GLOBALS) | {"self", "_"} | set(extra), "a name the generated code uses")


def global_namespace(scope: str = "the generated module") -> Namespace:
    return Namespace(scope, MODULE_GLOBALS, "a name the generated code uses")
