"""Kernel source -> compiled Numba functions, cached in process and on disk.

The source (minus its first line, which names the graph) is hashed; the module is written once to
`<cache dir>/k_<hash>.py` and imported from there, so Numba's own on-disk cache (`cache=True`) and
tracebacks point at a real file. The cache directory is `$JITGRAD_CACHE_DIR` or `~/.cache/jitgrad`; if it
cannot be written, the module is executed from memory and Numba's disk cache is off. Within a process,
kernels with the same source share one set of compiled functions. Numba compiles lazily, on the first call
for each argument type signature; `STATS` counts those compiles and they are logged, with durations, on
the "jitgrad" logger.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import threading
import time
import types
from dataclasses import dataclass

from ..cache import cache_dir

import numba
from numba.core import event

log = logging.getLogger("jitgrad")
JIT = dict(nogil=True, error_model="numpy")
STATS = {"modules": 0, "numba_compiles": 0, "compile_seconds": 0.0}


@dataclass
class CompiledKernel:
    key: str
    path: str | None
    serial: object       # Numba dispatchers of the module's `kernel`; serial is called with chunks0 = 1
    parallel: object


_loaded: dict[str, CompiledKernel] = {}
_loading = threading.Lock()


def source_key(source: str) -> str:
    return hashlib.sha256(source.split("\n", 1)[1].encode()).hexdigest()[:20]


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
    directory = cache_dir()
    path = os.path.join(directory, f"k_{key}.py") if directory else None
    if path is not None and not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(source)
        os.replace(tmp, path)  # atomic: a concurrent process sees the whole file or none
    if path is not None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    else:
        module = types.ModuleType(module_name)
        sys.modules[module_name] = module
        exec(compile(source, f"<jitgrad kernel {key}>", "exec"), module.__dict__)
    cache = path is not None
    serial = numba.njit(cache=cache, **JIT)(_renamed(module.kernel, "kernel_serial"))
    parallel = numba.njit(cache=cache, parallel=True, **JIT)(_renamed(module.kernel, "kernel_parallel"))
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
    """Logs each Numba compile of a kernel module's function, with its duration."""
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
        log.info("jitgrad: compiled %s.%s%s in %.2f s", module[len("jitgrad_kernel_"):],
                 dispatcher.py_func.__name__, tuple(ev.data["args"]), seconds)


event.register("numba:compile", CompileLogger())
