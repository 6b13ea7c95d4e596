"""The functional core: a stack of frames holding parameters, state and random keys.

``init`` and ``apply`` push a `Frame` and run the user's function; everything stateful
(`get_parameter`, `get_state`, `set_state`, `next_rng_key`, modules) reads and writes the
frame on top of the stack. A frame holds

* ``params``: a two-level dict ``{module_name: {param_name: array}}``, filled by ``init``
  and read-only in ``apply``;
* ``state``: the same layout with an ``(initial, current)`` pair per value, so ``init``
  can return initial values while the code updates the current ones;
* ``rng``: a `PRNGSequence`, or None when the caller gave no key;
* the naming stack that modules and ``name_scope`` push onto (shared by the frames that the
  state-aware transformations derive from it, see ``_lift``).
"""

from __future__ import annotations

import collections
import contextlib
import threading

import numpy as np

import derivax.numpy as dnp
import derivax.random as dr

from . import _compat
from ._errors import (
    MissingParameterError,
    MissingRNGError,
    MissingStateError,
    NotInTransformError,
    ParameterShapeError,
    TransformMixingError,
)

__all__ = [
    "Frame",
    "PRNGSequence",
    "current_frame",
    "get_parameter",
    "get_state",
    "maybe_next_rng_key",
    "next_rng_key",
    "next_rng_keys",
    "running_init",
    "set_state",
]

TOP_LEVEL = "~"  # the module name of parameters created outside any module


class _Local(threading.local):
    def __init__(self):
        self.frames: list[Frame] = []
        self.interceptors: list = []


LOCAL = _Local()


# --------------------------------------------------------------------------- naming


class Scope:
    """One entry of the naming stack: a module's constructor or method call, or a
    ``name_scope``. Children created while it is on top are named ``<name>/<child>``
    (``<name>/~/<child>`` in a constructor), unique among the children of this entry."""

    __slots__ = ("name", "module", "ctor", "counts", "used")

    def __init__(self, name, module=None, ctor=False):
        self.name = name
        self.module = module
        self.ctor = ctor
        self.counts: dict[str, int] = {}
        self.used: set[str] = set()

    def prefix(self) -> str:
        if self.name is None:
            return ""
        return self.name + ("/~/" if self.ctor else "/")


class Naming:
    """The naming stack of one ``init``/``apply`` call."""

    __slots__ = ("stack",)

    def __init__(self):
        self.stack: list[Scope] = [Scope(None)]

    @property
    def top(self) -> Scope:
        return self.stack[-1]

    def parent_of(self, module) -> Scope:
        """The innermost scope that does not belong to ``module`` (its constructor)."""
        for scope in reversed(self.stack):
            if scope.module is not module:
                return scope
        return self.stack[0]

    def owner_name(self) -> str:
        """The module name under which parameters created now are stored."""
        name = self.top.name
        return TOP_LEVEL if name is None else name

    def context_key(self) -> tuple:
        """A hashable summary of where in the naming stack the code runs."""
        top = self.top
        return (
            tuple((s.name, s.ctor) for s in self.stack),
            tuple(sorted(top.counts.items())),
            tuple(sorted(top.used)),
        )


# --------------------------------------------------------------------------- frames


class StateEntry:
    __slots__ = ("initial", "current")

    def __init__(self, initial, current):
        self.initial = initial
        self.current = current


