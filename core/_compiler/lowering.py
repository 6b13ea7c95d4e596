"""``jit(f).lower(*args)``: inspect and compile one traced program.

``Lowered.as_text(dialect)`` (in ``derivax._jit``) delegates here:

* ``"traced"``: the IR as traced (what ``make_jaxpr`` prints);
* ``"ir"``: the IR after the compiler's passes (inlining, simplification, folding, CSE,
  DCE);
* ``"fusion"``: the schedule: loops with the expressions they compute, reductions, BLAS
  calls, control flow (``scan``/``while``/``cond`` with the plans of their bodies),
  reference-evaluator steps, the buffer each value lives in, and which kernels run split
  across threads;
* ``"llvm"``: the optimized LLVM IR; ``"asm"``: the machine code.

``Lowered.compile()`` returns a ``Compiled``: call it like the jitted function (with
arguments of the lowered shapes); ``.report`` holds the compile report.
"""

from __future__ import annotations

from .. import tree as tree_util
from . import engine, fusion, runtime

DIALECTS = ("traced", "ir", "fusion", "llvm", "asm")


def _executable(lowered):
    exe = getattr(lowered, "_executable", None)
    if exe is None:
        exe = runtime.executable_for(lowered.call, getattr(lowered, "trace_time", None))
        lowered._executable = exe
    return exe


def as_text(lowered, dialect="ir"):
    if dialect == "traced":
        return str(lowered.call)
    if dialect not in DIALECTS:
        raise ValueError(
            f"as_text: unknown dialect {dialect!r}; choose one of {', '.join(map(repr, DIALECTS))}."
        )
    exe = _executable(lowered)
    if dialect == "ir":
        return str(exe.program)
    if dialect == "fusion":
        return fusion.describe(exe.plan)
    if not exe.plan.kernel_count:
        return "; no native code: the program has no kernels\n"
    module = runtime.build_llvm(exe.plan)
    mod = engine.parse_and_optimize(str(module))
    if dialect == "llvm":
        return str(mod)
    return engine.emit_assembly(mod)


class Compiled:
    """A compiled program for one argument signature.

    Call it with arguments of the shapes and dtypes it was lowered for. ``report`` is the
    ``CompileReport`` (trace, passes, fusion, codegen, LLVM and load times, kernel count,
    cache hit).
    """

    def __init__(self, lowered, exe):
        self._lowered = lowered
        self._exe = exe
        self.report = exe.report

    def __call__(self, *args, **kwargs):
        lowered = self._lowered
        jitted = lowered._jitted
        (call, consts, out_tree), leaves = jitted._lookup(args, kwargs)
        if call is not lowered.call:
            raise TypeError(
                f"Compiled {jitted.name}: the arguments do not match the signature it was "
                "lowered for (shapes, dtypes or static arguments differ). Lower again for "
                "the new arguments: jit(f).lower(*args).compile()."
            )
        from .._array import Array
        from .._jit import _as_array

        flat = [x if type(x) is Array else _as_array(x) for x in leaves]
        outs = self._exe([*consts, *flat])
        return tree_util.unflatten(out_tree, outs)

    def as_text(self, dialect="ir"):
        return as_text(self._lowered, dialect)

    def __repr__(self):
        return f"<Compiled {self._lowered._jitted.name}: {self.report!r}>"


def compile_lowered(lowered):
    return Compiled(lowered, _executable(lowered))
