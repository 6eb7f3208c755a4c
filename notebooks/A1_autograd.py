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
# # A1 · The tiny autograd behind this book
#
# Every chapter trains a model, and training needs gradients. The article this book grew from
# derives one gradient by hand, for the linear probe of its last section; every other model in it
# only runs forward passes on random weights. We use a small reverse-mode
# automatic differentiation engine instead, `helpers.autograd`, written in plain numpy. This
# appendix opens it up:
#
# 1. the chain rule on a graph of scalars, by hand and by the engine;
# 2. the same on arrays, where broadcasting makes gradients pile up;
# 3. checking every gradient against finite differences;
# 4. why some operations are written as one fused node (numerical stability);
# 5. BatchNorm, built step by step: its forward and backward pass, training mode against
#    evaluation mode, the running statistics, and what it does to a batch;
# 6. LayerNorm, its per-example cousin that transformers use (appendix A2);
# 7. AdamW and the warm-up + cosine learning-rate schedule that every chapter trains with;
# 8. a small MLP trained on real MNIST digits with all of the above, as a smoke test of the whole stack.

# %%
import numpy as np
import matplotlib.pyplot as plt

from helpers import show_source
from helpers.autograd import Tensor, numerical_gradient, unbroadcast
from helpers.losses import cross_entropy
from helpers.plots import use_book_style, plot_curve

use_book_style()

# %% [markdown]
# ## 1. The chain rule on a scalar graph
#
# Take $f(a, b) = (a b + b)^2$ at $a = 2$, $b = -3$. Name the intermediate values:
# $c = a b$, $d = c + b$, $f = d^2$. Going backwards from $f$:
#
# - $\partial f / \partial d = 2d$;
# - $d = c + b$ passes the gradient unchanged to $c$ and to $b$;
# - $c = a b$ sends $b \cdot \partial f/\partial c$ to $a$ and $a \cdot \partial f/\partial c$ to $b$.
#
# $b$ is used twice, so its two contributions add up. We write those rules out by hand and compare
# with what the engine computes.

# %%
a_val, b_val = 2.0, -3.0
c_val = a_val * b_val
d_val = c_val + b_val
df_dd = 2 * d_val
df_dc = df_dd  # d = c + b
df_da = b_val * df_dc  # c = a * b
df_db = a_val * df_dc + df_dd  # b feeds c and d: contributions add
print("by hand:    df/da =", df_da, " df/db =", df_db)

a = Tensor(a_val, requires_grad=True)
b = Tensor(b_val, requires_grad=True)
f = (a * b + b) ** 2
f.backward()
print("by engine:  df/da =", a.grad.item(), " df/db =", b.grad.item())

# %% [markdown]
# How does the engine know? Each operation returns a new `Tensor` made by `Tensor.from_op`, which
# remembers the operation's inputs (its *parents*) and a small function that turns the gradient of
# the output into gradients of the inputs. Here is multiplication, all of it:

# %%
show_source(Tensor.__mul__)

# %% [markdown]
# `backward()` then visits the graph from the output back to the inputs, each node after every node
# that uses it (a reverse topological order), and hands each parent its share. Gradients that arrive
# at the same tensor along different paths are summed, which is exactly the "$b$ is used twice" rule.

# %%
show_source(Tensor.backward)

# %% [markdown]
# ## 2. Arrays and broadcasting
#
# The same machinery works on arrays. One subtlety: numpy *broadcasts*. Adding a bias of shape
# `(3,)` to a batch of shape `(4, 3)` silently copies the bias into every row. In the backward pass
# every copy receives a gradient, and the bias's gradient is their **sum** over the batch. The
# engine does this in one place, `unbroadcast`:

# %%
show_source(unbroadcast)

# %%
rng = np.random.default_rng(0)
x = Tensor(rng.normal(size=(4, 3)))
bias = Tensor(np.zeros(3), requires_grad=True)
y = ((x + bias) * 2.0).sum()
y.backward()
print("bias.grad:", bias.grad, "(each entry is 2 x 4 rows = 8)")

# %% [markdown]
# ## 3. Trust, but check: finite differences
#
# A gradient that is slightly wrong still trains, just worse, so bugs hide. The cure is a check
# against the definition of a derivative: nudge each input by $\pm\varepsilon$ and measure the
# change of the output, $(f(x+\varepsilon) - f(x-\varepsilon)) / 2\varepsilon$.
# This costs two function calls per input element, far too slow for training but perfect for tests.
# The book's test suite runs this check on every operation and every loss.

# %%
show_source(numerical_gradient)

