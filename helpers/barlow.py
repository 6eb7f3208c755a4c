"""Barlow Twins (Zbontar et al., 2021): make the cross-correlation of two views' embeddings the identity.

The network is SimCLR's (chapter 04): the book's MLP encoder and a projector; only the loss differs.
`helpers.losses.barlow_twins_loss` standardises each embedding column over the batch, forms the
cross-correlation matrix C of the two views, and penalises (1 - C_ii)^2 (invariance) plus
lambd * C_ij^2 for i != j (redundancy reduction).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers._checks import check_array, check_instance, check_int, check_nonnegative, check_positive, check_rng
from helpers.augment import simclr_views
from helpers.losses import barlow_twins_loss
from helpers.optim import AdamW, Optimizer, cosine_schedule
from helpers.simclr import SimCLR, flatten_images
from helpers.train import endless_batches, fit

__all__ = ["BarlowTwins", "barlow_step", "cross_correlation", "train_barlow_twins"]


class BarlowTwins(SimCLR):
    """Encoder f and projector g as in SimCLR; Barlow Twins' loss sees z = g(f(x)), downstream uses f(x)."""


def cross_correlation(z1: Any, z2: Any, eps: float = 1e-5) -> np.ndarray:
    """The (D, D) cross-correlation of two (N, D) embeddings, each column standardised over the N rows."""
    a = check_array(z1, "z1", ndim=2).astype(np.float64)
    b = check_array(z2, "z2", ndim=2).astype(np.float64)
    if a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(f"z1 and z2 must have the same shape with at least 2 rows, got {a.shape} and {b.shape}")
    check_positive(eps, "eps")
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    a, b = a / np.sqrt((a * a).mean(axis=0) + eps), b / np.sqrt((b * b).mean(axis=0) + eps)
    return a.T @ b / len(a)


def barlow_step(model: BarlowTwins, optimizer: AdamW, images: np.ndarray, rng: np.random.Generator,
                lambd: float) -> float:
    """One Barlow Twins update on a batch: two views each, one forward pass, the loss, a step; return the loss."""
    check_instance(model, BarlowTwins, "model")
    check_instance(optimizer, Optimizer, "optimizer")
    images = check_array(images, "images", ndim=3)
    check_rng(rng)
    check_nonnegative(lambd, "lambd")
    v1, v2 = simclr_views(images, rng)
    z = model(flatten_images(np.concatenate([v1, v2])))
    n = len(images)
    loss = barlow_twins_loss(z[:n], z[n:], lambd)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def train_barlow_twins(model: BarlowTwins, images: Any, *, epochs: float, batch_size: int = 256, lr: float = 2e-3,
                       lambd: float = 5e-3, weight_decay: float = 1e-2, warmup_frac: float = 0.05, seed: int = 0,
                       desc: str = "Barlow Twins") -> np.ndarray:
    """Train model in place with AdamW and a cosine schedule for epochs passes over images; return the losses."""
    if not isinstance(model, BarlowTwins):
        raise TypeError(f"model must be a BarlowTwins, got {type(model).__name__}")
    x = check_array(images, "images", ndim=3)
    check_int(batch_size, "batch_size", minimum=2, maximum=len(x))
    check_positive(epochs, "epochs")
    check_nonnegative(lambd, "lambd")
    n_steps = max(1, round(epochs * (len(x) // batch_size)))
    warmup = min(round(warmup_frac * n_steps), n_steps - 1)
    rng = np.random.default_rng(check_int(seed, "seed"))
    batches = endless_batches(len(x), batch_size, rng)
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()

    def step(k: int) -> float:
        optimizer.lr = cosine_schedule(k, n_steps, lr, warmup)
        return barlow_step(model, optimizer, x[next(batches)], rng, lambd)

    return fit(step, n_steps, desc=desc)
