"""Tests of derivax.serialization: round trips, `like` checks, corruption, the manager."""

from __future__ import annotations

import collections
import json
import math
import os
import struct
from typing import NamedTuple

import ml_dtypes
import numpy as np
import pytest

import derivax
import derivax.numpy as dnp
from derivax import optim, serialization
from derivax import tree as dtree
from derivax.serialization import CheckpointError, CheckpointManager, CheckpointMismatchError

# ----------------------------------------------------------------------------- helpers


def _assert_same(actual, expected, path="<root>", ordered=False):
    """Equal structure, container types, dtypes, shapes and bits (NaN == NaN).

    ``ordered``: dict keys in the same order too (a restore without ``like`` keeps the
    saved order; with ``like`` the order is the one `derivax.tree.unflatten` gives).
    """
    if isinstance(expected, dict):
        assert type(actual) is type(expected), path
        if ordered or isinstance(expected, collections.OrderedDict):
            assert list(actual) == list(expected), path
        assert set(actual) == set(expected), path
        for k in expected:
            _assert_same(actual[k], expected[k], f"{path}[{k!r}]", ordered)
    elif isinstance(expected, list | tuple):
        assert type(actual) is type(expected), path
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_same(a, e, f"{path}[{i}]", ordered)
    elif expected is None or isinstance(expected, bool | int | str):
        assert type(actual) is type(expected) and actual == expected, path
    elif isinstance(expected, float | complex):
        assert type(actual) is type(expected), path
        assert struct.pack("<2d", complex(actual).real, complex(actual).imag) == struct.pack(
            "<2d", complex(expected).real, complex(expected).imag
        ), path
    else:
        a, e = np.asarray(actual), np.asarray(expected)
        assert a.dtype == e.dtype, f"{path}: {a.dtype} != {e.dtype}"
        assert a.shape == e.shape, f"{path}: {a.shape} != {e.shape}"
        assert a.tobytes() == e.tobytes(), path


def _rng():
    return np.random.default_rng(1234)


ALL_DTYPES = [
    np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64,
    np.int64, np.float16, ml_dtypes.bfloat16, np.float32, np.float64, np.complex64,
    ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2,
]  # fmt: skip


def _array(dtype, shape, rng):
    x = rng.normal(size=shape) * 50
    if np.dtype(dtype) == np.bool_:
        return x > 0
    if np.dtype(dtype).kind == "c":
        return (x + 1j * rng.normal(size=shape)).astype(dtype)
    return x.astype(dtype)


def _trees():
    rng = _rng()
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], np.float32)
    return {
        "single_array": dnp.ones((2, 3)),
        "scalar_array": dnp.asarray(7, dnp.int32),
        "every_dtype": {str(np.dtype(d)): _array(d, (2, 3), rng) for d in ALL_DTYPES},
        "special_floats": {"f32": special, "bf16": special.astype(ml_dtypes.bfloat16)},
        "odd_shapes": [np.zeros((0, 3), np.float32), np.ones((1, 1, 1, 5), np.int8), np.float32(2)],
        "python_scalars": {
            "int": 3,
            "big_int": 2**80,
            "neg": -5,
            "float": 0.1,
            "nan": math.nan,
            "inf": -math.inf,
            "neg_zero": -0.0,
            "complex": 1.5 - 2j,
            "true": True,
            "false": False,
            "str": 'relu ✓ "quoted" \\ \n',
            "none": None,
        },  # fmt: skip
        "containers": {
            "list": [1, [2.0, (3, None)], ()],
            "tuple": (dnp.zeros(2), {}),
            "empty": {"d": {}, "l": [], "t": ()},
            "ordered": collections.OrderedDict([("z", 1), ("a", dnp.ones(1))]),
            "int_keys": {3: "three", 1: "one"},
        },
        "mixed_key_dict": {"b": 1, 2: dnp.ones(2)},
        "none": None,
    }


TREES = list(_trees().items())


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name,tree", TREES, ids=[t[0] for t in TREES])
def test_round_trip_without_like(tmp_path, name, tree):
    path = tmp_path / "ckpt.safetensors"
    serialization.save(path, tree)
    _assert_same(serialization.restore(path), tree, ordered=True)


