"""``derivax.random``: counter-based pseudo-random numbers (threefry2x32), JAX-compatible."""

from ._continuous import exponential as exponential
from ._continuous import gumbel as gumbel
from ._continuous import laplace as laplace
from ._continuous import logistic as logistic
from ._continuous import normal as normal
from ._continuous import truncated_normal as truncated_normal
from ._continuous import uniform as uniform
from ._discrete import bernoulli as bernoulli
from ._discrete import categorical as categorical
from ._discrete import choice as choice
from ._discrete import permutation as permutation
from ._discrete import rademacher as rademacher
from ._discrete import randint as randint
from ._gamma import beta as beta
from ._gamma import dirichlet as dirichlet
from ._gamma import gamma as gamma
from ._gamma import loggamma as loggamma
from ._keys import KeyArray as KeyArray
from ._keys import PRNGKey as PRNGKey
from ._keys import bits as bits
from ._keys import fold_in as fold_in
from ._keys import key as key
from ._keys import key_data as key_data
from ._keys import key_impl as key_impl
from ._keys import split as split
from ._keys import wrap_key_data as wrap_key_data
from ._multivariate import ball as ball
from ._multivariate import multivariate_normal as multivariate_normal
from ._multivariate import orthogonal as orthogonal
from ._poisson import poisson as poisson

__all__ = [
    "KeyArray",
    "PRNGKey",
    "ball",
    "bernoulli",
    "beta",
    "bits",
    "categorical",
    "choice",
    "dirichlet",
    "exponential",
    "gamma",
    "gumbel",
    "laplace",
    "loggamma",
    "logistic",
    "multivariate_normal",
    "normal",
    "orthogonal",
    "permutation",
    "poisson",
    "rademacher",
    "randint",
    "truncated_normal",
    "uniform",
    "fold_in",
    "key",
    "key_data",
    "key_impl",
    "split",
    "wrap_key_data",
]
