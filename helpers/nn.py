"""Neural-network layers on top of `helpers.autograd`: modules, fused ops, transformers,
ViT.

Hot ops (linear, layer/batch normalisation, attention; GELU lives in autograd) are
single fused nodes with hand-written backward passes, so a training step stays within a
small factor of PyTorch on CPU. Every layer takes an `rng` for a deterministic
initialisation and a `dtype` (float32 by default).
"""

from __future__ import annotations

import copy as _copy
from typing import Any, Iterator, Sequence

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_int,
    check_positive,
    check_rng,
)
from helpers.autograd import Tensor, _safe_scale

__all__ = [
    "Module",
    "Linear",
    "Embedding",
    "LayerNorm",
    "BatchNorm1d",
    "MLP",
    "MultiHeadSelfAttention",
    "TransformerBlock",
    "TransformerEncoder",
    "ViTEncoder",
    "linear",
    "layer_norm",
    "attention",
    "prepend_token",
    "sincos_1d",
    "sincos_2d",
    "patchify",
    "unpatchify",
]

ACTIVATIONS = ("relu", "gelu")
POSITIONS = ("sincos2d", "sincos1d", "learned", "none")


# ----- fused functional ops
# ------------------------------------------------------------------
def _rows(a: np.ndarray) -> np.ndarray:
    """View an array as 2-D rows over its last axis."""
    return a.reshape(-1, a.shape[-1])


def _float_dtype(dtype: Any) -> np.dtype:
    """Return dtype as np.float32 or np.float64 (a parameter type), else raise."""
    if not (
        isinstance(dtype, (type, str, np.dtype))
        and dtype in (np.float32, np.float64, "float32", "float64")
    ):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
    return np.dtype(dtype)


def _as_input(x: Any, dtype: np.dtype) -> Tensor:
    """Pass a Tensor through; turn an array into a constant Tensor of the dtype."""
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=dtype))


def _check_last_dim(x: Tensor, dim: int, name: str) -> None:
    """Raise unless x has at least 2 dimensions and its last one is dim."""
    if x.ndim < 2 or x.shape[-1] != dim:
        raise ValueError(
            f"{name} must have shape (..., {dim}) with at least 2 dimensions, got "
            f"{x.shape}"
        )


def _checked_tensor(x: Any, name: str) -> Tensor:
    """Pass a Tensor through; check an array (real, finite, non-empty) and wrap it."""
    return x if isinstance(x, Tensor) else Tensor(check_array(x, name))


