"""derivax.random and the bit-level lax primitives under it.

- threefry2x32 against the Random123 known-answer vectors;
- keys, split, fold_in and bits against the counter scheme they are specified by;
- every distribution checked statistically (KS or chi-squared, fixed seeds);
- jit and vmap give the eager values, and derivatives flow through the parameters;
- oracle tests (marker ``oracle``): the same numbers as JAX for the same key. ``split``,
  ``fold_in``, ``bits``, ``uniform``, ``normal`` and the samplers built from them without
  transcendental functions are compared bit for bit; samplers that go through ``log``,
  ``exp`` or ``erf`` (NumPy's in derivax, XLA's own approximations in JAX) to a few ulps.
"""

import doctest
import importlib
import math

import numpy as np
import pytest

import derivax as dx
import derivax.numpy as dnp
from derivax import lax, random

stats = pytest.importorskip("scipy.stats", reason="statistical tests need scipy")
special = pytest.importorskip("scipy.special", reason="erf_inv is checked against scipy")

from harness import assert_jit_equal  # noqa: E402

U32 = np.uint32
P_MIN = 1e-3  # every statistical test uses a fixed seed, so it passes or fails for good


def words(*values):
    return tuple(U32(v) for v in values)


# --------------------------------------------------------------------------- threefry2x32

