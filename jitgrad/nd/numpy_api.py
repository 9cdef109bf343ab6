"""numpy's protocols on NDArray: `np.exp(x)`, `np.sum(x, axis=0)`, `x + np.float32(2)` give NDArrays.

Ufuncs and functions with a jitgrad equivalent run it, so they are recorded by autograd and traced by
`jitgrad.compile` like the `nd` call they stand for (with jitgrad's conventions: no dtype promotion,
reductions over all elements give shape (1,), comparisons give 0/1 arrays in the operands' dtype).
Anything else falls back to numpy on the arrays' values and returns numpy's result, as numpy did
before these protocols existed (`np.allclose`, `np.isnan`, `np.argsort`, ...) -- except when an
argument is part of a graph being recorded and the function may have a gradient: that raises
TypeError, since the result would silently carry no gradient.
"""
from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from ..errors import DTypeError, op_error
from ..ir import live
from ..ndarray import NDArray, observed
from ..state import STATE
from . import math as emath, nn, reduce, shape as shape_ops
from .creation import ones_like, zeros_like

GENERATED = emath.GENERATED  # emath.add etc.: made at import time, so unseen by type checkers
UFUNCS: dict[np.ufunc, Callable[..., NDArray]] = {
    np.add: GENERATED["add"], np.subtract: GENERATED["subtract"],
    np.multiply: GENERATED["multiply"], np.divide: GENERATED["divide"],
    np.power: GENERATED["power"], np.remainder: GENERATED["mod"],
    np.maximum: GENERATED["maximum"], np.minimum: GENERATED["minimum"],
    np.equal: GENERATED["equal"], np.not_equal: GENERATED["not_equal"],
    np.greater: GENERATED["greater"], np.greater_equal: GENERATED["greater_equal"],
    np.less: GENERATED["less"], np.less_equal: GENERATED["less_equal"],
    np.absolute: GENERATED["abs"], np.square: emath.square, np.reciprocal: emath.reciprocal,
    np.floor_divide: lambda a, b, out=None: _out(NDArray.__floordiv__(*_pair(a, b)), out),
    np.positive: lambda a, out=None: _out(a.copy(), out)}
UFUNCS.update((getattr(np, name), getattr(emath, name)) for name in (
    "negative exp expm1 log log2 log10 log1p sqrt cbrt sin cos tan arcsin arccos arctan sinh cosh "
    "tanh arcsinh arccosh arctanh sign floor ceil rint trunc").split())

# numpy functions that have no gradient: they may always fall back to numpy
NON_DIFFERENTIABLE = set("""shape ndim size argmax argmin argsort argpartition nonzero count_nonzero
    flatnonzero searchsorted isnan isinf isfinite isclose allclose array_equal array_equiv
    unique any all signbit logical_and logical_or logical_not logical_xor bitwise_and bitwise_or
    bitwise_xor invert iscomplexobj isrealobj isreal iscomplex result_type can_cast min_scalar_type
    histogram bincount digitize""".split())
# ...of which these read only shapes and dtypes: no guard when tracing
METADATA = {"shape", "ndim", "size", "result_type", "iscomplexobj", "isrealobj", "can_cast",
            "min_scalar_type"}


def _pair(a, b):
    return emath.operands("floor_divide", a, b)


def _out(result: NDArray, out):
    return emath.finish(result, out)


def _reduction(fn):
    def handler(a, axis=None, dtype=None, out=None, keepdims=False, **rest):
        _unsupported(fn.__name__, dtype=dtype, **rest)
        return fn(a, axis=axis, keepdims=bool(keepdims), out=out)
    return handler


def _matmul(a, b, out=None):
    if getattr(a, "ndim", 0) > 2 or getattr(b, "ndim", 0) > 2:
        raise TypeError("np.matmul: jitgrad supports matmul of 1-D and 2-D arrays only; use "
                        "nd.batch_dot for stacks of matrices")
    return nn.dot(a, b, out=out)


UFUNCS[np.matmul] = _matmul


def _reshape(a, shape_=None, order="C", *, newshape=None, copy=None, shape=None):
    _unsupported("reshape", order=None if order == "C" else order, copy=copy)
    target = next(s for s in (shape, shape_, newshape) if s is not None)
    return shape_ops.reshape(a, (target,) if isinstance(target, numbers.Integral) else target)


def _norm(x, ord=None, axis=None, keepdims=False):
    if ord not in (None, 1, 2):
        raise TypeError(f"np.linalg.norm: jitgrad supports ord None, 1 or 2, got {ord!r}")
    return reduce.norm(x, ord=1 if ord == 1 else 2, axis=axis, keepdims=keepdims)


def _round(a, decimals=0, out=None):
    if decimals != 0:
        raise TypeError(f"np.round: jitgrad rounds to integers only, got decimals={decimals}")
    return GENERATED["round"](a, out=out)


def _like(make, a, dtype=None):
    return make(a if dtype is None else emath.cast(a, dtype))


def _broadcast_to(array, shape, subok=False):
    return shape_ops.broadcast_to(array, shape)


