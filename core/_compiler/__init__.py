"""The LLVM back end of ``jit`` (private).

Pipeline: ``passes`` (IR rewrites) -> ``fusion`` (schedule and buffers) -> ``codegen``
(llvmlite IR, with ``mathlib`` for transcendentals) -> ``engine`` (LLVM optimization,
object code, ORC JIT) -> ``runtime`` (the executable called per jitted call), with
``cache`` keeping object code in memory and on disk. ``lowering`` serves
``jit(f).lower(...)``.
"""

from .runtime import executable_for as executable_for
from .runtime import run as run
