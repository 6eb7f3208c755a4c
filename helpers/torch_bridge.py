"""The book's SimCLR in PyTorch (an optional extra): the same modules, loss, optimiser
and schedule, with weights copied from the numpy model and back, so both can be compared
number by number.

Parameter names match the numpy model's (`encoder.layers.0.weight`, ...); the one
difference in layout is that a numpy Linear stores W as (in, out) and PyTorch as (out,
in), so weights and their gradients are transposed on the way across.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from importlib.util import find_spec
from typing import Any

import numpy as np

INSTALL_HINT = "pip install -e '.[torch]'"
if find_spec("torch") is None:
    raise ModuleNotFoundError(
        "helpers.torch_bridge needs PyTorch, an optional extra of this book: run "
        f"{INSTALL_HINT}"
    )

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# noqa: E402
from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_instance,
    check_int,
    check_nonnegative,
    check_positive,
    check_sizes,
)
from helpers.augment import simclr_views  # noqa: E402
from helpers.nn import MLP  # noqa: E402
from helpers.optim import cosine_schedule  # noqa: E402
from helpers.simclr import SimCLR, flatten_images  # noqa: E402
from helpers.train import endless_batches  # noqa: E402

__all__ = [
    "TorchMLP",
    "TorchSimCLR",
    "to_torch",
    "numpy_state",
    "load_numpy_state",
    "numpy_grads",
    "torch_nt_xent",
    "book_optimizer",
    "view_stream",
    "torch_simclr_step",
    "max_differences",
]


def _check_norm(norm: Any) -> type[torch.nn.BatchNorm1d]:
    """Return norm if it is torch.nn.BatchNorm1d or a subclass of it, else raise."""
    if not (isinstance(norm, type) and issubclass(norm, torch.nn.BatchNorm1d)):
        raise TypeError(
            f"norm must be torch.nn.BatchNorm1d or a subclass of it, got {norm!r}"
        )
    return norm


class TorchMLP(torch.nn.Module):
    """helpers.nn.MLP with ReLU in PyTorch: Linear -> [norm] -> ReLU, the last plain."""

    def __init__(
        self,
        sizes: Sequence[int],
        batchnorm: bool = True,
        last_activation: bool = False,
        norm: type[torch.nn.Module] = torch.nn.BatchNorm1d,
    ) -> None:
        super().__init__()
        sizes, norm = check_sizes(sizes, "sizes"), _check_norm(norm)
        check_bool(batchnorm, "batchnorm")
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.n_activated = len(self.layers) - (
            0 if check_bool(last_activation, "last_activation") else 1
        )
        self.norms = (
            torch.nn.ModuleList(norm(b) for b in sizes[1 : self.n_activated + 1])
            if batchnorm
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run x (N, sizes[0]) through the layers -> (N, sizes[-1])."""
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < self.n_activated:
                x = torch.relu(self.norms[i](x) if self.norms is not None else x)
        return x


