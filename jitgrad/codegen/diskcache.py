"""The disk cache's key, its directory, and checked Numba cache files.

Everything that changes the machine code of a kernel other than its source (which names the file,
`k_<hash of source>.py`) is in the **environment key**: the versions of jitgrad, Python, numpy, Numba
and llvmlite, the on-disk format below, and the CPU (name and features, as Numba targets them). Each
key has its own directory `<cache dir>/<key>/`, with the key's parts in `key.json`, so a changed
version or CPU lands somewhere else; when a kernel is missing from the current key's directory but
present under another key, the log names the parts that differ.

Numba's own index and data files (`__pycache__/*.nbi`, `*.nbc`) are written by `CheckedCache` in a
checked form: a SHA-256 of the payload precedes it, and each data file records the index key it was
written for. A truncated or garbled file, or a data file that another process reused for another
signature (Numba numbers data files without a lock), is then detected, warned about and recompiled,
never loaded as a wrong kernel. This subclasses Numba's `FunctionCache` and `IndexDataCacheFile`
(numba.core.caching) and overrides their file format; tests/test_cache.py damages each kind of file
across processes, so a change in those internals shows up there.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import pickle
import platform
import time
import warnings

import llvmlite
import llvmlite.binding as llvm
import numba
import numpy as np
from numba.core import config
from numba.core.caching import FunctionCache, IndexDataCacheFile

log = logging.getLogger("jitgrad")
STATS = {"modules": 0, "numba_compiles": 0, "compile_seconds": 0.0, "disk_loads": 0}  # see compile.py
FORMAT = 1        # of the checked files; bump when it changes
MAGIC = b"jitgrad-numba-cache\n"


class CacheWarning(UserWarning):
    """A disk cache file was unusable (corrupted, truncated, stale) or the directory is not writable."""


class CorruptCacheFile(Exception):
    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


@functools.lru_cache(maxsize=None)
def key_parts() -> dict:
    """What the machine code depends on besides the kernel source (computed once per process)."""
    import jitgrad
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else \
        llvm.get_host_cpu_features().flatten()
    return {"format": FORMAT, "jitgrad": jitgrad.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "llvmlite": llvmlite.__version__,
            "cpu": config.CPU_NAME or llvm.get_host_cpu_name(),
            "cpu_features": hashlib.sha256(features.encode()).hexdigest()[:12]}


def key_name(parts: dict) -> str:
    return "env-" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def write_atomic(path: str, data: bytes) -> None:
    """Write to a temporary name and rename: a concurrent reader sees the whole file or none."""
    tmp = f"{path}.{os.getpid()}.{time.perf_counter_ns()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # cleanup may race with another process
            os.unlink(tmp)
        raise


def key_directory(root: str) -> str | None:
    """`root/<key>/`, created with its key.json; None (with a warning) when it cannot be written."""
    parts = key_parts()
    path = os.path.join(root, key_name(parts))
    manifest = os.path.join(path, "key.json")
    try:
        if not os.path.exists(manifest):
            os.makedirs(path, exist_ok=True)
            write_atomic(manifest, json.dumps(parts, indent=1, sort_keys=True).encode())
        return path
    except OSError as e:
        if path not in _unwritable:  # once per directory and process
            _unwritable.add(path)
            warnings.warn(f"jitgrad: cannot write the kernel cache in {path} ({e}); kernels are compiled "
                          "in memory", CacheWarning, stacklevel=2)
        return None


_unwritable: set[str] = set()


def why_missing(root: str, filename: str) -> str:
    """Why `filename` is not in the current key's directory: new, or which key parts changed."""
    current = key_parts()
    changes = []
    try:
        others = [d for d in os.listdir(root) if d.startswith("env-") and d != key_name(current)]
    except OSError:
        others = []
    for d in others:
        if not os.path.exists(os.path.join(root, d, filename)):
            continue
        try:
            with open(os.path.join(root, d, "key.json")) as f:
                old = json.load(f)
        except (OSError, ValueError):
            continue
        changes.append(", ".join(f"{k} {old.get(k)} -> {v}" for k, v in current.items() if old.get(k) != v))
    if not changes:
        return "a new kernel"
    return "cached under another key: " + min(changes, key=len)


def check_source(path: str, source: str, digest: str) -> None:
    """Make `path` hold `source`: write it if missing, rewrite it (warning) if it does not hash to
    `digest`, the hash in its name (a truncated or garbled file)."""
    try:
        with open(path, "rb") as f:
            found = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        found = None
    if found is not None:
        if source_digest(found) == digest:
            return
        warnings.warn(f"jitgrad: kernel source {path} is corrupted (its content does not match its name); "
                      "rewriting it", CacheWarning, stacklevel=3)
    write_atomic(path, source.encode())


