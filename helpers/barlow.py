"""Barlow Twins (Zbontar et al., 2021): make the cross-correlation of two views'
embeddings the identity.

The network is SimCLR's (chapter 04): the book's MLP encoder and a projector; only the
loss differs. `helpers.losses.barlow_twins_loss` standardises each embedding column over
the batch, forms the cross-correlation matrix C of the two views, and penalises (1 -
C_ii)^2 (invariance) plus lambd * C_ij^2 for i != j (redundancy reduction).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_instance,
    check_nonnegative,
    check_positive,
)
from helpers.losses import barlow_twins_loss
from helpers.optim import AdamW
from helpers.simclr import SimCLR, two_view_step
from helpers.train import train_epochs

__all__ = ["BarlowTwins", "barlow_step", "cross_correlation", "train_barlow_twins"]


class BarlowTwins(SimCLR):
    """Encoder f, projector g as in SimCLR; the loss sees g(f(x)), downstream f(x)."""


def cross_correlation(z1: Any, z2: Any, eps: float = 1e-5) -> np.ndarray:
    """The (D, D) cross-correlation of two (N, D) embeddings, columns standardised."""
    a = check_array(z1, "z1", ndim=2).astype(np.float64)
    b = check_array(z2, "z2", ndim=2).astype(np.float64)
    if a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(
            f"z1 and z2 must have the same shape with at least 2 rows, got {a.shape} "
            f"and {b.shape}"
        )
    check_positive(eps, "eps")
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    a, b = (
        a / np.sqrt((a * a).mean(axis=0) + eps),
        b / np.sqrt((b * b).mean(axis=0) + eps),
    )
    return a.T @ b / len(a)


def barlow_step(
    model: BarlowTwins,
    optimizer: AdamW,
    images: np.ndarray,
    rng: np.random.Generator,
    lambd: float,
) -> float:
    """One Barlow Twins update: two_view_step with barlow_twins_loss; the loss."""
    check_instance(model, BarlowTwins, "model")
    check_nonnegative(lambd, "lambd")
    return two_view_step(
        model, optimizer, images, rng, lambda z1, z2: barlow_twins_loss(z1, z2, lambd)
    )


def train_barlow_twins(
    model: BarlowTwins,
    images: Any,
    *,
    epochs: float,
    batch_size: int = 256,
    lr: float = 2e-3,
    lambd: float = 5e-3,
    weight_decay: float = 1e-2,
    warmup_frac: float = 0.05,
    seed: int = 0,
    desc: str = "Barlow Twins",
) -> np.ndarray:
    """Train model in place (train_epochs, AdamW, warm-up cosine); the losses."""
    check_instance(model, BarlowTwins, "model")
    check_nonnegative(lambd, "lambd")

    def update(
        optimizer: AdamW,
        batch: np.ndarray,
        rng: np.random.Generator,
        k: int,
        n_steps: int,
    ) -> float:
        return barlow_step(model, optimizer, batch, rng, lambd)

    return train_epochs(
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
    )
