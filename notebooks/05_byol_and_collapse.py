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
# # 05 · BYOL, SimSiam and the collapse problem, measured
#
# SimCLR (chapter 04) needs negatives: every other image in the batch is pushed away. BYOL
# (Grill et al., 2020) learns with *no* negatives. An *online* network (encoder, projector,
# predictor) predicts what a *target* network (encoder, projector) outputs for another view of the
# same image. The target gets no gradient (*stop-gradient*) and its weights are an exponential
# moving average (*EMA*) of the online weights. Without negatives there is a trivial solution:
# output the same vector for every image, and the loss is zero. This is *collapse*.
#
# The article this book follows runs BYOL's forward pass on random weights, prints a "diversity"
# number, and states that removing *any one* of predictor, stop-gradient or EMA makes the
# representations collapse. SimSiam (Chen & He, 2021) has no EMA and does not collapse, so the
# sentence cannot be right as it stands. In this chapter we
#
# 1. re-run the article's demo and see why its numbers say nothing about learning;
# 2. define collapse and measure it: output std, effective rank, probe accuracy;
# 3. build BYOL from the book's parts and train it on MNIST;
# 4. compare it with SimSiam, SimCLR and the baselines of chapter 04;
# 5. remove the ingredients one and two at a time (the ablation grid) and correct the sentence;
# 6. watch the same effects live in a 2-D toy (the embedding-space widget).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from helpers import show_source
from helpers.data import mnist_split
from helpers.plots import use_book_style

cpu_start = time.process_time()
use_book_style()
x_train, y_train, x_test, y_test = mnist_split()
print(f"train {x_train.shape}, test {x_test.shape}")

# %% [markdown]
# ## 1. The article's demo, honestly
#
# The article builds BYOL with random weights, computes the loss of one forward pass, and prints
# the standard deviation of all output numbers as the model's "diversity"; a "collapsed" model is a
# hand-made array of 0.5s, whose std is 0. We do the same with the book's parts (the model is built
# in section 3): random weights, two views of 256 digits.

# %%
from helpers.augment import simclr_views
from helpers.byol import BYOL, symmetric_loss
from helpers.evaluation import effective_rank, embedding_std
from helpers.simclr import encode

demo = BYOL(np.random.default_rng(0))
v1, v2 = simclr_views(x_train[:256], np.random.default_rng(1))
z = demo(np.concatenate([v1, v2]).reshape(512, -1))
print(f"loss of random weights: {symmetric_loss(demo.predictor(z), demo.target(np.concatenate([v1, v2]).reshape(512, -1))).item():.3f}")
reps = encode(demo, x_train[:256])
print(f"article's diversity np.std(all outputs), random network: {np.std(reps):.3f}")
print(f"article's diversity, hand-made constant 0.5: {np.std(np.full_like(reps, 0.5)):.3f}")

# %% [markdown]
# Both numbers are true and neither says anything about learning: the random network has learned
# nothing, and the constant was typed by hand, not produced by a trained model. Worse, `np.std` over
# *all* numbers mixes two kinds of spread: across inputs (what we care about) and across the 64
# output dimensions of one input. A model that maps every digit to the *same* vector, a
# collapsed model, still gets a large "diversity" if that vector's entries differ; and rescaling the
# outputs rescales the number:

# %%
one_vector = np.tile(reps[0], (256, 1))  # every input -> the same 64 numbers: complete collapse
print(f"article's diversity of a collapsed model: {np.std(one_vector):.3f}")
print(f"article's diversity of the random network times 10: {np.std(10 * reps):.3f}")
print(f"per-dimension std of normalised outputs, collapsed: {embedding_std(one_vector):.3f}, "
      f"random network: {embedding_std(reps):.3f}, times 10: {embedding_std(10 * reps):.3f}")