class TorchSimCLR(torch.nn.Module):
    """helpers.simclr.SimCLR in PyTorch: projections z = head(encoder(x))."""

    def __init__(
        self,
        encoder_sizes: Sequence[int],
        head_sizes: Sequence[int],
        norm: type[torch.nn.Module] = torch.nn.BatchNorm1d,
    ) -> None:
        super().__init__()
        encoder_sizes, head_sizes = (
            check_sizes(encoder_sizes, "encoder_sizes"),
            check_sizes(head_sizes, "head_sizes"),
        )
        if encoder_sizes[-1] != head_sizes[0]:
            raise ValueError(
                f"head_sizes must start at the encoder's width {encoder_sizes[-1]}, "
                f"got {head_sizes[0]}"
            )
        self.encoder = TorchMLP(encoder_sizes, last_activation=True, norm=norm)
        self.head = TorchMLP(head_sizes, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Projections (N, head_sizes[-1]) of flattened images x (N, D)."""
        return self.head(self.encoder(x))


def _mlp_config(mlp: MLP) -> tuple[list[int], bool, bool]:
    """(sizes, batchnorm, last_activation) of a numpy MLP with ReLU, else raise."""
    if mlp.activation != "relu":
        raise ValueError(
            f"model must use ReLU activations to be mirrored, got {mlp.activation!r}"
        )
    sizes = [mlp.layers[0].in_dim] + [layer.out_dim for layer in mlp.layers]
    return sizes, bool(mlp.norms), mlp.n_activated == len(mlp.layers)


def to_torch(
    model: MLP | SimCLR, norm: type[torch.nn.Module] = torch.nn.BatchNorm1d
) -> torch.nn.Module:
    """A PyTorch twin of a numpy MLP or SimCLR (norm: its BatchNorm), with copies."""
    check_instance(model, (MLP, SimCLR), "model")
    _check_norm(norm)
    if isinstance(model, SimCLR):
        (enc, _, _), (head, _, _) = _mlp_config(model.encoder), _mlp_config(model.head)
        twin: torch.nn.Module = TorchSimCLR(enc, head, norm=norm)
    else:
        sizes, batchnorm, last = _mlp_config(model)
        twin = TorchMLP(sizes, batchnorm, last, norm=norm)
    load_numpy_state(twin, model.state_dict())
    return twin


def _numpy_layout(name: str, value: torch.Tensor) -> np.ndarray:
    """A tensor as the numpy model stores it: Linear weights transposed to (in, out)."""
    array = value.detach().cpu().numpy()
    return (
        array.T.copy() if name.endswith("weight") and array.ndim == 2 else array.copy()
    )


def _torch_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name, without BatchNorm's step counter."""
    state = dict(module.named_parameters())
    state.update(
        (n, b)
        for n, b in module.named_buffers()
        if not n.endswith("num_batches_tracked")
    )
    return state


def numpy_state(module: torch.nn.Module) -> dict[str, np.ndarray]:
    """The module's weights and running statistics in numpy's names and layout."""
    check_instance(module, torch.nn.Module, "module")
    return {
        name: _numpy_layout(name, value) for name, value in _torch_state(module).items()
    }


def load_numpy_state(module: torch.nn.Module, state: dict[str, np.ndarray]) -> None:
    """Copy a numpy state_dict into the PyTorch twin, in place (Linear transposed)."""
    check_instance(module, torch.nn.Module, "module")
    check_instance(state, dict, "state")
    own = _torch_state(module)
    if set(own) != set(state):
        raise ValueError(
            "state keys must match the module's: missing "
            f"{sorted(set(own) - set(state))}, "
            f"unexpected {sorted(set(state) - set(own))}"
        )
    arrays = {name: check_array(state[name], f"state[{name!r}]") for name in own}
    for name, target in own.items():
        if _numpy_layout(name, target).shape != arrays[name].shape:
            raise ValueError(
                f"state[{name!r}] must have shape {_numpy_layout(name, target).shape}, "
                f"got {arrays[name].shape}"
            )
    with torch.no_grad():
        for name, target in own.items():
            value = (
                arrays[name].T
                if arrays[name].ndim == 2 and name.endswith("weight")
                else arrays[name]
            )
            target.copy_(
                torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
            )


def numpy_grads(module: torch.nn.Module) -> dict[str, np.ndarray]:
    """Each parameter's gradient in the numpy model's names and layout."""
    check_instance(module, torch.nn.Module, "module")
    params = dict(module.named_parameters())
    if any(p.grad is None for p in params.values()):
        raise ValueError(
            "module must have a gradient on every parameter: call loss.backward() first"
        )
    return {name: _numpy_layout(name, p.grad) for name, p in params.items()}


def torch_nt_xent(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5
) -> torch.Tensor:
    """NT-Xent as PyTorch code writes it: cross-entropy over cosines, self masked."""
    check_instance(z1, torch.Tensor, "z1")
    check_instance(z2, torch.Tensor, "z2")
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must be (N, D) of the same shape, got {tuple(z1.shape)} and "
            f"{tuple(z2.shape)}"
        )
    tau = check_positive(temperature, "temperature")
    u = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (u @ u.T) / tau
    logits = logits.masked_fill(torch.eye(len(u), dtype=torch.bool), float("-inf"))
    # view 1's row i pairs with view 2's row i, and back
    partner = torch.arange(len(u)).roll(len(z1))
    return F.cross_entropy(logits, partner)