RANDOM123_VECTORS = [
    # (key, counter) -> output, from the Random123 distribution's kat_vectors (20 rounds)
    (words(0, 0), words(0, 0), (0x6B200159, 0x99BA4EFE)),
    (words(0xFFFFFFFF, 0xFFFFFFFF), words(0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    (words(0x13198A2E, 0x03707344), words(0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("key,ctr,expected", RANDOM123_VECTORS)
def test_threefry_known_answers(key, ctr, expected):
    hi, lo = lax.threefry2x32(*key, *ctr)
    assert (int(hi), int(lo)) == expected
    assert hi.dtype == np.uint32 and lo.dtype == np.uint32


def test_threefry_broadcasts_and_batches():
    k1, k2 = words(0x13198A2E, 0x03707344)
    ctr = dnp.array([0, 0x243F6A88, 5], dnp.uint32)
    hi, lo = lax.threefry2x32(k1, k2, dnp.zeros(3, dnp.uint32), ctr)
    assert hi.shape == (3,)
    for i in range(3):
        h, l_ = lax.threefry2x32(k1, k2, U32(0), U32(int(ctr[i])))
        assert (int(hi[i]), int(lo[i])) == (int(h), int(l_))
    # vmap over the key words gives the per-key results
    keys = dnp.array([[0, 0], [0xFFFFFFFF, 0xFFFFFFFF]], dnp.uint32)
    f = lambda k, x: lax.threefry2x32(k[0], k[1], x, x)
    vh, vl = dx.vmap(f, in_axes=(0, None))(keys, dnp.array([0, 0xFFFFFFFF], dnp.uint32))
    assert [int(vh[0, 0]), int(vl[0, 0])] == [0x6B200159, 0x99BA4EFE]
    assert [int(vh[1, 1]), int(vl[1, 1])] == [0x1CB996FC, 0xBB002BE7]


def test_threefry_rejects_other_dtypes():
    with pytest.raises(TypeError, match="`x1` must be uint32"):
        lax.threefry2x32(U32(0), U32(0), np.int32(0), U32(0))


# --------------------------------------------------------------------------- keys


def test_prngkey_words_follow_the_seed():
    assert np.asarray(random.PRNGKey(0)).tolist() == [0, 0]
    assert np.asarray(random.PRNGKey(42)).tolist() == [0, 42]
    # With x64 off a seed is an int32: negative seeds wrap, bits above 32 are dropped.
    assert np.asarray(random.PRNGKey(-1)).tolist() == [0, 0xFFFFFFFF]
    assert np.asarray(random.PRNGKey(2**32 + 5)).tolist() == [0, 5]
    assert np.asarray(random.PRNGKey(2**40)).tolist() == [0, 0]
    assert random.PRNGKey(7).dtype == np.uint32


def test_prngkey_words_with_x64():
    with dx.enable_x64():
        assert np.asarray(random.PRNGKey(-1)).tolist() == [0xFFFFFFFF, 0xFFFFFFFF]
        assert np.asarray(random.PRNGKey(2**40 + 3)).tolist() == [256, 3]
        seed = dnp.asarray(np.int64(2**33 + 9))
        assert np.asarray(random.PRNGKey(seed)).tolist() == [2, 9]


def test_seeds_may_be_arrays_and_traced():
    expect = np.asarray(random.PRNGKey(12345)).tolist()
    assert np.asarray(random.PRNGKey(np.int32(12345))).tolist() == expect
    assert np.asarray(random.PRNGKey(dnp.array(12345))).tolist() == expect
    assert np.asarray(dx.jit(random.PRNGKey)(12345)).tolist() == expect
    assert np.asarray(random.PRNGKey(np.uint8(200))).tolist() == [0, 200]
    assert np.asarray(random.PRNGKey(np.int8(-1))).tolist() == [0, 0xFFFFFFFF]
    keys = dx.vmap(random.key)(dnp.arange(3))
    assert isinstance(keys, random.KeyArray) and keys.shape == (3,)
    assert np.asarray(random.key_data(keys)).tolist() == [[0, 0], [0, 1], [0, 2]]


@pytest.mark.parametrize(
    "seed,error,match",
    [
        (1.5, TypeError, "integer seed"),
        (True, TypeError, "integer seed"),
        (np.arange(2), TypeError, "scalar seed"),
        (2**64, OverflowError, "64 bits"),
    ],
)
def test_bad_seeds(seed, error, match):
    with pytest.raises(error, match=match):
        random.key(seed)


def test_typed_and_raw_keys_give_the_same_numbers():
    typed, raw = random.key(3), random.PRNGKey(3)
    assert np.array_equal(random.key_data(typed), raw)
    assert np.array_equal(random.normal(typed, (5,)), random.normal(raw, (5,)))
    assert isinstance(random.split(typed), random.KeyArray)
    assert isinstance(random.fold_in(typed, 1), random.KeyArray)
    raw_split = random.split(raw)
    assert not isinstance(raw_split, random.KeyArray) and raw_split.shape == (2, 2)
    assert np.array_equal(random.key_data(random.split(typed)), raw_split)
    assert random.key_impl(typed) == random.key_impl(raw) == "threefry2x32"


def test_key_array_behaves_like_an_array_of_keys():
    keys = random.split(random.key(0), (2, 3))
    assert keys.shape == (2, 3) and keys.ndim == 2 and keys.size == 6 and len(keys) == 2
    assert str(keys.dtype) == "key<fry>"
    assert keys[1, 2].shape == () and keys[:, 0].shape == (2,) and keys[..., 1].shape == (2,)
    assert keys.reshape(3, 2).shape == (3, 2) and keys.reshape(-1).shape == (6,)
    assert keys.ravel().shape == (6,)
    assert [k.shape for k in keys] == [(3,), (3,)]
    flat = random.key_data(keys.ravel())
    assert np.array_equal(random.key_data(keys[1, 0]), flat[3])
    a, b = random.split(random.key(0))
    assert bool(a == random.split(random.key(0))[0]) and bool(a != b)
    assert "key<fry>" in repr(keys[0, 0]) and "[1797259609 2579123966]" in repr(keys[0, 0])
    with pytest.raises(TypeError, match="key_data"):
        np.asarray(keys)
    with pytest.raises(TypeError, match="single key"):
        len(random.key(0))
    with pytest.raises(TypeError):
        hash(random.key(0))


def test_wrap_key_data_round_trips():
    data = random.key_data(random.split(random.key(5), 4))
    keys = random.wrap_key_data(data)
    assert keys.shape == (4,) and np.array_equal(random.key_data(keys), data)
    assert bool(random.wrap_key_data(np.array([0, 5], np.uint32)) == random.key(5))
    with pytest.raises(TypeError, match=r"\(\.\.\., 2\)"):
        random.wrap_key_data(np.zeros(3, np.uint32))
    with pytest.raises(TypeError, match=r"\(\.\.\., 2\)"):
        random.wrap_key_data(np.zeros(2, np.int32))
    with pytest.raises(NotImplementedError, match="threefry2x32"):
        random.key(0, impl="rbg")


def test_key_arrays_are_pytrees():
    keys = random.split(random.key(1), 3)
    leaves, treedef = dx.tree.flatten({"k": keys})
    assert len(leaves) == 1 and leaves[0].shape == (3, 2)
    back = dx.tree.unflatten(treedef, leaves)["k"]
    assert isinstance(back, random.KeyArray) and bool((back == keys).all())


# --------------------------------------------------------------------------- the counter scheme


def _hash(key, hi, lo):
    k = np.asarray(random.key_data(key))
    a, b = lax.threefry2x32(U32(k[0]), U32(k[1]), U32(hi), U32(lo))
    return int(a), int(b)


def test_split_is_the_hash_of_counters():
    key = random.PRNGKey(1234)
    keys = np.asarray(random.split(key, (2, 3)))
    for i in range(6):
        assert tuple(keys.reshape(6, 2)[i]) == _hash(key, 0, i)
    assert np.asarray(random.split(key, ())).tolist() == list(_hash(key, 0, 0))


def test_fold_in_is_the_hash_of_the_data():
    key = random.PRNGKey(99)
    for d in (0, 1, 2**31, 2**32 - 1):
        assert tuple(np.asarray(random.fold_in(key, d))) == _hash(key, 0, d)
    # an int32 array folds in its 32 bits
    assert np.array_equal(random.fold_in(key, dnp.array(-1)), random.fold_in(key, 2**32 - 1))
    traced = dx.jit(random.fold_in)(key, dnp.array(7, dnp.uint32))
    assert np.array_equal(traced, random.fold_in(key, 7))


def test_bits_are_the_xor_of_the_hash():
    key = random.PRNGKey(7)
    b = np.asarray(random.bits(key, (2, 3)))
    for i in range(6):
        hi, lo = _hash(key, 0, i)
        assert b.reshape(6)[i] == hi ^ lo
    b8 = np.asarray(random.bits(key, (6,), dnp.uint8))
    assert b8.dtype == np.uint8 and np.array_equal(b8, b.reshape(6).astype(np.uint8))
    b16 = np.asarray(random.bits(key, (6,), dnp.uint16))
    assert np.array_equal(b16, b.reshape(6).astype(np.uint16))
    assert random.bits(key).shape == () and random.bits(key, 4).shape == (4,)


def test_bits_64():
    key = random.PRNGKey(7)
    with dx.enable_x64():
        b = np.asarray(random.bits(key, (3,)))
        assert b.dtype == np.uint64
        for i in range(3):
            hi, lo = _hash(key, 0, i)
            assert int(b[i]) == (hi << 32) | lo


def test_uniform_fills_the_mantissa_with_bits():
    key = random.PRNGKey(11)
    b = np.asarray(random.bits(key, (1000,)))
    expect = ((b >> U32(9)) | U32(0x3F800000)).view(np.float32) - np.float32(1)
    assert np.array_equal(np.asarray(random.uniform(key, (1000,))), expect)


def test_uniform_rounds_the_affine_map_once():
    # u * (maxval - minval) + minval is fused into one rounding, as XLA does.
    key = random.PRNGKey(11)
    f = np.asarray(random.uniform(key, (2000,))).astype(np.float64)
    lo, hi = np.float32(-3.0), np.float32(7.3)
    width = float(np.float32(hi - lo))
    expect = np.maximum(lo, (f * width + float(lo)).astype(np.float32))
    got = np.asarray(random.uniform(key, (2000,), minval=-3.0, maxval=7.3))
    assert np.array_equal(got, expect)


# --------------------------------------------------------------------------- statistics

N = 8000


def ks(sample, cdf, *args):
    return stats.kstest(np.asarray(sample, np.float64).ravel(), cdf, args=args).pvalue


@pytest.mark.parametrize("dtype", [dnp.float32, dnp.float16, dnp.bfloat16])
def test_uniform_statistics(dtype):
    x = random.uniform(random.key(0), (N,), dtype, -2.0, 3.0)
    assert x.dtype == dtype and x.shape == (N,)
    v = np.asarray(x).astype(np.float64)
    assert v.min() >= -2.0 and v.max() < 3.0
    if dtype == dnp.float32:
        assert ks(v, "uniform", -2.0, 5.0) > P_MIN
    else:
        assert abs(v.mean() - 0.5) < 0.05 and abs(v.var() - 25 / 12) < 0.1


def test_uniform_with_array_bounds():
    lo = dnp.array([0.0, 10.0, -5.0])
    x = random.uniform(random.key(1), (N, 3), minval=lo, maxval=lo + 1)
    v = np.asarray(x)
    assert (v >= np.asarray(lo)).all() and (v < np.asarray(lo) + 1).all()


@pytest.mark.parametrize("dtype", [dnp.float32, dnp.float16, dnp.bfloat16])
def test_normal_statistics(dtype):
    x = np.asarray(random.normal(random.key(1), (N,), dtype)).astype(np.float64)
    assert ks(x, "norm") > P_MIN or dtype != dnp.float32
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05


def test_normal_float64_statistics():
    with dx.enable_x64():
        x = random.normal(random.key(2), (N,), dnp.float64)
        assert x.dtype == np.float64
        assert ks(x, "norm") > P_MIN


def test_complex_normal():
    z = np.asarray(random.normal(random.key(3), (N,), dnp.complex64))
    assert z.dtype == np.complex64
    assert ks(z.real * np.sqrt(2), "norm") > P_MIN and ks(z.imag * np.sqrt(2), "norm") > P_MIN
    assert abs(np.corrcoef(z.real, z.imag)[0, 1]) < 0.05


def test_truncated_normal_statistics():
    x = random.truncated_normal(random.key(4), -0.5, 2.0, (N,))
    v = np.asarray(x)
    assert v.min() > -0.5 and v.max() < 2.0
    assert ks(v, "truncnorm", -0.5, 2.0) > P_MIN
    # array bounds broadcast against the shape
    y = np.asarray(random.truncated_normal(random.key(5), dnp.array([-1.0, 0.0]), 1.0, (N, 2)))
    assert (y[:, 0] > -1).all() and (y[:, 1] > 0).all() and (y < 1).all()


@pytest.mark.parametrize(
    "sampler,dist",
    [
        (random.exponential, "expon"),
        (random.laplace, "laplace"),
        (random.logistic, "logistic"),
        (random.gumbel, "gumbel_r"),
        (lambda k, s: random.gumbel(k, s, mode="high"), "gumbel_r"),
    ],
)
def test_continuous_statistics(sampler, dist):
    x = sampler(random.key(6), (N,))
    assert x.dtype == np.float32 and x.shape == (N,)
    assert ks(x, dist) > P_MIN


@pytest.mark.parametrize("a", [0.3, 1.0, 4.5, 50.0])
def test_gamma_statistics(a):
    x = random.gamma(random.key(7), a, (N,))
    assert ks(x, "gamma", a) > P_MIN
    logx = random.loggamma(random.key(7), a, (N,))
    np.testing.assert_allclose(np.exp(np.asarray(logx)), np.asarray(x), rtol=2e-5, atol=1e-30)


def test_gamma_shapes_and_invalid_parameters():
    a = dnp.array([[0.5, 2.0, 8.0]])
    x = np.asarray(random.gamma(random.key(8), a, (4000, 3)))
    for j, aj in enumerate([0.5, 2.0, 8.0]):
        assert ks(x[:, j], "gamma", aj) > P_MIN
    bad = np.asarray(random.gamma(random.key(8), dnp.array([-1.0, 0.0, np.nan, 1.0])))
    assert np.isnan(bad[:3]).all() and np.isfinite(bad[3])
    tiny = np.asarray(random.loggamma(random.key(8), 1e-3, (100,)))
    assert np.isfinite(tiny).all() and (tiny < 0).all()


def test_beta_and_dirichlet_statistics():
    x = random.beta(random.key(9), 2.0, 5.0, (N,))
    assert ks(x, "beta", 2.0, 5.0) > P_MIN
    alpha = np.array([0.5, 1.5, 3.0])
    d = np.asarray(random.dirichlet(random.key(10), dnp.asarray(alpha), (N,)))
    assert d.shape == (N, 3)
    np.testing.assert_allclose(d.sum(-1), 1.0, rtol=1e-5)
    for j in range(3):  # the marginals are Beta(alpha_j, sum - alpha_j)
        assert ks(d[:, j], "beta", alpha[j], alpha.sum() - alpha[j]) > P_MIN


def chi2_discrete(sample, support, pmf):
    """Chi-squared p-value; bins expecting fewer than 5 counts are lumped into one bin."""
    sample = np.asarray(sample).ravel()
    support, pmf = list(support), np.asarray(pmf, np.float64)
    big = pmf * sample.size >= 5
    observed = np.array([(sample == k).sum() for k, b in zip(support, big) if b], np.float64)
    expected = pmf[big] * sample.size
    rest_observed = sample.size - observed.sum()
    rest_expected = sample.size - expected.sum()
    if rest_expected > 1e-6 * sample.size:
        observed = np.append(observed, rest_observed)
        expected = np.append(expected, rest_expected)
    else:
        assert rest_observed == 0
    return stats.chisquare(observed, expected).pvalue


@pytest.mark.parametrize("lam", [0.5, 4.0, 9.99, 10.0, 30.0])
def test_poisson_statistics(lam):
    x = random.poisson(random.key(11), lam, (N,))
    assert x.dtype == np.int32
    support = range(int(lam + 6 * math.sqrt(lam) + 6))
    pmf = stats.poisson.pmf(list(support), lam)
    assert chi2_discrete(x, support, pmf) > P_MIN


def test_poisson_edge_rates():
    x = np.asarray(random.poisson(random.key(12), dnp.array([0.0, 1e4, 3.0]), (1000, 3)))
    assert (x[:, 0] == 0).all()
    assert abs(x[:, 1].mean() - 1e4) < 10
    assert x.dtype == np.int32


@pytest.mark.parametrize("mode", ["low", "high"])
def test_bernoulli_statistics(mode):
    x = random.bernoulli(random.key(13), 0.3, (N,), mode=mode)
    assert x.dtype == np.bool_
    assert stats.binomtest(int(np.asarray(x).sum()), N, 0.3).pvalue > P_MIN
    p = dnp.array([0.0, 0.5, 1.0])
    y = np.asarray(random.bernoulli(random.key(13), p, (100, 3)))
    assert not y[:, 0].any() and y[:, 2].all()
    assert random.bernoulli(random.key(0)).shape == ()


def test_rademacher_statistics():
    x = np.asarray(random.rademacher(random.key(14), (N,)))
    assert x.dtype == np.int32 and set(np.unique(x)) == {-1, 1}
    assert stats.binomtest(int((x == 1).sum()), N, 0.5).pvalue > P_MIN
    assert random.rademacher(random.key(14), (3,), dnp.float32).dtype == np.float32


@pytest.mark.parametrize(
    "lo,hi,dtype",
    [
        (0, 10, None),
        (-7, 6, dnp.int8),
        (0, 256, dnp.uint8),
        (3, 19, dnp.uint32),
        (-5, 5, dnp.int16),
    ],
)
def test_randint_statistics(lo, hi, dtype):
    x = random.randint(random.key(15), (N,), lo, hi, dtype)
    assert x.dtype == (dtype or np.int32)
    support = range(lo, hi)
    assert chi2_discrete(x, support, [1 / (hi - lo)] * (hi - lo)) > P_MIN


def test_randint_edge_bounds():
    key = random.key(16)
    assert (np.asarray(random.randint(key, (50,), 5, 2)) == 5).all()  # maxval <= minval
    full = np.asarray(random.randint(key, (N,), -(2**31), 2**31 - 1))
    assert full.min() < -(2**30) and full.max() > 2**30
    lo = dnp.array([0, 100])
    y = np.asarray(random.randint(key, (1000, 2), lo, lo + 3))
    assert set(np.unique(y[:, 0])) == {0, 1, 2} and set(np.unique(y[:, 1])) == {100, 101, 102}
    clipped = np.asarray(random.randint(key, (1000,), -1000, 1000, dnp.uint8))
    assert clipped.min() >= 0 and clipped.max() <= 255


def test_permutation_is_uniform():
    keys = random.split(random.key(17), 2400)
    perms = np.asarray(dx.vmap(lambda k: random.permutation(k, 4))(keys))
    assert (np.sort(perms, axis=1) == np.arange(4)).all()
    codes = perms @ np.array([64, 16, 4, 1])
    observed = np.unique(codes, return_counts=True)[1]
    assert observed.size == 24
    assert stats.chisquare(observed).pvalue > P_MIN


def test_permutation_of_arrays():
    key = random.key(18)
    x = dnp.arange(24.0).reshape(4, 6)
    rows = np.asarray(random.permutation(key, x, axis=1))
    assert (np.sort(rows, axis=1) == np.asarray(x)).all()
    # one permutation moves whole columns
    assert (np.diff(rows, axis=0) == 6).all()
    ind = np.asarray(random.permutation(key, x, axis=1, independent=True))
    assert (np.sort(ind, axis=1) == np.asarray(x)).all()
    assert not (np.diff(ind, axis=0) == 6).all()
    big = np.asarray(random.permutation(key, 5000))  # two sorting rounds
    assert np.array_equal(np.sort(big), np.arange(5000))
    assert random.permutation(key, 0).shape == (0,)


def test_choice_statistics():
    key = random.key(19)
    p = np.array([0.1, 0.2, 0.3, 0.05, 0.35])
    x = random.choice(key, 5, (N,), p=dnp.asarray(p, dnp.float32))
    assert chi2_discrete(x, range(5), p) > P_MIN
    y = random.choice(key, 5, (N,))
    assert chi2_discrete(y, range(5), [0.2] * 5) > P_MIN
    draws = dx.vmap(lambda k: random.choice(k, 6, (3,), replace=False))(random.split(key, 2000))
    d = np.asarray(draws)
    assert all(len(set(row)) == 3 for row in d.tolist())
    assert chi2_discrete(d, range(6), [1 / 6] * 6) > P_MIN
    weighted = dx.vmap(
        lambda k: random.choice(k, 4, (2,), replace=False, p=dnp.array([0.1, 0.2, 0.3, 0.4]))
    )(random.split(key, 2000))
    w = np.asarray(weighted)
    assert all(len(set(row)) == 2 for row in w.tolist())
    first = np.bincount(w[:, 0], minlength=4) / len(w)
    np.testing.assert_allclose(first, [0.1, 0.2, 0.3, 0.4], atol=0.04)


def test_choice_from_arrays():
    key = random.key(20)
    a = dnp.arange(12).reshape(3, 4)
    out = random.choice(key, a, (2, 5), axis=1)
    assert out.shape == (3, 2, 5)
    assert (np.asarray(out) // 4 == np.arange(3)[:, None, None]).all()
    assert random.choice(key, a, (2,), replace=False).shape == (2, 4)
    assert random.choice(key, 5, (0,)).shape == (0,)
    assert random.choice(key, 5).shape == ()


def test_categorical_statistics():
    key = random.key(21)
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    logits = dnp.asarray(np.log(probs), dnp.float32)
    x = np.asarray(random.categorical(key, logits, shape=(N, 2)))
    assert x.dtype == np.int32 and x.shape == (N, 2)
    for row in range(2):
        assert chi2_discrete(x[:, row], range(3), probs[row]) > P_MIN
    y = np.asarray(random.categorical(key, logits.T, axis=0, shape=(N, 2)))
    assert chi2_discrete(y[:, 0], range(3), probs[0]) > P_MIN
    z = np.asarray(random.categorical(key, logits, shape=(3, 2), replace=False))
    assert all(sorted(z[:, r].tolist()) == [0, 1, 2] for r in range(2))


def test_multivariate_normal_statistics():
    key = random.key(22)
    mean = np.array([1.0, -2.0, 0.5])
    a = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.2, 0.5]])
    cov = a @ a.T
    x = np.asarray(
        random.multivariate_normal(
            key, dnp.asarray(mean, dnp.float32), dnp.asarray(cov, dnp.float32), (N,)
        )
    )
    assert x.shape == (N, 3)
    white = np.linalg.solve(a, (x - mean).T).T  # independent standard normals
    for j in range(3):
        assert ks(white[:, j], "norm") > P_MIN
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.06)
    batched = random.multivariate_normal(key, dnp.zeros((4, 3)), dnp.eye(3), dtype=dnp.float32)
    assert batched.shape == (4, 3)


def test_orthogonal_is_haar():
    keys = random.split(random.key(23), 3000)
    q = np.asarray(dx.vmap(lambda k: random.orthogonal(k, 3))(keys))
    np.testing.assert_allclose(
        q @ np.swapaxes(q, 1, 2), np.broadcast_to(np.eye(3), q.shape), atol=1e-5
    )
    # a column of a Haar orthogonal 3x3 matrix is uniform on the sphere: each coordinate
    # is uniform on [-1, 1] (Archimedes).
    assert ks(q[:, 0, 0], "uniform", -1, 2) > P_MIN
    assert ks(q[:, 2, 1], "uniform", -1, 2) > P_MIN
    wide = np.asarray(random.orthogonal(random.key(24), 2, (5,), m=4))
    assert wide.shape == (5, 2, 4)
    np.testing.assert_allclose(
        wide @ np.swapaxes(wide, 1, 2), np.broadcast_to(np.eye(2), (5, 2, 2)), atol=1e-5
    )
    tall = np.asarray(random.orthogonal(random.key(24), 4, m=2))
    np.testing.assert_allclose(tall.T @ tall, np.eye(2), atol=1e-5)


def test_ball_is_uniform():
    x = np.asarray(random.ball(random.key(25), 3, shape=(N,)))
    r = np.linalg.norm(x, axis=1)
    assert (r < 1).all()
    assert ks(r**3, "uniform") > P_MIN  # P(|x| < r) = r**3 in three dimensions
    assert ks(x[:, 0] / r, "uniform", -1, 2) > P_MIN
    l1 = np.asarray(random.ball(random.key(26), 2, p=1, shape=(N,)))
    assert (np.abs(l1).sum(1) < 1).all()
    assert ks(np.abs(l1).sum(1) ** 2, "uniform") > P_MIN


# --------------------------------------------------------------------------- jit, vmap, grad

SAMPLERS = {
    "bits": lambda k: random.bits(k, (3,)),
    "split": lambda k: random.key_data(random.split(k, 3)),
    "fold_in": lambda k: random.key_data(random.fold_in(k, 3)),
    "uniform": lambda k: random.uniform(k, (3,), minval=-1.0, maxval=2.0),
    "normal": lambda k: random.normal(k, (2, 2)),
    "truncated_normal": lambda k: random.truncated_normal(k, -1.0, 0.5, (3,)),
    "bernoulli": lambda k: random.bernoulli(k, 0.3, (3,)),
    "rademacher": lambda k: random.rademacher(k, (3,)),
    "randint": lambda k: random.randint(k, (3,), -4, 9),
    "permutation": lambda k: random.permutation(k, 6),
    "permutation_array": lambda k: random.permutation(k, dnp.arange(6.0).reshape(2, 3), 1, True),
    "choice": lambda k: random.choice(k, 5, (3,), replace=False),
    "choice_p": lambda k: random.choice(k, 4, (3,), p=dnp.array([0.1, 0.2, 0.3, 0.4])),
    "categorical": lambda k: random.categorical(k, dnp.zeros((2, 4))),
    "gumbel": lambda k: random.gumbel(k, (3,)),
    "laplace": lambda k: random.laplace(k, (3,)),
    "logistic": lambda k: random.logistic(k, (3,)),
    "exponential": lambda k: random.exponential(k, (3,)),
    "gamma": lambda k: random.gamma(k, dnp.array([0.5, 2.0, 5.0])),
    "beta": lambda k: random.beta(k, 2.0, 3.0, (3,)),
    "dirichlet": lambda k: random.dirichlet(k, dnp.ones(3)),
    "poisson": lambda k: random.poisson(k, dnp.array([1.0, 20.0, 3.0])),
    "multivariate_normal": lambda k: random.multivariate_normal(k, dnp.zeros(2), dnp.eye(2), (3,)),
    "orthogonal": lambda k: random.orthogonal(k, 3),
    "ball": lambda k: random.ball(k, 3),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("typed", [True, False], ids=["key", "PRNGKey"])
def test_jit_and_vmap_match_eager(name, typed):
    f = SAMPLERS[name]
    key = random.key(0) if typed else random.PRNGKey(0)
    keys = random.split(key, 3)
    eager = np.asarray(f(key))
    assert_jit_equal(dx.jit(f)(key), eager, err_msg=f"jit({name})")
    loop = np.stack([np.asarray(f(keys[i])) for i in range(3)])
    assert np.array_equal(np.asarray(dx.vmap(f)(keys)), loop)
    assert_jit_equal(dx.jit(dx.vmap(f))(keys), loop, err_msg=f"jit(vmap({name}))")


def test_vmap_with_empty_batch_and_unbatched_key():
    f = lambda k: random.normal(k, (2,))
    assert dx.vmap(f)(random.split(random.key(0), 0)).shape == (0, 2)
    # the key is shared, the parameter is batched: each lane uses the same key
    g = lambda lo: random.uniform(random.key(1), (2,), minval=lo, maxval=lo + 1)
    out = np.asarray(dx.vmap(g)(dnp.array([0.0, 10.0])))
    np.testing.assert_allclose(out[1] - out[0], 10.0, rtol=1e-5)
    gam = dx.vmap(lambda a: random.gamma(random.key(2), a, (3,)))(dnp.array([1.0, 2.0]))
    assert np.array_equal(gam[1], random.gamma(random.key(2), 2.0, (3,)))


def test_jit_does_not_retrace():
    f = dx.jit(lambda k: random.normal(k, (4,)))
    f(random.key(0))
    f(random.key(1))
    assert f.trace_count == 1


def test_keys_flow_through_jit_vmap_and_scan_like_loops():
    @dx.jit
    def step(key):
        key, sub = random.split(key)
        return key, random.uniform(sub, (2,))

    key = random.key(0)
    outs = []
    for _ in range(3):
        key, x = step(key)
        outs.append(np.asarray(x))
    expect, k = [], random.key(0)
    for _ in range(3):
        k, sub = random.split(k)
        expect.append(np.asarray(random.uniform(sub, (2,))))
    assert np.array_equal(np.stack(outs), np.stack(expect))
    assert isinstance(key, random.KeyArray)


def test_grad_through_scaled_samples():
    key = random.key(0)
    g = dx.grad(lambda s: dnp.sum(random.normal(key, (5,)) * s))(dnp.float32(2.0))
    np.testing.assert_allclose(g, np.asarray(random.normal(key, (5,))).sum(), rtol=1e-6)
    lo_hi = dx.grad(
        lambda lo, hi: dnp.sum(random.uniform(key, (7,), minval=lo, maxval=hi)), argnums=(0, 1)
    )(0.5, 2.0)
    u = np.asarray(random.uniform(key, (7,)), np.float64)
    np.testing.assert_allclose(lo_hi, [7 - u.sum(), u.sum()], rtol=1e-5)


def test_dropout_key_inside_grad():
    def loss(w, key):
        h = dnp.ones(8) * w
        keep = random.bernoulli(key, 0.5, h.shape)
        return dnp.sum(dnp.where(keep, h / 0.5, 0.0))

    key = random.key(3)
    kept = int(np.asarray(random.bernoulli(key, 0.5, (8,))).sum())
    assert float(dx.grad(loss)(dnp.float32(1.0), key)) == 2.0 * kept
    assert float(dx.jit(dx.grad(loss))(dnp.float32(1.0), key)) == 2.0 * kept
    per_key = dx.vmap(dx.grad(loss), in_axes=(None, 0))(dnp.float32(1.0), random.split(key, 3))
    assert per_key.shape == (3,)


def test_grad_of_truncated_normal_bounds_matches_finite_differences():
    key = random.key(4)
    f = lambda lower: dnp.sum(random.truncated_normal(key, lower, 2.0, (6,)))
    g = float(dx.grad(f)(dnp.float32(-1.0)))
    with dx.enable_x64():
        fd = (float(f(dnp.float32(-0.99))) - float(f(dnp.float32(-1.01)))) / 0.02
    np.testing.assert_allclose(g, fd, rtol=0.05)


def test_grad_of_multivariate_normal_parameters():
    key = random.key(5)
    f = lambda m, c: dnp.sum(random.multivariate_normal(key, m, c, (4,)))
    gm, gc = dx.grad(f, argnums=(0, 1))(dnp.zeros(2), dnp.array([[2.0, 0.5], [0.5, 1.0]]))
    np.testing.assert_allclose(gm, [4.0, 4.0])
    eps = 1e-2
    cov = np.array([[2.0, 0.5], [0.5, 1.0]], np.float32)
    bump = np.zeros((2, 2), np.float32)
    bump[1, 1] = eps
    fd = (
        float(f(dnp.zeros(2), dnp.asarray(cov + bump)))
        - float(f(dnp.zeros(2), dnp.asarray(cov - bump)))
    ) / (2 * eps)
    np.testing.assert_allclose(float(gc[1, 1]), fd, rtol=0.02)


def test_gamma_reparameterization_gradient():
    # d sample / d a at a fixed uniform: the implicit derivative of the inverse CDF.
    key = random.key(6)
    a = dnp.array([0.2, 0.7, 1.0, 3.0, 20.0])
    x = np.asarray(random.gamma(key, a), np.float64)
    # each sample depends on its own a[i] only, so the gradient of the sum is dx[i]/da[i]
    g = np.asarray(dx.grad(lambda a: dnp.sum(random.gamma(key, a)))(a))
    av = np.asarray(a, np.float64)
    u = special.gammainc(av, x)
    h = 1e-6 * av
    expect = (special.gammaincinv(av + h, u) - special.gammaincinv(av - h, u)) / (2 * h)
    np.testing.assert_allclose(g, expect, rtol=1e-4)
    # loggamma: d log(x) = dx / x; beta and dirichlet differentiate through it
    lg = dx.grad(lambda a: dnp.sum(random.loggamma(key, a)))(a)
    np.testing.assert_allclose(lg, expect / x, rtol=1e-4)
    gb = dx.grad(lambda a: dnp.sum(random.beta(key, a, 2.0, (50,))))(dnp.float32(2.0))
    assert np.isfinite(float(gb))
    assert dx.jit(dx.grad(lambda a: dnp.sum(random.gamma(key, a, (3,)))))(2.0).shape == ()
    with pytest.raises(dx.NotDifferentiableError, match="second derivatives"):
        dx.grad(dx.grad(lambda a: dnp.sum(random.gamma(key, a, (3,)))))(2.0)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: random.normal(np.zeros(2, np.int32)), TypeError, "PRNG key"),
        (lambda: random.normal(123), TypeError, "PRNG key"),
        (lambda: random.normal(random.split(random.key(0), 2)), ValueError, "single key"),
        (lambda: random.uniform(random.key(0), (2,), dnp.int32), ValueError, "float"),
        (lambda: random.uniform(random.key(0), (-1,)), ValueError, "negative"),
        (lambda: random.uniform(random.key(0), "ab"), TypeError, "tuple of ints"),
        (lambda: random.uniform(random.key(0), (3,), minval=dnp.zeros(4)), ValueError, "broadcast"),
        (lambda: random.normal(random.key(0), (2,), dnp.float64), dx.DtypeError, "x64"),
        (lambda: random.fold_in(random.key(0), -1), OverflowError, "uint32"),
        (lambda: random.fold_in(random.key(0), dnp.arange(2)), TypeError, "scalar"),
        (lambda: random.fold_in(random.key(0), 1.5), TypeError, "integer"),
        (lambda: random.bits(random.key(0), (2,), dnp.int32), ValueError, "unsigned"),
        (lambda: random.split(random.key(0), -2), ValueError, "negative"),
        (lambda: random.bernoulli(random.key(0), 1, (2,)), TypeError, "floating"),
        (lambda: random.bernoulli(random.key(0), 0.5, (2,), mode="mid"), ValueError, "mode"),
        (lambda: random.randint(random.key(0), (2,), 0, 3, dnp.float32), TypeError, "integer"),
        (lambda: random.permutation(random.key(0), 2.5), TypeError, "integer"),
        (lambda: random.permutation(random.key(0), dnp.ones(3), axis=2), ValueError, "axis"),
        (
            lambda: random.choice(random.key(0), 3, (5,), replace=False),
            ValueError,
            "without replacement",
        ),
        (lambda: random.choice(random.key(0), 3, (2,), p=dnp.ones(4)), ValueError, "p must"),
        (lambda: random.choice(random.key(0), 3, 2), TypeError, "tuple"),
        (
            lambda: random.categorical(random.key(0), dnp.zeros((2, 3)), shape=(4,)),
            ValueError,
            "batch shape",
        ),
        (lambda: random.gumbel(random.key(0), mode="highest"), ValueError, "mode"),
        (lambda: random.dirichlet(random.key(0), 1.0), ValueError, "rank"),
        (
            lambda: random.multivariate_normal(random.key(0), dnp.zeros(2), dnp.eye(3)),
            ValueError,
            "cov.shape",
        ),
        (
            lambda: random.multivariate_normal(
                random.key(0), dnp.zeros(2), dnp.eye(2), method="qr"
            ),
            ValueError,
            "method",
        ),
        (lambda: random.poisson(random.key(0), 1.0, (2,), dnp.float32), TypeError, "integer"),
        (lambda: random.gamma(random.key(0), dnp.ones(3), (2,)), ValueError, "broadcast"),
        (lambda: random.ball(random.key(0), 3, p=0), ValueError, "positive"),
    ],
)
def test_errors_name_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_static_sizes_must_be_concrete():
    with pytest.raises(dx.ConcretizationTypeError):
        dx.jit(lambda k, n: random.permutation(k, n))(random.key(0), 5)
    out = dx.jit(lambda k: random.permutation(k, 5))(random.key(0))
    assert out.shape == (5,)


