"""Time one training step (and forward pass) of the tiny ViT in our numpy engine vs
PyTorch CPU.

Run: `.venv/bin/python benchmarks/bench_engine.py`. Both engines are timed in the same
run, alternating one measurement of ours with one of PyTorch's, so load from other
processes on the machine hits both alike; the medians and their ratio are printed.
PyTorch is only a yardstick (not a dependency): without it the PyTorch column is
skipped.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

from helpers.autograd import Tensor, no_grad
from helpers.losses import cross_entropy
from helpers.nn import Linear, ViTEncoder
from helpers.optim import Adam
from helpers.timing import interleaved_medians

BATCH, PATCH_DIM, WIDTH, DEPTH, HEADS, N_PATCHES, CLASSES = 256, 49, 64, 2, 4, 16, 10


def make_batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random batch of patch vectors and class labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, N_PATCHES, PATCH_DIM)).astype(np.float32)
    return x, rng.integers(0, CLASSES, size=BATCH)


class Stepper:
    """One timed unit of work; subclasses define loss(), no_grad() and opt."""

    opt: Any

    def step(self) -> float:
        """Forward, backward and one Adam update."""
        self.opt.zero_grad()
        loss = self.loss()
        loss.backward()
        self.opt.step()
        return loss.item()

    def forward(self) -> float:
        """Forward only, without recording the graph."""
        with self.no_grad():
            return self.loss().item()


class Ours(Stepper):
    """Tiny ViT + mean-pooled linear head + cross-entropy in helpers.nn, with Adam."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        rng = np.random.default_rng(0)
        self.encoder = ViTEncoder(
            PATCH_DIM, WIDTH, DEPTH, HEADS, N_PATCHES, rng, cls_token=True
        )
        self.head = Linear(WIDTH, CLASSES, rng)
        self.params = self.encoder.parameters() + self.head.parameters()
        self.opt = Adam(self.params, lr=1e-3)
        self.x, self.y = x, y

    def loss(self) -> Tensor:
        """Mean cross-entropy of the head on mean-pooled tokens."""
        logits = self.head(self.encoder(self.x).mean(axis=1))
        return cross_entropy(logits, self.y)

    def no_grad(self) -> Any:
        """Our engine's no-grad context."""
        return no_grad()


def torch_model(ours: Ours, threads: int) -> Any:
    """The same network in PyTorch on `threads` threads with our weights (or None)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return TorchViT(ours, torch)


class TorchViT(Stepper):
    """PyTorch twin of Ours: Linear, LayerNorm, SDP attention, tanh-GELU, Adam."""

    def __init__(self, ours: Ours, torch: Any) -> None:
        self.torch = torch
        self.weights = {
            name: torch.tensor(p.data.copy(), requires_grad=True)
            for name, p in ours.encoder.named_parameters()
            + [("head." + n, p) for n, p in ours.head.named_parameters()]
        }
        self.pos = torch.tensor(ours.encoder.pos_embed)
        self.opt = torch.optim.Adam(list(self.weights.values()), lr=1e-3)
        self.x, self.y = torch.tensor(ours.x), torch.tensor(ours.y)

    def _linear(self, x: Any, name: str) -> Any:
        """x @ W + b with our (in, out) weight layout."""
        return self.torch.addmm(
            self.weights[name + ".bias"],
            x.reshape(-1, x.shape[-1]),
            self.weights[name + ".weight"],
        ).reshape(*x.shape[:-1], -1)

    def _norm(self, x: Any, name: str) -> Any:
        """LayerNorm with our weights."""
        w = self.weights
        return self.torch.nn.functional.layer_norm(
            x, (WIDTH,), w[name + ".weight"], w[name + ".bias"]
        )

    def _block(self, x: Any, name: str) -> Any:
        """Pre-norm transformer block."""
        f = self.torch.nn.functional
        n, length, _ = x.shape
        qkv = self._linear(self._norm(x, name + ".norm1"), name + ".attn.qkv")
        q, k, v = qkv.reshape(n, length, 3, HEADS, WIDTH // HEADS).permute(
            2, 0, 3, 1, 4
        )
        a = (
            f.scaled_dot_product_attention(q, k, v)
            .transpose(1, 2)
            .reshape(n, length, WIDTH)
        )
        x = x + self._linear(a, name + ".attn.proj")
        h = f.gelu(
            self._linear(self._norm(x, name + ".norm2"), name + ".mlp.layers.0"),
            approximate="tanh",
        )
        return x + self._linear(h, name + ".mlp.layers.1")

    def loss(self) -> Any:
        """Mean cross-entropy of the head on mean-pooled tokens."""
        x = self._linear(self.x, "embed") + self.pos
        x = self.torch.cat([self.weights["cls"].expand(len(x), 1, WIDTH), x], dim=1)
        for i in range(DEPTH):
            x = self._block(x, f"encoder.blocks.{i}")
        logits = self._linear(self._norm(x, "encoder.norm").mean(dim=1), "head")
        return self.torch.nn.functional.cross_entropy(logits, self.y)

    def no_grad(self) -> Any:
        """PyTorch's no-grad context."""
        return self.torch.no_grad()