# %% [markdown]
# ## 2. Collapse, defined and measured
#
# A collapse diagnostic must measure spread *across inputs*, be blind to scale, and see whether the
# outputs use many directions or few. We use three numbers, each computed on held-out digits:
#
# - **output std** (SimSiam paper): L2-normalise each output row, take the std of each dimension
#   over the inputs, average over dimensions. For d-dimensional outputs spread evenly over the
#   sphere it is about 1/√d (0.125 for d = 64); it is 0 when every input gives the same direction.
# - **effective rank** (RankMe, Garrido et al. 2023): the exponential of the entropy of the
#   normalised singular values of the centred outputs. It counts how many directions the outputs
#   really use: d for an even spread, 1 when they all lie on one line or one point.
# - **probe accuracy** of the encoder features, the quantity collapse would destroy.
#
# The first two are `helpers.evaluation` functions:

# %%
show_source(embedding_std)
show_source(effective_rank)

# %% [markdown]
# Two kinds of collapse. In *complete* collapse every input maps to (almost) the same vector. In
# *dimensional* collapse (Jing et al., 2022) the outputs differ but live in a few directions. Three
# synthetic sets of 1,000 vectors in 64 dimensions show which number sees which:

# %%
rng = np.random.default_rng(0)
synthetic = {
    "healthy (isotropic Gaussian)": rng.standard_normal((1000, 64)),
    "dimensional collapse (3 directions)": rng.standard_normal((1000, 3)) @ rng.standard_normal((3, 64)),
    "complete collapse (one vector + 1e-3 noise)": rng.standard_normal(64) + 1e-3 * rng.standard_normal((1000, 64)),
}
print(f"{'outputs':<46}{'std':>7}{'eff. rank':>11}")
for name, zs in synthetic.items():
    print(f"{name:<46}{embedding_std(zs):>7.3f}{effective_rank(zs):>11.1f}")
print(f"1/sqrt(64) = {1 / np.sqrt(64):.3f}")

# %% [markdown]
# The std catches complete collapse (it falls to 0) but hardly moves under dimensional collapse. The
# effective rank catches dimensional collapse (3 directions give a rank of 3) but is blind to
# scale: around one vector, the rank only describes the shape of the tiny leftover noise, here
# isotropic, so it stays near 64. Neither number alone is enough; we report both, and the probe.

# %% [markdown]
# ## 3. BYOL built from the book's parts
#
# Every piece has been built before: the MLP encoder and the views come from chapter 04
# (`make_mlp_encoder`, `simclr_views`), the projector has the shape of SimCLR's head (256 → 256 → 64),
# and the predictor is one more MLP of the same kind (64 → 256 → 64, BatchNorm in the hidden layer).
# The target is a copy of encoder and projector; `online_parameters()` lists what the optimiser
# trains, so the target is only ever changed by the EMA.

# %%
from helpers import byol

show_source(byol.BYOL)

# %% [markdown]
# The loss is `helpers.losses.byol_loss`, 2 − 2 cos(p, z) with z a constant, applied
# symmetrically: both views go through both branches, and each view's prediction is compared with
# the target's output for the *other* view. To switch stop-gradient off, the function adds a second
# term whose value it subtracts again, so that only its gradient (the one flowing into z) remains;
# a finite-difference test in `tests/test_byol.py` checks both cases.

# %%
show_source(byol.symmetric_loss)

# %% [markdown]
# One step: views in one batch through the online branch and, without gradient, the target; the
# loss; an AdamW step on the online weights; then the EMA update `helpers.optim.ema_update`
# (target ← m·target + (1 − m)·online) with momentum m from `ema_momentum`, the paper's cosine
# schedule from a base value up to 1. With `ema=False` the online outputs are their own target
# (SimSiam).

# %%
show_source(byol.byol_step)

# %% [markdown]
# **The base momentum at our scale.** The paper uses 0.996 over hundreds of thousands of steps. The
# EMA remembers roughly the last 1/(1 − m) steps, and the share of the *random initial* target that
# survives K steps is the product of the momenta. Our runs are short (the next cell computes it), so
# we print that share for three base values:

# %%
from helpers.optim import ema_momentum
from helpers.train import steps_for

