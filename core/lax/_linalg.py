"""Linear-algebra primitives: cholesky, triangular_solve, lu, qr, svd, eigh."""

__all__: list[str] = []
