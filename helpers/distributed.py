"""Data-parallel SimCLR with torch.distributed (an optional extra): negatives gathered
from every rank, BatchNorm statistics synchronised with all_reduce, gradients averaged
across ranks; the per-rank worker, and `launch`, which starts it in several processes on
this machine (gloo backend).

The worker reads RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT from the environment, as
torchrun sets them, so the same module runs under `torchrun ... -m helpers.distributed`
on other machines.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import helpers

# checks torch
from helpers.torch_bridge import (
    book_optimizer,
    numpy_grads,
    to_torch,
    torch_nt_xent,
    torch_simclr_step,
    view_stream,
)

import torch  # noqa: E402  (installed: the import above raised otherwise)
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# noqa: E402
from helpers._checks import (
    check_bool,
    check_fraction,
    check_instance,
    check_int,
    check_positive,
)
from helpers.data import mnist_split  # noqa: E402
from helpers.simclr import SimCLR  # noqa: E402

__all__ = [
    "all_gather",
    "all_reduce_sum",
    "SyncedBatchNorm1d",
    "gathered_nt_xent",
    "average_gradients",
    "launch",
]

# (BatchNorm synchronised, negatives gathered, gradients passed back through the gather)
# of each check
CONFIGS = {
    "synced_gathered": (True, True, True),
    "synced_local": (True, False, True),
    "synced_gathered_constants": (True, True, False),
    "per_rank_gathered": (False, True, True),
}


def _require_group(name: str) -> int:
    """The number of ranks of the default process group, else raise naming caller."""
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            f"{name} needs torch.distributed.init_process_group(...) first (one call "
            "per process)"
        )
    return dist.get_world_size()


class _AllGather(torch.autograd.Function):
    """Every rank's x in rank order; backward gives each rank its rows' gradients."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return tuple(parts)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        total = torch.stack(grads)
        dist.all_reduce(total)  # every rank's loss may depend on every rank's rows
        return total[dist.get_rank()]


class _AllReduceSum(torch.autograd.Function):
    """The sum of x over the ranks; backward sums the gradients the same way."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        total = x.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


def all_gather(
    x: torch.Tensor, pass_gradients: bool = True
) -> tuple[torch.Tensor, ...]:
    """Every rank's tensor x (same shape on each), in rank order, with gradients flowing
    back to their ranks.

    pass_gradients=False is the common mistake: the other ranks' rows become constants,
    and only this rank's own slot (x itself) carries a gradient.
    """
    check_instance(x, torch.Tensor, "x")
    _require_group("all_gather")
    if check_bool(pass_gradients, "pass_gradients"):
        return _AllGather.apply(x)
    with torch.no_grad():
        parts = list(_AllGather.apply(x))
    parts[dist.get_rank()] = x
    return tuple(parts)


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum over ranks of x (same shape on each), gradients back to every rank."""
    check_instance(x, torch.Tensor, "x")
    _require_group("all_reduce_sum")
    return _AllReduceSum.apply(x)


class SyncedBatchNorm1d(torch.nn.BatchNorm1d):
    """BatchNorm1d with statistics over the global batch: per-rank sums all_reduced."""

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        check_fraction(momentum, "momentum", low_open=True, high_open=False)
        super().__init__(
            check_int(num_features, "num_features", minimum=1),
            check_positive(eps, "eps"),
            momentum,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise x (n, C) by mean and biased variance over every rank's rows."""
        if not self.training:
            return super().forward(x)
        mean, var, count = self._statistics(x)
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * count / (count - 1), self.momentum)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias

    def _statistics(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean, biased variance, rows) over all ranks' rows; through all_reduce."""
        _require_group("SyncedBatchNorm1d")
        count = torch.tensor(float(len(x)))
        dist.all_reduce(count)
        mean = all_reduce_sum(x.sum(dim=0)) / count
        centred = x - mean
        return mean, all_reduce_sum((centred * centred).sum(dim=0)) / count, count


def gathered_nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float = 0.5,
    pass_gradients: bool = True,
) -> torch.Tensor:
    """NT-Xent of this rank's 2n anchors against all 2N views of every rank."""
    check_instance(z1, torch.Tensor, "z1")
    check_instance(z2, torch.Tensor, "z2")
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must be (n, D) of the same shape, got {tuple(z1.shape)} and "
            f"{tuple(z2.shape)}"
        )
    tau = check_positive(temperature, "temperature")
    world, n = _require_group("gathered_nt_xent"), len(z1)
    check_bool(pass_gradients, "pass_gradients")
    gathered = [*all_gather(z1, pass_gradients), *all_gather(z2, pass_gradients)]
    # (2N, D): all of view 1, then view 2
    views = F.normalize(torch.cat(gathered), dim=1)
    total = n * world
    local = torch.arange(n) + dist.get_rank() * n
    mine = torch.cat([local, local + total])  # this rank's rows in the global order
    logits = views[mine] @ views.T / tau
    logits[torch.arange(2 * n), mine] = float("-inf")
    return F.cross_entropy(logits, (mine + total) % (2 * total))


def average_gradients(module: torch.nn.Module) -> None:
    """Replace each gradient by its mean over the ranks, in place (as DDP does)."""
    check_instance(module, torch.nn.Module, "module")
    world = _require_group("average_gradients")
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])  # one message, as DDP's buckets
    dist.all_reduce(flat)
    flat /= world
    for g, part in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(part.view_as(g))