# --------------------------------------------------------------------------- lax bit ops


def test_shifts_follow_xla_semantics():
    x = dnp.array([1, 0x80000001, 0xFFFFFFFF], dnp.uint32)
    assert np.asarray(lax.shift_left(x, 4)).tolist() == [16, 16, 0xFFFFFFF0]
    assert np.asarray(lax.shift_right_logical(x, 4)).tolist() == [0, 0x08000000, 0x0FFFFFFF]
    assert np.asarray(lax.shift_left(x, 32)).tolist() == [0, 0, 0]
    assert np.asarray(lax.shift_right_logical(x, 40)).tolist() == [0, 0, 0]
    s = dnp.array([-8, 8, -1], dnp.int32)
    assert np.asarray(lax.shift_right_arithmetic(s, 2)).tolist() == [-2, 2, -1]
    assert np.asarray(lax.shift_right_arithmetic(s, 99)).tolist() == [-1, 0, -1]
    assert np.asarray(lax.shift_right_logical(s, 28)).tolist() == [15, 0, 15]
    amounts = dnp.array([0, 31, 32], dnp.uint32)
    assert np.asarray(lax.shift_left(dnp.ones(3, dnp.uint32), amounts)).tolist() == [1, 2**31, 0]
    with pytest.raises(TypeError, match="integer"):
        lax.shift_left(dnp.ones(2), 1)


