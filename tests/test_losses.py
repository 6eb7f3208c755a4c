"""Tests of helpers.losses: finite differences, loop references, known answers."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from helpers.autograd import Tensor, numerical_gradient
from helpers.losses import (
    barlow_twins_loss,
    byol_loss,
    cross_entropy,
    dino_loss,
    mae_loss,
    nt_xent,
    update_center,
)

R = np.random.default_rng(7)


def check_grads(
    fn: Callable[..., Tensor],
    *arrays: np.ndarray,
    wrt: tuple[int, ...] | None = None,
    tol: float = 1e-6,
) -> None:
    """Assert the autograd gradient of fn(...) matches finite differences for wrt."""
    wrt = tuple(range(len(arrays))) if wrt is None else wrt
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    fn(*ts).backward()
    for k in wrt:

        def f(x: np.ndarray, k: int = k) -> float:
            return float(fn(*[x if j == k else arrays[j] for j in range(len(arrays))]))

        np.testing.assert_allclose(
            ts[k].grad, numerical_gradient(f, arrays[k].copy()), rtol=tol, atol=tol
        )


# ----- slow, obviously correct references
# ------------------------------------------------------
def nt_xent_loop(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """NT-Xent by a double loop over anchors and candidates, log-sum-exp per anchor."""
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n, total = len(z), 0.0
    for i in range(n):
        logits = [z[i] @ z[j] / tau for j in range(n) if j != i]
        top = max(logits)
        lse = top + np.log(sum(np.exp(v - top) for v in logits))
        total += lse - z[i] @ z[(i + n // 2) % n] / tau
    return total / n


def softmax(x: np.ndarray) -> np.ndarray:
    """Row softmax along the last axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def dino_loop(
    s: np.ndarray, t: np.ndarray, c: np.ndarray, ts: float, tt: float
) -> float:
    """DINO's loss by a loop over (teacher, student) view pairs, as in DINO's code."""
    total, pairs = 0.0, 0
    for i in range(len(t)):
        q = softmax((t[i] - c) / tt)
        for j in range(len(s)):
            if i != j:
                total += np.mean(-(q * np.log(softmax(s[j] / ts))).sum(axis=-1))
                pairs += 1
    return total / pairs


def barlow_loop(z1: np.ndarray, z2: np.ndarray, lambd: float) -> float:
    """Barlow Twins with explicit loops over the cross-correlation entries."""
    a = (z1 - z1.mean(0)) / np.sqrt(z1.var(0) + 1e-5)
    b = (z2 - z2.mean(0)) / np.sqrt(z2.var(0) + 1e-5)
    total = 0.0
    for i in range(z1.shape[1]):
        for j in range(z1.shape[1]):
            c = (a[:, i] * b[:, j]).sum() / len(z1)
            total += (1 - c) ** 2 if i == j else lambd * c**2
    return total


# ----- cross_entropy
# -----------------------------------------------------------------------------
def test_cross_entropy_matches_loop_and_ignores_minus_one() -> None:
    logits, labels = (
        R.normal(size=(3, 4, 5)),
        np.array([[0, 4, -1, 2], [-1, -1, 1, 3], [2, 2, 2, -1]]),
    )
    picked = [
        -np.log(softmax(logits[n, l]))[labels[n, l]]
        for n in range(3)
        for l in range(4)
        if labels[n, l] >= 0
    ]
    assert float(cross_entropy(logits, labels)) == pytest.approx(
        np.mean(picked), rel=1e-12
    )
    flat = cross_entropy(logits.reshape(12, 5), labels.reshape(12))
    assert float(flat) == pytest.approx(np.mean(picked), rel=1e-12)


def test_cross_entropy_gradient() -> None:
    labels = np.array([[1, -1, 0], [2, 2, -1]])
    check_grads(lambda x: cross_entropy(x, labels), R.normal(size=(2, 3, 4)))


def test_cross_entropy_ignored_positions_get_no_gradient() -> None:
    x = Tensor(R.normal(size=(3, 4)), requires_grad=True)
    cross_entropy(x, np.array([1, -1, 3])).backward()
    assert np.all(x.grad[1] == 0) and np.any(x.grad[0] != 0)


