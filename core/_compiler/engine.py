"""The LLVM side of the compiler: target machines, optimization, object code, ORC LLJIT.

* ``llvm.initialize()`` raises in llvmlite 0.50; only the native target and asm printer are
  initialized.
* One ``TargetMachine`` (host CPU name and features, PIC) optimizes and emits object code;
  the process-wide ORC ``LLJIT`` gets a fresh TargetMachine of its own (an engine owns its
  TM, and sharing one between engines has crashed in prototypes).
* Each compiled program is one JIT library. External symbols (BLAS) are imported by name
  with ``import_symbol``; code never contains raw addresses, so object code can be cached.
* llvmlite serialises LLVM calls behind a global lock; ``_LOCK`` additionally keeps our
  own multi-step sequences (optimize then emit; link) atomic across Python threads.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading

import llvmlite
import llvmlite.binding as llvm

_LOCK = threading.RLock()
_STATE: dict = {}
_lib_counter = itertools.count()

# Bump when the generated code changes in a way the cache key would not see.
CODEGEN_VERSION = "1"


def _init():
    if "tm" in _STATE:
        return
    with _LOCK:
        if "tm" in _STATE:
            return
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _STATE["triple"] = llvm.get_process_triple()
        _STATE["cpu"] = llvm.get_host_cpu_name()
        _STATE["features"] = llvm.get_host_cpu_features().flatten()
        _STATE["tm"] = new_target_machine()


def new_target_machine():
    target = llvm.Target.from_triple(_STATE["triple"])
    return target.create_target_machine(
        cpu=_STATE["cpu"], features=_STATE["features"], opt=2, reloc="pic", codemodel="default"
    )


def _source_digest() -> str:
    """A hash of the compiler's own source: object code cached by one version of the code
    generator is never loaded by another (even without a version bump)."""
    digest = _STATE.get("source_digest")
    if digest is None:
        import hashlib

        h = hashlib.sha256()
        here = os.path.dirname(os.path.abspath(__file__))
        for name in sorted(os.listdir(here)):
            if name.endswith(".py"):
                with open(os.path.join(here, name), "rb") as f:
                    h.update(name.encode() + b"\0" + f.read())
        digest = _STATE["source_digest"] = h.hexdigest()[:16]
    return digest


def host_id() -> str:
    """What the object code depends on besides the IR: triple, CPU, features, versions."""
    _init()
    return "|".join(
        [
            _STATE["triple"],
            _STATE["cpu"],
            _STATE["features"],
            llvmlite.__version__,
            CODEGEN_VERSION,
            _source_digest(),
        ]
    )


def triple_and_layout():
    _init()
    return _STATE["triple"], str(_STATE["tm"].target_data)


def parse_and_optimize(ir_text: str):
    """Parse LLVM IR text, verify it and run the O2 pipeline (with vectorizers)."""
    _init()
    with _LOCK:
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
        pto = llvm.PipelineTuningOptions(speed_level=2)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pb = llvm.PassBuilder(_STATE["tm"], pto)
        pb.getModulePassManager().run(mod, pb)
        return mod


def emit_object(mod) -> bytes:
    with _LOCK:
        return bytes(_STATE["tm"].emit_object(mod))


def emit_assembly(mod) -> str:
    with _LOCK:
        return _STATE["tm"].emit_assembly(mod)


def _lljit():
    # JITLink rather than the older RuntimeDyld linker: JITLink places each library's code
    # and constants in one allocation and reaches other symbols through its own GOT and
    # stubs, so 32-bit PC-relative references stay in range however fragmented the
    # process's address space becomes (a long-running process that has loaded thousands of
    # programs, or other large libraries, is where RuntimeDyld's separately mapped sections
    # can end up more than 2 GiB apart).
    jit = _STATE.get("lljit")
    if jit is None:
        jit = _STATE["lljit"] = llvm.create_lljit_compiler(new_target_machine(), use_jit_link=True)
    return jit


def load(obj: bytes, exports, imports=None):
    """Link object code into a new JIT library; returns the ResourceTracker (keep it alive:
    the code is unmapped when it is collected). Raises RuntimeError on unresolved symbols
    or unreadable object code."""
    _init()
    with _LOCK:
        builder = llvm.JITLibraryBuilder().add_object_img(obj)
        for name, addr in (imports or {}).items():
            builder.import_symbol(name, addr)
        for name in exports:
            builder.export_symbol(name)
        return builder.link(_lljit(), f"derivax_{os.getpid()}_{next(_lib_counter)}")


# --------------------------------------------------------------------------- BLAS


def _blas_lib():
    lib = _STATE.get("blas")
    if lib is None:
        libdir = _openblas32_lib_dir()
        name = next(f for f in sorted(os.listdir(libdir)) if f.startswith("libscipy_openblas"))
        lib = _STATE["blas"] = ctypes.CDLL(os.path.join(libdir, name))
        lib.scipy_openblas_get_corename.restype = ctypes.c_char_p
        lib.scipy_openblas_get_config.restype = ctypes.c_char_p
        lib.scipy_openblas_set_num_threads.argtypes = [ctypes.c_int]
        _STATE["blas_threads"] = None
    return lib


def _openblas32_lib_dir():
    """scipy-openblas32's library directory, without importing the package (its import
    reads package metadata, which costs tens of milliseconds on the first jitted call)."""
    import importlib.util

    spec = importlib.util.find_spec("scipy_openblas32")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        d = os.path.join(loc, "lib")
        if os.path.isdir(d):
            return d
    import scipy_openblas32

    return scipy_openblas32.get_lib_dir()


# Generated code calls these names; they are bound to scipy-openblas32's CBLAS at load time.
BLAS_SYMBOLS = {
    "derivax_sgemm": "scipy_cblas_sgemm",
    "derivax_dgemm": "scipy_cblas_dgemm",
    "derivax_blas_threads": "scipy_openblas_set_num_threads",
}

# Matrix products below this many flops run on one BLAS thread. OpenBLAS's helper threads
# spin while they wait; on a 2-core machine that shares its cores with other work, a
# two-thread sgemm collapses to scheduler-tick quanta (4 ms), while one thread keeps its
# speed. A product of 2^28 flops takes ~1-2 ms on one core here, enough to pay for the
# hand-off when the second core is free. ``config.blas_threads`` overrides the choice.
BLAS_PARALLEL_MIN_FLOPS = 1 << 28


def gemm_threads(flops):
    """BLAS threads for one matrix product of ``flops`` floating-point operations: the
    configured ``blas_threads`` when set, else one below ``BLAS_PARALLEL_MIN_FLOPS`` and
    every core this process may use (at most 8) above it."""
    from .._config import config

    if config.blas_threads is not None:
        return int(config.blas_threads)
    if flops < BLAS_PARALLEL_MIN_FLOPS:
        return 1
    from . import parallel

    return parallel.cpu_count()


def blas_imports(used):
    if not used:  # do not load the BLAS library for programs that make no BLAS call
        return {}
    lib = _blas_lib()
    return {
        ours: ctypes.cast(getattr(lib, BLAS_SYMBOLS[ours]), ctypes.c_void_p).value for ours in used
    }


def set_blas_threads(n):
    """Set scipy-openblas32's thread count (None leaves the library default). Compiled
    programs set it themselves before each matrix product (``gemm_threads``); this is for
    callers outside them."""
    if n is None or _STATE.get("blas_threads") == n:
        return
    _blas_lib().scipy_openblas_set_num_threads(int(n))
    _STATE["blas_threads"] = n


def blas_info() -> dict:
    lib = _blas_lib()
    return {
        "library": "scipy-openblas32",
        "config": lib.scipy_openblas_get_config().decode(),
        "core": lib.scipy_openblas_get_corename().decode(),
        "threads": lib.scipy_openblas_get_num_threads(),
    }


# --------------------------------------------------------------------------- NumPy ABI


def numpy_abi():
    """Byte offsets of ``data`` and ``flags`` in a NumPy array object, found by probing.

    Generated code reads a program's input and output data pointers (and the input
    flags) straight from the array objects, so that a call only stores ``id(array)`` per
    argument. The offsets are part of the cache key."""
    abi = _STATE.get("abi")
    if abi is not None:
        return abi
    import numpy as np

    arrays = [
        np.zeros(7, np.float32),
        np.zeros((3, 4), np.float64)[:, ::2],
        np.ones(5, np.int8)[1:],
    ]
    arrays.append(np.zeros(6, np.float32).reshape(2, 3).T)
    data_off = flags_off = None
    for off in range(8, 96, 8):
        if all(ctypes.c_void_p.from_address(id(a) + off).value == a.ctypes.data for a in arrays):
            data_off = off
            break
    for off in range(8, 160, 4):
        if all(ctypes.c_int32.from_address(id(a) + off).value == a.flags.num for a in arrays):
            flags_off = off
            break
    if data_off is None or flags_off is None:  # pragma: no cover - exotic builds
        raise RuntimeError("derivax: cannot locate the data/flags fields of NumPy arrays")
    abi = _STATE["abi"] = (data_off, flags_off)
    return abi
