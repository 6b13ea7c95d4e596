"""The checkpoint file format: safetensors with a tree description and a checksum.

A checkpoint is a valid `safetensors <https://github.com/huggingface/safetensors>`_ file:

* 8 bytes: the header length ``N`` as a little-endian unsigned 64-bit integer;
* ``N`` bytes: a UTF-8 JSON object (padded with spaces to a multiple of 8 bytes). Each
  tensor is an entry ``name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}``
  with offsets relative to the start of the data section; the entry ``__metadata__``
  maps strings to strings;
* the data section: the tensors' bytes, little-endian, C order, back to back.

derivax stores three strings in ``__metadata__``: ``format`` (``"derivax.checkpoint"``),
``format_version`` and ``tree`` (the JSON description of the pytree, see ``_treedesc``),
plus ``sha256``: the SHA-256 of the tree description, the canonical tensor table and the
data section. Reading checks every length, offset and dtype and then the checksum before
any array is built, so a truncated or corrupted file raises `CheckpointError` instead of
returning partial data. Nothing in the format is executable: no pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import ml_dtypes
import numpy as np

__all__ = [
    "CheckpointError",
    "decode_checkpoint",
    "encode_checkpoint",
    "read_checkpoint",
    "write_checkpoint",
]

FORMAT_NAME = "derivax.checkpoint"
FORMAT_VERSION = "1"

# safetensors dtype names. complex128 has no safetensors name, so it is refused on save.
_DTYPE_TO_NAME: dict[np.dtype, str] = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint16): "U16",
    np.dtype(np.int16): "I16",
    np.dtype(np.uint32): "U32",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint64): "U64",
    np.dtype(np.int64): "I64",
    np.dtype(np.float16): "F16",
    np.dtype(ml_dtypes.bfloat16): "BF16",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
    np.dtype(np.complex64): "C64",
    np.dtype(ml_dtypes.float8_e4m3fn): "F8_E4M3",
    np.dtype(ml_dtypes.float8_e5m2): "F8_E5M2",
}
_NAME_TO_DTYPE = {name: dtype for dtype, name in _DTYPE_TO_NAME.items()}


class CheckpointError(Exception):
    """A checkpoint file cannot be read: it is truncated, corrupted or not a checkpoint.

    Raised by `restore` before any data is returned; the message names the file and what
    is wrong with it. The usual fix is to restore an older checkpoint (a
    `CheckpointManager` does that by itself) or to write the file again.
    """


def dtype_name(dtype: np.dtype) -> str | None:
    """The safetensors name of ``dtype``, or None if the format cannot store it."""
    return _DTYPE_TO_NAME.get(np.dtype(dtype))


def supported_dtypes() -> list[str]:
    """The NumPy names of the dtypes a checkpoint can store, for error messages."""
    return [str(d) for d in _DTYPE_TO_NAME]


def _little_endian(array: np.ndarray) -> np.ndarray:
    # Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.
    array = np.asarray(array, order="C")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return array


def _digest(tree_json: str, table: Mapping[str, Any], chunks) -> str:
    h = hashlib.sha256()
    h.update(tree_json.encode("utf-8"))
    h.update(json.dumps(table, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def encode_checkpoint(tensors: Mapping[str, np.ndarray], tree_json: str) -> list:
    """The bytes of a checkpoint holding ``tensors`` and the tree description, in order.

    Returns a list of bytes-like chunks (length field, header, then each tensor's data) so
    that a file can be written without first joining them into one buffer.
    """
    arrays = {name: _little_endian(np.asarray(a)) for name, a in tensors.items()}
    # Largest items first keeps every tensor aligned to its item size (the header is padded
    # to 8 bytes and the safetensors layout allows no gaps between tensors).
    order = sorted(arrays, key=lambda n: -arrays[n].dtype.itemsize)
    table: dict[str, Any] = {}
    offset = 0
    for name in order:
        a = arrays[name]
        table[name] = {
            "dtype": _DTYPE_TO_NAME[a.dtype.newbyteorder("=")],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + a.nbytes],
        }
        offset += a.nbytes
    chunks = [arrays[n].reshape(-1).view(np.uint8) for n in order if arrays[n].nbytes]
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "tree": tree_json,
        "sha256": _digest(tree_json, table, chunks),
    }
    header = json.dumps({"__metadata__": metadata, **table}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return [len(header).to_bytes(8, "little"), header, *chunks]


def write_checkpoint(path: str | os.PathLike, tensors: Mapping[str, np.ndarray], tree_json: str):
    """Writes ``tensors`` and the tree description to ``path`` atomically.

    The bytes go to a temporary file in the same directory, which is flushed, fsynced and
    then renamed over ``path``: a reader sees either the old file or the complete new one.
    """
    chunks = encode_checkpoint(tensors, tree_json)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str):
    # Makes the rename itself durable. Not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fail(path: str | None, problem: str) -> CheckpointError:
    """The error for an unreadable checkpoint: the file ``path``, or bytes when None."""
    if path is None:
        return CheckpointError(
            f"cannot read checkpoint bytes: {problem}. The bytes are truncated, corrupted or "
            "were not made by derivax.serialization.to_bytes; make them again from the "
            "original tree."
        )
    return CheckpointError(
        f"cannot read checkpoint {path!r}: {problem}. The file is truncated, corrupted or "
        "was not written by derivax.serialization.save; restore an older checkpoint or "
        "write this one again."
    )


def _as_index(value: Any) -> int | None:
    # JSON integers only: bool is an int subclass, and floats such as 3.0 are not indices.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], str]:
    """Reads and verifies a checkpoint file.

    Returns:
        ``(tensors, tree_json)``: the arrays by name and the tree description string.

    Raises:
        CheckpointError: If any length, offset, dtype or the checksum is wrong.
        FileNotFoundError: If ``path`` does not exist.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = bytearray(size)
        if f.readinto(data) != size:
            raise _fail(path, "the file changed size while it was read")
    return decode_checkpoint(data, path)


def decode_checkpoint(
    data: bytearray, path: str | None = None
) -> tuple[dict[str, np.ndarray], str]:
    """Verifies and decodes the bytes of a checkpoint (read from ``path``, or None).

    The arrays returned are views of ``data``, which the caller must not change afterwards.

    Returns:
        ``(tensors, tree_json)``: the arrays by name and the tree description string.

    Raises:
        CheckpointError: If any length, offset, dtype or the checksum is wrong.
    """
    size = len(data)
    if size < 8:
        what = "the file has" if path is not None else "there are"
        raise _fail(path, f"{what} {size} bytes, fewer than the 8-byte header length")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > size - 8:
        raise _fail(
            path,
            f"the header claims {header_len} bytes but only {size - 8} bytes follow the "
            "length field",
        )
    try:
        header = json.loads(bytes(data[8 : 8 + header_len]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(path, f"the header is not valid JSON ({type(e).__name__}: {e})") from None
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise _fail(path, f"the header has no {FORMAT_NAME!r} metadata")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise _fail(
            path,
            f"format version {metadata.get('format_version')!r} is not the supported "
            f"version {FORMAT_VERSION!r}",
        )
    tree_json, digest = metadata.get("tree"), metadata.get("sha256")
    if not isinstance(tree_json, str) or not isinstance(digest, str):
        raise _fail(path, "the metadata lacks the tree description or the checksum")

    data_start = 8 + header_len
    data_len = size - data_start
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _fail(path, f"tensor {name!r} has a malformed entry")
        dtype = _NAME_TO_DTYPE.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
        shape, offsets = entry["shape"], entry["data_offsets"]
        if dtype is None:
            raise _fail(path, f"tensor {name!r} has the unknown dtype {entry['dtype']!r}")
        if not isinstance(shape, list) or any(_as_index(d) is None for d in shape):
            raise _fail(path, f"tensor {name!r} has the invalid shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or any(_as_index(o) is None for o in offsets)
            or offsets[0] > offsets[1]
        ):
            raise _fail(path, f"tensor {name!r} has the invalid data_offsets {offsets!r}")
        nbytes = math.prod(shape) * dtype.itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise _fail(
                path,
                f"tensor {name!r} of shape {tuple(shape)} and dtype {dtype} needs {nbytes} "
                f"bytes but its data_offsets {offsets} span {offsets[1] - offsets[0]}",
            )
        spans.append((offsets[0], offsets[1], name, dtype, tuple(shape)))
    spans.sort(key=lambda s: (s[0], s[1]))
    end = 0
    for begin, stop, name, _, _ in spans:
        if begin != end:
            raise _fail(path, f"tensor {name!r} starts at byte {begin}, expected {end}")
        end = stop
    if end != data_len:
        raise _fail(
            path,
            f"the tensors cover {end} bytes of data but {data_len} follow the header "
            f"({'truncated' if end > data_len else 'extra bytes at the end'})",
        )
    view = memoryview(data)[data_start:]
    table = {name: header[name] for _, _, name, _, _ in spans}
    chunks = [view[b:e] for b, e, _, _, _ in spans if e > b]
    if _digest(tree_json, table, chunks) != digest:
        raise _fail(path, "the SHA-256 checksum does not match the contents")

    tensors = {}
    for begin, _, name, dtype, shape in spans:
        array = np.frombuffer(
            data, dtype=dtype.newbyteorder("<"), count=math.prod(shape), offset=data_start + begin
        )
        tensors[name] = array.astype(dtype, copy=False).reshape(shape)
    return tensors, tree_json
