"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

The rule is PyTorch's `torch.optim.SGD`, per parameter p with gradient g and buffer b:

    g = g + weight_decay * p
    b = g                                     on the first step
    b = momentum * b + (1 - dampening) * g    after it
    g = g + momentum * b   (nesterov)   or   g = b
    p = p - lr * g
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..ndarray import NDArray
from .base import Optimizer, check_number


class SGD(Optimizer):
    """`SGD(params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False, compiled='auto')`."""
    STATES: tuple[str, ...] = ("momentum_buffer",)  # () when momentum is 0
    HYPER = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    # the hyperparameters, set from check()'s result by Optimizer.__init__ and load_state_dict()
    lr: float
    momentum: float
    dampening: float
    weight_decay: float
    nesterov: bool

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, compiled="auto"):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov), compiled)
        if not self.momentum:  # plain SGD keeps no state
            self.STATES, self.state = (), {}

    @staticmethod
    def check(where: str, lr: float, momentum: float, dampening: float, weight_decay: float,
              nesterov: bool) -> dict[str, float | bool]:
        hyper: dict[str, float | bool] = dict(
            lr=check_number(where, "lr", lr),
            momentum=check_number(where, "momentum", momentum),
            dampening=check_number(where, "dampening", dampening, high=1.0),
            weight_decay=check_number(where, "weight_decay", weight_decay),
            nesterov=bool(nesterov))
        if nesterov and (hyper["momentum"] == 0 or hyper["dampening"] != 0):
            raise ValueError(f"{where}: Nesterov momentum needs momentum > 0 and dampening = 0, got "
                             f"momentum={hyper['momentum']}, dampening={hyper['dampening']}")
        return hyper

    def scalars(self) -> dict:
        return {"lr": self.lr}

    def statics(self) -> dict:
        if self.momentum and not self.STATES:
            raise ValueError("SGD.step: momentum was 0 when the optimizer was made, so it keeps no "
                             "momentum buffer; make a new SGD with momentum > 0")
        return dict(momentum=self.momentum, dampening=self.dampening,
                    weight_decay=self.weight_decay, nesterov=self.nesterov,
                    first=self.step_count == 1)

    @staticmethod
    def update(params: Sequence[NDArray], grads: Sequence[NDArray],
               states: Mapping[str, Sequence[NDArray]], scalars: Sequence[Mapping[str, NDArray]],
               momentum: float, dampening: float, weight_decay: float, nesterov: bool, first: bool
               ) -> tuple[list[NDArray], dict[str, list[NDArray]]]:
        new_params: list[NDArray] = []
        new_buffers: list[NDArray] = []
        buffers = states.get("momentum_buffer", [None] * len(params))
        for p, g, b, s in zip(params, grads, buffers, scalars, strict=True):
            if weight_decay:
                g = g + weight_decay * p
            if momentum:
                if first:
                    b = g
                else:
                    assert b is not None  # with momentum > 0 the states hold the buffers
                    b = momentum * b + ((1 - dampening) * g if dampening else g)
                g = g + momentum * b if nesterov else b
                new_buffers.append(b)
            new_params.append(p - s["lr"] * g)
        return new_params, ({"momentum_buffer": new_buffers} if momentum else {})
