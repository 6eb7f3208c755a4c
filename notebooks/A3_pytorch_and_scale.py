# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,nbgrader,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A3 · From numpy to PyTorch, and past one machine
#
# Everything in this book is plain numpy, so that every line can be read. The next model you train
# will probably be written in PyTorch and run on several accelerators at once. This appendix shows
# that nothing you learned has to be relearned there, and measures the few things that do change:
#
# 1. **the same model in PyTorch**: chapter 04's SimCLR (encoder, head, views, NT-Xent, AdamW with
#    the book's warm-up and cosine schedule), started from the numpy model's weights; the loss and
#    every gradient agree to float32 rounding, then 50 training steps run side by side;
# 2. **the loss as practitioners write it**, and where a library's definition differs from the book's;
# 3. **past one machine**: data-parallel SimCLR with `torch.distributed`, two processes on this
#    computer; gradients averaged across them, negatives gathered from both, what breaks without the
#    gather, and BatchNorm per process against synchronised BatchNorm;
# 4. **speed**: one numpy step against one PyTorch step, and two processes against one.
#
# PyTorch is an optional extra of the book, and a large one. Install it once with
# `pip install -e '.[torch]'` from the top of the repository; the rest of the book never imports it.

# %%
import importlib.util

if importlib.util.find_spec("torch") is None:
    raise ModuleNotFoundError(
        "This appendix needs PyTorch, an optional extra of the book. From the top of "
        "the "
        "repository run:  pip install -e '.[torch]'   then "
        "restart the kernel."
    )

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers import show_source
from helpers.data import mnist_split
from helpers.plots import plot_curve, use_book_style

use_book_style()
# one thread, as numpy's BLAS has in this book: deterministic sums, a fair race in
# section 5
torch.set_num_threads(1)
x_train, _, _, _ = mnist_split()
print(
    f"torch {torch.__version__.split('+')[0]}; {len(x_train)} unlabelled training "
    "digits"
)

# %% [markdown]
# ## 1. The same model in PyTorch
#
# Chapter 04's model is the encoder f (784 → 512 → 256, each layer Linear, BatchNorm, ReLU) and the
# projection head g (256 → 256 → 64, the last layer plain). In PyTorch a model is a subclass of
# `torch.nn.Module` whose layers are attributes and whose `forward` says how they are used. We give
# the layers the numpy model's names (`layers`, `norms`), so that each parameter has the same
# dotted name on both sides:

# %%
from helpers.torch_bridge import TorchMLP, TorchSimCLR, to_torch

show_source(TorchMLP)

# %%
show_source(TorchSimCLR)

# %% [markdown]
# `to_torch` builds the twin of a numpy model and copies every weight and running statistic into it.
# The one difference of layout: the book's `Linear` stores W as (in, out) and computes x W + b;
# PyTorch stores W as (out, in) and computes x Wᵀ + b, so each weight matrix is transposed on the
# way across (`numpy_state` and `numpy_grads` transpose it back). We build chapter 04's model from
# its seed, copy it, and feed both the same two numpy views of the same 256 digits, drawn exactly as
# `train_simclr` draws its first batch (`view_stream` replays its generator). The copying:

# %%
from helpers.torch_bridge import load_numpy_state

show_source(load_numpy_state)

# %% [markdown]
# and the two models side by side:

# %%
from helpers.losses import nt_xent
from helpers.simclr import SimCLR
from helpers.torch_bridge import numpy_grads, numpy_state, torch_nt_xent, view_stream

BATCH, TAU = 256, 0.2
book_model = SimCLR(np.random.default_rng(0))
twin = to_torch(book_model)
# (view 1, view 2), each (256, 784) float32
views = next(view_stream(x_train, BATCH, seed=0))
print(
    f"parameters: numpy {book_model.num_parameters():,}, PyTorch "
    f"{sum(p.numel() for p in twin.parameters()):,}"
)
print(
    "same names:",
    [n for n, _ in book_model.named_parameters()]
    == [n for n, _ in twin.named_parameters()],
)

# %% [markdown]
# The PyTorch loss is written the way PyTorch code usually writes NT-Xent: cosine similarities of
# the 2N normalised projections divided by τ, each row's similarity with itself removed (set to −∞),
# and a cross-entropy whose correct class for view 1 of image i is view 2 of image i, and back. It is
# the same function as the book's `nt_xent`, computed by other code:

# %%
show_source(torch_nt_xent)

# %% [markdown]
# One forward and backward pass on each side. Both compute in float32, whose rounding unit is
# 2⁻²³ ≈ 1.2·10⁻⁷; the two libraries add their numbers in different orders, so their results differ
# by some multiple of it. Our tolerance: the losses within 10⁻⁶ of each other relative to the loss
# (about 8 rounding units), and every gradient entry within 10⁻⁵ relative to the largest gradient
# entry (about 80).