def source_digest(source: str) -> str:
    """The hash of a kernel's source minus its first line (which names the graph, not the structure)."""
    return hashlib.sha256(source.split("\n", 1)[-1].encode()).hexdigest()[:20]


# ---- Numba's index and data files, checked ----------------------------------------------------------

def _seal(payload: bytes) -> bytes:
    return MAGIC + hashlib.sha256(payload).digest() + payload


def _unseal(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    head = len(MAGIC) + 32
    if not raw.startswith(MAGIC) or len(raw) < head:
        raise CorruptCacheFile(path, "not a jitgrad cache file (truncated or garbled)")
    payload = raw[head:]
    if hashlib.sha256(payload).digest() != raw[len(MAGIC):head]:
        raise CorruptCacheFile(path, "checksum mismatch (truncated or garbled)")
    return payload


class CheckedIndexDataCacheFile(IndexDataCacheFile):
    """Numba's index/data files with a checksum, and data files that name their index key."""
    miss_reason = "not in the disk cache"

    def _load_index(self):
        try:
            payload = _unseal(self._index_path)
        except FileNotFoundError:
            self.miss_reason = "not in the disk cache"
            return {}
        except OSError as e:  # e.g. the directory was replaced or removed: compile, then try to save
            self.miss_reason = f"cannot read {self._index_path} ({e.strerror})"
            return {}
        version, stamp, overloads = _unpickle(self._index_path, payload)
        if (version, stamp) != (self._version, self._source_stamp):
            self.miss_reason = "stale index (the kernel source file changed since it was cached)"
            return {}
        self.miss_reason = "new argument types (dtype or layout) for a cached kernel"
        return overloads

    def _save_index(self, overloads):
        payload = self._dump((self._version, self._source_stamp, overloads))
        with self._open_for_write(self._index_path) as f:
            f.write(_seal(payload))

    def save(self, key, data):
        super().save(key, (key, data))

    def load(self, key):
        overloads = self._load_index()
        name = overloads.get(key)
        if name is None:
            return None
        path = self._data_path(name)
        try:
            payload = _unseal(path)
        except OSError as e:
            self.miss_reason = f"cannot read data file {path} ({e.strerror})"
            return None
        saved_key, data = _unpickle(path, payload)
        if saved_key != key:
            raise CorruptCacheFile(path, "written for another signature (concurrent writers)")
        return data

    def _save_data(self, name, data):
        with self._open_for_write(self._data_path(name)) as f:
            f.write(_seal(self._dump(data)))


def _unpickle(path: str, payload: bytes):
    try:
        return pickle.loads(payload)
    except Exception as e:  # a sealed file that still fails: written by an incompatible writer
        raise CorruptCacheFile(path, f"cannot be read ({type(e).__name__}: {e})") from None


class CheckedCache(FunctionCache):
    """Numba's function cache over checked files; logs disk loads and why a signature missed."""

    def __init__(self, py_func, label: str, new_source_reason: str | None):
        super().__init__(py_func)
        self.label, self.new_source_reason = label, new_source_reason
        self._cache_file = CheckedIndexDataCacheFile(self._cache_path, self._impl.filename_base,
                                                     self._impl.locator.get_source_stamp())
        self.miss_reason: str | None = None

    def load_overload(self, sig, target_context):
        # Numba's setup before any load or compile (every lowering registry, and scipy for BLAS): about
        # 0.3 s once per process. Loaded code needs it (tried without: it crashes), so it stays; it is
        # logged on its own, not as part of this load.
        if not _setup_done:
            _numba_setup(target_context)
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


def _numba_setup(target_context) -> None:
    global _setup_done
    start = time.perf_counter()
    target_context.refresh()
    _setup_done = True
    log.info("jitgrad: Numba's target setup (once per process) took %.0f ms",
             1e3 * (time.perf_counter() - start))


def describe_types(types) -> str:
    """Numba argument types, short: arrays as dtype[ndim, layout], runs of one type counted."""
    names = []
    for t in types:
        names.append(f"{t.dtype}[{t.ndim}d {t.layout}]" if hasattr(t, "layout") else str(t))
    runs: list[list] = []
    for n in names:
        if runs and runs[-1][0] == n:
            runs[-1][1] += 1
        else:
            runs.append([n, 1])
    return ", ".join(n if k == 1 else f"{k} x {n}" for n, k in runs)


def enable(dispatcher, label: str, new_source_reason: str | None = None) -> None:
    """Give a Numba dispatcher whose function lives in a cache file the checked disk cache;
    `new_source_reason` says why, if the file was just written, it was not on disk already."""
    dispatcher._cache = CheckedCache(dispatcher.py_func, label, new_source_reason)

