"""`CheckpointManager`: the last N checkpoints of a training run in one directory."""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

from ._api import CheckpointMismatchError, restore, save
from ._format import CheckpointError

__all__ = ["CheckpointManager"]

_NAME = re.compile(r"^ckpt_(\d+)\.safetensors$")


class CheckpointManager:
    """Keeps the newest checkpoints of a training run and resumes from the newest good one.

    Each step is one file ``ckpt_<step>.safetensors`` in ``directory``, written atomically
    by `save`. A crash mid-write leaves only a hidden temporary file, which is ignored.

    Args:
        directory: Where the checkpoints live; created if missing.
        max_to_keep: How many checkpoints to keep; after each save the oldest steps beyond
            this number are deleted. None keeps all.

    Raises:
        ValueError: If ``max_to_keep`` is not None or a positive int.

    Example:
        >>> import tempfile
        >>> import derivax.numpy as dnp
        >>> from derivax.serialization import CheckpointManager
        >>> manager = CheckpointManager(tempfile.mkdtemp(), max_to_keep=2)
        >>> for step in range(5):
        ...     _ = manager.save(step, {"w": dnp.full((2,), float(step))})
        >>> manager.all_steps()
        [3, 4]
        >>> manager.restore()["w"].tolist()
        [4.0, 4.0]
    """

    def __init__(self, directory: str | os.PathLike, max_to_keep: int | None = None):
        if max_to_keep is not None and (
            not isinstance(max_to_keep, int) or isinstance(max_to_keep, bool) or max_to_keep < 1
        ):
            raise ValueError(
                f"CheckpointManager: max_to_keep must be None (keep all) or an int >= 1, got "
                f"{max_to_keep!r}."
            )
        self.directory = os.fspath(directory)
        self.max_to_keep = max_to_keep
        os.makedirs(self.directory, exist_ok=True)

    def path(self, step: int) -> str:
        """The file name of ``step``'s checkpoint (which may not exist)."""
        return os.path.join(self.directory, f"ckpt_{step:08d}.safetensors")

    def _files(self) -> dict[int, str]:
        files = {}
        for name in os.listdir(self.directory):
            m = _NAME.match(name)
            if m:
                files[int(m.group(1))] = os.path.join(self.directory, name)
        return files

    def all_steps(self) -> list[int]:
        """The steps that have a checkpoint file, oldest first."""
        return sorted(self._files())

    def latest_step(self) -> int | None:
        """The newest step with a checkpoint file, or None if there is none."""
        steps = self.all_steps()
        return steps[-1] if steps else None

    def save(self, step: int, tree: Any, *, overwrite: bool = False) -> str:
        """Saves ``tree`` as ``step``'s checkpoint, then deletes the oldest beyond ``max_to_keep``.

        Args:
            step: A non-negative int, usually the training step.
            tree: The pytree to save (see `derivax.serialization.save`).
            overwrite: Replace an existing checkpoint of the same step.

        Returns:
            The path of the file written.

        Raises:
            ValueError: If ``step`` is not a non-negative int, or it already has a
                checkpoint and ``overwrite`` is False.
        """
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ValueError(f"CheckpointManager.save: step must be an int >= 0, got {step!r}.")
        path = self.path(step)
        if not overwrite and step in self.all_steps():
            raise ValueError(
                f"CheckpointManager.save: step {step} already has a checkpoint in "
                f"{self.directory!r}; pass overwrite=True to replace it."
            )
        save(path, tree)
        if self.max_to_keep is not None:
            files = self._files()
            for old in sorted(files)[: -self.max_to_keep]:
                try:
                    os.unlink(files[old])
                except FileNotFoundError:  # removed concurrently
                    pass
        return path

    def restore(self, step: int | None = None, like: Any = None) -> Any:
        """Restores a checkpoint: ``step``'s, or the newest one that reads correctly.

        With ``step=None`` the newest checkpoint is tried first; a corrupted one is
        skipped with a warning naming the file, and the next older one is tried.

        Args:
            step: The step to restore, or None for the newest good checkpoint.
            like: Passed to `derivax.serialization.restore`.

        Returns:
            The restored tree.

        Raises:
            FileNotFoundError: If there is no checkpoint (of ``step``).
            CheckpointError: If the requested checkpoint, or every one, is unreadable.
            CheckpointMismatchError: If ``like`` does not match.
        """
        files = self._files()
        if step is not None:
            if step not in files:
                raise FileNotFoundError(
                    f"CheckpointManager.restore: no checkpoint for step {step} in "
                    f"{self.directory!r}; available steps: {sorted(files)}."
                )
            return restore(files[step], like=like)
        steps = sorted(files)
        if not steps:
            raise FileNotFoundError(
                f"CheckpointManager.restore: no checkpoint in {self.directory!r} yet."
            )
        failures = []
        for s in reversed(steps):
            try:
                return restore(files[s], like=like)
            except CheckpointMismatchError:
                raise
            except (CheckpointError, FileNotFoundError) as e:
                failures.append(f"step {s}: {e}")
                warnings.warn(
                    f"CheckpointManager.restore: skipping the unreadable checkpoint of step "
                    f"{s} ({e}); trying an older one.",
                    RuntimeWarning,
                    stacklevel=2,
                )
        raise CheckpointError(
            "CheckpointManager.restore: no checkpoint in "
            f"{self.directory!r} could be read:\n" + "\n".join(failures)
        )