# %% [markdown]
# Let us check a small composite function, a softmax classifier's loss on a batch, both ways.

# %% tags=["approx:abs=1e-8"]
w0 = rng.normal(size=(5, 3))
xb = rng.normal(size=(6, 5))
labels = np.array([0, 2, 1, 1, 0, 2])


def loss_of(w: Tensor) -> Tensor:
    """Mean cross-entropy of a linear softmax classifier on the small batch."""
    return cross_entropy(Tensor(xb) @ w, labels)


w = Tensor(w0.copy(), requires_grad=True)
loss_of(w).backward()
numeric = numerical_gradient(lambda v: loss_of(Tensor(v)).item(), w0.copy())
rel_err = np.abs(w.grad - numeric).max() / np.abs(numeric).max()
print(f"largest relative difference: {rel_err:.0e}; below 1e-7: {bool(rel_err < 1e-7)}")

# %% [markdown]
# ## 4. Why some operations are one fused node
#
# `log_softmax` could be written from smaller pieces: `x.exp()`, a sum, a division, a log. With
# large logits, `exp` overflows to `inf` and the pieces produce `nan`. The fused version subtracts
# the row maximum first (the log-sum-exp trick) and stays finite. Fusing also makes the backward pass
# one formula instead of a chain of nodes, each with its own temporary arrays.

# %%
big = Tensor(np.array([[1000.0, 10.0, -5.0]]))
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    e = big.exp()
    naive = (e / e.sum(axis=1, keepdims=True)).log()
print("naive pieces:", naive.data.round(3))
print("fused op:    ", big.log_softmax(axis=1).data.round(3))

# %% [markdown]
# ## 5. BatchNorm, step by step
#
# As a network trains, the numbers each layer produces drift in offset and scale, and the layer
# after it has to keep chasing them. **Batch normalisation** (BatchNorm) standardises every feature
# over the current minibatch: for each feature (column) it subtracts the batch mean $\mu$ and
# divides by the batch standard deviation $\sigma$, then applies a learned scale $\gamma$ and shift
# $\beta$, one of each per feature:
#
# $$\hat x_{nf} = \frac{x_{nf} - \mu_f}{\sqrt{\sigma_f^2 + \varepsilon}}, \qquad
#   y_{nf} = \gamma_f \hat x_{nf} + \beta_f .$$
#
# The MLP of section 8 and the MLP encoders and heads of chapters 04 to 07 put one after each
# hidden linear layer, and chapter 05 comes back to it when it measures collapse. We feed it real numbers: the
# pre-activations of a random hidden layer (784 → 64) on 256 MNIST training digits. Pixels are
# never negative, so these features have means far from 0 and unequal spreads.

# %%
from helpers.data import mnist_split

x_train, y_train, x_test, y_test = mnist_split(seed=0)
flat_train, flat_test = (
    x_train.reshape(len(x_train), -1),
    x_test.reshape(len(x_test), -1),
)
print(
    "train images:",
    x_train.shape,
    " test images:",
    x_test.shape,
    " classes:",
    np.bincount(y_train),
)

layer_rng = np.random.default_rng(1)
w_hidden, b_hidden = (
    layer_rng.normal(0, 784**-0.5, (784, 64)),
    layer_rng.normal(0, 0.1, 64),
)
# (256 examples, 64 features)
h = flat_train[:256].astype(np.float64) @ w_hidden + b_hidden
print(
    f"before: feature means from {h.mean(axis=0).min():.2f} to "
    f"{h.mean(axis=0).max():.2f}, "
    f"stds from {h.std(axis=0).min():.2f} to {h.std(axis=0).max():.2f}"
)

# %% [markdown]
# The forward pass in plain numpy, one line per step. $\gamma$ and $\beta$ start at 1 and 0 in a
# fresh layer; we set them to 2 and 0.5 here to see what they do: they put back whatever offset and
# scale the next layer finds useful, so normalising costs the network nothing it cannot relearn.

# %%
eps = 1e-5
mu = h.mean(axis=0)  # one mean per feature, over the batch
# the biased variance (divided by N), one per feature
var = h.var(axis=0)
x_hat = (h - mu) / np.sqrt(var + eps)
gamma, beta = np.full(64, 2.0), np.full(64, 0.5)
y_bn = gamma * x_hat + beta
print(
    "x_hat: every feature's mean within 1e-12 of 0: "
    f"{bool(np.abs(x_hat.mean(axis=0)).max() < 1e-12)}, "
    f"std within 1e-3 of 1: {bool(np.abs(x_hat.std(axis=0) - 1).max() < 1e-3)}"
)
print(
    f"y = 2 x_hat + 0.5: feature means {y_bn.mean(axis=0).mean():.3f}, stds "
    f"{y_bn.std(axis=0).mean():.3f}"
)

