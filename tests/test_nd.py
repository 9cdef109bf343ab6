"""The nd namespace against numpy (float64 references) and MXNet 1.9.1's legacy conventions."""
from __future__ import annotations

import numpy as np
import pytest

import jitgrad as jg
from gradcheck import check_grads
from jitgrad import autograd, nd
from jitgrad.errors import DTypeError, IndexingError, ShapeError

A234 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def grad_of(fn, value, dtype=np.float32):
    """x.grad after backward of fn(x) (head gradient ones)."""
    x = nd.array(value, dtype=dtype)
    x.attach_grad()
    with autograd.record():
        y = fn(x)
    y.backward()
    return x.grad.asnumpy()


def f64(value):
    return nd.array(value, dtype=np.float64)


# ---- creation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", [[1, 2, 3], np.array([1.5, 2.0]), np.arange(3), 4.0, [[1], [2]]])
def test_array_defaults_to_float32(source):
    x = nd.array(source)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.asnumpy(), np.asarray(source, dtype=np.float32))


def test_array_dtype_and_ndarray_source():
    assert nd.array([1, 2], dtype="int32").dtype == np.int32
    assert nd.array(np.ones(2), dtype=np.float64).dtype == np.float64
    source = nd.array([1, 2], dtype="int32")
    copy = nd.array(source)
    assert copy.dtype == np.int32  # an NDArray source keeps its dtype
    copy[:] = 7
    assert source.asnumpy().tolist() == [1, 2]  # and is copied


@pytest.mark.parametrize("make", [nd.zeros, nd.ones, nd.empty])
def test_shape_may_be_an_int(make):
    assert make(3).shape == (3,) and make((2, 3)).shape == (2, 3)
    assert make(3).dtype == np.float32 and make(3, dtype="float64").dtype == np.float64


def test_creation_values():
    np.testing.assert_array_equal(nd.zeros((2, 2)).asnumpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(nd.ones(2).asnumpy(), [1, 1])
    full = nd.full((2,), 7)
    assert full.dtype == np.float32 and full.asnumpy().tolist() == [7, 7]
    assert nd.full(2, 7, dtype="int32").dtype == np.int32
    r = nd.arange(5)
    assert r.dtype == np.float32 and r.asnumpy().tolist() == [0, 1, 2, 3, 4]
    assert nd.arange(1, 7, 2, repeat=2).asnumpy().tolist() == [1, 1, 3, 3, 5, 5]
    assert nd.linspace(0, 1, 5).asnumpy().tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert nd.eye(2, 3, 1).asnumpy().tolist() == [[0, 1, 0], [0, 0, 1]]
    like = nd.ones_like(nd.zeros((2,), dtype="float64"))
    assert like.dtype == np.float64 and like.asnumpy().tolist() == [1, 1]
    assert nd.zeros_like(nd.ones((3, 1))).asnumpy().tolist() == [[0], [0], [0]]


# ---- reductions and dot: MXNet's (1,) results -------------------------------------------------------

@pytest.mark.parametrize("reduce,expected", [
    (nd.sum, A234.sum()), (nd.mean, A234.mean()), (nd.max, 23.0), (nd.min, 0.0),
    (nd.norm, np.sqrt((A234.astype(np.float64) ** 2).sum())), (nd.prod, 0.0)])
def test_full_reductions_have_shape_1(reduce, expected):
    out = reduce(nd.array(A234))
    assert out.shape == (1,) and out.dtype == np.float32
    np.testing.assert_allclose(out.asnumpy(), [expected], rtol=1e-6)


@pytest.mark.parametrize("axis,keepdims,exclude", [
    (1, False, False), ((0, 2), True, False), (-1, False, False), (1, False, True), ((0, 1), True, True)])
def test_sum_axis_keepdims_exclude(axis, keepdims, exclude):
    axes = (axis,) if isinstance(axis, int) else axis
    axes = tuple(a % 3 for a in axes)
    if exclude:
        axes = tuple(a for a in range(3) if a not in axes)
    expected = A234.astype(np.float64).sum(axis=axes, keepdims=keepdims)
    out = nd.sum(nd.array(A234), axis=axis, keepdims=keepdims, exclude=exclude)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.asnumpy(), expected)
    method = nd.array(A234).mean(axis=axis, keepdims=keepdims, exclude=exclude)
    np.testing.assert_allclose(method.asnumpy(), expected / (24 / expected.size), rtol=1e-6)


def test_argmax_argmin_are_float32_indices():
    x = nd.array([[1, 5, 2], [7, 0, 7]])
    assert nd.argmax(x, axis=1).dtype == np.float32
    assert nd.argmax(x, axis=1).asnumpy().tolist() == [1, 0]  # first of ties
    assert nd.argmin(x, axis=0).asnumpy().tolist() == [0, 1, 0]
    assert nd.argmax(x).shape == (1,) and nd.argmax(x).asnumpy().tolist() == [3]


