"""``derivax.scipy``: SciPy functions on derivax arrays."""

from . import special as special

__all__ = ["special"]
