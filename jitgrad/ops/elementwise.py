"""Elementwise primitives: unary math, broadcasting binary arithmetic, comparisons, `where`, `cast`.

Gradient rules receive (g, out, *inputs, **attrs) as NDArrays and return the cotangent of one input at the
broadcast shape; the backward pass sums it back to the input's shape (shapes.unbroadcast).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DTypeError, DivisionByZeroError, op_error
from ..shapes import broadcast_shapes
from . import Primitive, call, ones_like, register, zeros_like

POSITIVE = (0.2, 3.0)
UNIT = (-0.9, 0.9)


def same_dtype(op: str, arrays) -> np.dtype:
    dtype = arrays[0].dtype
    for a in arrays[1:]:
        if a.dtype != dtype:
            raise op_error(DTypeError, op, "operands have different dtypes; cast one with .astype()",
                           *arrays)
    return dtype


def float_only_error(op: str, x):
    return op_error(DTypeError, op, "expects floating-point input; cast with .astype('float32')", x)


def unary_rule(op: str, float_only: bool):
    def rule(x):
        if float_only and x.dtype.kind != "f":
            raise float_only_error(op, x)
        return x.shape, x.dtype
    return rule


def binary_rule(op: str, float_only: bool):
    def rule(x, y):   # the common case, equal shapes and dtypes, costs two comparisons
        dtype, shape = x.dtype, x.shape
        if y.dtype is not dtype and y.dtype != dtype:
            same_dtype(op, (x, y))
        if float_only and dtype.kind != "f":
            raise float_only_error(op, x)
        if y.shape != shape and y.shape:   # (array op 0-d scalar keeps the array's shape)
            shape = broadcast_shapes(op, shape, y.shape, operands=(x, y))
        return shape, dtype
    return rule


def unary(name, impl, grad, expr, domain=(-2.0, 2.0), float_only=True, tol=1e-6):
    return register(Primitive(name, "elementwise", impl, unary_rule(name, float_only),
                              grads=(grad,), expr=expr, domain=(domain,), tol=tol))


def binary(name, impl, grads, expr, domain=((-2.0, 2.0),), float_only=False, tol=1e-6):
    return register(Primitive(name, "elementwise", impl, binary_rule(name, float_only),
                              grads=grads, expr=expr, domain=domain, tol=tol))


def round_half_away(x):
    """C's round(): halves go away from zero (numpy's round goes to even)."""
    t = np.trunc(x)
    return np.where(np.abs(x - t) == 0.5, t + np.sign(x), np.rint(x))


def round_half_down(x):
    """MXNet's rint: n.5 goes to n (rint(1.5) == 1, rint(-0.5) == -1); other values to the nearest."""
    low = np.floor(x)
    return np.where(x - low > 0.5, np.ceil(x), low)


def sigmoid_impl(x):
    return np.exp(-np.logaddexp(x.dtype.type(0), -x))


def erf_impl(x):
    from scipy.special import erf  # imported on first use: keeps `import jitgrad` fast
    return erf(x)


def divide(a, b):
    """True division for floats; C-style truncating division for integers."""
    if a.dtype.kind == "f":
        return np.divide(a, b)
    if not np.all(b):
        raise op_error(DivisionByZeroError, "divide", "integer division by zero", a, b)
    return np.fix(np.true_divide(a, b)).astype(a.dtype)


