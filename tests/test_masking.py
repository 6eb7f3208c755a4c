"""Tests of helpers.masking: BERT's corruption, MAE's random masking, block and grid."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.masking import (
    MASK_STRATEGIES,
    bayer_ranks,
    bert_mask,
    masking_order,
    random_masking,
    strategy_masking,
)

VOCAB, MASK, PAD, CLS, SEP = 1000, 3, 0, 1, 2
SPECIAL = (PAD, CLS, SEP, MASK)


def sentences(n: int, length: int, seed: int = 0) -> np.ndarray:
    """Rows [CLS] words… [SEP] [PAD]…, a random number of words each, word ids ≥ 4."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(4, VOCAB, (n, length))
    n_words = rng.integers(0, length - 1, n)
    pos = np.arange(length)
    tokens[pos > n_words[:, None] + 1] = PAD
    tokens[pos == n_words[:, None] + 1] = SEP
    tokens[:, 0] = CLS
    return tokens


def mask(
    tokens: np.ndarray, seed: int = 0, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray]:
    """bert_mask with the test vocabulary."""
    return bert_mask(
        tokens,
        np.random.default_rng(seed),
        mask_id=MASK,
        vocab_size=VOCAB,
        special_ids=SPECIAL,
        **kwargs,
    )


@pytest.mark.parametrize("fixed_count", [False, True])
def test_labels_mark_exactly_the_chosen_tokens(fixed_count: bool) -> None:
    tokens = sentences(300, 40)
    inputs, labels = mask(tokens, fixed_count=fixed_count)
    chosen = labels != -1
    assert inputs.shape == labels.shape == tokens.shape
    np.testing.assert_array_equal(labels[chosen], tokens[chosen])
    np.testing.assert_array_equal(inputs[~chosen], tokens[~chosen])
    assert (labels[~chosen] == -1).all() and chosen.any()


@pytest.mark.parametrize("fixed_count", [False, True])
def test_special_tokens_are_never_chosen(fixed_count: bool) -> None:
    tokens = sentences(500, 30)
    inputs, labels = mask(tokens, mask_prob=1.0, fixed_count=fixed_count)
    special = np.isin(tokens, SPECIAL)
    assert (labels[special] == -1).all()
    np.testing.assert_array_equal(inputs[special], tokens[special])
    assert (labels[~special] != -1).all()  # mask_prob 1 chooses every other token


def test_selection_rate_and_80_10_10_split() -> None:
    # 200k tokens, none special
    tokens = np.random.default_rng(1).integers(4, VOCAB, (1000, 200))
    inputs, labels = mask(tokens, seed=2)
    chosen = labels != -1
    assert abs(chosen.mean() - 0.15) < 0.004  # 4.7 standard errors
    masked = inputs[chosen] == MASK
    kept = inputs[chosen] == tokens[chosen]
    replaced = ~masked & ~kept
    assert abs(masked.mean() - 0.8) < 0.01
    # a random id may equal the token or [MASK]
    assert abs(replaced.mean() - 0.1 * (1 - 2 / VOCAB)) < 0.007
    assert abs(kept.mean() - 0.1 * (1 + 1 / VOCAB)) < 0.007


def test_random_ids_are_uniform_over_the_whole_vocabulary() -> None:
    vocab = 8
    tokens = np.full((2000, 100), 7)
    inputs, labels = bert_mask(
        tokens,
        np.random.default_rng(0),
        0.5,
        mask_id=0,
        vocab_size=vocab,
        special_ids=(1, 2),
    )
    replaced = inputs[(labels != -1) & (inputs != 0) & (inputs != 7)]
    # ids 1…6, special ids 1 and 2 included
    counts = np.bincount(replaced, minlength=vocab)[1:7]
    assert counts.min() > 0
    np.testing.assert_allclose(counts / counts.mean(), 1, atol=0.1)


def test_fixed_count_chooses_the_reference_number_per_row() -> None:
    tokens = sentences(2000, 64)
    for max_predictions in (None, 5):
        kwargs = {} if max_predictions is None else {"max_predictions": max_predictions}
        _, labels = mask(tokens, fixed_count=True, **kwargs)
        n_candidates = (~np.isin(tokens, SPECIAL)).sum(axis=1)
        cap = max_predictions or 10**9
        expected = [min(cap, n, max(1, round(n * 0.15))) for n in n_candidates]
        np.testing.assert_array_equal((labels != -1).sum(axis=1), expected)
        assert ((labels != -1).sum(axis=1)[n_candidates > 0] >= 1).all()