def test_nansum_nanprod_and_norm_ord1():
    x = nd.array([1.0, np.nan, 3.0])
    assert nd.nansum(x).asnumpy().tolist() == [4.0]
    assert nd.nanprod(x).asnumpy().tolist() == [3.0]
    assert nd.norm(nd.array([[3, -4], [0, 1]]), ord=1).asnumpy().tolist() == [8.0]
    assert nd.norm(nd.array([[3, -4], [0, 0]]), axis=1).asnumpy().tolist() == [5.0, 0.0]


def test_dot_shapes_and_values():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    out = nd.dot(f64(a), f64(b))
    np.testing.assert_array_equal(out.asnumpy(), a @ b)
    v = nd.dot(nd.array([1, 2, 3]), nd.array([4, 5, 6]))
    assert v.shape == (1,) and v.asnumpy().tolist() == [32.0]
    np.testing.assert_array_equal(nd.dot(f64(a), f64(a), transpose_b=True).asnumpy(), a @ a.T)
    np.testing.assert_array_equal(nd.dot(f64(a), f64(a), transpose_a=True).asnumpy(), a.T @ a)
    t = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(nd.dot(f64(t), f64(b.T)).asnumpy(), np.tensordot(t, b.T, axes=1))
    x, y = np.arange(24.0).reshape(2, 3, 4), np.arange(40.0).reshape(2, 4, 5)
    np.testing.assert_array_equal(nd.batch_dot(f64(x), f64(y)).asnumpy(), x @ y)
    np.testing.assert_array_equal(nd.batch_dot(f64(x), f64(x), transpose_b=True).asnumpy(),
                                  x @ x.transpose(0, 2, 1))


def test_fully_connected():
    x, w, b = np.arange(12.0).reshape(2, 2, 3), np.arange(24.0).reshape(4, 6) / 10, np.arange(4.0)
    out = nd.FullyConnected(f64(x), f64(w), f64(b), num_hidden=4)
    np.testing.assert_allclose(out.asnumpy(), x.reshape(2, 6) @ w.T + b, rtol=1e-12)
    check_grads(lambda x_, w_, b_: nd.FullyConnected(x_, w_, b_, num_hidden=4), [x, w, b], order=2)


# ---- reshape codes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("codes,expected", [
    ((0, -1), (2, 12)), ((-3, 4), (6, 4)), ((0, 0, -4, 2, 2), (2, 3, 2, 2)), ((4, 0, 2), (4, 3, 2)),
    ((2, 0, 0), (2, 3, 4)), ((6, 1, -1), (6, 1, 4)), ((3, -1, 8), (3, 1, 8)), ((-1,), (24,)),
    ((-2,), (2, 3, 4)), ((2, -2), (2, 3, 4)), ((-2, 1, 1), (2, 3, 4, 1, 1)), ((0, -3), (2, 12)),
    ((-3, -2), (6, 4)), ((-4, 1, 2, -2), (1, 2, 3, 4)), ((2, -4, -1, 3, -2), (2, 1, 3, 4)),
    ((-4, -1, 2, 0, 0), (1, 2, 3, 4))])
def test_reshape_codes(codes, expected):
    x = nd.array(A234)
    out = x.reshape(codes)
    assert out.shape == expected
    np.testing.assert_array_equal(out.asnumpy().ravel(), A234.ravel())  # data order unchanged
    assert nd.reshape(x, shape=codes).shape == expected


def test_reshape_forms_and_reverse():
    x = nd.array(A234)
    assert x.reshape(4, 6).shape == x.reshape((4, 6)).shape == (4, 6)
    assert nd.ones((2, 3, 4, 5)).reshape((-3, -3)).shape == (6, 20)
    assert nd.reshape(nd.ones((10, 5, 4)), shape=(-1, 0)).shape == (40, 5)
    assert nd.reshape(nd.ones((10, 5, 4)), shape=(-1, 0), reverse=True).shape == (50, 4)


@pytest.mark.parametrize("codes", [
    (5, -1), (-1, -1), (0, 0, 0, 0), (-3, -3), (-4, 2, 2, 0, 0), (-5,), (7, 7), (-4, -1, -1, 0, 0),
    (-4, 2), (3, -1, -3)])
def test_bad_reshape_codes_raise(codes):
    with pytest.raises(ShapeError, match="reshape"):
        nd.array(A234).reshape(codes)


def test_reshape_gradient():
    check_grads(lambda x: x.reshape((-3, -1)) * x.reshape((6, 4)), [A234.astype(np.float64) / 10],
                order=2)


# ---- shape manipulation -----------------------------------------------------------------------------

