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
# 5. a small MLP trained on real MNIST digits as a smoke test of the whole stack.

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
df_dc = df_dd                      # d = c + b
df_da = b_val * df_dc              # c = a * b
df_db = a_val * df_dc + df_dd      # b feeds c and d: contributions add
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
# ## 5. Smoke test: an MLP on real MNIST digits
#
# The rest of the engine, layers in `helpers.nn`, optimisers in `helpers.optim`, the training loop
# in `helpers.train`, sits on these few operations. As an end-to-end test we train a two-layer MLP
# on the book's MNIST split (4,000 training digits, 1,000 test digits) with plain supervised labels.

# %%
from helpers.data import mnist_split
from helpers.nn import MLP
from helpers.optim import Adam
from helpers.train import endless_batches, fit

x_train, y_train, x_test, y_test = mnist_split(seed=0)
flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
print("train images:", x_train.shape, " test images:", x_test.shape, " classes:", np.bincount(y_train))

# %% [markdown]
# The model is `MLP([784, 256, 10])` with BatchNorm, trained with Adam on minibatches of 128. Small
# random shifts, rotations and zooms of each training digit (`helpers.augment.random_affine`) serve
# as a regulariser, since 4,000 digits are few enough for an MLP to memorise; this chapter does not
# measure how much they help. The training step is a few lines; `helpers.train.fit` runs it and
# records the loss.

# %%
from helpers.augment import random_affine

rng = np.random.default_rng(0)
model = MLP([784, 256, 10], rng, batchnorm=True)
opt = Adam(model.parameters(), lr=2e-3)
epochs, batch_size = 15, 128
batches = endless_batches(len(x_train), batch_size, rng)


def train_step(step: int) -> float:
    """One minibatch: augment, forward, cross-entropy, backward, Adam update."""
    idx = next(batches)
    xb = random_affine(x_train[idx], rng, scale=(0.9, 1.1), rotation=0.15, translation=0.1)
    loss = cross_entropy(model(xb.reshape(len(idx), -1)), y_train[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


losses = fit(train_step, epochs * (len(x_train) // batch_size), desc="MLP on MNIST")

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
plot_curve(ax, np.arange(len(losses)), losses, "training step", "cross-entropy",
           title="Supervised MLP on MNIST-5k, trained by helpers.autograd")
ax.set_yscale("log")
plt.show()

# %% [markdown]
# The loss falls steadily (the first and last steps are compared below) and the network beats the
# linear baseline on held-out digits: the engine's gradients are right enough to train with. Every later chapter uses
# the same pieces, with a self-made target in place of the label.
#
# ## What we measured

# %% tags=["approx:abs=0.01"]
print(f"gradient_check_rel_error_below_1e-7: {bool(rel_err < 1e-7)}")
print(f"mlp_test_accuracy: {mlp_acc:.3f}")
print(f"raw_pixel_softmax_regression_accuracy: {pixel_acc:.3f}")
print(f"mlp_beats_pixel_baseline_by_over_3_points: {bool(mlp_acc - pixel_acc > 0.03)}")
print(f"training_loss_first_20_steps: {losses[:20].mean():.3f}")
print(f"training_loss_last_20_steps: {losses[-20:].mean():.3f}")
print(f"training_steps: {len(losses)}")

# %% [markdown]
# ## Exercises
#
# Two exercises, **5 points** in all (about 25 minutes). Each has a prompt, an answer cell and a
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
x0 = np.linspace(-3, 3, 7)
t = Tensor(x0.copy(), requires_grad=True)
assert isinstance(sigmoid(t), Tensor), "sigmoid should return a Tensor (use Tensor.from_op)"
assert np.allclose(sigmoid(Tensor(x0)).data, 1 / (1 + np.exp(-x0))), "the values of sigmoid are wrong"
sigmoid(t).sum().backward()
assert t.grad is not None, "no gradient reached t: pass (t,) as the parents and return a tuple from backward"
assert np.allclose(t.grad, numerical_gradient(lambda v: sigmoid(Tensor(v)).data.sum(), x0.copy()), atol=1e-8), \
    "the gradient of sigmoid does not match finite differences"
with np.errstate(over="raise", invalid="raise"):
    _extreme = sigmoid(Tensor(np.array([-1000.0, 1000.0]))).data
assert np.array_equal(_extreme, [0.0, 1.0]), "sigmoid overflows or is wrong at x = -1000 or 1000"
print("sigmoid: value and gradient check out")
### BEGIN HIDDEN TESTS
_x = np.random.default_rng(3).normal(scale=4, size=(4, 5))
_t = Tensor(_x.copy(), requires_grad=True)
(sigmoid(_t) * Tensor(np.arange(20.0).reshape(4, 5))).sum().backward()
assert np.allclose(sigmoid(Tensor(_x)).data, 0.5 * (1 + np.tanh(_x / 2))), "sigmoid is wrong on a random 2-D input"
assert np.allclose(_t.grad, np.arange(20.0).reshape(4, 5) * 0.25 / np.cosh(_x / 2) ** 2), \
    "the gradient is wrong for a non-uniform upstream gradient"
with np.errstate(over="raise", invalid="raise", divide="raise"):
    _big = Tensor(np.array([-800.0, -40.0, 40.0, 800.0]), requires_grad=True)
    sigmoid(_big).sum().backward()
assert np.all(np.isfinite(_big.grad)) and np.all(_big.grad >= 0), "the gradient is not finite for large |x|"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA1-ex2-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 2 (broadcasting by hand)** · 2 points · easy · ~10 min
#
# `h` has shape `(5, 1)` and `k` has shape `(1, 4)`; the product `h * k` has shape `(5, 4)`.
# Given an upstream gradient `g` of shape `(5, 4)`, compute the gradients `grad_h` and `grad_k`
# of `(h * k * g).sum()` with numpy alone (no `Tensor`). Then compare with the engine yourself.

# %% nbgrader={"grade": false, "grade_id": "chA1-ex2-answer", "locked": false, "schema_version": 3, "solution": true}
rng_ex = np.random.default_rng(1)
h0, k0, g = rng_ex.normal(size=(5, 1)), rng_ex.normal(size=(1, 4)), rng_ex.normal(size=(5, 4))
### BEGIN SOLUTION
grad_h = (g * k0).sum(axis=1, keepdims=True)
grad_k = (g * h0).sum(axis=0, keepdims=True)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "chA1-ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
assert np.shape(grad_h) == (5, 1), f"grad_h should have h's shape (5, 1), not {np.shape(grad_h)}"
assert np.shape(grad_k) == (1, 4), f"grad_k should have k's shape (1, 4), not {np.shape(grad_k)}"
# Both gradients, weighted by their own input, add up to the same total: sum of h * k * g.
assert np.isclose((grad_h * h0).sum(), (h0 * k0 * g).sum()), "grad_h is not the gradient with respect to h"
assert np.isclose((grad_k * k0).sum(), (h0 * k0 * g).sum()), "grad_k is not the gradient with respect to k"
print("broadcast gradients pass the visible checks")
### BEGIN HIDDEN TESTS
h, k = Tensor(h0, requires_grad=True), Tensor(k0, requires_grad=True)
(h * k * g).sum().backward()
assert np.allclose(grad_h, h.grad), "grad_h differs from the engine's gradient"
assert np.allclose(grad_k, k.grad), "grad_k differs from the engine's gradient"
### END HIDDEN TESTS
