"""Array creation. Like MXNet's legacy ndarray, everything is float32 unless `dtype=` says otherwise."""
from __future__ import annotations

import numpy as np

from ..ndarray import CPU, Context, NDArray, fresh

DEFAULT = np.float32


def check_ctx(ctx) -> None:
    if ctx is not None and ctx != CPU:
        raise ValueError(f"jitgrad computes on the CPU only; got context {ctx}")


def as_shape(shape) -> tuple:
    return (int(shape),) if np.isscalar(shape) else tuple(int(n) for n in shape)


def array(source_array, ctx: Context | None = None, dtype=None) -> NDArray:
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


def from_dlpack(x) -> NDArray:
    """An NDArray sharing the memory of `x` (any object with `__dlpack__` on the CPU: numpy, PyTorch,
    JAX, ...), keeping its dtype: writes to one are seen by the other where the producer allows it."""
    return fresh(np.from_dlpack(x))


def zeros(shape, ctx=None, dtype=None, stype=None, **kwargs) -> NDArray:
    check_ctx(ctx)
    return fresh(np.zeros(as_shape(shape), dtype=dtype or DEFAULT))


def ones(shape, ctx=None, dtype=None, **kwargs) -> NDArray:
    check_ctx(ctx)
    return fresh(np.ones(as_shape(shape), dtype=dtype or DEFAULT))


def full(shape, val, ctx=None, dtype=DEFAULT, out=None) -> NDArray:
    check_ctx(ctx)
    result = fresh(np.full(as_shape(shape), val, dtype=dtype or DEFAULT))
    if out is not None:
        out[:] = result
        return out
    return result


def empty(shape, ctx=None, dtype=None) -> NDArray:
    check_ctx(ctx)
    return fresh(np.empty(as_shape(shape), dtype=dtype or DEFAULT))


def arange(start, stop=None, step=1.0, repeat=1, infer_range=None, ctx=None, dtype=DEFAULT) -> NDArray:
    check_ctx(ctx)
    values = np.arange(start, stop, step, dtype=np.float64) if stop is not None else \
        np.arange(0, start, step, dtype=np.float64)
    return fresh(np.repeat(values, int(repeat)).astype(dtype or DEFAULT))


def linspace(start, stop, num, endpoint=True, ctx=None, dtype=DEFAULT) -> NDArray:
    check_ctx(ctx)
    return fresh(np.linspace(start, stop, int(num), endpoint=endpoint).astype(dtype or DEFAULT))


def eye(N, M=0, k=0, ctx=None, dtype=DEFAULT) -> NDArray:
    check_ctx(ctx)
    return fresh(np.eye(int(N), int(M) or None, int(k), dtype=dtype or DEFAULT))


def zeros_like(data: NDArray, **kwargs) -> NDArray:
    return fresh(np.zeros_like(data._data))


def ones_like(data: NDArray, **kwargs) -> NDArray:
    return fresh(np.ones_like(data._data))


def waitall() -> None:
    """Computation is synchronous: nothing to wait for."""