EPOCHS, BATCH, BASE_M = 2.5, 128, 0.99
n_steps = steps_for(EPOCHS, len(x_train), BATCH)
for base in (0.996, 0.99, 0.9):
    kept = np.prod([ema_momentum(k, n_steps, base) for k in range(n_steps)])
    print(f"base momentum {base}: memory 1/(1-m) = {1 / (1 - base):.0f} steps; "
          f"share of the random initial target left after {n_steps} steps: {kept:.3f}")

# %% [markdown]
# At 0.996 the target would end the run still mostly random; at 0.9 it would follow the online
# network within a few steps, little different from SimSiam. We take 0.99: the target changes
# during the run but stays a slow average. Even so, a good part of its initial random weights
# remains at the end (printed above), a reminder of how far from the paper's regime our budget is.
#
# The chapter's budget (≤ 45 s on two cores) pays for seven short runs of `n_steps` steps each:
# batches of 128 images (256 views), 2.5 epochs of the 4,000 training digits, AdamW at 2e-3. The
# `track` callback of `train_byol` records the diagnostics on 256 fixed test digits every 10 steps.
# The loop itself (shuffled batches, AdamW with a warm-up then cosine learning rate) is
# `helpers.train.train_epochs`, the one SimCLR, Barlow Twins and DINO train with too; what
# `train_byol` adds is its `update`: two views, `byol_step` with the scheduled momentum, `track`.

# %%
show_source(byol.train_byol)

# %%
from helpers.byol import train_byol

probe_images = x_test[:256]


def tracker(curves: dict[str, list[float]]):
    """A track callback that appends output std and effective ranks (z and h) every 10 steps."""
    def track(step: int, model: BYOL) -> None:
        if step % 10 == 9:
            zs, hs = encode(model, probe_images), encode(model.encoder, probe_images)
            curves["step"].append(step + 1)
            curves["std"].append(embedding_std(zs))
            curves["rank_z"].append(effective_rank(zs))
            curves["rank_h"].append(effective_rank(hs))
    return track

# %% [markdown]
# ## 4. BYOL and SimSiam beside the baselines
#
# The full BYOL and SimSiam (no EMA) runs, then SimCLR with the same budget (`train_simclr` from
# chapter 04, same batch, steps and optimiser). The untouched copy of a model is the random-encoder
# baseline.

# %% tags=["approx:abs=0.05"]
from helpers.simclr import SimCLR, train_simclr

VARIANTS = {  # name: (predictor, ema, stop_gradient)
    "BYOL": (True, True, True), "no EMA (SimSiam)": (True, False, True),
    "no stop-grad (EMA kept)": (True, True, False), "no predictor": (False, True, True),
    "no EMA + no stop-grad": (True, False, False), "no EMA + no predictor": (False, False, True),
}
models, losses, curves = {}, {}, {}


def run(name: str) -> None:
    """Train one variant from the same initial weights and data order; keep model, losses and curves."""
    predictor, ema, stop_gradient = VARIANTS[name]
    models[name] = BYOL(np.random.default_rng(0), predictor=predictor)
    curves[name] = {"step": [], "std": [], "rank_z": [], "rank_h": []}
    losses[name] = train_byol(models[name], x_train, epochs=EPOCHS, batch_size=BATCH, base_momentum=BASE_M,
                              ema=ema, stop_gradient=stop_gradient, seed=0, desc=name, track=tracker(curves[name]))


random_byol = BYOL(np.random.default_rng(0))
for name in ("BYOL", "no EMA (SimSiam)"):
    run(name)
simclr = SimCLR(np.random.default_rng(0))
losses["SimCLR"] = train_simclr(simclr, x_train, epochs=EPOCHS, batch_size=BATCH, seed=0)
print(f"{n_steps} steps each; final loss (mean of the last 10 steps): "
      + ", ".join(f"{k} {v[-10:].mean():.3f}" for k, v in losses.items()))

# %% [markdown]
# `probe_report` (chapter 04) scores each set of encoder features on the book's split: a linear
# probe on all 4,000 labels, the probe on 10 labels per class (mean and std over 5 label draws),
# and 5-NN.