def test_transpose_expand_squeeze_flatten():
    x = nd.array(A234)
    np.testing.assert_array_equal(nd.transpose(x).asnumpy(), A234.T)
    np.testing.assert_array_equal(x.T.asnumpy(), A234.T)
    np.testing.assert_array_equal(nd.transpose(x, axes=(1, 0, 2)).asnumpy(), A234.transpose(1, 0, 2))
    v = nd.array([1, 2])
    assert v.T is v
    assert nd.expand_dims(x, axis=-1).shape == (2, 3, 4, 1) and x.expand_dims(0).shape == (1, 2, 3, 4)
    assert nd.squeeze(nd.ones((1, 3, 1))).shape == (3,)
    assert nd.squeeze(nd.ones((1, 3, 1)), axis=2).shape == (1, 3)
    assert nd.squeeze(nd.ones((1, 1))).shape == (1,)  # never 0-d
    with pytest.raises(ShapeError):
        nd.squeeze(nd.ones((1, 3, 1)), axis=1)
    np.testing.assert_array_equal(nd.flatten(x).asnumpy(), A234.reshape(2, 12))
    assert nd.flatten(nd.ones(3)).shape == (3, 1)


def test_broadcasting_functions():
    row = np.array([[1.0, 2.0, 3.0]])
    out = nd.broadcast_to(nd.array(row), shape=(2, 0))  # 0 keeps the input dimension
    np.testing.assert_array_equal(out.asnumpy(), np.broadcast_to(row, (2, 3)))
    assert nd.broadcast_to(nd.ones((2, 1)), shape=(0, 3)).shape == (2, 3)
    assert nd.broadcast_like(nd.array(row), nd.ones((4, 3))).shape == (4, 3)
    assert nd.broadcast_axes(nd.ones((1, 3, 1)), axis=(0, 2), size=(2, 4)).shape == (2, 3, 4)
    with pytest.raises(ShapeError, match="broadcast_to"):
        nd.broadcast_to(nd.ones((2, 3)), shape=(4, 3))
    g = grad_of(lambda x: nd.broadcast_to(x, shape=(4, 3)) * nd.array(np.arange(12).reshape(4, 3)), row)
    np.testing.assert_array_equal(g, [[18, 22, 26]])  # summed back over the broadcast axis


def test_tile_repeat_flip_swapaxes():
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    for reps in [(2, 3), (2,), (2, 1, 2)]:
        np.testing.assert_array_equal(nd.tile(f64(m), reps=reps).asnumpy(), np.tile(m, reps))
    np.testing.assert_array_equal(nd.repeat(f64(m), repeats=2).asnumpy(), np.repeat(m, 2))
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(nd.repeat(f64(m), 3, axis=axis).asnumpy(), np.repeat(m, 3, axis))
        np.testing.assert_array_equal(nd.flip(f64(m), axis=axis).asnumpy(), np.flip(m, axis))
    np.testing.assert_array_equal(nd.swapaxes(nd.array(A234), 0, 2).asnumpy(), A234.swapaxes(0, 2))
    np.testing.assert_array_equal(nd.moveaxis(nd.array(A234), 0, -1).asnumpy(), np.moveaxis(A234, 0, -1))
    np.testing.assert_array_equal(grad_of(lambda x: nd.tile(x, (2, 3)), m), np.full((2, 2), 6.0))
    np.testing.assert_array_equal(grad_of(lambda x: nd.repeat(x, 2, axis=1) * nd.array(
        np.arange(8).reshape(2, 4)), m), [[1, 5], [9, 13]])


def test_slices():
    x = nd.array(A234)
    np.testing.assert_array_equal(nd.slice_axis(x, axis=1, begin=1, end=3).asnumpy(), A234[:, 1:3])
    np.testing.assert_array_equal(nd.slice_axis(x, axis=-1, begin=-2, end=None).asnumpy(), A234[..., -2:])
    np.testing.assert_array_equal(nd.slice(x, begin=(0, 1), end=(2, 3)).asnumpy(), A234[0:2, 1:3])
    np.testing.assert_array_equal(
        nd.slice(x, begin=(None, None, None), end=(None, None, None), step=(1, -1, 2)).asnumpy(),
        A234[:, ::-1, ::2])


