"""``derivax.numpy.linalg``: linear algebra with NumPy's and the Array API's names.

Every function batches over leading dimensions and works under ``jit``, ``vmap`` and
``grad``. Singular matrices give ``inf``/``nan`` results (as in JAX), never an exception.
"""

from ._linalg import EighResult as EighResult
from ._linalg import QRResult as QRResult
from ._linalg import SlogdetResult as SlogdetResult
from ._linalg import SVDResult as SVDResult
from ._linalg import cholesky as cholesky
from ._linalg import cross as cross
from ._linalg import det as det
from ._linalg import diagonal as diagonal
from ._linalg import eigh as eigh
from ._linalg import eigvalsh as eigvalsh
from ._linalg import inv as inv
from ._linalg import lstsq as lstsq
from ._linalg import matmul as matmul
from ._linalg import matrix_norm as matrix_norm
from ._linalg import matrix_power as matrix_power
from ._linalg import matrix_rank as matrix_rank
from ._linalg import matrix_transpose as matrix_transpose
from ._linalg import multi_dot as multi_dot
from ._linalg import norm as norm
from ._linalg import outer as outer
from ._linalg import pinv as pinv
from ._linalg import qr as qr
from ._linalg import slogdet as slogdet
from ._linalg import solve as solve
from ._linalg import svd as svd
from ._linalg import svdvals as svdvals
from ._linalg import tensordot as tensordot
from ._linalg import tensorinv as tensorinv
from ._linalg import tensorsolve as tensorsolve
from ._linalg import trace as trace
from ._linalg import vecdot as vecdot
from ._linalg import vector_norm as vector_norm

__all__ = [
    "EighResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "lstsq",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "multi_dot",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "tensorinv",
    "tensorsolve",
    "trace",
    "vecdot",
    "vector_norm",
]
