"""The self-supervised objectives of the book, each returning a scalar Tensor.

Every loss takes numpy arrays or Tensors; gradients flow into Tensor inputs that require
them, except where a method stops the gradient on purpose (BYOL's target, DINO's
teacher), which the function's docstring says.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_nonnegative,
    check_positive,
)
from helpers.autograd import Tensor, as_tensor, concatenate, _safe_scale

IGNORE_INDEX = -1
BN_EPS = 1e-5
NORM_PIX_EPS = 1e-6


def _float_input(x: Any, name: str, ndim: int | tuple[int, ...]) -> Tensor:
    """Return x as a Tensor after checking its dimensions and finiteness."""
    check_array(x, name, ndim=ndim)
    return as_tensor(x)


def _constant(x: Any, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """The values of x as a plain array (a stop-gradient), checked like any input."""
    return _float_input(x, name, ndim).data


def _same_shape(a: Any, b: Any, names: str) -> None:
    """Raise unless a and b have the same shape."""
    if np.shape(getattr(a, "data", a)) != np.shape(getattr(b, "data", b)):
        raise ValueError(
            f"{names} must have the same shape, got {np.shape(getattr(a, 'data', a))} "
            f"and {np.shape(getattr(b, 'data', b))}"
        )


def cross_entropy(logits: Any, labels: Any) -> Tensor:
    """Mean cross-entropy of (N, C) or (N, L, C) logits against integer labels; label -1
    is ignored.

    One fused node: its value is -log softmax(logits)[label] averaged over the kept
    positions, and its gradient is softmax - one_hot(label) per kept row (what
    log_softmax + gather would give).
    """
    x = _float_input(logits, "logits", ndim=(2, 3))
    y = check_array(labels, "labels", ndim=x.ndim - 1)
    if y.dtype.kind not in "iu" or y.shape != x.shape[:-1]:
        raise ValueError(
            f"labels must be integers of shape {x.shape[:-1]}, got {y.dtype} of shape "
            f"{y.shape}"
        )
    if y.size and (y.min() < IGNORE_INDEX or y.max() >= x.shape[-1]):
        raise ValueError(
            f"labels must lie in [0, {x.shape[-1] - 1}] or be {IGNORE_INDEX} "
            "(ignored), "
            f"got values in [{y.min()}, {y.max()}]"
        )
    keep = y != IGNORE_INDEX
    if not keep.any():
        raise ValueError(
            f"every label is {IGNORE_INDEX} (ignored); at least one position must count"
        )
    weights = (keep / keep.sum()).astype(x.dtype)
    target = np.where(keep, y, 0)[..., None]
    shifted = x.data - x.data.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=-1, keepdims=True)
    log_p = np.take_along_axis(shifted, target, axis=-1)[..., 0] - np.log(total[..., 0])

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        # d(-log p_y)/dlogits = softmax - one_hot(y), each row weighted by its share of
        # the mean
        grad = exp / total
        np.put_along_axis(
            grad, target, np.take_along_axis(grad, target, axis=-1) - 1, axis=-1
        )
        grad *= (weights * g)[..., None]
        return (grad,)

    return Tensor.from_op(
        np.asarray(-(log_p * weights).sum(), dtype=x.dtype), (x,), backward
    )


def nt_xent(z1: Any, z2: Any, temperature: float = 0.5) -> Tensor:
    """SimCLR's NT-Xent: rows i of z1 and z2 are positives; mean over all 2N anchors."""
    z1t = _float_input(z1, "z1", ndim=2)
    z2t = _float_input(z2, "z2", ndim=2)
    _same_shape(z1t, z2t, "z1 and z2")
    tau = check_positive(temperature, "temperature")
    return _nt_xent_unit(concatenate([z1t, z2t]).normalize(axis=1), tau)


