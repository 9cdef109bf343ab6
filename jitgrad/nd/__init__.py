"""The MXNet-style `nd` namespace: creation, random, math, reductions, shape ops, nn functions.

Every function is defined once here and also installed as an NDArray method where MXNet has one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..ndarray import CPU, Context, NDArray, cpu
from . import numpy_api, random
from .creation import (arange, array, empty, eye, from_dlpack, full, linspace, ones, ones_like,
                       waitall, zeros, zeros_like)
from .math import *  # noqa: F401,F403  (generated elementwise functions)
from .math import cast, clip, reciprocal, rsqrt, softsign, square, where
from .nn import (Activation, Dropout, FullyConnected, LeakyReLU, batch_dot, dot, log_softmax,
                 logsumexp, softmax, softmax_cross_entropy, softmin, softrelu)
from .reduce import argmax, argmin, max, mean, min, nanprod, nansum, norm, prod, sum  # noqa: A004
from .shape import (Concat, SliceChannel, SwapAxis, broadcast_axes, broadcast_axis, broadcast_like,
                    broadcast_to, concat, concatenate, expand_dims, flatten, flip, moveaxis, one_hot,
                    pick, repeat, reshape, reverse, slice, slice_axis, split, squeeze, stack, swapaxes,
                    take, tile, transpose)

random_normal = normal = random.normal
random_uniform = uniform = random.uniform
randn = random.randn

METHODS = (
    "exp expm1 log log2 log10 log1p sqrt rsqrt cbrt square reciprocal sin cos tan arcsin arccos "
    "arctan sinh cosh tanh arcsinh arccosh arctanh sigmoid relu softsign erf abs sign floor ceil "
    "round rint fix trunc clip sum mean max min prod nansum nanprod norm argmax argmin reshape "
    "transpose expand_dims squeeze flatten broadcast_to broadcast_like broadcast_axes tile repeat "
    "flip swapaxes slice slice_axis split take pick one_hot softmax log_softmax softmin dot "
    "batch_dot zeros_like ones_like").split()


def _install_methods() -> None:
    space = globals()
    for name in METHODS:
        setattr(NDArray, name, space[name])


_install_methods()
numpy_api.install()

if TYPE_CHECKING:  # the generated elementwise functions (math.GENERATED), unseen by type checkers
    def __getattr__(name: str) -> Callable[..., NDArray]: ...
