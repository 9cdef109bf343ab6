"""The public API documents itself: every public function, class, method and property has a docstring
(the API reference pages are generated from them), and the package ships its type information."""
import inspect
import os

import pytest

import jitgrad
from jitgrad import NDArray, autograd, nd


def _public(module, names=None):
    names = names if names is not None else [n for n in dir(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if callable(obj) and not inspect.ismodule(obj):
            yield f"{module.__name__}.{name}", obj


def _missing(items):
    return sorted(name for name, obj in items if not (inspect.getdoc(obj) or "").strip())


@pytest.mark.parametrize("module, names", [
    (jitgrad, jitgrad.__all__), (nd, None), (nd.random, None), (autograd, None)])
def test_public_functions_have_docstrings(module, names):
    home = "jitgrad" if hasattr(module, "__path__") else module.__name__  # modules: their own only
    items = [(n, o) for n, o in _public(module, names) if getattr(o, "__module__", "").startswith(home)]
    assert _missing(items) == []


def test_ndarray_members_have_docstrings():
    items = [(f"NDArray.{n}", v) for n, v in vars(NDArray).items()
             if not n.startswith("_") and (callable(v) or isinstance(v, property))]
    assert _missing(items) == []


def test_package_is_typed():
    assert os.path.exists(os.path.join(os.path.dirname(jitgrad.__file__), "py.typed"))
