"""How much of a SimCLR (and a DINO) training step is augmentation, and how close the
rest is to its matmuls.

Run: `PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_augment.py`. At the book's sizes
(batch 256 from helpers.data.mnist_split, encoder 784-512-256 with BatchNorm, head
256-256-64) it times, in turn round after round so load from other processes hits all
alike: one `simclr_step`, the `simclr_views` it makes, and the step's layer matmuls
alone (helpers.nn.linear's products with the same shapes and dtypes, recorded from one
step, forward and backward; NT-Xent's own small product is not counted). Likewise one
DINO step (MLP backbone, batch 128, 2 global + 4 local crops) and its `multi_crop`. Each
round gives medians; the table shows the median over rounds and the range. Target of
issue 21: augmentation <= 15 % of a SimCLR step.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable
from unittest import mock

import numpy as np
from threadpoolctl import threadpool_limits

import helpers.autograd as autograd
import helpers.nn as nn
from helpers.augment import multi_crop, simclr_views
from helpers.data import mnist_split
from helpers.dino import DINO, dino_step
from helpers.optim import AdamW
from helpers.simclr import SimCLR, simclr_step
from helpers.timing import interleaved_medians

SIMCLR_BATCH, DINO_BATCH, N_GLOBAL, N_LOCAL = 256, 128, 2, 4


def recorded_matmuls(step: Callable[[], Any]) -> list[Callable[[], Any]]:
    """The matrix products (helpers.nn.linear) of one step, forward and backward."""
    seen: list[tuple[autograd.Tensor, autograd.Tensor]] = []
    real = nn.linear

    def spy(
        x: autograd.Tensor, weight: autograd.Tensor, bias: autograd.Tensor | None = None
    ) -> autograd.Tensor:
        seen.append((x, weight))
        return real(x, weight, bias)

    with mock.patch.object(nn, "linear", spy):
        step()
    products = []
    for x, w in seen:
        rows, weight = (
            np.ones((x.data.size // x.shape[-1], x.shape[-1]), x.dtype),
            np.ones(w.shape, w.dtype),
        )
        g = np.ones((len(rows), w.shape[1]), x.dtype)
        products.append((rows, weight))
        if x.requires_grad:
            products.append((g, weight.T))
        if w.requires_grad:
            products.append((rows.T, g))
    return [lambda a=a, b=b: a @ b for a, b in products]


def simclr_parts(images: np.ndarray, seed: int) -> dict[str, Callable[[], Any]]:
    """A SimCLR step on a fixed batch, its two views, and its matmuls alone."""
    rng = np.random.default_rng(seed)
    model = SimCLR(rng)
    optimizer = AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    batch = images[rng.choice(len(images), SIMCLR_BATCH, replace=False)]

    def step() -> float:
        return simclr_step(model, optimizer, batch, rng, temperature=0.2)

    gemms = recorded_matmuls(step)
    return {
        "step": step,
        "augmentation": lambda: simclr_views(batch, rng),
        "matmuls": lambda: [g() for g in gemms],
    }


def dino_parts(images: np.ndarray, seed: int) -> dict[str, Callable[[], Any]]:
    """A DINO step (MLP backbone) on a fixed batch with multi-crop, and crops alone."""
    rng = np.random.default_rng(seed)
    model = DINO(rng)
    optimizer = AdamW(model.student.parameters(), lr=2e-3, weight_decay=1e-2)
    batch = images[rng.choice(len(images), DINO_BATCH, replace=False)]

    def crops() -> list[np.ndarray]:
        # an MLP takes one size
        return multi_crop(batch, rng, N_GLOBAL, N_LOCAL, local_size=batch.shape[1:])

    def step() -> float:
        return dino_step(
            model,
            optimizer,
            crops(),
            N_GLOBAL,
            momentum=0.996,
            teacher_temp=0.04,
            student_temp=0.1,
            center_momentum=0.9,
            centering=True,
        )[0]

    return {"step": step, "augmentation": crops}


def rounds(
    parts: dict[str, Callable[[], Any]],
    n_rounds: int,
    repeats: int,
    clock: Callable[[], float],
) -> dict[str, np.ndarray]:
    """Warm up, then n_rounds of interleaved medians (seconds by clock) of each part."""
    for fn in parts.values():
        fn()
    runs = [interleaved_medians(parts, repeats, clock) for _ in range(n_rounds)]
    return {name: np.array([run[name] for run in runs]) for name in parts}


def spread(values: np.ndarray, unit: str, scale: float) -> str:
    """Median and range of values over rounds, scaled and labelled."""
    lo, mid, hi = np.percentile(values * scale, [0, 50, 100])
    return f"{mid:7.2f} {unit} (range {lo:.2f}-{hi:.2f})"


def report(name: str, times: dict[str, np.ndarray]) -> None:
    """Print a step's parts in ms and the share of augmentation (and matmuls) in it."""
    step, aug = times["step"], times["augmentation"]
    print(f"{name}: step {spread(step, 'ms', 1e3)}")
    print(
        f"  augmentation {spread(aug, 'ms', 1e3)}, share {spread(aug / step, '%', 100)}"
    )
    print(f"  rest         {spread(step - aug, 'ms', 1e3)}")
    if "matmuls" in times:
        rest = step - aug
        print(
            f"  its matmuls  {spread(times['matmuls'], 'ms', 1e3)}, share of rest "
            f"{spread(times['matmuls'] / rest, '%', 100)}"
        )


def main() -> None:
    """Time the SimCLR and DINO steps at the book's sizes and print the shares."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds of interleaved timings (default 5)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=20,
        help="timed calls of each part per round (default 20)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (default 1, as `make pretrain` runs)",
    )
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall-clock (default) or this process's CPU time "
        "(steadier on a busy machine, 1 thread)",
    )
    args = parser.parse_args()
    threadpool_limits(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    images = mnist_split()[0]
    print(
        f"{args.threads} BLAS thread(s), {args.clock} clock, {args.rounds} rounds x "
        f"{args.repeats} calls; float32"
    )
    report(
        f"SimCLR, batch {SIMCLR_BATCH}",
        rounds(simclr_parts(images, 0), args.rounds, args.repeats, clock),
    )
    report(
        f"DINO (MLP), batch {DINO_BATCH}, {N_GLOBAL}+{N_LOCAL} crops",
        rounds(dino_parts(images, 0), args.rounds, args.repeats, clock),
    )


if __name__ == "__main__":
    main()