def test_clz():
    x = dnp.array([0, 1, 2, 0xFFFF, 2**31], dnp.uint32)
    assert np.asarray(lax.clz(x)).tolist() == [32, 31, 30, 16, 0]
    assert np.asarray(lax.clz(dnp.array([-1, 1], dnp.int8))).tolist() == [0, 7]


def test_bitcast_convert_type():
    f = dnp.array([1.0, -0.0, np.inf])
    u = lax.bitcast_convert_type(f, dnp.uint32)
    assert np.asarray(u).tolist() == [0x3F800000, 0x80000000, 0x7F800000]
    assert np.array_equal(lax.bitcast_convert_type(u, dnp.float32), f)
    parts = lax.bitcast_convert_type(dnp.array([0x04030201], dnp.uint32), dnp.uint8)
    assert parts.shape == (1, 4) and np.asarray(parts).tolist() == [[1, 2, 3, 4]]
    assert np.asarray(lax.bitcast_convert_type(parts, dnp.uint32)).tolist() == [0x04030201]
    assert lax.bitcast_convert_type(dnp.float32(2.0), dnp.int32).shape == ()
    with pytest.raises(TypeError, match="last dimension"):
        lax.bitcast_convert_type(dnp.zeros(3, dnp.uint8), dnp.uint32)
    batched = dx.vmap(lambda v: lax.bitcast_convert_type(v, dnp.uint16))(u)
    assert batched.shape == (3, 2)


