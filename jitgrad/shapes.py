"""Shape arithmetic: broadcasting, axis normalisation, and the reduction axes that undo a broadcast."""
from __future__ import annotations

from .errors import ShapeError, op_error


def broadcast_shapes(op: str, *shapes: tuple, operands=()) -> tuple:
    """NumPy broadcasting of `shapes`; a ShapeError naming `op` (and `operands`) when they do not."""
    first = shapes[0]
    if shapes.count(first) == len(shapes):
        return first
    if len(shapes) == 2 and not (shapes[0] and shapes[1]):  # an operand is 0-d: a scalar
        return shapes[0] or shapes[1]
    ndim = max(len(s) for s in shapes)
    out = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            listed = " and ".join(str(tuple(s)) for s in shapes)
            raise op_error(ShapeError, op, f"shapes {listed} cannot be broadcast together", *operands)
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def normalize_axis(op: str, axis: int, ndim: int) -> int:
    """`axis` in range(ndim), accepting negative values."""
    if not isinstance(axis, (int,)) or isinstance(axis, bool):
        raise op_error(ShapeError, op, f"axis must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise op_error(ShapeError, op, f"axis {axis} is out of range for an array of {ndim} dimensions")
    return axis % ndim


def normalize_axes(op: str, axis, ndim: int, exclude: bool = False) -> tuple:
    """Sorted tuple of reduced axes for `axis` (None, int or sequence); `exclude` takes the complement."""
    if axis is None or axis == ():
        return tuple(range(ndim))
    if type(axis) is int and 0 <= axis < ndim and not exclude:
        return (axis,)
    if isinstance(axis, int):
        axis = (axis,)
    axes = tuple(sorted({normalize_axis(op, a, ndim) for a in axis}))
    if len(axes) != len(tuple(axis)):
        raise op_error(ShapeError, op, f"repeated axis in {axis!r}")
    if exclude:
        axes = tuple(a for a in range(ndim) if a not in axes)
    return axes


def reduced_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    """Shape after reducing `axes`; MXNet's legacy rule makes a full reduction (1,), never ()."""
    if len(axes) == len(shape):   # every axis: the common full reduction, without a loop
        return (1,) * len(shape) if keepdims and shape else (1,)
    if keepdims:
        out = tuple(1 if i in axes else n for i, n in enumerate(shape))
    else:
        out = tuple(n for i, n in enumerate(shape) if i not in axes)
    return out if out else (1,)


def unbroadcast_axes(shape: tuple, target: tuple) -> tuple[tuple[int, ...], int]:
    """(axes to sum with keepdims, leading axes count) that take `shape` back to broadcastable `target`."""
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1
    )
    return axes, lead
