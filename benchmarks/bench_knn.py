"""Speed of the book's k-NN (knn_classify) beside scikit-learn's brute-force
KNeighborsClassifier.

Two settings at the book's sizes, each timed side by side in one run (interleaved
rounds, medians, so load from other processes hits both alike): 4,000 x 784 MNIST pixels
against 1,000 queries with k=5 plain votes, and 4,000 x 256 features (a fixed random
ReLU layer over the pixels) against 1,000 queries with k=20 cosine votes weighted by
exp(similarity / 0.07), which in scikit-learn is metric="cosine" with weights
exp(-distance / 0.07). Asserts equal predictions; the bar is <= 1.5x. Run:
PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_knn.py [--repeats 15]
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from helpers.data import mnist_split
from helpers.evaluation import knn_classify
from helpers.timing import interleaved_medians

TAU = 0.07


def book_data() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pixels and 256 features of the book's split: name -> (train x, y, test x)."""
    x_train, y_train, x_test, _ = mnist_split(0)
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    w = np.random.default_rng(0).normal(size=(x_train.shape[1], 256)) / np.sqrt(
        x_train.shape[1]
    )
    return {
        "pixels": (x_train, y_train, x_test),
        "features": (np.maximum(x_train @ w, 0), y_train, np.maximum(x_test @ w, 0)),
    }


def contenders(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, k: int, weighted: bool
) -> dict[str, Callable[[], object]]:
    """knn_classify and scikit-learn's on the same rows; asserts equal predictions."""
    options = (
        {"metric": "cosine", "weights": lambda d: np.exp(-d / TAU)} if weighted else {}
    )
    sk = KNeighborsClassifier(n_neighbors=k, algorithm="brute", **options).fit(
        train_x, train_y
    )
    ours = knn_classify(
        train_x, train_y, test_x, k=k, weighted=weighted, temperature=TAU
    )
    agree = np.mean(ours == sk.predict(test_x))
    assert agree == 1.0, (
        f"knn_classify disagrees with scikit-learn on {1 - agree:.2%} of queries"
    )
    return {
        "knn_classify": lambda: knn_classify(
            train_x, train_y, test_x, k=k, weighted=weighted, temperature=TAU
        ),
        "sklearn brute": lambda: sk.predict(test_x),
    }


def main() -> None:
    """Print both medians and their ratio for each setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    repeats = parser.parse_args().repeats
    data = book_data()
    for name, k, weighted in (("pixels", 5, False), ("features", 20, True)):
        train_x, train_y, test_x = data[name]
        t = interleaved_medians(
            contenders(train_x, train_y, test_x, k, weighted), repeats
        )
        label = (
            f"{name} {train_x.shape[0]}x{train_x.shape[1]}, {len(test_x)} queries, "
            f"k={k}" + (" weighted" if weighted else "")
        )
        print(
            f"{label}: knn_classify {t['knn_classify'] * 1e3:.1f} ms, sklearn brute "
            f"{t['sklearn brute'] * 1e3:.1f} ms, "
            f"ratio {t['knn_classify'] / t['sklearn brute']:.2f} (bar <= 1.5)"
        )


if __name__ == "__main__":
    main()
