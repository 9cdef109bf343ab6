"""A kernel's Numba dispatchers: its module imported, its `kernel` compiled for explicit argument types.

Imported only when some entry is not in memory or stored as machine code (compile.py): importing Numba
and its first compile cost a few tenths of a second. The module is imported from its file in the cache
(or executed from memory without one). Its dispatcher has the checked disk cache of numbacache.py
where the kernel's machine code cannot be stored instead (compile.native_enabled). Compiled `nogil`:
a parallel kernel's chunks run on several threads at once (threads.py).
"""
from __future__ import annotations

import importlib.util
import sys
import time
import types as pytypes

import numba
import numpy as np
from numba import types as nt
from numba.core import event

from . import numbacache, vmath
from .diskcache import describe_types
from .compile import STATS, current_cause, log, native_enabled

JIT = dict(nogil=True, error_model="numpy")


class Dispatchers:
    def __init__(self, kernel):
        name = f"jitgrad_kernel_{kernel.key}"
        if kernel.path is not None:
            spec = importlib.util.spec_from_file_location(name, kernel.path)
            assert spec is not None and spec.loader is not None  # a .py path always has a source loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            module = pytypes.ModuleType(name)
            sys.modules[name] = module
            exec(compile(kernel.source, f"<jitgrad kernel {kernel.key}>", "exec"), module.__dict__)
        kernel_fn = module.kernel
        if reoptimized(module):
            kernel_fn = _calling(numba.njit(**JIT)(_renamed(kernel_fn)), kernel_fn)
        self.dispatcher = dispatcher = numba.njit(**JIT)(kernel_fn)
        dispatcher.jitgrad_kernel = kernel   # its miss_reason: why an entry was not on disk
        if kernel.path is not None and not native_enabled():   # else entries are stored as machine code
            numbacache.enable(dispatcher, f"k_{kernel.key}.kernel", kernel.first_miss)

    def compile(self, types: tuple):
        """Numba's compile result (from its disk cache or compiled) for these argument types."""
        dispatcher = self.dispatcher
        numbacache.setup(dispatcher.targetctx)
        signature = tuple(numba_type(t) for t in types)
        dispatcher.compile(signature)
        return dispatcher.overloads[signature]


def reoptimized(module) -> bool:
    """Whether the kernel calls a function whose vector version LLVM's loop vectorizer leaves in the
    loop as a call (vmath.VECTOR_CALLS: float32 sin, cos, tan and their tails for large arguments).
    Optimized once more after vectorizing, as the code of a function that calls it, the call is
    inlined and only a branch to the out-of-line tail stays in the loop: W2's kernel 8.8 -> 7.0 ms
    on one thread. Other kernels gain nothing from a second optimization and would pay its compile
    time."""
    calls = vmath.VECTOR_CALLS
    return any(f in calls for f in vars(module).values() if callable(f))


def _renamed(fn):
    """A copy of kernel function `fn` outside the kernel module (the compile log counts the caller)."""
    copy = pytypes.FunctionType(fn.__code__, fn.__globals__, "kernel_body", fn.__defaults__, fn.__closure__)
    copy.__module__ = "jitgrad.codegen.numbajit"
    return copy


def _calling(inner, fn):
    """A function with `fn`'s parameters, name and module that calls the compiled `inner` with them."""
    params = ", ".join(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    names = {"inner": inner}   # compiled as from the kernel's file: Numba's disk cache locates it there
    exec(compile(f"def kernel({params}):\n    inner({params})\n", fn.__code__.co_filename, "exec"), names)
    outer = names["kernel"]
    outer.__module__ = fn.__module__
    return outer


def numba_type(t):
    if t == "int64":
        return nt.int64
    dtype, ndim, layout, read_only = t
    return nt.Array(numba.from_dtype(np.dtype(dtype)), ndim, layout, readonly=read_only,
                    aligned=not read_only)


class CompileLogger(event.Listener):
    """Logs each Numba compile of a kernel module's function, with its duration and cause."""
    def __init__(self):
        self.started: dict[int, float] = {}

    def on_start(self, ev):
        self.started[id(ev.data["dispatcher"])] = time.perf_counter()

    def on_end(self, ev):
        dispatcher = ev.data["dispatcher"]
        start = self.started.pop(id(dispatcher), None)
        module = getattr(dispatcher.py_func, "__module__", "") or ""
        if start is None or not module.startswith("jitgrad_kernel_"):
            return
        seconds = time.perf_counter() - start
        STATS["numba_compiles"] += 1
        STATS["compile_seconds"] += seconds
        cache, kernel = getattr(dispatcher, "_cache", None), getattr(dispatcher, "jitgrad_kernel", None)
        disk = getattr(cache, "miss_reason", None) or getattr(kernel, "miss_reason", None) or "no disk cache"
        log.info("jitgrad: compiled k_%s.%s(%s) in %.2f s (cause: %s; disk cache: %s)",
                 module[len("jitgrad_kernel_"):], dispatcher.py_func.__name__,
                 describe_types(ev.data["args"]), seconds, current_cause(), disk)


event.register("numba:compile", CompileLogger())
