"""Sorting, searching, unique, cumulative and order statistics in ``derivax.numpy``."""

__all__: list[str] = []
