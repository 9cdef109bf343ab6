"""The NDArray data model: MXNet's legacy conventions for printing, conversion, scalars and operators."""
import numpy as np
import pytest

import jitgrad as jg
from jitgrad import nd
from jitgrad.errors import DTypeError


@pytest.mark.parametrize("make, text", [
    (lambda: nd.array([[1, 2], [3, 4]]), "\n[[1. 2.]\n [3. 4.]]\n<NDArray 2x2 @cpu(0)>"),
    (lambda: nd.array([1, 2, 3]), "\n[1. 2. 3.]\n<NDArray 3 @cpu(0)>"),
    (lambda: nd.zeros((2, 1, 2)), "\n[[[0. 0.]]\n\n [[0. 0.]]]\n<NDArray 2x1x2 @cpu(0)>"),
    (lambda: nd.array([1, 2], dtype="int32"), "\n[1 2]\n<NDArray 2 @cpu(0)>"),
    (lambda: nd.array(5.0), "\n5.0\n<NDArray  @cpu(0)>"),
])
def test_repr_and_str(make, text):
    x = make()
    assert repr(x) == text and str(x) == text


def test_properties():
    x = nd.array([[1, 2, 3], [4, 5, 6]])
    assert x.shape == (2, 3) and x.size == 6 and x.ndim == 2 and len(x) == 2
    assert x.dtype is np.float32 and x.stype == "default"
    assert x.context == jg.cpu() == x.ctx and repr(x.context) == "cpu(0)"
    assert x.T.shape == (3, 2) and np.array_equal(x.T.asnumpy(), x.asnumpy().T)
    v = nd.array([1, 2])
    assert v.T is v


@pytest.mark.parametrize("source", [[1, 2], np.array([1, 2], np.int64), np.array([1.0, 2.0]), 3, True])
def test_array_defaults_to_float32(source):
    assert nd.array(source).dtype is np.float32


def test_array_keeps_ndarray_dtype_and_honours_dtype():
    assert nd.array(nd.array([1], dtype="float64")).dtype is np.float64
    assert nd.array([1, 2], dtype="int32").dtype is np.int32
    src = np.array([1.0, 2.0], np.float32)
    x = nd.array(src)
    src[0] = 9
    assert x.asnumpy()[0] == 1  # a copy


def test_asscalar():
    assert nd.array([2.5]).asscalar() == 2.5 and isinstance(nd.array([2.5]).asscalar(), np.float32)
    square = nd.array([[2.5]]).asscalar()  # MXNet returns the (1, 1) numpy array here
    assert isinstance(square, np.ndarray) and square.shape == (1, 1)
    with pytest.raises(ValueError, match="not a scalar"):
        nd.array([1, 2, 3]).asscalar()


def test_bool_float_int():
    assert bool(nd.array([1.0])) and not bool(nd.array([0.0])) and not bool(nd.zeros((0,)))
    with pytest.raises(ValueError, match="multiple elements is ambiguous"):
        bool(nd.array([1, 2, 3]))
    assert float(nd.array([2.5])) == 2.5 and int(nd.array([3.7])) == 3
    with pytest.raises(TypeError, match="size-1"):
        float(nd.array([1, 2]))


def test_iteration_yields_shape_1_elements_and_rows():
    items = list(nd.array([1, 2, 3]))
    assert [i.shape for i in items] == [(1,)] * 3 and [float(i) for i in items] == [1, 2, 3]
    rows = list(nd.array([[1, 2], [3, 4]]))
    assert [r.shape for r in rows] == [(2,), (2,)]


def test_integer_indexing_returns_shape_1():
    m = nd.array([[1, 2, 3], [4, 5, 6]])
    assert m[1, 2].shape == (1,) and float(m[1, 2]) == 6
    assert m[1].shape == (3,)
    assert nd.array([7, 8])[-1].shape == (1,)


def test_numpy_interop_by_conversion():
    x = nd.array([1, 2])
    assert np.asarray(x).dtype == np.float32 and np.array_equal(np.asarray(x), [1, 2])
    assert x.asnumpy() is not x.asnumpy()


def test_scalar_takes_integer_array_dtype():
    x = nd.array([1, 2, 3], dtype="int32")
    assert np.array_equal((x * 1.9).asnumpy(), [1, 2, 3]) and (x * 1.9).dtype is np.int32
    assert np.array_equal((x + 0.5).asnumpy(), [1, 2, 3])
    assert np.array_equal((x / 2).asnumpy(), [0, 1, 1])
    assert np.array_equal((nd.array([-3, 3], dtype="int32") / 2).asnumpy(), [-1, 1])


def test_mod_takes_the_sign_of_the_divisor():
    x = nd.array([-3.5, 3.5])
    assert np.array_equal((x % 2).asnumpy(), [0.5, 1.5])
    assert np.array_equal((x % -2).asnumpy(), [-1.5, -0.5])