def test_concat_stack_split():
    a, b = np.ones((2, 3)), np.zeros((2, 2))
    np.testing.assert_array_equal(nd.concat(f64(a), f64(b)).asnumpy(), np.concatenate([a, b], 1))
    np.testing.assert_array_equal(nd.concat(f64(a), f64(a[:1]), dim=0).asnumpy(),
                                  np.concatenate([a, a[:1]], 0))
    np.testing.assert_array_equal(nd.concatenate([f64(a), f64(a[:1])]).asnumpy(),
                                  np.concatenate([a, a[:1]], 0))
    with pytest.raises(ShapeError, match="concat"):
        nd.concat(f64(a), f64(a[:1]))  # default dim=1: rows differ
    np.testing.assert_array_equal(nd.stack(f64(a), f64(-a)).asnumpy(), np.stack([a, -a]))
    np.testing.assert_array_equal(nd.stack(f64(a), f64(-a), axis=-1).asnumpy(), np.stack([a, -a], -1))
    parts = nd.split(nd.array(A234), num_outputs=3)  # default axis=1
    assert isinstance(parts, list) and [p.shape for p in parts] == [(2, 1, 4)] * 3
    np.testing.assert_array_equal(parts[2].asnumpy(), A234[:, 2:3])
    squeezed = nd.split(nd.array(A234), num_outputs=3, axis=1, squeeze_axis=True)
    assert [p.shape for p in squeezed] == [(2, 4)] * 3
    halves = nd.split(nd.array(A234), 2, axis=2)
    np.testing.assert_array_equal(halves[1].asnumpy(), A234[..., 2:])
    with pytest.raises(ShapeError, match="split"):
        nd.split(nd.array(A234), num_outputs=2, axis=1)
    check_grads(lambda x, y: nd.concat(x, y * y, dim=0) * 2, [a, np.arange(3.0).reshape(1, 3)], order=2)
    check_grads(lambda x: nd.stack(*nd.split(x, 2, axis=0), axis=2), [np.arange(6.0).reshape(2, 3)])


def test_take_modes_and_gradient():
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    idx = nd.array([0, 2, 5, -1])
    np.testing.assert_array_equal(nd.take(f64(a), idx).asnumpy(), a[[0, 2, 2, 0]])  # clip is default
    np.testing.assert_array_equal(nd.take(f64(a), idx, mode="wrap").asnumpy(), a[[0, 2, 2, 2]])
    np.testing.assert_array_equal(nd.take(f64(a), nd.array([[1, 0], [0, 0]]), axis=1).asnumpy(),
                                  a[:, [[1, 0], [0, 0]]])
    g = grad_of(lambda x: nd.take(x, nd.array([0, 0, 2, 7])), a)  # 7 clips to 2
    np.testing.assert_array_equal(g, [[2, 2], [0, 0], [2, 2]])


def test_pick_and_one_hot():
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(nd.pick(f64(a), nd.array([0, 1, 1])).asnumpy(), [1, 4, 6])
    np.testing.assert_array_equal(nd.pick(f64(a), nd.array([2, 0]), axis=0).asnumpy(), [5, 2])
    assert nd.pick(f64(a), nd.array([0, 1, 1]), keepdims=True).shape == (3, 1)
    np.testing.assert_array_equal(nd.pick(f64(a), nd.array([5, -1, 1])).asnumpy(), [2, 3, 6])  # clip
    g = grad_of(lambda x: nd.pick(x, nd.array([0, 1, 1])), a)
    np.testing.assert_array_equal(g, [[1, 0], [0, 1], [0, 1]])
    hot = nd.one_hot(nd.array([1, 0, 2]), 3)
    assert hot.dtype == np.float32
    np.testing.assert_array_equal(hot.asnumpy(), np.eye(3)[[1, 0, 2]])
    np.testing.assert_array_equal(nd.one_hot(nd.array([1, 0]), 3, on_value=5, off_value=-1).asnumpy(),
                                  [[-1, 5, -1], [5, -1, -1]])
    assert nd.one_hot(nd.array([1]), 2, dtype="float64").dtype == np.float64


# ---- softmax family ---------------------------------------------------------------------------------

BIG = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1.0, 2.0, 3.0]])


def np_log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_log_softmax_stable(dtype, axis):
    x = nd.array(BIG, dtype=dtype)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(nd.log_softmax(x, axis=axis).asnumpy(), np_log_softmax(BIG, axis), rtol=rtol)
    np.testing.assert_allclose(nd.softmax(x, axis=axis).asnumpy(), np.exp(np_log_softmax(BIG, axis)),
                               rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(nd.softmin(x, axis=axis).asnumpy(), np.exp(np_log_softmax(-BIG, axis)),
                               rtol=rtol, atol=1e-30)


def test_softmax_temperature_and_gradients():
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    np.testing.assert_allclose(nd.softmax(f64(x), temperature=2.0).asnumpy(),
                               np.exp(np_log_softmax(x / 2)), rtol=1e-13)
    check_grads(lambda v: nd.softmax(v, axis=0), [x], order=2)
    check_grads(lambda v: nd.log_softmax(v, temperature=3.0), [x], order=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy(dtype):
    label = np.array([0, 2, 1])
    expected = -np_log_softmax(BIG)[np.arange(3), label].sum()
    out = nd.softmax_cross_entropy(nd.array(BIG, dtype=dtype), nd.array(label, dtype=dtype))
    assert out.shape == (1,) and out.dtype == dtype
    np.testing.assert_allclose(out.asnumpy(), [expected], rtol=1e-6)
    g = grad_of(lambda x: nd.softmax_cross_entropy(x, nd.array([0, 1])), np.zeros((2, 2)), np.float64)
    np.testing.assert_allclose(g, [[-0.5, 0.5], [0.5, -0.5]], rtol=1e-15)
    check_grads(lambda x: nd.softmax_cross_entropy(x, f64(label)), [BIG[2:].repeat(3, 0) * [[1], [2], [-1]]],
                order=2)


# ---- activations ------------------------------------------------------------------------------------

XS = np.array([-1e4, -3.0, -0.5, 0.0, 0.5, 3.0, 1e4])
ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0), "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "tanh": np.tanh,
    "softrelu": lambda x: np.logaddexp(0, x), "softsign": lambda x: x / (1 + np.abs(x))}