# %%
from helpers.evaluation import few_label_indices, linear_probe, probe_report

features = {
    "raw pixels": (x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)),
    "random encoder": (encode(random_byol.encoder, x_train), encode(random_byol.encoder, x_test)),
    "SimCLR": (encode(simclr.encoder, x_train), encode(simclr.encoder, x_test)),
    "BYOL": (encode(models["BYOL"].encoder, x_train), encode(models["BYOL"].encoder, x_test)),
    "SimSiam": (encode(models["no EMA (SimSiam)"].encoder, x_train), encode(models["no EMA (SimSiam)"].encoder, x_test)),
}
draws = [few_label_indices(y_train, 10, seed) for seed in range(5)]


def probe_10_draws(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
    """Probe accuracy with 10 labels per class for each of the five label draws."""
    return np.array([linear_probe(tr[i], y_train[i], te, y_test) for i in draws])


reports = {name: probe_report(tr, y_train, te, y_test) for name, (tr, te) in features.items()}
spread = {name: probe_10_draws(*features[name]) for name in features}

# %% tags=["approx:abs=0.02"]
print(f"{'features':<16}{'probe, all labels':>19}{'probe, 10/class':>20}{'5-NN':>8}")
for name, r in reports.items():
    print(f"{name:<16}{r['probe_all']:>19.3f}{spread[name].mean():>13.3f} ± {spread[name].std():.3f}{r['knn']:>8.3f}")

# %% [markdown]
# Which differences exceed the spread over label draws? We call a method better than another in the
# 10-label column only when the gap of the means is larger than twice the larger of the two stds:

# %%
def beats(a: str, b: str, key: str = "probe_10") -> bool:
    """Is a better than b? For the 10-label probe, by more than 2 stds of the label draws."""
    if key == "probe_10":
        return bool(spread[a].mean() - spread[b].mean() > 2 * max(spread[a].std(), spread[b].std()))
    return reports[a][key] > reports[b][key]


for a, b in (("BYOL", "raw pixels"), ("SimSiam", "raw pixels"), ("SimCLR", "raw pixels"),
             ("BYOL", "random encoder"), ("SimSiam", "random encoder"), ("SimCLR", "BYOL")):
    print(f"{a} beats {b}: all labels {beats(a, b, 'probe_all')}, 10 per class by > 2 std {beats(a, b)}")

# %% [markdown]
# Read the two blocks above together, and remember that the all-labels column is one probe per
# method (no spread measured), so there we only say "higher". At this budget all three methods
# give a higher all-labels probe than raw pixels and the random encoder. With 10 labels per class,
# SimCLR is the only method ahead of raw pixels by more than the spread over label draws; BYOL and
# SimSiam sit between the random encoder and pixels, within the spread of both, and trail SimCLR.
# On 5-NN (next cell) none of the three reaches raw pixels yet. This is what so few steps can show,
# not the end state: the BYOL paper trains for hundreds of epochs, where BYOL matches or passes
# SimCLR. Here, with no negatives, the two views of a digit can only be pulled together, and the
# slow target makes BYOL's early progress slower than SimCLR's explicit push-apart.

# %%
print(f"5-NN above raw pixels: " + ", ".join(f"{k} {beats(k, 'raw pixels', 'knn')}" for k in ("SimCLR", "BYOL", "SimSiam")))

# %% [markdown]
# The loss curves:

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for name in ("BYOL", "no EMA (SimSiam)"):
    axes[0].plot(losses[name], lw=0.8, label=name)
axes[0].set(xlabel="step", ylabel="symmetric loss 2 − 2 cos", title="BYOL and SimSiam", ylim=(0, None))
axes[1].plot(losses["SimCLR"], lw=0.8, color="C2", label="SimCLR")
axes[1].set(xlabel="step", ylabel="NT-Xent", title="SimCLR, same budget")
for ax in axes:
    ax.legend()
plt.show()

# %% [markdown]
# ## 5. The ablation grid
#
# Now we remove the ingredients one and two at a time. Every variant starts from the same initial
# weights and sees the same batches and views; only the switch changes.

# %%
for name in VARIANTS:
    if name not in models:
        run(name)


from helpers.evaluation import knn_accuracy

in_table = {"BYOL": "BYOL", "no EMA (SimSiam)": "SimSiam"}  # already probed in section 4


def grid_row(name: str) -> dict[str, float]:
    """Final loss and the collapse diagnostics on the test digits for one variant."""
    m, done = models[name], in_table.get(name)
    zs = encode(m, x_test)
    h_tr, h_te = features[done] if done else (encode(m.encoder, x_train), encode(m.encoder, x_test))
    p10 = spread[done] if done else probe_10_draws(h_tr, h_te)
    knn = reports[done]["knn"] if done else knn_accuracy(h_tr, y_train, h_te, y_test)
    return {"loss": losses[name][-10:].mean(), "std": embedding_std(zs), "rank_z": effective_rank(zs),
            "rank_h": effective_rank(h_te), "p10": p10.mean(), "p10_std": p10.std(), "knn": knn}


grid = {name: grid_row(name) for name in VARIANTS}

# %% tags=["approx:abs=0.03"]
print(f"{'variant':<24}{'loss':>7}{'std z':>8}{'probe 10/class':>19}{'5-NN':>7}")
for name, g in grid.items():
    print(f"{name:<24}{g['loss']:>7.3f}{g['std']:>8.3f}{g['p10']:>12.3f} ± {g['p10_std']:.3f}{g['knn']:>7.3f}")
print(f"{'random encoder':<39}{spread['random encoder'].mean():>12.3f} ± {spread['random encoder'].std():.3f}"
      f"{reports['random encoder']['knn']:>7.3f}")

# %% [markdown]
# The effective ranks of the projection z (of 64 dimensions) and of the encoder features h (of 256),
# on the 1,000 test digits:

# %% tags=["approx:rel=0.2"]
print(f"{'variant':<24}{'rank z':>8}{'rank h':>8}")
for name, g in grid.items():
    print(f"{name:<24}{g['rank_z']:>8.1f}{g['rank_h']:>8.1f}")
print(f"{'random encoder':<24}{effective_rank(encode(random_byol, x_test)):>8.1f}"
      f"{effective_rank(features['random encoder'][1]):>8.1f}")

# %% [markdown]
# The curves over training, recorded by the `track` callback (256 test digits, every 10 steps):

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
for name, c in curves.items():
    style = "--" if name == "no stop-grad (EMA kept)" else "-"
    axes[0].plot(c["step"], c["std"], style, label=name)
    axes[1].plot(c["step"], c["rank_z"], style)
    axes[2].plot(c["step"], c["rank_h"], style)
axes[0].axhline(1 / np.sqrt(64), color="gray", lw=1, ls=":", label="1/√64")
axes[0].set(xlabel="step", ylabel="std of normalised z", title="output std (projection z)")
axes[1].set(xlabel="step", ylabel="effective rank", title="effective rank of z (of 64)")
axes[2].set(xlabel="step", ylabel="effective rank", title="effective rank of encoder h (of 256)")
axes[0].legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# The singular-value spectrum makes the two kinds of collapse visible. For the normalised test
# projections of each variant we plot the singular values of the centred outputs, largest first: a
# healthy spectrum decays slowly; dimensional collapse cuts it off after a few directions; complete
# collapse pushes *all* of it down towards zero.

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.6))
spectra = {}
for name in VARIANTS:
    u = encode(models[name], x_test)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    spectra[name] = np.linalg.svd(u - u.mean(axis=0), compute_uv=False)
    ax.semilogy(np.arange(1, 65), spectra[name], "--" if "stop-grad (EMA" in name else "-", label=name)
