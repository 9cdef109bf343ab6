"""Contractions. Transpose flags are lowered to explicit `transpose` ops by the nd layer (numpy and BLAS
take transposed views without copying), so the primitives themselves have no flags."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError, op_error
from .elementwise import same_dtype
from . import Primitive, call, register, reshape


def dot_rule(a, b):
    dtype = same_dtype("dot", (a, b))
    if a.ndim == 0 or b.ndim == 0:
        raise op_error(ShapeError, "dot", "operands must have at least one dimension", a, b)
    if a.shape[-1] != b.shape[0]:
        raise op_error(ShapeError, "dot", f"inner dimensions differ: {a.shape[-1]} (last axis of lhs) "
                       f"vs {b.shape[0]} (first axis of rhs)", a, b)
    return (a.shape[:-1] + b.shape[1:]) or (1,), dtype


def dot_impl(a, b):
    # MXNet's dot contracts the last axis of lhs with the first axis of rhs, for any ndim.
    out = np.dot(a, b) if a.ndim <= 2 and b.ndim <= 2 else np.tensordot(a, b, axes=1)
    return np.asarray(out).reshape(dot_rule(a, b)[0])


def as_matrices(g, a, b):
    """(g, a, b) flattened to (M, N), (M, K), (K, N): every dot is a matrix product underneath."""
    m, n = math.prod(a.shape[:-1]), math.prod(b.shape[1:])
    k = a.shape[-1]
    return reshape(g, (m, n)), reshape(a, (m, k)), reshape(b, (k, n))


def dot_grad_lhs(g, out, a, b):
    g2, _, b2 = as_matrices(g, a, b)
    return reshape(call("dot", g2, b2.T), a.shape)


def dot_grad_rhs(g, out, a, b):
    g2, a2, _ = as_matrices(g, a, b)
    return reshape(call("dot", a2.T, g2), b.shape)


register(Primitive("dot", "contraction", dot_impl, dot_rule, grads=(dot_grad_lhs, dot_grad_rhs),
                   test_attrs=({},)))


def batch_dot_rule(a, b):
    dtype = same_dtype("batch_dot", (a, b))
    if a.ndim != 3 or b.ndim != 3:
        raise op_error(ShapeError, "batch_dot", "operands must be 3-D (batch, rows, cols)", a, b)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise op_error(ShapeError, "batch_dot", "batch sizes or inner dimensions differ", a, b)
    return (a.shape[0], a.shape[1], b.shape[2]), dtype


def swap_last(x):
    return call("transpose", x, axes=(0, 2, 1))


register(Primitive(
    "batch_dot", "contraction", np.matmul, batch_dot_rule,
    grads=(lambda g, out, a, b: call("batch_dot", g, swap_last(b)),
           lambda g, out, a, b: call("batch_dot", swap_last(a), g))))