class Frame:
    """The parameters, state, keys and naming stack of one ``init`` or ``apply`` call."""

    __slots__ = (
        "params",
        "state",
        "rng",
        "is_init",
        "can_create",
        "trace_state",
        "naming",
        "rng_hint",
        "root",
    )

    def __init__(
        self, params, state, rng, *, is_init, can_create, naming=None, rng_hint="", root=True
    ):
        self.params: dict[str, dict] = params
        self.state: dict[str, dict[str, StateEntry]] = state
        self.rng: PRNGSequence | None = rng
        self.is_init = is_init
        self.can_create = can_create
        self.trace_state = None
        self.naming = Naming() if naming is None else naming
        self.rng_hint = rng_hint
        self.root = root  # made by init/apply (not derived by a state-aware transformation)

    # -- state as plain dicts --------------------------------------------------------

    def state_values(self, which="current") -> dict:
        return {
            m: {n: getattr(e, which) for n, e in entries.items()}
            for m, entries in self.state.items()
        }

    def set_state_values(self, values: dict) -> None:
        for m, entries in values.items():
            for n, v in entries.items():
                self.state[m][n].current = v

    # -- frames derived for the state-aware transformations --------------------------

    def derive(self, params, state_values, key) -> Frame:
        """A frame for code run inside ``nt.jit``/``vmap``/``scan``/...: it sees
        ``params`` and ``state_values`` (the transformation's inputs), draws keys from
        ``key`` and shares this frame's naming stack; it cannot create parameters."""
        state = {
            m: {n: StateEntry(v, v) for n, v in entries.items()}
            for m, entries in state_values.items()
        }
        rng = None if key is None else PRNGSequence(key)
        return Frame(
            params,
            state,
            rng,
            is_init=self.is_init,
            can_create=False,
            naming=self.naming,
            rng_hint=self.rng_hint,
            root=False,
        )

    def snapshot(self):
        """What a throw-away run (the ``init`` pre-run of a transformation) may change
        besides creating parameters and state: the names taken and the current state."""
        top = self.naming.top
        return top, dict(top.counts), set(top.used), self.state_values()

    def restore(self, snapshot) -> None:
        top, counts, used, values = snapshot
        top.counts.clear()
        top.counts.update(counts)
        top.used.clear()
        top.used.update(used)
        for m, entries in self.state.items():
            for n, e in entries.items():
                old = values.get(m, {})
                e.current = old[n] if n in old else e.initial


@contextlib.contextmanager
def frame_scope(frame: Frame):
    """Push ``frame`` for the duration of a transformed function's body."""
    frame.trace_state = _compat.trace_state()
    LOCAL.frames.append(frame)
    try:
        yield frame
    finally:
        LOCAL.frames.pop()


def current_frame(api: str) -> Frame:
    """The frame on top of the stack; `NotInTransformError` naming ``api`` without one."""
    if not LOCAL.frames:
        raise NotInTransformError(
            f"nt.{api} must be called inside a function transformed with nt.transform (or "
            "nt.transform_with_state). Wrap the function that calls it: "
            "`f = nt.transform(forward)`, then `params = f.init(key, x)` and "
            "`f.apply(params, key, x)`."
        )
    return LOCAL.frames[-1]


def maybe_current_frame() -> Frame | None:
    return LOCAL.frames[-1] if LOCAL.frames else None


def check_trace(frame: Frame, api: str, what: str) -> None:
    """Raise `TransformMixingError` when a derivax transformation that started inside the
    transformed function is active now (``what`` would leak out of it)."""
    now = _compat.trace_state()
    if now is None or frame.trace_state is None or now == frame.trace_state:
        return
    raise TransformMixingError(
        f"nt.{api}: {what} inside a derivax transformation (derivax.jit, vmap, grad, "
        "checkpoint, lax.scan, lax.cond, lax.fori_loop, ...) that was applied within the "
        "transformed function; it would leak out of that transformation. Use the "
        "state-aware version instead: nt.jit, nt.vmap, nt.scan, nt.cond, nt.fori_loop or "
        "nt.remat (or apply the derivax transformation to init/apply from outside)."
    )


def _describe(x) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {tuple(shape)} and dtype {dtype}"
    return f"a {type(x).__name__}"


def _shape_tuple(api, shape) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"nt.{api}: shape must be a sequence of ints, got {shape!r}.") from None


# --------------------------------------------------------------------------- parameters