def book_optimizer(
    module: torch.nn.Module,
    n_steps: int,
    lr: float = 2e-3,
    weight_decay: float = 1e-2,
    warmup_frac: float = 0.05,
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """torch.optim.AdamW and a LambdaLR with the book's warm-up + cosine schedule."""
    check_instance(module, torch.nn.Module, "module")
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    warmup = min(
        round(check_fraction(warmup_frac, "warmup_frac") * n_steps), n_steps - 1
    )
    optimizer = torch.optim.AdamW(
        module.parameters(),
        lr=check_nonnegative(lr, "lr"),
        weight_decay=check_nonnegative(weight_decay, "weight_decay"),
    )
    return optimizer, torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: cosine_schedule(k, n_steps, 1.0, warmup)
    )


def view_stream(
    images: np.ndarray, batch_size: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The flat view pairs train_simclr draws, in order: its batches and views."""
    x = check_array(images, "images", ndim=3)
    check_int(batch_size, "batch_size", minimum=2, maximum=len(x))
    return _views(x, batch_size, np.random.default_rng(check_int(seed, "seed")))


def _views(
    x: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless (view 1, view 2) pairs of shuffled batches and views from rng."""
    batches = endless_batches(len(x), batch_size, rng)
    while True:
        v1, v2 = simclr_views(x[next(batches)], rng)
        yield flatten_images(v1), flatten_images(v2)


def torch_simclr_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    views: tuple[np.ndarray, np.ndarray],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    before_step: Callable[[torch.nn.Module], None] | None = None,
) -> float:
    """helpers.simclr.two_view_step in PyTorch: one forward, loss_fn(z1, z2), step."""
    check_instance(model, torch.nn.Module, "model")
    check_instance(optimizer, torch.optim.Optimizer, "optimizer")
    if not isinstance(views, tuple) or len(views) != 2:
        raise ValueError(
            "views must be a pair (view 1, view 2) of (N, D) arrays, got "
            f"{type(views).__name__}"
        )
    v1, v2 = (check_array(v, "views", ndim=2) for v in views)
    if not callable(loss_fn):
        raise TypeError(
            "loss_fn must be callable as loss_fn(z1, z2) -> Tensor, got "
            f"{type(loss_fn).__name__}"
        )
    if before_step is not None and not callable(before_step):
        raise TypeError(
            "before_step must be None or callable as before_step(model), got "
            f"{type(before_step).__name__}"
        )
    z = model(torch.from_numpy(np.concatenate([v1, v2]).astype(np.float32, copy=False)))
    loss = loss_fn(z[: len(v1)], z[len(v1) :])
    optimizer.zero_grad()
    loss.backward()
    if before_step is not None:  # e.g. average the gradients over processes
        before_step(model)
    optimizer.step()
    return loss.item()


def max_differences(
    reference: dict[str, np.ndarray], other: dict[str, np.ndarray]
) -> tuple[float, float]:
    """Largest |a - b| over every named array, and that gap over the largest |a|."""
    check_instance(reference, dict, "reference")
    check_instance(other, dict, "other")
    if set(reference) != set(other) or not reference:
        raise ValueError(
            "reference and other must name the same non-empty arrays, got "
            f"{sorted(reference)} and {sorted(other)}"
        )
    worst_gap = scale = 0.0
    for name, a in reference.items():
        a, b = np.asarray(a, np.float64), np.asarray(other[name], np.float64)
        if a.shape != b.shape:
            raise ValueError(
                f"other[{name!r}] must have shape {a.shape}, got {b.shape}"
            )
        worst_gap = max(worst_gap, float(np.abs(a - b).max(initial=0.0)))
        scale = max(scale, float(np.abs(a).max(initial=0.0)))
    return worst_gap, worst_gap / max(scale, np.finfo(np.float64).tiny)