def mod(a, b):
    """The remainder with the divisor's sign (Python's rule); x % 0 is 0, as in MXNet."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, a.dtype.type(0), np.mod(a, b))


TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# name, numpy implementation, gradient rule, codegen expression, test domain
unary("negative", np.negative, lambda g, out, x: -g, "-{0}", float_only=False)
unary("exp", np.exp, lambda g, out, x: g * out, "exp({0})")
unary("expm1", np.expm1, lambda g, out, x: g * (out + 1), "expm1({0})")
unary("log", np.log, lambda g, out, x: g / x, "log({0})", POSITIVE)
unary("log2", np.log2, lambda g, out, x: g / (x * math.log(2.0)), "log2({0})", POSITIVE)
unary("log10", np.log10, lambda g, out, x: g / (x * math.log(10.0)), "log10({0})", POSITIVE)
unary("log1p", np.log1p, lambda g, out, x: g / (x + 1), "log1p({0})", (-0.5, 3.0))
unary("sqrt", np.sqrt, lambda g, out, x: g / (2 * out), "sqrt({0})", POSITIVE)
unary("cbrt", np.cbrt, lambda g, out, x: g / (3 * out * out), "cbrt({0})", POSITIVE)
unary("sin", np.sin, lambda g, out, x: g * call("cos", x), "sin({0})")
unary("cos", np.cos, lambda g, out, x: -g * call("sin", x), "cos({0})")
unary("tan", np.tan, lambda g, out, x: g * (1 + out * out), "tan({0})", (-1.2, 1.2))
unary("arcsin", np.arcsin, lambda g, out, x: g / call("sqrt", 1 - x * x), "asin({0})", UNIT)
unary("arccos", np.arccos, lambda g, out, x: -g / call("sqrt", 1 - x * x), "acos({0})", UNIT)
unary("arctan", np.arctan, lambda g, out, x: g / (1 + x * x), "atan({0})")
unary("sinh", np.sinh, lambda g, out, x: g * call("cosh", x), "sinh({0})")
unary("cosh", np.cosh, lambda g, out, x: g * call("sinh", x), "cosh({0})")
unary("tanh", np.tanh, lambda g, out, x: g * (1 - out * out), "tanh({0})")
unary("arcsinh", np.arcsinh, lambda g, out, x: g / call("sqrt", x * x + 1), "asinh({0})")
unary("arccosh", np.arccosh, lambda g, out, x: g / call("sqrt", x * x - 1), "acosh({0})", (1.2, 3.0))
unary("arctanh", np.arctanh, lambda g, out, x: g / (1 - x * x), "atanh({0})", UNIT)
unary("sigmoid", sigmoid_impl, lambda g, out, x: g * out * (1 - out), "sigmoid({0})")
unary("erf", erf_impl, lambda g, out, x: g * TWO_OVER_SQRT_PI * call("exp", -x * x), "erf({0})")
# Piecewise-constant and piecewise-linear functions: the derivative is 0 (or the slope) away from the kinks.
unary("abs", np.abs, lambda g, out, x: g * call("sign", x), "abs({0})", float_only=False)
unary("relu", lambda x: np.maximum(x, x.dtype.type(0)), lambda g, out, x: g * (x > 0),
      "max({0}, 0)", float_only=False)
unary("sign", np.sign, None, "sign({0})", float_only=False)
unary("floor", np.floor, None, "floor({0})", float_only=False)
unary("ceil", np.ceil, None, "ceil({0})", float_only=False)
unary("round", round_half_away, None, "round({0})", float_only=False)
unary("rint", round_half_down, None, "rint({0})", float_only=False)
unary("trunc", np.trunc, None, "trunc({0})", float_only=False)
unary("stop_gradient", lambda x: x, None, "{0}", float_only=False)

binary("add", np.add, (lambda g, out, x, y: g, lambda g, out, x, y: g), "{0} + {1}")
binary("subtract", np.subtract, (lambda g, out, x, y: g, lambda g, out, x, y: -g), "{0} - {1}")
binary("multiply", np.multiply, (lambda g, out, x, y: g * y, lambda g, out, x, y: g * x), "{0} * {1}")
binary("divide", divide, (lambda g, out, x, y: g / y, lambda g, out, x, y: -g * out / y),
       "{0} / {1}", domain=((-2.0, 2.0), (0.5, 2.0)))
binary("power", np.power,
       (lambda g, out, x, y: g * y * x ** (y - 1),
        lambda g, out, x, y: g * out * call("log", call("where", x > 0, x, ones_like(x)))),
       "pow({0}, {1})", domain=((0.5, 2.0), (-2.0, 2.0)))
binary("mod", mod, (lambda g, out, x, y: g, lambda g, out, x, y: -g * call("floor", x / y)),
       "mod({0}, {1})", domain=((0.1, 0.9), (1.1, 2.0)))
# MXNet's convention at ties: the left operand of maximum/minimum takes the whole gradient.
binary("maximum", np.maximum,
       (lambda g, out, x, y: g * (x >= y), lambda g, out, x, y: g * (x < y)), "max({0}, {1})")
binary("minimum", np.minimum,
       (lambda g, out, x, y: g * (x <= y), lambda g, out, x, y: g * (x > y)), "min({0}, {1})")


def comparison(name, ufunc, symbol):
    # 0/1 results in the input dtype (MXNet's legacy convention); no gradient.
    def impl(x, y):
        return ufunc(x, y).astype(np.result_type(x, y), copy=False)
    binary(name, impl, (None, None), f"{{0}} {symbol} {{1}}")


comparison("equal", np.equal, "==")
comparison("not_equal", np.not_equal, "!=")
comparison("greater", np.greater, ">")
comparison("greater_equal", np.greater_equal, ">=")
comparison("less", np.less, "<")
comparison("less_equal", np.less_equal, "<=")


def where_rule(cond, x, y):
    dtype = same_dtype("where", (x, y))
    return broadcast_shapes("where", cond.shape, x.shape, y.shape), dtype


register(Primitive(
    "where", "elementwise", lambda c, x, y: np.where(c != 0, x, y), where_rule,
    grads=(None,
           lambda g, out, c, x, y: call("where", c, g, zeros_like(g)),
           lambda g, out, c, x, y: call("where", c, zeros_like(g), g)),
    expr="{1} if {0} != 0 else {2}", domain=((-2.0, 2.0),), test_attrs=({},)))


def cast_rule(x, dtype):
    return x.shape, np.dtype(dtype)


def cast_grad(g, out, x, dtype):
    # NDArray.dtype is a scalar type (np.float32), as in MXNet; np.dtype() gives it a .kind
    dtype = np.dtype(x.dtype)
    return call("cast", g, dtype=dtype.name) if dtype.kind == "f" else None


register(Primitive(
    "cast", "elementwise", lambda x, dtype: x.astype(dtype), cast_rule, grads=(cast_grad,),
    expr="{0}", test_attrs=({"dtype": "float32"}, {"dtype": "float64"})))