def test_operators_with_scalars_on_both_sides():
    x = nd.array([1.0, 2.0, 4.0])
    cases = {
        "add": (x + 1, 1 + x, [2, 3, 5], [2, 3, 5]),
        "sub": (x - 1, 1 - x, [0, 1, 3], [0, -1, -3]),
        "mul": (x * 2, 2 * x, [2, 4, 8], [2, 4, 8]),
        "div": (x / 2, 2 / x, [0.5, 1, 2], [2, 1, 0.5]),
        "pow": (x ** 2, 2 ** x, [1, 4, 16], [2, 4, 16]),
        "mod": (x % 3, 5 % x, [1, 2, 1], [0, 1, 1]),
    }
    for name, (left, right, want_left, want_right) in cases.items():
        assert np.array_equal(left.asnumpy(), want_left), name
        assert np.array_equal(right.asnumpy(), want_right), name
    assert np.array_equal((-x).asnumpy(), [-1, -2, -4]) and np.array_equal(abs(-x).asnumpy(), [1, 2, 4])
    assert np.array_equal((x // 3).asnumpy(), [0, 0, 1])


def test_comparisons_return_input_dtype():
    x = nd.array([1.0, 2.0, 3.0])
    for result, want in [(x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]), (x > 2, [0, 0, 1]),
                         (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0])]:
        assert result.dtype is np.float32 and np.array_equal(result.asnumpy(), want)
    i = nd.array([1, 2], dtype="int32")
    assert (i > 1).dtype is np.int32


def test_broadcasting_operators():
    a, b = nd.array([[1.0], [2.0]]), nd.array([10.0, 20.0, 30.0])
    assert np.array_equal((a + b).asnumpy(), [[11, 21, 31], [12, 22, 32]])


def test_division_by_zero_is_ieee():
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (nd.array([1.0, -1.0, 0.0]) / nd.zeros(3)).asnumpy()
    assert r[0] == np.inf and r[1] == -np.inf and np.isnan(r[2])


def test_inplace_operators_write_into_the_same_storage():
    x = nd.array([1.0, 2.0])
    view = x.detach()
    x += 1
    x *= 3
    x -= 1
    x /= 2
    assert np.array_equal(view.asnumpy(), [2.5, 4.0])
    i = nd.array([5, 7], dtype="int32")
    i %= 3
    assert np.array_equal(i.asnumpy(), [2, 1]) and i.dtype is np.int32


def test_mixed_float_dtypes_raise():
    with pytest.raises(DTypeError, match=r"add: .*float32 \(2,\), float64 \(2,\)"):
        nd.ones(2) + nd.ones(2, dtype="float64")


def test_unsupported_operand_types_raise():
    with pytest.raises(DTypeError, match="unsupported operand of type list"):
        nd.ones(2) + [1, 2]
    with pytest.raises(DTypeError, match="unsupported operand of type str"):
        nd.ones(2) * "a"


def test_astype_copy_and_copyto():
    x = nd.array([1.5, 2.5])
    assert x.astype("int32").dtype is np.int32 and np.array_equal(x.astype("int32").asnumpy(), [1, 2])
    assert x.astype("float32", copy=False) is x
    c = x.copy()
    c[:] = 0
    assert np.array_equal(x.asnumpy(), [1.5, 2.5])
    target = nd.zeros(2)
    assert x.copyto(target) is target and np.array_equal(target.asnumpy(), [1.5, 2.5])
    assert x.as_in_context(jg.cpu()) is x


def test_setitem_scalar_and_broadcast_array():
    x = nd.zeros((2, 3))
    x[0] = 5
    x[1, 1:] = nd.array([7, 8])
    x[:, 0] = nd.array([1, 2])
    assert np.array_equal(x.asnumpy(), [[1, 5, 5], [2, 7, 8]])
    x[:] = nd.array([9, 9, 9])
    assert np.array_equal(x.asnumpy(), np.full((2, 3), 9))


def test_only_cpu_contexts():
    with pytest.raises(ValueError, match="CPU only"):
        jg.Context("gpu", 0)


def test_rounding_conventions():
    x = nd.array([1.5, 2.5, -0.5, -1.5, 0.49999997, -0.4, 16777215.0])
    assert np.array_equal(nd.round(x).asnumpy(), [2, 3, -1, -2, 0, -0.0, 16777215])
    rint = nd.rint(x).asnumpy()  # MXNet: n.5 goes to n
    assert np.array_equal(rint, [1, 2, -1, -2, 0, 0, 16777215]) and np.signbit(rint[5])
    i = nd.array([3, -2], dtype="int32")
    assert np.array_equal(nd.floor(i).asnumpy(), [3, -2]) and nd.floor(i).dtype is np.int32


def test_division_and_remainder_by_zero():
    assert np.array_equal((nd.array([-7.0, 7.0]) % 0).asnumpy(), [0, 0])
    with pytest.raises(ZeroDivisionError, match="divide: integer division by zero"):
        nd.array([1, 2], dtype="int32") / nd.array([1, 0], dtype="int32")


def test_argmax_in_input_dtype():
    assert nd.argmax(nd.array([1, 3, 2], dtype="int32"), axis=0).dtype is np.int32
    assert nd.argmax(nd.array([[1, 3, 2]]), axis=1).dtype is np.float32
    assert float(nd.argmin(nd.array([[4, 3, 5]]), axis=1)) == 1


def test_out_of_range_integers_wrap_like_mxnet():
    assert np.array_equal(nd.array([-1, 300], dtype="uint8").asnumpy(), [255, 44])


def test_default_random_stream_is_fixed(tmp_path):
    import subprocess
    import sys
    code = "from jitgrad import nd; print(nd.random.uniform(shape=3).asnumpy().tolist())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 1


def test_single_element_assignment_from_shape_1():
    c = nd.zeros((2, 2))
    v = nd.array([1.0, 2.0])
    c[0, 0] = nd.array([4.0])
    c[1, 1] = v[1]
    assert np.array_equal(c.asnumpy(), [[4, 0], [0, 2]])
    with pytest.raises(jg.errors.ShapeError, match="setitem"):
        x = nd.ones(2)
        x += nd.ones((3, 2))