# %% [markdown]
# ### The backward pass
#
# Here BatchNorm differs from every layer so far: an example's output depends on the **other**
# examples of the batch, through $\mu$ and $\sigma$. So the gradient of example $n$'s input collects
# a term from every output of the batch. Write $g = \partial L/\partial y$ and
# $\hat g = \gamma g$ (the gradient reaching $\hat x$). Differentiating
# $\hat x_n = (x_n - \mu)/\sigma$ (one feature, $\sigma^2$ including $\varepsilon$), with
# $\partial\mu/\partial x_m = 1/N$ and $\partial\sigma/\partial x_m = \hat x_m / N$, gives per feature
#
# $$\frac{\partial L}{\partial x_m} = \frac{1}{\sigma}\Big(\hat g_m - \overline{\hat g}
#   - \hat x_m\,\overline{\hat g \hat x}\Big), \qquad
#   \frac{\partial L}{\partial \gamma} = \sum_n g_n \hat x_n, \qquad
#   \frac{\partial L}{\partial \beta} = \sum_n g_n ,$$
#
# where a bar is the mean over the batch. The two subtracted terms are the batch statistics' share:
# the first removes what would shift the batch mean, the second what would change its spread. We
# check the formula against finite differences on a small batch (8 examples, 4 features), with a
# fixed random weighting $g$ of the outputs as the loss, and see what dropping those terms costs.

# %%
small, g_out = h[:8, :4].copy(), np.random.default_rng(2).normal(size=(8, 4))
sd = np.sqrt(small.var(axis=0) + eps)
xs_hat = (small - small.mean(axis=0)) / sd
g_hat = gamma[:4] * g_out  # gradient reaching x_hat
grad_x = (g_hat - g_hat.mean(axis=0) - xs_hat * (g_hat * xs_hat).mean(axis=0)) / sd
grad_gamma, grad_beta = (g_out * xs_hat).sum(axis=0), g_out.sum(axis=0)

numeric = numerical_gradient(
    lambda v: float(
        (
            g_out
            * (
                gamma[:4] * (v - v.mean(axis=0)) / np.sqrt(v.var(axis=0) + eps)
                + beta[:4]
            )
        ).sum()
    ),
    small.copy(),
)
bn_err = np.abs(grad_x - numeric).max() / np.abs(numeric).max()
naive_err = np.abs(g_hat / sd - numeric).max() / np.abs(numeric).max()
print(
    "formula vs finite differences: relative difference below 1e-7: "
    f"{bool(bn_err < 1e-7)}"
)
print(
    f"treating mu and sigma as constants instead: relative difference {naive_err:.2f}"
)

# %% [markdown]
# ### The book's helper
#
# `helpers.nn.BatchNorm1d` is the layer the book uses. Its training-mode work is one fused node,
# `_normalize` (shared with LayerNorm, section 6), whose forward pass is the four lines above and
# whose backward pass is the formula we just checked; it also guards against squares that overflow.
# The rest of the class is bookkeeping for evaluation mode, which comes next.

# %%
from helpers.nn import BatchNorm1d, _normalize

show_source(BatchNorm1d)

# %%
show_source(_normalize)

# %% [markdown]
# Same small batch, same $\gamma$, $\beta$ and weighting, through the helper and the autograd engine:

# %%
bn = BatchNorm1d(4, dtype=np.float64)
bn.weight.data[:], bn.bias.data[:] = gamma[:4], beta[:4]
t_small = Tensor(small.copy(), requires_grad=True)
y_small = bn(t_small)
(y_small * g_out).sum().backward()
print(
    "output equal to our numpy steps: "
    f"{np.allclose(y_small.data, gamma[:4] * xs_hat + beta[:4])}"
)
print(
    f"gradients equal (input, gamma, beta): {np.allclose(t_small.grad, grad_x)}, "
    f"{np.allclose(bn.weight.grad, grad_gamma)}, "
    f"{np.allclose(bn.bias.grad, grad_beta)}"
)

