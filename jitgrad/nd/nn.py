"""Linear algebra and neural-network functions, composed from primitives (numerically stable forms)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ShapeError, op_error
from ..ndarray import NDArray, call, constant
from ..shapes import normalize_axis
from ..state import STATE, current_tracer
from . import random
from .math import finish
from .shape import flatten, pick

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _full_transpose(x: NDArray) -> NDArray:
    return call("transpose", x, axes=tuple(range(x.ndim))[::-1])


def dot(lhs: NDArray, rhs: NDArray, transpose_a: bool = False, transpose_b: bool = False,
        out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Contract the last axis of lhs with the first axis of rhs (matrix product for 2-D)."""
    a = _full_transpose(lhs) if transpose_a else lhs
    b = _full_transpose(rhs) if transpose_b else rhs
    return finish(call("dot", a, b), out, lhs, rhs)


def batch_dot(lhs: NDArray, rhs: NDArray, transpose_a: bool = False, transpose_b: bool = False,
              out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Matrix products of matching (batch, rows, cols) stacks."""
    a = call("transpose", lhs, axes=(0, 2, 1)) if transpose_a and lhs.ndim == 3 else lhs
    b = call("transpose", rhs, axes=(0, 2, 1)) if transpose_b and rhs.ndim == 3 else rhs
    return finish(call("batch_dot", a, b), out, lhs, rhs)


def FullyConnected(data: NDArray, weight: NDArray, bias: NDArray | None = None,
                   num_hidden: int | None = None, no_bias: bool = False, flatten: bool = True,
                   out: NDArray | None = None, name: str | None = None) -> NDArray:
    """y = x . weight^T + bias, with x flattened to 2-D unless flatten=False."""
    if num_hidden is not None and weight.shape[0] != num_hidden:
        raise op_error(ShapeError, "FullyConnected", f"weight has {weight.shape[0]} rows, "
                       f"num_hidden is {num_hidden}", weight)
    x = _flatten(data) if flatten else data
    y = call("dot", x, call("transpose", weight, axes=(1, 0)))
    if not no_bias:
        if bias is None:
            raise op_error(ShapeError, "FullyConnected", "bias is missing (pass no_bias=True)")
        y = y + bias
    return finish(y, out, data, weight)


def _flatten(x: NDArray) -> NDArray:
    return flatten(x) if x.ndim != 2 else x


def _scaled(data: NDArray, temperature: float | None) -> NDArray:
    return data if temperature is None or temperature == 1 else data / temperature


def log_softmax(data: NDArray, axis: int = -1, temperature: float | None = None,
                out: NDArray | None = None, name: str | None = None) -> NDArray:
    """x - logsumexp(x): the max is subtracted first (and held constant), so no exp overflows."""
    axis = normalize_axis("log_softmax", axis, data.ndim)
    x = _scaled(data, temperature)
    shifted = x - call("stop_gradient", call("max", x, axes=(axis,), keepdims=True))
    total = call("sum", call("exp", shifted), axes=(axis,), keepdims=True)
    return finish(shifted - call("log", total), out, data)


def softmax(data: NDArray, axis: int = -1, temperature: float | None = None,
            out: NDArray | None = None, name: str | None = None) -> NDArray:
    """exp(x) / sum(exp(x)) along `axis` (of x / temperature when given), with the max subtracted
    first so that no exp overflows."""
    axis = normalize_axis("softmax", axis, data.ndim)
    x = _scaled(data, temperature)
    e = call("exp", x - call("stop_gradient", call("max", x, axes=(axis,), keepdims=True)))
    return finish(e / call("sum", e, axes=(axis,), keepdims=True), out, data)


def softmin(data: NDArray, axis: int = -1, temperature: float | None = None,
            out: NDArray | None = None, name: str | None = None) -> NDArray:
    """softmax(-x) along `axis`."""
    return finish(softmax(-data, axis, temperature), out, data)


def logsumexp(data: NDArray, axis: int | None = None, keepdims: bool = False) -> NDArray:
    """log(sum(exp(x))) over `axis`, stable for large inputs."""
    axes = tuple(range(data.ndim)) if axis is None else (normalize_axis("logsumexp", axis, data.ndim),)
    m = call("stop_gradient", call("max", data, axes=axes, keepdims=True))
    total = call("sum", call("exp", data - m), axes=axes, keepdims=True)
    result = call("log", total) + m
    if keepdims:
        return result
    shape = tuple(n for i, n in enumerate(data.shape) if i not in axes) or (1,)
    return call("reshape", result, shape=shape)


def softmax_cross_entropy(data: NDArray, label: NDArray, out: NDArray | None = None,
                          name: str | None = None) -> NDArray:
    """-sum over the batch of log_softmax(data)[label]: shape (1,)."""
    if data.ndim != 2 or label.shape != data.shape[:1]:
        raise op_error(ShapeError, "softmax_cross_entropy", "expects data (batch, classes) and "
                       "label (batch,)", data, label)
    picked = pick(log_softmax(data, axis=-1), label, axis=-1)
    return finish(-call("sum", picked, axes=(0,), keepdims=False), out, data)


def softrelu(x: NDArray) -> NDArray:
    """log(1 + exp(x)) = m + log(exp(x - m) + exp(-m)) with m = max(x, 0) held constant: no exp
    overflows, and the gradient is sigmoid(x) everywhere (relu + abs would give 0 at x = 0)."""
    m = call("stop_gradient", call("relu", x))
    # one of exp(x - m), exp(-m) is exactly 1; expm1 keeps the other term's digits for log1p
    return m + call("log1p", call("exp", x - m) + call("expm1", -m))


ACTIVATIONS = {
    "relu": lambda x: call("relu", x),
    "sigmoid": lambda x: call("sigmoid", x),
    "tanh": lambda x: call("tanh", x),
    "softrelu": softrelu,
    "softsign": lambda x: x / (1 + call("abs", x)),
}


def Activation(data: NDArray, act_type: str = "relu", out: NDArray | None = None,
               name: str | None = None) -> NDArray:
    """An activation by name: 'relu', 'sigmoid', 'tanh', 'softrelu' or 'softsign'."""
    if act_type not in ACTIVATIONS:
        raise op_error(ShapeError, "Activation", f"unknown act_type {act_type!r}; expected one of "
                       f"{sorted(ACTIVATIONS)}", data)
    return finish(ACTIVATIONS[act_type](data), out, data)


def _negative_part_elu(x: NDArray, alpha: float) -> NDArray:
    # expm1 of min(x, 0): the branch where() discards stays finite, so its gradient is 0, not nan
    return alpha * call("expm1", call("minimum", x, constant(0, x, "LeakyReLU")))


def LeakyReLU(data: NDArray, gamma: NDArray | None = None, act_type: str = "leaky", slope: float = 0.25,
              lower_bound: float = 0.125, upper_bound: float = 0.334, out: NDArray | None = None,
              name: str | None = None) -> NDArray:
    """Leaky rectifiers by `act_type`: 'leaky' (x or slope * x), 'elu', 'selu', 'gelu', 'prelu'
    (a learned slope `gamma`, one per channel of axis 1) and 'rrelu' (a random slope in
    [lower_bound, upper_bound] in training, their mean otherwise)."""
    positive = data > 0
    if act_type == "leaky":
        result = call("where", positive, data, data * slope)
    elif act_type == "elu":
        result = call("where", positive, data, _negative_part_elu(data, slope))
    elif act_type == "selu":
        result = SELU_SCALE * call("where", positive, data, _negative_part_elu(data, SELU_ALPHA))
    elif act_type == "gelu":
        result = 0.5 * data * (1 + call("erf", data * (1 / math.sqrt(2.0))))
    elif act_type == "prelu":
        if gamma is None:
            raise op_error(ShapeError, "LeakyReLU", "act_type 'prelu' needs gamma", data)
        g = gamma if gamma.ndim != 1 or data.ndim < 2 else call(
            "reshape", gamma, shape=(1, gamma.size) + (1,) * (data.ndim - 2))
        result = call("where", positive, data, data * g)
    elif act_type == "rrelu":
        if STATE.training:
            slopes = random.uniform(lower_bound, upper_bound, data.shape, dtype=data._data.dtype)
        else:
            slopes = constant((lower_bound + upper_bound) / 2, data, "LeakyReLU")
        result = call("where", positive, data, data * slopes)
    else:
        raise op_error(ShapeError, "LeakyReLU", f"unknown act_type {act_type!r}", data)
    return finish(result, out, data)


def Dropout(data: NDArray, p: float = 0.5, mode: str = "training", axes: Sequence[int] = (),
            out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Zero each element with probability p and scale the rest by 1/(1-p): in training mode (or
    always, with mode='always'); otherwise the identity."""
    if not 0 <= p <= 1:
        raise op_error(ShapeError, "Dropout", f"p must be in [0, 1], got {p}", data)
    if mode not in ("training", "always"):
        raise op_error(ShapeError, "Dropout", f"mode must be 'training' or 'always', got {mode!r}")
    if p == 0 or (mode == "training" and not STATE.training):
        return finish(data, out)
    shape = tuple(1 if i in {normalize_axis("Dropout", a, data.ndim) for a in axes} else n
                  for i, n in enumerate(data.shape))
    if (tracer := current_tracer()) is not None:  # a replayed trace would repeat the same mask
        tracer.impure("random numbers (Dropout)")
    keep = random.generator().uniform(size=shape) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    mask = NDArray((keep * scale).astype(data._data.dtype))
    return finish(data * mask, out, data)