def _nt_xent_unit(u: Tensor, tau: float) -> Tensor:
    """NT-Xent of L2-normalised rows u = [view 1; view 2] as one fused op (see
    `nt_xent`).

    Logits are a aᵀ with a = u / sqrt(tau). When |logit| <= 1/tau is too small to
    overflow the dtype, exp needs no shift and exp(logits) stays symmetric; otherwise
    each row is shifted by its largest non-self logit (log-sum-exp). Self-similarity is
    removed by zeroing it after exp.
    """
    n = u.shape[0]
    a = u.data * np.asarray(tau**-0.5, dtype=u.dtype)
    partner = np.roll(np.arange(n), n // 2)
    # the copy makes numpy use gemm, faster here than its a @ a.T path
    logits = a @ a.copy().T
    if 1 / tau <= 0.5 * np.log(np.finfo(u.dtype).max):
        shift = np.zeros((n, 1), dtype=u.dtype)
    else:
        # the smallest possible logit: never the row maximum
        np.fill_diagonal(logits, -1 / tau)
        shift = logits.max(axis=1, keepdims=True)
        logits -= shift
    expo = np.exp(logits, out=logits)
    np.fill_diagonal(expo, 0)
    row_sum = expo.sum(axis=1, keepdims=True)
    positive = (a * a[partner]).sum(axis=1, keepdims=True)
    loss = (np.log(row_sum) + shift - positive).mean()

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        grad_a = expo @ a / row_sum + expo.T @ (a / row_sum) - 2 * a[partner]
        return (grad_a * (g * tau**-0.5 / n),)

    return Tensor.from_op(np.asarray(loss, dtype=u.dtype), (u,), backward)


def byol_loss(p: Any, z: Any) -> Tensor:
    """Mean over rows of 2 - 2 cos(p, z); z is a constant (stop-gradient)."""
    pt = _float_input(p, "p", ndim=2)
    target = Tensor(_constant(z, "z", ndim=2)).normalize(axis=1).data
    _same_shape(pt, target, "p and z")
    return 2 - 2 * (pt.normalize(axis=1) * target).sum(axis=1).mean()


def dino_loss(
    student_out: Any,
    teacher_out: Any,
    center: Any,
    student_temp: float = 0.1,
    teacher_temp: float = 0.04,
) -> Tensor:
    """DINO's loss over every (teacher view i, student view j != i) pair; the teacher is
    a constant.

    student_out is (S, B, K), teacher_out (T, B, K) with 1 <= T <= S, the teacher's
    views being the student's first T. Each pair adds the batch mean of -sum_k q_t log
    p_s; the result is the mean over the T*S - T pairs.
    """
    s = _float_input(student_out, "student_out", ndim=3)
    t = _constant(teacher_out, "teacher_out", ndim=3)
    c = _constant(center, "center", ndim=(1, 2))
    if (
        t.shape[1:] != s.shape[1:]
        or not 1 <= t.shape[0] <= s.shape[0]
        or s.shape[0] < 2
    ):
        raise ValueError(
            f"teacher_out (T, B, K) must match student_out (S, B, K) in B and K with "
            f"1 <= T <= S and S >= 2, got {t.shape} and {s.shape}"
        )
    if c.shape[-1] != s.shape[2] or c.size != s.shape[2]:
        raise ValueError(
            f"center must have shape ({s.shape[2]},) or (1, {s.shape[2]}), got "
            f"{c.shape}"
        )
    q = (
        Tensor((t - c.reshape(-1)) / check_positive(teacher_temp, "teacher_temp"))
        .softmax(axis=-1)
        .data
    )
    log_p = (s / check_positive(student_temp, "student_temp")).log_softmax(axis=-1)
    # sum of the teacher views paired with j
    others = np.broadcast_to(q.sum(axis=0), s.shape).copy()
    others[: len(q)] -= q  # ... except view j itself
    n_pairs = len(q) * (s.shape[0] - 1)
    return -(log_p * others.astype(s.dtype)).sum() * (1.0 / (n_pairs * s.shape[1]))


def update_center(center: Any, teacher_out: Any, momentum: float = 0.9) -> np.ndarray:
    """DINO's center: momentum * center + (1 - momentum) * mean of teacher_out."""
    c = _constant(center, "center", ndim=(1, 2))
    t = _constant(teacher_out, "teacher_out", ndim=3)
    if c.size != t.shape[2] or c.shape[-1] != t.shape[2]:
        raise ValueError(
            f"center must have shape ({t.shape[2]},) or (1, {t.shape[2]}), got "
            f"{c.shape}"
        )
    m = check_fraction(momentum, "momentum", high_open=False)
    return m * c + (1 - m) * t.mean(axis=(0, 1)).reshape(c.shape)


def _standardize(z: Tensor, eps: float) -> Tensor:
    """Standardise each column over the rows, as BatchNorm without affine (biased)."""
    # an exact power of two, 1 unless squares would overflow
    z = z * (1 / _safe_scale(z.data, 0))
    centred = z - z.mean(axis=0, keepdims=True)
    return centred / ((centred * centred).mean(axis=0, keepdims=True) + eps).sqrt()


def barlow_twins_loss(z1: Any, z2: Any, lambd: float = 5e-3) -> Tensor:
    """Barlow Twins: sum (1 - c_ii)^2 + lambd * sum_{i != j} c_ij^2 (c: cross-corr)."""
    z1t = _float_input(z1, "z1", ndim=2)
    z2t = _float_input(z2, "z2", ndim=2)
    _same_shape(z1t, z2t, "z1 and z2")
    if z1t.shape[0] < 2:
        raise ValueError(
            "z1 and z2 need at least 2 rows to standardise over the batch, got "
            f"{z1t.shape[0]}"
        )
    check_nonnegative(lambd, "lambd")
    c = _standardize(z1t, BN_EPS).T @ _standardize(z2t, BN_EPS) * (1.0 / z1t.shape[0])
    eye = np.eye(c.shape[0], dtype=c.dtype)
    return ((c - eye) ** 2 * (eye + lambd * (1 - eye))).sum()


def _normalize_patches(t: Tensor) -> Tensor:
    """Normalise each patch by its mean and unbiased variance (MAE's norm_pix_loss)."""
    centred = t - t.mean(axis=-1, keepdims=True)
    var = (centred * centred).sum(axis=-1, keepdims=True) * (1.0 / (t.shape[-1] - 1))
    return centred / (var + NORM_PIX_EPS).sqrt()


def mae_loss(pred: Any, target: Any, mask: Any, norm_pix: bool = False) -> Tensor:
    """MAE's loss: per-patch MSE of (N, L, P) patches, averaged over masked ones."""
    p = _float_input(pred, "pred", ndim=3)
    t = _float_input(target, "target", ndim=3)
    _same_shape(p, t, "pred and target")
    m = check_array(mask, "mask", ndim=2)
    if m.shape != p.shape[:2] or not np.isin(m, (0, 1)).all():
        raise ValueError(
            f"mask must be 0/1 of shape {p.shape[:2]}, got shape {m.shape}"
        )
    if not m.any():
        raise ValueError(
            "mask has no masked patch (no 1); the loss averages over masked patches "
            "only"
        )
    if check_bool(norm_pix, "norm_pix"):
        if p.shape[2] < 2:
            raise ValueError(
                f"norm_pix needs patches of at least 2 values, got {p.shape[2]}"
            )
        t = _normalize_patches(t)
    per_patch = ((p - t) ** 2).mean(axis=-1)
    return (per_patch * m.astype(p.dtype)).sum() * (1.0 / m.sum())
