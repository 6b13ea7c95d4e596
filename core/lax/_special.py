"""Special-function primitives: lgamma, digamma, erfc and friends."""

__all__: list[str] = []