@pytest.mark.parametrize("act_type", sorted(ACTIVATIONS))
def test_activation_types(act_type):
    with np.errstate(over="ignore"):
        expected = ACTIVATIONS[act_type](XS)
    np.testing.assert_allclose(nd.Activation(f64(XS), act_type=act_type).asnumpy(), expected, rtol=1e-14)
    np.testing.assert_allclose(nd.Activation(nd.array(XS), act_type=act_type).asnumpy(), expected,
                               rtol=1e-6)
    away_from_kinks = np.array([-1.7, -0.4, 0.3, 1.1])
    check_grads(lambda x: nd.Activation(x, act_type=act_type), [away_from_kinks], order=2)
    with pytest.raises(ShapeError, match="Activation"):
        nd.Activation(f64(XS), act_type="swish")


def test_activation_gradients_at_zero_and_extremes():
    x = [-1e4, 0.0, 1e4]
    np.testing.assert_array_equal(grad_of(lambda v: nd.Activation(v, act_type="relu"), x), [0, 0, 1])
    np.testing.assert_array_equal(grad_of(lambda v: nd.Activation(v, act_type="softrelu"), x),
                                  [0, 0.5, 1])  # sigmoid(x), finite at +-1e4
    np.testing.assert_array_equal(grad_of(lambda v: nd.Activation(v, act_type="sigmoid"), x), [0, 0.25, 0])
    np.testing.assert_array_equal(grad_of(lambda v: nd.Activation(v, act_type="softsign"), [0.0, 1.0]),
                                  [1, 0.25])


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
LEAKY = {
    "leaky": lambda x: np.where(x > 0, x, 0.25 * x),
    "elu": lambda x: np.where(x > 0, x, 0.25 * np.expm1(np.minimum(x, 0))),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(__import__("math").erf)(x / np.sqrt(2)))}


@pytest.mark.parametrize("act_type", sorted(LEAKY))
def test_leaky_relu_types(act_type):
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(nd.LeakyReLU(f64(x), act_type=act_type).asnumpy(), LEAKY[act_type](x),
                               rtol=1e-14, atol=1e-300)
    check_grads(lambda v: nd.LeakyReLU(v, act_type=act_type), [np.array([-1.3, -0.2, 0.4, 2.0])], order=2)


def test_leaky_relu_slope_prelu_rrelu():
    x = np.array([[-1.0, 2.0], [-3.0, -4.0]])
    np.testing.assert_array_equal(nd.LeakyReLU(f64(x), slope=0.1).asnumpy(), np.where(x > 0, x, 0.1 * x))
    np.testing.assert_array_equal(grad_of(lambda v: nd.LeakyReLU(v), [-1.0, 0.0, 1.0]), [0.25, 0.25, 1])
    gamma = np.array([0.5, 0.25])
    np.testing.assert_array_equal(nd.LeakyReLU(f64(x), gamma=f64(gamma), act_type="prelu").asnumpy(),
                                  np.where(x > 0, x, x * gamma))
    data = np.array([[-1.0, 2.0], [-3.0, 0.5]])
    check_grads(lambda v, g: nd.LeakyReLU(v, gamma=g, act_type="prelu"), [data, gamma], order=2)
    # rrelu outside training uses the mean slope (lower + upper) / 2
    np.testing.assert_allclose(nd.LeakyReLU(f64(x), act_type="rrelu").asnumpy(),
                               np.where(x > 0, x, x * (0.125 + 0.334) / 2), rtol=1e-15)


# ---- dropout ----------------------------------------------------------------------------------------

def test_dropout_is_identity_outside_training():
    x = nd.array(np.arange(10.0))
    np.testing.assert_array_equal(nd.Dropout(x, p=0.5).asnumpy(), np.arange(10.0))
    with autograd.record(train_mode=False):
        np.testing.assert_array_equal(nd.Dropout(x, p=0.5).asnumpy(), np.arange(10.0))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_in_training(p):
    jg.random.seed(0)
    n = 20000
    with autograd.record():
        out = nd.Dropout(nd.ones(n), p=p).asnumpy()
    zeros = (out == 0).mean()
    assert abs(zeros - p) < 4 * np.sqrt(p * (1 - p) / n)  # 4 standard deviations
    np.testing.assert_allclose(np.unique(out[out != 0]), [1 / (1 - p)], rtol=1e-6)


