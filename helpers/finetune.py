"""Fine-tuning: train a (pre-trained or fresh) encoder and a head together on labelled
examples.

Chapters 03 (MAE against the same ViT from scratch) and 07 use it. The encoder maps a
batch of inputs, in whatever form it takes (flattened pixels, patches, ...), to features
(N, D); the head maps features to class logits. Every parameter of both is trained with
cross-entropy. `finetune_early_stopped` also scores a validation split on the way and
keeps the best state, so the number of steps is chosen on validation digits, never on
the test set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
    check_text,
)
from helpers.autograd import Tensor, no_grad
from helpers.losses import cross_entropy
from helpers.nn import Module
from helpers.optim import AdamW, cosine_schedule
from helpers.train import after_each_step, endless_batches, fit

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _check_module(module: Any, name: str) -> Module:
    """Return module if it is a helpers.nn.Module, else raise TypeError."""
    if not isinstance(module, Module):
        raise TypeError(
            f"{name} must be a helpers.nn.Module, got {type(module).__name__}"
        )
    return module


def _check_labelled(
    inputs: Any, labels: Any, prefix: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, ...) as float32 and labels as N integers, else raise (prefixed)."""
    x = check_array(inputs, f"{prefix}inputs")
    if x.ndim < 2 or len(x) < 1:
        raise ValueError(
            f"{prefix}inputs must be a non-empty batch (N, ...) with ndim >= 2, got "
            f"shape {x.shape}"
        )
    y = check_array(labels, f"{prefix}labels", ndim=1)
    if y.dtype.kind not in "iu" or len(y) != len(x):
        raise ValueError(
            f"{prefix}labels must be {len(x)} integers (one per input), got {y.dtype} "
            f"of shape {y.shape}"
        )
    return x.astype(np.float32, copy=False), y


def finetune(
    encoder: Module,
    head: Module,
    inputs: Any,
    labels: Any,
    *,
    steps: int,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    batch_size: int = 100,
    seed: int = 0,
    augment: Augment | None = None,
    warmup_frac: float = 0.1,
    desc: str = "fine-tuning",
) -> np.ndarray:
    """Train encoder and head in place on head(encoder(x)) with cross-entropy and AdamW;
    return the step losses.

    Warm-up for warmup_frac of the steps, then cosine decay; augment(batch, rng), if
    given, alters each batch.
    """
    params = (
        _check_module(encoder, "encoder").parameters()
        + _check_module(head, "head").parameters()
    )
    x, y = _check_labelled(inputs, labels)
    n_steps = check_int(steps, "steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1, maximum=len(x))
    check_positive(lr, "lr")
    check_nonnegative(weight_decay, "weight_decay")
    check_fraction(warmup_frac, "warmup_frac")
    check_text(desc, "desc")
    if augment is not None and not callable(augment):
        raise TypeError(
            "augment must be None or callable as augment(batch, rng), got "
            f"{type(augment).__name__}"
        )
    rng = np.random.default_rng(check_int(seed, "seed"))
    batches = endless_batches(len(x), batch_size, rng)
    optimizer = AdamW(params, lr=lr, weight_decay=weight_decay)
    encoder.train()
    head.train()

    def step(k: int) -> float:
        optimizer.lr = cosine_schedule(k, n_steps, lr, round(warmup_frac * n_steps))
        idx = next(batches)
        batch = x[idx] if augment is None else augment(x[idx], rng)
        loss = cross_entropy(head(encoder(Tensor(batch))), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return fit(step, n_steps, desc=desc)


def predict(
    encoder: Module, head: Module, inputs: Any, batch_size: int = 500
) -> np.ndarray:
    """Predicted classes (N,) of head(encoder(x)), in eval mode without gradients."""
    _check_module(encoder, "encoder")
    _check_module(head, "head")
    x = check_array(inputs, "inputs")
    if x.ndim < 2 or len(x) < 1:
        raise ValueError(
            "inputs must be a non-empty batch (N, ...) with ndim >= 2, got shape "
            f"{x.shape}"
        )
    check_int(batch_size, "batch_size", minimum=1)
    modes = encoder.training, head.training
    encoder.eval()
    head.eval()
    try:
        with no_grad():
            parts = [
                head(
                    encoder(Tensor(x[i : i + batch_size].astype(np.float32)))
                ).data.argmax(axis=1)
                for i in range(0, len(x), batch_size)
            ]
    finally:
        encoder.train(modes[0])
        head.train(modes[1])
    return np.concatenate(parts)


def finetune_early_stopped(
    encoder: Module,
    head: Module,
    inputs: Any,
    labels: Any,
    val_inputs: Any,
    val_labels: Any,
    *,
    steps: int,
    every: int,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray, int]:
    """finetune, scoring val accuracy every `every` steps and restoring the best state;
    return losses, scores, best step.

    scores[k] is the validation accuracy after (k + 1) * every steps; ties go to the
    earlier step.
    """
    val_x, val_y = _check_labelled(val_inputs, val_labels, "val_")
    check_int(every, "every", minimum=1, maximum=check_int(steps, "steps", minimum=1))
    scores: list[float] = []
    best: dict[str, Any] = {"step": 0}

    def score(steps_done: int) -> None:
        if steps_done % every:
            return
        scores.append(float(np.mean(predict(encoder, head, val_x) == val_y)))
        if scores[-1] > max(scores[:-1], default=-1.0):
            best.update(
                step=steps_done, encoder=encoder.state_dict(), head=head.state_dict()
            )

    with after_each_step(score):
        losses = finetune(encoder, head, inputs, labels, steps=steps, **options)
    encoder.load_state_dict(best["encoder"])
    head.load_state_dict(best["head"])
    return losses, np.array(scores), best["step"]
