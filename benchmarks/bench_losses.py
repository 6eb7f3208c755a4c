"""Speed of nt_xent against its arithmetic floor and of knn_classify against
scikit-learn.

Measurements are interleaved (one run of each contender per round) and summarised by
medians, so load from other processes on a shared machine hits every contender alike.
Run: .venv/bin/python benchmarks/bench_losses.py [--repeats 20]
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from helpers.autograd import Tensor
from helpers.evaluation import knn_classify
from helpers.losses import nt_xent
from helpers.timing import interleaved_medians


def nt_xent_contenders(
    n2: int = 4096, width: int = 128, tau: float = 0.5
) -> dict[str, Callable[[], object]]:
    """The floor (z @ z.T then exp, scaled unit rows) and nt_xent forward/backward."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n2, width)).astype(np.float32)
    unit = z / np.linalg.norm(z, axis=1, keepdims=True) / np.float32(np.sqrt(tau))
    z1, z2 = z[: n2 // 2], z[n2 // 2 :]

    def forward_backward() -> None:
        a, b = Tensor(z1, requires_grad=True), Tensor(z2, requires_grad=True)
        nt_xent(a, b, tau).backward()

    return {
        "floor z@z.T+exp": lambda: np.exp(unit @ unit.T),
        "floor gemm+exp": lambda: np.exp(unit @ unit.copy().T),
        "nt_xent forward": lambda: nt_xent(z1, z2, tau),
        "nt_xent fwd+bwd": forward_backward,
    }


def knn_contenders(
    n_ref: int = 4000,
    n_query: int = 1000,
    width: int = 64,
    k: int = 5,
    offset: float = 0.0,
) -> dict[str, Callable[[], object]]:
    """knn_classify and scikit-learn's brute-force KNeighborsClassifier on the same data
    (every feature shifted by `offset`); asserts equal predictions."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(10, width))
    ref_y, query_y = rng.integers(0, 10, n_ref), rng.integers(0, 10, n_query)
    ref = (offset + centres[ref_y] + 1.5 * rng.normal(size=(n_ref, width))).astype(
        np.float32
    )
    queries = (
        offset + centres[query_y] + 1.5 * rng.normal(size=(n_query, width))
    ).astype(np.float32)
    sk = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(ref, ref_y)
    ours = knn_classify(ref, ref_y, queries, k=k)
    agree = np.mean(ours == sk.predict(queries))
    assert agree == 1.0, (
        f"knn_classify disagrees with scikit-learn on {1 - agree:.2%} of queries"
    )
    return {
        "knn_classify": lambda: knn_classify(ref, ref_y, queries, k=k),
        "sklearn brute": lambda: sk.predict(queries),
    }


def main() -> None:
    """Print the medians and the ratios against their targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    repeats = parser.parse_args().repeats
    t = interleaved_medians(nt_xent_contenders(), repeats)
    for name, sec in t.items():
        print(f"{name:>18}: {sec * 1e3:7.1f} ms")
    floor = t["floor z@z.T+exp"]
    print(
        f"nt_xent forward / floor: {t['nt_xent forward'] / floor:.2f} (target <= 1.5)"
    )
    print(f"nt_xent fwd+bwd / floor: {t['nt_xent fwd+bwd'] / floor:.2f} (target <= 3)")
    best = min(floor, t["floor gemm+exp"])
    print(
        f"against the faster floor (gemm+exp): {t['nt_xent forward'] / best:.2f} / "
        f"{t['nt_xent fwd+bwd'] / best:.2f}"
    )
    for offset in (0.0, 500.0):
        k = interleaved_medians(knn_contenders(offset=offset), repeats)
        for name, sec in k.items():
            print(f"{name:>18}: {sec * 1e3:7.1f} ms (features + {offset:g})")
        print(
            f"knn_classify / sklearn: {k['knn_classify'] / k['sklearn brute']:.2f} "
            "(target <= 1.5)"
        )


if __name__ == "__main__":
    main()