# %% [markdown]
# ### Training mode, evaluation mode and the running statistics
#
# After training, a model must classify one image at a time, where a "batch mean" means nothing,
# and its answer for an image must not depend on which other images happen to share its batch. So
# during training BatchNorm also keeps **running statistics**, an exponential moving average of
# the batch means and variances: after each training batch,
# $r \leftarrow (1 - m)\, r + m \cdot (\text{batch statistic})$ with momentum $m = 0.1$ (PyTorch's
# convention; the running variance uses the unbiased batch variance, divided by $N-1$). In
# evaluation mode (`model.eval()`) the layer normalises with these fixed numbers instead: it becomes
# a fixed affine map of each feature. The running mean starts at 0 and the old value's weight
# after $k$ batches is $0.9^k$. We stream training batches of 128 through a fresh layer and watch
# the running mean of feature 0 approach that feature's mean over all 4,000 training digits.

# %%
from helpers.train import endless_batches

h_all = flat_train.astype(np.float64) @ w_hidden + b_hidden
stream = BatchNorm1d(64, dtype=np.float64)
stream_batches = endless_batches(len(h_all), 128, np.random.default_rng(3))
running = []
for _ in range(50):
    # training mode: normalise with the batch, update running stats
    stream(h_all[next(stream_batches)])
    running.append(stream.running_mean[0])
target = h_all[:, 0].mean()
for k in (1, 10, 30, 50):
    print(
        f"after {k:2d} batches: running mean {running[k - 1]:6.3f} (all-data mean "
        f"{target:.3f}), "
        f"weight left on the start value 0.9^{k} = {0.9**k:.3f}"
    )

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
plot_curve(
    ax,
    np.arange(1, 51),
    np.array(running),
    "training batches seen",
    "running mean of feature 0",
    title="BatchNorm's running mean (momentum 0.1)",
    label="running mean",
)
ax.axhline(target, color="grey", ls="--", label="mean over all training digits")
ax.legend()
plt.show()

# %% [markdown]
# ### What BatchNorm does to a batch
#
# Now the warmed-up layer (`stream`, $\gamma = 1$, $\beta = 0$) on three batches of test digits,
# which it never saw:
#
# - in **training mode** on 256 digits, each feature has mean 0 and standard deviation 1 exactly,
#   whatever the digits;
# - in **evaluation mode** the same digits come out only near mean 0 and std 1, since the running
#   statistics describe the training digits, not this batch;
# - in training mode an example's output **depends on its batch-mates**: the same digit in two
#   different batches comes out different; in evaluation mode it is identical;
# - on a batch of **2**, training mode leaves almost nothing: with two values per feature the
#   standardised ones are $-1$ and $+1$ (unless the two values nearly agree, when $\varepsilon$ pulls
#   both towards 0), so an output says little more than which of the two digits is larger in that
#   feature.

# %%
h_test = flat_test.astype(np.float64) @ w_hidden + b_hidden
probe = stream.copy()  # a twin: training-mode calls leave stream's running stats alone


def feature_ranges(y: np.ndarray) -> str:
    """Largest per-feature mean and range of per-feature stds of a batch's outputs."""
    m, s = y.mean(axis=0), y.std(axis=0)
    return f"largest |mean| {np.abs(m).max():.3f}, stds {s.min():.3f} to {s.max():.3f}"


print("training mode, 256 test digits:  ", feature_ranges(probe(h_test[:256]).data))
stream.eval()
print("evaluation mode, same 256 digits:", feature_ranges(stream(h_test[:256]).data))

# %% [markdown]
# The same test digit in two different batches, in each mode:

# %%
def output_of_digit_0(layer: BatchNorm1d, batch_mates: np.ndarray) -> np.ndarray:
    """The layer's output for test digit 0 when batched with the other digits."""
    return layer(h_test[[0, *batch_mates]]).data[0]


for name, layer in (("training mode", probe), ("evaluation mode", stream)):
    first = output_of_digit_0(layer, np.arange(1, 256))
    change = np.abs(first - output_of_digit_0(layer, np.arange(256, 511)))
    print(
        f"{name}: digit 0 in two different batches of 256, largest change of an output "
        f"{change.max():.3f}"
    )
pair = probe(h_test[:2]).data
near_one = np.mean(np.abs(np.abs(pair) - 1) < 0.01)
print(
    "training mode, batch of 2: share of outputs within 0.01 of -1 or +1: "
    f"{near_one:.3f}"
)

# %% [markdown]
# So BatchNorm needs batches that are large and mixed to behave in training, and a switch to
# `eval()` before its outputs are used for anything else: chapter 05 comes back to both. Section 8
# measures what the wrong mode costs a trained classifier.
#
# ## 6. LayerNorm: the same standardisation, per example
#
# **Layer normalisation** (LayerNorm) standardises each example over its own features (each row)
# instead of each feature over the batch (each column), then applies the same learned per-feature
# $\gamma$ and $\beta$. No statistic crosses from one example to another, so it behaves the same in
# training and evaluation, keeps no running statistics, and works on a batch of one. Transformers
# use it (appendix A2), since there a "feature over the batch" would mix tokens of different
# sentences. The book's `helpers.nn.layer_norm` is the same fused node as BatchNorm's, with the
# statistics taken over the last axis:

