"""Reductions over a canonical, sorted tuple of axes (the nd layer normalises `axis` and `exclude`).

A reduction over every axis without keepdims has shape (1,), MXNet's legacy rule (shapes.reduced_shape).
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError, op_error
from ..shapes import reduced_shape
from . import Primitive, broadcast_to, register, reshape


def reduction_rule(op: str, out_dtype=None):
    extremum = op in ("max", "min")

    def rule(x, axes, keepdims):   # (axes sorted: the first and last are the extremes)
        if axes and (axes[0] < 0 or axes[-1] >= x.ndim):
            raise op_error(ShapeError, op, f"axes {axes} out of range", x)
        if extremum and x.size == 0:
            raise op_error(ShapeError, op, "zero-size array has no maximum or minimum", x)
        return reduced_shape(x.shape, axes, keepdims), x.dtype if out_dtype is None else np.dtype(out_dtype)
    return rule


def reduction(name, reduce_fn, grad, out_dtype=None, domain=(-2.0, 2.0)):
    def impl(x, axes, keepdims):
        if len(axes) == x.ndim and not keepdims:   # MXNet's (1,), from numpy's (1, ..., 1): no 0-d step
            out = reduce_fn(x, axis=axes, keepdims=True)
            return out if out.ndim == 1 else out.reshape(1)
        return np.asarray(reduce_fn(x, axis=axes, keepdims=keepdims))
    return register(Primitive(
        name, "reduction", impl, reduction_rule(name, out_dtype), grads=(grad,), domain=(domain,),
        test_attrs=({"axes": (0,), "keepdims": False}, {"axes": (1,), "keepdims": True},
                    {"axes": (0, 1), "keepdims": False})))


def expand_back(g, x, axes):
    """g of a reduction broadcast back to x's shape (undoes the reduction's shape change)."""
    shape = x.shape
    if len(axes) == len(shape):   # a full reduction (the usual loss)
        kept: tuple = (1,) * len(shape)
    else:
        kept = tuple([1 if i in axes else n for i, n in enumerate(shape)])
    return broadcast_to(g if g.shape == kept else reshape(g, kept), shape)


def sum_grad(g, out, x, axes, keepdims):
    return expand_back(g, x, axes)


def prod_grad(g, out, x, axes, keepdims):
    # d prod / d x_i = prod / x_i; exact where x has no zeros (the test domain keeps away from 0).
    return expand_back(g * out, x, axes) / x


def extremum_grad(g, out, x, axes, keepdims):
    # Every element equal to the extremum receives the full gradient (MXNet's rule for ties).
    return expand_back(g, x, axes) * (x == expand_back(out, x, axes))


def sum_impl(x, axis, keepdims):
    """numpy adds float32 pairwise only along the trailing (contiguous) axes; across the others it
    adds naively in float32 (2e-5 relative error down 1e6 rows), so those accumulate in float64."""
    if len(axis) < x.ndim and x.dtype == np.float32 and axis != tuple(range(x.ndim - len(axis), x.ndim)):
        return np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=np.float64).astype(np.float32)
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


# the ufuncs' reduce methods: numpy's np.sum & co. add a Python layer that costs more than small sums
reduction("sum", sum_impl, sum_grad)
reduction("prod", np.multiply.reduce, prod_grad, domain=(0.5, 1.5))
reduction("max", np.maximum.reduce, extremum_grad)
reduction("min", np.minimum.reduce, extremum_grad)


def arg_rule(op: str):
    def rule(x, axis, keepdims):
        if x.size == 0:
            raise op_error(ShapeError, op, "zero-size array has no extremum", x)
        if x.dtype.kind not in "fiu":
            raise op_error(DTypeError, op, "expects a numeric array", x)
        axes = tuple(range(x.ndim)) if axis is None else (axis,)
        return reduced_shape(x.shape, axes, keepdims), x.dtype
    return rule


def arg_reduction(name, fn):
    # Indices come back in the input's dtype (float32 for float32 data), as MXNet returns them.
    def impl(x, axis, keepdims):
        shape = arg_rule(name)(x, axis, keepdims)[0]
        return np.asarray(fn(x, axis=axis, keepdims=keepdims), dtype=x.dtype).reshape(shape)
    register(Primitive(name, "reduction", impl, arg_rule(name),
                       test_attrs=({"axis": 1, "keepdims": False},)))


arg_reduction("argmax", np.argmax)
arg_reduction("argmin", np.argmin)