def test_fixed_count_picks_candidates_uniformly() -> None:
    tokens = np.random.default_rng(0).integers(4, VOCAB, (20000, 10))
    tokens[:, [0, 9]] = CLS, SEP
    # round(8 · 0.25) = 2 of 8 words
    _, labels = mask(tokens, fixed_count=True, mask_prob=0.25)
    rate = (labels != -1).mean(axis=0)
    assert rate[0] == rate[9] == 0
    np.testing.assert_allclose(rate[1:9], 0.25, atol=0.015)


def test_short_sentence_goes_unmasked_0_85_to_the_6th_of_the_time() -> None:
    tokens = np.random.default_rng(0).integers(4, VOCAB, (20000, 6))
    _, labels = mask(tokens)
    unmasked = (labels == -1).all(axis=1).mean()
    assert abs(unmasked - 0.85**6) < 0.015  # 0.377; standard error 0.0034
    _, fixed = mask(tokens, fixed_count=True)
    assert ((fixed != -1).sum(axis=1) == 1).all()  # round(6 · 0.15) = 1: never unmasked


def test_one_dimensional_input_and_determinism() -> None:
    tokens = sentences(1, 50)[0]
    inputs, labels = mask(tokens, seed=5, mask_prob=0.5)
    assert inputs.shape == labels.shape == (50,)
    again = mask(tokens, seed=5, mask_prob=0.5)
    np.testing.assert_array_equal(inputs, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert not np.array_equal(labels, mask(tokens, seed=6, mask_prob=0.5)[1])
    batch = sentences(40, 50)
    for fixed in (False, True):
        np.testing.assert_array_equal(
            mask(batch, 9, fixed_count=fixed)[0], mask(batch, 9, fixed_count=fixed)[0]
        )


def test_input_tokens_not_modified() -> None:
    tokens = sentences(10, 20)
    before = tokens.copy()
    mask(tokens, mask_prob=1.0)
    np.testing.assert_array_equal(tokens, before)


TOK = sentences(4, 10)
RNG = np.random.default_rng(0)
BAD_BERT: list[tuple[Callable[[], Any], str]] = [
    (
        lambda: bert_mask(TOK, RNG, 0.0, mask_id=MASK, vocab_size=VOCAB),
        r"mask_prob must lie in \(0, 1\]",
    ),
    (
        lambda: bert_mask(TOK, RNG, 1.5, mask_id=MASK, vocab_size=VOCAB),
        r"mask_prob must lie in \(0, 1\]",
    ),
    (
        lambda: bert_mask(TOK, RNG, np.nan, mask_id=MASK, vocab_size=VOCAB),
        "mask_prob must lie",
    ),
    (
        lambda: bert_mask(TOK, RNG, "a", mask_id=MASK, vocab_size=VOCAB),
        "mask_prob must be a number",
    ),
    (
        lambda: bert_mask(TOK, RNG, vocab_size=VOCAB),
        "mask_id must be an integer, got None",
    ),
    (
        lambda: bert_mask(TOK, RNG, mask_id=VOCAB, vocab_size=VOCAB),
        f"mask_id must be >= 0 and <= {VOCAB - 1}",
    ),
    (lambda: bert_mask(TOK, RNG, mask_id=-1, vocab_size=VOCAB), "mask_id must be >= 0"),
    (
        lambda: bert_mask(TOK, RNG, mask_id=3.0, vocab_size=VOCAB),
        "mask_id must be an integer",
    ),
    (
        lambda: bert_mask(TOK, RNG, mask_id=MASK),
        "vocab_size must be an integer, got None",
    ),
    (
        lambda: bert_mask(TOK, RNG, mask_id=MASK, vocab_size=0),
        "vocab_size must be >= 1",
    ),
    (
        lambda: bert_mask(TOK.astype(float), RNG, mask_id=MASK, vocab_size=VOCAB),
        "tokens must be a non-empty integer",
    ),
    (
        lambda: bert_mask(TOK > 5, RNG, mask_id=MASK, vocab_size=VOCAB),
        "tokens must be a non-empty integer",
    ),
    (
        lambda: bert_mask(np.zeros((2, 0), int), RNG, mask_id=MASK, vocab_size=VOCAB),
        "non-empty",
    ),
    (
        lambda: bert_mask(TOK[None], RNG, mask_id=MASK, vocab_size=VOCAB),
        "tokens must have 1 or 2 dimensions",
    ),
    (
        lambda: bert_mask(TOK + VOCAB, RNG, mask_id=MASK, vocab_size=VOCAB),
        r"tokens must be ids in \[0, vocab_size",
    ),
    (
        lambda: bert_mask(TOK - 5, RNG, mask_id=MASK, vocab_size=VOCAB),
        r"tokens must be ids in \[0, vocab_size",
    ),
    (
        lambda: bert_mask(TOK, 0, mask_id=MASK, vocab_size=VOCAB),
        "rng must be a np.random.Generator",
    ),
    (
        lambda: bert_mask(TOK, np.random, mask_id=MASK, vocab_size=VOCAB),
        "rng must be a np.random.Generator",
    ),
    (
        lambda: bert_mask(
            TOK, RNG, mask_id=MASK, vocab_size=VOCAB, special_ids=(VOCAB,)
        ),
        "special_ids entries must be",
    ),
    (
        lambda: bert_mask(TOK, RNG, mask_id=MASK, vocab_size=VOCAB, special_ids=(0.5,)),
        "special_ids entries must be",
    ),
    (
        lambda: bert_mask(TOK, RNG, mask_id=MASK, vocab_size=VOCAB, max_predictions=3),
        "only applies with fixed_count",
    ),
    (
        lambda: bert_mask(
            TOK,
            RNG,
            mask_id=MASK,
            vocab_size=VOCAB,
            fixed_count=True,
            max_predictions=0,
        ),
        "max_predictions must be >= 1",
    ),
]


@pytest.mark.parametrize("call, message", BAD_BERT, ids=[m for _, m in BAD_BERT])
def test_bert_mask_bad_inputs_raise(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def patches(n: int = 4, length: int = 16, dim: int = 3, seed: int = 0) -> np.ndarray:
    """Random (N, L, D) patch embeddings."""
    return np.random.default_rng(seed).normal(size=(n, length, dim)).astype(np.float32)


def check_mae_semantics(x: np.ndarray, ratio: float, seed: int) -> None:
    """Assert random_masking's outputs agree with each other and MAE's definition."""
    n, length, _ = x.shape
    x_visible, m, ids_restore = random_masking(x, ratio, np.random.default_rng(seed))
    len_keep = int(length * (1 - ratio))
    # MAE's noise, same seed
    ids_shuffle = np.argsort(np.random.default_rng(seed).random((n, length)), axis=1)
    np.testing.assert_array_equal(ids_restore, np.argsort(ids_shuffle, axis=1))
    assert x_visible.shape == (n, len_keep, x.shape[2]) and m.shape == (n, length)
    np.testing.assert_array_equal(m.sum(axis=1), length - len_keep)
    np.testing.assert_array_equal(
        x_visible, x[np.arange(n)[:, None], ids_shuffle[:, :len_keep]]
    )
    np.testing.assert_array_equal(
        m[np.arange(n)[:, None], ids_shuffle[:, :len_keep]], 0
    )
    placeholders = np.full((n, length - len_keep, x.shape[2]), np.inf, x.dtype)
    restored = np.take_along_axis(
        np.concatenate([x_visible, placeholders], axis=1),
        ids_restore[:, :, None],
        axis=1,
    )
    np.testing.assert_array_equal(restored[m == 0], x[m == 0])
    assert np.isinf(restored[m == 1]).all()


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 0.75, 0.9])
def test_random_masking_matches_mae(ratio: float) -> None:
    check_mae_semantics(patches(4, 16, 3), ratio, seed=3)
    check_mae_semantics(patches(2, 49, 5), ratio, seed=4)


