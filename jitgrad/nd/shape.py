"""Shape manipulation. Everything here is a composition of the movement primitives, so gradients
(and later, compilation) come from the primitive table alone."""
from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import IndexingError, ShapeError, op_error
from ..ndarray import NDArray, call, fresh
from ..shapes import normalize_axis
from ..typing import AxisLike, DTypeLike
from .math import finish

FULL = ("s", None, None, None)


def resolve_reshape(in_shape: tuple, codes: tuple, reverse: bool = False) -> tuple:
    """MXNet's reshape codes: 0 copies a dim, -1 infers one, -2 copies the rest, -3 merges two dims,
    -4 splits one dim into the two values that follow it (either may be -1)."""
    src = list(in_shape[::-1] if reverse else in_shape)
    codes = list(codes[::-1] if reverse else codes)
    if reverse:  # a -4 split reads its two sizes after it: keep them in order when reversed
        codes = _unreverse_splits(codes)
    out, i, pos, infer = [], 0, 0, None

    def bad(why):
        return op_error(ShapeError, "reshape", f"{why} (codes {tuple(codes)} for shape {in_shape})")

    while i < len(codes):
        c = codes[i]
        if c == 0:
            if pos >= len(src):
                raise bad("code 0 has no input dimension to copy")
            out.append(src[pos]); pos += 1
        elif c == -1:
            if infer is not None:
                raise bad("more than one -1")
            infer = len(out); out.append(1); pos += 1
        elif c == -2:
            out.extend(src[pos:]); pos = len(src)
        elif c == -3:
            if pos + 1 >= len(src):
                raise bad("code -3 needs two input dimensions")
            out.append(src[pos] * src[pos + 1]); pos += 2
        elif c == -4:
            if i + 2 >= len(codes):
                raise bad("code -4 must be followed by two sizes")
            d0, d1 = codes[i + 1], codes[i + 2]
            if pos >= len(src) or (d0 == -1 and d1 == -1):
                raise bad("code -4 needs an input dimension and at most one -1")
            d0 = src[pos] // d1 if d0 == -1 else d0
            d1 = src[pos] // d0 if d1 == -1 else d1
            if d0 * d1 != src[pos]:
                raise bad(f"cannot split dimension {src[pos]} into {d0} x {d1}")
            out += [d0, d1]; pos += 1; i += 2
        elif c > 0:
            out.append(c); pos += 1
        else:
            raise bad(f"unknown code {c}")
        i += 1
    total = math.prod(in_shape)
    if infer is not None:
        rest = math.prod(out[:infer] + out[infer + 1:])
        if rest == 0 or total % rest:
            raise bad(f"cannot infer -1 for {total} elements")
        out[infer] = total // rest
    if math.prod(out) != total:
        raise bad(f"{total} elements do not fit shape {tuple(out[::-1] if reverse else out)}")
    return tuple(out[::-1] if reverse else out)


def _unreverse_splits(codes: list) -> list:
    out, i = [], 0
    while i < len(codes):
        if i + 2 < len(codes) and codes[i + 2] == -4:
            out += [-4, codes[i + 1], codes[i]]; i += 3
        else:
            out.append(codes[i]); i += 1
    return out


def reshape(data: NDArray, *shape: Any, reverse: bool = False, out: NDArray | None = None,
            **kwargs: Any) -> NDArray:
    """Reshape with MXNet's special codes; `x.reshape(2, 3)` and `x.reshape((2, 3))` both work."""
    if "shape" in kwargs:
        shape = (kwargs.pop("shape"),)
    if len(shape) == 1 and not np.isscalar(shape[0]):
        shape = tuple(shape[0])
    target = resolve_reshape(data.shape, tuple(int(s) for s in shape), reverse)
    return finish(call("reshape", data, shape=target), out, data)