ax.set(xlabel="singular value index", ylabel="singular value (normalised z, centred)",
       title="Spectra of the projections, 1,000 test digits")
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# What the grid shows, as computed verdicts (a variant counts as *collapsed* when its output std is
# below a third of the full BYOL's: its outputs are gathered around one direction rather than
# spread over the sphere; the numbers are in the table above):

# %%
healthy_std = grid["BYOL"]["std"]
collapsed = {name: bool(g["std"] < healthy_std / 3) for name, g in grid.items()}
for name, flag in collapsed.items():
    print(f"{name}: collapsed output {flag}")
print(f"no stop-grad with EMA gives the same losses as BYOL, bit for bit: "
      f"{np.array_equal(losses['BYOL'], losses['no stop-grad (EMA kept)'])}")
one_removed = ("no EMA (SimSiam)", "no stop-grad (EMA kept)", "no predictor")
print(f"every single removal collapses (the article's claim): {all(collapsed[n] for n in one_removed)}")
print(f"encoder rank of every variant above the random encoder's / 2: "
      f"{all(g['rank_h'] > effective_rank(features['random encoder'][1]) / 2 for g in grid.values())}")

# %% [markdown]
# **The article's sentence, corrected.** "Remove any one and it collapses" is false in this grid,
# for a different reason in each row:
#
# - **No EMA (SimSiam)** does not collapse: its output std and ranks stay with BYOL's. The EMA is
#   not what prevents collapse; stop-gradient plus the predictor suffice (Chen & He 2021). The EMA
#   helps at larger scale by giving a slowly moving, more stable target.
# - **No stop-gradient with the EMA kept** changes *nothing*: the losses are identical bit for bit.
#   The target's weights are set by the EMA, not by the optimiser, so a gradient flowing into the
#   target's outputs reaches weights that nobody updates. Stop-gradient only matters once the
#   target *is* the online network.
# - **No predictor** is the one single removal that hurts: the output std falls far below BYOL's
#   (the printed verdict). Without the predictor the online projection is asked to equal a slightly
#   older copy of itself, which a nearly constant output satisfies; the predictor gives the online
#   branch a separate map with which to match the target, so the projection itself need not shrink.
#   In our short runs the rank of z has not fallen yet (the rank table): what we see is the spread
#   shrinking. Longer runs are needed to see whether it turns into dimensional collapse.
# - **Two removed** (no EMA and no stop-gradient; no EMA and no predictor): the projection collapses
#   within our short runs; the loss goes to 0, the output std towards 0 and the rank of z falls (the
#   spectrum figure: every singular value drops).
#
# In every row the *encoder* features keep a high rank and probe like the random encoder or better
# (within the spread): in our short runs collapse happens in the projection z first, and the
# encoder, with BatchNorm after each layer, has not collapsed in so few steps. That is why the diagnostics must be measured on z (what the loss
# sees) *and* on h (what we use).
#
# ## 6. Contrastive vs non-contrastive embedding space (widget)
#
# The same experiment, small enough to run live: three clusters of 2-D points, a toy BYOL (encoder
# 2 → 32 → 32, projector 32 → 32 → 2, predictor 2 → 16 → 2) whose 2-D outputs are drawn on the unit
# circle, coloured by cluster. Choose SimCLR (attraction and repulsion) or BYOL (attraction only),
# switch EMA, stop-gradient and predictor, and press Step or Play (5 steps per frame). The read-outs
# are the same loss, output std and effective rank as above (for 2-D outputs the rank lies between 1
# and 2, and a healthy std is about 1/√2).