def test_erf_inv_values_and_derivative():
    x = np.linspace(-0.999, 0.999, 2001).astype(np.float32)
    got = np.asarray(lax.erf_inv(dnp.asarray(x)))
    np.testing.assert_allclose(got, special.erfinv(x.astype(np.float64)), rtol=3e-6, atol=1e-7)
    edges = np.asarray(lax.erf_inv(dnp.array([1.0, -1.0, 0.0, 1.5])))
    assert edges[0] == np.inf and edges[1] == -np.inf and edges[2] == 0 and np.isnan(edges[3])
    with dx.enable_x64():
        x64 = np.linspace(-0.999999, 0.999999, 4001)
        got64 = np.asarray(lax.erf_inv(dnp.asarray(x64)))
        np.testing.assert_allclose(got64, special.erfinv(x64), rtol=1e-12, atol=1e-16)
    half = np.asarray(lax.erf_inv(dnp.asarray(x[::10], dnp.float16))).astype(np.float64)
    np.testing.assert_allclose(
        half, special.erfinv(x[::10].astype(np.float16).astype(np.float64)), rtol=2e-3, atol=1e-3
    )
    pts = dnp.array([-0.7, 0.0, 0.3, 0.9])
    d = np.asarray(dx.vmap(dx.grad(lax.erf_inv))(pts))
    expect = np.sqrt(np.pi) / 2 * np.exp(special.erfinv(np.asarray(pts, np.float64)) ** 2)
    np.testing.assert_allclose(d, expect, rtol=1e-5)
    with pytest.raises(TypeError, match="floating"):
        lax.erf_inv(dnp.array([1, 2]))


