"""NDArray: numpy storage plus an optional graph entry, with MXNet's legacy conventions.

Math methods (x.exp(), x.sum(), x.reshape(), ...) are installed by `jitgrad.nd`, which defines them once
as functions; this module holds the data model, operators, indexing and in-place writes.
"""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import ops
from .errors import AutogradError, DTypeError, ShapeError, op_error
from .ir import Variable, live
from .state import STATE, TRACES, current_tracer
from .typing import DTypeLike

GRAD_REQS = ("write", "add", "null")

IN_GRAPH_WRITE = (
    "assigning to an NDArray that is already in a computational graph would make its gradients "
    "undefined; call backward first to clear the graph, or write outside the record() section "
    "(in-place operations such as +=, *=, x[idx]=v are not allowed on recorded arrays)")
IN_PLACE_RECORDED = (
    "in-place operations (+=, -=, x[:]=, etc.) are not supported when recording with autograd, "
    "except a full overwrite x[:] = value of an array that is not in the graph")


class Context:
    """Device description; jitgrad computes on the CPU only."""
    __slots__ = ("device_type", "device_id")

    def __init__(self, device_type: str = "cpu", device_id: int = 0):
        if device_type != "cpu":
            raise ValueError(f"jitgrad computes on the CPU only; got context {device_type}({device_id})")
        self.device_type, self.device_id = device_type, device_id

    def __eq__(self, other) -> bool:
        return isinstance(other, Context) and (self.device_type, self.device_id) == (
            other.device_type, other.device_id)

    def __hash__(self) -> int:
        return hash((self.device_type, self.device_id))

    def __repr__(self) -> str:
        return f"{self.device_type}({self.device_id})"


def cpu(device_id: int = 0) -> Context:
    """The CPU context, the only one jitgrad computes on."""
    return Context("cpu", device_id)


CPU = cpu(0)


call = ops.call  # apply a primitive by name


def fresh(data: np.ndarray) -> "NDArray":
    """A new array made from numpy data (creation functions, scalar operands): a literal in a trace."""
    x = NDArray(data)
    if TRACES.active and (tracer := STATE.tracer) is not None:   # (current_tracer(), inlined)
        tracer.literal(x)
    return x


def observed(x: "NDArray") -> np.ndarray:
    """x's data, leaving the graph as a Python value: a guard when tracing."""
    if (tracer := current_tracer()) is not None:
        tracer.guard(x)
    return x._data


_SCALARS: dict = {}  # (dtype, type, value) -> 0-d NDArray: operands nobody else can reach or write


def constant(value, like: "NDArray", op: str) -> "NDArray":
    """An operand as an NDArray; Python scalars take the array's dtype (MXNet's scalar ops do)."""
    if isinstance(value, NDArray):
        return value
    if type(value) in (float, int) or isinstance(value, (numbers.Number, np.number, np.bool_)):
        if TRACES.active and STATE.tracer is not None:   # a trace wants each operand as its own literal
            return fresh(np.asarray(value, dtype=like._data.dtype))
        key = (like._data.dtype, type(value), value)
        hit = _SCALARS.get(key)
        if hit is None:
            hit = NDArray(np.asarray(value, dtype=like._data.dtype))
            if len(_SCALARS) < 4096:
                _SCALARS[key] = hit
        return hit
    raise op_error(DTypeError, op, f"unsupported operand of type {type(value).__name__}; "
                   "wrap arrays with nd.array()", like)


def binary_op(name: str, reflected: bool = False):
    prim, dispatch = ops.PRIMITIVES[name], ops._dispatch   # not ops.call: one frame less per op

    def method(self, other):
        if type(other) is not NDArray:
            other = constant(other, self, name)
        return dispatch[0](prim, other, self) if reflected else dispatch[0](prim, self, other)
    method.__name__ = name
    return method


def inplace_op(name: str):
    def method(self, other):
        self._assign(..., call(name, self, constant(other, self, name)), self_is_input=True)
        return self
    return method