# %%
from helpers.widgets.embedding import EmbeddingSpaceExplorer, key_states_figure

explorer = EmbeddingSpaceExplorer()
explorer

# %% [markdown]
# Driven from code, the widget trains and reports the same read-outs: 15 frames of BYOL, then the
# EMA switched off mid-run for 15 more frames (SimSiam). The outputs stay spread:

# %% tags=["approx:abs=0.25"]
for _ in range(15):
    explorer.play.value += 1
print(f"{explorer.state['mode']}, step {explorer.state['steps']}: std {explorer.state['std']:.3f}")
explorer.ema.value = False
for _ in range(15):
    explorer.play.value += 1
print(f"{explorer.state['mode']}, step {explorer.state['steps']}: std {explorer.state['std']:.3f}")

# %% [markdown]
# The static companion for readers without a kernel: four settings after 60 steps each (a toy
# counts as collapsed when its std is below 0.1, a seventh of the healthy 1/√2). The toy is small
# and its path sensitive to rounding, so its healthy read-outs vary between CPUs (the rank, shown
# in the figure, most of all); the verdicts do not.

# %% tags=["approx:abs=0.25"]
fig, toy = key_states_figure([dict(objective="SimCLR"), dict(), dict(ema=False), dict(ema=False, stop_gradient=False)],
                             steps=60)