# ----- nt_xent
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [1.0, 0.5, 0.1, 0.02, 1e-3])
def test_nt_xent_matches_loop(tau: float) -> None:
    z1, z2 = R.normal(size=(6, 4)), R.normal(size=(6, 4))
    assert float(nt_xent(z1, z2, tau)) == pytest.approx(
        nt_xent_loop(z1, z2, tau), rel=1e-10
    )


@pytest.mark.parametrize("tau", [0.5, 0.05, 1e-3])
def test_nt_xent_gradient(tau: float) -> None:
    z1, z2 = R.normal(size=(4, 3)), R.normal(size=(4, 3))
    check_grads(lambda a, b: nt_xent(a, b, tau), z1, z2, tol=1e-5)


def test_nt_xent_closed_form_for_aligned_orthogonal_views() -> None:
    n, tau = 4, 0.5
    z = np.eye(n)  # positives identical (cos 1), every other pair orthogonal (cos 0)
    expected = np.log(np.exp(1 / tau) + 2 * (n - 1)) - 1 / tau
    assert float(nt_xent(z, z, tau)) == pytest.approx(expected, rel=1e-12)


def test_nt_xent_tiny_temperature_is_finite_in_float32() -> None:
    z1, z2 = (
        R.normal(size=(8, 5)).astype(np.float32),
        R.normal(size=(8, 5)).astype(np.float32),
    )
    z1t = Tensor(z1, requires_grad=True)
    loss = nt_xent(z1t, z2, 1e-3)
    loss.backward()
    assert np.isfinite(float(loss)) and np.all(np.isfinite(z1t.grad))
    assert float(loss) == pytest.approx(
        nt_xent_loop(z1.astype(np.float64), z2.astype(np.float64), 1e-3), rel=1e-3
    )


def test_nt_xent_keeps_float32() -> None:
    z1 = Tensor(R.normal(size=(5, 3)).astype(np.float32), requires_grad=True)
    loss = nt_xent(z1, R.normal(size=(5, 3)).astype(np.float32))
    loss.backward()
    assert loss.dtype == np.float32 and z1.grad.dtype == np.float32


def test_nt_xent_scale_invariant() -> None:
    z1, z2 = R.normal(size=(5, 3)), R.normal(size=(5, 3))
    assert float(nt_xent(3 * z1, 0.5 * z2)) == pytest.approx(
        float(nt_xent(z1, z2)), rel=1e-12
    )


# ----- byol_loss
# --------------------------------------------------------------------------------
def test_byol_known_answers() -> None:
    p = R.normal(size=(5, 4))
    assert float(byol_loss(p, 2 * p)) == pytest.approx(0, abs=1e-12)
    assert float(byol_loss(p, -p)) == pytest.approx(4, rel=1e-12)
    assert float(byol_loss(np.eye(3), np.roll(np.eye(3), 1, axis=1))) == pytest.approx(
        2, rel=1e-12
    )


def test_byol_gradient_and_stop_gradient() -> None:
    p, z = R.normal(size=(4, 3)), R.normal(size=(4, 3))
    check_grads(byol_loss, p, z, wrt=(0,))
    zt = Tensor(z, requires_grad=True)
    pt = Tensor(p, requires_grad=True)
    byol_loss(pt, zt).backward()
    assert zt.grad is None and pt.grad is not None


# ----- dino_loss and update_center
# --------------------------------------------------------------
@pytest.mark.parametrize("views", [(2, 2), (2, 6), (1, 3), (3, 3)])
def test_dino_matches_loop(views: tuple[int, int]) -> None:
    t_views, s_views = views
    s, t, c = (
        R.normal(size=(s_views, 4, 5)),
        R.normal(size=(t_views, 4, 5)),
        R.normal(size=5),
    )
    assert float(dino_loss(s, t, c, 0.1, 0.04)) == pytest.approx(
        dino_loop(s, t, c, 0.1, 0.04), rel=1e-10
    )
    assert float(dino_loss(s, t, c[None], 0.2, 0.07)) == pytest.approx(
        dino_loop(s, t, c, 0.2, 0.07), rel=1e-10
    )


def test_dino_gradient_and_stop_gradient() -> None:
    s, t, c = R.normal(size=(3, 2, 4)), R.normal(size=(2, 2, 4)), R.normal(size=4)
    check_grads(lambda a: dino_loss(a, t, c), s)
    tt, ct = Tensor(t, requires_grad=True), Tensor(c, requires_grad=True)
    dino_loss(Tensor(s, requires_grad=True), tt, ct).backward()
    assert tt.grad is None and ct.grad is None


