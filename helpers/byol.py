"""BYOL and SimSiam on MNIST: online encoder, projector and predictor against a target
branch.

The online branch is the book's MLP encoder (`helpers.simclr.make_mlp_encoder`), a
projector of the same shape as SimCLR's head and an optional predictor MLP. The target
branch is a copy of the online encoder and projector, moved towards the online weights
by an exponential moving average (EMA) after every step. `train_byol` switches the three
anti-collapse ingredients separately: `ema=False` uses the online branch itself as the
target (SimSiam), `stop_gradient=False` lets the loss's gradient flow into the target's
outputs, and `BYOL(rng, predictor=False)` drops the predictor; `BYOL(rng,
head_batchnorm=False)` builds projector and predictor without BatchNorm (the encoder
keeps it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_instance,
    check_sizes,
)
from helpers.augment import simclr_views
from helpers.autograd import Tensor, concatenate, no_grad
from helpers.losses import byol_loss
from helpers.nn import MLP, Module
from helpers.optim import AdamW, ema_momentum, ema_update
from helpers.simclr import (
    ENCODER_SIZES,
    HEAD_SIZES,
    flatten_images,
    make_mlp_encoder,
    make_projection_head,
)
from helpers.train import train_epochs

__all__ = [
    "PREDICTOR_SIZES",
    "Branch",
    "BYOL",
    "symmetric_loss",
    "byol_step",
    "train_byol",
]

PREDICTOR_SIZES = (64, 256, 64)


class Branch(Module):
    """An encoder followed by a projector: the part of BYOL that the target copies."""

    def __init__(self, encoder: Module, projector: Module) -> None:
        if not isinstance(encoder, Module) or not isinstance(projector, Module):
            raise TypeError(
                f"encoder and projector must be Modules, got {type(encoder).__name__} "
                f"and {type(projector).__name__}"
            )
        self.encoder = encoder
        self.projector = projector

    def forward(self, x: Any) -> Tensor:
        """Projections z of flattened images x (N, D)."""
        return self.projector(self.encoder(x))


class BYOL(Module):
    """Online encoder, projector and (optional) predictor, and a target copy of encoder
    + projector.

    `parameters()` includes the target's tensors; the optimiser trains
    `online_parameters()` only.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        encoder_sizes: Sequence[int] = ENCODER_SIZES,
        head_sizes: Sequence[int] = HEAD_SIZES,
        predictor_sizes: Sequence[int] = PREDICTOR_SIZES,
        predictor: bool = True,
        head_batchnorm: bool = True,
    ) -> None:
        check_bool(predictor, "predictor")
        check_bool(head_batchnorm, "head_batchnorm")
        encoder_sizes, head_sizes = (
            check_sizes(encoder_sizes, "encoder_sizes"),
            check_sizes(head_sizes, "head_sizes"),
        )
        predictor_sizes = check_sizes(predictor_sizes, "predictor_sizes")
        if encoder_sizes[-1] != head_sizes[0]:
            raise ValueError(
                f"head_sizes must start at the encoder's width {encoder_sizes[-1]}, "
                f"got {head_sizes[0]}"
            )
        if predictor and (
            predictor_sizes[0] != head_sizes[-1]
            or predictor_sizes[-1] != head_sizes[-1]
        ):
            raise ValueError(
                "predictor_sizes must start and end at the projection width "
                f"{head_sizes[-1]}, "
                f"got {list(predictor_sizes)}"
            )
        self.encoder = make_mlp_encoder(rng, encoder_sizes)
        self.projector = (
            make_projection_head(rng, head_sizes)
            if head_batchnorm
            else MLP(list(head_sizes), rng)
        )
        self.predictor = (
            MLP(list(predictor_sizes), rng, batchnorm=head_batchnorm)
            if predictor
            else None
        )
        self.target = Branch(self.encoder, self.projector).copy()

    def online(self) -> Branch:
        """The online encoder and projector as one module (sharing its tensors)."""
        return Branch(self.encoder, self.projector)

    def online_parameters(self) -> list[Tensor]:
        """The trainable tensors of encoder, projector, predictor (not the target's)."""
        parts = [self.encoder, self.projector] + (
            [self.predictor] if self.predictor is not None else []
        )
        return [p for part in parts for p in part.parameters()]

    def forward(self, x: Any) -> Tensor:
        """Online projections z (N, head_sizes[-1]) of flattened images x (N, D)."""
        return self.projector(self.encoder(x))


