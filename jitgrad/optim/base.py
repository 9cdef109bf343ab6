"""The optimizer machinery shared by SGD, Adam and AdamW.

An optimizer holds a list of attached NDArrays and, per parameter, its state buffers (momentum,
moments). Each subclass writes its rule once, as a pure function of lists of arrays
(`update(params, grads, states, scalars, **config) -> (new_params, new_states)`). `step()` runs that
function over all parameters either eagerly or as one compiled, fused program (`jitgrad.compile`),
then copies the new values into the parameters (in place, so views and references stay valid) and
keeps the new state arrays (the optimizer owns them, so no copy is needed).

Values that change from step to step (the learning rate, bias corrections) enter the program as 0-d
arrays, so they never cause a new trace; the fixed hyperparameters are part of the static config.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import autograd
from ..errors import AutogradError, DTypeError, ShapeError, op_error
from ..ir import Variable
from ..jit import compile as jit_compile
from ..ndarray import NDArray

# Below this many parameter elements in total, a step runs eagerly by default: the numpy calls are
# cheap there and a compile (a second or more) would not pay for itself (benchmarks/optim.py).
COMPILE_MIN_ELEMENTS = 4096
"""From this many parameter elements in total, `compiled='auto'` runs a step compiled."""


def _flat_update(config, *arrays):
    """The compiled entry point: unpacks flat arrays per `config` and calls the rule."""
    update, n, dtype_slot, state_names, scalar_names, statics = config
    k, m = len(state_names), len(scalar_names)
    params, grads = arrays[:n], arrays[n:2 * n]
    states = {name: arrays[(2 + j) * n:(3 + j) * n] for j, name in enumerate(state_names)}
    table = arrays[(2 + k) * n:]
    scalars = [dict(zip(scalar_names, table[s * m:(s + 1) * m])) for s in dtype_slot]
    new_params, new_states = update(params, grads, states, scalars, **dict(statics))
    return tuple(new_params) + tuple(a for name in state_names for a in new_states[name])


PROGRAM = jit_compile(_flat_update, static_argnums=(0,))  # one cache shared by every optimizer


class Optimizer:
    """Base class: parameters, state, step(), zero_grad(), state_dict(), load_state_dict()."""
    STATES: tuple[str, ...] = ()    # names of the per-parameter state buffers
    HYPER: tuple[str, ...] = ()     # names of the hyperparameters kept in state_dict()

    def __init__(self, params, hyper: dict, compiled="auto"):
        self.params = check_params(params, type(self).__name__)
        self.__dict__.update(self.check(type(self).__name__, **hyper))
        if compiled not in ("auto", True, False):
            raise ValueError(f"{type(self).__name__}: compiled must be 'auto', True or False, got "
                             f"{compiled!r}")
        self.compiled = compiled
        self.step_count = 0
        self.state = {name: [np.zeros_like(p._data) for p in self.params] for name in self.STATES}

    # ---- subclass interface ----------------------------------------------------------------------
    # check() and update() take each subclass's own keyword parameters (its HYPER names, its
    # statics() names); `*args: Any, **kwargs: Any` is the signature that any override matches.
    @staticmethod
    def check(where: str, *args: Any, **hyper: Any) -> dict[str, Any]:
        """The hyperparameters, validated (a clear ValueError or TypeError otherwise)."""
        raise NotImplementedError

    def scalars(self) -> dict:
        """This step's changing values (Python floats), entered as 0-d arrays."""
        raise NotImplementedError

    def statics(self) -> dict:
        """The fixed configuration of the rule (Python scalars: a change traces a new program)."""
        raise NotImplementedError

    @staticmethod
    def update(params: Sequence[NDArray], grads: Sequence[NDArray],
               states: Mapping[str, Sequence[NDArray]], scalars: Sequence[Mapping[str, NDArray]],
               *args: Any, **config: Any) -> tuple[list[NDArray], dict[str, list[NDArray]]]:
        """The rule: new parameters and new state buffers from this step's arrays (`scalars[i]`
        holds parameter i's changing values as 0-d arrays of its dtype) and the static config."""
        raise NotImplementedError

    # ---- stepping --------------------------------------------------------------------------------
    def step(self) -> None:
        """Apply one update to every parameter, from the gradients in their `grad` buffers."""
        self.check(f"{type(self).__name__}.step", **{n: getattr(self, n) for n in self.HYPER})
        self.step_count += 1
        config, arrays = self._program_inputs()
        with autograd.pause():
            run = PROGRAM if self._use_compiled() else _flat_update
            out = run(config, *arrays)
        n = len(self.params)
        for p, new in zip(self.params, out[:n]):
            p._writable()[...] = new._data
        # a state may come back as an input's own buffer (SGD's first momentum is the gradient):
        # the optimizer must own it, or the next backward would overwrite it
        inputs = {id(x._data) for x in arrays}
        for j, name in enumerate(self.STATES):
            self.state[name] = [a._data.copy() if id(a._data) in inputs else a._data
                                for a in out[(1 + j) * n:(2 + j) * n]]

    def _program_inputs(self) -> tuple:
        """(static config, flat arrays): parameters, gradients, states, then per dtype the 0-d
        arrays of this step's changing values."""
        values = self.scalars()
        dtypes = list(dict.fromkeys(p._data.dtype for p in self.params))
        slot = tuple(dtypes.index(p._data.dtype) for p in self.params)
        table = [NDArray(np.asarray(values[name], dtype=dt)) for dt in dtypes for name in values]
        config = (type(self).update, len(self.params), slot, self.STATES, tuple(values),
                  tuple(sorted(self.statics().items())))
        grads = [self._grad(i, p) for i, p in enumerate(self.params)]
        states = [NDArray(s) for name in self.STATES for s in self.state[name]]
        return config, [p.detach() for p in self.params] + grads + states + table

    def _use_compiled(self) -> bool:
        if self.compiled == "auto":
            return sum(p.size for p in self.params) >= COMPILE_MIN_ELEMENTS
        return self.compiled

    def _grad(self, i: int, p: NDArray) -> NDArray:
        grad = p.grad
        if grad is None:
            raise op_error(AutogradError, f"{type(self).__name__}.step", f"parameter {i} has no "
                           "gradient buffer (call attach_grad() on it, with grad_req 'write' or "
                           "'add')", p._data)
        return grad

    def zero_grad(self) -> None:
        """Set every parameter's gradient buffer to zero (needed with grad_req='add')."""
        for p in self.params:
            if p.grad is not None:
                p._entry.grad.fill(0)

    # ---- saving and loading ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Step count, hyperparameters and state buffers as a flat dict of numpy arrays, e.g.
        `np.savez(path, **opt.state_dict())`; the keys of buffers are 'name.index'."""
        out = {"step": np.array(self.step_count)}
        out.update((name, np.array(getattr(self, name))) for name in self.HYPER)
        for name in self.STATES:
            out.update((f"{name}.{i}", s.copy()) for i, s in enumerate(self.state[name]))
        return out

    def load_state_dict(self, state) -> None:
        """Restore what state_dict() returned (also the NpzFile of np.load)."""
        where = f"{type(self).__name__}.load_state_dict"
        expected = set(self.state_dict())
        given = set(state.keys())
        if given != expected:
            raise KeyError(f"{where}: missing keys {sorted(expected - given)}, unexpected keys "
                           f"{sorted(given - expected)}")
        buffers = {name: [self._checked_buffer(where, f"{name}.{i}", state[f"{name}.{i}"], p)
                          for i, p in enumerate(self.params)] for name in self.STATES}
        hyper = self.check(where, **{n: np.asarray(state[n]).item() for n in self.HYPER})
        step = np.asarray(state["step"])
        if step.shape != () or step.dtype.kind not in "iu" or step < 0:
            raise ValueError(f"{where}: 'step' must be a non-negative integer, got {step!r}")
        self.__dict__.update(hyper)
        self.step_count = int(step)
        self.state = buffers

    @staticmethod
    def _checked_buffer(where, key, value, p: NDArray) -> np.ndarray:
        value = np.asarray(value)
        if value.shape != p.shape:
            raise op_error(ShapeError, where, f"state {key!r} has shape {value.shape}, its parameter "
                           f"has shape {p.shape}", value, p._data)
        if value.dtype != p._data.dtype:
            raise op_error(DTypeError, where, f"state {key!r} has dtype {value.dtype}, its parameter "
                           f"has dtype {p._data.dtype}", value, p._data)
        return value.copy()


def check_params(params, where: str) -> list:
    if isinstance(params, NDArray):
        params = [params]
    params = list(params)
    if not params:
        raise ValueError(f"{where}: got an empty parameter list")
    for i, p in enumerate(params):
        if not isinstance(p, NDArray):
            raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not an NDArray")
        if not isinstance(p._entry, Variable) or p._entry.req == "null":
            raise op_error(AutogradError, where, f"parameter {i} is not attached: call attach_grad() "
                           "on it first (grad_req 'write' or 'add')", p._data)
        if any(p is q for q in params[:i]):
            raise ValueError(f"{where}: parameter {i} appears more than once in the list")
    return params


def check_number(where: str, name: str, value, low=0.0, high=math.inf, high_open=False) -> float:
    """`value` as a float in [low, high] (or [low, high)); a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    bad = not math.isfinite(value) or value < low or value > high or (high_open and value == high)
    if bad:
        bound = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise ValueError(f"{where}: {name} must be finite and in {bound}, got {value}")
    return value
