"""The JSON description of a pytree stored in a checkpoint's metadata.

Every node of the tree becomes one JSON object with a kind ``"k"``:

* containers that can be rebuilt without help: ``dict`` (keys in ``"keys"``, each a JSON
  string, integer or boolean), ``ordered_dict``, ``list``, ``tuple``, ``none``;
* containers that need ``like=`` to be rebuilt (their Python class is not stored, so
  loading a file can never import or run code): ``namedtuple`` and ``node`` (any other
  registered pytree node), recorded with the class name for error messages;
* leaves: ``array`` (``"t"`` names the tensor), ``int``, ``float`` (exact, as
  ``float.hex``), ``complex``, ``bool`` and ``str`` with the value in ``"v"``.

Container nodes list their children in ``"c"`` and the key entries that lead to them in
``"p"`` (their `keystr`), so each leaf's key path is known without the Python classes.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from derivax import tree as _tree

from ._format import CheckpointError, dtype_name, supported_dtypes

_MAX_DEPTH = 200


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray | np.generic) or (
        hasattr(x, "__array__") and hasattr(x, "shape") and hasattr(x, "dtype")
    )


class _Encoder:
    """Walks a tree and collects its description and the arrays to store."""

    def __init__(self):
        self.tensors: dict[str, np.ndarray] = {}

    def encode(self, x: Any, path: tuple) -> dict:
        if len(path) > _MAX_DEPTH:
            raise ValueError(
                f"save: the tree is nested more than {_MAX_DEPTH} levels deep at "
                f"{_tree.keystr(path)!r}; checkpoints support at most {_MAX_DEPTH} levels."
            )
        if x is None:
            return {"k": "none"}
        if isinstance(x, bool):
            return {"k": "bool", "v": x}
        if isinstance(x, int):
            return {"k": "int", "v": x}
        if isinstance(x, float):
            return {"k": "float", "v": x.hex()}
        if isinstance(x, complex):
            return {"k": "complex", "v": [x.real.hex(), x.imag.hex()]}
        if isinstance(x, str):
            return {"k": "str", "v": x}
        if _is_array(x):
            return self._array(x, path)
        children = self._children(x, path)
        return self._container(x, children, path)

    def _array(self, x: Any, path: tuple) -> dict:
        where = _tree.keystr(path) or "<root>"
        try:
            array = np.asarray(x)
        except Exception as e:
            raise TypeError(
                f"save: the leaf at {where!r} ({type(x).__name__}) cannot be converted to a "
                f"NumPy array: {e}"
            ) from None
        if dtype_name(array.dtype) is None:
            raise TypeError(
                f"save: the array at {where!r} has dtype {array.dtype}, which a checkpoint "
                f"cannot store. Supported dtypes: {', '.join(supported_dtypes())}. Cast it "
                "first, e.g. x.astype('complex64') or x.astype('float32')."
            )
        name = where
        if name in self.tensors:  # different key entries can print alike; keep names unique
            name = f"{where}#{len(self.tensors)}"
        self.tensors[name] = array
        return {"k": "array", "t": name}

    def _children(self, x: Any, path: tuple) -> list[tuple[Any, Any]]:
        if isinstance(x, dict):
            return [(_tree.DictKey(k), v) for k, v in x.items()]
        if _is_namedtuple(x):
            return [(_tree.GetAttrKey(f), getattr(x, f)) for f in type(x)._fields]
        if isinstance(x, list | tuple):
            return [(_tree.SequenceKey(i), v) for i, v in enumerate(x)]
        items, _ = _tree.flatten_with_path(x, is_leaf=lambda y: y is not x)
        if len(items) == 1 and items[0][1] is x and items[0][0] == ():
            raise TypeError(
                f"save: the leaf at {_tree.keystr(path) or '<root>'!r} has type "
                f"{_type_name(type(x))}, which a checkpoint cannot store. Leaves must be "
                "arrays, Python int/float/complex/bool/str or None; register custom "
                "containers with derivax.tree.register_pytree_node."
            )
        return [(entry[0] if len(entry) == 1 else entry, v) for entry, v in items]

    def _container(self, x: Any, children: list, path: tuple) -> dict:
        desc: dict[str, Any]
        if type(x) in (dict, collections.OrderedDict):
            keys = list(x)
            if not all(isinstance(k, str | int) for k in keys):
                bad = next(k for k in keys if not isinstance(k, str | int))
                raise TypeError(
                    f"save: the dict at {_tree.keystr(path) or '<root>'!r} has the key {bad!r} "
                    f"of type {type(bad).__name__}; checkpoint dict keys must be str or int."
                )
            kind = "dict" if type(x) is dict else "ordered_dict"
            desc = {"k": kind, "keys": keys}
        elif type(x) in (list, tuple):
            desc = {"k": type(x).__name__}
        elif _is_namedtuple(x):
            desc = {"k": "namedtuple", "type": _type_name(type(x))}
        else:
            desc = {"k": "node", "type": _type_name(type(x))}
        desc["p"] = [str(entry) for entry, _ in children]
        desc["c"] = [self.encode(v, (*path, entry)) for entry, v in children]
        return desc


def encode_tree(tree: Any) -> tuple[dict, dict[str, np.ndarray]]:
    """Returns the JSON-able description of ``tree`` and its arrays by tensor name."""
    encoder = _Encoder()
    return encoder.encode(tree, ()), encoder.tensors


_SCALAR_KINDS = {"int", "float", "complex", "bool", "str"}


class _Invalid(Exception):
    pass


def _check(cond: bool, what: str):
    if not cond:
        raise _Invalid(what)


def _decode_scalar(desc: dict) -> Any:
    kind, v = desc["k"], desc.get("v")
    if kind == "bool":
        _check(isinstance(v, bool), "bool leaf without a boolean value")
        return v
    if kind == "int":
        _check(isinstance(v, int) and not isinstance(v, bool), "int leaf without an integer")
        return v
    if kind == "str":
        _check(isinstance(v, str), "str leaf without a string")
        return v
    if kind == "float":
        _check(isinstance(v, str), "float leaf without a hex string")
        return float.fromhex(v)
    _check(
        isinstance(v, list) and len(v) == 2 and all(isinstance(p, str) for p in v),
        "complex leaf without two hex strings",
    )
    return complex(float.fromhex(v[0]), float.fromhex(v[1]))


def flat_leaves(desc: Any, tensors: dict[str, np.ndarray]) -> list[tuple[str, str, Any]]:
    """Lists ``(keystr, kind, value)`` for every leaf of a stored description.

    Checks the description completely (kinds, keys, tensor references, each tensor used
    exactly once). ``value`` is the NumPy array for ``array`` leaves.

    Raises:
        _Invalid: If the description is malformed.
    """
    out: list[tuple[str, str, Any]] = []
    used: set[str] = set()

    def walk(d: Any, prefix: str, depth: int):
        _check(depth <= _MAX_DEPTH, "tree description nested too deeply")
        _check(isinstance(d, dict) and isinstance(d.get("k"), str), "node without a kind")
        kind = d["k"]
        if kind == "none":
            return
        if kind == "array":
            name = d.get("t")
            _check(isinstance(name, str) and name in tensors, f"unknown tensor {name!r}")
            _check(name not in used, f"tensor {name!r} used twice")
            used.add(name)
            out.append((prefix, "array", tensors[name]))
            return
        if kind in _SCALAR_KINDS:
            try:
                value = _decode_scalar(d)
            except (ValueError, OverflowError, TypeError) as e:
                raise _Invalid(f"bad {kind} leaf: {e}") from None
            out.append((prefix, kind, value))
            return
        _check(
            kind in ("dict", "ordered_dict", "list", "tuple", "namedtuple", "node"),
            f"unknown node kind {kind!r}",
        )
        children, entries = d.get("c"), d.get("p")
        _check(isinstance(children, list) and isinstance(entries, list), "node without children")
        _check(len(children) == len(entries), "node with mismatched children and keys")
        _check(all(isinstance(e, str) for e in entries), "node with non-string keys")
        if kind in ("dict", "ordered_dict"):
            keys = d.get("keys")
            _check(isinstance(keys, list) and len(keys) == len(children), "dict without keys")
            _check(all(isinstance(k, str | int) for k in keys), "dict with invalid keys")
            _check(len({(type(k), k) for k in keys}) == len(keys), "dict with repeated keys")
        for child, entry in zip(children, entries, strict=True):
            walk(child, prefix + entry, depth + 1)

    walk(desc, "", 0)
    _check(used == set(tensors), "tensors not referenced by the tree description")
    return out


def build_tree(desc: dict, leaf_fn) -> Any:
    """Rebuilds the tree of a (checked) description; ``leaf_fn(keystr, kind, value)``."""

    def walk(d: dict, prefix: str) -> Any:
        kind = d["k"]
        if kind == "none":
            return None
        if kind == "array" or kind in _SCALAR_KINDS:
            return leaf_fn(prefix)
        if kind in ("namedtuple", "node"):
            raise CheckpointError(
                f"restore: the checkpoint holds a {d.get('type', '?')} at "
                f"{prefix or '<root>'!r}, a {'NamedTuple' if kind == 'namedtuple' else 'custom pytree node'} "
                "that is not rebuilt from the file (a checkpoint never imports or runs code). "
                "Pass like=<a tree of the same structure>, e.g. the freshly initialised "
                "optimizer state or model, to restore it."
            )
        values = [walk(c, prefix + p) for c, p in zip(d["c"], d["p"], strict=True)]
        if kind == "dict":
            return dict(zip(d["keys"], values, strict=True))
        if kind == "ordered_dict":
            return collections.OrderedDict(zip(d["keys"], values, strict=True))
        return values if kind == "list" else tuple(values)

    return walk(desc, "")