# %% tags=["approx:abs=1e-5"]
z = book_model(np.concatenate(views))
book_loss = nt_xent(z[:BATCH], z[BATCH:], TAU)
book_loss.backward()
zt = twin(torch.from_numpy(np.concatenate(views)))
twin_loss = torch_nt_xent(zt[:BATCH], zt[BATCH:], TAU)
twin_loss.backward()
book_grads = {name: p.grad for name, p in book_model.named_parameters()}
print(f"loss: numpy {book_loss.item():.6f}, PyTorch {twin_loss.item():.6f}")
print(
    "loss relative difference: "
    f"{abs(book_loss.item() - twin_loss.item()) / book_loss.item():.1e}"
)

# %% [markdown]
# Every gradient array, compared entry by entry:

# %% tags=["approx:abs=2e-6"]
from helpers.torch_bridge import max_differences

grad_abs, grad_rel = max_differences(book_grads, numpy_grads(twin))
print(
    f"{len(book_grads)} gradient arrays: max abs difference {grad_abs:.1e}, relative "
    f"to the largest entry {grad_rel:.1e}"
)
print(
    "loss_within_tolerance: "
    f"{abs(book_loss.item() - twin_loss.item()) <= 1e-6 * book_loss.item()}"
)
print(f"gradients_within_tolerance: {grad_rel <= 1e-5}")
pre_bn = [
    n
    for n in book_grads  # a Linear's bias whose layer has a BatchNorm after it
    if ".layers." in n
    and n.endswith("bias")
    and n.replace("layers", "norms") in book_grads
]
print(
    f"largest |gradient| of the {len(pre_bn)} biases followed by BatchNorm: "
    f"numpy {max(np.abs(book_grads[n]).max() for n in pre_bn):.0e}, "
    f"PyTorch {max(np.abs(numpy_grads(twin)[n]).max() for n in pre_bn):.0e}"
)

# %% [markdown]
# The last line is worth a look. A bias added just before BatchNorm is removed again by the
# normalisation's mean subtraction, so its exact gradient is 0; both libraries print a rounding
# residue near 10⁻⁸ instead (that is also why the tolerance is relative to the largest entry, not
# to each array's own: relative to zero, any residue is infinitely large). Both frameworks carry
# these useless biases because `Linear` has one by default; `bias=False` would remove them.

# %% [markdown]
# ## 2. Training side by side
#
# Training adds the optimiser and the schedule. `book_optimizer` sets up `torch.optim.AdamW` with
# the book's learning rate and weight decay, and the book's warm-up + cosine schedule as a
# `LambdaLR` (PyTorch's scheduler that multiplies the base rate by a function of the step; here
# the function is the book's `cosine_schedule`). `torch_simclr_step` is `two_view_step` in PyTorch:

# %%
from helpers.torch_bridge import book_optimizer, torch_simclr_step

show_source(book_optimizer)

# %%
show_source(torch_simclr_step)

# %% [markdown]
# Now 50 steps of chapter 04's recipe on each side, both from the same initial weights and fed the
# same views: the numpy model by the book's own `train_simclr`, the PyTorch twin by a loop over
# `view_stream`, which draws the batches and views `train_simclr` draws.

# %% tags=["approx:abs=0.01"]
from helpers.simclr import train_simclr