# derivax.tree cannot flatten a dict whose keys do not sort (int and str mixed), so such a
# dict cannot be a `like`; save and restore without `like` handle it.
_LIKE_TREES = [t for t in TREES if t[0] != "mixed_key_dict"]


@pytest.mark.parametrize("name,tree", _LIKE_TREES, ids=[t[0] for t in _LIKE_TREES])
def test_round_trip_with_like(tmp_path, name, tree):
    path = tmp_path / "ckpt.safetensors"
    serialization.save(path, tree)
    _assert_same(serialization.restore(path, like=tree), tree)


def test_restored_arrays_are_derivax_arrays(tmp_path):
    path = tmp_path / "p.safetensors"
    serialization.save(path, {"w": np.ones(3, np.float32), "n": np.arange(2, dtype=np.int32)})
    out = serialization.restore(path)
    assert isinstance(out["w"], derivax.Array) and isinstance(out["n"], derivax.Array)
    # A NumPy leaf in `like` asks for a NumPy array back.
    out = serialization.restore(
        path, like={"w": np.zeros(3, np.float32), "n": dnp.zeros(2, dnp.int32)}
    )
    assert type(out["w"]) is np.ndarray and isinstance(out["n"], derivax.Array)
    # Dtypes derivax cannot hold exactly (float64 with x64 off) stay NumPy: no silent cast.
    serialization.save(path, {"x": np.ones(2, np.float64)})
    assert np.asarray(serialization.restore(path)["x"]).dtype == np.float64


class _Pair(NamedTuple):
    first: object
    second: object


def test_namedtuples_and_custom_nodes_need_like(tmp_path):
    @dataclasses_register
    class Linear:
        def __init__(self, w, b):
            self.w, self.b = w, b

    tree = {"pair": _Pair(dnp.ones(2), 3), "layer": Linear(dnp.ones((2, 2)), dnp.zeros(2))}
    path = tmp_path / "c.safetensors"
    serialization.save(path, tree)
    with pytest.raises(CheckpointError, match=r"_Pair.*like="):
        serialization.restore(path)
    out = serialization.restore(path, like=tree)
    assert isinstance(out["pair"], _Pair) and out["pair"].second == 3
    assert isinstance(out["layer"], Linear)
    np.testing.assert_array_equal(np.asarray(out["layer"].w), np.ones((2, 2)))


def dataclasses_register(cls):
    """Registers a two-field class as a pytree node with derivax.tree."""
    dtree.register_pytree_node(
        cls, lambda x: ((x.w, x.b), None), lambda _, children: cls(*children)
    )
    return cls


def test_optimizer_state_round_trip_resumes_training_exactly(tmp_path):
    def loss(p):
        return dnp.sum((p["w"] - 3.0) ** 2) + dnp.sum(p["b"] ** 2)

    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(0.1))
    params = {"w": dnp.zeros((2, 2)), "b": dnp.ones(2)}
    state = opt.init(params)

    @derivax.jit
    def step(params, state):
        updates, state = opt.update(derivax.grad(loss)(params), state, params)
        return optim.apply_updates(params, updates), state

    for _ in range(3):
        params, state = step(params, state)
    path = tmp_path / "train.safetensors"
    serialization.save(path, {"params": params, "opt_state": state, "step": 3})
    restored = serialization.restore(path, like={"params": params, "opt_state": state, "step": 0})
    assert restored["step"] == 3
    a, sa = params, state
    b, sb = restored["params"], restored["opt_state"]
    for _ in range(3):
        a, sa = step(a, sa)
        b, sb = step(b, sb)
    _assert_same(dtree.map(np.asarray, b), dtree.map(np.asarray, a))
    assert str(dtree.structure(sb)) == str(dtree.structure(sa))


def test_file_is_a_plain_safetensors_file(tmp_path):
    """Reads the file with nothing but the safetensors spec."""
    tree = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64)}
    path = tmp_path / "s.safetensors"
    serialization.save(path, tree)
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert (8 + n) % 8 == 0
    header = json.loads(data[8 : 8 + n])
    assert set(header["__metadata__"]) == {"format", "format_version", "tree", "sha256"}
    assert all(isinstance(v, str) for v in header["__metadata__"].values())
    names = {"F32": np.float32, "I64": np.int64}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        b, e = entry["data_offsets"]
        arr = np.frombuffer(data[8 + n + b : 8 + n + e], names[entry["dtype"]])
        key = name.strip("[]'")
        np.testing.assert_array_equal(arr.reshape(entry["shape"]), tree[key])


