"""jitgrad: automatic differentiation with MXNet's imperative autograd, over numpy."""
from __future__ import annotations

from . import dispatch as _dispatch  # noqa: F401  (installs the dispatcher under the table)
from . import autograd, errors, nd
from .ndarray import Context, NDArray, cpu
from .nd import random
from .cache import cache_dir
from .codegen.threads import get_num_threads, set_num_threads
from .explain import explain
from .jit import compile, grad, value_and_grad  # noqa: A004  (jitgrad.compile is public)
from . import init, optim
from .logs import configure_from_environment as _configure_logging

_configure_logging()

__version__ = "0.1.0"
__all__ = ["autograd", "nd", "random", "errors", "NDArray", "Context", "cpu", "compile",
           "value_and_grad", "grad", "explain", "cache_dir", "get_num_threads", "set_num_threads",
           "init", "optim"]
