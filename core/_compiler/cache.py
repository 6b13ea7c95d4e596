"""Compiled-code cache: in memory (per process) and on disk (object code).

The key is the SHA-256 of the optimized IR text, the fusion plan text (which fixes every
kernel, buffer and slot), the host (target triple, CPU name and features), the llvmlite,
NumPy-ABI, codegen and derivax versions. Object code never contains raw addresses
(external functions are bound by name when the code is loaded), so a cached file is
valid in any process on the same kind of machine.

A file is ``MAGIC | payload length (8 bytes) | sha256(payload) | payload``. It is written
to a temporary file in the same directory and renamed over the final name, so readers
see either nothing or a complete file. A file that is truncated, has the wrong magic or
checksum, or fails to load is reported (``DERIVAX_DEBUG=1``), deleted and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import threading

from .._config import config

MAGIC = b"DXLLVMO1"
_HEADER = struct.Struct("<8sQ32s")
_SUBDIR = "llvm"

_memory: dict = {}
_memory_lock = threading.Lock()
_MEMORY_LIMIT = 512


def make_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        data = p.encode("utf-8")
        h.update(struct.pack("<Q", len(data)))
        h.update(data)
    return h.hexdigest()


# --------------------------------------------------------------------------- memory


def memory_get(key):
    return _memory.get(key)


def memory_put(key, value):
    with _memory_lock:
        if len(_memory) >= _MEMORY_LIMIT:
            for k in list(_memory)[: _MEMORY_LIMIT // 4]:
                del _memory[k]
        _memory[key] = value


def memory_clear():
    with _memory_lock:
        _memory.clear()


# --------------------------------------------------------------------------- disk


def cache_dir():
    """The directory for object files, or None when the disk cache is off."""
    base = config.resolved_cache_dir()
    if base is None:
        return None
    return os.path.join(os.fspath(base), _SUBDIR)


def path_for(key):
    d = cache_dir()
    return None if d is None else os.path.join(d, key + ".o")


def disk_get(key, log=None):
    """The cached object code for ``key``, or None (missing, unreadable or corrupt)."""
    path = path_for(key)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    problem = None
    if len(data) < _HEADER.size:
        problem = "truncated header"
    else:
        magic, n, digest = _HEADER.unpack_from(data)
        payload = data[_HEADER.size :]
        if magic != MAGIC:
            problem = "bad magic"
        elif n != len(payload):
            problem = f"truncated ({len(payload)} of {n} bytes)"
        elif hashlib.sha256(payload).digest() != digest:
            problem = "checksum mismatch"
    if problem is not None:
        if log:
            log(f"cache file {path} is corrupt ({problem}); rebuilding")
        discard(key)
        return None
    return payload


def disk_put(key, obj: bytes, log=None):
    """Atomically write object code; failures (read-only disk, ...) are only logged."""
    path = path_for(key)
    if path is None:
        return False
    d = os.path.dirname(path)
    try:
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".o")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_HEADER.pack(MAGIC, len(obj), hashlib.sha256(obj).digest()))
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as err:
        if log:
            log(f"could not write cache file {path}: {err}")
        return False
    return True


def discard(key):
    path = path_for(key)
    if path is None:
        return
    try:
        os.unlink(path)
    except OSError:
        pass
