"""Reductions: `axis` (int, tuple or None), `keepdims`, `exclude`; full reductions have shape (1,)."""
from __future__ import annotations

import math
from typing import Callable

from ..errors import ShapeError, op_error
from ..ndarray import NDArray, call
from ..ops import PRIMITIVES, _dispatch
from ..shapes import normalize_axes, normalize_axis
from ..typing import AxisLike, DTypeLike
from .math import finish


def axes_of(op: str, data: NDArray, axis: AxisLike, exclude: bool) -> tuple[int, ...]:
    return normalize_axes(op, axis, data._data.ndim, exclude)


def reducer(prim: str) -> Callable[..., NDArray]:
    primitive = PRIMITIVES[prim]

    def fn(data: NDArray, axis: AxisLike = None, keepdims: bool = False, exclude: bool = False,
           out: NDArray | None = None, name: str | None = None) -> NDArray:
        result = _dispatch[0](primitive, data, axes=axes_of(prim, data, axis, exclude),
                              keepdims=bool(keepdims))   # (not ops.call: one frame less)
        return finish(result, out, data)
    fn.__name__ = fn.__qualname__ = prim
    fn.__doc__ = f"{prim} over `axis` (all axes when None; all but `axis` when `exclude`)."
    return fn


sum = reducer("sum")  # noqa: A001  (MXNet's name)
prod = reducer("prod")
max = reducer("max")  # noqa: A001
min = reducer("min")  # noqa: A001


def mean(data: NDArray, axis: AxisLike = None, keepdims: bool = False, exclude: bool = False,
         out: NDArray | None = None, name: str | None = None) -> NDArray:
    """mean over `axis` (all axes when None; all but `axis` when `exclude`)."""
    axes = axes_of("mean", data, axis, exclude)
    count = math.prod(data.shape[a] for a in axes)
    return finish(call("sum", data, axes=axes, keepdims=bool(keepdims)) / count, out, data)


def nansum(data: NDArray, axis: AxisLike = None, keepdims: bool = False, exclude: bool = False,
           out: NDArray | None = None, name: str | None = None) -> NDArray:
    """sum over `axis`, counting NaNs as 0."""
    kept = call("where", data == data, data, data.zeros_like())
    return finish(sum(kept, axis, keepdims, exclude), out, data)


def nanprod(data: NDArray, axis: AxisLike = None, keepdims: bool = False, exclude: bool = False,
            out: NDArray | None = None, name: str | None = None) -> NDArray:
    """prod over `axis`, counting NaNs as 1."""
    kept = call("where", data == data, data, data.ones_like())
    return finish(prod(kept, axis, keepdims, exclude), out, data)


def norm(data: NDArray, ord: int = 2, axis: AxisLike = None, out_dtype: DTypeLike = None,
         keepdims: bool = False, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """The L1 or L2 norm over `axis` (all elements when None: Frobenius for matrices)."""
    if ord not in (1, 2):
        raise op_error(ShapeError, "norm", f"ord must be 1 or 2, got {ord!r}", data)
    axes = axes_of("norm", data, axis, False)
    if ord == 1:
        result = call("sum", call("abs", data), axes=axes, keepdims=bool(keepdims))
    else:
        result = call("sqrt", call("sum", data * data, axes=axes, keepdims=bool(keepdims)))
    if out_dtype is not None:
        result = result.astype(out_dtype)
    return finish(result, out, data)


def arg_reducer(prim: str) -> Callable[..., NDArray]:
    def fn(data: NDArray, axis: int | None = None, keepdims: bool = False, out: NDArray | None = None,
           name: str | None = None) -> NDArray:
        ax = None if axis is None else normalize_axis(prim, axis, data.ndim)
        return finish(call(prim, data, axis=ax, keepdims=bool(keepdims)), out, data)
    fn.__name__ = fn.__qualname__ = prim
    fn.__doc__ = f"Index of the {prim[3:]}imum along `axis`, in the input's dtype (MXNet's convention)."
    return fn


argmax = arg_reducer("argmax")
argmin = arg_reducer("argmin")
