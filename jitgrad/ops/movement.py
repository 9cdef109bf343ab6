"""Movement primitives: reshape, transpose, broadcast_to, concat, and indexing (gather / scatter-add).

Indexing keys are hashable templates so traces can be cached on them: ints, None, '...', ('s', start,
stop, step) for slices and ('a', i) for the i-th index-array input.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DTypeError, IndexingError, ShapeError, op_error
from .elementwise import same_dtype
from . import Primitive, call, register, reshape
from ..shapes import broadcast_shapes, unbroadcast_axes


def reshape_rule(x, shape):
    # concrete sizes only: the nd layer resolves MXNet's codes (and numpy's -1) before this point
    if min(shape, default=0) < 0 or math.prod(shape) != x.size:
        raise op_error(ShapeError, "reshape", f"cannot reshape {x.size} elements into shape {shape}", x)
    return tuple(shape), x.dtype


register(Primitive(
    "reshape", "movement", lambda x, shape: x.reshape(shape), reshape_rule,
    grads=(lambda g, out, x, shape: reshape(g, x.shape),),
    test_attrs=({"shape": (12,)}, {"shape": (2, 1, 6)})))  # for a (3, 4) input


def transpose_rule(x, axes):
    if sorted(axes) != list(range(x.ndim)):
        raise op_error(ShapeError, "transpose", f"axes {axes} are not a permutation of {x.ndim} axes", x)
    return tuple(x.shape[a] for a in axes), x.dtype


def transpose_grad(g, out, x, axes):
    return call("transpose", g, axes=tuple(np.argsort(axes).tolist()))


register(Primitive("transpose", "movement", np.transpose, transpose_rule, grads=(transpose_grad,),
                   test_attrs=({"axes": (1, 0)},)))


def broadcast_to_rule(x, shape):
    shape = tuple(shape)
    if len(shape) < x.ndim or x.size != 1 and broadcast_shapes("broadcast_to", x.shape, shape) != shape:
        raise op_error(ShapeError, "broadcast_to", f"cannot broadcast to shape {shape}", x)
    return shape, x.dtype


def broadcast_to_impl(x, shape):
    """np.broadcast_to (a read-only view); of one element, the zero-strided view made directly, in a
    quarter of the time (the gradient of every full reduction broadcasts one element)."""
    if x.size != 1:
        return np.broadcast_to(x, shape)
    view = np.ndarray(shape, x.dtype, x, 0, (0,) * len(shape))
    view.setflags(write=False)
    return view


def unbroadcast(g, shape):
    """Sum the cotangent `g` back to `shape`, the shape of an operand that was broadcast."""
    if g.shape == tuple(shape):
        return g
    axes, _ = unbroadcast_axes(g.shape, tuple(shape))
    summed = call("sum", g, axes=axes, keepdims=True)
    return summed if summed.shape == tuple(shape) else reshape(summed, shape)


register(Primitive(
    "broadcast_to", "movement", broadcast_to_impl, broadcast_to_rule,
    grads=(lambda g, out, x, shape: unbroadcast(g, x.shape),), test_attrs=({"shape": (3, 2, 3)},)))


def concat_rule(*xs, axis):
    same_dtype("concat", xs)
    first = xs[0].shape
    if not 0 <= axis < len(first):
        raise op_error(ShapeError, "concat", f"axis {axis} out of range", *xs)
    for x in xs[1:]:
        if len(x.shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(x.shape, first))
                                             if i != axis):
            raise op_error(ShapeError, "concat", f"shapes differ outside axis {axis}", *xs)
    size = sum(x.shape[axis] for x in xs)
    return first[:axis] + (size,) + first[axis + 1:], xs[0].dtype


def concat_grad(i, g, out, *xs, axis):
    start = sum(x.shape[axis] for x in xs[:i])
    key = (("s", None, None, None),) * axis + (("s", start, start + xs[i].shape[axis], None),)
    return call("index", g, key=key)


register(Primitive("concat", "movement", lambda *xs, axis: np.concatenate(xs, axis=axis), concat_rule,
                   grads=concat_grad, test_attrs=({"axis": 1},)))


# ---- indexing -------------------------------------------------------------------------------------

def decode(key, arrays) -> tuple:
    """The numpy key for a template; index arrays are cast to integers (MXNet indexes with floats)."""
    out = []
    for k in key:
        if isinstance(k, tuple):
            out.append(slice(*k[1:]) if k[0] == "s" else arrays[k[1]].astype(np.intp, copy=False))
        else:
            out.append(Ellipsis if k == "..." else k)
    return tuple(out)


def stand_in(shape) -> np.ndarray:
    """A read-only array of `shape` whose elements all share one byte (strides 0): free to make."""
    a = np.ndarray(shape, np.int8, buffer=ZERO_BYTE, strides=(0,) * len(shape))
    a.flags.writeable = False
    return a


ZERO_BYTE = bytes(1)


def shape_of_index(op, x_shape, key, arrays, *operands) -> tuple:
    """Result shape of x[key], found on a zero-strided stand-in so no data is touched."""
    fake = stand_in(x_shape)
    try:
        return fake[decode(key, arrays)].shape or (1,)
    except IndexError as e:
        raise op_error(IndexingError, op, f"{e}", *operands) from None


def check_index_arrays(op, arrays):
    for a in arrays:
        if a.dtype.kind not in "fiu":
            raise op_error(DTypeError, op, "index arrays must hold numbers", a)


def index_rule(x, *arrays, key):
    check_index_arrays("index", arrays)
    return shape_of_index("index", x.shape, key, arrays, x, *arrays), x.dtype


def index_impl(x, *arrays, key):
    out = np.asarray(x[decode(key, arrays)])
    return out.reshape(1) if out.ndim == 0 else out


def index_add_rule(g, *arrays, key, shape):
    check_index_arrays("index_add", arrays)
    target = shape_of_index("index_add", shape, key, arrays, g, *arrays)
    if math.prod(target) != g.size:
        raise op_error(ShapeError, "index_add", f"values do not fit the indexed region {target}", g)
    return tuple(shape), g.dtype


def index_add_impl(g, *arrays, key, shape):
    """zeros(shape) with g added at key; repeated indices accumulate."""
    out = np.zeros(shape, g.dtype)
    k = decode(key, arrays)
    region = stand_in(shape)[k].shape
    if arrays:
        np.add.at(out, k, g.reshape(region))
    else:
        out[k] = g.reshape(region)
    return out


def index_grad(g, out, x, *arrays, key):
    return call("index_add", g, *arrays, key=key, shape=x.shape)


def index_add_grad(g, out, v, *arrays, key, shape):
    return reshape(call("index", g, *arrays, key=key), v.shape)


def first_only(rule):
    """Gradient rules for a differentiable first input followed by index arrays (no gradient)."""
    return lambda i, *args, **attrs: rule(*args, **attrs) if i == 0 else None


register(Primitive("index", "movement", index_impl, index_rule, grads=first_only(index_grad),
                   test_attrs=({"key": (("s", None, None, -1), 1)},)))
register(Primitive("index_add", "movement", index_add_impl, index_add_rule,
                   grads=first_only(index_add_grad),
                   test_attrs=({"key": (("s", 1, None, None),), "shape": (4, 3)},)))
