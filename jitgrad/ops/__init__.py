"""The primitive table: one entry per primitive, the single source of truth for every consumer.

Each `Primitive` declares its kind, its numpy implementation (the reference semantics), its shape and
dtype rule, one gradient rule per input (written with jitgrad's own ops, so it is traceable and
differentiable again), its codegen template where it has one, and the domain its tests sample from.
The tables live in the submodules by kind; importing this package fills `PRIMITIVES`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

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


def call(name: str, *inputs, **attrs):
    """Apply primitive `name`: what gradient rules use for ops that have no NDArray method."""
    return _dispatch[0](PRIMITIVES[name], *inputs, **attrs)


def reshape(x, shape):
    """Plain reshape to a concrete shape (no MXNet special codes), for use inside rules."""
    return call("reshape", x, shape=tuple(shape))


def broadcast_to(x, shape):
    return call("broadcast_to", x, shape=tuple(shape))


def reduce_sum(x, axes, keepdims=False):
    return call("sum", x, axes=tuple(axes), keepdims=keepdims)


from . import elementwise, reduction, linalg, movement  # noqa: E402,F401  (fill the table)