plt.show()
for r in toy:
    print(f"{r['variant']}: std {r['std']:.3f}, collapsed {r['std'] < 0.1}")

# %% [markdown]
# The toy tells the same story as the grid: SimCLR spreads the clusters around the circle,
# BYOL and SimSiam (no EMA) keep them apart without negatives, and only removing two ingredients
# gathers every point at one place on the circle.
#
# ## What we measured
#
# - The article's "diversity" (std of all numbers) is large for a random network and for a model
#   that maps every input to the same vector; the per-dimension std of normalised outputs is 0 for
#   the latter, and with the effective rank it separates complete from dimensional collapse.
# - At this chapter's budget (2.5 epochs, batches of 128), BYOL and SimSiam give a higher all-labels
#   probe than raw pixels, but with 10 labels per class they are within the spread of pixels and of
#   the random encoder; SimCLR with the same budget leads pixels by more than the spread there. On
#   5-NN none of them reaches raw pixels yet.
# - The ablation grid: no EMA alone and no stop-gradient alone do not collapse (the second is
#   identical to BYOL bit for bit); no predictor shrinks the output spread; any two removals
#   collapse the projection completely. The encoder features keep their rank in every row.

# %% tags=["approx:abs=0.03"]
headline = {f"probe_all_{k.replace(' ', '_')}": r["probe_all"] for k, r in reports.items()}
headline.update({f"probe_10_{k.replace(' ', '_')}": spread[k].mean() for k in reports})
headline.update({f"knn_{k.replace(' ', '_')}": r["knn"] for k, r in reports.items()})
keys = {name: name.replace(" (SimSiam)", "").replace(" (EMA kept)", "").replace(" + ", "_").replace(" ", "_")
        .replace("-", "_") for name in grid}
headline.update({f"std_z_{keys[n]}": g["std"] for n, g in grid.items()})
headline.update({f"probe_10_{keys[n]}": g["p10"] for n, g in grid.items()})
for key, value in headline.items():
    print(f"{key}: {value:.3f}")

# %% tags=["approx:rel=0.2"]
for name, g in grid.items():
    print(f"rank_z_{keys[name]}: {g['rank_z']:.1f}")
    print(f"rank_h_{keys[name]}: {g['rank_h']:.1f}")

# %%
print(f"byol_beats_pixels_10_labels_by_2_std: {beats('BYOL', 'raw pixels')}")
print(f"simclr_beats_pixels_10_labels_by_2_std: {beats('SimCLR', 'raw pixels')}")
print(f"single_removals_collapsing: {[n for n in one_removed if collapsed[n]]}")
print(f"double_removals_collapsing: {[n for n in VARIANTS if ' + ' in n and collapsed[n]]}")
print(f"time_chapter_cpu_s: {time.process_time() - cpu_start:.1f}")

# %% [markdown]
# ## Exercises
#
# Three exercises, **7 points** in all (about 40 minutes); the third trains a model. Each has a
# prompt, an answer cell and a check cell whose `assert`s say what is wrong; the grader adds
# hidden tests (chapter 00 explains the format).

# %% [markdown] nbgrader={"grade": false, "grade_id": "ch05-ex1-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 1 (the collapse diagnostic)** · 2 points · easy · ~10 min
#
# Write `output_std(z)`: L2-normalise each row of the (N, d) array `z`, take the standard deviation
# of each of the d columns over the N rows, and return their mean as a float. Check it on a healthy
# and on a collapsed array. Do not call `embedding_std`.

