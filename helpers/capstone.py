"""Chapter 07's capstone: a classifier trained on a few labelled digits, from scratch or
from a pre-trained encoder.

Both are scored on held-out *validation* digits (carved from the training digits,
`validation_split`) and on the test digits every `every` steps, so the number of steps
can be chosen on validation (early stopping) and the test accuracy read at that step,
never chosen on the test set.

- `scratch_curve`: the book's encoder from a fresh initialisation plus a linear layer,
  trained with `train_supervised` (cross-entropy on one augmented view of each labelled
  digit, cosine schedule).
- `lp_ft_curve`: LP-FT (Kumar et al., 2022). First a linear probe on the frozen
  pre-trained encoder (the head alone is trained), then the encoder and head together
  with the encoder at a lower learning rate; the encoder's BatchNorm keeps its
  pre-training statistics (eval mode) throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from helpers._checks import check_array, check_instance, check_int, check_positive
from helpers.augment import simclr_views
from helpers.autograd import Tensor, no_grad
from helpers.evaluation import few_label_indices
from helpers.finetune import predict
from helpers.losses import cross_entropy
from helpers.nn import Module
from helpers.optim import AdamW, cosine_schedule
from helpers.simclr import (
    ENCODER_SIZES,
    Classifier,
    flatten_images,
    make_mlp_encoder,
    train_supervised,
)
from helpers.train import after_each_step, endless_batches, fit

__all__ = ["validation_split", "labelled_indices", "scratch_curve", "lp_ft_curve"]

# name -> (images, labels) scored at every checkpoint
Scored = Mapping[str, tuple[np.ndarray, np.ndarray]]


def validation_split(
    labels: Any, per_class: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (training, validation) indices: per_class per class held out at random."""
    y = check_array(labels, "labels", ndim=1)
    held = few_label_indices(y, per_class, seed)
    if np.bincount(y).min() <= per_class:
        raise ValueError(
            "per_class must leave training digits in every class (< "
            f"{np.bincount(y).min()}), got {per_class}"
        )
    return np.setdiff1d(np.arange(len(y)), held), held


def labelled_indices(labels: Any, pool: Any, per_class: int, draw: int) -> np.ndarray:
    """Indices of per_class labelled digits per class from pool; 0: the whole pool."""
    y = check_array(labels, "labels", ndim=1)
    where = check_array(pool, "pool", ndim=1)
    check_int(draw, "draw")
    if where.dtype.kind not in "iu" or (
        len(where) and (where.min() < 0 or where.max() >= len(y))
    ):
        raise ValueError(
            f"pool must hold indices into labels (0..{len(y) - 1}), got {where.dtype} "
            f"{where[:5]}"
        )
    if check_int(per_class, "per_class") == 0:
        return np.sort(where)
    return where[few_label_indices(y[where], per_class, draw)]


def _accuracies(net: Classifier, scored: Scored) -> list[float]:
    """Accuracy of net on each scored set, in order."""
    return [
        float((predict(net.encoder, net.linear, flatten_images(x)) == y).mean())
        for x, y in scored.values()
    ]


def _checked_curve(steps: int, every: int, scored: Any) -> tuple[int, int]:
    """Validate a curve's step count, checkpoint spacing and scored sets."""
    n_steps = check_int(steps, "steps", minimum=1)
    spacing = check_int(every, "every", minimum=1, maximum=n_steps)
    if n_steps % spacing:
        raise ValueError(f"every must divide steps ({n_steps}), got {spacing}")
    if not isinstance(scored, Mapping) or not scored:
        raise ValueError(
            "scored must map names to (images, labels) pairs, got an empty or "
            "non-mapping value"
        )
    return n_steps, spacing


