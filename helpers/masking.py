"""Masking for masked modelling: BERT's token corruption and MAE's patch masking
strategies.

`bert_mask` follows HuggingFace's DataCollatorForLanguageModeling by default (per-token
Bernoulli(mask_prob), special ids never chosen) and Google BERT's
create_masked_lm_predictions with fixed_count=True: exactly min(max_predictions, max(1,
round(n_candidates * mask_prob))) per row, where candidates are the non-special tokens
(Google counts [CLS]/[SEP] in the length; rounding is half-to-even like Python 3's
round). Chosen tokens become mask_id (80 %), a random id (10 %) or stay (10 %), decided
by one uniform draw each; random ids are drawn uniformly from the whole vocabulary,
special ids included, as both reference implementations do. Labels are -1 where not
chosen (HuggingFace uses -100). `random_masking` is MAE's models_mae.random_masking,
step for step.

The MAE paper (its Figure 6) compares three ways to choose the hidden patches: random,
block-wise (large random rectangles, as BEiT masks) and grid-wise (keep one patch of
every 2x2, at 75 %). `masking_order` gives each a removal order over a g x g grid: a
mask at any ratio hides the first patches of that order, so masks are nested and each
extra hidden patch changes the mask. Grid-wise follows an ordered-dither (Bayer) order,
whose first quarter kept is that 2x2 grid.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_int,
    check_rng,
)


def _check_tokens(tokens: Any, vocab_size: int) -> np.ndarray:
    """Return tokens as an integer (L,) or (N, L) array of ids in [0, vocab_size)."""
    arr = check_array(tokens, "tokens", ndim=(1, 2))
    if arr.dtype.kind not in "iu" or arr.size == 0:
        raise ValueError(
            f"tokens must be a non-empty integer array, got {arr.dtype} of shape "
            f"{arr.shape}"
        )
    if arr.min() < 0 or arr.max() >= vocab_size:
        raise ValueError(
            f"tokens must be ids in [0, vocab_size={vocab_size}), got range "
            f"[{arr.min()}, {arr.max()}]"
        )
    return arr


def _choose(
    special: np.ndarray,
    rng: np.random.Generator,
    mask_prob: float,
    fixed_count: bool,
    max_predictions: int | None,
) -> np.ndarray:
    """Boolean (N, L) positions to predict: per-token Bernoulli, or fixed per row."""
    keys = rng.random(special.shape)
    if not fixed_count:
        return (keys < mask_prob) & ~special
    n_candidates = (~special).sum(axis=1)
    cap = (
        n_candidates
        if max_predictions is None
        else np.minimum(n_candidates, max_predictions)
    )
    count = np.minimum(np.maximum(1, np.rint(n_candidates * mask_prob)), cap)
    keys[special] = 2.0  # special tokens sort after every candidate
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)
    return rank < count[:, None]


def bert_mask(
    tokens: Any,
    rng: np.random.Generator,
    mask_prob: float = 0.15,
    *,
    mask_id: int | None = None,
    vocab_size: int | None = None,
    special_ids: Iterable[int] = (),
    fixed_count: bool = False,
    max_predictions: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt tokens as BERT does; (inputs, labels), labels -1 where not chosen."""
    vocab_size = check_int(vocab_size, "vocab_size", minimum=1)
    mask_id = check_int(mask_id, "mask_id", maximum=vocab_size - 1)
    specials = [
        check_int(s, "special_ids entries", maximum=vocab_size - 1)
        for s in np.atleast_1d(special_ids)
    ]
    mask_prob = check_fraction(mask_prob, "mask_prob", low_open=True, high_open=False)
    rng = check_rng(rng)
    check_bool(fixed_count, "fixed_count")
    arr = _check_tokens(tokens, vocab_size)
    if max_predictions is not None:
        if not fixed_count:
            raise ValueError("max_predictions only applies with fixed_count=True")
        max_predictions = check_int(max_predictions, "max_predictions", minimum=1)
    rows = np.atleast_2d(arr)
    chosen = _choose(
        np.isin(rows, specials), rng, mask_prob, bool(fixed_count), max_predictions
    )
    u = rng.random(rows.shape)
    random_ids = rng.integers(0, vocab_size, rows.shape)
    inputs = np.where(
        chosen & (u < 0.8), mask_id, np.where(chosen & (u < 0.9), random_ids, rows)
    ).astype(np.int64)
    labels = np.where(chosen, rows, -1).astype(np.int64)
    return inputs.reshape(arr.shape), labels.reshape(arr.shape)


