"""Type aliases used in jitgrad's signatures (like `numpy.typing`, for annotations only)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, Union

import numpy as np
from numpy.typing import DTypeLike as NumpyDTypeLike

if TYPE_CHECKING:
    from .ndarray import NDArray

ShapeLike: TypeAlias = Union[int, Sequence[int]]
"""A shape: an int for 1-D, or a sequence of ints."""

AxisLike: TypeAlias = Union[int, Sequence[int], None]
"""One axis, several axes, or None for all of them."""

Scalar: TypeAlias = Union[int, float, bool, "np.number[Any]", "np.bool_"]
"""A Python or numpy scalar; as an operand it takes the dtype of the array it meets."""

Operand: TypeAlias = Union["NDArray", Scalar]
"""An operand of an elementwise function: an NDArray or a scalar."""

DTypeLike: TypeAlias = Union[NumpyDTypeLike, None]
"""A dtype as numpy takes it (`'float32'`, `numpy.float64`, ...), or None for the default."""

__all__ = ["ShapeLike", "AxisLike", "Scalar", "Operand", "DTypeLike"]