def transpose(data: NDArray, axes: Sequence[int] | None = None,
              out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Permute the axes (reverse them when `axes` is None or empty)."""
    axes = tuple(range(data.ndim))[::-1] if axes is None or axes == () else \
        tuple(normalize_axis("transpose", a, data.ndim) for a in axes)
    return finish(call("transpose", data, axes=axes), out, data)


def expand_dims(data: NDArray, axis: int, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Insert an axis of size 1 at position `axis`."""
    axis = normalize_axis("expand_dims", axis, data.ndim + 1)
    return finish(call("reshape", data, shape=data.shape[:axis] + (1,) + data.shape[axis:]), out, data)


def squeeze(data: NDArray, axis: AxisLike = None,
            out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Remove axes of size 1 (all of them when `axis` is None); the result has at least one axis."""
    if axis is None:
        axes = {i for i, n in enumerate(data.shape) if n == 1}
    else:
        axes = {normalize_axis("squeeze", a, data.ndim) for a in np.atleast_1d(axis).tolist()}
        if any(data.shape[a] != 1 for a in axes):
            raise op_error(ShapeError, "squeeze", f"axis {axis} does not have size 1", data)
    shape = tuple(n for i, n in enumerate(data.shape) if i not in axes) or (1,)
    return finish(call("reshape", data, shape=shape), out, data)


def flatten(data: NDArray, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Keep the first axis, merge the rest (a 1-D input becomes (n, 1), as in MXNet)."""
    first = data.shape[0] if data.ndim else 1
    return finish(call("reshape", data, shape=(first, math.prod(data.shape[1:]))), out, data)


def broadcast_to(data: NDArray, shape: Sequence[int],
                 out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Broadcast to `shape`; a 0 in `shape` keeps that input dimension."""
    shape = tuple(int(s) for s in shape)
    lead = len(shape) - data.ndim
    shape = tuple(data.shape[i - lead] if s == 0 and i >= lead else s for i, s in enumerate(shape))
    return finish(call("broadcast_to", data, shape=shape), out, data)


def broadcast_like(lhs: NDArray, rhs: NDArray,
                   out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Broadcast `lhs` to the shape of `rhs`."""
    return finish(call("broadcast_to", lhs, shape=rhs.shape), out, lhs)


def broadcast_axes(data: NDArray, axis: int | Sequence[int] = (), size: int | Sequence[int] = (),
                   out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Broadcast each axis in `axis` (of size 1) to the matching entry of `size`."""
    shape = list(data.shape)
    for a, n in zip(np.atleast_1d(axis).tolist(), np.atleast_1d(size).tolist(), strict=True):
        shape[normalize_axis("broadcast_axes", a, data.ndim)] = n
    return finish(call("broadcast_to", data, shape=tuple(shape)), out, data)


broadcast_axis = broadcast_axes


def tile(data: NDArray, reps: int | Sequence[int],
         out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Repeat the whole array `reps` times along each axis (numpy's `tile`)."""
    reps = tuple(int(r) for r in np.atleast_1d(reps))
    ndim = builtins.max(len(reps), data.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - data.ndim) + data.shape
    spread = call("reshape", data, shape=tuple(v for n in shape for v in (1, n)))
    big = call("broadcast_to", spread, shape=tuple(v for r, n in zip(reps, shape) for v in (r, n)))
    return finish(call("reshape", big, shape=tuple(r * n for r, n in zip(reps, shape))), out, data)


def repeat(data: NDArray, repeats: int, axis: int | None = None,
           out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Repeat each element `repeats` times along `axis` (of the flattened array when None)."""
    x = call("reshape", data, shape=(data.size,)) if axis is None else data
    a = 0 if axis is None else normalize_axis("repeat", axis, data.ndim)
    spread = call("reshape", x, shape=x.shape[:a + 1] + (1,) + x.shape[a + 1:])
    big = call("broadcast_to", spread, shape=x.shape[:a + 1] + (int(repeats),) + x.shape[a + 1:])
    merged = x.shape[:a] + (x.shape[a] * int(repeats),) + x.shape[a + 1:]
    return finish(call("reshape", big, shape=merged), out, data)


def flip(data: NDArray, axis: int | Sequence[int],
         out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Reverse the order of the elements along `axis`."""
    axes = {normalize_axis("flip", a, data.ndim) for a in np.atleast_1d(axis).tolist()}
    key = tuple(("s", None, None, -1) if i in axes else FULL for i in range(data.ndim))
    return finish(call("index", data, key=key), out, data)


reverse = flip


def swapaxes(data: NDArray, dim1: int = 0, dim2: int = 0,
             out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Exchange axes `dim1` and `dim2`."""
    axes = list(range(data.ndim))
    a, b = normalize_axis("swapaxes", dim1, data.ndim), normalize_axis("swapaxes", dim2, data.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return finish(call("transpose", data, axes=tuple(axes)), out, data)


SwapAxis = swapaxes


def moveaxis(data: NDArray, source: int, destination: int) -> NDArray:
    """Move axis `source` to position `destination`, keeping the order of the others."""
    axes = list(range(data.ndim))
    axes.insert(normalize_axis("moveaxis", destination, data.ndim),
                axes.pop(normalize_axis("moveaxis", source, data.ndim)))
    return call("transpose", data, axes=tuple(axes))


def slice(data: NDArray, begin: Sequence[int | None], end: Sequence[int | None],  # noqa: A001
          step: Sequence[int | None] | None = None, out: NDArray | None = None,
          name: str | None = None) -> NDArray:
    """data[begin[0]:end[0]:step[0], begin[1]:end[1]:step[1], ...]; None is an open end."""
    step = step or (None,) * len(begin)
    key = tuple(("s", b, e, s) for b, e, s in zip(begin, end, step, strict=True))
    return finish(call("index", data, key=key), out, data)


def slice_axis(data: NDArray, axis: int, begin: int, end: int | None,
               out: NDArray | None = None, name: str | None = None) -> NDArray:
    """The elements `begin` to `end` (excluded; None for the end) along `axis`."""
    axis = normalize_axis("slice_axis", axis, data.ndim)
    key = (FULL,) * axis + (("s", begin, end, None),)
    return finish(call("index", data, key=key), out, data)


def concat(*data: NDArray, dim: int = 1, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Join along `dim` (MXNet's default is 1)."""
    if not data:
        raise op_error(ShapeError, "concat", "needs at least one array")
    dim = normalize_axis("concat", dim, data[0].ndim)
    return finish(call("concat", *data, axis=dim), out, *data)


Concat = concat


def concatenate(arrays: Sequence[NDArray], axis: int = 0, always_copy: bool = True) -> NDArray:
    """Join a sequence of arrays along `axis` (default 0)."""
    return concat(*arrays, dim=axis)


def stack(*data: NDArray, axis: int = 0, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Join arrays of one shape along a new axis `axis`."""
    if not data:
        raise op_error(ShapeError, "stack", "needs at least one array")
    axis = normalize_axis("stack", axis, data[0].ndim + 1)
    return finish(call("concat", *(expand_dims(x, axis) for x in data), axis=axis), out, *data)


def split(data: NDArray, num_outputs: int, axis: int = 1,
          squeeze_axis: bool = False) -> NDArray | list[NDArray]:
    """`num_outputs` equal parts along `axis`: a list (a single NDArray when num_outputs is 1)."""
    axis = normalize_axis("split", axis, data.ndim)
    size = data.shape[axis]
    if num_outputs <= 0 or size % num_outputs:
        raise op_error(ShapeError, "split", f"axis {axis} of size {size} does not split into "
                       f"{num_outputs} equal parts", data)
    step = size // num_outputs
    parts = [slice_axis(data, axis, i * step, (i + 1) * step) for i in range(num_outputs)]
    if squeeze_axis and step == 1:
        parts = [squeeze(p, axis) for p in parts]
    return parts[0] if num_outputs == 1 else parts


SliceChannel = split


def take(a: NDArray, indices: NDArray, axis: int = 0, mode: str = "clip", out: NDArray | None = None,
         name: str | None = None) -> NDArray:
    """Gather whole slices of `a` along `axis`; out-of-range indices are clipped or wrapped."""
    axis = normalize_axis("take", axis, a.ndim)
    n = a.shape[axis]
    if mode == "clip":
        idx = call("minimum", call("maximum", indices, _like(indices, 0)), _like(indices, n - 1))
    elif mode == "wrap":
        idx = call("mod", indices, _like(indices, n))
    elif mode == "raise":
        idx = indices
        bad = indices._data[(indices._data < 0) | (indices._data >= n)]
        if bad.size:
            raise op_error(IndexingError, "take", f"index {bad.flat[0]} is out of bounds for axis "
                           f"{axis} of size {n}", a, indices)
    else:
        raise op_error(ShapeError, "take", f"mode must be 'clip', 'wrap' or 'raise', got {mode!r}", a)
    key = (FULL,) * axis + (("a", 0),)
    return finish(call("index", a, idx, key=key), out, a)


def pick(data: NDArray, index: NDArray, axis: int = -1, keepdims: bool = False, mode: str = "clip",
         out: NDArray | None = None, name: str | None = None) -> NDArray:
    """data[..., index, ...] along `axis`, one element per position of `index`."""
    axis = normalize_axis("pick", axis, data.ndim)
    rest = data.shape[:axis] + data.shape[axis + 1:]
    if index.size != math.prod(rest):
        raise op_error(ShapeError, "pick", f"index shape must be {rest}", data, index)
    n = data.shape[axis]
    idx = call("minimum", call("maximum", index, _like(index, 0)), _like(index, n - 1)) \
        if mode == "clip" else call("mod", index, _like(index, n))
    idx = call("reshape", idx, shape=rest)
    grids = np.indices(rest, sparse=True) if rest else []
    arrays = [fresh(g) for g in grids]
    arrays.insert(axis, idx)
    key = tuple(("a", i) for i in range(len(arrays)))
    result = call("index", data, *arrays, key=key)
    return finish(expand_dims(result, axis) if keepdims else result, out, data)


def one_hot(indices: NDArray, depth: int, on_value: float = 1.0, off_value: float = 0.0,
            dtype: DTypeLike = "float32", out: NDArray | None = None, name: str | None = None) -> NDArray:
    """For each index, a vector of length `depth`: `on_value` at the index, `off_value` elsewhere."""
    positions = fresh(np.arange(int(depth), dtype=indices._data.dtype))
    whole = call("trunc", indices)  # MXNet truncates float indices
    hot = call("equal", call("reshape", whole, shape=indices.shape + (1,)), positions)
    hot = hot.astype(dtype)
    return finish(hot * (on_value - off_value) + off_value, out)


def _like(x: NDArray, value: float) -> NDArray:
    return fresh(np.asarray(value, dtype=x._data.dtype))
