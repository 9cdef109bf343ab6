"""Array creation. Like MXNet's legacy ndarray, everything is float32 unless `dtype=` says otherwise."""
from __future__ import annotations

import numpy as np

from typing import Any

from ..ndarray import CPU, Context, NDArray, fresh
from ..typing import DTypeLike, ShapeLike

DEFAULT = np.float32


def check_ctx(ctx: Context | None) -> None:
    if ctx is not None and ctx != CPU:
        raise ValueError(f"jitgrad computes on the CPU only; got context {ctx}")


def as_shape(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)


def array(source_array: Any, ctx: Context | None = None, dtype: DTypeLike = None) -> NDArray:
    """A new array holding a copy of `source_array` (anything numpy takes, or an object with only
    `__dlpack__`); float32 unless `dtype` is given (an NDArray source keeps its own dtype)."""
    check_ctx(ctx)
    if dtype is None:
        dtype = source_array.dtype if isinstance(source_array, NDArray) else DEFAULT
    if hasattr(source_array, "__dlpack__") and not hasattr(source_array, "__array__"):
        source_array = np.from_dlpack(source_array)
    data = np.array(source_array)
    # astype wraps out-of-range integers (uint8 -1 -> 255) the way MXNet's copy does
    return fresh(data.astype(dtype, copy=data.dtype != np.dtype(dtype)))


def from_dlpack(x: Any) -> NDArray:
    """An NDArray sharing the memory of `x` (any object with `__dlpack__` on the CPU: numpy, PyTorch,
    JAX, ...), keeping its dtype: writes to one are seen by the other where the producer allows it."""
    return fresh(np.from_dlpack(x))


def zeros(shape: ShapeLike, ctx: Context | None = None, dtype: DTypeLike = None, stype: str | None = None,
          **kwargs: Any) -> NDArray:
    """An array of zeros; float32 unless `dtype` is given."""
    check_ctx(ctx)
    return fresh(np.zeros(as_shape(shape), dtype=dtype or DEFAULT))


def ones(shape: ShapeLike, ctx: Context | None = None, dtype: DTypeLike = None, **kwargs: Any) -> NDArray:
    """An array of ones; float32 unless `dtype` is given."""
    check_ctx(ctx)
    return fresh(np.ones(as_shape(shape), dtype=dtype or DEFAULT))


def full(shape: ShapeLike, val: float, ctx: Context | None = None, dtype: DTypeLike = DEFAULT,
         out: NDArray | None = None) -> NDArray:
    """An array filled with `val`."""
    check_ctx(ctx)
    result = fresh(np.full(as_shape(shape), val, dtype=dtype or DEFAULT))
    if out is not None:
        out[:] = result
        return out
    return result


def empty(shape: ShapeLike, ctx: Context | None = None, dtype: DTypeLike = None) -> NDArray:
    """An array whose values are not set; float32 unless `dtype` is given."""
    check_ctx(ctx)
    return fresh(np.empty(as_shape(shape), dtype=dtype or DEFAULT))


def arange(start: float, stop: float | None = None, step: float = 1.0, repeat: int = 1,
           infer_range: bool | None = None, ctx: Context | None = None,
           dtype: DTypeLike = DEFAULT) -> NDArray:
    """Evenly spaced values in [start, stop) (in [0, start) without `stop`), each repeated
    `repeat` times; `infer_range` is ignored."""
    check_ctx(ctx)
    values = np.arange(start, stop, step, dtype=np.float64) if stop is not None else \
        np.arange(0, start, step, dtype=np.float64)
    return fresh(np.repeat(values, int(repeat)).astype(dtype or DEFAULT))


def linspace(start: float, stop: float, num: int, endpoint: bool = True, ctx: Context | None = None,
             dtype: DTypeLike = DEFAULT) -> NDArray:
    """`num` evenly spaced values from `start` to `stop` (included unless `endpoint=False`)."""
    check_ctx(ctx)
    return fresh(np.linspace(start, stop, int(num), endpoint=endpoint).astype(dtype or DEFAULT))


def eye(N: int, M: int = 0, k: int = 0, ctx: Context | None = None, dtype: DTypeLike = DEFAULT) -> NDArray:
    """An N x M matrix (N x N when M is 0) with ones on diagonal `k` and zeros elsewhere."""
    check_ctx(ctx)
    return fresh(np.eye(int(N), int(M) or None, int(k), dtype=dtype or DEFAULT))


def zeros_like(data: NDArray, **kwargs: Any) -> NDArray:
    """Zeros of the shape and dtype of `data`."""
    return fresh(np.zeros_like(data._data))


def ones_like(data: NDArray, **kwargs: Any) -> NDArray:
    """Ones of the shape and dtype of `data`."""
    return fresh(np.ones_like(data._data))


def waitall() -> None:
    """Computation is synchronous: nothing to wait for."""