def test_nextafter():
    one = dnp.float32(1.0)
    assert float(lax.nextafter(one, dnp.float32(2.0))) == 1.0 + 2.0**-23
    assert float(lax.nextafter(one, dnp.float32(0.0))) == 1.0 - 2.0**-24
    out = lax.nextafter(dnp.array([1.0, 2.0]), dnp.float32(np.inf))
    assert out.shape == (2,)
    with pytest.raises(dx.NotDifferentiableError, match="stop_gradient"):
        dx.grad(lambda x: lax.nextafter(x, dnp.float32(2.0)))(one)


def test_numpy_kernels_agree_with_the_primitives():
    from derivax.random import _np_kernels as NK

    keys = np.stack([np.asarray(random.PRNGKey(s)) for s in (3, 9)])
    for i, s in enumerate((3, 9)):
        k = random.PRNGKey(s)
        assert np.array_equal(NK.split(keys, 3)[i], random.split(k, 3))
        assert np.array_equal(NK.bits(keys, (4, 5))[i], random.bits(k, (4, 5)))
        assert np.array_equal(NK.uniform(keys, (7,), np.float32)[i], random.uniform(k, (7,)))
        assert np.array_equal(NK.normal(keys, (7,), np.float32)[i], random.normal(k, (7,)))


@pytest.mark.parametrize(
    "module",
    [
        "derivax.random._keys",
        "derivax.random._continuous",
        "derivax.random._discrete",
        "derivax.random._gamma",
        "derivax.random._poisson",
        "derivax.random._multivariate",
        "derivax.lax._bits",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- JAX oracle


@pytest.fixture
def jr():
    pytest.importorskip("jax", reason="oracle tests compare with JAX, which is not installed")
    import jax
    import jax.random

    assert jax.config.jax_threefry_partitionable, "derivax follows JAX's default scheme"
    return jax.random


@pytest.fixture
def jax_x64(jr):
    import jax

    jax.config.update("jax_enable_x64", True)
    try:
        with dx.enable_x64():
            yield jr
    finally:
        jax.config.update("jax_enable_x64", False)


def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


def close_ulps(a, b, ulps=4):
    """Equal to within ``ulps`` units in the last place of float32 at the magnitude of 1 or
    of the values, whichever is larger (log(x) - log1p(-x) cancels near 0)."""
    a = np.asarray(a).astype(np.float64)
    b = np.asarray(b).astype(np.float64)
    assert a.shape == b.shape
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0).astype(np.float32)
    assert (np.abs(a - b) <= ulps * np.spacing(scale).astype(np.float64)).all(), np.abs(a - b).max()


# JAX compiles every new combination of shape and dtype, which is slow on a busy machine:
# the oracle tests reuse a few shapes and loop over seeds, which reuses the compilations.
SEEDS = [0, 1, 42, -7, 2**31 + 3, 123456789]
SHAPES = [(), (7,), (3, 5), (1001,)]


@pytest.mark.oracle
def test_oracle_keys_split_fold_in_bits(jr):
    for seed in SEEDS:
        jk, dk = jr.PRNGKey(seed), random.PRNGKey(seed)
        bitwise_equal(jk, dk)
        bitwise_equal(jr.key_data(jr.key(seed)), random.key_data(random.key(seed)))
        bitwise_equal(jr.split(jk), random.split(dk))
        bitwise_equal(jr.split(jk, (2, 3)), random.split(dk, (2, 3)))
        for d in (0, 1, 77, 2**31, 2**32 - 1):
            bitwise_equal(jr.fold_in(jk, d), random.fold_in(dk, d))
        for shape in SHAPES:
            bitwise_equal(jr.bits(jk, shape), random.bits(dk, shape))
        for dtype in ("uint8", "uint16"):
            bitwise_equal(jr.bits(jk, (9,), dtype), random.bits(dk, (9,), dtype))


@pytest.mark.oracle
@pytest.mark.slow
def test_oracle_uniform_and_normal(jr):
    for seed in SEEDS:
        jk, dk = jr.PRNGKey(seed), random.PRNGKey(seed)
        for shape in SHAPES:
            bitwise_equal(jr.uniform(jk, shape), random.uniform(dk, shape))
            bitwise_equal(jr.normal(jk, shape), random.normal(dk, shape))
        for dtype in ("float16", "bfloat16"):
            bitwise_equal(jr.uniform(jk, (1001,), dtype), random.uniform(dk, (1001,), dtype))
            bitwise_equal(jr.normal(jk, (1001,), dtype), random.normal(dk, (1001,), dtype))
        bitwise_equal(jr.normal(jk, (101,), "complex64"), random.normal(dk, (101,), "complex64"))
        for lo, hi in [(-3.0, 7.3), (0.1, 0.2), (2.0, 5.0)]:
            for dtype in ("float32", "float16", "bfloat16"):
                bitwise_equal(
                    jr.uniform(jk, (1001,), dtype, lo, hi),
                    random.uniform(dk, (1001,), dtype, lo, hi),
                )


@pytest.mark.oracle
def test_oracle_uniform_with_array_bounds(jr):
    lo = np.array([-1.0, 0.5, 10.0], np.float32)
    jk, dk = jr.key(5), random.key(5)
    bitwise_equal(
        jr.uniform(jk, (4, 3), minval=lo, maxval=lo * 3 + 2),
        random.uniform(dk, (4, 3), minval=dnp.asarray(lo), maxval=dnp.asarray(lo * 3 + 2)),
    )


@pytest.mark.oracle
def test_oracle_normal_large(jr):
    bitwise_equal(
        jr.normal(jr.PRNGKey(5), (200_000,)), random.normal(random.PRNGKey(5), (200_000,))
    )


@pytest.mark.oracle
def test_oracle_erf_inv_on_every_normal_input(jr):
    # normal() feeds erf_inv the 2**23 values max(lo, 2 * f + lo), f = k / 2**23; a strided
    # subset is checked here (the full set agrees as well).
    import jax

    mantissas = np.arange(0, 2**23, 5, dtype=np.uint32)
    f = (mantissas | U32(0x3F800000)).view(np.float32) - np.float32(1)
    lo = np.nextafter(np.float32(-1), np.float32(0))
    u = np.maximum(lo, f * np.float32(2) + lo)
    bitwise_equal(jax.jit(jax.lax.erf_inv)(u), lax.erf_inv(dnp.asarray(u)))


@pytest.mark.oracle
@pytest.mark.slow
def test_oracle_x64(jax_x64):
    jr = jax_x64
    for seed in (0, -1, 2**40 + 3, -(2**62)):
        jk, dk = jr.PRNGKey(seed), random.PRNGKey(seed)
        bitwise_equal(jk, dk)
        bitwise_equal(jr.split(jk, 3), random.split(dk, 3))
        bitwise_equal(jr.bits(jk, (5,)), random.bits(dk, (5,)))
        bitwise_equal(jr.uniform(jk, (500,), "float64"), random.uniform(dk, (500,), "float64"))
        bitwise_equal(
            jr.uniform(jk, (500,), "float64", -3, 7.3),
            random.uniform(dk, (500,), "float64", -3, 7.3),
        )
        bitwise_equal(jr.normal(jk, (5000,), "float64"), random.normal(dk, (5000,), "float64"))
        bitwise_equal(jr.normal(jk, (500,), "float32"), random.normal(dk, (500,), "float32"))
        bitwise_equal(jr.randint(jk, (50,), 0, 2**40), random.randint(dk, (50,), 0, 2**40))


RANDINT_CASES = [
    (0, 10, None),
    (-5, 10**6, None),
    (5, 2, None),
    (-(2**31), 2**31 - 1, None),
    (0, 256, "uint8"),
    (-3, 3, "int8"),
    (0, 7, "uint32"),
    (3, 70000, "int16"),
]


@pytest.mark.oracle
@pytest.mark.slow
def test_oracle_discrete_samplers_are_exact(jr):
    x = np.arange(24).reshape(4, 6)
    p = np.array([0.1, 0.2, 0.3, 0.05, 0.35], np.float32)
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], np.float32))
    for seed in (0, 1, 42):
        jk, dk = jr.PRNGKey(seed), random.PRNGKey(seed)
        for shape in [(), (301,)]:
            bitwise_equal(jr.bernoulli(jk, 0.3, shape), random.bernoulli(dk, 0.3, shape))
            bitwise_equal(jr.rademacher(jk, shape), random.rademacher(dk, shape))
        bitwise_equal(
            jr.bernoulli(jk, 0.3, (301,), "high"), random.bernoulli(dk, 0.3, (301,), "high")
        )
        for lo, hi, dt in RANDINT_CASES:
            bitwise_equal(
                jr.randint(jk, (301,), lo, hi, dt), random.randint(dk, (301,), lo, hi, dt)
            )
        for n in [5, 2000]:  # 2000 needs two sorting rounds
            bitwise_equal(jr.permutation(jk, n), random.permutation(dk, n))
        for independent in (False, True):
            bitwise_equal(
                jr.permutation(jk, x, 1, independent), random.permutation(dk, x, 1, independent)
            )
        bitwise_equal(jr.choice(jk, 10, (4,)), random.choice(dk, 10, (4,)))
        bitwise_equal(
            jr.choice(jk, 10, (4,), replace=False), random.choice(dk, 10, (4,), replace=False)
        )
        bitwise_equal(jr.choice(jk, x, (2, 3), axis=1), random.choice(dk, x, (2, 3), axis=1))
        bitwise_equal(jr.choice(jk, 5, (1000,), p=p), random.choice(dk, 5, (1000,), p=p))
        # The Gumbel-based samplers go through log: their indices agree unless two
        # candidates tie to within a rounding error, which these seeds do not hit.
        bitwise_equal(jr.choice(jk, 5, (3,), False, p), random.choice(dk, 5, (3,), False, p))
        bitwise_equal(
            jr.categorical(jk, logits, shape=(50, 2)), random.categorical(dk, logits, shape=(50, 2))
        )
        bitwise_equal(
            jr.categorical(jk, logits, shape=(2, 2), replace=False),
            random.categorical(dk, logits, shape=(2, 2), replace=False),
        )


