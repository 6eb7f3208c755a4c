"""The one training loop every chapter uses: shuffled minibatches, `fit` with a progress
bar, and `train_epochs`, the AdamW + warm-up cosine schedule that every view-based
method trains with."""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Callable, Iterator

import numpy as np
from tqdm.auto import tqdm
from tqdm.notebook import tqdm_notebook

from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_instance,
    check_int,
    check_nonnegative,
    check_positive,
    check_rng,
    check_text,
)
from helpers.autograd import Tensor
from helpers.nn import Module
from helpers.optim import AdamW, cosine_schedule, parameter_list

__all__ = [
    "minibatches",
    "endless_batches",
    "fit",
    "steps_for",
    "train_epochs",
    "after_each_step",
]

Update = Callable[[AdamW, np.ndarray, np.random.Generator, int, int], float]

# seconds between bar redraws: a few updates per second while training
PROGRESS_MININTERVAL = 0.25
# called with the number of steps done, after each step of fit
_STEP_HOOKS: list[Callable[[int], None]] = []


def after_each_step(hook: Callable[[int], None]) -> AbstractContextManager[None]:
    """Within the block, every `fit` calls hook(steps_done) after each step."""
    if not callable(hook):
        raise ValueError(
            f"hook must be callable as hook(steps_done), got {type(hook).__name__}"
        )
    return _hooked(hook)


@contextmanager
def _hooked(hook: Callable[[int], None]) -> Iterator[None]:
    """Keep hook in the list fit calls, for the duration of the block."""
    _STEP_HOOKS.append(hook)
    try:
        yield
    finally:
        _STEP_HOOKS.remove(hook)


def minibatches(
    n: int, batch_size: int, rng: np.random.Generator, drop_last: bool = True
) -> Iterator[np.ndarray]:
    """One epoch of shuffled index arrays of batch_size (last shorter unless drop)."""
    _check_batching(n, batch_size, rng, drop_last)
    return _epoch(n, batch_size, rng, drop_last)


def _check_batching(
    n: int, batch_size: int, rng: np.random.Generator, drop_last: bool
) -> None:
    """Raise (at the call, not at the first batch) unless batching arguments fit."""
    check_int(n, "n", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_rng(rng)
    if check_bool(drop_last, "drop_last") and batch_size > n:
        raise ValueError(
            "batch_size must be <= n when drop_last=True, got "
            f"batch_size={batch_size}, n={n}"
        )


def _epoch(
    n: int, batch_size: int, rng: np.random.Generator, drop_last: bool
) -> Iterator[np.ndarray]:
    """The batches of one shuffled epoch (arguments already checked)."""
    order = rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def endless_batches(
    n: int, batch_size: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Index arrays of batch_size, shuffled epoch after epoch, endlessly."""
    _check_batching(n, batch_size, rng, True)
    return _endless(n, batch_size, rng)


def _endless(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled epochs without end (arguments already checked)."""
    while True:
        yield from _epoch(n, batch_size, rng, True)


def _progress_summary(n_steps: int, desc: str) -> str:
    """The text a saved notebook shows for a finished bar: 'desc: n steps'."""
    check_int(n_steps, "n_steps", minimum=1)
    return f"{desc}: {n_steps} step{'' if n_steps == 1 else 's'}"


def _progress_bar(n_steps: int, desc: str) -> tqdm:
    """A tqdm.auto bar redrawn a few times per second; in a notebook its text/plain is
    the fixed summary.

    A notebook bar is a widget whose text/plain fallback tqdm freezes at display time
    ("0%| | 0/n"), which is what GitHub, nbviewer and the HTML book would show.
    Displaying the widget ourselves with _progress_summary() as text/plain keeps saved
    outputs finished-looking and identical run to run.
    """
    if not issubclass(tqdm, tqdm_notebook):
        return tqdm(total=n_steps, desc=desc, mininterval=PROGRESS_MININTERVAL)
    from IPython.display import display

    bar = tqdm(
        total=n_steps, desc=desc, mininterval=PROGRESS_MININTERVAL, display=False
    )
    bundle = bar.container._repr_mimebundle_()
    bundle["text/plain"] = _progress_summary(n_steps, desc)
    display(bundle, raw=True)
    return bar


def fit(
    step_fn: Callable[[int], float],
    n_steps: int,
    desc: str = "training",
    log_every: int = 1,
) -> np.ndarray:
    """Call step_fn(step) for each step under a progress bar; return the losses."""
    if not callable(step_fn):
        raise ValueError(
            "step_fn must be callable as step_fn(step) -> loss, got "
            f"{type(step_fn).__name__}"
        )
    check_int(n_steps, "n_steps", minimum=1)
    check_int(log_every, "log_every", minimum=1)
    check_text(desc, "desc")
    losses = np.empty(n_steps)
    with _progress_bar(n_steps, desc) as bar:
        for step in range(n_steps):
            loss = float(step_fn(step))
            if not math.isfinite(loss):
                raise ValueError(
                    f"step_fn returned a non-finite loss ({loss}) at step {step}"
                )
            losses[step] = loss
            for hook in _STEP_HOOKS:
                hook(step + 1)
            if (step + 1) % log_every == 0 or step + 1 == n_steps:
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.update(1)
    return losses


def steps_for(epochs: float, n: int, batch_size: int) -> int:
    """Optimiser steps in `epochs` passes over n examples in full batches (>= 1)."""
    check_positive(epochs, "epochs")
    check_int(n, "n", minimum=1)
    check_int(batch_size, "batch_size", minimum=1, maximum=n)
    return max(1, round(epochs * (n // batch_size)))


def train_epochs(
    model: Module,
    images: np.ndarray,
    update: Update,
    *,
    epochs: float,
    batch_size: int,
    lr: float,
    weight_decay: float,
    warmup_frac: float,
    seed: int,
    desc: str,
    parameters: Sequence[Tensor] | None = None,
) -> np.ndarray:
    """Train model in place for `epochs` passes over images; return the losses.

    AdamW on `parameters` (default: all of the model's) with a linear warm-up over
    warmup_frac of the steps, then a cosine decay; each step calls update(optimizer,
    batch, rng, step, n_steps) -> loss on the next shuffled batch, with the run's one
    generator rng (seeded by seed) for its views.
    """
    check_instance(model, Module, "model")
    x = check_array(images, "images", ndim=3)
    if not callable(update):
        raise TypeError(
            "update must be callable as update(optimizer, batch, rng, step, n_steps), "
            f"got {type(update).__name__}"
        )
    n_steps = steps_for(
        epochs, len(x), check_int(batch_size, "batch_size", minimum=2, maximum=len(x))
    )
    check_nonnegative(lr, "lr")
    warmup = min(
        round(check_fraction(warmup_frac, "warmup_frac") * n_steps), n_steps - 1
    )
    rng = np.random.default_rng(check_int(seed, "seed"))
    check_text(desc, "desc")
    batches = endless_batches(len(x), batch_size, rng)
    optimizer = AdamW(
        model.parameters()
        if parameters is None
        else parameter_list(parameters, "parameters"),
        lr=lr,
        weight_decay=weight_decay,
    )
    model.train()

    def step(k: int) -> float:
        optimizer.lr = cosine_schedule(k, n_steps, lr, warmup)
        return update(optimizer, x[next(batches)], rng, k, n_steps)

    return fit(step, n_steps, desc=desc)
