"""Numerics: long float32 reductions against float64 numpy, the softmax family at +-1e4 (eager and
compiled, values and gradients), and the binary vectorized math over the whole float range.
The unary vectorized math is measured over its whole range in test_vmath.py."""
import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.codegen import vmath as vm
from test_vmath import KERNELS, REFERENCE, WIDER, ulp_error

N = 10_000_000


@pytest.fixture(scope="module")
def values():
    rng = np.random.default_rng(0)
    return rng.uniform(0.0, 1.0, N).astype(np.float32)


@pytest.mark.parametrize("shape", [(N,), (10, N // 10), (N // 10, 10)], ids=["flat", "wide", "tall"])
@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_float32_reductions_of_1e7_values_match_float64(values, shape, mode):
    """Regression [eager-tall]: the eager sum down the rows of a (1e6, 10) float32 array added in
    float32 (2.4e-5 relative error); it now accumulates in float64, as compiled reductions do."""
    v = values.reshape(shape)
    x = nd.array(v, dtype=np.float32)
    fn = (lambda a: [nd.sum(a), nd.sum(a * a), nd.sum(a, axis=0), nd.mean(a, axis=-1)])
    if mode == "compiled":
        fn = jg.compile(fn)
        fn(x)                       # the trace
    got = [o.asnumpy() for o in fn(x)]
    v64 = v.astype(np.float64)
    want = [v64.sum(), (v64 * v64).sum(), v64.sum(axis=0), v64.mean(axis=-1)]
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g.astype(np.float64).reshape(np.shape(w)), w, rtol=1e-6, atol=0,
                                   err_msg=f"reduction {i}")


# ---- the softmax family at +-1e4 ----------------------------------------------------------------

BIG = np.array([[1e4, -1e4, 0.0, 1.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4 - 1, -1e4, 3.0]])
LABELS = np.array([0, 2, 1])
WEIGHTS = np.array([[1.0, 0.5, -1.0, 2.0], [0.25, 1.0, 1.0, -0.5], [2.0, -1.0, 0.5, 1.0]])


def stable_log_softmax(x):
    s = x - x.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def expected(name):
    """(value, gradient) in float64 from the closed forms."""
    ls = stable_log_softmax(BIG)
    p = np.exp(ls)
    if name == "logsumexp":
        return (BIG.max(axis=1) + np.log(np.exp(BIG - BIG.max(axis=1, keepdims=True)).sum(axis=1))).sum(), p
    if name == "log_softmax":
        return (WEIGHTS * ls).sum(), WEIGHTS - p * WEIGHTS.sum(axis=1, keepdims=True)
    if name == "softmax":
        value = (WEIGHTS * p).sum()
        return value, p * (WEIGHTS - (WEIGHTS * p).sum(axis=1, keepdims=True))
    onehot = np.eye(4)[LABELS]
    return -(ls * onehot).sum(), p - onehot


def loss_of(name, dtype):
    w, labels = nd.array(WEIGHTS, dtype=dtype), nd.array(LABELS, dtype=dtype)
    return {
        "logsumexp": lambda x: nd.sum(nd.logsumexp(x, axis=1)),
        "log_softmax": lambda x: nd.sum(nd.log_softmax(x, axis=1) * w),
        "softmax": lambda x: nd.sum(nd.softmax(x, axis=1) * w),
        "cross_entropy": lambda x: nd.softmax_cross_entropy(x, labels),
    }[name]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("name", ["logsumexp", "log_softmax", "softmax", "cross_entropy"])
def test_softmax_family_is_stable_at_1e4(name, mode, dtype):
    loss = loss_of(name, dtype)
    x = nd.array(BIG, dtype=dtype)
    if mode == "eager":
        x.attach_grad()
        with autograd.record():
            value = loss(x)
        value.backward()
        grad = x.grad
    else:
        vg = jg.value_and_grad(loss)
        for _ in range(2):   # the trace, then the compiled program
            value, grad = vg(x)
    value, grad = value.asnumpy(), grad.asnumpy()
    want_value, want_grad = expected(name)
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(value, [want_value], rtol=rtol)
    np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=rtol)


# ---- binary vectorized math over the whole range ------------------------------------------------

def whole_range(dtype, n, seed):
    """n finite values with uniformly random bit patterns: every binade equally likely."""
    rng = np.random.default_rng(seed)
    bits = np.uint32 if dtype == np.float32 else np.uint64
    x = rng.integers(0, np.iinfo(bits).max, n, dtype=bits, endpoint=True).view(dtype)
    return x[np.isfinite(x)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_binary_math_over_the_whole_range(dtype):
    x = whole_range(dtype, 300_000, 1)
    y = whole_range(dtype, x.size, 2)[: x.size]
    x = x[: y.size]
    # the exponents pow sees in practice are moderate: also pair every base with small exponents
    xs = np.concatenate([x, np.abs(x)])
    ys = np.concatenate([y, (y % 64).astype(dtype)])
    out = np.empty((len(vm.BINARY), xs.size), dtype)
    KERNELS[dtype][1](xs, ys, out)
    for i, name in enumerate(vm.BINARY):
        bound = vm.accuracy(name, dtype)
        with np.errstate(all="ignore"):
            want = REFERENCE[name](xs.astype(WIDER[dtype]), ys.astype(WIDER[dtype])) if bound else \
                REFERENCE[name](xs, ys)
        err = ulp_error(out[i], want, dtype)
        worst = int(np.argmax(err))
        assert err[worst] <= bound, (f"{name} {np.dtype(dtype)}: {err[worst]:.3g} ULP at x={xs[worst]!r}, "
                                     f"y={ys[worst]!r}: got {out[i][worst]!r}")
