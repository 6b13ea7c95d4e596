"""``nn_transform.nets``: whole networks built from the modules."""

from .._mlp import MLP as MLP
from .._resnet import ResNet as ResNet
from .._resnet import ResNet18 as ResNet18

__all__ = ["MLP", "ResNet", "ResNet18"]
