"""Optimizers over lists of attached NDArrays: `SGD`, `Adam`, `AdamW` (PyTorch's update rules).

    opt = jg.optim.Adam([w, b], lr=1e-2)
    for x, y in batches:
        with autograd.record():
            loss = model(x, w, b, y)
        loss.backward()
        opt.step()

`step()` updates every parameter from its `grad` buffer in one compiled, fused program when the
parameters are large enough for that to pay (`compiled='auto'`, or force it with True/False).
"""
from __future__ import annotations

from .adam import Adam, AdamW
from .base import COMPILE_MIN_ELEMENTS, Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "COMPILE_MIN_ELEMENTS"]
