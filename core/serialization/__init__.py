"""Checkpoints: pytrees of arrays and Python scalars in safetensors files, never pickle.

`save` and `restore` handle one file; `to_bytes` and `from_bytes` the same format in
memory; `CheckpointManager` keeps the last N checkpoints of a training run. See
:doc:`/serialization` for the file format.
"""

from ._api import CheckpointMismatchError as CheckpointMismatchError
from ._api import from_bytes as from_bytes
from ._api import restore as restore
from ._api import save as save
from ._api import to_bytes as to_bytes
from ._format import CheckpointError as CheckpointError
from ._manager import CheckpointManager as CheckpointManager

__all__ = [
    "CheckpointError",
    "CheckpointManager",
    "CheckpointMismatchError",
    "from_bytes",
    "restore",
    "save",
    "to_bytes",
]
