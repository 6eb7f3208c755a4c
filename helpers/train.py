"""The one training loop every chapter uses: shuffled minibatches and `fit` with a progress bar."""
from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np
from tqdm.auto import tqdm
from tqdm.notebook import tqdm_notebook

from helpers._checks import check_bool, check_int, check_rng

__all__ = ["minibatches", "fit"]

PROGRESS_MININTERVAL = 0.25  # seconds between bar redraws: a few updates per second while training


def minibatches(n: int, batch_size: int, rng: np.random.Generator, drop_last: bool = True) -> Iterator[np.ndarray]:
    """One epoch of shuffled index arrays of length batch_size (a shorter last one unless drop_last)."""
    _check_batching(n, batch_size, rng, drop_last)
    return _epoch(n, batch_size, rng, drop_last)


def _check_batching(n: int, batch_size: int, rng: np.random.Generator, drop_last: bool) -> None:
    """Raise (at the call, not at the first batch) unless the batching arguments are valid."""
    check_int(n, "n", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_rng(rng)
    if check_bool(drop_last, "drop_last") and batch_size > n:
        raise ValueError(f"batch_size must be <= n when drop_last=True, got batch_size={batch_size}, n={n}")


def _epoch(n: int, batch_size: int, rng: np.random.Generator, drop_last: bool) -> Iterator[np.ndarray]:
    """The batches of one shuffled epoch (arguments already checked)."""
    order = rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def endless_batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays of batch_size, epoch after shuffled epoch, without end (the last partial batch dropped)."""
    _check_batching(n, batch_size, rng, True)
    return _endless(n, batch_size, rng)


def _endless(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled epochs without end (arguments already checked)."""
    while True:
        yield from _epoch(n, batch_size, rng, True)


def _progress_summary(n_steps: int, desc: str) -> str:
    """The fixed text a saved notebook shows for a finished bar: 'desc: n steps' (correct plural)."""
    check_int(n_steps, "n_steps", minimum=1)
    return f"{desc}: {n_steps} step{'' if n_steps == 1 else 's'}"


def _progress_bar(n_steps: int, desc: str) -> tqdm:
    """A tqdm.auto bar redrawn a few times per second; in a notebook its text/plain is the fixed summary.

    A notebook bar is a widget whose text/plain fallback tqdm freezes at display time ("0%| | 0/n"),
    which is what GitHub, nbviewer and the HTML book would show. Displaying the widget ourselves
    with _progress_summary() as text/plain keeps saved outputs finished-looking and identical run to run.
    """
    if not issubclass(tqdm, tqdm_notebook):
        return tqdm(total=n_steps, desc=desc, mininterval=PROGRESS_MININTERVAL)
    from IPython.display import display

    bar = tqdm(total=n_steps, desc=desc, mininterval=PROGRESS_MININTERVAL, display=False)
    bundle = bar.container._repr_mimebundle_()
    bundle["text/plain"] = _progress_summary(n_steps, desc)
    display(bundle, raw=True)
    return bar


def fit(step_fn: Callable[[int], float], n_steps: int, desc: str = "training", log_every: int = 1) -> np.ndarray:
    """Call step_fn(step) for step = 0..n_steps-1 under a progress bar showing the loss every log_every steps; return all losses."""
    if not callable(step_fn):
        raise ValueError(f"step_fn must be callable as step_fn(step) -> loss, got {type(step_fn).__name__}")
    check_int(n_steps, "n_steps", minimum=1)
    check_int(log_every, "log_every", minimum=1)
    losses = np.empty(n_steps)
    with _progress_bar(n_steps, desc) as bar:
        for step in range(n_steps):
            loss = float(step_fn(step))
            if not math.isfinite(loss):
                raise ValueError(f"step_fn returned a non-finite loss ({loss}) at step {step}")
            losses[step] = loss
            if (step + 1) % log_every == 0 or step + 1 == n_steps:
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.update(1)
    return losses