@pytest.mark.oracle
@pytest.mark.slow
def test_oracle_samplers_through_transcendentals(jr):
    # log, log1p and erf are NumPy's in derivax and XLA's approximations in JAX.
    for seed in (0, 1, 42):
        jk, dk = jr.PRNGKey(seed), random.PRNGKey(seed)
        close_ulps(jr.exponential(jk, (1000,)), random.exponential(dk, (1000,)))
        close_ulps(jr.laplace(jk, (1000,)), random.laplace(dk, (1000,)))
        close_ulps(jr.logistic(jk, (1000,)), random.logistic(dk, (1000,)))
        close_ulps(jr.gumbel(jk, (1000,)), random.gumbel(dk, (1000,)))
        close_ulps(jr.gumbel(jk, (1000,), mode="high"), random.gumbel(dk, (1000,), mode="high"))
        close_ulps(
            jr.truncated_normal(jk, -1.5, 2.0, (1000,)),
            random.truncated_normal(dk, -1.5, 2.0, (1000,)),
            16,
        )


@pytest.mark.oracle
@pytest.mark.slow
def test_oracle_loop_samplers(jr):
    # Same algorithm and key sequence as JAX, so the same proposals are accepted. The values
    # can differ by rounding where XLA uses its own approximations (a hardware rsqrt, lgamma).
    a = np.repeat(np.array([0.1, 0.3, 1.0, 2.5, 10.0, 100.0], np.float32), 100)
    lam = np.repeat(np.array([0.0, 0.5, 3.0, 9.9, 10.0, 25.0], np.float32), 200)
    for seed in (0, 1, 42):
        jk, dk = jr.PRNGKey(seed), random.PRNGKey(seed)
        np.testing.assert_allclose(random.gamma(dk, a), jr.gamma(jk, a), rtol=2e-6)
        np.testing.assert_allclose(random.loggamma(dk, a), jr.loggamma(jk, a), rtol=2e-6, atol=1e-6)
        bitwise_equal(jr.poisson(jk, lam), random.poisson(dk, lam))