def random_masking(
    x: Any, mask_ratio: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MAE's per-sample random masking of (N, L, D): (x_visible, mask, ids_restore)."""
    x = check_array(x, "x", ndim=3)
    mask_ratio = check_fraction(mask_ratio, "mask_ratio")
    rng = check_rng(rng)
    n, length, _ = x.shape
    len_keep = int(length * (1 - mask_ratio))
    if len_keep < 1:
        raise ValueError(
            f"mask_ratio={mask_ratio} leaves no visible patch of L={length}; use a "
            "smaller ratio"
        )
    return _keep_first(x, np.argsort(rng.random((n, length)), axis=1), len_keep)


def _keep_first(
    x: np.ndarray, ids_shuffle: np.ndarray, len_keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep each row's first len_keep patches of ids_shuffle; (x_visible, mask, ids)."""
    ids_restore = np.argsort(ids_shuffle, axis=1)
    x_visible = np.take_along_axis(x, ids_shuffle[:, :len_keep, None], axis=1)
    mask = np.ones(ids_shuffle.shape, np.result_type(x.dtype, np.float32))
    mask[:, :len_keep] = 0
    return x_visible, np.take_along_axis(mask, ids_restore, axis=1), ids_restore


MASK_STRATEGIES = ("random", "block", "grid")


def _check_strategy(strategy: Any) -> str:
    """Return strategy if it names one of MASK_STRATEGIES, else raise."""
    if not isinstance(strategy, str) or strategy not in MASK_STRATEGIES:
        raise ValueError(
            f"strategy must be one of {MASK_STRATEGIES}, got {strategy!r:.40}"
        )
    return strategy


def bayer_ranks(grid: int) -> np.ndarray:
    """Ordered-dither ranks 0..g*g-1 on a g x g grid: every prefix is spread evenly."""
    grid = check_int(grid, "grid", minimum=1)
    ranks = np.zeros((1, 1), np.int64)
    while len(ranks) < grid:
        ranks = np.block([[4 * ranks, 4 * ranks + 2], [4 * ranks + 3, 4 * ranks + 1]])
    return np.argsort(
        np.argsort(ranks[:grid, :grid].ravel(), kind="stable"), kind="stable"
    ).reshape(grid, grid)


def _block_order(grid: int, rng: np.random.Generator) -> np.ndarray:
    """Removal order of a g x g grid by random rectangles (aspect 0.3-3.3)."""
    covered = np.zeros((grid, grid), bool)
    order: list[int] = []
    low, high = max(1, grid * grid // 8), max(1, grid * grid // 4)
    while len(order) < grid * grid:
        area, aspect = (
            rng.integers(low, high + 1),
            np.exp(rng.uniform(np.log(0.3), -np.log(0.3))),
        )
        h = int(np.clip(round(np.sqrt(area * aspect)), 1, grid))
        w = int(np.clip(round(np.sqrt(area / aspect)), 1, grid))
        # the block holds an uncovered patch: always progress
        seed = rng.choice(np.flatnonzero(~covered))
        top = int(np.clip(seed // grid - rng.integers(h), 0, grid - h))
        left = int(np.clip(seed % grid - rng.integers(w), 0, grid - w))
        block = np.zeros_like(covered)
        block[top : top + h, left : left + w] = True
        order += np.flatnonzero(block & ~covered).tolist()
        covered |= block
    return np.array(order)


def masking_order(strategy: str, grid: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of the g*g patches (row-major): the order strategy hides them."""
    strategy = _check_strategy(strategy)
    grid = check_int(grid, "grid", minimum=1)
    rng = check_rng(rng)
    if strategy == "random":
        return rng.permutation(grid * grid)
    if strategy == "block":
        return _block_order(grid, rng)
    # one of the 2x2 offsets
    shifted = np.roll(bayer_ranks(grid), tuple(rng.integers(0, 2, 2)), axis=(0, 1))
    # highest rank hidden first, rank 0 kept last
    return np.argsort(-shifted.ravel(), kind="stable")


def strategy_masking(
    x: Any, mask_ratio: float, rng: np.random.Generator, strategy: str = "random"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mask (N, L, D) patches of a square grid by strategy; returns (x_visible, mask 1 =
    removed, ids_restore).

    "random" is random_masking itself (same draws); the others hide the first patches of
    masking_order.
    """
    if _check_strategy(strategy) == "random":
        return random_masking(x, mask_ratio, rng)
    x = check_array(x, "x", ndim=3)
    n, length, _ = x.shape
    grid = int(round(np.sqrt(length)))
    if grid * grid != length:
        raise ValueError(
            f"x must hold a square grid of patches for {strategy!r} masking, got "
            f"L={length}"
        )
    len_keep = int(length * (1 - check_fraction(mask_ratio, "mask_ratio")))
    if len_keep < 1:
        raise ValueError(
            f"mask_ratio={mask_ratio} leaves no visible patch of L={length}; use a "
            "smaller ratio"
        )
    orders = np.stack([masking_order(strategy, grid, rng) for _ in range(n)])
    # the last hidden are the first kept
    return _keep_first(x, orders[:, ::-1], len_keep)
