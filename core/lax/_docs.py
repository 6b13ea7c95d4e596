"""Docstrings with examples for the ``derivax.lax`` functions made by the op combinators.

The elementwise functions are built in a loop by ``_elementwise``; their documentation is
kept here, in one table, and attached at import.
"""

from __future__ import annotations

from . import _elementwise, _indexing, _structural

_MODULES = (_elementwise, _structural, _indexing)

# name: (summary, example call, its output)
_DOCS = {
    "abs": (
        "Absolute value, elementwise.",
        "lax.abs(dnp.array([-1.5, 2.0]))",
        "Array([1.5, 2. ], dtype=float32)",
    ),
    "acos": (
        "Inverse cosine, elementwise.",
        "lax.acos(dnp.array([1.0, 0.0]))",
        "Array([0.       , 1.5707964], dtype=float32)",
    ),
    "acosh": (
        "Inverse hyperbolic cosine, elementwise.",
        "lax.acosh(dnp.array([1.0, 2.0]))",
        "Array([0.      , 1.316958], dtype=float32)",
    ),
    "add": (
        "Elementwise sum of two operands of one shape and dtype.",
        "lax.add(dnp.array([1.0, 2.0]), dnp.array([3.0, 4.0]))",
        "Array([4., 6.], dtype=float32)",
    ),
    "asin": (
        "Inverse sine, elementwise.",
        "lax.asin(dnp.array([0.0, 1.0]))",
        "Array([0.       , 1.5707964], dtype=float32)",
    ),
    "asinh": (
        "Inverse hyperbolic sine, elementwise.",
        "lax.asinh(dnp.array([0.0, 1.0]))",
        "Array([0.       , 0.8813736], dtype=float32)",
    ),
    "atan": (
        "Inverse tangent, elementwise.",
        "lax.atan(dnp.array([0.0, 1.0]))",
        "Array([0.       , 0.7853982], dtype=float32)",
    ),
    "atan2": (
        "Angle of the point (y, x) = (x1, x2) in radians, elementwise.",
        "lax.atan2(dnp.array([1.0]), dnp.array([1.0]))",
        "Array([0.7853982], dtype=float32)",
    ),
    "atanh": (
        "Inverse hyperbolic tangent, elementwise.",
        "lax.atanh(dnp.array([0.0, 0.5]))",
        "Array([0.        , 0.54930615], dtype=float32)",
    ),
    "bitwise_and": (
        "Bitwise AND of integer or bool operands.",
        "lax.bitwise_and(dnp.array([3, 5]), dnp.array([1, 1]))",
        "Array([1, 1], dtype=int32)",
    ),
    "bitwise_not": (
        "Bitwise NOT of an integer or bool operand.",
        "lax.bitwise_not(dnp.array([True, False]))",
        "Array([False,  True], dtype=bool)",
    ),
    "bitwise_or": (
        "Bitwise OR of integer or bool operands.",
        "lax.bitwise_or(dnp.array([1, 4]), dnp.array([2, 2]))",
        "Array([3, 6], dtype=int32)",
    ),
    "bitwise_xor": (
        "Bitwise XOR of integer or bool operands.",
        "lax.bitwise_xor(dnp.array([3]), dnp.array([1]))",
        "Array([2], dtype=int32)",
    ),
    "broadcast": (
        "Add leading dimensions of the given sizes.",
        "lax.broadcast(dnp.array([1.0, 2.0]), (2,)).shape",
        "(2, 2)",
    ),
    "broadcast_in_dim": (
        "Broadcast to a shape; operand dimension i becomes result dimension broadcast_dimensions[i].",
        "lax.broadcast_in_dim(dnp.array([1.0, 2.0]), (3, 2), (1,)).shape",
        "(3, 2)",
    ),
    "cbrt": (
        "Cube root, elementwise.",
        "lax.cbrt(dnp.array([8.0, -1.0]))",
        "Array([ 2., -1.], dtype=float32)",
    ),
    "ceil": (
        "Round up, elementwise.",
        "lax.ceil(dnp.array([1.2, -1.2]))",
        "Array([ 2., -1.], dtype=float32)",
    ),
    "concatenate": (
        "Join operands of one dtype along a dimension.",
        "lax.concatenate([dnp.ones(2), dnp.zeros(1)], 0)",
        "Array([1., 1., 0.], dtype=float32)",
    ),
    "convert_element_type": (
        "Convert to a dtype (float to int truncates; NaN becomes 0; out-of-range values saturate).",
        "lax.convert_element_type(dnp.array([1.7, -1.7]), dnp.int32)",
        "Array([ 1, -1], dtype=int32)",
    ),
    "cos": (
        "Cosine, elementwise.",
        "lax.cos(dnp.array([0.0]))",
        "Array([1.], dtype=float32)",
    ),
    "cosh": (
        "Hyperbolic cosine, elementwise.",
        "lax.cosh(dnp.array([0.0]))",
        "Array([1.], dtype=float32)",
    ),
    "div": (
        "Division; integer division rounds toward zero (and x / 0 gives 0 for integers).",
        "lax.div(dnp.array([7, -7]), dnp.array([2, 2]))",
        "Array([ 3, -3], dtype=int32)",
    ),
    "dot_general": (
        "General contraction: dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch)).",
        "lax.dot_general(dnp.ones((2, 3)), dnp.ones((3, 4)), (((1,), (0,)), ((), ()))).shape",
        "(2, 4)",
    ),
    "dynamic_slice": (
        "A window of slice_sizes at traced start indices (clamped to stay in bounds).",
        "lax.dynamic_slice(dnp.arange(5), [dnp.array(3)], [2])",
        "Array([3, 4], dtype=int32)",
    ),
    "dynamic_update_slice": (
        "Write an update at traced start indices (clamped to stay in bounds).",
        "lax.dynamic_update_slice(dnp.zeros(4), dnp.ones(2), [dnp.array(1)])",
        "Array([0., 1., 1., 0.], dtype=float32)",
    ),
    "eq": (
        "Elementwise ==, giving bools.",
        "lax.eq(dnp.array([1, 2]), dnp.array([1, 3]))",
        "Array([ True, False], dtype=bool)",
    ),
    "erf": (
        "The error function, elementwise.",
        "lax.erf(dnp.array([0.0, 1.0]))",
        "Array([0.       , 0.8427008], dtype=float32)",
    ),
    "exp": (
        "e**x, elementwise.",
        "lax.exp(dnp.array([0.0, 1.0]))",
        "Array([1.      , 2.718282], dtype=float32)",
    ),
    "exp2": (
        "2**x, elementwise.",
        "lax.exp2(dnp.array([3.0]))",
        "Array([8.], dtype=float32)",
    ),
    "expand_dims": (
        "Insert size-1 dimensions at the given result positions.",
        "lax.expand_dims(dnp.ones(3), (0,)).shape",
        "(1, 3)",
    ),
    "expm1": (
        "exp(x) - 1, accurate near 0.",
        "lax.expm1(dnp.array([0.0]))",
        "Array([0.], dtype=float32)",
    ),
    "floor": (
        "Round down, elementwise.",
        "lax.floor(dnp.array([1.7, -1.2]))",
        "Array([ 1., -2.], dtype=float32)",
    ),
    "full": (
        "An array of a shape filled with a scalar.",
        "lax.full((2,), 3, dnp.int32)",
        "Array([3, 3], dtype=int32)",
    ),
    "gather": (
        "x[i0, i1, ...] on the leading axes for integer index arrays of one shape.",
        "lax.gather(dnp.array([10, 20, 30]), [dnp.array([2, 0])])",
        "Array([30, 10], dtype=int32)",
    ),
    "ge": (
        "Elementwise >=.",
        "lax.ge(dnp.array([1, 3]), dnp.array([2, 2]))",
        "Array([False,  True], dtype=bool)",
    ),
    "gt": (
        "Elementwise >.",
        "lax.gt(dnp.array([1, 3]), dnp.array([2, 2]))",
        "Array([False,  True], dtype=bool)",
    ),
    "integer_pow": (
        "x ** y for a static Python int y (exact repeated multiplication).",
        "lax.integer_pow(dnp.array([2.0, 3.0]), 3)",
        "Array([ 8., 27.], dtype=float32)",
    ),
    "iota": (
        "Integers counting along one dimension of a shape.",
        "lax.iota(dnp.int32, 4)",
        "Array([0, 1, 2, 3], dtype=int32)",
    ),
    "is_finite": (
        "True where the value is neither inf nor NaN.",
        "lax.is_finite(dnp.array([1.0, dnp.inf]))",
        "Array([ True, False], dtype=bool)",
    ),
    "le": (
        "Elementwise <=.",
        "lax.le(dnp.array([1, 3]), dnp.array([2, 2]))",
        "Array([ True, False], dtype=bool)",
    ),
    "log": (
        "Natural logarithm, elementwise.",
        "lax.log(dnp.array([1.0]))",
        "Array([0.], dtype=float32)",
    ),
    "log1p": (
        "log(1 + x), accurate near 0.",
        "lax.log1p(dnp.array([0.0]))",
        "Array([0.], dtype=float32)",
    ),
    "logistic": (
        "The logistic sigmoid 1 / (1 + exp(-x)), stable for inputs of large magnitude.",
        "lax.logistic(dnp.array([0.0]))",
        "Array([0.5], dtype=float32)",
    ),
    "lt": (
        "Elementwise <.",
        "lax.lt(dnp.array([1, 3]), dnp.array([2, 2]))",
        "Array([ True, False], dtype=bool)",
    ),
    "max": (
        "Elementwise maximum (NaN propagates).",
        "lax.max(dnp.array([1.0, 5.0]), dnp.array([3.0, 3.0]))",
        "Array([3., 5.], dtype=float32)",
    ),
    "min": (
        "Elementwise minimum (NaN propagates).",
        "lax.min(dnp.array([1.0, 5.0]), dnp.array([3.0, 3.0]))",
        "Array([1., 3.], dtype=float32)",
    ),
    "mul": (
        "Elementwise product.",
        "lax.mul(dnp.array([2.0]), dnp.array([3.0]))",
        "Array([6.], dtype=float32)",
    ),
    "ne": (
        "Elementwise !=.",
        "lax.ne(dnp.array([1, 2]), dnp.array([1, 3]))",
        "Array([False,  True], dtype=bool)",
    ),
    "neg": (
        "Elementwise negation.",
        "lax.neg(dnp.array([1.0]))",
        "Array([-1.], dtype=float32)",
    ),
    "pad": (
        "Pad with (low, high, interior) per dimension; negative low/high crop.",
        "lax.pad(dnp.array([1.0, 2.0]), dnp.array(0.0), [(1, 1, 1)])",
        "Array([0., 1., 0., 2., 0.], dtype=float32)",
    ),
    "pow": (
        "x ** y for floating operands.",
        "lax.pow(dnp.array([2.0]), dnp.array([0.5]))",
        "Array([1.4142135], dtype=float32)",
    ),
    "reduce_and": (
        "Logical AND over axes of a bool array.",
        "lax.reduce_and(dnp.array([True, False]), (0,))",
        "Array(False, dtype=bool)",
    ),
    "reduce_max": (
        "Maximum over axes (the identity -inf for empty axes).",
        "lax.reduce_max(dnp.array([[1.0, 5.0], [3.0, 2.0]]), (1,))",
        "Array([5., 3.], dtype=float32)",
    ),
    "reduce_min": (
        "Minimum over axes (the identity +inf for empty axes).",
        "lax.reduce_min(dnp.array([[1.0, 5.0], [3.0, 2.0]]), (1,))",
        "Array([1., 2.], dtype=float32)",
    ),
    "reduce_or": (
        "Logical OR over axes of a bool array.",
        "lax.reduce_or(dnp.array([True, False]), (0,))",
        "Array(True, dtype=bool)",
    ),
    "reduce_prod": (
        "Product over axes.",
        "lax.reduce_prod(dnp.array([2.0, 3.0]), (0,))",
        "Array(6., dtype=float32)",
    ),
    "reduce_sum": (
        "Sum over axes.",
        "lax.reduce_sum(dnp.ones((2, 3)), (0,))",
        "Array([2., 2., 2.], dtype=float32)",
    ),
    "rem": (
        "Remainder with the sign of the dividend (C's fmod).",
        "lax.rem(dnp.array([7, -7]), dnp.array([3, 3]))",
        "Array([ 1, -1], dtype=int32)",
    ),
    "reshape": (
        "Row-major reshape to new_sizes (no -1).",
        "lax.reshape(dnp.arange(6), (2, 3)).shape",
        "(2, 3)",
    ),
    "rev": (
        "Reverse along dimensions.",
        "lax.rev(dnp.arange(3), (0,))",
        "Array([2, 1, 0], dtype=int32)",
    ),
    "round": (
        "Round to integral values: rounding_method 0 rounds half away from zero, 1 to even.",
        "lax.round(dnp.array([0.5, 1.5, 2.5]))",
        "Array([1., 2., 3.], dtype=float32)",
    ),
    "rsqrt": (
        "1 / sqrt(x), elementwise.",
        "lax.rsqrt(dnp.array([4.0]))",
        "Array([0.5], dtype=float32)",
    ),
    "scatter": (
        "Functional x[i0, ...] (combine)= updates on the leading axes; combine is set, add, mul, min or max.",
        "lax.scatter(dnp.zeros(3), [dnp.array([0, 0, 2])], dnp.ones(3), combine='add')",
        "Array([2., 0., 1.], dtype=float32)",
    ),
    "select": (
        "on_true where pred, else on_false.",
        "lax.select(dnp.array([True, False]), dnp.array([1.0, 2.0]), dnp.array([3.0, 4.0]))",
        "Array([1., 4.], dtype=float32)",
    ),
    "select_n": (
        "cases[which] elementwise; a bool which picks cases[1] where True.",
        "lax.select_n(dnp.array([0, 1]), dnp.array([1.0, 2.0]), dnp.array([3.0, 4.0]))",
        "Array([1., 4.], dtype=float32)",
    ),
    "sign": (
        "-1, 0 or 1 by sign.",
        "lax.sign(dnp.array([-2.0, 0.0, 3.0]))",
        "Array([-1.,  0.,  1.], dtype=float32)",
    ),
    "sin": (
        "Sine, elementwise.",
        "lax.sin(dnp.array([0.0]))",
        "Array([0.], dtype=float32)",
    ),
    "sinh": (
        "Hyperbolic sine, elementwise.",
        "lax.sinh(dnp.array([0.0]))",
        "Array([0.], dtype=float32)",
    ),
    "slice": (
        "Static slice start:limit:stride in every dimension.",
        "lax.slice(dnp.arange(6), (1,), (5,), (2,))",
        "Array([1, 3], dtype=int32)",
    ),
    "slice_in_dim": (
        "Static slice along one axis.",
        "lax.slice_in_dim(dnp.arange(6).reshape(2, 3), 1, 3, axis=1)",
        "Array([[1, 2],\n       [4, 5]], dtype=int32)",
    ),
    "sqrt": (
        "Square root, elementwise.",
        "lax.sqrt(dnp.array([4.0]))",
        "Array([2.], dtype=float32)",
    ),
    "square": (
        "x * x, elementwise.",
        "lax.square(dnp.array([3.0]))",
        "Array([9.], dtype=float32)",
    ),
    "squeeze": (
        "Remove the given size-1 dimensions.",
        "lax.squeeze(dnp.ones((1, 3)), (0,)).shape",
        "(3,)",
    ),
    "stop_gradient": (
        "The value, with a zero derivative (any pytree of arrays).",
        "derivax.grad(lambda x: x * lax.stop_gradient(x))(3.0)",
        "Array(3., dtype=float32)",
    ),
    "sub": (
        "Elementwise difference.",
        "lax.sub(dnp.array([3.0]), dnp.array([1.0]))",
        "Array([2.], dtype=float32)",
    ),
    "tan": (
        "Tangent, elementwise.",
        "lax.tan(dnp.array([0.0]))",
        "Array([0.], dtype=float32)",
    ),
    "tanh": (
        "Hyperbolic tangent, elementwise.",
        "lax.tanh(dnp.array([0.0]))",
        "Array([0.], dtype=float32)",
    ),
    "transpose": (
        "Permute dimensions.",
        "lax.transpose(dnp.ones((2, 3)), (1, 0)).shape",
        "(3, 2)",
    ),
    "argmax": (
        "Index of the maximum along an axis (first on ties).",
        "lax.argmax(dnp.array([1.0, 3.0, 2.0]), 0)",
        "Array(1, dtype=int32)",
    ),
    "argmin": (
        "Index of the minimum along an axis (first on ties).",
        "lax.argmin(dnp.array([1.0, 3.0, 0.0]), 0)",
        "Array(2, dtype=int32)",
    ),
}


def _doc(name, summary, example, output):
    out = "\n".join("        " + line for line in output.splitlines())
    return (
        f"{summary}\n\n    Example:\n        >>> import derivax, derivax.numpy as dnp\n"
        f"        >>> from derivax import lax\n        >>> {example}\n{out}\n    "
    )


def _attach():
    for name, (summary, example, output) in _DOCS.items():
        for mod in _MODULES:
            fn = getattr(mod, name, None)
            if fn is None:
                continue
            existing = fn.__doc__
            if existing and ">>>" in existing:
                break
            text = _doc(name, summary, example, output)
            if existing:
                text = existing.rstrip() + "\n\n    Example:" + text.split("Example:", 1)[1]
            try:
                fn.__doc__ = text
            except AttributeError:  # builtins or extension functions: leave them
                pass
            if getattr(fn, "__name__", None) == "<lambda>":
                fn.__name__ = fn.__qualname__ = name
            break


_attach()
