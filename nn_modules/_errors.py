"""The error catalogue: one class per misuse, each explaining its cause and its fix.

Every error raised by nn_modules for a user mistake is a subclass of `ModuleError`, so
``except nn_modules.ModuleError`` catches them all. Messages name the module path (such as
``/Encoder/Dense_0``), the variable or collection involved and what to change.
"""

from __future__ import annotations

__all__ = [
    "AssignSubModuleError",
    "CollectionNotFoundError",
    "FrozenModuleError",
    "ImmutableCollectionError",
    "InvalidRngError",
    "InvalidVariablesError",
    "LiftError",
    "MissingRngError",
    "ModuleError",
    "MultipleCompactMethodsError",
    "NameInUseError",
    "ParamNotFoundError",
    "ParamShapeError",
    "UnboundModuleError",
    "VariableNotFoundError",
]


class ModuleError(Exception):
    """Base class of every nn_modules usage error.

    Catch it to handle any of the errors below; each subclass documents one cause and its
    fix.
    """


class ParamShapeError(ModuleError, ValueError):
    """A parameter passed to ``apply`` has a different shape than its initializer makes.

    Cause: the variables were created for other input sizes or other hyperparameters
    (``Dense(4)`` initialised, then applied as ``Dense(5)``; an image size changed before a
    ``Dense`` layer; variables loaded from a checkpoint of another model). Every
    ``self.param`` call checks the stored value against the shape the initializer would
    produce for the current call.

    Fix: initialise again with the current model and inputs (``model.init(key, x)``), or
    change the model definition or the input shape back to the ones the variables were
    made for.
    """


class ParamNotFoundError(ModuleError, KeyError):
    """``apply`` was given variables without a parameter the module asks for.

    Cause: the ``params`` collection has no entry at the module's path. Common reasons:
    passing the params dict itself instead of ``{'params': params}``, variables from a
    different model, or submodule names that changed (``Dense_0`` became ``dense``).

    Fix: pass the whole dict that ``init`` returned (or ``{'params': params, ...}``), and
    compare its keys with the module tree (``nn_modules.tabulate`` lists them).
    """

    def __str__(self):  # KeyError would otherwise print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class VariableNotFoundError(ModuleError, KeyError):
    """A non-parameter variable (``self.variable``) is missing and cannot be created.

    Cause: the collection (for example ``batch_stats``) was not passed to ``apply`` and is
    not mutable, so the variable can be neither read nor initialised.

    Fix: pass the collection that ``init`` returned (``model.apply(variables, ...)`` with
    the whole ``variables`` dict), or make it mutable (``mutable=['batch_stats']``) to
    create it on the fly.
    """

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class CollectionNotFoundError(VariableNotFoundError):
    """A whole variable collection is missing from the variables given to ``apply``.

    Cause: a module reads a collection such as ``batch_stats`` but the variables dict has
    no such key (often: only ``{'params': ...}`` was passed to a model with batch norm).

    Fix: pass every collection ``init`` returned: ``model.apply(variables, x)`` or
    ``model.apply({'params': params, 'batch_stats': batch_stats}, x)``.
    """


class ImmutableCollectionError(ModuleError):
    """A module tried to write a variable of a collection that is not mutable.

    Cause: in ``apply``, only the collections listed in ``mutable=`` can change. Batch
    norm in training mode updates its running averages in ``batch_stats``, so
    ``model.apply(variables, x, train=True)`` without ``mutable`` fails here.

    Fix: ``y, updates = model.apply(variables, x, train=True, mutable=['batch_stats'])``
    and keep ``updates['batch_stats']`` for the next step; or run the module in evaluation
    mode (``use_running_average=True``), which writes nothing.
    """


class MissingRngError(ModuleError):
    """A module asked for a random stream (``self.make_rng(name)``) that was not provided.

    Cause: ``Dropout`` in training mode draws from the ``'dropout'`` stream and other
    modules may draw from their own; ``apply`` received no key for that stream (and no
    ``'params'`` key to fall back on).

    Fix: pass a key per stream: ``model.apply(variables, x, rngs={'dropout': key})``; use a
    fresh key every step (``derivax.random.fold_in(key, step)``). Or switch the module to
    evaluation mode (``deterministic=True``), which needs no randomness.
    """


class InvalidRngError(ModuleError, TypeError):
    """``rngs`` is not a PRNG key or a dict of stream names to PRNG keys.

    Cause: something else (an int seed, a key of the wrong shape, a list of keys) was
    passed as ``rngs`` to ``init``/``apply``, or a stream name is not a string.

    Fix: ``model.init(derivax.random.key(0), x)`` or
    ``model.apply(v, x, rngs={'dropout': derivax.random.key(1)})``.
    """


class InvalidVariablesError(ModuleError, TypeError):
    """The ``variables`` given to ``apply`` or ``bind`` are not a dict of collections.

    Cause: ``variables`` must map collection names (``'params'``, ``'batch_stats'``, ...)
    to nested dicts; a list, an array, or a collection that is not a dict was given.

    Fix: pass what ``init`` returned, or build ``{'params': params}`` by hand.
    """


class UnboundModuleError(ModuleError, AttributeError):
    """A module method that needs variables was called outside ``init``/``apply``/``bind``.

    Cause: a module instance such as ``Dense(3)`` is only a description; its parameters
    exist only while it is bound to variables. Calling ``Dense(3)(x)`` directly, using
    ``self.param`` on an unbound module, reading attributes defined in ``setup`` of an
    unbound module, or using a bound module after its ``apply`` returned all land here.

    Fix: ``variables = model.init(key, x)`` then ``model.apply(variables, x)``; for
    interactive work ``bound = model.bind(variables)`` and call ``bound(x)``.
    """


class NameInUseError(ModuleError, ValueError):
    """Two submodules or variables of one module would get the same name.

    Cause: explicit ``name=`` values repeated inside one ``@compact`` method, a
    submodule and a parameter sharing a name, a ``setup`` attribute reused, or the same
    parameter declared twice in one call.

    Fix: give each submodule and variable a distinct name; to use one submodule twice
    (tied weights) create it once and call the same instance twice.
    """


class AssignSubModuleError(ModuleError):
    """A submodule was created where it cannot be registered.

    Cause: submodules must be created inside ``setup()`` (assigned to an attribute) or
    inside the ``@compact`` method; creating one in another method gives it no name and
    no place in the variable tree.

    Fix: move the construction into ``setup()`` or mark the method with ``@compact``.
    """


class FrozenModuleError(ModuleError, AttributeError):
    """An attribute of a module was set outside ``setup()``.

    Cause: module attributes are hyperparameters fixed at construction; only ``setup``
    may add attributes (submodules and variables).

    Fix: pass the value to the constructor, derive a changed copy with
    ``module.clone(attr=value)``, or assign it inside ``setup()``.
    """


class MultipleCompactMethodsError(ModuleError, TypeError):
    """More than one method of a module class is marked ``@compact``.

    Cause: automatic submodule names (``Dense_0``) are counted per call of the one
    compact method; two compact methods would hand out the same names.

    Fix: keep ``@compact`` on one method (usually ``__call__``) and define what the
    other methods share in ``setup()``.
    """


class LiftError(ModuleError, ValueError):
    """A lifted transformation (``nn_modules.vmap``/``scan``/``jit``/``remat``) was misused.

    Cause: the message says which: a collection in both ``variable_axes`` and
    ``variable_broadcast``, a batched collection written through a broadcast axis, a
    module bound outside the transformed scope used inside it, or a target that is
    neither a Module class nor a function.

    Fix: follow the message; the docstring of the transformation lists its arguments.
    """