def scratch_curve(
    images: Any,
    labels: Any,
    scored: Scored,
    *,
    steps: int,
    every: int,
    seed: int = 0,
    encoder_sizes: Sequence[int] = ENCODER_SIZES,
    batch_size: int = 100,
) -> np.ndarray:
    """Accuracies (len(scored), steps // every) of encoder + linear from scratch."""
    n_steps, spacing = _checked_curve(steps, every, scored)
    x, y = check_array(images, "images", ndim=3), check_array(labels, "labels", ndim=1)
    sizes = check_array(encoder_sizes, "encoder_sizes", ndim=1)
    if sizes.dtype.kind not in "iu" or len(sizes) < 2 or sizes.min() < 1:
        raise ValueError(
            "encoder_sizes must list at least 2 positive integer widths, got "
            f"{encoder_sizes!r}"
        )
    batch = min(check_int(batch_size, "batch_size", minimum=2), len(y))
    rng = np.random.default_rng(check_int(seed, "seed"))
    net = Classifier(
        make_mlp_encoder(rng, [int(s) for s in sizes]), int(sizes[-1]), 10, rng
    )
    curve: list[list[float]] = []

    def hook(done: int) -> None:
        if done % spacing == 0:
            curve.append(_accuracies(net, scored))  # predict restores training mode

    with after_each_step(hook):
        train_supervised(
            net,
            x,
            y,
            steps=n_steps,
            batch_size=batch,
            seed=seed,
            desc=f"scratch, {len(y)} labels",
        )
    return np.array(curve).T


def lp_ft_curve(
    encoder: Module,
    width: int,
    images: Any,
    labels: Any,
    scored: Scored,
    *,
    probe_steps: int,
    steps: int,
    every: int,
    head_lr: float = 1e-2,
    encoder_lr: float = 1e-4,
    seed: int = 0,
    batch_size: int = 100,
) -> np.ndarray:
    """Accuracies (len(scored), 1 + steps // every) of LP-FT: probe, then tuning."""
    n_steps, spacing = _checked_curve(steps, every, scored)
    check_instance(encoder, Module, "encoder")
    check_int(probe_steps, "probe_steps", minimum=1)
    check_positive(head_lr, "head_lr")
    check_positive(encoder_lr, "encoder_lr")
    x, y = check_array(images, "images", ndim=3), check_array(labels, "labels", ndim=1)
    rng = np.random.default_rng(check_int(seed, "seed"))
    net = Classifier(encoder.copy(), check_int(width, "width", minimum=1), 10, rng)
    batches = endless_batches(
        len(x), min(check_int(batch_size, "batch_size", minimum=1), len(x)), rng
    )
    head = AdamW(net.linear.parameters(), lr=head_lr)
    body = AdamW(net.encoder.parameters(), lr=encoder_lr)

    def step(
        k: int, total: int, optimizers: Sequence[AdamW], base: Sequence[float]
    ) -> float:
        for optimizer, lr in zip(optimizers, base):
            optimizer.lr = cosine_schedule(k, total, lr)
        idx = next(batches)
        net.encoder.eval()  # BatchNorm keeps the statistics of pre-training
        views = flatten_images(simclr_views(x[idx], rng)[0])
        # the probe stage: the encoder is frozen, no gradient through it
        if len(optimizers) == 1:
            with no_grad():
                views = Tensor(net.encoder(views).data)
            loss = cross_entropy(net.linear(views), y[idx])
        else:
            loss = cross_entropy(net(views), y[idx])
        net.zero_grad()
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        return loss.item()

    fit(
        lambda k: step(k, probe_steps, [head], [head_lr]),
        probe_steps,
        desc="LP-FT: probe",
    )
    curve = [_accuracies(net, scored)]
    for start in range(0, n_steps, spacing):
        fit(
            lambda k: step(
                start + k, n_steps, [head, body], [head_lr / 10, encoder_lr]
            ),
            spacing,
            desc=f"LP-FT: fine-tune {start + spacing}/{n_steps}",
        )
        curve.append(_accuracies(net, scored))
    return np.array(curve).T
