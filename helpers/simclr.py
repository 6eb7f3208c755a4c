"""SimCLR on MNIST: the book's MLP encoder, a projection head, the training step, and
feature extraction.

`make_mlp_encoder` and `encode` are general: later chapters (BYOL, DINO, Barlow Twins)
build the same encoder and read features through the same function, so every method is
compared on equal terms. `train_supervised` trains the same encoder with labels, the
baseline self-supervision must beat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_instance,
    check_int,
    check_positive,
    check_rng,
    check_sizes,
    check_text,
)
from helpers.augment import simclr_views
from helpers.autograd import Tensor, no_grad
from helpers.losses import cross_entropy, nt_xent
from helpers.nn import MLP, Linear, Module
from helpers.optim import AdamW, Optimizer, cosine_schedule
from helpers.train import endless_batches, fit, train_epochs

ENCODER_SIZES = (784, 512, 256)
HEAD_SIZES = (256, 256, 64)


def make_mlp_encoder(
    rng: np.random.Generator, sizes: Sequence[int] = ENCODER_SIZES
) -> MLP:
    """The book's encoder: pixels -> (Linear, BatchNorm, ReLU) per layer -> features."""
    return MLP(
        check_sizes(sizes, "sizes"),
        check_rng(rng),
        batchnorm=True,
        last_activation=True,
    )


def make_projection_head(
    rng: np.random.Generator, sizes: Sequence[int] = HEAD_SIZES
) -> MLP:
    """SimCLR's head: (Linear, BatchNorm, ReLU) layers, then a plain Linear."""
    return MLP(check_sizes(sizes, "sizes"), check_rng(rng), batchnorm=True)


def flatten_images(images: Any) -> np.ndarray:
    """Return a batch of images (N, H, W) or vectors (N, D) as float32 rows (N, D)."""
    x = check_array(images, "images", ndim=(2, 3))
    if x.shape[0] == 0:
        raise ValueError("images must hold at least one image, got an empty batch")
    return x.reshape(x.shape[0], -1).astype(np.float32, copy=False)


class SimCLR(Module):
    """Encoder f and head g: the loss sees z = g(f(x)); downstream uses h = f(x)."""

    def __init__(
        self,
        rng: np.random.Generator,
        encoder_sizes: Sequence[int] = ENCODER_SIZES,
        head_sizes: Sequence[int] = HEAD_SIZES,
    ) -> None:
        encoder_sizes, head_sizes = (
            check_sizes(encoder_sizes, "encoder_sizes"),
            check_sizes(head_sizes, "head_sizes"),
        )
        if encoder_sizes[-1] != head_sizes[0]:
            raise ValueError(
                f"head_sizes must start at the encoder's width {encoder_sizes[-1]}, "
                f"got {head_sizes[0]}"
            )
        self.encoder = make_mlp_encoder(rng, encoder_sizes)
        self.head = make_projection_head(rng, head_sizes)

    def forward(self, x: Any) -> Tensor:
        """Projections z (N, head_sizes[-1]) of flattened images x (N, D)."""
        return self.head(self.encoder(x))


def encode(module: Module, images: Any, batch_size: int = 1000) -> np.ndarray:
    """Outputs of module for images, in eval mode without gradients, in batches."""
    check_instance(module, Module, "module")
    x = flatten_images(images)
    check_int(batch_size, "batch_size", minimum=1)
    was_training = module.training
    module.eval()
    try:
        with no_grad():
            parts = [
                module(x[i : i + batch_size]).data for i in range(0, len(x), batch_size)
            ]
    finally:
        module.train(was_training)
    return np.concatenate(parts)


