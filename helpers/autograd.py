"""A small reverse-mode automatic differentiation engine over numpy arrays.

Every operation records its inputs and a function that maps the gradient of its output
to the gradients of its inputs; `Tensor.backward()` walks that graph in reverse
topological order.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from helpers._checks import check_bool

_GRAD_ENABLED = True
# beyond |x| = 100 GELU's tanh is exactly +-1 in float32 and float64
GELU_SATURATION = 100.0

Backward = Callable[[np.ndarray], Sequence["np.ndarray | None"]]


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Run a block without recording operations for backpropagation."""
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = previous


def _as_array(data: Any, name: str = "data") -> np.ndarray:
    """Convert data to a float ndarray (float32/64 kept); raise unless real numbers."""
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be real numbers (bool, int or float), got "
            f"{type(data).__name__} "
            f"of dtype {arr.dtype}"
        )
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def _safe_scale(x: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """Per-slice power of two >= 1 dividing x: its sums of squares cannot overflow."""
    top = np.abs(x).max(axis=axis, keepdims=True)
    # 2**(2*limit) times 2**16 terms stays below the max
    limit = np.finfo(x.dtype).maxexp // 2 - 16
    return np.ldexp(np.ones_like(top), np.maximum(np.frexp(top)[1] - limit, 0))


def _l2_norm(x: np.ndarray, axis: int) -> np.ndarray:
    """sqrt(sum(x**2)) along axis (kept), without overflow when x**2 would."""
    with np.errstate(over="ignore"):
        sq = (x * x).sum(axis=axis, keepdims=True)
    if np.all(np.isfinite(sq)):
        return np.sqrt(sq)
    scale = _safe_scale(x, axis)
    y = x / scale
    return np.sqrt((y * y).sum(axis=axis, keepdims=True)) * scale


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient back down to the operand's shape."""
    if not isinstance(grad, (np.ndarray, np.generic)) or not isinstance(shape, tuple):
        raise TypeError(
            f"grad must be an ndarray and shape a tuple, got {type(grad).__name__} and "
            f"{type(shape).__name__}"
        )
    if grad.dtype.kind not in "biuf":
        raise ValueError(f"grad must hold real numbers, got dtype {grad.dtype}")
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


class Tensor:
    """An ndarray that remembers how it was computed, so gradients can flow back."""

    __array_priority__ = 100  # make `ndarray * Tensor` call Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        self.data = _as_array(data)
        self.grad: np.ndarray | None = None
        self.requires_grad = check_bool(requires_grad, "requires_grad")
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Backward | None = None

    # ----- bookkeeping
    # -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the underlying array."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """dtype of the underlying array."""
        return self.data.dtype

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor(shape={self.shape}, dtype={self.dtype}{flag})"

    def __float__(self) -> float:
        return self.item()

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(
                f"only a one-element tensor converts to float, got shape {self.shape}"
            )
        return float(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    def detach(self) -> Tensor:
        """A tensor sharing this data but cut off from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    # ----- graph construction and backward
    # ---------------------------------------------------
    @staticmethod
    def from_op(
        data: np.ndarray, parents: Sequence[Tensor], backward: Backward
    ) -> Tensor:
        """Wrap an op's output; `backward(g)` gives a gradient (or None) per parent."""
        out = Tensor(data)
        if _GRAD_ENABLED and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents = tuple(parents)
            out._backward = backward
        return out

    def backward(self, grad: np.ndarray | None = None) -> None:
        """Backpropagate from this tensor, accumulating `.grad` on every leaf."""
        if not self.requires_grad:
            raise ValueError(
                "backward() needs a tensor computed from one with requires_grad=True "
                "(outside no_grad()); nothing here would receive a gradient"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    "backward() without a gradient needs a scalar, got shape "
                    f"{self.shape}"
                )
            grad = np.ones_like(self.data)
        elif np.shape(grad) != self.shape:
            raise ValueError(
                f"grad must have this tensor's shape {self.shape}, got {np.shape(grad)}"
            )
        grads: dict[int, np.ndarray] = {id(self): np.asarray(grad, dtype=self.dtype)}
        for node in reversed(self._topological_order()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                pg = pg.astype(parent.dtype, copy=False)
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg

    def _topological_order(self) -> list[Tensor]:
        """Nodes reachable from self, each after all of its parents (iterative DFS)."""
        order: list[Tensor] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend(
                (p, False)
                for p in node._parents
                if p.requires_grad and id(p) not in seen
            )
        return order

    # ----- arithmetic
    # ------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        o = as_tensor(other, like=self)
        try:
            out = self.data + o.data
        except ValueError:
            raise _shape_error("+", self.shape, o.shape) from None
        return Tensor.from_op(
            out,
            (self, o),
            lambda g: (unbroadcast(g, self.shape), unbroadcast(g, o.shape)),
        )

    def __mul__(self, other: Any) -> Tensor:
        o = as_tensor(other, like=self)
        try:
            out = self.data * o.data
        except ValueError:
            raise _shape_error("*", self.shape, o.shape) from None
        return Tensor.from_op(
            out,
            (self, o),
            lambda g: (
                unbroadcast(g * o.data, self.shape),
                unbroadcast(g * self.data, o.shape),
            ),
        )

    def __neg__(self) -> Tensor:
        return Tensor.from_op(-self.data, (self,), lambda g: (-g,))

    def __sub__(self, other: Any) -> Tensor:
        return self + (-as_tensor(other, like=self))

    def __truediv__(self, other: Any) -> Tensor:
        o = as_tensor(other, like=self)
        try:
            out = self.data / o.data
        except ValueError:
            raise _shape_error("/", self.shape, o.shape) from None
        return Tensor.from_op(
            out,
            (self, o),
            lambda g: (
                unbroadcast(g / o.data, self.shape),
                unbroadcast(-g * self.data / o.data**2, o.shape),
            ),
        )

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor):
            raise ValueError("only a constant exponent is supported, got a Tensor")
        p = float(exponent)
        if p == 0:  # x ** 0 is constant; p * x ** -1 would be 0 * inf = NaN at x = 0
            return Tensor.from_op(
                np.ones_like(self.data), (self,), lambda g: (np.zeros_like(g),)
            )
        return Tensor.from_op(
            self.data**p, (self,), lambda g: (g * p * self.data ** (p - 1),)
        )

    def __radd__(self, other: Any) -> Tensor:
        return self + other

    def __rmul__(self, other: Any) -> Tensor:
        return self * other

    def __rsub__(self, other: Any) -> Tensor:
        return as_tensor(other, like=self) - self

    def __rtruediv__(self, other: Any) -> Tensor:
        return as_tensor(other, like=self) / self

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, as_tensor(other, like=self))

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(as_tensor(other, like=self), self)

    # ----- reductions
    # -----------------------------------------------------------------------
    def sum(
        self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False
    ) -> Tensor:
        """Sum over axis (all axes when None)."""
        out = self.data.sum(axis=axis, keepdims=keepdims)
        return Tensor.from_op(
            out, (self,), lambda g: (_expand(g, self.shape, axis, keepdims),)
        )

    def mean(
        self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False
    ) -> Tensor:
        """Mean over axis (all axes when None)."""
        axes = (
            range(self.ndim)
            if axis is None
            else ((axis,) if isinstance(axis, int) else axis)
        )
        count = int(np.prod([self.shape[a] for a in axes]))
        if count == 0:
            raise ValueError(
                f"mean over axis={axis} of a tensor of shape {self.shape} has no "
                "elements"
            )
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    def max(
        self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False
    ) -> Tensor:
        """Maximum over axis; ties share the gradient equally."""
        out = self.data.max(axis=axis, keepdims=True)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            hit = (self.data == out).astype(self.dtype)
            hit /= hit.sum(axis=axis, keepdims=True)
            return (hit * _expand(g, self.shape, axis, keepdims),)

        return Tensor.from_op(
            out if keepdims else _squeeze(out, axis), (self,), backward
        )

    # ----- elementwise functions
    # ------------------------------------------------------------
    def exp(self) -> Tensor:
        """Elementwise e**x."""
        out = np.exp(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * out,))

    def log(self) -> Tensor:
        """Elementwise natural logarithm."""
        return Tensor.from_op(np.log(self.data), (self,), lambda g: (g / self.data,))

    def sqrt(self) -> Tensor:
        """Elementwise square root."""
        out = np.sqrt(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * 0.5 / out,))

    def tanh(self) -> Tensor:
        """Elementwise hyperbolic tangent."""
        out = np.tanh(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * (1 - out * out),))

    def relu(self) -> Tensor:
        """Elementwise max(x, 0)."""
        positive = self.data > 0
        return Tensor.from_op(self.data * positive, (self,), lambda g: (g * positive,))

    def gelu(self) -> Tensor:
        """GELU, tanh approximation (as in GPT-2 and BERT's original code)."""
        a = self.data
        c = a.dtype.type(np.sqrt(2 / np.pi))
        k = a.dtype.type(0.044715 * np.sqrt(2 / np.pi))
        # tanh is exactly +-1 there: a*a cannot overflow
        clipped = np.clip(a, -GELU_SATURATION, GELU_SATURATION)
        a2 = clipped * clipped
        t = np.tanh(clipped * (c + k * a2))
        out = a * (t + 1)
        out *= 0.5

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            # d/da = 0.5 (1 + t) + 0.5 a (1 - t^2)(c + 3 k a^2), computed in place
            d = 1 - t * t
            d *= c + 3 * k * a2
            d *= a
            d += t
            d += 1
            d *= g
            d *= 0.5
            return (d,)

        return Tensor.from_op(out, (self,), backward)

    # ----- shape
    # ----------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape."""
        new = (
            shape[0]
            if len(shape) == 1 and isinstance(shape[0], (tuple, list))
            else shape
        )
        try:
            out = self.data.reshape(new)
        except (ValueError, TypeError):
            raise _shape_error("reshape", self.shape, new) from None
        return Tensor.from_op(out, (self,), lambda g: (g.reshape(self.shape),))

    def transpose(self, *axes: int) -> Tensor:
        """Permute axes (reverse them when none are given)."""
        perm = (
            axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        )
        perm = tuple(perm) if perm else tuple(reversed(range(self.ndim)))
        inverse = tuple(np.argsort(perm))
        return Tensor.from_op(
            self.data.transpose(perm), (self,), lambda g: (g.transpose(inverse),)
        )

    @property
    def T(self) -> Tensor:
        """Transpose (all axes reversed)."""
        return self.transpose()

    def swapaxes(self, a: int, b: int) -> Tensor:
        """Exchange two axes."""
        return Tensor.from_op(
            self.data.swapaxes(a, b), (self,), lambda g: (g.swapaxes(a, b),)
        )

    def __getitem__(self, index: Any) -> Tensor:
        index = index.data if isinstance(index, Tensor) else index

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            full = np.zeros_like(self.data)
            if _is_basic_index(index):
                full[index] += g
            else:
                np.add.at(full, index, g)
            return (full,)

        return Tensor.from_op(self.data[index], (self,), backward)

    def gather(self, indices: np.ndarray, axis: int = -1) -> Tensor:
        """Pick entries along axis by integer indices (np.take_along_axis)."""
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise ValueError(f"indices must be integers, got dtype {idx.dtype}")

        out = np.take_along_axis(self.data, idx, axis=axis)
        # indices may broadcast over the other axes
        full_idx = np.broadcast_to(idx, out.shape)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            full = np.zeros_like(self.data)
            grid = list(np.indices(out.shape, sparse=True))
            grid[axis] = full_idx
            np.add.at(full, tuple(grid), g)
            return (full,)

        return Tensor.from_op(out, (self,), backward)

    # ----- fused, numerically stable functions
    # ------------------------------------------------
    def logsumexp(self, axis: int = -1, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))) along axis, computed without overflow."""
        m = self.data.max(axis=axis, keepdims=True)
        lse = m + np.log(np.exp(self.data - m).sum(axis=axis, keepdims=True))

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            g = g if keepdims else np.expand_dims(g, axis)
            return (g * np.exp(self.data - lse),)

        return Tensor.from_op(
            lse if keepdims else np.squeeze(lse, axis), (self,), backward
        )

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) normalised to sum to one along axis."""
        e = np.exp(self.data - self.data.max(axis=axis, keepdims=True))
        s = e / e.sum(axis=axis, keepdims=True)
        return Tensor.from_op(
            s, (self,), lambda g: (s * (g - (g * s).sum(axis=axis, keepdims=True)),)
        )

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x minus logsumexp(x) along axis."""
        shifted = self.data - self.data.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return Tensor.from_op(
            out, (self,), lambda g: (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
        )

    def normalize(self, axis: int = -1, eps: float = 1e-12) -> Tensor:
        """Divide by the L2 norm along axis (norms below eps are treated as eps)."""
        norm = np.maximum(_l2_norm(self.data, axis), eps)
        y = self.data / norm

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            radial = np.where(norm > eps, (g * y).sum(axis=axis, keepdims=True), 0)
            return ((g - y * radial) / norm,)

        return Tensor.from_op(y, (self,), backward)


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """Return x as a Tensor; plain numbers take the dtype of `like`."""
    if like is not None and not isinstance(like, Tensor):
        raise TypeError(f"like must be a Tensor or None, got {type(like).__name__}")
    if isinstance(x, Tensor):
        return x
    if (
        like is not None
        and np.ndim(x) == 0
        and not isinstance(x, (str, bytes))
        and x is not None
    ):
        try:
            return Tensor(np.asarray(x, dtype=like.dtype))
        except (TypeError, ValueError):
            raise ValueError(
                f"x must be a real number or array, got {type(x).__name__}"
            ) from None
    return Tensor(_as_array(x, "x"))


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with numpy's batching rules (both operands at least 2-D)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"a and b must be Tensors (use a @ b for arrays), got {type(a).__name__} "
            f"and {type(b).__name__}"
        )
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(
            f"matmul needs operands with >= 2 dimensions, got shapes {a.shape} and "
            f"{b.shape}"
        )

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        ga = (
            unbroadcast(g @ np.swapaxes(b.data, -1, -2), a.shape)
            if a.requires_grad
            else None
        )
        # a constant operand (data, a frozen weight) needs no gradient
        if not b.requires_grad:
            return ga, None
        # x (..., n, d) @ W (d, e): fold the batch into rows
        if b.ndim == 2 and a.ndim > 2:
            return ga, a.data.reshape(-1, a.shape[-1]).T @ g.reshape(-1, g.shape[-1])
        return ga, unbroadcast(np.swapaxes(a.data, -1, -2) @ g, b.shape)

    try:
        out = a.data @ b.data
    except ValueError:
        raise _shape_error("@ (matmul)", a.shape, b.shape) from None
    return Tensor.from_op(out, (a, b), backward)


def _shape_error(op: str, *shapes: Any) -> ValueError:
    """The error for operand shapes an operation cannot combine (op and shapes)."""
    listed = " and ".join(
        str(tuple(s) if isinstance(s, (tuple, list)) else s) for s in shapes
    )
    return ValueError(f"Tensor {op}: shapes {listed} do not fit together")


def _tensor_list(tensors: Sequence[Tensor]) -> list[Tensor]:
    """Return tensors (a non-empty sequence of Tensors or arrays) as Tensors."""
    if (
        isinstance(tensors, (Tensor, np.ndarray, str))
        or not isinstance(tensors, Sequence)
        or not tensors
    ):
        raise TypeError(
            f"tensors must be a non-empty list of Tensors, got {type(tensors).__name__}"
        )
    return [as_tensor(t) for t in tensors]


def _axis(axis: Any) -> int:
    """Return axis if it is an integer (negative counts from the end), else raise."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer, got {axis!r}")
    return int(axis)


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts, axis = _tensor_list(tensors), _axis(axis)
    try:
        out = np.concatenate([t.data for t in ts], axis=axis)
    except (ValueError, np.exceptions.AxisError):
        raise _shape_error(
            f"concatenate along axis {axis}", *(t.shape for t in ts)
        ) from None
    cuts = np.cumsum([t.shape[axis] for t in ts])[:-1]
    return Tensor.from_op(out, ts, lambda g: tuple(np.split(g, cuts, axis=axis)))


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    ts, axis = _tensor_list(tensors), _axis(axis)
    n = len(ts)
    try:
        out = np.stack([t.data for t in ts], axis=axis)
    except (ValueError, np.exceptions.AxisError):
        raise _shape_error(f"stack along axis {axis}", *(t.shape for t in ts)) from None
    return Tensor.from_op(
        out, ts, lambda g: tuple(np.squeeze(p, axis) for p in np.split(g, n, axis=axis))
    )


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Central finite-difference gradient of a scalar f at x (x is restored after)."""
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise ValueError(
            f"x must be float64 for accurate finite differences, got {x.dtype}"
        )
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def _expand(
    g: np.ndarray, shape: tuple[int, ...], axis: Any, keepdims: bool
) -> np.ndarray:
    """Broadcast a reduced gradient back to the input's shape."""
    if axis is not None and not keepdims:
        axes = (axis,) if isinstance(axis, int) else axis
        g = np.expand_dims(g, tuple(a % len(shape) for a in axes))
    return np.broadcast_to(g, shape)


def _squeeze(x: np.ndarray, axis: Any) -> np.ndarray:
    """Drop reduced axes kept by keepdims=True."""
    return x.reshape(()) if axis is None else np.squeeze(x, axis)


def _is_basic_index(index: Any) -> bool:
    """True when indexing cannot repeat an element (ints, slices, None, Ellipsis)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(p, (int, np.integer, slice, type(None), type(Ellipsis)))
        for p in parts
    )
