"""`save` and `restore`: one pytree in one checkpoint file."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from derivax import tree as _tree

from ._format import (
    CheckpointError,
    _fail,
    decode_checkpoint,
    encode_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from ._treedesc import _Invalid, build_tree, encode_tree, flat_leaves

__all__ = ["CheckpointMismatchError", "from_bytes", "restore", "save", "to_bytes"]


class CheckpointMismatchError(CheckpointError, ValueError):
    """The checkpoint is intact but does not fit the ``like`` tree given to `restore`.

    The message lists every difference by key path: leaves missing on either side and
    leaves whose kind, shape or dtype differ. Fix the model or optimizer definition so it
    builds the same tree as the one that was saved, or restore without ``like`` to look at
    what the file holds.
    """

    def __init__(self, message: str, differences: list[str]):
        super().__init__(message)
        self.differences = differences


def save(path: str | os.PathLike, tree: Any) -> None:
    """Saves a pytree of arrays and Python scalars to one checkpoint file.

    The file is a safetensors file whose metadata holds the tree's structure and a
    SHA-256 checksum (see :doc:`/serialization`). It is written to a temporary file in the
    same directory and renamed into place, so ``path`` always holds either the previous
    complete checkpoint or the new one. Loading a checkpoint never runs code.

    Args:
        path: Destination file. Its directory must exist; an existing file is replaced.
        tree: A pytree (dicts, lists, tuples, NamedTuples, registered nodes, None) whose
            leaves are arrays (`derivax.Array`, NumPy arrays or scalars) of a supported
            dtype (bool, (u)int8-64, float16, bfloat16, float32, float64, complex64,
            float8) or Python int, float, complex, bool or str.

    Raises:
        TypeError: If a leaf has a type or dtype a checkpoint cannot store, or a dict key
            is not a str or int. The message names the leaf's key path.
        FileNotFoundError: If the directory of ``path`` does not exist.

    Example:
        >>> import os, tempfile
        >>> import derivax.numpy as dnp
        >>> from derivax import serialization
        >>> path = os.path.join(tempfile.mkdtemp(), "params.safetensors")
        >>> serialization.save(path, {"w": dnp.ones((2, 3)), "step": 10})
        >>> serialization.restore(path)["w"].shape
        (2, 3)
    """
    tensors, tree_json = _encode(tree)
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"save: the directory {directory!r} of path {os.fspath(path)!r} does not exist; "
            "create it first (os.makedirs(directory, exist_ok=True))."
        )
    write_checkpoint(path, tensors, tree_json)


def _encode(tree: Any) -> tuple[dict, str]:
    desc, tensors = encode_tree(tree)
    return tensors, json.dumps(desc, separators=(",", ":"))


def to_bytes(tree: Any) -> bytes:
    """The bytes of the checkpoint file `save` would write for ``tree``, without a file.

    Same format, same supported leaves and same checks as `save`: the result can be
    written to a ``.safetensors`` file and read with `restore`, or sent over a network
    and read back with `from_bytes`.

    Args:
        tree: A pytree of arrays and Python scalars, as for `save`.

    Returns:
        The checkpoint as ``bytes``.

    Raises:
        TypeError: If a leaf has a type or dtype a checkpoint cannot store, or a dict key
            is not a str or int. The message names the leaf's key path.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import serialization
        >>> data = serialization.to_bytes({"w": dnp.arange(3.0), "step": 7})
        >>> serialization.from_bytes(data)
        {'w': Array([0., 1., 2.], dtype=float32), 'step': 7}
    """
    tensors, tree_json = _encode(tree)
    return b"".join(encode_checkpoint(tensors, tree_json))


def _describe(kind: str, value: Any) -> str:
    if kind == "array":
        return f"{np.dtype(value.dtype)}{list(value.shape)}"
    return f"Python {kind}"


def _like_kind(leaf: Any) -> str | None:
    for t in (bool, int, float, complex, str):
        if isinstance(leaf, t):
            return t.__name__
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return "array"
    return None


def _to_array(array: np.ndarray, like_leaf: Any = None) -> Any:
    """A `derivax.Array` holding exactly ``array``, or ``array`` itself if none can.

    derivax narrows float64/int64 to 32 bits when x64 is off and does not hold every
    dtype (e.g. bfloat16): such arrays stay NumPy arrays so values round-trip exactly.
    """
    if isinstance(like_leaf, np.ndarray):
        return array
    import derivax.numpy as dnp

    try:
        out = dnp.asarray(array)
    except TypeError:
        return array
    return out if np.dtype(out.dtype) == array.dtype else array


def _check_against(stored: dict[str, tuple[str, Any]], like: Any) -> tuple[list, Any, list]:
    items, treedef = _tree.flatten_with_path(like)
    problems: list[str] = []
    seen: set[str] = set()
    for path, leaf in items:
        key = _tree.keystr(path)
        seen.add(key)
        where = key or "<root>"
        want = _like_kind(leaf)
        if want is None:
            problems.append(
                f"{where}: like has a leaf of type {type(leaf).__name__}; like's leaves must "
                "be arrays (or ShapeDtypeStructs) or Python scalars"
            )
            continue
        if key not in stored:
            problems.append(f"{where}: in like ({_describe(want, leaf)}) but not in the checkpoint")
            continue
        kind, value = stored[key]
        if kind != want:
            problems.append(
                f"{where}: the checkpoint holds {_describe(kind, value)}, like has "
                f"{_describe(want, leaf)}"
            )
        elif kind == "array" and (
            tuple(value.shape) != tuple(leaf.shape) or value.dtype != np.dtype(leaf.dtype)
        ):
            problems.append(
                f"{where}: the checkpoint holds {_describe(kind, value)}, like has "
                f"{_describe(want, leaf)}"
            )
    for key, (kind, value) in stored.items():
        if key not in seen:
            problems.append(
                f"{key or '<root>'}: in the checkpoint ({_describe(kind, value)}) but not in like"
            )
    return items, treedef, problems


def restore(path: str | os.PathLike, like: Any = None) -> Any:
    """Restores a pytree saved by `save`.

    The whole file is read and verified (lengths, offsets, dtypes, checksum) before any
    value is returned: a truncated or corrupted file raises `CheckpointError` and never
    yields partial data.

    Args:
        path: A file written by `save`.
        like: Optional tree with the expected structure, e.g. a freshly initialised model
            or optimizer state, or the result of ``derivax.eval_shape``. Its key paths,
            leaf kinds, shapes and dtypes must match the file's exactly; the result has
            ``like``'s structure (so NamedTuples, dataclasses and other registered nodes
            come back as their classes). Without ``like``, dicts, OrderedDicts, lists,
            tuples and None are rebuilt from the file; NamedTuples and custom nodes need
            ``like``.

    Returns:
        The tree. Array leaves are `derivax.Array` (NumPy arrays where ``like`` has NumPy
        arrays, and where derivax cannot hold the dtype exactly: float64/int64 while x64
        is off, bfloat16); scalar leaves are Python scalars.

    Raises:
        CheckpointError: If the file is truncated, corrupted or not a checkpoint, or if it
            holds NamedTuples or custom nodes and ``like`` is None.
        CheckpointMismatchError: If ``like`` is given and differs from the file; the
            message lists every difference by key path.
        FileNotFoundError: If ``path`` does not exist.

    Example:
        >>> import os, tempfile
        >>> import derivax.numpy as dnp
        >>> from derivax import serialization
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> serialization.save(path, {"w": dnp.zeros(3), "b": dnp.zeros(2)})
        >>> serialization.restore(path, like={"w": dnp.ones(3), "b": dnp.ones(1)})
        Traceback (most recent call last):
        ...
        derivax.serialization._api.CheckpointMismatchError: ...
    """
    return _decode(*read_checkpoint(path), like, os.fspath(path))


def from_bytes(data: bytes | bytearray | memoryview, like: Any = None) -> Any:
    """Restores a pytree from the bytes made by `to_bytes` (or read from a checkpoint file).

    The bytes are verified exactly as `restore` verifies a file (lengths, offsets, dtypes,
    checksum) before any value is returned; nothing in them can run code.

    Args:
        data: The checkpoint bytes. They are copied, so changing ``data`` later does not
            change the arrays returned.
        like: Optional tree with the expected structure, as for `restore`.

    Returns:
        The tree, with the same leaf types as `restore` gives.

    Raises:
        TypeError: If ``data`` is not bytes-like.
        CheckpointError: If the bytes are truncated, corrupted or not a checkpoint.
        CheckpointMismatchError: If ``like`` is given and differs from the saved tree.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import serialization
        >>> data = serialization.to_bytes([dnp.ones(2), 3])
        >>> serialization.from_bytes(data, like=[dnp.zeros(2), 0])
        [Array([1., 1.], dtype=float32), 3]
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"from_bytes: data must be bytes (from serialization.to_bytes), got "
            f"{type(data).__name__}; to read a file use serialization.restore(path)."
        )
    return _decode(*decode_checkpoint(bytearray(data)), like, None)