class NDArray:
    """An n-dimensional array on the CPU that can take part in autograd.

    Create arrays with the `jitgrad.nd` functions (`nd.array`, `nd.zeros`, ...), not with the
    constructor, which wraps a numpy array without copying it."""
    __slots__ = ("_data", "_entry", "_index", "__weakref__")
    __array_priority__ = 1000.0  # numpy defers binary operators to NDArray

    def __init__(self, data: np.ndarray, entry=None, index: int = 0):
        self._data = data
        self._entry = entry
        self._index = index

    # ---- properties -------------------------------------------------------------------------------
    shape = property(lambda self: self._data.shape, doc="The shape, a tuple of ints.")
    dtype = property(lambda self: self._data.dtype.type, doc="The numpy scalar type, e.g. `numpy.float32`.")
    size = property(lambda self: self._data.size, doc="The number of elements.")
    ndim = property(lambda self: self._data.ndim, doc="The number of dimensions.")
    context = ctx = property(lambda self: CPU, doc="The device: always `cpu(0)`.")
    stype = property(lambda self: "default", doc="The storage type: always `'default'` (dense).")
    writable = property(lambda self: True, doc="Whether the array can be written: always True.")

    @property
    def T(self) -> "NDArray":
        """The transpose (all axes reversed); an array with fewer than 2 dimensions is itself."""
        return self if self.ndim < 2 else call("transpose", self, axes=tuple(range(self.ndim))[::-1])

    # ---- conversion -------------------------------------------------------------------------------
    def asnumpy(self) -> np.ndarray:
        """A copy of the values as a numpy array."""
        return observed(self).copy()

    def asscalar(self) -> Any:
        """The only element as a numpy scalar; the array must have size 1."""
        if self.size != 1:
            raise ValueError(f"The current array is not a scalar: asscalar() needs size 1, got shape "
                             f"{self.shape}")
        data = observed(self)
        return data[0] if self.ndim == 1 else data[()]

    def astype(self, dtype: DTypeLike, copy: bool = True) -> "NDArray":
        """The values converted to `dtype` (differentiable); with `copy=False` an array that already
        has that dtype is returned as it is."""
        if not copy and np.dtype(dtype) == self._data.dtype:
            return self
        return call("cast", self, dtype=np.dtype(dtype).name)

    def copy(self) -> "NDArray":
        """A new array with a copy of the values (differentiable)."""
        return call("cast", self, dtype=self._data.dtype.name)

    def copyto(self, other: "NDArray | Context") -> "NDArray":
        """Copy the values into the array `other` and return it; given a context, return a copy."""
        if isinstance(other, Context):
            return self.copy()
        other[:] = self
        return other

    def as_in_context(self, context: Context) -> "NDArray":
        """This array, which is already on the only context, `cpu(0)`."""
        if context != CPU:
            raise ValueError(f"jitgrad computes on the CPU only; got {context}")
        return self

    def wait_to_read(self) -> None:
        """Computation is synchronous: nothing to wait for."""

    def tostype(self, stype: str) -> "NDArray":
        """This array; only dense (`'default'`) storage is supported."""
        if stype != "default":
            raise ValueError(f"tostype: only dense ('default') storage is supported, got {stype!r}")
        return self

    def __array__(self, dtype=None, copy=None):
        data = observed(self)
        data = data if dtype is None else data.astype(dtype, copy=False)
        return data.copy() if copy and data is self._data else data

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Zero-copy export (DLPack) of the array's memory, for np.from_dlpack, torch, jax."""
        observed(self)
        return self._writable().__dlpack__(stream=stream, max_version=max_version,
                                           dl_device=dl_device, copy=copy)

    def __dlpack_device__(self) -> tuple[int, int]:
        """(device type, device id) of the memory, as DLPack numbers them: (1, 0) is the CPU."""
        return self._data.__dlpack_device__()

    def __bool__(self) -> bool:
        if self.size == 0:
            return False
        if self.size == 1:
            return bool(observed(self).reshape(-1)[0])
        raise ValueError("The truth value of an NDArray with multiple elements is ambiguous.")

    def _scalar(self, kind: str):
        if self.size != 1:
            raise TypeError(f"only size-1 NDArrays can be converted to Python {kind}s, got shape "
                            f"{self.shape}")
        return observed(self).reshape(-1)[0]

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu":
            raise TypeError(f"only integer NDArrays can be used as an index, got {self._data.dtype}")
        return int(self._scalar("int"))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d NDArray")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.shape)
        return f"\n{self._data}\n<NDArray {shape} @{self.context}>"

    __str__ = __repr__
    __hash__ = object.__hash__

    # ---- operators --------------------------------------------------------------------------------
    __add__ = binary_op("add")
    __radd__ = binary_op("add", reflected=True)
    __sub__ = binary_op("subtract")
    __rsub__ = binary_op("subtract", reflected=True)
    __mul__ = binary_op("multiply")
    __rmul__ = binary_op("multiply", reflected=True)
    __truediv__ = binary_op("divide")
    __rtruediv__ = binary_op("divide", reflected=True)
    __mod__ = binary_op("mod")
    __rmod__ = binary_op("mod", reflected=True)
    __pow__ = binary_op("power")
    __rpow__ = binary_op("power", reflected=True)
    __eq__ = binary_op("equal")
    __ne__ = binary_op("not_equal")
    __gt__ = binary_op("greater")
    __ge__ = binary_op("greater_equal")
    __lt__ = binary_op("less")
    __le__ = binary_op("less_equal")
    __iadd__ = inplace_op("add")
    __isub__ = inplace_op("subtract")
    __imul__ = inplace_op("multiply")
    __itruediv__ = inplace_op("divide")
    __imod__ = inplace_op("mod")
    __ipow__ = inplace_op("power")

    def __floordiv__(self, other):
        return call("floor", call("divide", self, constant(other, self, "floor_divide")))

    def __rfloordiv__(self, other):
        return call("floor", call("divide", constant(other, self, "floor_divide"), self))

    def __matmul__(self, other):
        return call("dot", self, other)

    def __neg__(self):
        return call("negative", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return call("abs", self)

    # ---- indexing ---------------------------------------------------------------------------------
    def __getitem__(self, key) -> "NDArray":
        template, arrays = index_template(key)
        return call("index", self, *arrays, key=template)

    def __setitem__(self, key, value) -> None:
        template, arrays = index_template(key)
        if not isinstance(value, NDArray):
            value = NDArray(np.asarray(value, dtype=self._data.dtype))
        self._assign(ops.movement.decode(template, [a._data for a in arrays]), value,
                     self_is_input=False, whole=is_whole(template))

    def _assign(self, key, value: "NDArray", self_is_input: bool, whole: bool = True) -> None:
        """Write `value` into self[key], enforcing MXNet's rules for writes inside record():
        a recorded value may only overwrite the whole of an array that is not in the graph and
        did not feed the value (the write is then recorded as a copy)."""
        if (tracer := current_tracer()) is not None:
            tracer.write(self, value, whole)
        if STATE.recording:
            if live(self._entry) is not None:
                raise AutogradError(IN_GRAPH_WRITE)
            if live(value._entry) is not None:
                if not whole or self_is_input:
                    raise AutogradError(IN_PLACE_RECORDED)
                value = call("broadcast_to", value.astype(self.dtype, copy=False), shape=self.shape)
                self._writable()[...] = value._data
                self._entry, self._index = value._entry, 0
                return
        data = value._data.reshape(()) if value._data.size == 1 else value._data  # m[0, 0] = v[1]
        try:
            self._writable()[key] = data
        except ValueError as e:
            raise op_error(ShapeError, "setitem", f"cannot write the value into the indexed region: "
                           f"{e}", value._data, self._data) from None

    def _writable(self) -> np.ndarray:
        if not self._data.flags.writeable:  # a broadcast view: give this array its own memory
            self._data = self._data.copy()
        return self._data

    # ---- autograd ---------------------------------------------------------------------------------
    def attach_grad(self, grad_req: str = "write", stype: str | None = None) -> None:
        """Make this array a leaf that receives gradients (this cuts any graph that produced it).

        Args:
            grad_req: `'write'` (backward overwrites the gradient), `'add'` (backward adds to it)
                or `'null'` (no gradient).
            stype: ignored (dense storage only).
        """
        check_grad_req(grad_req, self)
        self._entry = Variable(np.zeros_like(self._data), grad_req)
        self._index = 0

    @property
    def grad(self) -> "NDArray | None":
        """The gradient buffer, sharing its memory, or None for an array without one."""
        entry = self._entry
        if not isinstance(entry, Variable) or entry.freed:
            return None
        return NDArray(entry.grad)

    if TYPE_CHECKING:  # the methods installed from the nd functions (jitgrad.nd.METHODS)
        def __getattr__(self, name: str) -> Callable[..., Any]: ...

    @property
    def _fresh_grad(self) -> bool:
        return isinstance(self._entry, Variable) and self._entry.fresh

    @_fresh_grad.setter
    def _fresh_grad(self, value: bool) -> None:
        if isinstance(self._entry, Variable):
            self._entry.fresh = bool(value)

    def detach(self) -> "NDArray":
        """Same storage, no history."""
        out = NDArray(self._data)
        if (tracer := current_tracer()) is not None:
            tracer.alias(out, self)
        return out

    def backward(self, out_grad: "NDArray | None" = None, retain_graph: bool = False,
                 train_mode: bool = True) -> None:
        """Compute the gradients of this array with respect to every variable it depends on;
        see `jitgrad.autograd.backward`."""
        _autograd.backward(self, None if out_grad is None else [out_grad], retain_graph, train_mode)


def check_grad_req(grad_req, x) -> None:
    if grad_req not in GRAD_REQS:
        raise ValueError(f"attach_grad: unknown grad_req {grad_req!r}; expected one of {GRAD_REQS}")
    if grad_req != "null" and x._data.dtype.kind != "f":
        raise op_error(DTypeError, "attach_grad", "gradients are defined for floating-point arrays "
                       "only; cast with .astype('float32') first", x._data)


def index_template(key) -> tuple[tuple, list]:
    """(hashable key template, index arrays) for an indexing key; see ops.movement."""
    if not isinstance(key, tuple):
        key = (key,)
    template: list = []
    arrays: list[NDArray] = []
    for k in key:
        if isinstance(k, slice):
            template.append(("s", _index_int(k.start), _index_int(k.stop), _index_int(k.step)))
        elif k is None or k is Ellipsis:
            template.append("..." if k is Ellipsis else None)
        elif isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, bool):
            template.append(int(k))
        elif isinstance(k, (NDArray, np.ndarray, list, tuple)):
            data = k._data if isinstance(k, NDArray) else np.asarray(k)
            if data.dtype.kind == "b":
                raise TypeError("indexing with boolean masks is not supported; use nd.where or "
                                "integer indices")
            template.append(("a", len(arrays)))
            arrays.append(NDArray(data))
        else:
            raise TypeError(f"index: unsupported key element {k!r} of type {type(k).__name__}")
    return tuple(template), arrays


def _index_int(v):
    return None if v is None else int(v)


def is_whole(template: tuple) -> bool:
    return all(k == "..." or k == ("s", None, None, None) for k in template)


# autograd builds on this module (it needs NDArray defined first), so NDArray.backward reaches it
# through a name bound last; an import inside the method cost 0.3 us per backward.
from . import autograd as _autograd  # noqa: E402