# %%
from helpers.nn import LayerNorm, layer_norm

x_hat_rows = (h - h.mean(axis=1, keepdims=True)) / np.sqrt(
    h.var(axis=1, keepdims=True) + eps
)
ln_out = layer_norm(Tensor(h), None, None, eps=eps).data
print(f"helper equals our numpy line: {np.allclose(ln_out, x_hat_rows)}")
print(
    "every example: mean within 1e-12 of 0: "
    f"{bool(np.abs(ln_out.mean(axis=1)).max() < 1e-12)}, "
    f"std within 1e-3 of 1: {bool(np.abs(ln_out.std(axis=1) - 1).max() < 1e-3)}"
)
print(
    "example 0 alone equals example 0 in the batch: "
    f"{np.allclose(layer_norm(Tensor(h[:1]), None, None).data, ln_out[:1])}"
)
show_source(LayerNorm)

# %% [markdown]
# ## 7. AdamW and the warm-up + cosine schedule
#
# Every chapter trains with **AdamW**. Adam keeps two moving averages per weight, $m$ of the
# gradient and $v$ of its square, and steps by $\text{lr}\cdot\hat m / (\sqrt{\hat v} + \epsilon)$
# (the hats undo the averages' start at zero): a step of about lr whatever the gradient's scale.
# Weight decay pulls weights towards 0. Adam with an L2 penalty adds $\text{wd}\cdot w$ to the
# gradient, and then divides it by $\sqrt{\hat v}$ like everything else; AdamW *decouples* it and
# shrinks the weight directly, $w \leftarrow (1 - \text{lr}\cdot\text{wd})\,w$, before the Adam
# step. Here is the whole update:

# %%
from helpers.optim import Adam, AdamW, cosine_schedule

show_source(Adam._update)

# %% [markdown]
# The difference shows on a weight whose loss gradient is zero, so that only the decay acts on it:
# 100 steps at lr = 0.01, for a weak and a strong decay.

# %%
def decayed_weight(opt_class: type, wd: float) -> float:
    """A weight starting at 1 with zero loss gradient, after 100 opt_class steps."""
    w_demo = Tensor(np.ones(1), requires_grad=True)
    opt_demo = opt_class([w_demo], lr=0.01, weight_decay=wd)
    for _ in range(100):
        w_demo.grad = np.zeros(1)  # the loss does not care about this weight
        opt_demo.step()
    return w_demo.item()


ends = {
    (c.__name__, wd): decayed_weight(c, wd)
    for c in (Adam, AdamW)
    for wd in (1e-4, 1e-2)
}
for wd in (1e-4, 1e-2):
    print(
        f"wd = {wd:g}: weight after 100 steps, Adam with L2 {ends['Adam', wd]:.3f}, "
        f"AdamW {ends['AdamW', wd]:.4f}"
    )
print(
    "Adam with L2: a 100 times stronger decay changes the end weight by less than "
    "0.01: "
    f"{abs(ends['Adam', 1e-4] - ends['Adam', 1e-2]) < 0.01}"
)

# %% [markdown]
# With the L2 penalty, Adam's normalisation divides the decay's gradient by its own size, so the
# weight takes steps of about lr whatever wd is: a 100 times weaker decay pulls it down just as far.
# With AdamW the weight shrinks by the factor $(1 - \text{lr}\cdot\text{wd})$ a step, as intended,
# and wd sets how strongly.
#
# The learning rate itself follows a schedule. Adam's first steps rest on moving averages of only
# a few gradients, so a **linear warm-up** raises the rate from 0 over the first steps (the book
# uses 10 % of them); a **cosine decay** then lowers it to 0 along half a cosine, so training ends
# with small steps that settle the weights. `cosine_schedule(step, total_steps, base_lr,
# warmup_steps)` returns the rate for one step; the training loop sets `optimizer.lr` before each
# step. Plotted for the run of section 8 (15 epochs of 4,000 digits in batches of 128):

# %%
show_source(cosine_schedule)