def get_parameter(name, shape, dtype=dnp.float32, init=None):
    """Get the parameter ``name`` of the current module, creating it during ``init``.

    During ``init`` a missing parameter is created by ``init(shape, dtype)``; during
    ``apply`` it is read from the ``params`` passed in. Parameters are grouped per module:
    ``params[module_name][name]`` (``"~"`` outside any module).

    Args:
        name: the parameter's name within its module.
        shape: its shape.
        dtype: its dtype (default float32).
        init: ``init(shape, dtype) -> array``, e.g. ``nt.initializers.TruncatedNormal()``
            or ``derivax.numpy.zeros``; needed only when the parameter is created.

    Returns:
        The parameter.

    Raises:
        NotInTransformError: outside a transformed function.
        MissingParameterError: in ``apply`` when ``params`` lack it.
        ParameterShapeError: when it exists with another shape.
        TransformMixingError: when created inside a plain derivax transformation.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     w = nt.get_parameter("w", (x.shape[-1],), init=dnp.ones)
        ...     return x * w
        >>> t = nt.transform(f)
        >>> params = t.init(None, dnp.ones(2))
        >>> params
        {'~': {'w': Array([1., 1.], dtype=float32)}}
        >>> t.apply(params, None, dnp.array([2.0, 3.0]))
        Array([2., 3.], dtype=float32)
    """
    frame = current_frame("get_parameter")
    shape = _shape_tuple("get_parameter", shape)
    module = frame.naming.owner_name()
    bucket = frame.params.get(module)
    if bucket is not None and name in bucket:
        value = bucket[name]
        if tuple(value.shape) != shape:
            raise ParameterShapeError(
                f"nt.get_parameter: parameter {name!r} of module {module!r} has shape "
                f"{tuple(value.shape)} in params, but shape {shape} is requested. The input "
                "of this module probably changed size since init; initialise with inputs of "
                "the shapes used at apply."
            )
        return value
    if not frame.can_create:
        known = sorted(frame.params.get(module, {}))
        raise MissingParameterError(
            f"nt.get_parameter: parameter {name!r} of module {module!r} is not in the params "
            f"given to apply (that module has {known or 'no parameters'}; params hold the "
            f"modules {sorted(frame.params)}). Pass the params returned by init of the same "
            "function, called with inputs that take the same path."
        )
    check_trace(frame, "get_parameter", f"parameter {name!r} of module {module!r} is created")
    if init is None:
        raise ValueError(
            f"nt.get_parameter: parameter {name!r} of module {module!r} does not exist yet and "
            "no init was given; pass init=..., a function (shape, dtype) -> array such as "
            "nt.initializers.TruncatedNormal() or derivax.numpy.zeros."
        )
    value = dnp.asarray(init(shape, dtype))
    if tuple(value.shape) != shape:
        raise ParameterShapeError(
            f"nt.get_parameter: the init of parameter {name!r} of module {module!r} returned "
            f"shape {tuple(value.shape)} for the requested shape {shape}."
        )
    frame.params.setdefault(module, {})[name] = value
    return value


# --------------------------------------------------------------------------- state


