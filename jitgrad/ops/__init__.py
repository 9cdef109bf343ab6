"""The primitive table: one entry per primitive, the single source of truth for every consumer.

Each `Primitive` declares its kind, its numpy implementation (the reference semantics), its shape and
dtype rule, one gradient rule per input (written with jitgrad's own ops, so it is traceable and
differentiable again), its codegen template where it has one, and the domain its tests sample from.
The tables live in the submodules by kind; importing this package fills `PRIMITIVES`.

A gradient rule computes on whatever arrays it is given: NDArrays when the backward is recorded or
traced, plain numpy arrays otherwise (autograd's plain backward). It uses arithmetic operators, `call`
and the helpers below, which mean the same on both; NDArray methods it must not use.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import DTypeError, IndexingError, JitgradError, ShapeError, op_error

KINDS = ("elementwise", "reduction", "contraction", "movement", "opaque")


@dataclass(frozen=True, eq=False)
class Primitive:
    name: str
    kind: str
    impl: Callable                 # impl(*numpy_arrays, **attrs) -> numpy array (a numpy scalar
    #                                for 0-d operands, as numpy's ufuncs give: callers take np.asarray)
    shape_rule: Callable           # shape_rule(*arrays_with_shape_and_dtype, **attrs) -> (shape, dtype)
    grads: tuple | Callable | None = None  # per input: rule(g, out, *inputs, **attrs) -> cotangent or
    #                                          None; variadic ops give one rule(i, g, out, *inputs, **attrs)
    expr: str | None = None        # elementwise: scalar expression over {0}, {1}, ... for codegen
    domain: tuple = ((-2.0, 2.0),)  # per input (lo, hi) for tests; the last entry repeats
    tol: float = 1e-6              # relative tolerance of the float64 finite-difference check
    test_attrs: tuple = ({},)      # attribute sets the table-driven tests exercise

    @property
    def differentiable(self) -> bool:
        return callable(self.grads) or self.grads is not None and any(r is not None for r in self.grads)

    def grad_rule(self, i: int) -> Callable | None:
        if self.grads is None:
            return None
        if callable(self.grads):
            return functools.partial(self.grads, i)
        return self.grads[i]

    def domain_of(self, i: int) -> tuple:
        return self.domain[min(i, len(self.domain) - 1)]

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


PRIMITIVES: dict[str, Primitive] = {}


def register(prim: Primitive) -> Primitive:
    if prim.name in PRIMITIVES:
        raise ValueError(f"primitive {prim.name!r} declared twice")
    if prim.kind not in KINDS:
        raise ValueError(f"primitive {prim.name!r} has unknown kind {prim.kind!r}")
    PRIMITIVES[prim.name] = prim
    return prim


_dispatch: list = []  # the dispatcher, installed by jitgrad.dispatch (the table sits below it)


def install_dispatcher(fn: Callable) -> None:
    _dispatch[:] = [fn]


# numpy's own exceptions, re-raised as ours with the op and operands named
NUMPY_FAILURES = {IndexError: IndexingError, TypeError: DTypeError, ValueError: ShapeError,
                  ArithmeticError: ShapeError}


def compute(prim: Primitive, datas: tuple, attrs: dict) -> np.ndarray:
    """The primitive on numpy arrays: the inputs checked by its shape rule, the result of the
    rule's shape and dtype."""
    shape, dtype = prim.shape_rule(*datas, **attrs) if attrs else prim.shape_rule(*datas)
    try:   # (calls without **attrs when there are none: 0.1 us less each)
        out = prim.impl(*datas, **attrs) if attrs else prim.impl(*datas)
    except JitgradError:
        raise
    except tuple(NUMPY_FAILURES) as e:
        cls = next(ours for theirs, ours in NUMPY_FAILURES.items() if isinstance(e, theirs))
        raise op_error(cls, prim.name, f"{type(e).__name__}: {e}", *datas) from e
    if type(out) is not np.ndarray:   # numpy's ufuncs give a scalar for 0-d operands
        out = np.asarray(out)
    if out.dtype is not dtype and out.dtype != dtype:   # (builtin dtypes are one object each)
        out = out.astype(dtype)
    if out.shape != shape:
        raise AssertionError(f"{prim.name}: implementation gave shape {out.shape}, rule says {shape}")
    return out


PLAIN = (np.ndarray, np.generic)   # numpy data (arithmetic on 0-d arrays gives numpy scalars)


def call(name: str, *inputs, **attrs):
    """Apply primitive `name` (what gradient rules use for ops without an operator): to NDArrays
    through the dispatcher, so it is recorded or traced; to numpy data directly."""
    if isinstance(inputs[0], PLAIN):
        return compute(PRIMITIVES[name], tuple(map(np.asarray, inputs)), attrs)
    return _dispatch[0](PRIMITIVES[name], *inputs, **attrs)


def zeros_like(x):
    return np.zeros_like(x) if isinstance(x, PLAIN) else x.zeros_like()


def ones_like(x):
    return np.ones_like(x) if isinstance(x, PLAIN) else x.ones_like()


def reshape(x, shape):
    """Plain reshape to a concrete shape (no MXNet special codes), for use inside rules."""
    return call("reshape", x, shape=tuple(shape))


def broadcast_to(x, shape):
    return call("broadcast_to", x, shape=tuple(shape))


def reduce_sum(x, axes, keepdims=False):
    return call("sum", x, axes=tuple(axes), keepdims=keepdims)


from . import elementwise, reduction, linalg, movement  # noqa: E402,F401  (fill the table)
