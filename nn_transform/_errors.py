"""The errors of nn_transform: each class says what went wrong and how to fix it."""

from __future__ import annotations

__all__ = [
    "MissingParameterError",
    "MissingRNGError",
    "MissingStateError",
    "ModuleNameError",
    "NotInTransformError",
    "ParameterShapeError",
    "StatefulFunctionError",
    "TransformMixingError",
]


class NotInTransformError(RuntimeError):
    """A stateful function or a module was used outside a transformed function.

    ``get_parameter``, ``get_state``, ``set_state``, ``next_rng_key`` and every ``Module``
    read and write the parameters, state and random keys of the function being run by
    ``init`` or ``apply``. Outside ``nt.transform`` there is no such function. Fix: put the
    code in a function and transform it, ``f = nt.transform(forward)``, then call
    ``params = f.init(key, x)`` and ``f.apply(params, key, x)``.
    """


class MissingRNGError(ValueError):
    """The function draws random numbers but ``init``/``apply`` got ``rng=None``.

    Random keys inside a transformed function come from the ``rng`` argument of ``init``
    and ``apply``. Fix: pass a key, e.g. ``f.apply(params, derivax.random.PRNGKey(0), x)``;
    or, if the randomness is optional (dropout), call the function in a way that does not
    draw keys (``nt.maybe_next_rng_key`` returns None without a key).
    """


class MissingParameterError(KeyError):
    """``apply`` looked for a parameter that the ``params`` it was given do not hold.

    ``apply`` never creates parameters: they all come from ``init``. This happens when the
    params come from another function (or another version of it), when a module name
    changed, or when a parameter is only created on a path that ``init`` did not take.
    Fix: call ``init`` with the same function (and arguments that take the same path),
    and pass its output to ``apply``.
    """

    def __str__(self):  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class MissingStateError(KeyError):
    """``apply`` looked for a state value that the ``state`` it was given does not hold.

    State is created by ``init`` (``get_state`` with an ``init`` function, or
    ``set_state``). Fix: pass the state returned by ``init`` (or by a previous ``apply``)
    of the same function.
    """

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class ParameterShapeError(ValueError):
    """A parameter or state value exists with a different shape or dtype than requested.

    Usually the input of a layer changed size between ``init`` and ``apply``, or two
    modules share a name. Fix: initialise with inputs of the shapes used at ``apply``, or
    give the modules distinct names.
    """


class StatefulFunctionError(ValueError):
    """A function transformed with ``nt.transform`` uses state.

    ``nt.transform`` returns ``apply(params, rng, ...)`` with no state argument, so state
    created with ``get_state``/``set_state`` (e.g. by ``BatchNorm``) would be lost. Fix:
    use ``nt.transform_with_state``, whose ``init`` returns ``(params, state)`` and whose
    ``apply(params, state, rng, ...)`` returns ``(out, new_state)``.
    """


class ModuleNameError(ValueError):
    """A module name is malformed or already taken in its scope.

    Names without a numeric suffix are made unique automatically (``linear``,
    ``linear_1``); a name that ends in ``_<number>`` is taken as it is and must be free.
    Fix: choose another ``name=`` or let the module name itself.
    """


class TransformMixingError(RuntimeError):
    """A plain derivax transformation was applied to stateful code inside ``nt.transform``.

    ``derivax.jit``, ``vmap``, ``grad``, ``lax.scan``, ``lax.cond`` and the other
    transformations only see their arguments; a parameter created, a state value set or a
    random key drawn inside them would leak out of them. Fix: use the state-aware versions
    ``nt.jit``, ``nt.vmap``, ``nt.scan``, ``nt.cond``, ``nt.fori_loop`` and ``nt.remat``,
    or apply the derivax transformation outside, to ``init``/``apply``.
    """
