"""A Griffe extension for the API reference: what jitgrad creates at import time.

Griffe reads the source, which does not show the elementwise functions that `jitgrad.nd.math`
generates from the primitive table, nor the docstrings NDArray's properties get from `property(doc=)`.
This extension adds both from the imported package, keeping the annotations as written.
"""
from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import griffe

CHECKOUT = Path(__file__).resolve().parents[2]  # the sources Griffe reads (mkdocs.yml: paths)


def _annotation(text, parent):
    if text is inspect.Parameter.empty:
        return None
    return griffe.safe_get_annotation(ast.parse(text, mode="eval").body, parent) or text


def _function(name: str, fn, parent: griffe.Module) -> griffe.Function:
    sig = inspect.signature(fn)  # annotations stay strings: every jitgrad module defers them
    params = [griffe.Parameter(p.name, annotation=_annotation(p.annotation, parent),
                               kind=griffe.ParameterKind(p.kind.description),
                               default=None if p.default is p.empty else repr(p.default))
              for p in sig.parameters.values()]
    func = griffe.Function(name, parameters=griffe.Parameters(*params),
                           returns=_annotation(sig.return_annotation, parent), parent=parent,
                           docstring=griffe.Docstring(inspect.getdoc(fn) or "", parser="google"))
    func.docstring.parent = func
    return func


class RuntimeMembers(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        if pkg.name != "jitgrad":
            return
        math, runtime = pkg["nd.math"], griffe.dynamic_import("jitgrad.nd.math", [CHECKOUT, *sys.path])
        for name, fn in runtime.GENERATED.items():
            if name not in math.members:
                math.set_member(name, _function(name, fn, math))
        cls = pkg["ndarray.NDArray"]
        runtime_cls = griffe.dynamic_import("jitgrad.ndarray.NDArray", [CHECKOUT, *sys.path])
        for name, member in cls.members.items():
            value = vars(runtime_cls).get(name)
            if isinstance(value, property) and value.__doc__ and member.docstring is None:
                member.docstring = griffe.Docstring(value.__doc__, parent=member, parser="google")
                member.labels = {"property"}
                member.value = None  # the property(lambda ...) call says nothing to a reader
