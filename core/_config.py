"""Global configuration of derivax: one ``config`` object and a few context managers.

Every option has a default, can be preset through an environment variable named
``DERIVAX_<OPTION_NAME_IN_CAPITALS>`` (read once, at import) and changed at run time with
``config.update(name, value)`` or, for a limited scope, ``config.context(**options)``.

Reading an option is a plain attribute read (``config.enable_x64``): the values live in the
instance ``__dict__`` because dtype canonicalization and dispatch read them on every operation.
Assignment (``config.enable_x64 = True``) is refused so that every change is validated.

Options:
    enable_x64 (bool, default False): allow 64-bit dtypes (float64, int64, uint64,
        complex128). When off, explicit 64-bit requests are errors and 64-bit inputs (NumPy
        arrays, Python ints) are converted to their 32-bit counterparts.
    default_float_dtype ('float32' or 'float64', default 'float32'): dtype of Python floats
        and of float-producing functions called without a dtype. 'float64' needs
        ``enable_x64=True``. The default complex dtype follows it.
    jit_backend ('llvm' or 'reference', default 'llvm'): what ``jit`` executes. 'llvm'
        compiles each traced program to machine code (fused loops, BLAS calls, native
        control flow; ``derivax._compiler``); 'reference' evaluates it equation by equation
        with NumPy, which is slower but simple to step through when debugging. The two
        agree to a few units in the last place (see the compiler page of the docs).
    debug_index_checks (bool, default False): check indices in gather/scatter/dynamic
        slicing and raise on out-of-bounds values instead of clamping.
    debug_nans (bool, default False): raise as soon as an operation produces a NaN.
    retrace_warning_threshold (int >= 0, default 3): warn when one jitted function has
        been traced more than this many times; 0 turns the warning off.
    disable_jit (bool, default False): run jitted functions eagerly (for debugging).
    cache_dir (str or None, default '~/.cache/derivax'): where compiled code is stored on
        disk; ``~`` and ``$VARS`` are expanded when used (see ``Config.resolved_cache_dir``).
        None turns the disk cache off.
    blas_threads (int >= 1 or None, default None): threads for the matrix products of
        compiled programs. None lets derivax choose per product: one thread below 2^28
        flops (OpenBLAS's helper threads spin, which stalls on a busy machine), every
        available core above. Compiled into the code, so changing it recompiles.
    check_ir (bool, default False): type-check every IR that ``jit`` traces (on in the
        test suite; costs tracing time).

Environment variables: booleans accept ``1/0, true/false, yes/no, on/off`` (any case);
``none`` means None for options that accept it; an empty variable counts as unset. An
invalid value raises ``ConfigError`` at import, naming the variable.

Thread safety: ``config`` is one plain process-wide object without locks. ``update`` and
``context`` change it for every thread at once, and a ``context`` entered in one thread is
visible in (and restored under) all others. Set options before starting threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import pathlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["Config", "ConfigError", "config", "enable_x64"]


class ConfigError(ValueError):
    """An unknown configuration option, or a value the option does not accept.

    The message names the option, the value that was given and the allowed values. Unknown
    names come with the closest known name. Fix the call to ``config.update`` /
    ``config.context`` (or the ``DERIVAX_*`` environment variable the message names).
    """


# --------------------------------------------------------------------------- validators
# Each validator takes (option name, value) and returns the normalised value or raises.


def _check_bool(name: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ConfigError(
        f"Config option {name!r} must be True or False, got {value!r} "
        f"(type {type(value).__name__})."
    )


def _check_choice(*choices: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise ConfigError(
            f"Config option {name!r} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )

    return check


def _check_float_dtype(name: str, value: Any) -> str:
    allowed = ("float32", "float64")
    dtype_name = None
    if isinstance(value, str):
        dtype_name = value
    elif isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        try:
            dtype_name = np.dtype(value).name
        except TypeError:  # abstract types such as np.floating
            dtype_name = None
    if dtype_name in allowed:
        return dtype_name
    raise ConfigError(
        f"Config option {name!r} must be 'float32' or 'float64' (a string, NumPy type or "
        f"dtype), got {value!r}."
    )


def _check_int(minimum: int, allow_none: bool) -> Callable[[str, Any], int | None]:
    def check(name: str, value: Any) -> int | None:
        if value is None and allow_none:
            return None
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
        if is_int and int(value) >= minimum:
            return int(value)
        allowed = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ConfigError(f"Config option {name!r} must be {allowed}, got {value!r}.")

    return check


def _check_path(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, str) and path:
            return path
    raise ConfigError(
        f"Config option {name!r} must be a non-empty path (str or os.PathLike) or None, "
        f"got {value!r}."
    )


# --------------------------------------------------------------------- environment parsing

_TRUE_STRINGS = frozenset({"1", "true", "yes", "on"})
_FALSE_STRINGS = frozenset({"0", "false", "no", "off"})


def _parse_env(option: _Option, var: str, raw: str) -> Any:
    """Turns the text of an environment variable into a value for ``option.check``."""
    text = raw.strip()
    default = option.default
    if text.lower() == "none":
        return None
    if isinstance(default, bool):
        if text.lower() in _TRUE_STRINGS:
            return True
        if text.lower() in _FALSE_STRINGS:
            return False
        raise ConfigError(
            f"Environment variable {var}={raw!r} is not a boolean: use one of "
            "1/0, true/false, yes/no, on/off."
        )
    if option.name in ("retrace_warning_threshold", "blas_threads"):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(
                f"Environment variable {var}={raw!r} is not an integer: {option.allowed}."
            ) from None
    return text


# ------------------------------------------------------------------------------- options


@dataclasses.dataclass(frozen=True)
class _Option:
    name: str
    default: Any
    check: Callable[[str, Any], Any]
    allowed: str

    @property
    def env_var(self) -> str:
        return "DERIVAX_" + self.name.upper()


_OPTIONS: dict[str, _Option] = {
    opt.name: opt
    for opt in (
        _Option("enable_x64", False, _check_bool, "True or False"),
        _Option(
            "default_float_dtype",
            "float32",
            _check_float_dtype,
            "'float32' or 'float64' (needs enable_x64)",
        ),
        _Option(
            "jit_backend",
            "llvm",
            _check_choice("reference", "llvm"),
            "'reference' or 'llvm'",
        ),
        _Option("debug_index_checks", False, _check_bool, "True or False"),
        _Option("debug_nans", False, _check_bool, "True or False"),
        _Option("retrace_warning_threshold", 3, _check_int(0, False), "an int >= 0"),
        _Option("disable_jit", False, _check_bool, "True or False"),
        _Option("cache_dir", "~/.cache/derivax", _check_path, "a path or None"),
        _Option("blas_threads", None, _check_int(1, True), "an int >= 1 or None"),
        _Option("check_ir", False, _check_bool, "True or False"),
    )
}

# Options that change what tracing produces; the jit cache keys on their values.
_TRACE_OPTIONS = ("enable_x64", "default_float_dtype", "debug_index_checks", "debug_nans")


def _check_combination(values: Mapping[str, Any]) -> None:
    """Raises when options are valid one by one but not together."""
    if values["default_float_dtype"] == "float64" and not values["enable_x64"]:
        raise ConfigError(
            "default_float_dtype='float64' needs enable_x64=True, but enable_x64 is False. "
            "Set both at once with derivax.config.context(enable_x64=True, "
            "default_float_dtype='float64'), or call "
            'derivax.config.update("enable_x64", True) first. To turn x64 off, set '
            "default_float_dtype back to 'float32' at the same time."
        )


def _unknown_option_message(name: Any) -> str:
    known = sorted(_OPTIONS)
    message = f"Unknown config option {name!r}."
    if isinstance(name, str):
        stripped = name.removeprefix("jax_").removeprefix("derivax_").lower()
        close = difflib.get_close_matches(stripped, known, n=1, cutoff=0.5)
        if close:
            message += f" Did you mean {close[0]!r}?"
    return message + f" Known options: {', '.join(known)}."


class Config:
    """The derivax configuration: validated options read as attributes.

    Use the process-wide instance ``derivax.config``; building another ``Config`` is only
    useful in tests of the environment-variable parsing. Not thread-safe (see the module
    docstring): one plain global shared by all threads.

    Args:
        environ: where to read the ``DERIVAX_*`` variables; ``os.environ`` when None.

    Raises:
        ConfigError: an environment variable holds an invalid value.

    Example:
        >>> cfg = Config(environ={"DERIVAX_ENABLE_X64": "1"})
        >>> cfg.enable_x64, cfg.default_float_dtype
        (True, 'float32')
    """

    # Option values are set as instance attributes by ``_set_all``; these annotations only
    # document their types.
    enable_x64: bool
    default_float_dtype: str
    jit_backend: str
    debug_index_checks: bool
    debug_nans: bool
    retrace_warning_threshold: int
    disable_jit: bool
    cache_dir: str | None
    blas_threads: int | None
    check_ir: bool

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        values = {}
        for option in _OPTIONS.values():
            raw = environ.get(option.env_var, "")
            if raw.strip():
                try:
                    values[option.name] = option.check(
                        option.name, _parse_env(option, option.env_var, raw)
                    )
                except ConfigError as err:
                    if option.env_var in str(err):
                        raise
                    raise ConfigError(f"Environment variable {option.env_var}: {err}") from None
            else:
                values[option.name] = option.default
        _check_combination(values)
        self._set_all(values)

    def _set_all(self, values: Mapping[str, Any]) -> None:
        state = self.__dict__
        state.update(values)
        state["_trace_context"] = tuple(state[name] for name in _TRACE_OPTIONS)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _OPTIONS:
            raise AttributeError(
                f"Config options are not set by assignment. Use "
                f"derivax.config.update({name!r}, {value!r}), or "
                f"derivax.config.context({name}={value!r}) for a limited scope."
            )
        raise AttributeError(_unknown_option_message(name))

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails, so reading a real option stays cheap.
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(_unknown_option_message(name))

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(_OPTIONS))

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={value!r}" for name, value in self.values().items())
        return f"Config({body})"

    def _validated(self, name: Any, value: Any) -> Any:
        option = _OPTIONS.get(name) if isinstance(name, str) else None
        if option is None:
            raise ConfigError(_unknown_option_message(name))
        return option.check(name, value)

    def update(self, name: str, value: Any) -> None:
        """Sets one option for the rest of the process.

        Args:
            name: the option name, e.g. ``"enable_x64"``.
            value: its new value; it is validated and normalised.

        Raises:
            ConfigError: unknown name (the message lists the known names and the closest
                one), a value of the wrong type or out of range (the message says what is
                allowed), or a combination that does not hold together
                (``default_float_dtype='float64'`` without ``enable_x64``).

        Example:
            >>> old = config.retrace_warning_threshold
            >>> config.update("retrace_warning_threshold", 5)
            >>> config.retrace_warning_threshold
            5
            >>> config.update("retrace_warning_threshold", old)
        """
        value = self._validated(name, value)
        values = self.values()
        values[name] = value
        _check_combination(values)
        self._set_all(values)

    @contextlib.contextmanager
    def context(self, **options: Any) -> Iterator[None]:
        """Sets options inside a ``with`` block and restores them on exit.

        All options are validated before any is changed. On exit (also through an
        exception) the options given here get their previous values back. Works as a
        decorator too.

        If code inside the block set ``default_float_dtype='float64'`` and leaving the block
        turns ``enable_x64`` off again, ``default_float_dtype`` is restored as well, so the
        configuration stays consistent.

        Args:
            **options: option names and their values for the block.

        Yields:
            None.

        Raises:
            ConfigError: as for ``update``.

        Example:
            >>> with config.context(enable_x64=True, default_float_dtype="float64"):
            ...     config.enable_x64, config.default_float_dtype
            (True, 'float64')
            >>> config.default_float_dtype
            'float32'
        """
        new = {name: self._validated(name, value) for name, value in options.items()}
        before = self.values()
        values = dict(before)
        values.update(new)
        _check_combination(values)
        self._set_all(values)
        try:
            yield
        finally:
            restored = self.values()
            restored.update({name: before[name] for name in new})
            try:
                _check_combination(restored)
            except ConfigError:
                restored["default_float_dtype"] = before["default_float_dtype"]
            self._set_all(restored)

    def values(self) -> dict[str, Any]:
        """Returns a snapshot of every option as a new dict.

        Returns:
            ``{option name: value}``; changing the dict does not change the config.

        Example:
            >>> sorted(config.values())[:3]
            ['blas_threads', 'cache_dir', 'check_ir']
        """
        state = self.__dict__
        return {name: state[name] for name in _OPTIONS}

    def trace_context(self) -> tuple[Any, ...]:
        """Returns the hashable tuple of the options that change tracing results.

        These are ``enable_x64``, ``default_float_dtype``, ``debug_index_checks`` and
        ``debug_nans``, in that order. The jit cache includes this tuple in its key so a
        function traced under one setting is never reused under another.

        Returns:
            A tuple of option values (cached; rebuilt on every change).

        Example:
            >>> with config.context(enable_x64=False, debug_nans=True):
            ...     config.trace_context()
            (False, 'float32', False, True)
        """
        return self.__dict__["_trace_context"]

    def resolved_cache_dir(self) -> pathlib.Path | None:
        """Returns ``cache_dir`` with ``~`` and ``$VARS`` expanded, or None when disabled.

        Returns:
            An absolute-or-relative ``pathlib.Path`` as the user wrote it after expansion, or
            None if ``cache_dir`` is None. The directory is not created here.

        Example:
            >>> with config.context(cache_dir="~/dx-cache"):
            ...     config.resolved_cache_dir() == pathlib.Path.home() / "dx-cache"
            True
            >>> with config.context(cache_dir=None):
            ...     print(config.resolved_cache_dir())
            None
        """
        path = self.__dict__["cache_dir"]
        if path is None:
            return None
        return pathlib.Path(os.path.expandvars(os.path.expanduser(path)))


config = Config()


def enable_x64(new_val: bool = True) -> contextlib.AbstractContextManager[None]:
    """Context manager that turns 64-bit dtypes on (or off) inside a ``with`` block.

    Shorthand for ``config.context(enable_x64=new_val)``.

    Args:
        new_val: the value of ``enable_x64`` inside the block.

    Returns:
        A context manager (also usable as a decorator).

    Raises:
        ConfigError: ``new_val`` is not a bool, or it is False while
            ``default_float_dtype`` is 'float64'.

    Example:
        >>> with enable_x64():
        ...     config.enable_x64
        True
        >>> with enable_x64(False):
        ...     config.enable_x64
        False
    """
    return config.context(enable_x64=new_val)