def test_update_center() -> None:
    t = R.normal(size=(2, 3, 4))
    np.testing.assert_allclose(
        update_center(np.ones(4), t, 0.9), 0.9 + 0.1 * t.mean(axis=(0, 1))
    )
    assert update_center(np.zeros((1, 4)), t).shape == (1, 4)
    np.testing.assert_allclose(update_center(np.zeros(4), t, 0.0), t.mean(axis=(0, 1)))


# ----- barlow_twins_loss
# ------------------------------------------------------------------------
def test_barlow_matches_loop() -> None:
    z1, z2 = R.normal(size=(7, 4)), R.normal(size=(7, 4))
    assert float(barlow_twins_loss(z1, z2, 0.3)) == pytest.approx(
        barlow_loop(z1, z2, 0.3), rel=1e-10
    )


def test_barlow_gradient() -> None:
    check_grads(
        lambda a, b: barlow_twins_loss(a, b, 0.2),
        R.normal(size=(5, 3)),
        R.normal(size=(5, 3)),
    )


def test_barlow_zero_for_identical_decorrelated_inputs() -> None:
    raw = R.normal(size=(64, 8))
    q, _ = np.linalg.qr(raw - raw.mean(axis=0))  # centred, orthonormal columns
    # unit variance, zero correlation: the cross-correlation is the identity
    z = q * np.sqrt(64)
    assert float(barlow_twins_loss(z, z)) == pytest.approx(0, abs=1e-8)


def test_barlow_lambda_zero_is_allowed() -> None:
    z = R.normal(size=(6, 3))
    assert float(barlow_twins_loss(z, z, 0.0)) == pytest.approx(0, abs=1e-5)


# ----- mae_loss
# ---------------------------------------------------------------------------------
def mae_loop(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray, norm_pix: bool
) -> float:
    """MAE's loss by a loop over patches, normalising each masked target when asked."""
    total = 0.0
    for n, l in zip(*np.nonzero(mask)):
        t = target[n, l]
        if norm_pix:
            t = (t - t.mean()) / np.sqrt(t.var(ddof=1) + 1e-6)
        total += np.mean((pred[n, l] - t) ** 2)
    return total / mask.sum()


@pytest.mark.parametrize("norm_pix", [False, True])
def test_mae_matches_loop_and_gradient(norm_pix: bool) -> None:
    pred, target = R.normal(size=(2, 5, 4)), R.normal(size=(2, 5, 4))
    mask = np.array([[1, 0, 1, 1, 0], [0, 0, 1, 0, 0]], dtype=float)
    assert float(mae_loss(pred, target, mask, norm_pix)) == pytest.approx(
        mae_loop(pred, target, mask, norm_pix), rel=1e-12
    )
    check_grads(lambda p, t: mae_loss(p, t, mask, norm_pix), pred, target)


def test_mae_ignores_visible_patches() -> None:
    pred = Tensor(R.normal(size=(1, 3, 2)), requires_grad=True)
    mae_loss(pred, np.zeros((1, 3, 2)), np.array([[True, False, True]])).backward()
    assert np.all(pred.grad[0, 1] == 0)


# ----- dtype and bad inputs
# ---------------------------------------------------------------------
F = np.float32
GOOD = {
    "cross_entropy": (
        cross_entropy,
        (R.normal(size=(4, 3)).astype(F), np.array([0, 1, 2, 0])),
    ),
    "nt_xent": (
        nt_xent,
        (R.normal(size=(4, 3)).astype(F), R.normal(size=(4, 3)).astype(F)),
    ),
    "byol": (
        byol_loss,
        (R.normal(size=(4, 3)).astype(F), R.normal(size=(4, 3)).astype(F)),
    ),
    "dino": (
        dino_loss,
        (
            R.normal(size=(3, 2, 4)).astype(F),
            R.normal(size=(2, 2, 4)).astype(F),
            np.zeros(4, F),
        ),
    ),
    "barlow": (
        barlow_twins_loss,
        (R.normal(size=(4, 3)).astype(F), R.normal(size=(4, 3)).astype(F)),
    ),
    "mae": (
        mae_loss,
        (
            R.normal(size=(2, 3, 4)).astype(F),
            R.normal(size=(2, 3, 4)).astype(F),
            np.ones((2, 3)),
        ),
    ),
}


