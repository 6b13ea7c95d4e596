"""Sorting and cumulative primitives: sort, top_k, cumsum, cumprod, cummax, cummin, cumlogsumexp, clamp."""

__all__: list[str] = []
