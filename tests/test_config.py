"""Tests of derivax's configuration: defaults, environment, validation, contexts."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import pathlib
import sys

import numpy as np
import pytest


def _import_config_module():
    """Imports derivax._config (see tests/test_dtypes.py for the fallback's reason)."""
    try:
        from derivax import _config
    except ModuleNotFoundError as err:
        core = pathlib.Path(__file__).resolve().parents[1] / "core"
        if err.name != "derivax" or (core / "__init__.py").exists():
            raise
        package = importlib.util.module_from_spec(
            importlib.machinery.ModuleSpec("derivax", None, is_package=True)
        )
        package.__path__ = [str(core)]
        sys.modules["derivax"] = package
        from derivax import _config
    return _config


_config = _import_config_module()
Config = _config.Config
ConfigError = _config.ConfigError
config = _config.config

DEFAULTS = {
    "enable_x64": False,
    "default_float_dtype": "float32",
    "jit_backend": "llvm",
    "debug_index_checks": False,
    "debug_nans": False,
    "retrace_warning_threshold": 3,
    "disable_jit": False,
    "cache_dir": "~/.cache/derivax",
    "blas_threads": None,
    "check_ir": False,
}


@pytest.fixture
def cfg():
    """A private Config, independent of the real environment and of the global config."""
    return Config(environ={})


def test_defaults(cfg):
    assert cfg.values() == DEFAULTS
    for name, value in DEFAULTS.items():
        assert getattr(cfg, name) == value


def test_values_is_a_snapshot(cfg):
    snapshot = cfg.values()
    snapshot["enable_x64"] = True
    assert cfg.enable_x64 is False
    cfg.update("debug_nans", True)
    assert snapshot["debug_nans"] is False


# --------------------------------------------------------------------------- environment


@pytest.mark.parametrize("text", ["1", "true", "True", "YES", "on", " 1 "])
def test_env_true(text):
    assert Config(environ={"DERIVAX_ENABLE_X64": text}).enable_x64 is True


@pytest.mark.parametrize("text", ["0", "false", "No", "OFF", ""])
def test_env_false(text):
    assert Config(environ={"DERIVAX_ENABLE_X64": text}).enable_x64 is False


def test_env_invalid_boolean_names_the_variable():
    with pytest.raises(ConfigError, match=r"DERIVAX_ENABLE_X64='maybe'.*true/false"):
        Config(environ={"DERIVAX_ENABLE_X64": "maybe"})


def test_env_other_options():
    cfg = Config(
        environ={
            "DERIVAX_CACHE_DIR": "relative/cache/dir",
            "DERIVAX_BLAS_THREADS": "4",
            "DERIVAX_JIT_BACKEND": "reference",
            "DERIVAX_RETRACE_WARNING_THRESHOLD": "0",
            "DERIVAX_DISABLE_JIT": "yes",
        }
    )
    assert cfg.cache_dir == "relative/cache/dir"
    assert cfg.blas_threads == 4
    assert cfg.jit_backend == "reference"
    assert cfg.retrace_warning_threshold == 0
    assert cfg.disable_jit is True
    assert Config(environ={"DERIVAX_CACHE_DIR": "none"}).cache_dir is None


def test_env_invalid_values():
    with pytest.raises(ConfigError, match=r"DERIVAX_BLAS_THREADS='four'.*integer"):
        Config(environ={"DERIVAX_BLAS_THREADS": "four"})
    with pytest.raises(ConfigError, match=r"DERIVAX_BLAS_THREADS.*>= 1"):
        Config(environ={"DERIVAX_BLAS_THREADS": "0"})
    with pytest.raises(ConfigError, match=r"DERIVAX_JIT_BACKEND.*'reference', 'llvm'.*'xla'"):
        Config(environ={"DERIVAX_JIT_BACKEND": "xla"})


def test_env_float64_default_needs_x64():
    with pytest.raises(ConfigError, match="needs enable_x64=True"):
        Config(environ={"DERIVAX_DEFAULT_FLOAT_DTYPE": "float64"})
    cfg = Config(environ={"DERIVAX_DEFAULT_FLOAT_DTYPE": "float64", "DERIVAX_ENABLE_X64": "1"})
    assert cfg.default_float_dtype == "float64"


# ---------------------------------------------------------------------------- validation


def test_update_sets_and_normalises(cfg):
    cfg.update("enable_x64", np.bool_(True))
    assert cfg.enable_x64 is True
    cfg.update("default_float_dtype", np.float64)
    assert cfg.default_float_dtype == "float64"
    cfg.update("default_float_dtype", np.dtype("float32"))
    assert cfg.default_float_dtype == "float32"
    cfg.update("blas_threads", np.int64(2))
    assert cfg.blas_threads == 2
    assert type(cfg.blas_threads) is int
    cfg.update("cache_dir", pathlib.Path("relative/cache"))
    assert cfg.cache_dir == str(pathlib.Path("relative/cache"))


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("enable_x46", "enable_x64"), ("jax_enable_x64", "enable_x64"), ("debug_nan", "debug_nans")],
)
def test_unknown_name_suggests_the_closest(cfg, name, suggestion):
    with pytest.raises(ConfigError) as info:
        cfg.update(name, True)
    message = str(info.value)
    assert repr(name) in message
    assert f"Did you mean {suggestion!r}?" in message
    for known in DEFAULTS:
        assert known in message