@pytest.mark.oracle
def test_safetensors_library_reads_the_file(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="the safetensors package is the oracle")
    tree = {"w": np.ones((2, 3), np.float32), "n": np.arange(4, dtype=np.int32)}
    path = tmp_path / "s.safetensors"
    serialization.save(path, tree)
    loaded = st.load_file(str(path))
    np.testing.assert_array_equal(loaded["['w']"], tree["w"])
    np.testing.assert_array_equal(loaded["['n']"], tree["n"])


# ----------------------------------------------------------------------------- bad input


def test_like_mismatches_are_all_listed(tmp_path):
    saved = {
        "w": np.zeros((2, 3), np.float32),
        "b": np.zeros(3, np.float32),
        "n": 4,
        "extra": np.zeros(1, np.int32),
        "kept": np.ones(2, np.float32),
    }
    like = {
        "w": np.zeros((3, 2), np.float32),  # shape
        "b": np.zeros(3, np.float16),  # dtype
        "n": np.zeros((), np.int32),  # kind: Python int vs array
        "missing": np.zeros(2, np.float32),  # not in the file
        "kept": np.ones(2, np.float32),  # fine
    }
    path = tmp_path / "m.safetensors"
    serialization.save(path, saved)
    with pytest.raises(CheckpointMismatchError) as info:
        serialization.restore(path, like=like)
    message = str(info.value)
    assert len(info.value.differences) == 5
    for fragment in [
        "['w']: the checkpoint holds float32[2, 3], like has float32[3, 2]",
        "['b']: the checkpoint holds float32[3], like has float16[3]",
        "['n']: the checkpoint holds Python int, like has int32[]",
        "['missing']: in like (float32[2]) but not in the checkpoint",
        "['extra']: in the checkpoint (int32[1]) but not in like",
    ]:
        assert fragment in message
    assert "['kept']" not in message


def test_like_accepts_shape_dtype_structs(tmp_path):
    path = tmp_path / "e.safetensors"
    params = {"w": dnp.ones((2, 3))}
    serialization.save(path, params)
    like = derivax.eval_shape(lambda: {"w": dnp.zeros((2, 3))})
    out = serialization.restore(path, like=like)
    np.testing.assert_array_equal(np.asarray(out["w"]), np.ones((2, 3)))


def test_save_rejects_what_it_cannot_store(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"\['f'\].*function"):
        serialization.save(path, {"f": print})
    with pytest.raises(TypeError, match=r"\['c'\].*complex128.*astype"):
        serialization.save(path, {"c": np.ones(2, np.complex128)})
    with pytest.raises(TypeError, match=r"key \(1, 2\)"):
        serialization.save(path, {(1, 2): 1})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        serialization.save(tmp_path / "no" / "dir.safetensors", {"a": 1})
    assert not path.exists()


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "a.safetensors"
    serialization.save(path, {"v": np.ones(3, np.float32)})
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        serialization.save(path, {"v": np.zeros(3, np.float32)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.safetensors"]


# ----------------------------------------------------------------------------- corruption


def _small_checkpoint(tmp_path):
    tree = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "s": [1, 2.5, "x"], "n": None}
    path = tmp_path / "small.safetensors"
    serialization.save(path, tree)
    return tree, path, path.read_bytes()


def _restore_bytes(tmp_path, data):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(data)
    return serialization.restore(bad)


def test_every_truncation_is_detected(tmp_path):
    _, _, data = _small_checkpoint(tmp_path)
    for n in range(len(data)):
        with pytest.raises(CheckpointError, match="cannot read checkpoint"):
            _restore_bytes(tmp_path, data[:n])
    with pytest.raises(CheckpointError, match="extra bytes"):
        _restore_bytes(tmp_path, data + b"\0")


def test_every_bit_flip_is_detected_or_harmless(tmp_path):
    tree, _, data = _small_checkpoint(tmp_path)
    detected = 0
    for i in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[i] ^= 1 << bit
            try:
                out = _restore_bytes(tmp_path, bytes(flipped))
            except CheckpointError:
                detected += 1
            else:  # only a flip that changes nothing may load, and then it is the original
                _assert_same(out, tree)
    assert detected >= 0.99 * 8 * len(data)


def test_random_bytes_never_crash_or_load(tmp_path):
    rng = _rng()
    for size in list(range(0, 40)) + [100, 1000, 10_000]:
        for _ in range(5):
            blob = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
            with pytest.raises(CheckpointError):
                _restore_bytes(tmp_path, blob)
    # Plausible headers with random bodies and hostile values.
    headers = [
        b"{}",
        b'{"__metadata__": {"format": "derivax.checkpoint"}}',
        b"[" * 100_000,
        b'{"a": {"dtype": "F32", "shape": [1e300], "data_offsets": [0, 4]}}',
        b'{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}',
        b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}',
        b'{"a": {"dtype": "F32", "shape": [2305843009213693952, 8], "data_offsets": [0, 0]}}',
        b'{"__metadata__": 5}',
        b"\xff\xfe",
    ]
    for header in headers:
        blob = len(header).to_bytes(8, "little") + header + rng.bytes(16)
        with pytest.raises(CheckpointError):
            _restore_bytes(tmp_path, blob)
    huge_length = (2**63).to_bytes(8, "little") + b"{}"
    with pytest.raises(CheckpointError, match="header claims"):
        _restore_bytes(tmp_path, huge_length)


