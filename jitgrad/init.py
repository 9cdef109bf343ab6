"""Parameter initialisers: new arrays with a gradient buffer attached, ready for an optimizer.

    w = jg.init.he((128, 64))          # a FullyConnected weight: (num_hidden, in_units)
    b = jg.init.zeros(128)

Fan conventions (MXNet's and PyTorch's): for a weight of shape (out, in, *kernel), the receptive
field is the product of the kernel dimensions (1 for a matrix), fan_in = in * receptive field and
fan_out = out * receptive field. This is the layout of `nd.FullyConnected`'s weight; for a matrix
used as `nd.dot(x, w)`, of shape (in, out), pass `mode='fan_out'` to `he` (xavier is symmetric).

Random values come from `rng` (a numpy Generator), else from a new generator seeded with `seed`,
else from jitgrad's own generator (so `jg.random.seed(n)` makes them repeat).
"""
from __future__ import annotations

import math

import numpy as np

from .nd import random as _random
from .nd.creation import DEFAULT, as_shape
from .ndarray import NDArray

GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0)}


def parameter(value, dtype=None, grad_req: str = "write") -> NDArray:
    """A copy of `value` (anything `nd.array` takes) as an attached array (float32 by default)."""
    if isinstance(value, NDArray):
        return _attached(value.asnumpy(), grad_req, dtype or value.dtype)
    return _attached(np.array(value), grad_req, dtype)


def zeros(shape, dtype=None, grad_req: str = "write") -> NDArray:
    """Zeros (the usual start for biases)."""
    return _attached(np.zeros(as_shape(shape)), grad_req, dtype)


def constant(shape, value: float, dtype=None, grad_req: str = "write") -> NDArray:
    """Every element equal to `value`."""
    return _attached(np.full(as_shape(shape), value), grad_req, dtype)


def normal(shape, std: float = 0.01, mean: float = 0.0, dtype=None, seed=None, rng=None,
           grad_req: str = "write") -> NDArray:
    """Values drawn from N(mean, std²)."""
    if not std > 0:
        raise ValueError(f"init.normal: std must be positive, got {std}")
    return _attached(_rng(seed, rng).normal(mean, std, as_shape(shape)), grad_req, dtype)


def uniform(shape, low: float = -0.07, high: float = 0.07, dtype=None, seed=None, rng=None,
            grad_req: str = "write") -> NDArray:
    """Values drawn uniformly from [low, high) (MXNet's default scale is 0.07)."""
    if not high > low:
        raise ValueError(f"init.uniform: high ({high}) must be above low ({low})")
    return _attached(_rng(seed, rng).uniform(low, high, as_shape(shape)), grad_req, dtype)


def xavier(shape, gain: float = 1.0, distribution: str = "uniform", dtype=None, seed=None, rng=None,
           grad_req: str = "write") -> NDArray:
    """Glorot & Bengio (2010): variance 2 gain² / (fan_in + fan_out); uniform on [-a, a] with
    a = gain sqrt(6 / (fan_in + fan_out)), or normal."""
    fan_in, fan_out = fans(shape, "xavier")
    return _scaled(shape, gain * math.sqrt(2.0 / (fan_in + fan_out)), distribution, "xavier", dtype,
                   seed, rng, grad_req)


def he(shape, mode: str = "fan_in", nonlinearity: str = "relu", distribution: str = "normal",
       dtype=None, seed=None, rng=None, grad_req: str = "write") -> NDArray:
    """He et al. (2015), 'Kaiming': standard deviation gain / sqrt(fan), gain sqrt(2) for relu;
    `mode` picks fan_in (keeps the forward variance) or fan_out (the backward one)."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.he: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if nonlinearity not in GAINS:
        raise ValueError(f"init.he: nonlinearity must be one of {sorted(GAINS)}, got {nonlinearity!r}")
    fan_in, fan_out = fans(shape, "he")
    std = GAINS[nonlinearity] / math.sqrt(fan_in if mode == "fan_in" else fan_out)
    return _scaled(shape, std, distribution, "he", dtype, seed, rng, grad_req)


def fans(shape, where: str = "fans") -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    shape = as_shape(shape)
    if len(shape) < 2:
        raise ValueError(f"init.{where}: fan_in and fan_out need a weight with at least 2 dimensions "
                         f"(out, in, ...), got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _scaled(shape, std, distribution, where, dtype, seed, rng, grad_req) -> NDArray:
    """Zero-mean values of standard deviation `std`, normal or uniform."""
    gen, shape = _rng(seed, rng), as_shape(shape)
    if distribution == "normal":
        values = gen.normal(0.0, std, shape)
    elif distribution == "uniform":
        bound = math.sqrt(3.0) * std  # a uniform on [-a, a] has variance a²/3
        values = gen.uniform(-bound, bound, shape)
    else:
        raise ValueError(f"init.{where}: distribution must be 'normal' or 'uniform', got "
                         f"{distribution!r}")
    return _attached(values, grad_req, dtype)


def _rng(seed, rng) -> np.random.Generator:
    if rng is not None and seed is not None:
        raise ValueError("init: pass seed or rng, not both")
    if rng is not None:
        return rng
    return np.random.default_rng(seed) if seed is not None else _random.generator()


def _attached(values: np.ndarray, grad_req: str, dtype=None) -> NDArray:
    """`values` (cast to `dtype`, float32 when None) with a gradient buffer."""
    x = NDArray(values.astype(dtype or DEFAULT, copy=False))
    x.attach_grad(grad_req)
    return x