def test_dropout_always_seeded_axes_and_gradient():
    x = nd.ones((6, 50))
    jg.random.seed(42)
    first = nd.Dropout(x, p=0.5, mode="always").asnumpy()
    jg.random.seed(42)
    second = nd.Dropout(x, p=0.5, mode="always").asnumpy()
    np.testing.assert_array_equal(first, second)
    assert set(np.unique(first)) == {0.0, 2.0}
    with autograd.train_mode():
        shared = nd.Dropout(x, p=0.5, axes=(1,)).asnumpy()  # one mask value per row
    assert all(len(set(row)) == 1 for row in shared)
    assert set(np.unique(shared)) <= {0.0, 2.0}
    jg.random.seed(7)
    v = nd.array(np.arange(1.0, 41.0))
    v.attach_grad()
    with autograd.record():
        y = nd.Dropout(v, p=0.5)
    y.backward()
    np.testing.assert_array_equal(v.grad.asnumpy(), y.asnumpy() / np.arange(1.0, 41.0))
    assert nd.Dropout(x, p=1.0, mode="always").asnumpy().sum() == 0


# ---- random -----------------------------------------------------------------------------------------

def test_random_seeded_determinism_shapes_dtypes():
    draws = []
    for _ in range(2):
        jg.random.seed(3)
        draws.append([nd.random.normal(shape=(2, 3)).asnumpy(), nd.random.uniform(-1, 1, shape=4).asnumpy(),
                      nd.random.randn(2, 2).asnumpy()])
    for a, b in zip(*draws, strict=True):
        np.testing.assert_array_equal(a, b)
    assert draws[0][0].shape == (2, 3) and draws[0][0].dtype == np.float32
    assert nd.random_normal(0, 1, shape=3, dtype="float64").dtype == np.float64
    assert nd.random_uniform(shape=(2,)).dtype == np.float32
    assert nd.random.uniform().shape == (1,)
    assert nd.random.randn(2, 3).shape == (2, 3)
    assert not np.array_equal(nd.random.normal(shape=5).asnumpy(), nd.random.normal(shape=5).asnumpy())
    with pytest.raises(ValueError):
        nd.random.normal(scale=0, shape=2)


def test_random_distributions():
    jg.random.seed(0)
    u = nd.random.uniform(2, 5, shape=20000).asnumpy().astype(np.float64)
    assert u.min() >= 2 and u.max() < 5 and abs(u.mean() - 3.5) < 0.03
    n = nd.random.normal(1.0, 2.0, shape=20000).asnumpy().astype(np.float64)
    assert abs(n.mean() - 1.0) < 0.06 and abs(n.std() - 2.0) < 0.06


# ---- indexing ---------------------------------------------------------------------------------------

M = np.arange(12.0).reshape(3, 4)


@pytest.mark.parametrize("key", [
    1, -1, (1, 2), (slice(None, None, 2), slice(1, None)), (slice(None), slice(None, None, -2)),
    (None,), (Ellipsis, 1), (slice(-2, None), None, 3), ([0, 2], [1, 3]), ([2, 0, 2],),
    (slice(None), [[0, 1], [3, 3]]), (slice(3, 0, -1),)])
def test_getitem_matches_numpy(key):
    out = f64(M)[key]
    expected = np.asarray(M[key])
    if expected.ndim == 0:
        expected = expected.reshape(1)  # MXNet: integer indexing never gives a 0-d array
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.asnumpy(), expected)


def test_getitem_index_arrays_and_iteration():
    np.testing.assert_array_equal(f64(M)[nd.array([2, 0])].asnumpy(), M[[2, 0]])
    np.testing.assert_array_equal(f64(M)[np.array([2, 0])].asnumpy(), M[[2, 0]])
    v = nd.array([1, 2, 3])
    assert v[1].shape == (1,) and v[1].asnumpy().tolist() == [2.0]
    assert [r.shape for r in v] == [(1,)] * 3
    assert [r.asnumpy().tolist() for r in f64(M[:2])] == M[:2].tolist()
    with pytest.raises(IndexingError):
        f64(M)[3]


def test_indexing_gradients():
    g = grad_of(lambda x: x[nd.array([0, 1, 1, 4, 1])], np.arange(5.0))
    np.testing.assert_array_equal(g, [1, 3, 0, 0, 1])  # repeated indices add up
    g = grad_of(lambda x: x[[0, 0, 2], [1, 1, 0]] * nd.array([1, 10, 100]), M)
    np.testing.assert_array_equal(g, [[0, 11, 0, 0], [0, 0, 0, 0], [100, 0, 0, 0]])
    g = grad_of(lambda x: x[1:4:2] * 2, np.arange(5.0))
    np.testing.assert_array_equal(g, [0, 2, 0, 2, 0])
    check_grads(lambda x: x[::-1, 1:3] * x[:, None, 0, ...].reshape((3, 1))[::-1], [M / 7], order=2)