def test_ratio_zero_keeps_every_patch() -> None:
    x = patches()
    x_visible, m, ids_restore = random_masking(x, 0.0, np.random.default_rng(0))
    assert (m == 0).all()
    np.testing.assert_array_equal(
        np.take_along_axis(x_visible, ids_restore[:, :, None], axis=1), x
    )


def test_masking_is_uniform_over_positions_and_independent_per_sample() -> None:
    _, m, _ = random_masking(patches(20000, 16, 1), 0.75, np.random.default_rng(0))
    np.testing.assert_allclose(m.mean(axis=0), 0.75, atol=0.01)
    assert m.dtype == np.float32 and len(np.unique(m, axis=0)) > 1000


def test_random_masking_determinism() -> None:
    x = patches()
    a = random_masking(x, 0.75, np.random.default_rng(1))
    b = random_masking(x, 0.75, np.random.default_rng(1))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(
        a[1], random_masking(x, 0.75, np.random.default_rng(2))[1]
    )


BAD_MAE: list[tuple[Callable[[], Any], str]] = [
    (lambda: random_masking(patches(), 1.0, RNG), r"mask_ratio must lie in \[0, 1\)"),
    (lambda: random_masking(patches(), -0.1, RNG), r"mask_ratio must lie in \[0, 1\)"),
    (lambda: random_masking(patches(), np.nan, RNG), "mask_ratio must lie"),
    (lambda: random_masking(patches(length=4), 0.9, RNG), "leaves no visible patch"),
    (lambda: random_masking(patches()[0], 0.5, RNG), "x must have 3 dimensions"),
    (lambda: random_masking(np.full((2, 4, 3), np.nan), 0.5, RNG), "NaN"),
    (lambda: random_masking(patches(), 0.5, 42), "rng must be a np.random.Generator"),
]


