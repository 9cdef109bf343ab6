"""Random arrays from one seeded generator: the same seed gives the same arrays (`jg.random.seed`)."""
from __future__ import annotations

import numpy as np

from typing import Any

from ..ndarray import Context, NDArray
from ..state import current_tracer
from ..typing import DTypeLike, ShapeLike
from .creation import DEFAULT, as_shape, check_ctx

DEFAULT_SEED = 0
_generator = [np.random.default_rng(DEFAULT_SEED)]  # a fixed start, as MXNet's: runs repeat exactly


def seed(seed_state: int, ctx: Any = "all") -> None:
    """Reset the generator; every later random array is a function of `seed_state`."""
    _generator[0] = np.random.default_rng(int(seed_state))


def generator() -> np.random.Generator:
    """The numpy generator every random function draws from."""
    return _generator[0]


def _shape(shape: ShapeLike | None) -> tuple[int, ...]:
    return (1,) if shape is None else as_shape(shape)


def normal(loc: float = 0.0, scale: float = 1.0, shape: ShapeLike | None = None, dtype: DTypeLike = None,
           ctx: Context | None = None, out: NDArray | None = None, **kwargs: Any) -> NDArray:
    """Samples of a normal distribution; shape (1,) when `shape` is None, float32 by default."""
    check_ctx(ctx)
    if scale <= 0:
        raise ValueError(f"random.normal: scale must be positive, got {scale}")
    return _finish(generator().normal(loc, scale, _shape(shape)), dtype, out)


def uniform(low: float = 0.0, high: float = 1.0, shape: ShapeLike | None = None, dtype: DTypeLike = None,
            ctx: Context | None = None, out: NDArray | None = None, **kwargs: Any) -> NDArray:
    """Samples of a uniform distribution on [low, high); shape (1,) when `shape` is None."""
    check_ctx(ctx)
    if high < low:
        raise ValueError(f"random.uniform: high ({high}) must not be below low ({low})")
    return _finish(generator().uniform(low, high, _shape(shape)), dtype, out)


def randn(*shape: int, loc: float = 0.0, scale: float = 1.0, dtype: DTypeLike = None,
          ctx: Context | None = None, **kwargs: Any) -> NDArray:
    """Normal samples of the shape given as separate ints: `randn(2, 3)`."""
    return normal(loc, scale, shape or None, dtype=dtype, ctx=ctx)


def randint(low: int, high: int, shape: ShapeLike | None = None, dtype: DTypeLike = "int32",
            ctx: Context | None = None, **kwargs: Any) -> NDArray:
    """Random integers in [low, high), int32 by default."""
    check_ctx(ctx)
    return _finish(generator().integers(low, high, _shape(shape)), dtype, None)


def _finish(values: np.ndarray, dtype: DTypeLike, out: NDArray | None) -> NDArray:
    if (tracer := current_tracer()) is not None:  # a replayed trace would repeat the same numbers
        tracer.impure("random numbers")
    result = NDArray(values.astype(dtype or DEFAULT))
    if out is not None:
        out[:] = result
        return out
    return result
