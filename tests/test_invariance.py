"""Invariance tests: what a helper computes must not change under transformations that
cannot matter.

k-NN under a shift and scale of all features (exact against a float64 brute force); the
losses, normalisations and collapse diagnostics under scaling anywhere within their
dtype's range; `encode` under batch size.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.evaluation import effective_rank, embedding_std, knn_classify


def brute_force_knn(
    ref: np.ndarray, labels: np.ndarray, queries: np.ndarray, k: int
) -> np.ndarray:
    """Majority vote of the k nearest by exact float64 squared distance."""
    dist = ((queries[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
    votes = (labels[nearest][..., None] == np.arange(labels.max() + 1)).sum(axis=1)
    return votes.argmax(axis=1)


def gaussian_set(seed: int = 0, n_ref: int = 300, n_query: int = 100, width: int = 256):
    """Gaussian features, random labels: many near-equal distances (hard case)."""
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n_ref, width)),
        rng.integers(0, 10, n_ref),
        rng.normal(size=(n_query, width)),
    )


@pytest.mark.parametrize("offset", [0.0, 300.0, 500.0, 1e6])
def test_knn_is_shift_invariant(offset: float) -> None:
    ref, labels, queries = gaussian_set()
    expected = brute_force_knn(ref, labels, queries, 5)
    np.testing.assert_array_equal(
        knn_classify(ref + offset, labels, queries + offset, k=5), expected
    )


@pytest.mark.parametrize("scale", [1e-30, 1e-3, 3.0, 1e15, 1e30])
def test_knn_is_scale_invariant(scale: float) -> None:
    ref, labels, queries = gaussian_set(1)
    expected = brute_force_knn(ref * scale, labels, queries * scale, 5)
    np.testing.assert_array_equal(
        knn_classify(ref * scale, labels, queries * scale, k=5), expected
    )
    np.testing.assert_array_equal(expected, brute_force_knn(ref, labels, queries, 5))


def test_knn_float32_input_with_offset() -> None:
    ref, labels, queries = gaussian_set(2)
    ref32, q32 = (ref + 500).astype(np.float32), (queries + 500).astype(np.float32)
    expected = brute_force_knn(
        ref32.astype(np.float64), labels, q32.astype(np.float64), 5
    )
    np.testing.assert_array_equal(knn_classify(ref32, labels, q32, k=5), expected)


# ----- scaling within the dtype's range
# --------------------------------------------------------
from helpers.autograd import Tensor  # noqa: E402
from helpers.losses import barlow_twins_loss, byol_loss, nt_xent  # noqa: E402
from helpers.nn import BatchNorm1d, LayerNorm  # noqa: E402

# squares of 1e20 overflow float32; 1e-3 keeps norms above eps
SCALES32 = [1e-3, 1.0, 1e10, 1e20, 1e30]
SCALES64 = [1e-3, 1.0, 1e100, 1e160, 1e250]


def pair(
    dtype: type, n: int = 16, d: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated views of random embeddings in the given dtype."""
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(n, d))
    return z1.astype(dtype), (z1 + 0.3 * rng.normal(size=(n, d))).astype(dtype)


def value_and_grad(loss_fn, z1: np.ndarray, z2: np.ndarray) -> tuple[float, np.ndarray]:
    """The loss and the gradient with respect to z1."""
    a = Tensor(z1, requires_grad=True)
    loss = loss_fn(a, z2)
    loss.backward()
    return loss.item(), a.grad


@pytest.mark.parametrize(
    "dtype,scales", [(np.float32, SCALES32), (np.float64, SCALES64)]
)
@pytest.mark.parametrize(
    "loss_fn",
    [nt_xent, byol_loss, barlow_twins_loss],
    ids=["nt_xent", "byol", "barlow"],
)
def test_losses_are_scale_invariant(loss_fn, dtype: type, scales: list[float]) -> None:
    z1, z2 = pair(dtype)
    ref, ref_grad = value_and_grad(loss_fn, z1, z2)
    # Barlow: eps at scale 1
    rtol = 1e-3 if dtype == np.float32 or loss_fn is barlow_twins_loss else 1e-9
    for s in scales:
        if loss_fn is barlow_twins_loss and s < 1:
            # Barlow's batch-norm eps (1e-5) is not negligible against a variance of
            # 1e-6
            continue
        value, grad = value_and_grad(loss_fn, z1 * dtype(s), z2 * dtype(s))
        assert value == pytest.approx(ref, rel=rtol, abs=rtol), f"scale {s}"
        assert np.all(np.isfinite(grad))
        np.testing.assert_allclose(
            grad * dtype(s), ref_grad, rtol=1e-2, atol=1e-2 * np.abs(ref_grad).max()
        )


@pytest.mark.parametrize(
    "dtype,scales", [(np.float32, SCALES32), (np.float64, SCALES64)]
)
@pytest.mark.parametrize("norm", [LayerNorm, BatchNorm1d])
def test_normalisation_layers_are_scale_invariant(
    norm, dtype: type, scales: list[float]
) -> None:
    x = pair(dtype)[0]
    layer = norm(x.shape[1], dtype=dtype)
    ref = layer(x).data
    for s in scales[2:]:  # large scales: eps is negligible, output must be unchanged
        out = layer(x * dtype(s)).data
        assert all(np.all(np.isfinite(a)) for _, a in layer.named_arrays())
        np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-3, err_msg=f"scale {s}")


@pytest.mark.parametrize("fn", [effective_rank, embedding_std])
@pytest.mark.parametrize(
    "dtype,scales", [(np.float32, SCALES32), (np.float64, SCALES64)]
)
def test_collapse_diagnostics_are_scale_invariant(
    fn, dtype: type, scales: list[float]
) -> None:
    z = pair(dtype, n=64, d=16)[0]
    ref = fn(z)
    for s in scales:
        assert fn(z * dtype(s)) == pytest.approx(ref, rel=1e-5), f"scale {s}"


def test_encode_is_batch_size_invariant() -> None:
    from helpers.simclr import encode, make_mlp_encoder

    rng = np.random.default_rng(0)
    encoder = make_mlp_encoder(rng, (64, 32, 16))
    images = rng.random((50, 8, 8)).astype(np.float32)
    whole = encode(encoder, images, batch_size=50)
    for batch in (1, 7, 49):
        np.testing.assert_allclose(
            encode(encoder, images, batch_size=batch), whole, rtol=1e-5, atol=1e-6
        )