STEPS = 50
numpy_run = SimCLR(np.random.default_rng(0))
torch_run = to_torch(numpy_run)
# fmt: off
numpy_losses = train_simclr(numpy_run, x_train, epochs=STEPS / (len(x_train) // BATCH),
                            batch_size=BATCH, temperature=TAU, seed=0,
                            desc="numpy SimCLR")
# fmt: on
optimizer, schedule = book_optimizer(torch_run, STEPS)
stream = view_stream(x_train, BATCH, seed=0)
torch_losses = []
for _ in range(STEPS):
    torch_losses.append(
        torch_simclr_step(
            torch_run, optimizer, next(stream), lambda a, b: torch_nt_xent(a, b, TAU)
        )
    )
    schedule.step()
torch_losses = np.array(torch_losses)
loss_gap = np.abs(numpy_losses - torch_losses)
print(
    f"{len(numpy_losses)} and {len(torch_losses)} steps; loss after the last: numpy "
    f"{numpy_losses[-1]:.4f}, PyTorch {torch_losses[-1]:.4f}"
)
print(
    f"max loss gap: over the first 10 steps {loss_gap[:10].max():.1e}, over all "
    f"{STEPS} {loss_gap.max():.1e}"
)

# %%
fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 4.6), sharex=True)
steps = np.arange(1, STEPS + 1)
plot_curve(
    top,
    steps,
    numpy_losses,
    "",
    "NT-Xent",
    title="chapter 04's SimCLR, numpy and PyTorch",
    label="numpy (helpers)",
)
top.plot(steps, torch_losses, ls="--", label="PyTorch")
top.legend()
plot_curve(
    bottom, steps, torch_losses - numpy_losses, "training step", "PyTorch − numpy"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# The two curves lie on top of each other, but the lower panel shows their difference growing from
# rounding level to the third decimal. Which weights moved apart?

# %% tags=["approx:abs=0.02"]
trained_np, trained_t = numpy_run.state_dict(), numpy_state(torch_run)
their_means = [
    n.replace("layers", "norms").replace("bias", "running_mean") for n in pre_bn
]
groups = {
    "biases followed by BatchNorm, and their running means": pre_bn + their_means,
    "every other weight": [
        n for n in trained_np if n in book_grads and n not in pre_bn
    ],
}
drift = {
    group: max_differences(
        {n: trained_np[n] for n in names}, {n: trained_t[n] for n in names}
    )[0]
    for group, names in groups.items()
}
for group, gap in drift.items():
    print(f"{group}: max abs difference after {STEPS} steps {gap:.1e}")
print(
    "pre_bn_biases_moved_apart_most: "
    f"{drift[next(iter(groups))] > drift['every other weight']}"
)

# %% [markdown]
# The biases in front of BatchNorm, whose exact gradient is 0, moved apart the most, and that is
# AdamW, not the libraries. Adam divides each gradient entry by the root of its own running mean
# square, so in its first steps it moves every weight by about the learning rate in the direction
# of the sign of its gradient, however small the gradient is. Where the gradient is a rounding
# residue, its sign is a coin flip that numpy and PyTorch call differently. On section 1's
# gradients:

# %% tags=["approx:rel=1"]
twin_grads = numpy_grads(twin)
flipped = {n: np.sign(book_grads[n]) != np.sign(twin_grads[n]) for n in book_grads}
largest_flipped = max(
    np.abs(book_grads[n][f]).max(initial=0.0) for n, f in flipped.items()
)
largest = max(np.abs(g).max() for g in book_grads.values())
print(
    "gradient entries whose sign differs between numpy and PyTorch: "
    f"{sum(f.sum() for f in flipped.values()):,} "
    f"of {book_model.num_parameters():,}"
)
print(
    f"the largest of them: {largest_flipped:.0e} (the largest gradient entry: "
    f"{largest:.0e})"
)
print(f"sign_flips_only_on_rounding_residues: {largest_flipped <= 1e-5 * largest}")

# %% [markdown]
# Each such entry takes a full Adam step one way in numpy and the other way in PyTorch. For the
# biases before BatchNorm this changes nothing the loss sees (the normalisation removes them, to
# rounding), but the rounding it adds, and the tiny real gradients of other weights flipped the same
# way, are fed back step after step. Two runs of either library on two CPUs with different BLAS
# kernels drift apart in the same way; this is why the book's trained numbers carry tolerances.

# %% [markdown]
# What each piece of the book is called in PyTorch:
#
# | the book (numpy) | PyTorch |
# |---|---|
# | `helpers.autograd.Tensor`, `.backward()`, `.grad` | `torch.Tensor` (with `requires_grad`), `.backward()`, `.grad` |
# | `helpers.autograd.no_grad()` | `torch.no_grad()` |
# | `helpers.nn.Module`, `parameters()`, `train()`, `eval()`, `state_dict()` | `torch.nn.Module`, same names |
# | `helpers.nn.Linear` (W stored as in × out) | `torch.nn.Linear` (W stored as out × in) |
# | `helpers.nn.BatchNorm1d`, `LayerNorm` | `torch.nn.BatchNorm1d`, `torch.nn.LayerNorm` |
# | `Tensor.relu()`, `.gelu()` | `torch.relu`, `torch.nn.functional.gelu` |
# | `helpers.nn.MLP` | a `torch.nn.Module` of `torch.nn.Linear`s (here `TorchMLP`) |
# | `helpers.losses.nt_xent` | `F.normalize`, a matrix product, `F.cross_entropy` (here `torch_nt_xent`), or lightly's `NTXentLoss` |
# | `helpers.losses.cross_entropy` | `torch.nn.functional.cross_entropy` |
# | `helpers.optim.AdamW`, `optimizer.lr = ...` | `torch.optim.AdamW`, a scheduler from `torch.optim.lr_scheduler` |
# | `helpers.optim.cosine_schedule` | `LambdaLR` with that function (or `LinearLR` then `CosineAnnealingLR`) |
# | `helpers.augment.simclr_views` | `torchvision.transforms.v2` (`RandomResizedCrop`, `RandomAffine`, ...), run by a `DataLoader` |
# | `helpers.train.minibatches`, `endless_batches` | `torch.utils.data.DataLoader(shuffle=True, drop_last=True)` |
# | `helpers.train.fit` | your own loop: `zero_grad()`, `loss.backward()`, `optimizer.step()`, `scheduler.step()` |
# | `np.random.default_rng(seed)` | `torch.manual_seed(seed)`, `torch.Generator` |

# %% [markdown]
# ## 3. The loss a library gives you
#
# Practitioners rarely write NT-Xent themselves; a library such as
# [lightly](https://docs.lightly.ai) provides it (`lightly.loss.NTXentLoss`). lightly needs
# torchvision, and PyPI's torchvision fails to import beside the CPU build of PyTorch used here, so this appendix
# uses the plain PyTorch idiom of section 1 in its place. Two things to know when you switch:
#
# * a library's default settings are not the book's: lightly's `NTXentLoss` defaults to τ = 0.5,
#   and it gathers negatives across processes only when asked (`gather_distributed=True`, section 4
#   shows what that changes);
# * some losses are defined differently. BYOL's loss is 2 − 2 cos(p, z) in the paper and in this
#   book (`helpers.losses.byol_loss`); lightly's `NegativeCosineSimilarity` returns −cos(p, z). The
#   two differ by a constant 2 and a factor 2, so the gradients differ by a factor 2, which is a
#   learning rate twice as large for the same settings. Measured on projections of real views:

# %% tags=["approx:abs=1e-5"]
from helpers.losses import byol_loss

# view-1 and view-2 projections of section 1
p_np, z_np = z.data[:BATCH], z.data[BATCH:]
book_byol = byol_loss(p_np, z_np)
p_lib = torch.tensor(p_np, requires_grad=True)
neg_cos = -torch.nn.functional.cosine_similarity(
    p_lib, torch.from_numpy(z_np), dim=1
).mean()
neg_cos.backward()
print(
    f"book 2 - 2cos: {book_byol.item():.6f}; -cos: {neg_cos.item():.6f}; 2 + 2 * "
    f"(-cos): {2 + 2 * neg_cos.item():.6f}"
)

# %% [markdown]
# and the gradients, the book's through its own autograd:

# %% tags=["approx:abs=1e-6"]
from helpers.autograd import Tensor

p_tensor = Tensor(p_np, requires_grad=True)
byol_loss(p_tensor, z_np).backward()
_, factor_gap = max_differences({"p": p_tensor.grad}, {"p": 2 * p_lib.grad.numpy()})
print(
    "gradient of 2 - 2cos against 2 x the gradient of -cos: max gap relative to the "
    f"largest entry {factor_gap:.0e}"
)
print(f"byol_gradient_is_twice_negative_cosine: {factor_gap <= 1e-5}")

# %% [markdown]
# ## 4. Past one machine: data-parallel SimCLR with `torch.distributed`
#
# With more data than one accelerator can take, the standard recipe is *data parallelism*: R
# processes (ranks), one per accelerator, each holding a full copy of the model and taking its own
# share of every batch. After the backward pass the ranks average their gradients, so every copy
# takes the same step and the copies never drift apart. For most models that is the whole story:
# the average of the shards' gradients is the gradient of the whole batch. SimCLR has two parts
# that look across the batch and so break that rule unless they are treated:
#
# * **the negatives.** A rank sees only its own views. The loss of an anchor is supposed to compare
#   it with every other view of the global batch; SimCLR gathers the projections from all ranks
#   (`all_gather`) before computing the loss. The gathered copy must pass gradients back to the rank
#   the rows came from, or the gradient through the other ranks' anchors is lost;
# * **BatchNorm.** Each rank normalises with the statistics of its own rows unless the sums are
#   shared (`torch.nn.SyncBatchNorm`, which needs CUDA; here we share them with `all_reduce` ourselves).
#
# The book's pieces for this live in `helpers.distributed`. The gathered loss: each rank's 2n
# anchors against the 2N views of all ranks, in one global order (view 1 of every rank's images,
# then view 2), so that the cross-entropy's correct class is the anchor's partner wherever it lives.

# %%
from helpers.distributed import (
    SyncedBatchNorm1d,
    _AllGather,
    all_gather,
    average_gradients,
    gathered_nt_xent,
    launch,
)

show_source(gathered_nt_xent)

# %% [markdown]
# The gather is where the gradient can get lost. `torch.distributed.all_gather` itself is not
# differentiable: it fills tensors with the other ranks' values, and autograd sees constants. The
# loss of rank 0's anchors depends on rank 1's rows (they are its negatives), so rank 1's rows need
# that part of the gradient too. A small `torch.autograd.Function` provides it: forward gathers,
# backward sums, over the ranks, the gradients every rank computed for the gathered rows, and hands
# each rank the slice of its own rows (lightly's `GatherLayer` does the same). The common mistake,
# `pass_gradients=False` below, keeps only the rank's own slot differentiable:

# %%
show_source(_AllGather)

# %% [markdown]
# and the gather a rank calls, with the mistake available as an option:

# %%
show_source(all_gather)

# %% [markdown]
# BatchNorm over every rank's rows (`all_reduce_sum`, the same kind of function, sums the per-rank
# sums, with gradients), and the gradient average that `torch.nn.parallel.DistributedDataParallel`
# would do for us (in buckets, overlapped with the backward pass):

# %%
show_source(SyncedBatchNorm1d)

# %%
show_source(average_gradients)

# %% [markdown]
# `launch` starts the worker in R processes on this machine, with the gloo backend (PyTorch's CPU
# transport) over 127.0.0.1 and one thread each. Each rank builds the numpy model from its seed,
# copies it with `to_torch`, takes its share of the same global batch of 256 digits as section 1,
# and runs four checks, each a forward and backward pass with the gradients then averaged:
# synchronised BatchNorm with gathered negatives (`synced_gathered`), the same without the gather
# (`synced_local`), with a gather that passes no gradient back (`synced_gathered_constants`), and
# per-rank BatchNorm with the gather (`per_rank_gathered`). Then it trains 20 steps with
# synchronised BatchNorm and gathered negatives. We run it with 2 processes and, for comparison, with 1:

# %%
DDP_STEPS = 20
two = launch(world_size=2, steps=DDP_STEPS, batch_size=BATCH, temperature=TAU)
one = launch(world_size=1, steps=DDP_STEPS, batch_size=BATCH, temperature=TAU)
CHECKS = (
    "synced_gathered",
    "synced_local",
    "synced_gathered_constants",
    "per_rank_gathered",
)


def rank_grads(result: dict, config: str) -> dict:
    """The averaged gradients of one check, by parameter name."""
    return {
        k.split(".", 2)[2]: v
        for k, v in result.items()
        if k.startswith(f"grad.{config}.")
    }


print("finished:", [c for c in CHECKS if f"loss.{c}" in two])

# %% [markdown]
# Against the single-process PyTorch model of section 1 (the whole batch in one process):

# %% tags=["approx:abs=2e-6;rel=0.02"]
single_grads = numpy_grads(twin)
gaps = {c: max_differences(single_grads, rank_grads(two, c))[1] for c in CHECKS}
for config in CHECKS:
    print(
        f"{config}: loss {float(two[f'loss.{config}']):.6f} (single process "
        f"{twin_loss.item():.6f}); "
        f"gradient gap relative to the largest entry {gaps[config]:.1e}"
    )
print(f"distributed_gradients_equal_single_process: {gaps['synced_gathered'] <= 1e-5}")
print(
    f"negatives per anchor: {2 * BATCH - 2} with the gather, {2 * BATCH // 2 - 2} "
    "without"
)
print(
    "loss drop without the gather: "
    f"{twin_loss.item() - float(two['loss.synced_local']):.3f}; "
    f"log(2N - 1) - log(2n - 1) = {np.log(2 * BATCH - 1) - np.log(BATCH - 1):.3f}"
)
same_loss = abs(float(two["loss.synced_gathered_constants"]) - twin_loss.item()) < 1e-5
print(
    "constant_gather_same_loss_wrong_gradient: "
    f"{same_loss and gaps['synced_gathered_constants'] > 1e-3}"
)
print(
    "per_rank_bn_gap_larger_than_missing_gather_gap: "
    f"{gaps['per_rank_gathered'] > gaps['synced_local']}"
)

# %% [markdown]
# With synchronised statistics and gathered negatives, two processes compute the gradient of one
# process, to rounding. Forget the gather and each anchor meets only its own rank's views. The loss
# falls (at random projections by about the drop of the uniform-guess level, log(2N − 1) −
# log(2n − 1)), so a loss curve looks *better* while the task has become easier, and the gradient
# is off by several percent of its largest entry. Gather without passing gradients back and the
# loss is right to rounding, so nothing in a loss curve warns you, but the gradient is wrong. Keep
# the gather but let each rank normalise with its own BatchNorm statistics, and the gradient is
# off by more than either. Those statistics, for the 512 features entering the encoder's first
# BatchNorm:

# %% tags=["approx:abs=2e-6;rel=0.02"]
with torch.no_grad():
    h = twin.encoder.layers[0](torch.from_numpy(np.concatenate(views)))
global_mean, global_var = h.mean(dim=0).numpy(), h.var(dim=0, unbiased=False).numpy()
spread = {
    name: np.abs(two[f"bn_rank_{name}"] - ref).max() / np.abs(ref).max()
    for name, ref in (("mean", global_mean), ("var", global_var))
}
synced = max(
    np.abs(two["bn_synced_mean"] - global_mean).max() / np.abs(global_mean).max(),
    np.abs(two["bn_synced_var"] - global_var).max() / np.abs(global_var).max(),
)
print(
    "per-rank statistics against the global batch's: mean off by up to "
    f"{spread['mean']:.3f}, "
    f"variance by up to {spread['var']:.3f} (relative to the largest)"
)
print(
    f"synchronised statistics against the global batch's: {synced:.1e} (relative to "
    "the largest)"
)
print(f"synced_statistics_equal_global: {synced <= 1e-5}")

# %% [markdown]
# Per-rank statistics come from 256 views instead of 512, so they scatter around the global ones.
# With more ranks each holds fewer views. We need no processes to see how that goes: the rows a
# rank would hold are known (view 1 and view 2 of its share of the images), so we cut section 1's
# first-layer outputs the same way for 2, 8 and 32 ranks. For 2 ranks this must give the worker's
# numbers, which checks that cut:

# %% tags=["approx:abs=2e-6;rel=0.02"]
def rank_means(outputs: np.ndarray, ranks: int) -> np.ndarray:
    """Per-rank batch mean of the features; rank r holds both views of its images."""
    n = BATCH // ranks
    halves = outputs[:BATCH], outputs[BATCH:]
    cut = [
        np.concatenate([v[r * n : (r + 1) * n] for v in halves]) for r in range(ranks)
    ]
    return np.stack([c.mean(axis=0) for c in cut])


h_np = h.numpy()
print(
    "2 ranks, cut here against the worker's: max difference "
    f"{np.abs(rank_means(h_np, 2) - two['bn_rank_mean']).max():.0e}"
)
scatter = {
    r: np.abs(rank_means(h_np, r) - global_mean).max() / np.abs(global_mean).max()
    for r in (2, 8, 32)
}
for ranks, value in scatter.items():
    print(
        f"{ranks} ranks of {2 * BATCH // ranks} views: mean off by up to {value:.3f} "
        "(relative to the largest)"
    )
print(f"scatter_grows_with_ranks: {scatter[2] < scatter[8] < scatter[32]}")

# %% [markdown]
# Thirty-two accelerators with a batch of 256 is not a far-fetched setting, and there each rank's
# BatchNorm would see 16 views; one reason SimCLR trains with synchronised BatchNorm. The 20
# training steps: the same run in 2 processes and in 1 (the same worker with R = 1), each with
# synchronised BatchNorm and gathered negatives.

# %% tags=["approx:abs=0.01"]
print(
    f"loss after {DDP_STEPS} steps: 2 processes {two['train_losses'][-1]:.4f}, 1 "
    f"process {one['train_losses'][-1]:.4f}"
)
print(
    f"max loss gap over the {DDP_STEPS} steps: "
    f"{np.abs(two['train_losses'] - one['train_losses']).max():.1e}"
)

# %% [markdown]
# ### On several GPUs or machines
#
# The worker reads its rank and the address of rank 0 from environment variables (`RANK`,
# `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`), the convention of PyTorch's launcher `torchrun`,
# which starts one process per accelerator and sets them. On two machines with 8 GPUs each, the same
# module would be started on every machine with (not run here):
#
# ```bash
# torchrun --nnodes=2 --nproc_per_node=8 --node_rank=0 \
#          --master_addr=10.0.0.1 --master_port=29500 \
#          -m helpers.distributed --steps=1000 --batch-size=2048 --out=results.npz
# ```
#
# with `--node_rank=1` on the second machine. What changes for GPUs is configuration: the backend
# (`dist.init_process_group("nccl")` instead of `"gloo"`), each process placing its model and
# batches on `cuda:LOCAL_RANK`, `torch.nn.SyncBatchNorm` instead of our `SyncedBatchNorm1d`, and
# `DistributedDataParallel` wrapping the model instead of `average_gradients`. The global batch of
# 2,048 (of the book's 4,000 training digits) is 128 per GPU; with the gather, every anchor still
# meets 2 · 2,048 − 2 negatives, without it 2 · 128 − 2.

# %% [markdown]
# ## 5. Speed
#
# The book's numpy step against the PyTorch step at chapter 04's sizes (256 digits, 512 views), one
# thread each, timed in turn round after round (`interleaved_medians`, the median of 7 rounds). Both
# steps include making the two views with the book's numpy augmentations, timed alone on the third
# line. These are wall-clock times of whatever machine ran the cell last, so they sit on `time_`
# lines, which the book's output check ignores.

# %%
from helpers.augment import simclr_views
from helpers.optim import AdamW
from helpers.simclr import flatten_images, simclr_step
from helpers.timing import interleaved_medians

race_np = SimCLR(np.random.default_rng(0))
race_np_opt = AdamW(race_np.parameters(), lr=1e-4)
race_t = to_torch(race_np)
race_t_opt = torch.optim.AdamW(race_t.parameters(), lr=1e-4)
batch, race_rng = x_train[:BATCH], np.random.default_rng(1)
medians = interleaved_medians(
    {
        "numpy": lambda: simclr_step(race_np, race_np_opt, batch, race_rng, TAU),
        "torch": lambda: torch_simclr_step(
            race_t,
            race_t_opt,
            tuple(map(flatten_images, simclr_views(batch, race_rng))),
            lambda a, b: torch_nt_xent(a, b, TAU),
        ),
        "views": lambda: simclr_views(batch, race_rng),
    },
    repeats=7,
)
print(f"time_numpy_step_ms: {1e3 * medians['numpy']:.0f}")
print(f"time_torch_step_ms: {1e3 * medians['torch']:.0f}")
print(f"time_views_ms: {1e3 * medians['views']:.0f}")
print(f"time_ratio_numpy_over_torch: {medians['numpy'] / medians['torch']:.2f}")

# %% [markdown]
# And the data-parallel run of section 4: the 20 training steps at a global batch of 256, in 2
# processes against 1, each process on one thread (`train` is the loop alone, `launch` includes
# starting the processes, importing PyTorch and loading the data). On this 2-core machine two
# processes can at best halve the loop's time; the gathers and all-reduces are what they pay.

# %%
print(f"time_train_1_process_s: {float(one['train_seconds']):.2f}")
print(f"time_train_2_processes_s: {float(two['train_seconds']):.2f}")
print(
    "time_speedup_2_over_1: "
    f"{float(one['train_seconds']) / float(two['train_seconds']):.2f}"
)
print(f"time_launch_1_process_s: {float(one['wall_seconds']):.1f}")
print(f"time_launch_2_processes_s: {float(two['wall_seconds']):.1f}")

# %% [markdown]
# ## What we measured

# %% tags=["approx:abs=0.01;rel=0.05"]
print(
    "loss_relative_difference_numpy_torch: "
    f"{abs(book_loss.item() - twin_loss.item()) / book_loss.item():.1e}"
)
print(f"gradient_difference_numpy_torch: {grad_rel:.1e}")
print(f"gradients_within_tolerance: {grad_rel <= 1e-5}")
print(f"max_loss_gap_first_10_steps: {loss_gap[:10].max():.1e}")
print(f"max_loss_gap_50_steps: {loss_gap.max():.1e}")
print(f"distributed_gradients_equal_single_process: {gaps['synced_gathered'] <= 1e-5}")
print(f"gradient_gap_constant_gather: {gaps['synced_gathered_constants']:.1e}")
print(f"loss_without_gather: {float(two['loss.synced_local']):.4f}")
print(f"loss_with_gather: {float(two['loss.synced_gathered']):.4f}")
print(f"per_rank_bn_mean_off_by: {spread['mean']:.3f}")
print(f"synced_statistics_equal_global: {synced <= 1e-5}")
print(f"time_ratio_numpy_over_torch: {medians['numpy'] / medians['torch']:.2f}")
print(
    "time_speedup_2_over_1: "
    f"{float(one['train_seconds']) / float(two['train_seconds']):.2f}"
)

# %% [markdown]
# ## Exercises
#
# Three exercises, **7 points** in all (about 35 minutes). Each has a prompt, an answer cell and a
# check cell whose `assert`s say what is wrong; the grader adds hidden tests (chapter 00 explains
# the format).

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA3-ex1-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 1 (one layer across)** · 2 points · easy · ~10 min
#
# Write `linear_to_torch(weight, bias)`: given a numpy `weight` of shape (in, out) and `bias` of
# shape (out,), as the book's `Linear` stores them, return a `torch.nn.Linear` that computes the
# same x W + b.

# %% nbgrader={"grade": false, "grade_id": "chA3-ex1-answer", "locked": false, "schema_version": 3, "solution": true}
def linear_to_torch(weight: np.ndarray, bias: np.ndarray) -> torch.nn.Linear:
    """A torch.nn.Linear computing x @ weight + bias (weight (in, out), bias (out,))."""
    ### BEGIN SOLUTION
    layer = torch.nn.Linear(*weight.shape)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight.T.copy()))
        layer.bias.copy_(torch.from_numpy(bias))
    return layer
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "chA3-ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex_rng = np.random.default_rng(3)
ex_w, ex_b = (
    ex_rng.normal(size=(5, 3)).astype(np.float32),
    ex_rng.normal(size=3).astype(np.float32),
)
ex_layer = linear_to_torch(ex_w, ex_b)
assert isinstance(ex_layer, torch.nn.Linear), "return a torch.nn.Linear"
assert (ex_layer.in_features, ex_layer.out_features) == (5, 3), (
    "a weight of shape (5, 3) maps 5 inputs to 3 outputs"
)
ex_x = ex_rng.normal(size=(4, 5)).astype(np.float32)
with torch.no_grad():
    assert np.allclose(
        ex_layer(torch.from_numpy(ex_x)).numpy(), ex_x @ ex_w + ex_b, atol=1e-5
    ), "the layer does not compute x @ weight + bias"