def test_unknown_name_without_close_match(cfg):
    with pytest.raises(ConfigError, match="Known options: blas_threads, cache_dir") as info:
        cfg.update("zzzz", 1)
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value", "pattern"),
    [
        ("enable_x64", 1, r"'enable_x64' must be True or False, got 1 \(type int\)"),
        ("debug_nans", "yes", r"'debug_nans' must be True or False"),
        ("jit_backend", "xla", r"'jit_backend' must be one of 'reference', 'llvm'; got 'xla'"),
        ("default_float_dtype", "float16", r"'float32' or 'float64'.*'float16'"),
        ("default_float_dtype", float, r"'float32' or 'float64'"),
        ("default_float_dtype", np.floating, r"'float32' or 'float64'"),
        ("retrace_warning_threshold", -1, r"an int >= 0, got -1"),
        ("retrace_warning_threshold", True, r"an int >= 0, got True"),
        ("retrace_warning_threshold", 2.0, r"an int >= 0"),
        ("blas_threads", 0, r"an int >= 1 or None, got 0"),
        ("cache_dir", 3, r"path .* or None, got 3"),
        ("cache_dir", "", r"non-empty path"),
    ],
)
def test_bad_values_are_rejected_unchanged(cfg, name, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        cfg.update(name, value)
    assert cfg.values() == DEFAULTS


def test_float64_default_needs_x64(cfg):
    with pytest.raises(ConfigError) as info:
        cfg.update("default_float_dtype", "float64")
    message = str(info.value)
    assert "enable_x64" in message
    assert 'derivax.config.update("enable_x64", True)' in message
    cfg.update("enable_x64", True)
    cfg.update("default_float_dtype", "float64")
    with pytest.raises(ConfigError, match="needs enable_x64=True"):
        cfg.update("enable_x64", False)
    assert cfg.enable_x64 is True


def test_assignment_is_refused(cfg):
    with pytest.raises(AttributeError, match=r"update\('enable_x64', True\)"):
        cfg.enable_x64 = True
    with pytest.raises(AttributeError, match="Unknown config option 'foo'"):
        cfg.foo = 1
    assert cfg.enable_x64 is False


def test_unknown_attribute_read(cfg):
    with pytest.raises(AttributeError, match="Did you mean 'disable_jit'"):
        _ = cfg.disable_jitt
    with pytest.raises(AttributeError):
        _ = cfg._private_thing


def test_repr_and_dir(cfg):
    text = repr(cfg)
    assert text.startswith("Config(")
    assert "enable_x64=False" in text
    assert "jit_backend='llvm'" in text
    assert set(DEFAULTS) <= set(dir(cfg))


# ------------------------------------------------------------------------------ contexts


def test_context_restores(cfg):
    with cfg.context(debug_nans=True, jit_backend="reference"):
        assert cfg.debug_nans is True
        assert cfg.jit_backend == "reference"
    assert cfg.values() == DEFAULTS


def test_context_restores_on_exception(cfg):
    with pytest.raises(KeyError), cfg.context(enable_x64=True):
        raise KeyError("boom")
    assert cfg.enable_x64 is False


def test_context_nesting(cfg):
    with cfg.context(retrace_warning_threshold=10):
        with cfg.context(retrace_warning_threshold=20, debug_nans=True):
            assert cfg.retrace_warning_threshold == 20
        assert cfg.retrace_warning_threshold == 10
        assert cfg.debug_nans is False
    assert cfg.retrace_warning_threshold == 3


def _enter(context_manager):
    with context_manager:
        pass


def test_context_validates_everything_first(cfg):
    with pytest.raises(ConfigError, match="'jit_backend'"):
        _enter(cfg.context(debug_nans=True, jit_backend="xla"))
    with pytest.raises(ConfigError, match="Did you mean 'debug_nans'"):
        _enter(cfg.context(debug_nans=True, debug_nams=True))
    with pytest.raises(ConfigError, match="needs enable_x64=True"):
        _enter(cfg.context(default_float_dtype="float64"))
    assert cfg.values() == DEFAULTS


def test_context_keeps_config_consistent(cfg):
    with cfg.context(enable_x64=True):
        cfg.update("default_float_dtype", "float64")
    # Restoring x64=False alone would leave float64 without x64; float32 comes back too.
    assert cfg.enable_x64 is False
    assert cfg.default_float_dtype == "float32"


def test_update_inside_context_survives_for_other_options(cfg):
    with cfg.context(debug_nans=True):
        cfg.update("blas_threads", 2)
    assert cfg.debug_nans is False
    assert cfg.blas_threads == 2


def test_context_as_decorator(cfg):
    @cfg.context(disable_jit=True)
    def read():
        return cfg.disable_jit

    assert read() is True
    assert cfg.disable_jit is False


def test_enable_x64_helper():
    before = config.values()
    with _config.enable_x64():
        assert config.enable_x64 is True
        with _config.enable_x64(False):
            assert config.enable_x64 is False
    assert config.values() == before
    with pytest.raises(ConfigError, match="must be True or False"), _config.enable_x64("yes"):
        pass


# ------------------------------------------------------------------- trace context, paths


def test_trace_context(cfg):
    base = cfg.trace_context()
    assert base == (False, "float32", False, False)
    hash(base)
    with cfg.context(jit_backend="reference", blas_threads=3, disable_jit=True, cache_dir=None):
        assert cfg.trace_context() == base
    seen = {base}
    for options in (
        {"enable_x64": True},
        {"enable_x64": True, "default_float_dtype": "float64"},
        {"debug_index_checks": True},
        {"debug_nans": True},
    ):
        with cfg.context(**options):
            assert cfg.trace_context() not in seen
            seen.add(cfg.trace_context())
    assert cfg.trace_context() == base


def test_resolved_cache_dir(cfg, monkeypatch, tmp_path):
    monkeypatch.setenv("DX_TEST_CACHE_ROOT", str(tmp_path))
    cfg.update("cache_dir", "$DX_TEST_CACHE_ROOT/cache")
    assert cfg.resolved_cache_dir() == tmp_path / "cache"
    cfg.update("cache_dir", "~/dx")
    assert cfg.resolved_cache_dir() == pathlib.Path.home() / "dx"
    cfg.update("cache_dir", None)
    assert cfg.resolved_cache_dir() is None


def test_default_cache_dir_is_expanded_at_use(cfg, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cfg.resolved_cache_dir() == tmp_path / ".cache" / "derivax"