def test_tampered_but_consistent_files_are_rejected(tmp_path):
    """Edits that keep the JSON valid still fail the checksum or the tree checks."""
    _, _, data = _small_checkpoint(tmp_path)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    payload = data[8 + n :]

    def rebuild(h, body=payload):
        raw = json.dumps(h).encode()
        raw += b" " * (-len(raw) % 8)
        return len(raw).to_bytes(8, "little") + raw + body

    changed_value = json.loads(json.dumps(header))
    changed_value["__metadata__"]["tree"] = changed_value["__metadata__"]["tree"].replace(
        '"v":1', '"v":2'
    )
    with pytest.raises(CheckpointError, match="checksum"):
        _restore_bytes(tmp_path, rebuild(changed_value))
    with pytest.raises(CheckpointError, match="checksum"):
        _restore_bytes(tmp_path, rebuild(header, bytes([payload[0] ^ 1]) + payload[1:]))
    plain = {k: v for k, v in header.items() if k != "__metadata__"}
    with pytest.raises(CheckpointError, match="metadata"):
        _restore_bytes(tmp_path, rebuild(plain))


# ----------------------------------------------------------------------------- manager


def test_manager_keeps_the_newest_and_restores(tmp_path):
    manager = CheckpointManager(tmp_path / "run", max_to_keep=3)
    assert manager.all_steps() == [] and manager.latest_step() is None
    for step in [0, 10, 20, 30, 40]:
        manager.save(step, {"w": np.full(2, step, np.float32), "step": step})
    assert manager.all_steps() == [20, 30, 40]
    assert manager.latest_step() == 40
    assert manager.restore()["step"] == 40
    assert manager.restore(step=20)["step"] == 20
    like = {"w": np.zeros(2, np.float32), "step": 0}
    np.testing.assert_array_equal(manager.restore(like=like)["w"], [40.0, 40.0])
    # A second manager on the same directory sees the same checkpoints.
    assert CheckpointManager(tmp_path / "run").all_steps() == [20, 30, 40]