### BEGIN HIDDEN TESTS
ex_square = ex_rng.normal(size=(4, 4)).astype(np.float32)
with torch.no_grad():
    assert np.allclose(
        linear_to_torch(ex_square, ex_b[:1].repeat(4))(
            torch.from_numpy(ex_x[:, :4])
        ).numpy(),
        ex_x[:, :4] @ ex_square + ex_b[0],
        atol=1e-5,
    ), "a square weight must still be transposed"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA3-ex2-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 2 (how many negatives?)** · 2 points · easy · ~10 min
#
# Write `negatives_per_anchor(global_batch, world_size, gathered)`: the number of negatives one
# anchor's NT-Xent compares it against, for a global batch of `global_batch` images (two views
# each) split evenly over `world_size` ranks, with or without gathering the projections. Then set
# `uniform_guess_drop` to the drop of the uniform-guess loss log(negatives + 1) when a run at this
# appendix's batch of 256 on 2 ranks forgets the gather.

# %% nbgrader={"grade": false, "grade_id": "chA3-ex2-answer", "locked": false, "schema_version": 3, "solution": true}
def negatives_per_anchor(global_batch: int, world_size: int, gathered: bool) -> int:
    """Negatives per anchor in NT-Xent for a global batch over world_size ranks."""
    ### BEGIN SOLUTION
    views = 2 * (global_batch if gathered else global_batch // world_size)
    return views - 2
    ### END SOLUTION


### BEGIN SOLUTION
uniform_guess_drop = float(
    np.log(negatives_per_anchor(256, 2, True) + 1)
    - np.log(negatives_per_anchor(256, 2, False) + 1)
)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "chA3-ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
assert negatives_per_anchor(256, 1, False) == 510, (
    "one rank of 256 images: 512 views, minus the anchor and its positive"
)
assert negatives_per_anchor(256, 2, True) == 510, (
    "with the gather, splitting the batch changes nothing"
)
assert 0 < uniform_guess_drop < 1, (
    "forgetting the gather lowers the uniform-guess loss by less than 1 nat here"
)
### BEGIN HIDDEN TESTS
assert (
    negatives_per_anchor(4096, 16, False) == 510
    and negatives_per_anchor(4096, 16, True) == 8190
), "wrong count for 4,096 images on 16 ranks"
assert abs(uniform_guess_drop - np.log(511 / 255)) < 1e-9, (
    "uniform_guess_drop must be log 511 - log 255"
)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA3-ex3-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 3 (global statistics from per-rank ones)** · 3 points · medium · ~15 min
#
# Section 4's ranks each reported the mean and the (biased) variance of their own rows for the 512
# features entering the first BatchNorm (`two["bn_rank_mean"]`, `two["bn_rank_var"]`, one row per
# rank; both ranks hold the same number of rows). Write `combine(means, variances)` that returns
# the mean and biased variance over all the rows from these alone, then check it against the global
# batch's `global_mean` and `global_var` of section 4.

# %% nbgrader={"grade": false, "grade_id": "chA3-ex3-answer", "locked": false, "schema_version": 3, "solution": true}
def combine(means: np.ndarray, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance of the union of R equal shards, from (R, C) stats."""
    ### BEGIN SOLUTION
    mean = means.mean(axis=0)
    return mean, variances.mean(axis=0) + ((means - mean) ** 2).mean(axis=0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "chA3-ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false}
ex_result = combine(two["bn_rank_mean"], two["bn_rank_var"])
assert ex_result is not None and len(ex_result) == 2, "return (mean, variance)"
ex_mean, ex_var = ex_result
assert np.allclose(ex_mean, global_mean, atol=1e-5), (
    "the combined mean is not the global batch's mean"
)
assert np.allclose(ex_var, global_var, rtol=1e-4, atol=1e-6), (
    "the combined variance is not the global batch's: the mean of the variances misses "
    "the spread of the means"
)
### BEGIN HIDDEN TESTS
ex_shards = (
    np.random.default_rng(5).normal(size=(3, 10, 4))
    * np.array([1.0, 2.0, 3.0])[:, None, None]
)
ex_m, ex_v = combine(ex_shards.mean(axis=1), ex_shards.var(axis=1))
assert np.allclose(ex_m, ex_shards.reshape(30, 4).mean(axis=0)) and np.allclose(
    ex_v, ex_shards.reshape(30, 4).var(axis=0)
), "combine is wrong for 3 shards of different spread"
### END HIDDEN TESTS
