"""Optimisers (SGD, Adam, AdamW as in PyTorch), LR and EMA schedules, EMA update."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from helpers._checks import (
    check_fraction,
    check_instance,
    check_int,
    check_nonnegative,
    check_text,
)
from helpers.autograd import Tensor
from helpers.nn import Module

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "cosine_schedule",
    "ema_update",
    "ema_momentum",
    "parameter_list",
]


def parameter_list(params: Sequence[Tensor], name: str = "params") -> list[Tensor]:
    """Return params (a non-empty sequence of Tensors) as a list, else raise."""
    check_text(name, "name")
    if isinstance(params, (Tensor, Module, str)) or not hasattr(params, "__iter__"):
        raise TypeError(
            f"{name} must be a sequence of Tensors (e.g. model.parameters()), got "
            f"{type(params).__name__}"
        )
    found = list(params)
    if not found or not all(isinstance(p, Tensor) for p in found):
        raise ValueError(
            f"{name} must be a non-empty sequence of Tensors (e.g. model.parameters())"
        )
    return found


class Optimizer:
    """Holds parameters and learning rate; subclasses define the update."""

    def __init__(
        self, params: Sequence[Tensor], lr: float, weight_decay: float
    ) -> None:
        self.params = parameter_list(params)
        self.lr = lr
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]
        self.steps = 0

    @property
    def lr(self) -> float:
        """The learning rate used by the next step()."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_nonnegative(value, "lr")

    def zero_grad(self) -> None:
        """Forget every parameter's gradient."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient (those whose .grad is None are
        skipped).

        Every gradient is checked first (an array of its parameter's shape), so a bad
        one changes nothing.
        """
        for i, p in enumerate(self.params):
            if p.grad is not None and np.shape(p.grad) != p.shape:
                raise ValueError(
                    f"params[{i}].grad must have its parameter's shape {p.shape}, got "
                    f"{np.shape(p.grad)}"
                )
        self.steps += 1
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p.data, p.grad.astype(p.dtype, copy=False), state)

    def _update(
        self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]
    ) -> None:
        """Change w in place given its gradient g and its state."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 decay (PyTorch's)."""

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum = check_fraction(momentum, "momentum")

    def _update(
        self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]
    ) -> None:
        """buf = momentum * buf + (g + wd * w); w -= lr * buf (buf starts at g)."""
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum:
            if "buf" in state:
                state["buf"] *= self.momentum
                state["buf"] += g
            else:
                state["buf"] = g.copy()
            g = state["buf"]
        w -= self.lr * g


class Adam(Optimizer):
    """Adam with bias correction; weight_decay adds wd * w to the gradient."""

    decoupled = False

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            check_fraction(betas[0], "betas[0]"),
            check_fraction(betas[1], "betas[1]"),
        )
        self.eps = check_nonnegative(eps, "eps")

    def _update(
        self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]
    ) -> None:
        """m, v moving averages of g and g^2; w -= lr * m_hat / (sqrt(v_hat) + eps)."""
        if self.weight_decay and self.decoupled:
            w *= 1 - self.lr * self.weight_decay
        elif self.weight_decay:
            g = g + self.weight_decay * w
        b1, b2 = self.betas
        if not state:
            state["m"], state["v"] = np.zeros_like(w), np.zeros_like(w)
        m, v = state["m"], state["v"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - b2**self.steps)
        denom += self.eps
        w -= (self.lr / (1 - b1**self.steps)) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: w *= 1 - lr * wd before the step (AdamW)."""

    decoupled = True

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


def cosine_schedule(
    step: int,
    total_steps: int,
    base_lr: float,
    warmup_steps: int = 0,
    final_lr: float = 0.0,
) -> float:
    """Linear warm-up to base_lr, then half cosine to final_lr at total_steps."""
    total = check_int(total_steps, "total_steps", minimum=1)
    warm = check_int(warmup_steps, "warmup_steps", minimum=0, maximum=total - 1)
    k = check_int(step, "step", minimum=0, maximum=total)
    base = check_nonnegative(base_lr, "base_lr")
    final = check_nonnegative(final_lr, "final_lr")
    if k < warm:
        return base * k / warm
    return final + (base - final) * 0.5 * (
        1 + math.cos(math.pi * (k - warm) / (total - warm))
    )


def ema_momentum(step: int, total_steps: int, base: float = 0.996) -> float:
    """BYOL/DINO momentum 1 - (1 - base) (cos(pi k / K) + 1) / 2: base at 0, 1 at K."""
    total = check_int(total_steps, "total_steps", minimum=1)
    k = check_int(step, "step", minimum=0, maximum=total)
    b = check_fraction(base, "base", high_open=False)
    return 1 - (1 - b) * (math.cos(math.pi * k / total) + 1) / 2


def ema_update(target: Module, online: Module, momentum: float) -> None:
    """target <- m * target + (1 - m) * online in place, for parameters and buffers."""
    # Buffers (BatchNorm running stats) are averaged with the same momentum, as timm's
    # ModelEma does, so momentum 0 makes target an exact copy and momentum 1 leaves it
    # unchanged.
    check_instance(target, Module, "target")
    check_instance(online, Module, "online")
    m = check_fraction(momentum, "momentum", high_open=False)
    mine, theirs = target.named_arrays(), online.named_arrays()
    if [(n, a.shape) for n, a in mine] != [(n, a.shape) for n, a in theirs]:
        raise ValueError(
            "target and online must be modules of the same architecture (same names "
            "and shapes)"
        )
    for (_, t), (_, o) in zip(mine, theirs):
        t *= t.dtype.type(m)
        t += t.dtype.type(1 - m) * o