def test_manager_skips_a_corrupted_newest_checkpoint(tmp_path):
    manager = CheckpointManager(tmp_path, max_to_keep=None)
    for step in range(3):
        manager.save(step, {"step": step})
    newest = manager.path(2)
    with open(newest, "rb") as f:
        data = f.read()
    with open(newest, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.warns(RuntimeWarning, match="step 2"):
        assert manager.restore()["step"] == 1
    with pytest.raises(CheckpointError):
        manager.restore(step=2)


def test_manager_ignores_interrupted_writes(tmp_path):
    manager = CheckpointManager(tmp_path)
    manager.save(5, {"a": 1})
    # What a crash during save leaves behind: a hidden temporary file.
    (tmp_path / ".ckpt_00000006.safetensors.abc123.tmp").write_bytes(b"partial")
    assert manager.all_steps() == [5]
    assert manager.restore() == {"a": 1}


def test_manager_errors(tmp_path):
    manager = CheckpointManager(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        manager.restore()
    manager.save(1, {"a": 1})
    with pytest.raises(ValueError, match="overwrite=True"):
        manager.save(1, {"a": 2})
    manager.save(1, {"a": 2}, overwrite=True)
    assert manager.restore(1) == {"a": 2}
    with pytest.raises(FileNotFoundError, match=r"step 7.*\[1\]"):
        manager.restore(7)
    with pytest.raises(ValueError, match="step must be"):
        manager.save(-1, {})
    with pytest.raises(ValueError, match="max_to_keep"):
        CheckpointManager(tmp_path, max_to_keep=0)
    for _ in range(2):
        with pytest.raises(CheckpointMismatchError):
            manager.restore(like={"a": 1, "b": 2})
    all_bad = CheckpointManager(tmp_path / "bad")
    all_bad.save(0, {"a": 1})
    with open(all_bad.path(0), "ab") as f:
        f.write(b"x")
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError, match="could be read"):
        all_bad.restore()


# ----------------------------------------------------------------------------- bytes


def _bytes_tree():
    return {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "half": np.ones(3, ml_dtypes.bfloat16),
        "ids": [np.array([1, 2], np.int32), 7, 2.5, "name", True],
        "none": None,
    }


def test_bytes_round_trip_and_are_the_file_contents(tmp_path):
    tree = _bytes_tree()
    data = serialization.to_bytes(tree)
    assert isinstance(data, bytes)
    _assert_same(serialization.from_bytes(data), serialization.restore(_write(tmp_path, data)))
    path = tmp_path / "saved.safetensors"
    serialization.save(path, tree)
    assert path.read_bytes() == data  # one format, one encoder
    like = dtree.map(lambda x: x, tree)
    _assert_same(serialization.from_bytes(bytearray(data), like=like), tree)
    _assert_same(serialization.from_bytes(memoryview(data), like=like), tree)


def _write(tmp_path, data):
    path = tmp_path / "from_bytes.safetensors"
    path.write_bytes(data)
    return path


def test_from_bytes_copies_its_input():
    data = bytearray(serialization.to_bytes({"w": np.ones(4, np.float32)}))
    restored = serialization.from_bytes(data)
    data[-4:] = b"\0\0\0\0"
    np.testing.assert_array_equal(np.asarray(restored["w"]), np.ones(4, np.float32))


def test_from_bytes_detects_damage_and_mismatch():
    data = serialization.to_bytes({"w": np.ones(3, np.float32), "step": 1})
    for n in (0, 7, len(data) // 2, len(data) - 1):
        with pytest.raises(CheckpointError, match="cannot read checkpoint bytes"):
            serialization.from_bytes(data[:n])
    flipped = bytearray(data)
    flipped[-1] ^= 0x40
    with pytest.raises(CheckpointError, match="checksum"):
        serialization.from_bytes(bytes(flipped))
    with pytest.raises(
        CheckpointMismatchError, match=r"(?s)from_bytes: the checkpoint bytes do not.*\['w'\]"
    ):
        serialization.from_bytes(data, like={"w": np.ones(2, np.float32), "step": 0})
    with pytest.raises(TypeError, match=r"data must be bytes.*restore\(path\)"):
        serialization.from_bytes("ckpt.safetensors")
    with pytest.raises(TypeError, match=r"\['f'\].*function"):
        serialization.to_bytes({"f": print})


def test_nn_modules_bytes_use_no_temporary_files(monkeypatch):
    nn = pytest.importorskip("nn_modules")
    import tempfile

    def no_files(*args, **kwargs):
        raise AssertionError("to_bytes/from_bytes must not touch the file system")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_files)
    monkeypatch.setattr(tempfile, "mkstemp", no_files)
    target = {"params": {"w": dnp.zeros(3)}, "step": 0}
    data = nn.to_bytes({"params": {"w": dnp.arange(3.0)}, "step": 4})
    restored = nn.from_bytes(target, data)
    np.testing.assert_array_equal(np.asarray(restored["params"]["w"]), [0.0, 1.0, 2.0])
    assert restored["step"] == 4
