"""numpy's protocols on NDArray (__array_ufunc__, __array_function__), DLPack exchange, and what
nd.array accepts."""
from __future__ import annotations

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.errors import DTypeError

X = np.array([[0.3, 0.5, 0.9], [0.2, 0.4, 0.7]])
UNARY = ["exp", "log", "sqrt", "tanh", "sin", "arctan", "negative", "square", "reciprocal",
         "log1p", "expm1", "cbrt", ("absolute", "abs")]


def attached(values=X, dtype="float64"):
    x = nd.array(values, dtype=dtype)
    x.attach_grad()
    return x


def gradient(fn, values=X):
    x = attached(values)
    with autograd.record():
        y = fn(x)
    y.backward()
    return y.asnumpy(), x.grad.asnumpy()


@pytest.mark.parametrize("name", UNARY, ids=[n if isinstance(n, str) else n[0] for n in UNARY])
def test_ufuncs_are_recorded_like_nd_functions(name):
    np_name, nd_name = (name, name) if isinstance(name, str) else name
    value, grad = gradient(getattr(np, np_name))
    want_value, want_grad = gradient(getattr(nd, nd_name))
    np.testing.assert_array_equal(value, want_value)
    np.testing.assert_array_equal(grad, want_grad)
    np.testing.assert_allclose(value, getattr(np, np_name)(X), rtol=1e-14)


def test_binary_ufuncs_with_arrays_and_scalars():
    x, y = nd.array(X), nd.array(X[::-1])
    for got, want in [(np.add(x, y), X + X[::-1]), (np.multiply(2.0, x), 2 * X),
                      (np.float32(3) * x, 3 * X), (np.power(x, 2), X ** 2),
                      (np.maximum(x, 0.5), np.maximum(X, 0.5)), (np.greater(x, y), X > X[::-1])]:
        assert isinstance(got, jg.NDArray) and got.dtype == np.float32
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6)


def test_functions_with_axes():
    x = nd.array(X, dtype="float64")
    assert np.sum(x).shape == (1,)  # jitgrad's rule for reductions over everything
    np.testing.assert_array_equal(np.sum(x, axis=0).asnumpy(), X.sum(axis=0))
    np.testing.assert_array_equal(np.mean(x, axis=1, keepdims=True).asnumpy(),
                                  X.mean(axis=1, keepdims=True))
    np.testing.assert_array_equal(np.max(x, axis=1).asnumpy(), X.max(axis=1))
    np.testing.assert_array_equal(np.transpose(x).asnumpy(), X.T)
    np.testing.assert_array_equal(np.reshape(x, (3, 2)).asnumpy(), X.reshape(3, 2))
    np.testing.assert_array_equal(np.concatenate([x, x], axis=1).asnumpy(), np.concatenate([X, X], 1))
    np.testing.assert_array_equal(np.stack([x, x]).asnumpy(), np.stack([X, X]))
    np.testing.assert_array_equal(np.clip(x, 0.4, 0.8).asnumpy(), np.clip(X, 0.4, 0.8))
    np.testing.assert_array_equal(np.where(x > 0.5, x, 0.0).asnumpy(), np.where(X > 0.5, X, 0))
    np.testing.assert_allclose(np.dot(x, np.transpose(x)).asnumpy(), X @ X.T, rtol=1e-14)
    np.testing.assert_allclose((x @ x.T).asnumpy(), np.matmul(x, x.T).asnumpy(), rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(x).asnumpy(), [np.linalg.norm(X)], rtol=1e-14)


def test_gradient_through_numpy_functions():
    _, grad = gradient(lambda x: np.sum(np.tanh(x) * np.mean(x, axis=0)))
    _, want = gradient(lambda x: nd.sum(nd.tanh(x) * nd.mean(x, axis=0)))
    np.testing.assert_allclose(grad, want, rtol=1e-14)


def test_out_argument():
    x, out = nd.array(X), nd.zeros(X.shape)
    assert np.exp(x, out=out) is out
    np.testing.assert_allclose(out.asnumpy(), np.exp(X), rtol=1e-6)


def test_unsupported_arguments_name_the_function():
    x = nd.array(X)
    with pytest.raises(TypeError, match=r"np.exp: .*\['dtype'\]"):
        np.exp(x, dtype=np.float64)
    with pytest.raises(TypeError, match=r"np.sum: .*\['dtype'\]"):
        np.sum(x, dtype=np.float64)
    with pytest.raises(TypeError, match="np.round: jitgrad rounds to integers only"):
        np.round(x, 2)


def test_other_functions_fall_back_to_numpy():
    x = nd.array(X)
    assert np.allclose(x, X.astype(np.float32))
    assert isinstance(np.isnan(x), np.ndarray) and not np.isnan(x).any()
    np.testing.assert_array_equal(np.argsort(x, axis=1), np.argsort(X, axis=1))
    np.testing.assert_array_equal(np.cumsum(x), np.cumsum(X.astype(np.float32)))
    assert np.shape(x) == (2, 3)
    y = np.positive(x)
    assert isinstance(y, jg.NDArray) and y._data is not x._data


