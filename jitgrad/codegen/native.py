"""Machine code of kernels stored on disk and loaded without Numba.

A process that finds every kernel it needs in the cache should not pay for Numba: importing it takes
about 0.2 s and its one-time target setup (its lowering registries) 0.13 s here (numbacache.py),
while loading one kernel's machine code takes a few milliseconds. So after Numba compiles a
kernel for some argument types, `record` gives what to store, what Numba itself would cache for
it: the object code of its module (the kernel, its Python wrapper and every helper linked in) and
the names of the wrapper and of its environment. `load` links that object code into an LLVM
execution engine of its own (llvmlite), resolving its calls into Numba's C runtime from Numba's
extension modules, loaded from their files without running Numba's package, and wraps the wrapper
as a Python function exactly as Numba's dispatcher does (`_dynfunc.make_function`). The wrapper
unboxes the arrays in C, releases the GIL and reports errors as Numba would.

What this relies on besides public API: the layout of Numba's compiled Python wrappers and the names
of its runtime symbols. Both are fixed by the Numba version, which is part of the cache key, and any
file that fails a check (checksum, an unresolvable symbol, a missing extension) is not loaded: the
kernel then compiles through Numba. Linux (ELF objects) only.
"""
from __future__ import annotations

import builtins
import ctypes
import importlib.machinery
import importlib.util
import logging
import os
import struct
import sys
import threading

log = logging.getLogger("jitgrad")
SUPPORTED = sys.platform.startswith("linux") and sys.byteorder == "little"
FORMAT = 1


def numba_spec():
    spec = importlib.util.find_spec("numba")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("jitgrad needs Numba, which is not installed")
    return spec


def numba_module(name: str):
    """Numba's submodule `name` (e.g. "_helperlib"), from its file if Numba's package is not
    imported: its leaf modules (the C runtime, the version) need nothing of the package."""
    full = f"numba.{name}"
    if full in sys.modules:
        return sys.modules[full]
    if "numba" in sys.modules:
        return importlib.import_module(full)
    base = os.path.join(numba_spec().submodule_search_locations[0], *name.split("."))
    for suffix in importlib.machinery.all_suffixes():
        if os.path.exists(base + suffix):
            spec = importlib.util.spec_from_file_location(full, base + suffix)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[full] = module   # Numba's package, imported later, finds it (loaded once)
            return module
    raise ImportError(f"Numba has no module {full}")


def numba_version() -> str:
    return numba_module("_version").get_versions()["version"]


# ---- storing: in the process that compiled the kernel (Numba imported) -----------------------------

def record(overload, types: tuple) -> dict | None:
    """What to store for the kernel `overload` (a Numba compile result for argument `types`);
    None when Numba kept no object code for it (e.g. it was loaded from Numba's own cache)."""
    try:
        obj = overload.library.serialize_using_object_code()[2][0]
    except (RuntimeError, ValueError):
        return None
    fndesc = overload.fndesc
    return {"format": FORMAT, "types": repr(types), "wrapper": fndesc.llvm_cpython_wrapper_name,
            "env": fndesc.env_name, "name": fndesc.qualname.split(".")[-1], "module": fndesc.modname,
            "object": bytes(obj)}


# ---- loading: possibly with no Numba imported ------------------------------------------------------

class _Runtime:
    """One LLVM execution engine for all loaded kernels, with Numba's runtime symbols registered."""

    def __init__(self):
        import llvmlite.binding as llvm
        helperlib, dynfunc = numba_module("_helperlib"), numba_module("_dynfunc")
        nrt = numba_module("core.runtime._nrt_python")
        nrt.memsys_use_cpython_allocator()     # as Numba sets it: before any kernel allocates
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.add_symbol("_Py_NoneStruct", id(None))
        for helpers in (helperlib.c_helpers, dynfunc.c_helpers):
            for name, address in helpers.items():
                llvm.add_symbol("numba_" + name, address)
        for name, address in nrt.c_helpers.items():
            llvm.add_symbol(name if name.startswith("_") else "NRT_" + name, address)
        for obj in builtins.__dict__.values():
            if isinstance(obj, type) and issubclass(obj, BaseException):
                llvm.add_symbol(f"PyExc_{obj.__name__}", id(obj))
        self.llvm, self.dynfunc = llvm, dynfunc
        machine = llvm.Target.from_default_triple().create_target_machine(jit=True)
        self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
        self.lock = threading.Lock()

    def link(self, record: dict, label: str):
        missing = [s for s in undefined_symbols(record["object"]) if self.llvm.address_of_symbol(s) is None]
        if missing:   # LLVM aborts the process on an unresolved symbol: check first
            raise LookupError(f"unresolved symbols {', '.join(missing[:5])}")
        with self.lock:
            self.engine.add_object_file(self.llvm.ObjectFileRef.from_data(record["object"]))
            self.engine.finalize_object()
            wrapper = self.engine.get_function_address(record["wrapper"])
            slot = self.engine.get_global_value_address(record["env"])
        if not wrapper or not slot:
            raise LookupError("the object code lacks its wrapper or environment")
        env = self.dynfunc.Environment({"__name__": record["module"]})
        ctypes.c_void_p.from_address(slot).value = id(env)   # what Numba's set_env does
        return self.dynfunc.make_function(sys.modules[__name__], record["name"],
                                          f"compiled kernel {label}", wrapper, env, (self.engine, env))


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> _Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = _Runtime()
        return _runtime


def load(record, types: tuple, label: str):
    """The Python function for a stored kernel `record` (as `record` made it, read back by the caller)
    of argument `types`; raises ValueError or LookupError when it cannot be used."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError("written in another format")
    if record["types"] != repr(types):
        raise ValueError(f"written for other argument types ({record['types']})")
    return runtime().link(record, label)


def undefined_symbols(obj: bytes) -> list[str]:
    """Names an ELF64 little-endian relocatable object needs from outside (its undefined symbols)."""
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        raise ValueError("not an ELF64 little-endian object")
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize) for i in range(shnum)]
    names = []
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != 2:   # SHT_SYMTAB
            continue
        strings = sections[link][4]
        for at in range(offset + entsize, offset + size, entsize):   # entry 0 is the null symbol
            name, _, _, shndx, _, _ = struct.unpack_from("<IBBHQQ", obj, at)
            if shndx == 0 and name:   # SHN_UNDEF
                end = obj.index(b"\0", strings + name)
                names.append(obj[strings + name:end].decode())
    return names