FUNCTIONS = {
    np.sum: _reduction(reduce.sum), np.mean: _reduction(reduce.mean),
    np.prod: _reduction(reduce.prod), np.max: _reduction(reduce.max), np.min: _reduction(reduce.min),
    np.dot: lambda a, b, out=None: nn.dot(a, b, out=out),
    np.transpose: lambda a, axes=None: shape_ops.transpose(a, axes=axes),
    np.reshape: _reshape,
    np.expand_dims: lambda a, axis: shape_ops.expand_dims(a, axis),
    np.squeeze: lambda a, axis=None: shape_ops.squeeze(a, axis=axis),
    np.concatenate: lambda arrays, axis=0: shape_ops.concatenate(list(arrays), axis=axis),
    np.stack: lambda arrays, axis=0: shape_ops.stack(*arrays, axis=axis),
    np.where: lambda condition, *xy: emath.where(condition, *xy) if xy else _fallback(
        np.where, (condition,), {}),
    np.clip: lambda a, a_min, a_max, out=None: emath.clip(a, a_min, a_max, out=out),
    np.tile: lambda A, reps: shape_ops.tile(A, reps),
    np.repeat: lambda a, repeats, axis=None: shape_ops.repeat(a, repeats, axis=axis),
    np.swapaxes: lambda a, axis1, axis2: shape_ops.swapaxes(a, axis1, axis2),
    np.moveaxis: lambda a, source, destination: shape_ops.moveaxis(a, source, destination),
    np.broadcast_to: _broadcast_to,
    np.zeros_like: lambda a, dtype=None: _like(zeros_like, a, dtype),
    np.ones_like: lambda a, dtype=None: _like(ones_like, a, dtype),
    np.linalg.norm: _norm, np.round: _round,
}
for alias, name in ((getattr(np, "amax", None), np.max), (getattr(np, "amin", None), np.min)):
    if alias is not None and alias is not name:
        FUNCTIONS[alias] = FUNCTIONS[name]


def _unsupported(name: str, **options) -> None:
    given = {k: v for k, v in options.items() if v is not None}
    if given:
        raise TypeError(f"np.{name}: jitgrad does not support the argument(s) {sorted(given)} on "
                        "NDArrays; convert with .asnumpy() for numpy's full interface")


# ---- the protocols --------------------------------------------------------------------------------

def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    handler = UFUNCS.get(ufunc) if method == "__call__" else None
    if handler is None:
        return _fallback(getattr(ufunc, method), inputs, kwargs, f"{ufunc.__name__}"
                         + ("" if method == "__call__" else f".{method}"), ufunc_name=ufunc.__name__)
    out = kwargs.pop("out", None)
    _unsupported(ufunc.__name__, **{k: v for k, v in kwargs.items() if k != "casting"
                                    or v != "same_kind"})
    if out is not None:
        if len(out) != 1 or not isinstance(out[0], NDArray):
            raise op_error(DTypeError, f"np.{ufunc.__name__}", "out= must be one NDArray", *out)
        return handler(*inputs, out=out[0])
    return handler(*inputs)


def array_function(self, func, types, args, kwargs):
    if not all(issubclass(t, (NDArray, np.ndarray)) for t in types):
        return NotImplemented
    handler = FUNCTIONS.get(func)
    if handler is None:
        return _fallback(func, args, kwargs, func.__name__)
    numpy_arrays = [x for x in _leaves([args, kwargs]) if isinstance(x, np.ndarray)]
    if numpy_arrays:  # jitgrad's operations take NDArrays only, as its operators do
        raise op_error(DTypeError, f"np.{func.__name__}", "a numpy array operand; wrap it with "
                       "nd.array() (jitgrad does not mix numpy arrays into its graph)", *numpy_arrays)
    return handler(*args, **kwargs)


def _fallback(func, args, kwargs, name=None, ufunc_name=None):
    """numpy's own result on the arrays' values (a guard when tracing, like np.asarray)."""
    name = name or func.__name__
    base = (ufunc_name or name).split(".")[0]
    if STATE.recording and base not in NON_DIFFERENTIABLE and _in_graph(args, kwargs):
        raise TypeError(f"np.{name}: jitgrad has no equivalent, so its result would carry no "
                        "gradient; leave the graph explicitly with .asnumpy() or .detach(), or use "
                        "the nd functions")
    if any(isinstance(o, NDArray) for o in _leaves(kwargs.get("out", ()))):
        raise TypeError(f"np.{name}: out= cannot be an NDArray when numpy computes the result")
    guard = base not in METADATA
    return func(*_to_numpy(args, guard), **_to_numpy(kwargs, guard))


def _leaves(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    else:
        yield value


def _in_graph(args, kwargs) -> bool:
    return any(isinstance(x, NDArray) and live(x._entry) is not None
               for x in _leaves([args, kwargs]))


def _to_numpy(value, guard: bool):
    if isinstance(value, NDArray):
        return observed(value) if guard else value._data
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v, guard) for v in value)
    if isinstance(value, dict):
        return {k: _to_numpy(v, guard) for k, v in value.items()}
    return value


def install() -> None:
    # setattr, as jitgrad.nd installs its methods: NDArray does not declare the protocols itself
    setattr(NDArray, "__array_ufunc__", array_ufunc)
    setattr(NDArray, "__array_function__", array_function)