# %% nbgrader={"grade": false, "grade_id": "ch05-ex1-answer", "locked": false, "schema_version": 3, "solution": true}
def output_std(z: np.ndarray) -> float:
    """Mean over dimensions of the std of the L2-normalised rows of z."""
    ### BEGIN SOLUTION
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    return float(u.std(axis=0).mean())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch05-ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
_z = np.random.default_rng(11).standard_normal((300, 16))
assert isinstance(output_std(_z), float), "output_std must return a Python float"
assert output_std(np.tile(_z[:1], (50, 1))) < 1e-9, "identical rows must give 0"
assert abs(output_std(5 * _z) - output_std(_z)) < 1e-9, "the diagnostic must not depend on the scale of z"
### BEGIN HIDDEN TESTS
for _seed in range(3):
    _w = np.random.default_rng(_seed).standard_normal((200, 8)) + _seed
    assert abs(output_std(_w) - embedding_std(_w)) < 1e-9, \
        "output_std is not the mean over dimensions of the std of the L2-normalised rows"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ch05-ex2-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 2 (dimensional collapse)** · 2 points · medium · ~15 min
#
# Build `flat`, an array of 1,000 rows in 64 dimensions whose output std (`embedding_std`) is at
# least 0.05 but whose effective rank is below 3: outputs that are spread out yet use only a couple
# of directions. Use `np.random.default_rng(0)`.

# %% nbgrader={"grade": false, "grade_id": "ch05-ex2-answer", "locked": false, "schema_version": 3, "solution": true}
### BEGIN SOLUTION
_r = np.random.default_rng(0)
flat = _r.standard_normal((1000, 2)) @ _r.standard_normal((2, 64))
### END SOLUTION
print(f"shape {np.shape(flat)}")

# %% nbgrader={"grade": true, "grade_id": "ch05-ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
assert np.shape(flat) == (1000, 64), "flat must have 1,000 rows of 64 numbers"
assert np.all(np.isfinite(flat)), "flat must be finite"
### BEGIN HIDDEN TESTS
assert embedding_std(flat) >= 0.05, "the output std of flat is below 0.05: its rows are not spread out enough"
assert effective_rank(flat) < 3, "the effective rank of flat is 3 or more: its rows use too many directions"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ch05-ex3-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 3 (remove all three)** · 3 points · medium · ~15 min
#
# Train a BYOL model with *no* predictor, *no* EMA and *no* stop-gradient on `x_train` for 1 epoch
# with batches of 128 (seed 0 everywhere, the other settings as in section 5), and store the model
# as `bare` and the output std of its projections of `x_test` as `bare_std`. Compare with the grid:
# does removing the third ingredient change the verdict?

# %% nbgrader={"grade": false, "grade_id": "ch05-ex3-answer", "locked": false, "schema_version": 3, "solution": true} tags=["approx:abs=0.005"]
### BEGIN SOLUTION
bare = BYOL(np.random.default_rng(0), predictor=False)
train_byol(bare, x_train, epochs=1, batch_size=BATCH, base_momentum=BASE_M, ema=False, stop_gradient=False,
           seed=0, desc="bare")
bare_std = embedding_std(encode(bare, x_test))
### END SOLUTION
print(f"output std of the bare model {bare_std:.4f}; full BYOL {grid['BYOL']['std']:.4f}")

# %% nbgrader={"grade": true, "grade_id": "ch05-ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false}
assert isinstance(bare, BYOL), "bare must be a BYOL model"
assert bare.predictor is None, "bare must be built without a predictor"
assert isinstance(bare_std, float), "bare_std must be a float (embedding_std returns one)"
### BEGIN HIDDEN TESTS
assert abs(bare_std - embedding_std(encode(bare, x_test))) < 1e-9, \
    "bare_std is not the output std of bare's projections of x_test"
assert bare_std < grid["BYOL"]["std"] / 3, \
    "bare_std does not match a model trained as asked (no predictor, no EMA, no stop-gradient, 1 epoch)"
### END HIDDEN TESTS