def two_view_step(
    model: Module,
    optimizer: Optimizer,
    images: np.ndarray,
    rng: np.random.Generator,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    views: Mapping[str, Any] | None = None,
) -> float:
    """One update: two views each, one forward pass, loss_fn(z1, z2), a step."""
    check_instance(model, Module, "model")
    check_instance(optimizer, Optimizer, "optimizer")
    images = check_array(images, "images", ndim=3)
    if not callable(loss_fn):
        raise TypeError(
            "loss_fn must be callable as loss_fn(z1, z2) -> Tensor, got "
            f"{type(loss_fn).__name__}"
        )
    check_rng(rng)
    if views is not None and not isinstance(views, Mapping):
        raise TypeError(
            "views must be a dict of simclr_views keyword arguments or None, got "
            f"{type(views).__name__}"
        )
    v1, v2 = simclr_views(images, rng, **(views or {}))
    # both views in one batch: shared BatchNorm statistics
    z = model(flatten_images(np.concatenate([v1, v2])))
    n = len(images)
    loss = loss_fn(z[:n], z[n:])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def simclr_step(
    model: SimCLR,
    optimizer: AdamW,
    images: np.ndarray,
    rng: np.random.Generator,
    temperature: float,
    views: Mapping[str, Any] | None = None,
) -> float:
    """One SimCLR update: two_view_step with NT-Xent at this temperature; the loss."""
    check_instance(model, SimCLR, "model")
    check_positive(temperature, "temperature")
    return two_view_step(
        model,
        optimizer,
        images,
        rng,
        lambda z1, z2: nt_xent(z1, z2, temperature),
        views,
    )


def train_simclr(
    model: SimCLR,
    images: Any,
    *,
    epochs: float,
    batch_size: int = 256,
    lr: float = 2e-3,
    temperature: float = 0.2,
    weight_decay: float = 1e-2,
    warmup_frac: float = 0.05,
    seed: int = 0,
    desc: str = "SimCLR",
    views: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Train model in place with helpers.train.train_epochs (AdamW, warm-up cosine) and
    simclr_step; return the losses.

    views: keyword arguments for simclr_views (e.g. {"sigma": 0.0} turns the noise off);
    None: the book's recipe.
    """
    check_instance(model, SimCLR, "model")
    check_positive(temperature, "temperature")
    if views is not None and not isinstance(views, Mapping):
        raise TypeError(
            "views must be None or a dict of simclr_views arguments, got "
            f"{type(views).__name__}"
        )

    def update(
        optimizer: AdamW,
        batch: np.ndarray,
        rng: np.random.Generator,
        k: int,
        n_steps: int,
    ) -> float:
        return simclr_step(model, optimizer, batch, rng, temperature, views)

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


class Classifier(Module):
    """An encoder followed by a linear layer to class logits (supervised baseline)."""

    def __init__(
        self, encoder: Module, width: int, n_classes: int, rng: np.random.Generator
    ) -> None:
        self.encoder = check_instance(encoder, Module, "encoder")
        self.linear = Linear(
            check_int(width, "width", minimum=1),
            check_int(n_classes, "n_classes", minimum=2),
            rng,
        )

    def forward(self, x: Any) -> Tensor:
        """Class logits (N, n_classes) of flattened images x (N, D)."""
        return self.linear(self.encoder(x))


def train_supervised(
    model: Classifier,
    images: Any,
    labels: Any,
    *,
    steps: int,
    batch_size: int = 100,
    lr: float = 2e-3,
    weight_decay: float = 1e-2,
    augment: bool = True,
    seed: int = 0,
    desc: str = "supervised",
) -> np.ndarray:
    """Train model in place on labelled images, cross-entropy (augmented if asked)."""
    check_instance(model, Module, "model")
    check_bool(augment, "augment")
    check_text(desc, "desc")
    x = check_array(images, "images", ndim=3)
    y = check_array(labels, "labels", ndim=1)
    if y.dtype.kind not in "iu" or len(y) != len(x):
        raise ValueError(
            f"labels must be {len(x)} integers (one per image), got {y.dtype} of shape "
            f"{y.shape}"
        )
    n_steps = check_int(steps, "steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=2, maximum=len(x))
    rng = np.random.default_rng(check_int(seed, "seed"))
    batches = endless_batches(len(x), batch_size, rng)
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()

    def step(k: int) -> float:
        optimizer.lr = cosine_schedule(k, n_steps, lr)
        idx = next(batches)
        batch = simclr_views(x[idx], rng)[0] if augment else x[idx]
        loss = cross_entropy(model(flatten_images(batch)), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return fit(step, n_steps, desc=desc)