# %%
epochs, batch_size, base_lr = 15, 128, 2e-3
n_steps, warmup = (
    epochs * (len(x_train) // batch_size),
    epochs * (len(x_train) // batch_size) // 10,
)
schedule = np.array(
    [cosine_schedule(k, n_steps, base_lr, warmup_steps=warmup) for k in range(n_steps)]
)
fig, ax = plt.subplots(figsize=(6, 3.2))
plot_curve(
    ax,
    np.arange(n_steps),
    schedule,
    "training step",
    "learning rate",
    title=(f"Linear warm-up over {warmup} of {n_steps} steps, then a half cosine to 0"),
)
plt.show()
middle = warmup + (n_steps - warmup) // 2
print(
    f"step 0: {schedule[0]:.1e}; step {warmup} (warm-up done): {schedule[warmup]:.1e}; "
    f"step {middle} (half-way down): {schedule[middle]:.1e}; last step: "
    f"{schedule[-1]:.1e}"
)

# %% [markdown]
# ## 8. Smoke test: an MLP on real MNIST digits
#
# The rest of the engine, layers in `helpers.nn`, optimisers in `helpers.optim`, the training loop
# in `helpers.train`, sits on these few operations. As an end-to-end test we train a two-layer MLP
# on the book's MNIST split (4,000 training digits, 1,000 test digits) with plain supervised labels.
# The model is `MLP([784, 256, 10])` with BatchNorm after its hidden layer, trained with AdamW on
# minibatches of 128 under section 7's schedule. Small random shifts, rotations and zooms of each
# training digit (`helpers.augment.random_affine`) serve as a regulariser, since 4,000 digits are
# few enough for an MLP to memorise; this chapter does not measure how much they help. The
# training step is a few lines; `helpers.train.fit` runs it and records the loss.

# %%
from helpers.augment import random_affine
from helpers.nn import MLP
from helpers.train import fit

rng = np.random.default_rng(0)
model = MLP([784, 256, 10], rng, batchnorm=True)
opt = AdamW(model.parameters(), lr=base_lr, weight_decay=0.01)
batches = endless_batches(len(x_train), batch_size, rng)


def train_step(step: int) -> float:
    """One minibatch: scheduled rate, augment, forward, loss, backward, AdamW."""
    opt.lr = cosine_schedule(step, n_steps, base_lr, warmup_steps=warmup)
    idx = next(batches)
    xb = random_affine(
        x_train[idx], rng, scale=(0.9, 1.1), rotation=0.15, translation=0.1
    )
    loss = cross_entropy(model(xb.reshape(len(idx), -1)), y_train[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


losses = fit(train_step, n_steps, desc="MLP on MNIST")

# %% tags=["approx:abs=0.01"]
from helpers.autograd import no_grad
from helpers.evaluation import linear_probe

model.eval()
with no_grad():
    mlp_acc = float((model(flat_test).data.argmax(axis=1) == y_test).mean())
pixel_acc = linear_probe(flat_train, y_train, flat_test, y_test)
print(f"MLP test accuracy:                          {mlp_acc:.3f}")
print(f"baseline, softmax regression on raw pixels: {pixel_acc:.3f}")
print(f"baseline, chance:                           {0.1:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
plot_curve(
    ax,
    np.arange(len(losses)),
    losses,
    "training step",
    "cross-entropy",
    title="Supervised MLP on MNIST-5k, trained by helpers.autograd",
)
ax.set_yscale("log")
plt.show()

# %% [markdown]
# The loss falls steadily (the first and last steps are compared below) and the network beats the
# linear baseline on held-out digits: the engine's gradients are right enough to train with. Every later chapter uses
# the same pieces, with a self-made target in place of the label.
#
# **The wrong mode.** The accuracy above was measured in evaluation mode. A copy of the trained
# model left in training mode normalises each test batch with that batch's own statistics
# (section 5): on batches of 250 test digits these are close to the running ones, on batches of 2
# they throw away all but the sign of each feature's difference between the two digits.

# %% tags=["approx:abs=0.02"]
def accuracy_in_training_mode(batch: int) -> float:
    """Test accuracy of the trained MLP left in training mode, batch by batch."""
    twin = model.copy().train()
    with no_grad():
        predictions = [
            twin(flat_test[i : i + batch]).data.argmax(axis=1)
            for i in range(0, len(flat_test), batch)
        ]
    return float((np.concatenate(predictions) == y_test).mean())


acc_train_250, acc_train_2 = (
    accuracy_in_training_mode(250),
    accuracy_in_training_mode(2),
)
print(f"evaluation mode (running statistics):      {mlp_acc:.3f}")
print(f"training mode, batches of 250 test digits: {acc_train_250:.3f}")
print(f"training mode, batches of 2 test digits:   {acc_train_2:.3f}")
print(f"batches of 2 cost more than 10 points: {bool(mlp_acc - acc_train_2 > 0.10)}")

# %% [markdown]
# ## What we measured

# %% tags=["approx:abs=0.01"]
print(f"gradient_check_rel_error_below_1e-7: {bool(rel_err < 1e-7)}")
print(f"mlp_test_accuracy: {mlp_acc:.3f}")
print(f"raw_pixel_softmax_regression_accuracy: {pixel_acc:.3f}")
print(f"mlp_beats_pixel_baseline_by_over_3_points: {bool(mlp_acc - pixel_acc > 0.03)}")
print(f"training_loss_first_20_steps: {losses[:20].mean():.3f}")
print(f"training_loss_last_20_steps: {losses[-20:].mean():.3f}")
print(f"training_steps: {len(losses)}")
print(f"batchnorm_gradient_matches_finite_differences: {bool(bn_err < 1e-7)}")
print(
    "training_mode_batches_of_2_cost_over_10_points: "
    f"{bool(mlp_acc - acc_train_2 > 0.10)}"
)

# %% [markdown]
# ## Exercises
#
# Three exercises, **8 points** in all (about 40 minutes). Each has a prompt, an answer cell and a
# check cell whose `assert`s say what is wrong; the grader adds hidden tests (chapter 00 explains
# the format).

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA1-ex1-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 1 (a fused sigmoid)** · 3 points · medium · ~15 min
#
# Add the logistic sigmoid $\sigma(x) = 1/(1 + e^{-x})$ to the engine as one fused operation:
# write `sigmoid(t)` that returns `Tensor.from_op(out, (t,), backward)`, where `backward(g)`
# returns the gradient with respect to `t`. Hint: $\sigma'(x) = \sigma(x)(1-\sigma(x))$. Make it
# numerically stable: for x = −1000 the formula above overflows in `np.exp(-x)`; compute
# $e^{-|x|}$ instead and pick the right expression for each sign of x.

# %% nbgrader={"grade": false, "grade_id": "chA1-ex1-answer", "locked": false, "schema_version": 3, "solution": true}
def sigmoid(t: Tensor) -> Tensor:
    """Elementwise logistic sigmoid as a single autograd node."""
    ### BEGIN SOLUTION
    z = np.exp(-np.abs(t.data))  # never overflows: the exponent is <= 0
    out = np.where(t.data >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return Tensor.from_op(out, (t,), lambda g: (g * out * (1 - out),))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "chA1-ex1-check", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# fmt: off
x0 = np.linspace(-3, 3, 7); t = Tensor(x0.copy(), requires_grad=True)
assert isinstance(sigmoid(t), Tensor), (
    "sigmoid should return a Tensor (use Tensor.from_op)")
assert np.allclose(sigmoid(Tensor(x0)).data, 1 / (1 + np.exp(-x0))), (
    "the values of sigmoid are wrong")
sigmoid(t).sum().backward()
assert t.grad is not None, (
    "no gradient reached t: pass (t,) as the parents and return a tuple from backward")
assert np.allclose(t.grad, numerical_gradient(lambda v: sigmoid(Tensor(v)).data.sum(),
    x0.copy()), atol=1e-8), "the gradient of sigmoid does not match finite differences"
with np.errstate(over="raise", invalid="raise"):
    _extreme = sigmoid(Tensor(np.array([-1000.0, 1000.0]))).data
assert np.array_equal(_extreme, [0.0, 1.0]), (
    "sigmoid overflows or is wrong at x = -1000 or 1000")
print("sigmoid: value and gradient check out")
### BEGIN HIDDEN TESTS
_x = np.random.default_rng(3).normal(scale=4, size=(4, 5))
_t = Tensor(_x.copy(), requires_grad=True)
(sigmoid(_t) * Tensor(np.arange(20.0).reshape(4, 5))).sum().backward()
assert np.allclose(sigmoid(Tensor(_x)).data, 0.5 * (1 + np.tanh(_x / 2))), (
    "sigmoid is wrong on a random 2-D input")
assert np.allclose(_t.grad, np.arange(20.0).reshape(4, 5) * 0.25 / np.cosh(_x / 2) ** 2
                   ), "the gradient is wrong for a non-uniform upstream gradient"
with np.errstate(over="raise", invalid="raise", divide="raise"):
    _big = Tensor(np.array([-800.0, -40.0, 40.0, 800.0]), requires_grad=True)
    sigmoid(_big).sum().backward()
assert np.all(np.isfinite(_big.grad)) and np.all(_big.grad >= 0), (
    "the gradient is not finite for large |x|")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA1-ex2-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 2 (broadcasting by hand)** · 2 points · easy · ~10 min
#
# `h` has shape `(5, 1)` and `k` has shape `(1, 4)`; the product `h * k` has shape `(5, 4)`.
# Given an upstream gradient `g` of shape `(5, 4)`, compute the gradients `grad_h` and `grad_k`
# of `(h * k * g).sum()` with numpy alone. The grader gives 0 to an answer that uses `Tensor` (in
# this cell, in cells you add, or in cells you write before it, exercise 1's own answer aside) and
# compares your gradients with the engine's itself.

# %% nbgrader={"grade": false, "grade_id": "chA1-ex2-answer", "locked": false, "schema_version": 3, "solution": true}
rng_ex = np.random.default_rng(1)
h0, k0, g = (
    rng_ex.normal(size=(5, 1)),
    rng_ex.normal(size=(1, 4)),
    rng_ex.normal(size=(5, 4)),
)
### BEGIN SOLUTION
grad_h = (g * k0).sum(axis=1, keepdims=True)
grad_k = (g * h0).sum(axis=0, keepdims=True)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "chA1-ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
assert np.shape(grad_h) == (5, 1), (
    f"grad_h should have h's shape (5, 1), not {np.shape(grad_h)}"
)
assert np.shape(grad_k) == (1, 4), (
    f"grad_k should have k's shape (1, 4), not {np.shape(grad_k)}"
)
# Both gradients, weighted by their own input, add up to the same total: sum of h * k *
# g.
assert np.isclose((grad_h * h0).sum(), (h0 * k0 * g).sum()), (
    "grad_h is not the gradient with respect to h"
)
assert np.isclose((grad_k * k0).sum(), (h0 * k0 * g).sum()), (
    "grad_k is not the gradient with respect to k"
)
print("broadcast gradients pass the visible checks")
### BEGIN HIDDEN TESTS
h, k = Tensor(h0, requires_grad=True), Tensor(k0, requires_grad=True)
(h * k * g).sum().backward()
assert np.allclose(grad_h, h.grad), "grad_h differs from the engine's gradient"
assert np.allclose(grad_k, k.grad), "grad_k differs from the engine's gradient"
### END HIDDEN TESTS


# %% [markdown] nbgrader={"grade": false, "grade_id": "chA1-ex3-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 3 (fold BatchNorm away)** · 3 points · medium · ~15 min
#
# In evaluation mode a BatchNorm layer is a fixed affine map of each feature (section 5), so it can
# be merged into the linear layer before it: one matrix product then does the work of both. For the
# trained MLP of section 8, `lin = model.layers[0]` (weight (784, 256), bias (256,)) is followed by
# `bn = model.norms[0]`. Compute `w_folded` (784, 256) and `b_folded` (256,) with numpy from their
# parameters and running statistics, so that `x @ w_folded + b_folded` equals `bn(lin(x))` in
# evaluation mode for every input `x`.

# %% nbgrader={"grade": false, "grade_id": "chA1-ex3-answer", "locked": false, "schema_version": 3, "solution": true}
lin, bn_trained = model.layers[0], model.norms[0]
### BEGIN SOLUTION
scale = bn_trained.weight.data / np.sqrt(bn_trained.running_var + bn_trained.eps)
w_folded = lin.weight.data * scale
b_folded = (lin.bias.data - bn_trained.running_mean) * scale + bn_trained.bias.data
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "chA1-ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false}
assert np.shape(w_folded) == (784, 256) and np.shape(b_folded) == (256,), (
    "w_folded must have shape (784, 256) and b_folded (256,), got "
    f"{np.shape(w_folded)} and {np.shape(b_folded)}"
)
assert not np.allclose(w_folded, lin.weight.data), (
    "w_folded equals the linear layer's weight: the trained BatchNorm rescales every "
    "column"
)
print("folded shapes check out")
### BEGIN HIDDEN TESTS
# the trained model's own layers: lin and bn_trained are names the answer cell binds
model.eval()
with no_grad():
    _expected = model.norms[0](model.layers[0](flat_test)).data
assert np.allclose(flat_test @ w_folded + b_folded, _expected, atol=1e-4), (
    "x @ w_folded + b_folded differs from bn(lin(x)) in evaluation mode on the test "
    "digits"
)
_x = np.random.default_rng(5).normal(size=(7, 784)).astype(np.float32)
with no_grad():
    assert np.allclose(
        _x @ w_folded + b_folded, model.norms[0](model.layers[0](_x)).data, atol=1e-4
    ), "the folded layer is wrong on inputs that are not digits"
### END HIDDEN TESTS
