"""Numba's index and data files (`__pycache__/*.nbi`, `*.nbc`), checked.

`CheckedCache` writes them sealed (diskcache.seal: a SHA-256 of the payload precedes it), and each data
file records the index key it was written for. A truncated or garbled file, or a data file that another
process reused for another signature (Numba numbers data files without a lock), is then detected,
warned about and recompiled, never loaded as a wrong kernel. This subclasses Numba's `FunctionCache` and
`IndexDataCacheFile` (numba.core.caching) and overrides their file format; tests/test_cache.py damages
each kind of file across processes, so a change in those internals shows up there.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
import warnings

from numba.core.caching import FunctionCache, IndexDataCacheFile

from .diskcache import STATS, CacheWarning, CorruptCacheFile, describe_types, log, seal, unpickle, unseal


class CheckedIndexDataCacheFile(IndexDataCacheFile):
    """Numba's index/data files with a checksum, and data files that name their index key."""
    miss_reason = "not in the disk cache"

    def _load_index(self):
        try:
            payload = unseal(self._index_path)
        except FileNotFoundError:
            self.miss_reason = "not in the disk cache"
            return {}
        except OSError as e:  # e.g. the directory was replaced or removed: compile, then try to save
            self.miss_reason = f"cannot read {self._index_path} ({e.strerror})"
            return {}
        version, stamp, overloads = unpickle(self._index_path, payload)
        if (version, stamp) != (self._version, self._source_stamp):
            self.miss_reason = "stale index (the kernel source file changed since it was cached)"
            return {}
        self.miss_reason = "new argument types (dtype or layout) for a cached kernel"
        return overloads

    def _save_index(self, overloads):
        payload = self._dump((self._version, self._source_stamp, overloads))
        with self._open_for_write(self._index_path) as f:
            f.write(seal(payload))

    def save(self, key, data):
        super().save(key, (key, data))

    def load(self, key):
        overloads = self._load_index()
        name = overloads.get(key)
        if name is None:
            return None
        path = self._data_path(name)
        try:
            payload = unseal(path)
        except OSError as e:
            self.miss_reason = f"cannot read data file {path} ({e.strerror})"
            return None
        saved_key, data = unpickle(path, payload)
        if saved_key != key:
            raise CorruptCacheFile(path, "written for another signature (concurrent writers)")
        return data

    def _save_data(self, name, data):
        with self._open_for_write(self._data_path(name)) as f:
            f.write(seal(self._dump(data)))



class CheckedCache(FunctionCache):
    """Numba's function cache over checked files; logs disk loads and why a signature missed."""

    def __init__(self, py_func, label: str, new_source_reason: str | None):
        super().__init__(py_func)
        self.label, self.new_source_reason = label, new_source_reason
        self._cache_file = CheckedIndexDataCacheFile(self._cache_path, self._impl.filename_base,
                                                     self._impl.locator.get_source_stamp())
        self.miss_reason: str | None = None

    def load_overload(self, sig, target_context):
        # Numba's setup before any load or compile (every lowering registry): about 0.13 s once per
        # process (see _blas_check_answered). Loaded code needs it (tried without: it crashes), so it
        # stays; it is logged on its own, not as part of this load.
        setup(target_context)
        start = time.perf_counter()
        try:
            cres = self._load_overload(sig, target_context)
        except CorruptCacheFile as e:
            warnings.warn(f"jitgrad: Numba cache file {e}; recompiling {self.label}", CacheWarning,
                          stacklevel=2)
            with contextlib.suppress(OSError):  # cleanup may race with another process
                os.unlink(e.path)
            self.miss_reason = f"corrupted cache file {os.path.basename(e.path)}"
            return None
        args = describe_types(sig.args if hasattr(sig, "args") else sig)
        if cres is None:
            reason = self._cache_file.miss_reason
            if reason == "not in the disk cache" and self.new_source_reason:
                reason = self.new_source_reason
            self.miss_reason = reason
            log.info("jitgrad: disk cache miss for %s(%s): %s", self.label, args, reason)
            return None
        STATS["disk_loads"] += 1
        log.info("jitgrad: loaded %s(%s) from the disk cache in %.1f ms", self.label, args,
                 1e3 * (time.perf_counter() - start))
        return cres

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError as e:  # a full disk, or the directory went away: the compiled code still runs
            warnings.warn(f"jitgrad: cannot save {self.label} to the disk cache ({e}); it stays compiled "
                          "in memory", CacheWarning, stacklevel=2)


_setup_done = False


def setup(target_context) -> None:
    """Numba's one-time setup before its first load or compile, logged on its own (not as part of the
    compile or load that needs it)."""
    global _setup_done
    if _setup_done:
        return
    start = time.perf_counter()
    with _blas_check_answered():
        target_context.refresh()
    _setup_done = True
    log.info("jitgrad: Numba's target setup (once per process) took %.0f ms",
             1e3 * (time.perf_counter() - start))


@contextlib.contextmanager
def _blas_check_answered():
    """The setup imports numba.np.arraymath, which asks whether BLAS is there by importing
    scipy.linalg.cython_blas: 0.18 s here (scipy.linalg brings numpy.testing, numpy.f2py, ...), a
    third of the setup, for kernels that never call BLAS. With scipy installed the answer is yes, so
    it is given without the import. numba.np.linalg's own check is back in place once the setup is
    done: Numba code that does call BLAS (np.dot in a user's own function) imports and checks scipy
    when it is compiled, as before."""
    from numba.np import linalg
    original = getattr(linalg, "ensure_blas", None)
    if original is None or "numba.np.arraymath" in sys.modules or importlib.util.find_spec("scipy") is None:
        yield
        return
    linalg.ensure_blas = lambda: None
    try:
        yield
    finally:
        linalg.ensure_blas = original


def enable(dispatcher, label: str, new_source_reason: str | None = None) -> None:
    """Give a Numba dispatcher whose function lives in a cache file the checked disk cache;
    `new_source_reason` says why, if the file was just written, it was not on disk already."""
    dispatcher._cache = CheckedCache(dispatcher.py_func, label, new_source_reason)