@pytest.mark.oracle
@pytest.mark.slow
def test_oracle_multivariate(jr):
    mean = np.array([1.0, -2.0, 0.5], np.float32)
    for seed in (0, 3):
        jk, dk = jr.PRNGKey(seed), random.PRNGKey(seed)
        a = np.random.default_rng(seed).normal(size=(3, 3)).astype(np.float32)
        cov = a @ a.T + np.eye(3, dtype=np.float32)
        np.testing.assert_allclose(
            random.multivariate_normal(dk, mean, cov, (500,)),
            jr.multivariate_normal(jk, mean, cov, (500,)),
            atol=2e-5,
        )
        for n, m in [(5, 2), (16, 16)]:
            np.testing.assert_allclose(
                random.orthogonal(dk, n, (2,), m=m), jr.orthogonal(jk, n, (2,), m=m), atol=2e-6
            )
        for p in [1.0, 2.0, 0.5]:
            np.testing.assert_allclose(
                random.ball(dk, 4, p, (300,)), jr.ball(jk, 4, p, (300,)), rtol=2e-6, atol=1e-7
            )


@pytest.mark.oracle
@pytest.mark.slow
def test_oracle_gamma_gradients(jr):
    import jax
    import jax.numpy as jnp

    a = np.array([0.2, 0.7, 1.0, 3.0, 20.0], np.float32)
    w = np.arange(1.0, 6.0, dtype=np.float32)
    for seed in (0, 1):
        jk, dk = jr.PRNGKey(seed), random.PRNGKey(seed)
        jg = jax.grad(lambda a, k: jnp.sum(jr.gamma(k, a) * w))(a, jk)
        dg = dx.grad(lambda a, k: dnp.sum(random.gamma(k, a) * w))(dnp.asarray(a), dk)
        np.testing.assert_allclose(dg, jg, rtol=2e-5)
        jb = jax.grad(lambda a, b, k: jnp.sum(jr.beta(k, a, b, (4,))), (0, 1))(2.0, 3.0, jk)
        db = dx.grad(lambda a, b, k: dnp.sum(random.beta(k, a, b, (4,))), (0, 1))(2.0, 3.0, dk)
        np.testing.assert_allclose(db, jb, rtol=2e-5, atol=1e-7)