def get_state(name, shape=None, dtype=dnp.float32, init=None):
    """Get the current value of the state ``name`` of the current module.

    State is like a parameter that the function itself updates (with `set_state`), such as
    BatchNorm's moving averages. During ``init`` a missing value is created by
    ``init(shape, dtype)``; ``apply`` reads the ``state`` passed in (or set earlier).

    Args:
        name: the value's name within its module.
        shape: its shape (needed when it is created).
        dtype: its dtype (default float32).
        init: ``init(shape, dtype) -> array``, needed when the value is created.

    Returns:
        The current value.

    Raises:
        NotInTransformError: outside a transformed function.
        MissingStateError: in ``apply`` when ``state`` lacks it.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def counter():
        ...     n = nt.get_state("n", (), dnp.int32, init=dnp.zeros)
        ...     nt.set_state("n", n + 1)
        ...     return n
        >>> t = nt.transform_with_state(counter)
        >>> params, state = t.init(None)
        >>> state
        {'~': {'n': Array(0, dtype=int32)}}
        >>> out, state = t.apply(params, state, None)
        >>> out, state
        (Array(0, dtype=int32), {'~': {'n': Array(1, dtype=int32)}})
    """
    frame = current_frame("get_state")
    module = frame.naming.owner_name()
    entry = frame.state.get(module, {}).get(name)
    if entry is not None:
        return entry.current
    if not frame.can_create:
        raise MissingStateError(
            f"nt.get_state: state {name!r} of module {module!r} is not in the state given to "
            f"apply (state holds the modules {sorted(frame.state)}). Pass the state returned "
            "by init (or by the previous apply) of the same function."
        )
    check_trace(frame, "get_state", f"state {name!r} of module {module!r} is created")
    if init is None or shape is None:
        raise ValueError(
            f"nt.get_state: state {name!r} of module {module!r} does not exist yet; pass "
            "shape= and init= (a function (shape, dtype) -> array) to create it, or create "
            "it with nt.set_state first."
        )
    value = dnp.asarray(init(_shape_tuple("get_state", shape), dtype))
    frame.state.setdefault(module, {})[name] = StateEntry(value, value)
    return value


def set_state(name, value):
    """Set the state ``name`` of the current module to ``value``.

    In ``init`` a new name also sets the initial value that ``init`` returns; ``apply``
    returns the values last set.

    Args:
        name: the value's name within its module.
        value: an array (or anything ``derivax.numpy.asarray`` accepts).

    Raises:
        NotInTransformError: outside a transformed function.
        TransformMixingError: when called inside a plain derivax transformation.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     nt.set_state("last", x)
        ...     return x
        >>> t = nt.transform_with_state(f)
        >>> params, state = t.init(None, dnp.zeros(2))
        >>> t.apply(params, state, None, dnp.ones(2))[1]
        {'~': {'last': Array([1., 1.], dtype=float32)}}
    """
    frame = current_frame("set_state")
    module = frame.naming.owner_name()
    check_trace(frame, "set_state", f"state {name!r} of module {module!r} is set")
    value = dnp.asarray(value)
    entry = frame.state.get(module, {}).get(name)
    if entry is not None:
        entry.current = value
        return
    if not frame.can_create and not frame.root:
        raise MissingStateError(
            f"nt.set_state: state {name!r} of module {module!r} does not exist and cannot be "
            "created inside nt.jit/vmap/scan/cond/fori_loop/remat during apply; create it in "
            "init (call the function once with init first)."
        )
    frame.state.setdefault(module, {})[name] = StateEntry(value, value)


def running_init() -> bool:
    """True inside ``init``, False inside ``apply``.

    Example:
        >>> import nn_transform as nt
        >>> t = nt.transform(lambda: nt.running_init())
        >>> t.init(None), t.apply({}, None)
        ({}, False)
    """
    return current_frame("running_init").is_init


# --------------------------------------------------------------------------- random keys


def _is_key(x) -> bool:
    if isinstance(x, dr.KeyArray):
        return True
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    return shape is not None and tuple(shape) == (2,) and np.dtype(dtype) == np.uint32


def as_key(rng, where: str, *, allow_int: bool):
    """``rng`` as a key (or None); a clear TypeError for anything else."""
    if rng is None or _is_key(rng):
        return rng
    if allow_int and isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return dr.PRNGKey(int(rng))
    accepted = "a PRNG key (derivax.random.PRNGKey(seed))" + (", an int seed" if allow_int else "")
    raise TypeError(
        f"{where}: rng must be {accepted} or None, got {_describe(rng)}. The key comes "
        "before the inputs: init(rng, *inputs), apply(params, rng, *inputs) or "
        "apply(params, state, rng, *inputs); nt.without_apply_rng removes it from apply."
    )


