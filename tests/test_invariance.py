"""Invariance tests: what a helper computes must not change under transformations that cannot matter.

k-NN under a shift and scale of all features (exact against a float64 brute force); the losses,
normalisations and collapse diagnostics under scaling anywhere within their dtype's range;
`encode` under batch size.
"""
from __future__ import annotations

import numpy as np
import pytest

from helpers.evaluation import effective_rank, embedding_std, knn_classify


def brute_force_knn(ref: np.ndarray, labels: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Majority vote of the k nearest by exact float64 squared distance (differences, no expansion)."""
    dist = ((queries[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
    votes = (labels[nearest][..., None] == np.arange(labels.max() + 1)).sum(axis=1)
    return votes.argmax(axis=1)


def gaussian_set(seed: int = 0, n_ref: int = 300, n_query: int = 100, width: int = 256):
    """Gaussian features with random labels: many near-equal distances, the hard case for a shortlist."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_ref, width)), rng.integers(0, 10, n_ref), rng.normal(size=(n_query, width))


@pytest.mark.parametrize("offset", [0.0, 300.0, 500.0, 1e6])
def test_knn_is_shift_invariant(offset: float) -> None:
    ref, labels, queries = gaussian_set()
    expected = brute_force_knn(ref, labels, queries, 5)
    np.testing.assert_array_equal(knn_classify(ref + offset, labels, queries + offset, k=5), expected)


@pytest.mark.parametrize("scale", [1e-30, 1e-3, 3.0, 1e15, 1e30])
def test_knn_is_scale_invariant(scale: float) -> None:
    ref, labels, queries = gaussian_set(1)
    expected = brute_force_knn(ref * scale, labels, queries * scale, 5)
    np.testing.assert_array_equal(knn_classify(ref * scale, labels, queries * scale, k=5), expected)
    np.testing.assert_array_equal(expected, brute_force_knn(ref, labels, queries, 5))


def test_knn_float32_input_with_offset() -> None:
    ref, labels, queries = gaussian_set(2)
    ref32, q32 = (ref + 500).astype(np.float32), (queries + 500).astype(np.float32)
    expected = brute_force_knn(ref32.astype(np.float64), labels, q32.astype(np.float64), 5)
    np.testing.assert_array_equal(knn_classify(ref32, labels, q32, k=5), expected)
