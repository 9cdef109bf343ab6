"""Adam (with L2 weight decay added to the gradient) and AdamW (decoupled weight decay).

The rules are PyTorch's `torch.optim.Adam` and `torch.optim.AdamW` (without amsgrad), at step t:

    g = g + weight_decay * p                 (Adam only: L2 penalty)
    p = p * (1 - lr * weight_decay)          (AdamW only: decoupled decay)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    p = p - lr / (1 - beta1**t) * m / (nd.sqrt(v) / sqrt(1 - beta2**t) + eps)
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .. import nd
from ..ndarray import NDArray
from .base import Optimizer, check_number


class Adam(Optimizer):
    """`Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, compiled='auto')`."""
    STATES = ("exp_avg", "exp_avg_sq")
    HYPER = ("lr", "beta1", "beta2", "eps", "weight_decay")
    DECOUPLED = False
    DEFAULT_WEIGHT_DECAY = 0.0
    # the hyperparameters, set from check()'s result by Optimizer.__init__ and load_state_dict()
    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float | None = None, compiled="auto"):
        if weight_decay is None:
            weight_decay = self.DEFAULT_WEIGHT_DECAY
        beta1, beta2 = _pair(type(self).__name__, betas)
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                      weight_decay=weight_decay), compiled)

    @property
    def betas(self) -> tuple[float, float]:
        """(beta1, beta2): the decay rates of the first and second moment estimates."""
        return (self.beta1, self.beta2)

    @staticmethod
    def check(where: str, lr: float, beta1: float, beta2: float, eps: float,
              weight_decay: float) -> dict[str, float]:
        return dict(lr=check_number(where, "lr", lr),
                    beta1=check_number(where, "betas[0]", beta1, high=1.0, high_open=True),
                    beta2=check_number(where, "betas[1]", beta2, high=1.0, high_open=True),
                    eps=check_number(where, "eps", eps),
                    weight_decay=check_number(where, "weight_decay", weight_decay))

    def scalars(self) -> dict:
        t = self.step_count
        values = {"step_size": self.lr / (1 - self.beta1 ** t),
                  "bias_correction2_sqrt": math.sqrt(1 - self.beta2 ** t)}
        if self.DECOUPLED and self.weight_decay:
            values["decay"] = 1 - self.lr * self.weight_decay
        return values

    def statics(self) -> dict:
        return dict(beta1=self.beta1, beta2=self.beta2, eps=self.eps,
                    weight_decay=self.weight_decay, decoupled=self.DECOUPLED)

    @staticmethod
    def update(params: Sequence[NDArray], grads: Sequence[NDArray],
               states: Mapping[str, Sequence[NDArray]], scalars: Sequence[Mapping[str, NDArray]],
               beta1: float, beta2: float, eps: float, weight_decay: float, decoupled: bool
               ) -> tuple[list[NDArray], dict[str, list[NDArray]]]:
        new_params: list[NDArray] = []
        new_m: list[NDArray] = []
        new_v: list[NDArray] = []
        for p, g, m, v, s in zip(params, grads, states["exp_avg"], states["exp_avg_sq"], scalars,
                                 strict=True):
            if weight_decay and decoupled:
                p = p * s["decay"]
            elif weight_decay:
                g = g + weight_decay * p
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * (g * g)
            new_params.append(p - s["step_size"] * m / (nd.sqrt(v) / s["bias_correction2_sqrt"] + eps))
            new_m.append(m)
            new_v.append(v)
        return new_params, {"exp_avg": new_m, "exp_avg_sq": new_v}


class AdamW(Adam):
    """`AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, compiled='auto')`:
    Adam with the weight decay applied to the parameters directly, not through the gradient."""
    DECOUPLED = True
    DEFAULT_WEIGHT_DECAY = 0.01


def _pair(where: str, betas) -> tuple:
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}") from None
    return beta1, beta2