def test_setitem():
    b = nd.zeros((2, 3))
    b[0, 1] = 5
    assert b.asnumpy().tolist() == [[0, 5, 0], [0, 0, 0]]
    b[:] = 2
    assert b.asnumpy().tolist() == [[2, 2, 2], [2, 2, 2]]
    b[1] = nd.array([1, 2, 3])
    b[:, 1:] = nd.array([[7], [8]])  # broadcast along the columns
    assert b.asnumpy().tolist() == [[2, 7, 7], [1, 8, 8]]
    b[:, nd.array([0, 2])] = -1
    assert b.asnumpy().tolist() == [[-1, 7, -1], [-1, 8, -1]]
    b[::-1, 0] = nd.array([10, 20])
    assert b.asnumpy()[:, 0].tolist() == [20, 10]
    i = nd.zeros((3,), dtype="int32")
    i[1] = 4.7  # the value takes the array's dtype
    assert i.dtype == np.int32 and i.asnumpy().tolist() == [0, 4, 0]


# ---- gradients of composites at their edges ---------------------------------------------------------

def test_edge_gradients():
    np.testing.assert_array_equal(grad_of(lambda x: nd.clip(x, -1, 1), [-2, -1, 0, 1, 2]), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(grad_of(nd.relu, [-1, 0, 1]), [0, 0, 1])
    np.testing.assert_array_equal(grad_of(nd.abs, [-1, 0, 1]), [-1, 0, 1])
    np.testing.assert_array_equal(grad_of(nd.sign, [-1, 0, 1]), [0, 0, 0])
    np.testing.assert_array_equal(grad_of(nd.floor, [-1.5, 0, 1.5]), [0, 0, 0])
    np.testing.assert_array_equal(grad_of(nd.round, [-1.5, 0.4, 2.5]), [0, 0, 0])
    np.testing.assert_array_equal(grad_of(nd.max, [1, 3, 3, 2]), [0, 1, 1, 0])  # every tie
    np.testing.assert_array_equal(grad_of(nd.min, [1, 1, 3, 1]), [1, 1, 0, 1])
    np.testing.assert_array_equal(grad_of(lambda x: nd.max(x, axis=1), [[1, 3, 3], [2, 2, 0]]),
                                  [[0, 1, 1], [1, 1, 0]])
    np.testing.assert_array_equal(grad_of(nd.stop_gradient, [1.0, 2.0]), [0, 0])
    np.testing.assert_array_equal(grad_of(lambda x: nd.BlockGrad(x) * x, [3.0]), [3.0])


def test_maximum_minimum_ties_go_to_left_operand():
    for fn, x_grad, y_grad in [(nd.maximum, [1, 1, 0], [0, 0, 1]), (nd.minimum, [1, 0, 1], [0, 1, 0])]:
        x, y = nd.array([1.0, 2.0, 3.0]), nd.array([1.0, 1.0, 4.0])
        x.attach_grad()
        y.attach_grad()
        with autograd.record():
            z = fn(x, y)
        z.backward()
        np.testing.assert_array_equal(x.grad.asnumpy(), x_grad)
        np.testing.assert_array_equal(y.grad.asnumpy(), y_grad)
    np.testing.assert_array_equal(grad_of(lambda x: nd.maximum(x, 2), [1, 2, 3]), [0, 1, 1])
    np.testing.assert_array_equal(grad_of(lambda x: nd.maximum(2, x), [1, 2, 3]), [0, 0, 1])


def test_composite_values_and_gradients():
    x = np.array([0.3, 1.2, 2.5])
    np.testing.assert_allclose(nd.square(f64(x)).asnumpy(), x * x, rtol=1e-15)
    np.testing.assert_allclose(nd.rsqrt(f64(x)).asnumpy(), 1 / np.sqrt(x), rtol=1e-15)
    np.testing.assert_allclose(nd.reciprocal(f64(x)).asnumpy(), 1 / x, rtol=1e-15)
    np.testing.assert_allclose(nd.softsign(f64(x)).asnumpy(), x / (1 + x), rtol=1e-15)
    for fn in (nd.square, nd.rsqrt, nd.reciprocal, nd.softsign, lambda v: nd.norm(v),
               lambda v: nd.norm(v, ord=1), lambda v: nd.mean(v * v), lambda v: nd.logsumexp(v),
               lambda v: nd.clip(v, 0.5, 2.0), lambda v: nd.where(v > 1, v * v, -v),
               lambda v: v ** 3 - 2 ** v + v % 0.7, lambda v: nd.prod(v), lambda v: 1 / v - v // 1):
        check_grads(fn, [x], order=2)


def test_scalar_operands_and_integer_arrays():
    x = nd.array([1.0, 2.0])
    np.testing.assert_array_equal((3 - x).asnumpy(), [2, 1])
    np.testing.assert_array_equal((2 / x).asnumpy(), [2, 1])
    np.testing.assert_array_equal((2 ** x).asnumpy(), [2, 4])
    np.testing.assert_array_equal((-x).asnumpy(), [-1, -2])
    assert (nd.ones(2, dtype="float64") + np.float32(2)).dtype == np.float64  # scalars take the array's
    i = nd.array([1, 2, 3], dtype="int32")
    assert (i * 1.9).asnumpy().tolist() == [1, 2, 3] and (i + 0.5).asnumpy().tolist() == [1, 2, 3]
    assert (i / 2).dtype == np.int32 and (i / 2).asnumpy().tolist() == [0, 1, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (nd.array([1.0, -1.0, 0.0]) / 0).asnumpy()
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])
    comparison = nd.array([1.0, 2.0]) > nd.array([2.0, 1.0])
    assert comparison.dtype == np.float32 and comparison.asnumpy().tolist() == [0, 1]


# ---- errors -----------------------------------------------------------------------------------------

def test_error_messages():
    with pytest.raises(ShapeError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        nd.ones((2, 3)) + nd.ones((4,))
    with pytest.raises(ShapeError, match=r"elemwise_add"):
        nd.elemwise_add(nd.ones((2, 3)), nd.ones((1, 3)))
    with pytest.raises(ShapeError, match=r"dot: inner dimensions differ: 3 .* vs 2"):
        nd.dot(nd.ones((2, 3)), nd.ones((2, 3)))
    with pytest.raises(ShapeError, match="batch_dot"):
        nd.batch_dot(nd.ones((2, 3, 4)), nd.ones((2, 3, 4)))
    with pytest.raises(ShapeError, match="sum: axis 2 is out of range"):
        nd.sum(nd.ones((2, 3)), axis=2)
    with pytest.raises(DTypeError, match="exp"):
        nd.exp(nd.array([1], dtype="int32"))


@pytest.mark.parametrize("op,name", [
    (lambda a, b: a + b, "add"), (lambda a, b: a * b, "multiply"), (lambda a, b: a > b, "greater"),
    (nd.maximum, "maximum"), (nd.dot, "dot"), (lambda a, b: nd.concat(a, b), "concat"),
    (lambda a, b: nd.where(a, a, b), "where")])
def test_mixed_float32_float64_raises(op, name):
    with pytest.raises(DTypeError, match=rf"{name}: .*float32 \(2, 2\).*float64 \(2, 2\)"):
        op(nd.ones((2, 2)), nd.ones((2, 2), dtype="float64"))


# ---- out= -------------------------------------------------------------------------------------------

def test_out_argument():
    for fn, args, expected in [
            (nd.exp, (nd.zeros((2, 2)),), np.ones((2, 2))),
            (nd.add, (nd.ones(2), nd.ones(2)), [2, 2]),
            (nd.sum, (nd.ones((2, 3)),), [6]),
            (nd.dot, (nd.ones((2, 3)), nd.ones((3, 2))), np.full((2, 2), 3)),
            (nd.softmax, (nd.zeros((2, 2)),), np.full((2, 2), 0.5)),
            (nd.concat, (nd.zeros((2, 2)), nd.ones((2, 1))), [[0, 0, 1], [0, 0, 1]])]:
        out = nd.full(np.shape(expected), 9.0)
        assert fn(*args, out=out) is out
        np.testing.assert_array_equal(out.asnumpy(), expected)
    x = nd.ones(2)
    nd.exp(x, out=x)
    np.testing.assert_allclose(x.asnumpy(), [np.e, np.e], rtol=1e-7)
    jg.random.seed(1)
    out = nd.zeros(3)
    assert nd.random.uniform(shape=3, out=out) is out and out.asnumpy().min() > 0
    with pytest.raises(ShapeError):
        nd.exp(nd.zeros(3), out=nd.zeros(2))
    with pytest.raises(DTypeError):
        nd.exp(nd.zeros(2), out=nd.zeros(2, dtype="float64"))


def test_one_hot_truncates_float_indices():
    hot = nd.one_hot(nd.array([1.7, -0.5, 2.9]), 3).asnumpy()
    assert np.array_equal(hot, [[0, 1, 0], [1, 0, 0], [0, 0, 1]])


def test_take_raise_mode():
    a = nd.array([10.0, 20.0, 30.0])
    assert np.array_equal(nd.take(a, nd.array([2, 0]), mode="raise").asnumpy(), [30, 10])
    with pytest.raises(IndexError, match="take: index 5.0 is out of bounds"):
        nd.take(a, nd.array([1, 5]), mode="raise")