class PRNGSequence:
    """An iterator of fresh PRNG keys split from one key (or an int seed).

    Each ``next(seq)`` splits the internal key in two, keeps one half and returns the
    other, so the sequence is deterministic and never returns a key twice.

    Args:
        key_or_seed: a PRNG key or an int seed.

    Example:
        >>> import nn_transform as nt
        >>> seq = nt.PRNGSequence(0)
        >>> k1, k2 = next(seq), next(seq)
        >>> bool((k1 != k2).any())
        True
        >>> len(seq.take(3))
        3
    """

    def __init__(self, key_or_seed):
        key = as_key(key_or_seed, "nt.PRNGSequence", allow_int=True)
        if key is None:
            raise TypeError("nt.PRNGSequence: key_or_seed must be a PRNG key or an int, not None.")
        self._key = key
        self._subkeys: collections.deque = collections.deque()

    def reserve(self, num: int) -> None:
        """Split ``num`` keys off now (one split for all of them)."""
        if num > 0:
            keys = dr.split(self._key, num + 1)
            self._key = keys[0]
            self._subkeys.extend(keys[i] for i in range(1, num + 1))

    def __iter__(self):
        return self

    def __next__(self):
        if not self._subkeys:
            self.reserve(1)
        return self._subkeys.popleft()

    next = __next__

    def take(self, num: int) -> tuple:
        """The next ``num`` keys, as a tuple."""
        self.reserve(max(num - len(self._subkeys), 0))
        return tuple(self._subkeys.popleft() for _ in range(num))


def _rng_or_fail(frame: Frame, api: str) -> PRNGSequence:
    if frame.rng is None:
        raise MissingRNGError(
            f"nt.{api}: the function draws random numbers, but {frame.rng_hint or 'no key was given'}. "
            "Pass a key, e.g. f.apply(params, derivax.random.PRNGKey(0), x) (or "
            "f.init(derivax.random.PRNGKey(0), x))."
        )
    return frame.rng


def next_rng_key():
    """A fresh PRNG key from the ``rng`` given to ``init``/``apply``.

    Returns:
        A key, different on every call (and deterministic given the ``rng``).

    Raises:
        MissingRNGError: when ``init``/``apply`` got ``rng=None``.
        NotInTransformError: outside a transformed function.

    Example:
        >>> import derivax, derivax.random as dr
        >>> import nn_transform as nt
        >>> t = nt.transform(lambda: dr.uniform(nt.next_rng_key(), (2,)))
        >>> a = t.apply({}, dr.PRNGKey(0))
        >>> bool((a == t.apply({}, dr.PRNGKey(0))).all())
        True
    """
    frame = current_frame("next_rng_key")
    check_trace(frame, "next_rng_key", "a random key is drawn")
    return next(_rng_or_fail(frame, "next_rng_key"))


def next_rng_keys(num: int):
    """``num`` fresh keys stacked in one array (one split for all of them).

    Args:
        num: how many keys.

    Returns:
        An array of ``num`` keys (shape ``(num, 2)`` for raw keys).

    Example:
        >>> import derivax.random as dr
        >>> import nn_transform as nt
        >>> nt.transform(lambda: nt.next_rng_keys(3)).apply({}, dr.PRNGKey(0)).shape
        (3, 2)
    """
    frame = current_frame("next_rng_keys")
    check_trace(frame, "next_rng_keys", "random keys are drawn")
    keys = _rng_or_fail(frame, "next_rng_keys").take(int(num))
    return dnp.stack(keys) if not isinstance(keys[0], dr.KeyArray) else _stack_typed(keys)


def _stack_typed(keys):
    data = dnp.stack([dr.key_data(k) for k in keys])
    return dr.wrap_key_data(data)


def maybe_next_rng_key():
    """`next_rng_key` when ``init``/``apply`` got a key, else None.

    Example:
        >>> import nn_transform as nt
        >>> nt.transform(nt.maybe_next_rng_key).apply({}, None) is None
        True
    """
    frame = current_frame("maybe_next_rng_key")
    if frame.rng is None:
        return None
    check_trace(frame, "maybe_next_rng_key", "a random key is drawn")
    return next(frame.rng)