@pytest.mark.parametrize("call, message", BAD_MAE, ids=[m for _, m in BAD_MAE])
def test_random_masking_bad_inputs_raise(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 6),
    length=st.integers(1, 64),
    ratio=st.floats(0, 1, exclude_max=True),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_masking_property(n: int, length: int, ratio: float, seed: int) -> None:
    x = patches(n, length, 2, seed % 1000)
    if int(length * (1 - ratio)) < 1:
        with pytest.raises(ValueError, match="no visible patch"):
            random_masking(x, ratio, np.random.default_rng(seed))
    else:
        check_mae_semantics(x, ratio, seed)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 5),
    length=st.integers(1, 40),
    prob=st.floats(0.01, 1),
    seed=st.integers(0, 2**32 - 1),
    fixed=st.booleans(),
)
def test_bert_mask_property(
    n: int, length: int, prob: float, seed: int, fixed: bool
) -> None:
    tokens = np.random.default_rng(seed).integers(0, 12, (n, length))
    inputs, labels = bert_mask(
        tokens,
        np.random.default_rng(seed),
        prob,
        mask_id=11,
        vocab_size=12,
        special_ids=(0, 1),
        fixed_count=fixed,
    )
    chosen = labels != -1
    special = np.isin(tokens, (0, 1))
    assert not (chosen & special).any()
    np.testing.assert_array_equal(labels[chosen], tokens[chosen])
    np.testing.assert_array_equal(inputs[~chosen], tokens[~chosen])
    assert inputs.min() >= 0 and inputs.max() < 12
    if fixed:
        n_cand = (~special).sum(axis=1)
        np.testing.assert_array_equal(
            chosen.sum(axis=1), [min(c, max(1, round(c * prob))) for c in n_cand]
        )


@pytest.mark.parametrize("strategy", MASK_STRATEGIES)
@pytest.mark.parametrize("grid", [1, 3, 4, 7])
def test_masking_order_is_a_permutation_and_deterministic(
    strategy: str, grid: int
) -> None:
    order = masking_order(strategy, grid, np.random.default_rng(3))
    assert sorted(order.tolist()) == list(range(grid * grid))
    np.testing.assert_array_equal(
        order, masking_order(strategy, grid, np.random.default_rng(3))
    )


def test_bayer_ranks_spread_every_prefix() -> None:
    ranks = bayer_ranks(4)
    assert sorted(ranks.ravel().tolist()) == list(range(16))
    first_quarter = np.argwhere(ranks < 4)
    # one patch of every 2x2 block
    assert {(r % 2, c % 2) for r, c in first_quarter} == {(0, 0)}
    assert sorted(bayer_ranks(3).ravel().tolist()) == list(range(9))