def test_fallback_refuses_to_drop_a_gradient():
    x = attached()
    with autograd.record():
        with pytest.raises(TypeError, match="np.cumsum: jitgrad has no equivalent"):
            np.cumsum(x)
        with pytest.raises(TypeError, match="np.add.accumulate"):
            np.add.accumulate(x)
        assert np.argmax(x) == X.argmax()      # no gradient to lose
        np.cumsum(x.detach())                  # explicitly out of the graph


def test_existing_operator_behaviour_is_kept():
    x = nd.array([1.0, 2.0])
    with pytest.raises(DTypeError, match="add: unsupported operand of type ndarray"):
        np.ones(2) + x
    with pytest.raises(DTypeError, match="unsupported operand of type ndarray"):
        np.ones(2) == x
    with pytest.raises(DTypeError, match="different dtypes"):
        np.add(x, nd.array([1.0, 2.0], dtype="float64"))
    with pytest.raises(DTypeError, match=r"np.dot: a numpy array operand.*float64 \(2,\)"):
        np.dot(x, np.ones(2))
    assert (np.float64(2.5) * x).dtype == np.float32
    assert np.asarray(x) is x._data and np.array(x) is not x._data


def test_compiled_functions_trace_numpy_calls():
    calls = []

    @jg.compile
    def f(x):
        calls.append(1)
        return np.sum(np.exp(x) * x, axis=1)
    x = nd.array(X)
    want = (np.exp(X.astype(np.float32)) * X.astype(np.float32)).sum(axis=1)
    for _ in range(3):
        np.testing.assert_allclose(f(x).asnumpy(), want, rtol=1e-6)
    assert len(calls) == 1 and f.cache_info()["hits"] == 2


def test_reading_a_shape_through_numpy_adds_no_guard():
    @jg.compile
    def f(x):
        return x * np.shape(x)[0]
    f(nd.array([1.0, 2.0]))
    assert f(nd.array([3.0, 4.0])).asnumpy().tolist() == [6, 8]
    assert f.cache_info()["guard_failures"] == 0 and f.cache_info()["traces"] == 1


# ---- DLPack ---------------------------------------------------------------------------------------

def test_dlpack_with_numpy_shares_memory():
    x = nd.array([1.0, 2.0, 3.0])
    assert x.__dlpack_device__() == (1, 0)  # kDLCPU, device 0
    view = np.from_dlpack(x)
    view[0] = 10
    assert x.asnumpy().tolist() == [10, 2, 3]
    source = np.arange(4)
    y = nd.from_dlpack(source)
    assert y.dtype == np.int64
    source[1] = 7
    assert y.asnumpy().tolist() == [0, 7, 2, 3]


def test_dlpack_of_a_broadcast_view():
    x = nd.broadcast_to(nd.array([[1.0, 2.0]]), shape=(3, 2))
    np.testing.assert_array_equal(np.from_dlpack(x), [[1, 2]] * 3)


class OnlyDLPack:
    """A producer with the DLPack protocol and no __array__."""
    def __init__(self, data):
        self.data = data

    def __dlpack__(self, **kwargs):
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()


class HasArray:
    def __array__(self, dtype=None, copy=None):
        return np.array([4, 5], dtype=dtype)


@pytest.mark.parametrize("source,want", [
    ([1, 2], [1, 2]), ((1.5, 2.5), [1.5, 2.5]), (3, 3), (np.float64(2.5), 2.5),
    (np.array([[1], [2]], np.int64), [[1], [2]]), (HasArray(), [4, 5]),
    (OnlyDLPack(np.array([6.0, 7.0])), [6, 7]), (nd.array([8, 9]), [8, 9]),
], ids=["list", "tuple", "int", "numpy-scalar", "numpy-array", "__array__", "dlpack", "NDArray"])
def test_nd_array_accepts_what_numpy_accepts(source, want):
    x = nd.array(source)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.asnumpy(), want)


def test_nd_array_copies():
    source = np.zeros(2)
    x = nd.array(OnlyDLPack(source), dtype="float64")
    source[0] = 1
    assert x.asnumpy().tolist() == [0, 0]


def test_torch_exchange():
    torch = pytest.importorskip("torch")
    t = torch.arange(3, dtype=torch.float32)
    x = nd.from_dlpack(t)
    t[0] = 5
    assert x.asnumpy().tolist() == [5, 1, 2]
    back = torch.from_dlpack(nd.array([1.0, 2.0]))
    assert back.tolist() == [1, 2]


def test_jax_exchange():
    jax = pytest.importorskip("jax")
    x = nd.from_dlpack(jax.numpy.arange(3.0))
    assert x.asnumpy().tolist() == [0, 1, 2]
    assert jax.numpy.from_dlpack(nd.array([1.0, 2.0])).tolist() == [1, 2]