@pytest.mark.parametrize("name", GOOD)
def test_float32_preserved_and_gradient_float32(name: str) -> None:
    fn, args = GOOD[name]
    first = Tensor(args[0], requires_grad=True)
    loss = fn(first, *args[1:])
    loss.backward()
    assert (
        loss.dtype == np.float32 and first.grad.dtype == np.float32 and loss.shape == ()
    )


def _nan(x: np.ndarray) -> np.ndarray:
    """A copy of x with one NaN."""
    y = x.copy()
    y.flat[0] = np.nan
    return y


X = R.normal(size=(4, 3))
BAD = [
    ("ce_ndim", lambda: cross_entropy(X[0], np.array([0]))),
    ("ce_label_float", lambda: cross_entropy(X, np.zeros(4))),
    ("ce_label_shape", lambda: cross_entropy(X, np.zeros(3, int))),
    ("ce_label_range", lambda: cross_entropy(X, np.array([0, 1, 3, 0]))),
    ("ce_label_below", lambda: cross_entropy(X, np.array([0, 1, -2, 0]))),
    ("ce_all_ignored", lambda: cross_entropy(X, -np.ones(4, int))),
    ("ce_nan", lambda: cross_entropy(_nan(X), np.zeros(4, int))),
    ("nt_shape", lambda: nt_xent(X, X[:3])),
    ("nt_ndim", lambda: nt_xent(X[0], X[0])),
    ("nt_tau0", lambda: nt_xent(X, X, 0.0)),
    ("nt_tau_neg", lambda: nt_xent(X, X, -1)),
    ("nt_nan", lambda: nt_xent(_nan(X), X)),
    ("byol_shape", lambda: byol_loss(X, X[:, :2])),
    ("byol_inf", lambda: byol_loss(X, X * np.inf)),
    (
        "dino_T_gt_S",
        lambda: dino_loss(
            R.normal(size=(2, 2, 4)), R.normal(size=(3, 2, 4)), np.zeros(4)
        ),
    ),
    (
        "dino_one_view",
        lambda: dino_loss(
            R.normal(size=(1, 2, 4)), R.normal(size=(1, 2, 4)), np.zeros(4)
        ),
    ),
    (
        "dino_K",
        lambda: dino_loss(
            R.normal(size=(2, 2, 4)), R.normal(size=(2, 2, 5)), np.zeros(4)
        ),
    ),
    (
        "dino_center",
        lambda: dino_loss(
            R.normal(size=(2, 2, 4)), R.normal(size=(2, 2, 4)), np.zeros(3)
        ),
    ),
    (
        "dino_temp",
        lambda: dino_loss(
            R.normal(size=(2, 2, 4)), R.normal(size=(2, 2, 4)), np.zeros(4), 0.1, 0
        ),
    ),
    (
        "center_momentum",
        lambda: update_center(np.zeros(4), R.normal(size=(2, 2, 4)), 1.5),
    ),
    ("center_shape", lambda: update_center(np.zeros(3), R.normal(size=(2, 2, 4)))),
    ("barlow_one_row", lambda: barlow_twins_loss(X[:1], X[:1])),
    ("barlow_lambda", lambda: barlow_twins_loss(X, X, -1)),
    ("barlow_shape", lambda: barlow_twins_loss(X, X[:, :2])),
    ("mae_no_mask", lambda: mae_loss(X[None], X[None], np.zeros((1, 4)))),
    ("mae_mask_shape", lambda: mae_loss(X[None], X[None], np.ones((1, 3)))),
    ("mae_mask_values", lambda: mae_loss(X[None], X[None], np.full((1, 4), 0.5))),
    ("mae_shape", lambda: mae_loss(X[None], X[None, :, :2], np.ones((1, 4)))),
    (
        "mae_norm_pix_one_value",
        lambda: mae_loss(X[None, :, :1], X[None, :, :1], np.ones((1, 4)), True),
    ),
]


@pytest.mark.parametrize("name,call", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises(name: str, call: Callable[[], Tensor]) -> None:
    with pytest.raises(ValueError):
        call()