@pytest.mark.parametrize("seed", range(8))
def test_grid_masking_at_75_percent_keeps_one_patch_of_every_2x2(seed: int) -> None:
    """The MAE paper's grid-wise sampling: keep one of every four patches, regularly."""
    x = np.zeros((1, 16, 2))
    _, mask, _ = strategy_masking(x, 0.75, np.random.default_rng(seed), "grid")
    visible = np.argwhere(mask.reshape(4, 4) == 0)
    assert len(visible) == 4
    assert (
        len({(r % 2, c % 2) for r, c in visible}) == 1
        and len({(r // 2, c // 2) for r, c in visible}) == 4
    )


def mean_masked_neighbours(mask: np.ndarray) -> float:
    """Mean hidden 4-neighbours of a hidden patch: high for blocks, lower scattered."""
    m = np.pad(mask.astype(int), 1)
    neighbours = m[:-2, 1:-1] + m[2:, 1:-1] + m[1:-1, :-2] + m[1:-1, 2:]
    return float(neighbours[mask == 1].mean())


def test_block_masks_are_more_clumped_than_random_ones() -> None:
    x = np.zeros((400, 49, 1))
    clump = {}
    for strategy in ("block", "random"):
        _, mask, _ = strategy_masking(x, 0.4, np.random.default_rng(0), strategy)
        clump[strategy] = np.mean(
            [mean_masked_neighbours(m.reshape(7, 7)) for m in mask]
        )
    assert clump["block"] > clump["random"] + 0.5


def test_block_order_starts_with_a_rectangle() -> None:
    for seed in range(20):
        order = masking_order("block", 7, np.random.default_rng(seed))
        first = np.zeros(49, bool)
        # the first block: the longest prefix that is a filled rectangle
        for k in range(1, 50):
            first[:] = False
            first[order[:k]] = True
            rows, cols = np.nonzero(first.reshape(7, 7))
            if (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) != k:
                break
        assert k - 1 >= 2, f"seed {seed}: the first block holds {k - 1} patches"


@pytest.mark.parametrize("strategy", MASK_STRATEGIES)
def test_strategy_masks_are_nested_exact_and_consistent(strategy: str) -> None:
    x = np.random.default_rng(0).standard_normal((3, 16, 5))
    previous = np.zeros((3, 16))
    for k in range(16):
        visible, mask, ids_restore = strategy_masking(
            x, k / 16, np.random.default_rng(1), strategy
        )
        assert (mask.sum(axis=1) == k).all() and (mask >= previous).all()
        assert visible.shape == (3, 16 - k, 5)
        kept = np.argsort(ids_restore, axis=1)[:, : 16 - k]
        np.testing.assert_array_equal(
            visible, np.take_along_axis(x, kept[..., None], axis=1)
        )
        assert (np.take_along_axis(mask, kept, axis=1) == 0).all()
        previous = mask


def test_random_strategy_is_random_masking_itself() -> None:
    x = np.random.default_rng(0).standard_normal((4, 16, 3))
    for a, b in zip(
        strategy_masking(x, 0.6, np.random.default_rng(5), "random"),
        random_masking(x, 0.6, np.random.default_rng(5)),
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: masking_order("stripes", 4, np.random.default_rng(0)),
            "strategy must be one of",
        ),
        (lambda: masking_order("grid", 0, np.random.default_rng(0)), "grid"),
        (lambda: masking_order("block", 4, 0), "rng"),
        (
            lambda: strategy_masking(
                np.zeros((1, 15, 2)), 0.5, np.random.default_rng(0), "grid"
            ),
            "square grid",
        ),
        (
            lambda: strategy_masking(
                np.zeros((1, 16, 2)), 1.0, np.random.default_rng(0), "block"
            ),
            "mask_ratio",
        ),
        (
            lambda: strategy_masking(
                np.zeros((1, 16, 2)), 0.97, np.random.default_rng(0), "block"
            ),
            "no visible patch",
        ),
        (
            lambda: strategy_masking(
                np.zeros((1, 16, 2)), 0.5, np.random.default_rng(0), "stripes"
            ),
            "strategy",
        ),
    ],
)
def test_strategy_masking_bad_inputs_raise(
    call: Callable[[], Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()
