"""Random arrays from one seeded generator: the same seed gives the same arrays (`jg.random.seed`)."""
from __future__ import annotations

import numpy as np

from ..ndarray import NDArray
from ..state import STATE
from .creation import DEFAULT, as_shape, check_ctx

DEFAULT_SEED = 0
_generator = [np.random.default_rng(DEFAULT_SEED)]  # a fixed start, as MXNet's: runs repeat exactly


def seed(seed_state: int, ctx="all") -> None:
    """Reset the generator; every later random array is a function of `seed_state`."""
    _generator[0] = np.random.default_rng(int(seed_state))


def generator() -> np.random.Generator:
    return _generator[0]


def _shape(shape) -> tuple:
    return (1,) if shape is None else as_shape(shape)


def normal(loc=0.0, scale=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs) -> NDArray:
    check_ctx(ctx)
    if scale <= 0:
        raise ValueError(f"random.normal: scale must be positive, got {scale}")
    return _finish(generator().normal(loc, scale, _shape(shape)), dtype, out)


def uniform(low=0.0, high=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs) -> NDArray:
    check_ctx(ctx)
    if high < low:
        raise ValueError(f"random.uniform: high ({high}) must not be below low ({low})")
    return _finish(generator().uniform(low, high, _shape(shape)), dtype, out)


def randn(*shape, loc=0.0, scale=1.0, dtype=None, ctx=None, **kwargs) -> NDArray:
    return normal(loc, scale, shape or None, dtype=dtype, ctx=ctx)


def randint(low, high, shape=None, dtype="int32", ctx=None, **kwargs) -> NDArray:
    check_ctx(ctx)
    return _finish(generator().integers(low, high, _shape(shape)), dtype, None)


def _finish(values: np.ndarray, dtype, out) -> NDArray:
    if STATE.tracer is not None:  # a replayed trace would repeat the same numbers
        STATE.tracer.impure("random numbers")
    result = NDArray(values.astype(dtype or DEFAULT))
    if out is not None:
        out[:] = result
        return out
    return result
