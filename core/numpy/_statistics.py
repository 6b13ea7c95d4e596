"""Comparisons, nan-aware reductions, averages, polynomials and convolutions in ``derivax.numpy``."""

__all__: list[str] = []
