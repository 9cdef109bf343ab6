"""Kernel source -> compiled entry points, cached in process and on disk.

The source (minus its first line, which names the graph) is hashed; the module is written once to
`<cache dir>/<environment key>/k_<hash>.py` (see `diskcache`), so Numba's disk cache (where machine
code is not stored, see native_enabled) and tracebacks point at a real file. The cache directory is
`$JITGRAD_CACHE_DIR` or `~/.cache/jitgrad`; if it cannot be written, the module is executed from
memory and nothing is cached on disk. Within a process, kernels with the same source share one
`CompiledKernel`.

A kernel is called through an **entry**: the compiled function for one tuple of argument types
(`array_type`, `SIZE`). Programs know their kernels' argument types when they are built, so they call
entries directly, with no per-call type dispatch. An entry comes, lazily on its first use, from
memory, else from its stored machine code (`k_<hash>.<types>.native`, loaded by native.py without
importing Numba), else from Numba (numbajit.py: its own disk cache or a compile), which then stores
the machine code for the next process. `STATS` counts compiles and disk loads; both are logged on
the "jitgrad" logger with their duration, and a compile with its cause (set by the program that first runs the kernel) and why the
disk cache missed.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import pickle
import threading
import time
import warnings

from typing import TYPE_CHECKING

import numpy as np

from ..cache import cache_dir
from . import diskcache, native
from .diskcache import STATS, CacheWarning, CorruptCacheFile, describe_types, source_digest as source_key

if TYPE_CHECKING:
    from .numbajit import Dispatchers

log = logging.getLogger("jitgrad")
SIZE = "int64"                      # the type of the chunk range, finish0 and the sizes n0, n1, ...
_cause = threading.local()          # why the kernel running on this thread is being compiled


def array_type(dtype, ndim: int, contiguous: bool, read_only: bool) -> tuple:
    """An array argument's type: dtype name, rank, layout ("C" or "A", any strides), and whether the
    kernel only reads it (inputs are typed read-only and possibly unaligned, so that one entry serves
    every input array of that dtype, rank and layout)."""
    return (np.dtype(dtype).name, ndim, "C" if contiguous else "A", read_only)


@contextlib.contextmanager
def compile_cause(cause: str):
    """Name the reason for any compile that happens inside (logged with it)."""
    old, _cause.value = getattr(_cause, "value", None), cause
    try:
        yield
    finally:
        _cause.value = old


def current_cause() -> str:
    return getattr(_cause, "value", None) or "first call of this kernel"


def native_enabled() -> bool:
    """Whether kernels are cached as machine code (native.py) rather than in Numba's disk cache
    (`JITGRAD_NATIVE=0` chooses Numba's; so does a platform native.py does not support)."""
    return native.SUPPORTED and os.environ.get("JITGRAD_NATIVE") != "0"


class CompiledKernel:
    """One kernel source: its file in the cache, and its entries by argument types."""

    def __init__(self, source: str, key: str, path: str | None, first_miss: str | None):
        self.source, self.key, self.path = source, key, path
        self.first_miss = first_miss       # why the source was not on disk yet, if it was not
        self.entries: dict[tuple, object] = {}
        self.miss_reason: str | None = None   # why the last entry was not on disk
        self._numba: Dispatchers | None = None   # made on first need
        self.ahead: dict[tuple, tuple] = {}   # types -> (helper, job) compiling it (compileahead.py)

    def entry(self, types: tuple):
        fn = self.entries.get(types)
        if fn is None:
            with _loading:
                fn = self.entries.get(types) or self._resolve(types)
        return fn

    def _resolve(self, types: tuple):
        ahead = self.ahead.pop(types, None)
        if ahead is not None:
            self._wait_for_helper(types, *ahead)
        fn = self._load_native(types)
        if fn is None:
            overload = self.numba().compile(types)
            fn = overload.entry_point
            self._save_native(types, overload)
        self.entries[types] = fn
        return fn

    def _wait_for_helper(self, types: tuple, helper, job: int) -> None:
        start = time.perf_counter()
        error = helper.wait(job)
        label = self.label(types)
        if error is None:
            STATS["helper_compiles"] += 1
            log.info("jitgrad: the helper process compiled %s (waited %.0f ms)", label,
                     1e3 * (time.perf_counter() - start))
        else:
            log.info("jitgrad: the helper process did not compile %s (%s); compiling it here", label, error)

    def needs_compile(self, types: tuple) -> bool:
        """Whether the entry for `types` is neither in memory nor stored on disk (a helper process
        could compile it into the disk cache: compileahead.py)."""
        path = self.native_path(types)
        return types not in self.entries and path is not None and not os.path.exists(path)

    def label(self, types: tuple) -> str:
        """The entry's name in the log: kernel and argument types."""
        return f"k_{self.key}.kernel({describe_types(types)})"

    def numba(self):
        """The Numba dispatchers of this kernel (imports Numba)."""
        if self._numba is None:
            from .numbajit import Dispatchers
            self._numba = Dispatchers(self)
        return self._numba

    @property
    def dispatcher(self):
        return self.numba().dispatcher

    # ---- stored machine code of entries ---------------------------------------------------------
    def native_path(self, types: tuple) -> str | None:
        if self.path is None or not native_enabled():
            return None
        digest = hashlib.sha256(repr(types).encode()).hexdigest()[:12]
        return f"{self.path[:-3]}.{digest}.native"

    def _load_native(self, types: tuple):
        path = self.native_path(types)
        if path is None or self.path is None:
            return None
        label = self.label(types)
        if not os.path.exists(path):
            self.miss_reason = self.first_miss or (
                "new argument types (dtype or layout) for a cached kernel"
                if glob.glob(glob.escape(self.path[:-3]) + ".*.native")
                else "not in the disk cache")
            log.info("jitgrad: disk cache miss for %s: %s", label, self.miss_reason)
            return None
        start = time.perf_counter()
        try:
            fn = native.load(diskcache.unpickle(path, diskcache.unseal(path)), types, label)
        except (OSError, ValueError, LookupError, CorruptCacheFile) as e:
            warnings.warn(f"jitgrad: stored machine code {path} is unusable ({e}); compiling {label}",
                          CacheWarning, stacklevel=4)
            with contextlib.suppress(OSError):
                os.unlink(path)
            self.miss_reason = f"unusable stored machine code ({e})"
            return None
        STATS["disk_loads"] += 1
        log.info("jitgrad: loaded %s machine code from the disk cache in %.1f ms", label,
                 1e3 * (time.perf_counter() - start))
        return fn

    def _save_native(self, types: tuple, overload) -> None:
        path = self.native_path(types)
        record = native.record(overload, types) if path is not None else None
        if path is None or record is None:
            return
        try:
            diskcache.write_atomic(path, diskcache.seal(pickle.dumps(record, pickle.HIGHEST_PROTOCOL)))
        except OSError as e:   # a full disk, or the directory went away: the entry still runs
            warnings.warn(f"jitgrad: cannot save machine code to {path} ({e})", CacheWarning, stacklevel=4)


# Kernels by source key, for the whole process. Not bounded: the machine code of a dropped kernel is
# not released (RSS stays), and loading it again later would take more (about 55 KB a load).
_loaded: dict[str, CompiledKernel] = {}
_loading = threading.RLock()   # one kernel's first loads share a module and Numba's compiles


def load(source: str) -> CompiledKernel:
    """The compiled kernel for `source` (rendered by codegen.render); nothing compiles until an entry
    is used."""
    key = source_key(source)
    hit = _loaded.get(key)
    if hit is not None:
        return hit
    with _loading:
        hit = _loaded.get(key)
        return hit if hit is not None else _load(source, key)


def _load(source: str, key: str) -> CompiledKernel:
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
    STATS["modules"] += 1
    log.debug("jitgrad: kernel %s in %s", key, path or "memory")
    kernel = _loaded[key] = CompiledKernel(source, key, path, first_miss)
    return kernel