def _global_mean(value: torch.Tensor) -> float:
    """The mean of a scalar over the ranks."""
    total = value.detach().clone()
    dist.all_reduce(total)
    return total.item() / dist.get_world_size()


def _check_step(
    model: SimCLR,
    views: tuple[np.ndarray, np.ndarray],
    config: tuple[bool, bool, bool],
    tau: float,
) -> tuple[float, dict[str, np.ndarray]]:
    """One forward/backward on this rank's rows: (loss, gradients), rank-averaged."""
    synced, gathered, pass_gradients = config
    twin = to_torch(model, norm=SyncedBatchNorm1d if synced else torch.nn.BatchNorm1d)
    z = twin(torch.from_numpy(np.concatenate(views)))
    n = len(views[0])
    loss = (
        gathered_nt_xent(z[:n], z[n:], tau, pass_gradients)
        if gathered
        else torch_nt_xent(z[:n], z[n:], tau)
    )
    loss.backward()
    average_gradients(twin)
    return _global_mean(loss), numpy_grads(twin)


def _first_layer_statistics(
    model: SimCLR, views: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """Batch mean and variance at the first BatchNorm: each rank's and the synced."""
    twin = to_torch(model, norm=SyncedBatchNorm1d)
    with torch.no_grad():
        h = twin.encoder.layers[0](torch.from_numpy(np.concatenate(views)))
        synced_mean, synced_var, _ = twin.encoder.norms[0]._statistics(h)
        stats = torch.stack([h.mean(dim=0), h.var(dim=0, unbiased=False)])
        parts = [torch.empty_like(stats) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, stats)
    gathered = torch.stack(parts).numpy()
    return {
        "bn_rank_mean": gathered[:, 0],
        "bn_rank_var": gathered[:, 1],
        "bn_synced_mean": synced_mean.numpy(),
        "bn_synced_var": synced_var.numpy(),
    }


def _train(
    model: SimCLR, stream: list[tuple[np.ndarray, np.ndarray]], tau: float
) -> tuple[np.ndarray, float]:
    """Train a synced, gathered twin on this rank's rows: (losses, loop seconds)."""
    twin = to_torch(model, norm=SyncedBatchNorm1d)
    optimizer, schedule = book_optimizer(twin, len(stream))
    losses = []
    dist.barrier()
    start = time.perf_counter()

    def loss_fn(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """NT-Xent with every rank's embeddings as negatives."""
        return gathered_nt_xent(z1, z2, tau)

    for views in stream:
        loss = torch_simclr_step(twin, optimizer, views, loss_fn, average_gradients)
        schedule.step()
        losses.append(_global_mean(torch.tensor(loss, dtype=torch.float32)))
    dist.barrier()
    return np.array(losses), time.perf_counter() - start


def _run_worker(steps: int, batch_size: int, tau: float, out: str) -> None:
    """This rank's share of the appendix's checks and run; rank 0 writes out (.npz)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    n = batch_size // world
    mine = slice(rank * n, (rank + 1) * n)
    x_train = mnist_split()[0]
    model = SimCLR(np.random.default_rng(0))
    stream = view_stream(x_train, batch_size, seed=0)
    batches = [(v1[mine], v2[mine]) for v1, v2 in (next(stream) for _ in range(steps))]
    results = _first_layer_statistics(model, batches[0])
    for name, config in CONFIGS.items():
        loss, grads = _check_step(model, batches[0], config, tau)
        results[f"loss.{name}"] = np.array(loss)
        results.update((f"grad.{name}.{k}", g) for k, g in grads.items())
    results["train_losses"], seconds = _train(model, batches, tau)
    results["train_seconds"] = np.array(seconds)
    if rank == 0:
        np.savez(out, **results)
    dist.destroy_process_group()


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(
    world_size: int,
    steps: int,
    batch_size: int = 256,
    temperature: float = 0.2,
    timeout: float = 300.0,
) -> dict[str, np.ndarray]:
    """Run worker in world_size processes (gloo, 1 thread): rank 0's results, wall."""
    world = check_int(world_size, "world_size", minimum=1)
    check_int(steps, "steps", minimum=1)
    check_int(
        batch_size, "batch_size", minimum=2 * world, maximum=len(mnist_split()[0])
    )
    if batch_size % world:
        raise ValueError(
            f"batch_size must be a multiple of world_size={world}, got {batch_size}"
        )
    check_positive(temperature, "temperature")
    check_positive(timeout, "timeout")
    # the workers import this same helpers package
    root = str(Path(helpers.__file__).resolve().parents[1])
    env = dict(
        os.environ,
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(_free_port()),
        WORLD_SIZE=str(world),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "results.npz")
        command = [
            sys.executable,
            "-m",
            "helpers.distributed",
            f"--steps={steps}",
            f"--batch-size={batch_size}",
            f"--temperature={temperature}",
            f"--out={out}",
        ]
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                command,
                env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for r in range(world)
        ]
        errors = [p.communicate(timeout=timeout)[1] for p in procs]
        wall = time.perf_counter() - start
        failed = [(r, e) for r, (p, e) in enumerate(zip(procs, errors)) if p.returncode]
        if failed:
            raise RuntimeError(
                f"rank {failed[0][0]} of {world} failed:\n{failed[0][1][-3000:]}"
            )
        with np.load(out) as data:
            results = {k: data[k] for k in data.files}
    results["wall_seconds"] = np.array(wall)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="One rank of the appendix's data-parallel SimCLR checks and run."
    )
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    _run_worker(args.steps, args.batch_size, args.temperature, args.out)
