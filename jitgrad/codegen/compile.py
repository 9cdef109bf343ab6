"""Kernel source -> compiled Numba functions, cached in process and on disk.

The source (minus its first line, which names the graph) is hashed; the module is written once to
`<cache dir>/<environment key>/k_<hash>.py` (see `diskcache`) and imported from there, so Numba's
on-disk cache and tracebacks point at a real file. The cache directory is `$JITGRAD_CACHE_DIR` or
`~/.cache/jitgrad`; if it cannot be written, the module is executed from memory and nothing is cached
on disk. Within a process, kernels with the same source share one set of compiled functions. Numba
compiles (or loads from the disk cache) lazily, on the first call for each argument type signature;
`STATS` counts compiles and disk loads, and both are logged on the "jitgrad" logger: a compile with
its duration, its cause (set by the program that first runs the kernel) and why the disk cache missed.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import threading
import time
import types
from dataclasses import dataclass

from ..cache import cache_dir
from . import diskcache
from .diskcache import STATS, source_digest as source_key

import numba
from numba.core import event

log = logging.getLogger("jitgrad")
JIT = dict(nogil=True, error_model="numpy")
_cause = threading.local()   # why the kernel running on this thread is being compiled


@dataclass
class CompiledKernel:
    key: str
    path: str | None
    serial: numba.core.dispatcher.Dispatcher  # of the module's `kernel`; serial is called with chunks0 = 1
    parallel: numba.core.dispatcher.Dispatcher


_loaded: dict[str, CompiledKernel] = {}
_loading = threading.Lock()


@contextlib.contextmanager
def compile_cause(cause: str):
    """Name the reason for any compile that happens inside (logged with it)."""
    old, _cause.value = getattr(_cause, "value", None), cause
    try:
        yield
    finally:
        _cause.value = old


def load(source: str) -> CompiledKernel:
    """The compiled functions for kernel `source` (rendered by codegen.render)."""
    key = source_key(source)
    hit = _loaded.get(key)
    if hit is not None:
        return hit
    with _loading:  # threads loading one new kernel share its module (and its Numba compiles)
        hit = _loaded.get(key)
        return hit if hit is not None else _load(source, key)


def _load(source: str, key: str) -> CompiledKernel:
    module_name = f"jitgrad_kernel_{key}"
    root = cache_dir()
    directory = diskcache.key_directory(root) if root else None
    path = os.path.join(directory, f"k_{key}.py") if directory else None
    first_miss = None   # why a kernel source new to this key directory is not on disk
    if path is not None:
        if root is not None and not os.path.exists(path):
            first_miss = diskcache.why_missing(root, os.path.basename(path))
        try:
            diskcache.check_source(path, source, key)
        except OSError as e:
            log.warning("jitgrad: cannot write %s (%s); compiling kernel %s in memory", path, e, key)
            path = None
    if path is not None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None  # a .py path always has a source loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    else:
        module = types.ModuleType(module_name)
        sys.modules[module_name] = module
        exec(compile(source, f"<jitgrad kernel {key}>", "exec"), module.__dict__)
    serial = numba.njit(**JIT)(_renamed(module.kernel, "kernel_serial"))
    parallel = numba.njit(parallel=True, **JIT)(_renamed(module.kernel, "kernel_parallel"))
    if path is not None:
        for dispatcher in (serial, parallel):
            diskcache.enable(dispatcher, f"k_{key}.{dispatcher.py_func.__name__}", first_miss)
    STATS["modules"] += 1
    log.debug("jitgrad: loaded kernel module %s from %s", key, path or "memory")
    kernel = _loaded[key] = CompiledKernel(key, path, serial, parallel)
    return kernel


def _renamed(fn, name: str):
    """A copy of `fn` named `name`: Numba's disk cache is keyed by the function's name and signature, not by
    its flags, so the serial and parallel compiles of one function need two names."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = name
    return copy


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
        cache = getattr(dispatcher, "_cache", None)
        disk = getattr(cache, "miss_reason", None) or "no disk cache"
        log.info("jitgrad: compiled k_%s.%s(%s) in %.2f s (cause: %s; disk cache: %s)",
                 module[len("jitgrad_kernel_"):], dispatcher.py_func.__name__,
                 diskcache.describe_types(ev.data["args"]),
                 seconds, getattr(_cause, "value", None) or "first call of this kernel", disk)


event.register("numba:compile", CompileLogger())
