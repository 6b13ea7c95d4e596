"""Array manipulation in ``derivax.numpy``: pad, split, tile, repeat, roll, tril, diag, ..."""

__all__: list[str] = []