def gradient_gap(ours: Ours, theirs: TorchViT) -> float:
    """Largest |ours - PyTorch's| gradient over all parameters, over the largest."""
    ours.loss().backward()
    theirs.loss().backward()
    names = [n for n, _ in ours.encoder.named_parameters()] + [
        "head." + n for n, _ in ours.head.named_parameters()
    ]
    gap = max(
        np.abs(p.grad - theirs.weights[n].grad.numpy()).max()
        for n, p in zip(names, ours.params)
    )
    scale = max(np.abs(p.grad).max() for p in ours.params)
    for p in ours.params:
        p.grad = None
    theirs.opt.zero_grad()
    return float(gap / scale)


def compare(
    name: str, a: Callable[[], float], b: Callable[[], float] | None, repeats: int
) -> None:
    """Warm up, then alternate timings of a and b; print medians (ms) and a/b."""
    for _ in range(3):
        a()
        if b is not None:
            b()
    medians = interleaved_medians(
        {"ours": a} if b is None else {"ours": a, "torch": b}, repeats
    )
    ours = medians["ours"] * 1e3
    if b is None:
        print(f"{name}: ours {ours:.2f} ms (PyTorch not installed: no comparison)")
        return
    theirs = medians["torch"] * 1e3
    print(
        f"{name}: ours {ours:.2f} ms, PyTorch {theirs:.2f} ms, ratio "
        f"{ours / theirs:.2f}x"
    )


def main() -> None:
    """Check both engines agree on the loss, then time a training step and a forward."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=30, help="timed calls of each (default 30)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="BLAS / PyTorch threads (default 2)"
    )
    args = parser.parse_args()
    threadpool_limits(args.threads)
    x, y = make_batch()
    ours = Ours(x, y)
    theirs = torch_model(ours, args.threads)
    if theirs is not None:
        print(
            f"initial loss: ours {ours.forward():.6f}, PyTorch {theirs.forward():.6f}"
        )
        print(
            f"max gradient difference / max gradient: {gradient_gap(ours, theirs):.1e}"
        )
    print(
        f"tiny ViT: batch {BATCH}, {N_PATCHES} patches of {PATCH_DIM}, width {WIDTH}, "
        f"depth {DEPTH}, "
        f"{HEADS} heads, {ours.encoder.num_parameters() + ours.head.num_parameters()} "
        "parameters, float32, "
        f"{args.threads} threads"
    )
    compare(
        "train step", ours.step, None if theirs is None else theirs.step, args.repeats
    )
    compare(
        "forward",
        ours.forward,
        None if theirs is None else theirs.forward,
        args.repeats,
    )


if __name__ == "__main__":
    main()
