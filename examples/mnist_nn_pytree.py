"""Train a small CNN on MNIST with nn_pytree, where the model is a pytree (Equinox's idiom).

The model is an `nnp.Module`: an immutable value holding its layers. `filter_value_and_grad`
differentiates the loss with respect to the model's floating-point arrays, `derivax.optim.adam`
turns the gradients into updates, `nnp.apply_updates` builds the next model, and `filter_jit`
compiles the whole step, tracing the arrays and keeping everything else (activation
functions, layer sizes) static. Layers act on one image; `derivax.vmap` runs them on a batch.

    python examples/mnist_nn_pytree.py                    # embedded 5,000-digit subset
    python examples/mnist_nn_pytree.py --data-dir DIR     # the full dataset's IDX files in DIR
    python examples/mnist_nn_pytree.py --download --data-dir DIR
    python examples/mnist_nn_pytree.py --checkpoint-dir ckpt            # save every epoch
    python examples/mnist_nn_pytree.py --checkpoint-dir ckpt --resume   # continue a run

The last line printed is ``test accuracy: 0.xxxx``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import derivax
import derivax.numpy as dnp
import derivax.optim as optim
import derivax.random as dr
import nn_pytree as nnp
from mnist_data import DatasetError, accuracy, batches, load_mnist, positive, progress

CHECKPOINT_NAME = "mnist_nn_pytree.safetensors"


class CNN(nnp.Module):
    """Two 3x3 convolutions with max pooling, then two dense layers; one image in, 10 logits out."""

    layers: tuple

    def __init__(self, key):
        k1, k2, k3, k4 = dr.split(key, 4)
        self.layers = (
            nnp.nn.Conv2d(1, 8, kernel_size=3, padding=1, key=k1),
            nnp.nn.Lambda(derivax.nn.relu),
            nnp.nn.MaxPool2d(2, stride=2),
            nnp.nn.Conv2d(8, 16, kernel_size=3, padding=1, key=k2),
            nnp.nn.Lambda(derivax.nn.relu),
            nnp.nn.MaxPool2d(2, stride=2),
            nnp.nn.Lambda(dnp.ravel),
            nnp.nn.Linear(16 * 7 * 7, 64, key=k3),
            nnp.nn.Lambda(derivax.nn.relu),
            nnp.nn.Linear(64, 10, key=k4),
        )

    def __call__(self, image):
        """Logits for one image of shape (1, 28, 28)."""
        x = image
        for layer in self.layers:
            x = layer(x)
        return x


def loss_fn(model, images, labels):
    """Mean cross-entropy of the logits of a batch of images against integer labels."""
    logits = derivax.vmap(model)(images)
    return dnp.mean(optim.softmax_cross_entropy_with_integer_labels(logits, labels))


def make_optimizer(lr: float, total_steps: int):
    """Adam whose learning rate decays from ``lr`` to zero along a cosine over the run."""
    return optim.adam(optim.cosine_decay_schedule(lr, max(total_steps, 1)))


def make_step(optimizer):
    """One compiled training step: ``(model, opt_state, images, labels) -> (model, opt_state, loss)``."""

    @nnp.filter_jit
    def step(model, opt_state, images, labels):
        loss, grads = nnp.filter_value_and_grad(loss_fn)(model, images, labels)
        params = nnp.filter(model, nnp.is_inexact_array)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return nnp.apply_updates(model, updates), opt_state, loss

    return step


@nnp.filter_jit
def count_correct(model, images, labels):
    """How many images of the batch the model classifies correctly."""
    predictions = dnp.argmax(derivax.vmap(model)(images), axis=-1)
    return dnp.sum(predictions == labels)


def evaluate(model, images, labels) -> float:
    """Fraction of correctly classified images, evaluated in chunks of equal size."""
    return accuracy(lambda xb, yb: count_correct(model, xb, yb), images, labels, 1000)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="passes over the training set")
    parser.add_argument("--batch-size", type=positive(int), default=32, help="examples per step")
    parser.add_argument(
        "--lr", type=positive(float), default=5e-3, help="initial Adam learning rate"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and shuffling")
    parser.add_argument("--data-dir", default=None, help="directory of the MNIST IDX files")
    parser.add_argument("--download", action="store_true", help="fetch the full MNIST first")
    parser.add_argument(
        "--checkpoint-dir", default=None, help="save the model and optimizer here after each epoch"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir"
    )
    args = parser.parse_args(argv)
    if args.epochs < 0:
        parser.error(f"--epochs must be >= 0, got {args.epochs}")
    if args.resume and args.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir (the directory the checkpoint is in)")
    return args


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    try:
        x_train, y_train, x_test, y_test = load_mnist(args.data_dir, download=args.download)
    except DatasetError as err:
        sys.exit(f"error: {err}")
    # The loader gives NHWC images; nn_pytree's convolutions take one (channels, H, W) image.
    x_train = np.ascontiguousarray(x_train.transpose(0, 3, 1, 2))
    x_test = np.ascontiguousarray(x_test.transpose(0, 3, 1, 2))
    steps = len(x_train) // args.batch_size
    if steps == 0:
        sys.exit(
            f"error: --batch-size {args.batch_size} exceeds the {len(x_train)} training images"
        )
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images; CNN with nn_pytree")

    model = CNN(dr.PRNGKey(args.seed))
    optimizer = make_optimizer(args.lr, args.epochs * steps)
    opt_state = optimizer.init(nnp.filter(model, nnp.is_inexact_array))
    first_epoch = 1
    checkpoint = Path(args.checkpoint_dir) / CHECKPOINT_NAME if args.checkpoint_dir else None
    if args.resume:
        if checkpoint.is_file():
            like = {"model": model, "opt_state": opt_state, "epoch": 0}
            saved = nnp.tree_deserialise_leaves(checkpoint, like)
            model, opt_state, first_epoch = saved["model"], saved["opt_state"], saved["epoch"] + 1
            print(f"resumed from {checkpoint} after epoch {saved['epoch']}")
        else:
            print(f"no checkpoint at {checkpoint}; starting from scratch")

    step = make_step(optimizer)
    for epoch in range(first_epoch, args.epochs + 1):
        start = time.perf_counter()
        total_loss = 0.0
        # A generator per (seed, epoch): a resumed run sees the same order as an unbroken one.
        shuffle = np.random.default_rng([args.seed, epoch])
        epoch_batches = batches(x_train, y_train, args.batch_size, rng=shuffle, drop_last=True)
        for images, labels in progress(epoch_batches, steps, f"epoch {epoch}"):
            model, opt_state, loss = step(model, opt_state, images, labels)
            total_loss += float(loss)
        test_acc = evaluate(model, x_test, y_test)
        elapsed = time.perf_counter() - start
        print(
            f"epoch {epoch:2d}/{args.epochs}  loss {total_loss / steps:.4f}  "
            f"test acc {test_acc:.4f}  time {elapsed:.1f}s"
        )
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            nnp.tree_serialise_leaves(
                checkpoint, {"model": model, "opt_state": opt_state, "epoch": epoch}
            )
    test_acc = evaluate(model, x_test, y_test)
    print(f"test accuracy: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