def _op(out: np.ndarray, parents: Sequence[Tensor | None], backward: Any) -> Tensor:
    """Tensor.from_op for optional inputs: None parents dropped with gradients."""
    keep = [i for i, p in enumerate(parents) if p is not None]

    def picked(g: np.ndarray) -> list[np.ndarray | None]:
        grads = backward(g)
        return [grads[i] for i in keep]

    return Tensor.from_op(out, [parents[i] for i in keep], picked)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight + bias as one node; leading axes of x fold into one matrix product."""
    x, weight = _checked_tensor(x, "x"), _checked_tensor(weight, "weight")
    bias = None if bias is None else _checked_tensor(bias, "bias")
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[0]:
        raise ValueError(
            f"x (..., d) and weight (d, e) must agree in d, got shapes {x.shape} and "
            f"{weight.shape}"
        )
    out = _rows(x.data) @ weight.data
    if bias is not None:
        out += bias.data

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        g2 = _rows(g)
        gx = (g2 @ weight.data.T).reshape(x.shape) if x.requires_grad else None
        gw = _rows(x.data).T @ g2 if weight.requires_grad else None
        return gx, gw, (g2.sum(axis=0) if bias is not None else None)

    return _op(
        out.reshape(x.shape[:-1] + (weight.shape[1],)), (x, weight, bias), backward
    )


def _normalize(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    axes: tuple[int, ...],
    eps: float,
) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """(x - mean) / sqrt(var + eps) * weight + bias as one node; also mean, var."""
    mean = x.data.mean(axis=axes, keepdims=True)
    xhat = x.data - mean
    with np.errstate(over="ignore"):
        var = (xhat * xhat).mean(axis=axes, keepdims=True)
    if np.all(np.isfinite(var)):
        rstd = 1 / np.sqrt(var + x.dtype.type(eps))
    # squares overflow: normalise xhat / scale (scale a power of two, so exact) instead
    else:
        scale = _safe_scale(xhat, axes)
        small = xhat / scale
        with np.errstate(over="ignore"):
            rstd = 1 / (
                np.sqrt(
                    (small * small).mean(axis=axes, keepdims=True)
                    + x.dtype.type(eps) / scale**2
                )
                * scale
            )
        # beyond the dtype: saturate running statistics
        var = np.minimum(var, np.finfo(x.dtype).max / 4)
    xhat *= rstd
    out = xhat if weight is None else xhat * weight.data
    if bias is not None:
        out = np.add(out, bias.data, out=None if out is xhat else out)

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        gw = _rows(g * xhat).sum(axis=0) if weight is not None else None
        gb = _rows(g).sum(axis=0) if bias is not None else None
        gxhat = g if weight is None else g * weight.data
        gx = gxhat - gxhat.mean(axis=axes, keepdims=True)
        gx -= xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)
        gx *= rstd
        return gx, gw, gb

    return _op(out, (x, weight, bias), backward), mean, var


def layer_norm(
    x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float = 1e-5
) -> Tensor:
    """Normalise each vector over the last axis, then scale and shift (one node)."""
    x = _checked_tensor(x, "x")
    weight = None if weight is None else _checked_tensor(weight, "weight")
    bias = None if bias is None else _checked_tensor(bias, "bias")
    check_positive(eps, "eps")
    return _normalize(x, weight, bias, (-1,), eps)[0]


def attention(
    qkv: Tensor, n_heads: int, key_padding_mask: np.ndarray | None = None
) -> tuple[Tensor, np.ndarray]:
    """Multi-head softmax(q k^T / sqrt(d)) v from packed (N, L, 3*D); out, weights."""
    check_int(n_heads, "n_heads", minimum=1)
    if not isinstance(qkv, Tensor):
        raise TypeError(f"qkv must be a Tensor (N, L, 3 * D), got {type(qkv).__name__}")
    if qkv.ndim != 3 or qkv.shape[-1] % (3 * n_heads):
        raise ValueError(
            f"qkv must have shape (N, L, 3 * n_heads * head_dim), got {qkv.shape} for "
            f"n_heads={n_heads}"
        )
    n, length, d3 = qkv.shape
    key_padding_mask = _check_mask(key_padding_mask, (n, length))
    dh = d3 // (3 * n_heads)
    scale = qkv.dtype.type(dh**-0.5)
    q, k, v = qkv.data.reshape(n, length, 3, n_heads, dh).transpose(2, 0, 3, 1, 4)
    # (N, H, L, L) scores, turned into weights in place
    p = (q * scale) @ k.swapaxes(-1, -2)
    if key_padding_mask is not None:
        p[np.broadcast_to(key_padding_mask[:, None, None, :], p.shape)] = np.finfo(
            p.dtype
        ).min
    p -= p.max(axis=-1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=-1, keepdims=True)
    out = (p @ v).transpose(0, 2, 1, 3).reshape(n, length, d3 // 3)
    # handed to callers as the attention map; backward needs it intact
    p.setflags(write=False)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        go = g.reshape(n, length, n_heads, dh).transpose(0, 2, 1, 3)
        grad = np.empty((n, length, 3, n_heads, dh), dtype=g.dtype)
        gq, gk, gv = grad.transpose(2, 0, 3, 1, 4)
        gv[...] = p.swapaxes(-1, -2) @ go
        gs = go @ v.swapaxes(-1, -2)
        gs -= (gs * p).sum(axis=-1, keepdims=True)
        gs *= p
        gs *= scale
        gq[...] = gs @ k
        gk[...] = gs.swapaxes(-1, -2) @ q
        return (grad.reshape(qkv.shape),)

    return Tensor.from_op(out, (qkv,), backward), p


def prepend_token(token: Tensor, x: Tensor) -> Tensor:
    """Put the (1, 1, D) token before each sequence of x -> (N, 1 + L, D)."""
    token, x = _checked_tensor(token, "token"), _checked_tensor(x, "x")
    if x.ndim != 3 or token.shape != (1, 1, x.shape[-1]):
        raise ValueError(
            f"token must have shape (1, 1, D) and x (N, L, D), got {token.shape} and "
            f"{x.shape}"
        )
    n, _, d = x.shape
    out = np.concatenate([np.broadcast_to(token.data, (n, 1, d)), x.data], axis=1)
    return Tensor.from_op(
        out, (token, x), lambda g: (g[:, :1].sum(axis=0, keepdims=True), g[:, 1:])
    )


def _add_constant(x: Tensor, c: np.ndarray) -> Tensor:
    """x + c for a constant array c broadcastable to x (no gradient for c)."""
    return Tensor.from_op(x.data + c, (x,), lambda g: (g,))


# ----- modules
# -------------------------------------------------------------------------------
class Module:
    """Base class: finds parameters (grad Tensors), buffers and sub-modules."""

    training: bool = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the module's output; subclasses override this."""
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def _children(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of Tensor, ndarray or Module attributes, lists flattened."""
        for name, value in vars(self).items():
            if isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Module, Tensor)):
                        yield f"{name}.{i}", item
            elif isinstance(value, (Module, Tensor, np.ndarray)):
                yield name, value

    def _named_state(
        self, prefix: str = "", seen: set[int] | None = None
    ) -> Iterator[tuple[str, Any]]:
        """Every Tensor and ndarray reachable from this module, once, in order."""
        seen = set() if seen is None else seen
        for name, value in self._children():
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, Module):
                yield from value._named_state(f"{prefix}{name}.", seen)
            else:
                yield prefix + name, value

    def modules(self) -> list[Module]:
        """This module and every sub-module, depth first."""
        found = [self]
        for _, value in self._children():
            if isinstance(value, Module):
                found.extend(
                    m for m in value.modules() if all(m is not f for f in found)
                )
        return found

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """(dotted name, Tensor) for every trainable tensor, in a fixed order."""
        return [
            (n, v)
            for n, v in self._named_state()
            if isinstance(v, Tensor) and v.requires_grad
        ]

    def parameters(self) -> list[Tensor]:
        """Every trainable tensor, in the order of named_parameters()."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(p.data.size for p in self.parameters())

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and all sub-modules; returns self."""
        mode = check_bool(mode, "mode")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Set evaluation mode (BatchNorm uses running statistics); returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget the gradients of every parameter."""
        for p in self.parameters():
            p.grad = None

    def named_arrays(self) -> list[tuple[str, np.ndarray]]:
        """(dotted name, live array) for every tensor and buffer: the whole state."""
        return [
            (n, v.data if isinstance(v, Tensor) else v) for n, v in self._named_state()
        ]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every tensor (parameters and frozen) and buffer (e.g. stats)."""
        return {n: a.copy() for n, a in self.named_arrays()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values from a state_dict into this module's arrays, in place."""
        own = dict(self.named_arrays())
        if set(own) != set(state):
            missing, extra = (
                sorted(set(own) - set(state)),
                sorted(set(state) - set(own)),
            )
            raise ValueError(
                f"state keys do not match the module: missing {missing}, unexpected "
                f"{extra}"
            )
        for name, target in own.items():
            if np.shape(state[name]) != target.shape:
                raise ValueError(
                    f"state[{name!r}] must have shape {target.shape}, got "
                    f"{np.shape(state[name])}"
                )
            target[...] = state[name]

    def copy(self) -> Module:
        """An independent deep copy (same values, no shared arrays, no gradients)."""
        twin = _copy.deepcopy(self)
        twin.zero_grad()
        return twin


def _uniform(
    rng: np.random.Generator, bound: float, shape: tuple[int, ...], dtype: Any
) -> Tensor:
    """A trainable tensor drawn from U(-bound, bound)."""
    return Tensor(
        rng.uniform(-bound, bound, size=shape).astype(dtype), requires_grad=True
    )


class Linear(Module):
    """y = x W + b, W (in, out); PyTorch's init: W, b ~ U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        rng: np.random.Generator,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self.in_dim = check_int(in_dim, "in_dim", minimum=1)
        self.out_dim = check_int(out_dim, "out_dim", minimum=1)
        dtype = _float_dtype(dtype)
        bound = 1 / np.sqrt(in_dim)
        self.weight = _uniform(check_rng(rng), bound, (in_dim, out_dim), dtype)
        self.bias = (
            _uniform(rng, bound, (out_dim,), dtype)
            if check_bool(bias, "bias")
            else None
        )

    def forward(self, x: Any) -> Tensor:
        """Apply the affine map to the last axis of x (..., in_dim) -> (..., out)."""
        x = _as_input(x, self.weight.dtype)
        _check_last_dim(x, self.in_dim, "Linear input")
        return linear(x, self.weight, self.bias)


class Embedding(Module):
    """A lookup table of `num` trainable vectors, initialised N(0, 1) as in PyTorch."""

    def __init__(
        self, num: int, dim: int, rng: np.random.Generator, dtype: Any = np.float32
    ) -> None:
        self.num = check_int(num, "num", minimum=1)
        check_int(dim, "dim", minimum=1)
        self.weight = Tensor(
            check_rng(rng).normal(size=(num, dim)).astype(_float_dtype(dtype)),
            requires_grad=True,
        )

    def forward(self, ids: Any) -> Tensor:
        """Rows of the table for integer ids (any shape) -> ids.shape + (dim,)."""
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu":
            raise ValueError(f"ids must be an integer array, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num):
            raise ValueError(
                f"ids must lie in [0, {self.num}), got values in [{ids.min()}, "
                f"{ids.max()}]"
            )
        weight = self.weight
        flat = ids.ravel()

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            order = np.argsort(flat, kind="stable")
            ordered = flat[order]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            full = np.zeros_like(weight.data)
            if flat.size:
                full[ordered[starts]] = np.add.reduceat(_rows(g)[order], starts, axis=0)
            return (full,)

        return Tensor.from_op(weight.data[ids], (weight,), backward)


class LayerNorm(Module):
    """Normalise over the last axis, then a learned scale (ones) and shift (zeros)."""

    def __init__(self, dim: int, eps: float = 1e-5, dtype: Any = np.float32) -> None:
        self.dim = check_int(dim, "dim", minimum=1)
        self.eps = check_positive(eps, "eps")
        dtype = _float_dtype(dtype)
        self.weight = Tensor(np.ones(dim, dtype=dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(dim, dtype=dtype), requires_grad=True)

    def forward(self, x: Any) -> Tensor:
        """Layer-normalise x (..., dim)."""
        x = _as_input(x, self.weight.dtype)
        _check_last_dim(x, self.dim, "LayerNorm input")
        return layer_norm(x, self.weight, self.bias, self.eps)


class BatchNorm1d(Module):
    """Normalise each feature over all axes but the last: batch or running stats."""

    # PyTorch's conventions: training normalises with the biased batch variance, while
    # the running variance (used in eval) is updated from the unbiased one: r <- (1 -
    # momentum) r + momentum v.

    def __init__(
        self,
        dim: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self.dim = check_int(dim, "dim", minimum=1)
        self.eps = check_positive(eps, "eps")
        self.momentum = check_positive(momentum, "momentum")
        if self.momentum > 1:
            raise ValueError(f"momentum must lie in (0, 1], got {momentum!r}")
        check_bool(affine, "affine")
        dtype = _float_dtype(dtype)
        self.weight = (
            Tensor(np.ones(dim, dtype=dtype), requires_grad=True) if affine else None
        )
        self.bias = (
            Tensor(np.zeros(dim, dtype=dtype), requires_grad=True) if affine else None
        )
        self.running_mean = np.zeros(dim, dtype=dtype)
        self.running_var = np.ones(dim, dtype=dtype)

    def forward(self, x: Any) -> Tensor:
        """Batch-normalise x of shape (N, dim) or (N, L, dim)."""
        x = _as_input(x, self.running_mean.dtype)
        if x.ndim not in (2, 3) or x.shape[-1] != self.dim:
            raise ValueError(
                f"BatchNorm1d input must have shape (N, {self.dim}) or (N, L, "
                f"{self.dim}), got {x.shape}"
            )
        if not self.training:
            return self._eval_forward(x)
        count = x.data.size // self.dim
        if count < 2:
            raise ValueError(
                "BatchNorm1d in training mode needs more than 1 value per feature, "
                f"got {x.shape}"
            )
        out, mean, var = _normalize(
            x, self.weight, self.bias, tuple(range(x.ndim - 1)), self.eps
        )
        m = self.running_mean.dtype.type(self.momentum)
        self.running_mean += m * (mean.ravel() - self.running_mean)
        self.running_var += m * (var.ravel() * (count / (count - 1)) - self.running_var)
        return out

    def _eval_forward(self, x: Tensor) -> Tensor:
        """Normalise with the running statistics (fixed affine, plus the learned)."""
        scale = 1 / np.sqrt(self.running_var + self.running_var.dtype.type(self.eps))
        out = _add_constant(x, -self.running_mean) * scale
        return out if self.weight is None else out * self.weight + self.bias


class MLP(Module):
    """Linear -> [BatchNorm1d] -> activation between layers; the last layer plain."""

    def __init__(
        self,
        sizes: Sequence[int],
        rng: np.random.Generator,
        activation: str = "relu",
        batchnorm: bool = False,
        last_activation: bool = False,
        dtype: Any = np.float32,
    ) -> None:
        check_bool(batchnorm, "batchnorm")
        if isinstance(sizes, str) or not isinstance(sizes, (Sequence, np.ndarray)):
            raise TypeError(
                f"sizes must be a list of layer widths, got {type(sizes).__name__}"
            )
        sizes = [check_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes)]
        check_bool(last_activation, "last_activation")
        if len(sizes) < 2:
            raise ValueError(
                f"sizes must list at least 2 layer widths, got {list(sizes)}"
            )
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {ACTIVATIONS}, got {activation!r}"
            )
        self.activation = activation
        self.layers = [
            Linear(a, b, rng, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])
        ]
        n_act = len(self.layers) - (0 if last_activation else 1)
        self.n_activated = n_act
        self.norms = (
            [BatchNorm1d(b, dtype=dtype) for b in sizes[1 : n_act + 1]]
            if batchnorm
            else []
        )

    def forward(self, x: Any) -> Tensor:
        """Run x (..., sizes[0]) through the layers -> (..., sizes[-1])."""
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < self.n_activated:
                x = self.norms[i](x) if self.norms else x
                x = x.gelu() if self.activation == "gelu" else x.relu()
        return x


class MultiHeadSelfAttention(Module):
    """Self-attention with n_heads heads: packed q|k|v, fused attention, output proj."""

    def __init__(
        self, dim: int, n_heads: int, rng: np.random.Generator, dtype: Any = np.float32
    ) -> None:
        check_int(dim, "dim", minimum=1)
        self.n_heads = check_int(n_heads, "n_heads", minimum=1)
        if dim % n_heads:
            raise ValueError(
                f"dim must be divisible by n_heads, got dim={dim}, n_heads={n_heads}"
            )
        self.dim = dim
        self.qkv = Linear(dim, 3 * dim, rng, dtype=dtype)
        self.proj = Linear(dim, dim, rng, dtype=dtype)

    def forward(
        self,
        x: Any,
        return_attention: bool = False,
        key_padding_mask: np.ndarray | None = None,
    ) -> Tensor | tuple[Tensor, np.ndarray]:
        """Attend over x (N, L, dim); True in key_padding_mask (N, L) hides a key."""
        x = _as_input(x, self.qkv.weight.dtype)
        if x.ndim != 3 or x.shape[-1] != self.dim:
            raise ValueError(
                f"attention input must have shape (N, L, {self.dim}), got {x.shape}"
            )
        out, weights = attention(self.qkv(x), self.n_heads, key_padding_mask)
        out = self.proj(out)
        return (out, weights) if return_attention else out


def _check_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """Return mask as a bool array of the given (N, L) shape, or None."""
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.dtype != np.bool_ or arr.shape != shape:
        raise ValueError(
            f"key_padding_mask must be a bool array of shape {shape}, got {arr.dtype} "
            f"{arr.shape}"
        )
    return arr


class TransformerBlock(Module):
    """Pre-norm block: x + attn(LN(x)), then x + MLP(LN(x)), a GELU MLP."""

    def __init__(
        self,
        dim: int,
        n_heads: int,
        rng: np.random.Generator,
        mlp_ratio: float = 4.0,
        dtype: Any = np.float32,
    ) -> None:
        check_int(dim, "dim", minimum=1)
        hidden = int(dim * check_positive(mlp_ratio, "mlp_ratio"))
        self.norm1 = LayerNorm(dim, dtype=dtype)
        self.attn = MultiHeadSelfAttention(dim, n_heads, rng, dtype=dtype)
        self.norm2 = LayerNorm(dim, dtype=dtype)
        self.mlp = MLP([dim, max(hidden, 1), dim], rng, activation="gelu", dtype=dtype)

    def forward(
        self,
        x: Any,
        key_padding_mask: np.ndarray | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, np.ndarray]:
        """Transform x (N, L, dim); optionally return attention (N, heads, L, L)."""
        x = _as_input(x, self.norm1.weight.dtype)
        h, weights = self.attn(
            self.norm1(x), return_attention=True, key_padding_mask=key_padding_mask
        )
        x = x + h
        x = x + self.mlp(self.norm2(x))
        return (x, weights) if return_attention else x


class TransformerEncoder(Module):
    """A stack of `depth` TransformerBlocks followed by a final LayerNorm."""

    def __init__(
        self,
        dim: int,
        depth: int,
        n_heads: int,
        rng: np.random.Generator,
        mlp_ratio: float = 4.0,
        dtype: Any = np.float32,
    ) -> None:
        check_int(depth, "depth", minimum=1)
        self.blocks = [
            TransformerBlock(dim, n_heads, rng, mlp_ratio, dtype=dtype)
            for _ in range(depth)
        ]
        self.norm = LayerNorm(dim, dtype=dtype)

    def forward(
        self,
        x: Any,
        key_padding_mask: np.ndarray | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, list[np.ndarray]]:
        """Run x (N, L, dim) through the blocks; optionally return their attention."""
        maps = []
        for block in self.blocks:
            x, weights = block(
                x, key_padding_mask=key_padding_mask, return_attention=True
            )
            maps.append(weights)
        x = self.norm(x)
        return (x, maps) if return_attention else x


class ViTEncoder(Module):
    """ViT on patch vectors: embed, add positions, prepend CLS, blocks, LayerNorm."""

    # pos: "sincos2d" (MAE's fixed 2-D sin-cos; n_patches must be a square), "sincos1d",
    # "learned" (trainable, N(0, 0.02)) or "none". The CLS token, N(0, 0.02) as in MAE,
    # gets no position.

    def __init__(
        self,
        patch_dim: int,
        width: int,
        depth: int,
        n_heads: int,
        n_patches: int,
        rng: np.random.Generator,
        cls_token: bool = True,
        mlp_ratio: float = 4.0,
        pos: str = "sincos2d",
        dtype: Any = np.float32,
    ) -> None:
        check_bool(cls_token, "cls_token")
        check_int(n_patches, "n_patches", minimum=1)
        check_int(patch_dim, "patch_dim", minimum=1)
        self.n_patches = n_patches
        self.width = check_int(width, "width", minimum=1)
        self.embed = Linear(patch_dim, width, rng, dtype=dtype)
        self.pos_embed = _position_table(pos, n_patches, width, rng, dtype)
        self.cls = (
            Tensor(
                rng.normal(0, 0.02, size=(1, 1, width)).astype(dtype),
                requires_grad=True,
            )
            if cls_token
            else None
        )
        self.encoder = TransformerEncoder(
            width, depth, n_heads, rng, mlp_ratio, dtype=dtype
        )

    def forward(
        self,
        patches: Any,
        ids_keep: np.ndarray | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, list[np.ndarray]]:
        """Encode patches (N, K, patch_dim) at ids_keep (N, K) -> (N, [1+]K, width)."""
        x = self.embed(patches)
        if x.ndim != 3:
            raise ValueError(
                f"patches must have shape (N, K, patch_dim), got {x.shape}"
            )
        x = self._add_positions(x, ids_keep)
        if self.cls is not None:
            x = prepend_token(self.cls, x)
        return self.encoder(x, return_attention=return_attention)

    def _add_positions(self, x: Tensor, ids_keep: np.ndarray | None) -> Tensor:
        """Add each token's position embedding, gathered at ids_keep when given."""
        n, k, _ = x.shape
        if ids_keep is None:
            if k != self.n_patches:
                raise ValueError(
                    f"without ids_keep, patches must hold all {self.n_patches} "
                    f"patches, got {k}"
                )
            index: Any = slice(None)
        else:
            index = np.asarray(ids_keep)
            if index.dtype.kind not in "iu" or index.shape != (n, k):
                raise ValueError(
                    f"ids_keep must be an integer array of shape {(n, k)}, got "
                    f"{index.dtype} {index.shape}"
                )
            if index.size and (index.min() < 0 or index.max() >= self.n_patches):
                raise ValueError(
                    f"ids_keep must lie in [0, {self.n_patches}), got [{index.min()}, "
                    f"{index.max()}]"
                )
        if self.pos_embed is None:
            return x
        if isinstance(self.pos_embed, Tensor):
            return x + self.pos_embed[index]
        return _add_constant(x, self.pos_embed[index])


def _position_table(
    kind: str, n: int, width: int, rng: np.random.Generator, dtype: Any
) -> Any:
    """The position embedding (n, width) a ViTEncoder adds: array, Tensor or None."""
    if not isinstance(kind, str) or kind not in POSITIONS:
        raise ValueError(f"pos must be one of {POSITIONS}, got {kind!r}")
    if kind == "sincos2d":
        side = int(round(np.sqrt(n)))
        if side * side != n:
            raise ValueError(
                f"pos='sincos2d' needs a square number of patches, got n_patches={n}"
            )
        return sincos_2d(side, side, width).astype(dtype)
    if kind == "sincos1d":
        return sincos_1d(n, width).astype(dtype)
    if kind == "learned":
        return Tensor(
            rng.normal(0, 0.02, size=(n, width)).astype(dtype), requires_grad=True
        )
    return None  # "none"


# ----- positions and patches
# -----------------------------------------------------------------
def sincos_1d(n_positions: int, dim: int) -> np.ndarray:
    """Fixed sin-cos positions (n, dim), MAE layout: [sin(p w_i) | cos(p w_i)]."""
    check_int(n_positions, "n_positions", minimum=1)
    check_int(dim, "dim", minimum=2)
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 2) / (dim // 2))
    angles = np.outer(np.arange(n_positions), omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


def sincos_2d(grid_h: int, grid_w: int, dim: int) -> np.ndarray:
    """Fixed 2-D sin-cos positions (grid_h*grid_w, dim): row half, then column half."""
    check_int(grid_h, "grid_h", minimum=1)
    check_int(grid_w, "grid_w", minimum=1)
    if not isinstance(dim, (int, np.integer)) or dim < 4 or dim % 4:
        raise ValueError(f"dim must be a positive multiple of 4, got {dim!r}")
    rows = np.repeat(sincos_1d(grid_h, dim // 2), grid_w, axis=0)
    cols = np.tile(sincos_1d(grid_w, dim // 2), (grid_h, 1))
    return np.concatenate([rows, cols], axis=1)


def patchify(images: Any, patch: int) -> np.ndarray:
    """Cut images (N, H, W) into flat patch x patch squares, row-major -> (N, L, P)."""
    x = check_array(images, "images", ndim=3, finite=False)
    check_int(patch, "patch", minimum=1)
    n, h, w = x.shape
    if h % patch or w % patch:
        raise ValueError(
            f"patch must divide the image height and width, got patch={patch} for "
            f"{h}x{w} images"
        )
    blocks = x.reshape(n, h // patch, patch, w // patch, patch).transpose(0, 1, 3, 2, 4)
    return blocks.reshape(n, (h // patch) * (w // patch), patch * patch)


def unpatchify(patches: Any, patch: int, height: int, width: int) -> np.ndarray:
    """Inverse of patchify: (N, L, patch*patch) -> (N, height, width)."""
    x = check_array(patches, "patches", ndim=3, finite=False)
    check_int(patch, "patch", minimum=1)
    gh, gw = (
        check_int(height, "height", minimum=1) // patch,
        check_int(width, "width", minimum=1) // patch,
    )
    if height % patch or width % patch or x.shape[1:] != (gh * gw, patch * patch):
        raise ValueError(
            f"patches must have shape (N, {gh * gw}, {patch * patch}) for "
            f"{height}x{width} images "
            f"with patch={patch} (dividing both), got {x.shape}"
        )
    return (
        x.reshape(-1, gh, gw, patch, patch)
        .transpose(0, 1, 3, 2, 4)
        .reshape(-1, height, width)
    )
