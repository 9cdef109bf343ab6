"""Elementwise functions of the nd namespace: thin, named entry points onto the primitive table."""
from __future__ import annotations

from typing import Callable

from ..errors import DTypeError, ShapeError, op_error
from ..ndarray import NDArray, call, constant
from ..ops import PRIMITIVES, _dispatch
from ..typing import DTypeLike, Operand

UNARY_PRIMITIVES = (
    "negative exp expm1 log log2 log10 log1p sqrt cbrt sin cos tan arcsin arccos arctan sinh cosh "
    "tanh arcsinh arccosh arctanh sigmoid erf abs relu sign floor ceil round rint trunc "
    "stop_gradient").split()
BINARY_PRIMITIVES = (
    "add subtract multiply divide power mod maximum minimum equal not_equal greater greater_equal "
    "less less_equal").split()
# MXNet's other spellings of the binary functions
BINARY_ALIASES = {
    "add": ("plus", "broadcast_add", "broadcast_plus"),
    "subtract": ("minus", "broadcast_sub", "broadcast_minus"),
    "multiply": ("broadcast_mul",), "divide": ("broadcast_div", "true_divide"),
    "power": ("broadcast_power",), "mod": ("broadcast_mod",),
    "maximum": ("broadcast_maximum",), "minimum": ("broadcast_minimum",),
    "equal": ("broadcast_equal",), "not_equal": ("broadcast_not_equal",),
    "greater": ("broadcast_greater",), "greater_equal": ("broadcast_greater_equal",),
    "less": ("lesser", "broadcast_lesser"), "less_equal": ("lesser_equal", "broadcast_lesser_equal"),
}
ELEMWISE = {"elemwise_add": "add", "elemwise_sub": "subtract", "elemwise_mul": "multiply",
            "elemwise_div": "divide"}


def finish(result: NDArray, out: NDArray | None, *inputs: NDArray) -> NDArray:
    """Honour `out=`: write the result into `out` (with the record-time rules of in-place writes)."""
    if out is None:
        return result
    if out.shape != result.shape or out.dtype != result.dtype:  # MXNet infers out's type: no casts
        raise op_error(ShapeError if out.shape != result.shape else DTypeError, "out",
                       "the out= array must have the result's shape and dtype", result, out)
    out._assign(..., result, self_is_input=any(out is x for x in inputs))
    return out


def operands(name: str, lhs: Operand, rhs: Operand) -> tuple[NDArray, NDArray]:
    """Both operands as NDArrays; a Python scalar takes the dtype of the array beside it."""
    if isinstance(lhs, NDArray):
        return lhs, constant(rhs, lhs, name)
    if isinstance(rhs, NDArray):
        return constant(lhs, rhs, name), rhs
    raise op_error(DTypeError, name, "needs at least one NDArray operand", lhs, rhs)


def unary_function(prim: str, name: str) -> Callable[..., NDArray]:
    def fn(data: NDArray, out: NDArray | None = None, name: str | None = None) -> NDArray:
        result = _dispatch[0](PRIMITIVES[prim], data)   # not ops.call: one frame less on the hot path
        return result if out is None else finish(result, out, data)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {prim} (primitive `{prim}`)."
    return fn


def binary_function(prim: str, name: str, same_shape: bool = False) -> Callable[..., NDArray]:
    def fn(lhs: Operand, rhs: Operand, out: NDArray | None = None, name: str | None = None) -> NDArray:
        a, b = operands(name_, lhs, rhs)
        if same_shape and a.shape != b.shape:
            raise op_error(ShapeError, name_, "operands must have the same shape (use broadcast_"
                           f"{prim[:3]} to broadcast)", a, b)
        return finish(call(prim, a, b), out, a, b)
    name_ = name
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {prim} with broadcasting (primitive `{prim}`)."
    return fn


def _build() -> dict[str, Callable[..., NDArray]]:
    table = {name: unary_function(name, name) for name in UNARY_PRIMITIVES}
    table["fix"] = unary_function("trunc", "fix")
    table["BlockGrad"] = unary_function("stop_gradient", "BlockGrad")
    for prim in BINARY_PRIMITIVES:
        for name in (prim,) + BINARY_ALIASES.get(prim, ()):
            table[name] = binary_function(prim, name)
    for name, prim in ELEMWISE.items():
        table[name] = binary_function(prim, name, same_shape=True)
    return table


GENERATED = _build()
globals().update(GENERATED)
__all__ = sorted(GENERATED)  # what `from .math import *` exports: the functions, not the helpers


# ---- composites: their gradients come from the primitives they are made of ------------------------

def square(data: NDArray, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Elementwise x * x."""
    return finish(data * data, out, data)


def reciprocal(data: NDArray, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Elementwise 1 / x."""
    return finish(1 / data, out, data)


def rsqrt(data: NDArray, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Elementwise 1 / sqrt(x)."""
    return finish(1 / call("sqrt", data), out, data)


def softsign(data: NDArray, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """Elementwise x / (1 + |x|)."""
    return finish(data / (1 + call("abs", data)), out, data)


def clip(data: NDArray, a_min: float, a_max: float, out: NDArray | None = None,
         name: str | None = None) -> NDArray:
    """Values limited to [a_min, a_max]; the gradient passes on the closed interval."""
    if a_min > a_max:
        raise op_error(ShapeError, "clip", f"a_min ({a_min}) is greater than a_max ({a_max})", data)
    lo, hi = constant(a_min, data, "clip"), constant(a_max, data, "clip")
    return finish(call("minimum", call("maximum", data, lo), hi), out, data)


def where(condition: NDArray, x: Operand, y: Operand, out: NDArray | None = None,
          name: str | None = None) -> NDArray:
    """`x` where `condition` is nonzero, `y` elsewhere; one of `x`, `y` may be a scalar."""
    if not isinstance(x, NDArray) and not isinstance(y, NDArray):
        raise op_error(DTypeError, "where", "x or y must be an NDArray", x, y)
    x, y = operands("where", x, y)
    return finish(call("where", condition, x, y), out, condition, x, y)


def cast(data: NDArray, dtype: DTypeLike, out: NDArray | None = None, name: str | None = None) -> NDArray:
    """`data.astype(dtype)` (differentiable)."""
    return finish(data.astype(dtype), out, data)