def _decode(tensors: dict, tree_json: str, like: Any, path: str | None) -> Any:
    """The tree of a verified checkpoint read from ``path`` (None: from bytes)."""
    try:
        desc = json.loads(tree_json)
        leaves = flat_leaves(desc, tensors)
    except (ValueError, RecursionError, _Invalid) as e:
        raise _fail(path, f"the tree description is invalid ({e})") from None
    stored = {key: (kind, value) for key, kind, value in leaves}
    if len(stored) != len(leaves):
        raise _fail(path, "two leaves of the tree description share a key path")

    if like is None:
        return build_tree(
            desc,
            lambda key: _to_array(stored[key][1]) if stored[key][0] == "array" else stored[key][1],
        )

    items, treedef, problems = _check_against(stored, like)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        source = "the checkpoint bytes" if path is None else f"checkpoint {path!r}"
        fix = "from_bytes(data)" if path is None else "restore(path)"
        raise CheckpointMismatchError(
            f"{'from_bytes' if path is None else 'restore'}: {source} "
            f"{'do' if path is None else 'does'} not match `like` "
            f"({len(problems)} difference{'s' if len(problems) > 1 else ''}):\n{lines}\n"
            f"Build `like` the way the saved tree was built, or call {fix} without "
            "`like` to inspect what was saved.",
            problems,
        )
    values = []
    for path_, leaf in items:
        kind, value = stored[_tree.keystr(path_)]
        values.append(_to_array(value, leaf) if kind == "array" else value)
    return _tree.unflatten(treedef, values)