def symmetric_loss(p: Tensor, z: Tensor, stop_gradient: bool = True) -> Tensor:
    """Mean of 2 - 2 cos(p_i, z_swap(i)) where rows [:n] and [n:] of the 2n rows are two
    views of n images.

    With stop_gradient the targets z are constants (BYOL, SimSiam); without it the
    gradient also flows into z: the extra term byol_loss(z, p) adds the z-gradient, and
    its value is subtracted again.
    """
    if not isinstance(p, Tensor) or not isinstance(z, Tensor):
        raise TypeError(
            f"p and z must be Tensors, got {type(p).__name__} and {type(z).__name__}"
        )
    check_bool(stop_gradient, "stop_gradient")
    if p.shape != z.shape or p.ndim != 2 or p.shape[0] % 2:
        raise ValueError(
            f"p and z must have the same shape (2n, d), got {p.shape} and {z.shape}"
        )
    n = p.shape[0] // 2
    swapped = concatenate([z[n:], z[:n]])
    loss = byol_loss(p, swapped)
    if stop_gradient:
        return loss
    through_z = byol_loss(swapped, p)
    return loss + through_z - through_z.item()


def byol_step(
    model: BYOL,
    optimizer: AdamW,
    view1: Any,
    view2: Any,
    *,
    momentum: float,
    ema: bool = True,
    stop_gradient: bool = True,
) -> float:
    """One update on two views: p = q(g(f(v))), targets, loss, step, EMA; the loss."""
    check_instance(model, BYOL, "model")
    check_instance(optimizer, AdamW, "optimizer")
    check_fraction(momentum, "momentum", high_open=False)
    check_bool(ema, "ema")
    check_bool(stop_gradient, "stop_gradient")
    v1, v2 = (
        flatten_images(check_array(v, name, ndim=(2, 3)))
        for v, name in ((view1, "view1"), (view2, "view2"))
    )
    if v1.shape != v2.shape:
        raise ValueError(
            f"view1 and view2 must have the same shape, got {v1.shape} and {v2.shape}"
        )
    x = np.concatenate([v1, v2])  # both views in one batch: shared BatchNorm statistics
    z = model(x)
    p = model.predictor(z) if model.predictor is not None else z
    if not ema:
        target = z
    elif stop_gradient:
        with no_grad():
            target = model.target(x)
    else:
        # gradient flows into the target's weights, which no optimiser updates
        target = model.target(x)
    loss = symmetric_loss(p, target, stop_gradient)
    optimizer.zero_grad()
    model.target.zero_grad()
    loss.backward()
    optimizer.step()
    if ema:
        ema_update(model.target, model.online(), momentum)
    return loss.item()


def train_byol(
    model: BYOL,
    images: Any,
    *,
    epochs: float,
    batch_size: int = 256,
    lr: float = 2e-3,
    weight_decay: float = 1e-2,
    warmup_frac: float = 0.05,
    base_momentum: float = 0.99,
    ema: bool = True,
    stop_gradient: bool = True,
    seed: int = 0,
    desc: str = "BYOL",
    track: Callable[[int, BYOL], None] | None = None,
) -> np.ndarray:
    """Train model in place (AdamW, cosine lr, cosine EMA momentum from base_momentum to
    1); return the losses.

    ema=False is SimSiam: the online branch is its own target (model.target is set to a
    copy of it at the end). track(step, model), if given, is called after every step
    (for diagnostics).
    """
    check_instance(model, BYOL, "model")
    check_fraction(base_momentum, "base_momentum", high_open=False)
    check_bool(ema, "ema")
    check_bool(stop_gradient, "stop_gradient")
    if track is not None and not callable(track):
        raise TypeError(
            f"track must be callable as track(step, model), got {type(track).__name__}"
        )

    def update(
        optimizer: AdamW,
        batch: np.ndarray,
        rng: np.random.Generator,
        k: int,
        n_steps: int,
    ) -> float:
        loss = byol_step(
            model,
            optimizer,
            *simclr_views(batch, rng),
            momentum=ema_momentum(k, n_steps, base_momentum),
            ema=ema,
            stop_gradient=stop_gradient,
        )
        if track is not None:
            track(k, model)
        return loss

    losses = train_epochs(
        model,
        images,
        update,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        warmup_frac=warmup_frac,
        seed=seed,
        desc=desc,
        parameters=model.online_parameters(),
    )
    if not ema:
        ema_update(model.target, model.online(), 0.0)
    return losses
