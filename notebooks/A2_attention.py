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
# # A2 · Attention, built step by step
#
# Chapters 02 (masked language modeling), 03 (the masked autoencoder's vision transformer) and
# 06 (DINO) run transformer blocks whose core is one function, `helpers.nn.attention`. This
# appendix builds that function from nothing but numpy, in four steps, and checks each against
# the book's helper:
#
# 1. **one head**: every token asks a question (query), every token offers a key and a value; a
#    token's output is the average of the values, weighted by how well its query matches each key;
# 2. **the padding mask**: sentences of different lengths share a batch, and no token may attend
#    to the filler at the end of a short one;
# 3. **several heads**: the same computation on slices of the vectors, side by side;
# 4. **the gradient**: the helper computes its own backward pass; we check it against the same
#    attention written with the book's autograd (appendix A1).
#
# The tokens are real data: each row of an 8×8 digit from scikit-learn is one token of 8 numbers.
# The projections are random, since this appendix is about the mechanics, not about training.

# %%
import matplotlib.pyplot as plt
import numpy as np

from helpers import show_source
from helpers.autograd import Tensor, numerical_gradient
from helpers.data import load_digits
from helpers.nn import attention
from helpers.plots import use_book_style

use_book_style()
digits, digit_labels = load_digits()
rng = np.random.default_rng(0)
tokens = digits[:2].reshape(2, 8, 8).astype(np.float64)  # 2 sequences of 8 tokens, 8 numbers each
print(f"tokens: {tokens.shape} (sequences, tokens per sequence, numbers per token), "
      f"digits {digit_labels[:2].tolist()}")

# %% [markdown]
# ## 1. One head
#
# Three matrices turn each token x into a query q = x W_q, a key k = x W_k and a value v = x W_v.
# Token i scores token j by the dot product q_i · k_j, divided by √d (d = length of a key).
# A softmax over j turns the scores of row i into weights that are positive and sum to 1, and
# token i's output is the weighted sum of the values. For a whole sequence, as matrices:
# out = softmax(Q Kᵀ / √d) V.

# %%
D = 8
w_q, w_k, w_v = (rng.normal(0, 1.0, (D, D)) for _ in range(3))


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis; subtracting the row maximum first keeps exp from overflowing."""
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


x = tokens[0]
q, k, v = x @ w_q, x @ w_k, x @ w_v
weights = softmax_rows(q @ k.T / np.sqrt(D))
out = weights @ v
print(f"scores and weights: {weights.shape}; output: {out.shape}")
print(f"every row of weights sums to 1: {np.allclose(weights.sum(axis=1), 1)}")
print(f"all weights positive: {bool((weights > 0).all())}")

# %% [markdown]
# The weights of one sequence, as a picture: row i is where token i looks.

# %%
fig, axes = plt.subplots(1, 2, figsize=(6.5, 3.0))
axes[0].imshow(digits[0], cmap="gray_r")
axes[0].set(title=f"the digit ({digit_labels[0]}): 8 rows = 8 tokens", xticks=[], ylabel="token (row)")
im = axes[1].imshow(weights, cmap="viridis", vmin=0)
axes[1].set(xlabel="key token j", ylabel="query token i", title="attention weights (random projections)")
fig.colorbar(im, ax=axes[1], fraction=0.046)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Why divide by √d?** If the entries of q and k have unit variance and are independent, q · k
# is a sum of d products and its standard deviation grows like √d. Large scores drive the softmax
# to put almost all weight on one key, where its gradient vanishes. Dividing by √d keeps the
# scores' spread near 1 whatever d is. Measured on random vectors:

# %%
scale_rng = np.random.default_rng(1)
for d in (4, 64, 1024):
    qs, ks = scale_rng.normal(size=(2, 2000, d))
    dots = (qs * ks).sum(axis=1)
    print(f"d = {d:4d}: std of q·k {dots.std():6.2f}, of q·k/√d {(dots / np.sqrt(d)).std():.2f}")

# %% [markdown]
# ## 2. The padding mask
#
# A batch holds sequences of different lengths; the short ones are filled up with padding tokens.
# A padding token carries no information, so no query may give it weight. We mark padded keys with
# `True` in a mask of shape (N, L) and set their scores to the most negative number the dtype
# holds before the softmax, so their weights become exactly 0. Here the second sequence has only
# its first 5 rows; rows 6 to 8 are padding (filled with noise, to show they have no effect).

# %%
lengths = np.array([8, 5])
pad = np.arange(8)[None, :] >= lengths[:, None]  # True where a key is padding
batch = tokens.copy()
batch[1, 5:] = rng.normal(size=(3, D))


def one_head(x: np.ndarray, pad: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Single-head attention over x (N, L, D) with the module's W_q, W_k, W_v; returns output and weights."""
    scores = (x @ w_q) @ (x @ w_k).swapaxes(-1, -2) / np.sqrt(x.shape[-1])
    if pad is not None:
        scores = np.where(pad[:, None, :], np.finfo(scores.dtype).min, scores)
    weights = softmax_rows(scores)
    return weights @ (x @ w_v), weights


masked_out, masked_weights = one_head(batch, pad)
alone, _ = one_head(batch[1:, :5])  # the short sequence on its own, no padding at all
print("mask:\n", pad.astype(int))
print(f"weight on padded keys: {masked_weights[1][:, 5:].max()}")
print(f"short sequence's real tokens equal running it alone: {np.allclose(masked_out[1, :5], alone[0])}")

# %% [markdown]
# The padded *queries* (rows 6 to 8 of the second sequence) still produce outputs: they attend to
# the real tokens. Those outputs are ignored downstream (chapter 02 never scores a `[PAD]`
# position), so the mask only needs to hide keys.
#
# ## 3. Several heads
#
# One softmax row can only say "look mostly here". Multi-head attention runs H heads side by side,
# each on its own slice of d = D / H numbers of the queries, keys and values, and concatenates their
# outputs, so different heads can look at different tokens at no extra cost. `helpers.nn.attention`
# takes the queries, keys and values packed in one array (N, L, 3D), as a single linear layer
# produces them; we build the same layout and split it.

# %%
def multi_head(qkv: np.ndarray, n_heads: int, pad: np.ndarray | None = None) -> np.ndarray:
    """Multi-head attention from packed q|k|v (N, L, 3D): split heads, attend in each, concatenate."""
    n, length, d3 = qkv.shape
    dh = d3 // 3 // n_heads
    q, k, v = (part.reshape(n, length, n_heads, dh).transpose(0, 2, 1, 3) for part in np.split(qkv, 3, axis=-1))
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(dh)  # (N, H, L, L): one score matrix per head
    if pad is not None:
        scores = np.where(pad[:, None, None, :], np.finfo(scores.dtype).min, scores)
    heads = softmax_rows(scores) @ v  # (N, H, L, dh)
    return heads.transpose(0, 2, 1, 3).reshape(n, length, d3 // 3)


w_qkv = rng.normal(0, D**-0.5, (D, 3 * D))
qkv = batch @ w_qkv
ours = multi_head(qkv, n_heads=2, pad=pad)
helper_out, helper_weights = attention(Tensor(qkv), 2, key_padding_mask=pad)
print(f"output shape {ours.shape}, helper's attention maps {helper_weights.shape} (N, heads, L, L)")
print(f"equal to helpers.nn.attention (largest difference below 1e-12): {np.abs(ours - helper_out.data).max() < 1e-12}")

# %% [markdown]
# With one head the same function is section 1's computation (W_q, W_k, W_v side by side form
# the packed matrix):

# %%
packed = np.concatenate([w_q, w_k, w_v], axis=1)
print(f"one head of the multi-head code equals section 2: "
      f"{np.allclose(multi_head(batch @ packed, 1, pad), masked_out)}")

# %% [markdown]
# ## 4. The gradient
#
# Training needs the gradient of a loss with respect to the packed q|k|v. The helper computes it
# with a hand-written backward pass (one node in the graph instead of a dozen, so it is fast and
# light on memory). To check it, we write the same attention with the book's autograd `Tensor`
# operations, whose backward passes appendix A1 built and checked one by one, and compare the
# gradients of the same loss, a fixed random weighting of the outputs.

# %%
def multi_head_autograd(qkv: Tensor, n_heads: int, pad: np.ndarray) -> Tensor:
    """Section 3's multi-head attention written with autograd operations (mask as an added constant)."""
    n, length, d3 = qkv.shape
    dh = d3 // 3 // n_heads
    parts = [qkv[:, :, i * d3 // 3:(i + 1) * d3 // 3].reshape(n, length, n_heads, dh).transpose(0, 2, 1, 3)
             for i in range(3)]
    q, k, v = parts
    blocked = np.where(pad[:, None, None, :], -1e30, 0.0)
    weights = (q @ k.swapaxes(-1, -2) / np.sqrt(dh) + blocked).softmax(axis=-1)
    return (weights @ v).transpose(0, 2, 1, 3).reshape(n, length, d3 // 3)


loss_weights = rng.normal(size=ours.shape)
grads = {}
for name, fn in [("helper", lambda t: attention(t, 2, key_padding_mask=pad)[0]),
                 ("autograd", lambda t: multi_head_autograd(t, 2, pad))]:
    t = Tensor(qkv.copy(), requires_grad=True)
    (fn(t) * loss_weights).sum().backward()
    grads[name] = t.grad
print(f"gradients equal, helper vs autograd (largest difference below 1e-12): "
      f"{np.abs(grads['helper'] - grads['autograd']).max() < 1e-12}")

# %% [markdown]
# And both against finite differences (A1's `numerical_gradient`), which needs nothing but the
# forward computation of section 3:

# %%
fd = numerical_gradient(lambda a: float((multi_head(a, 2, pad) * loss_weights).sum()), qkv.copy())
print(f"helper and finite differences agree (largest difference below 1e-7): {np.abs(grads['helper'] - fd).max() < 1e-7}")

# %% [markdown]
# ## The helper
#
# Here is `helpers.nn.attention` itself: the same reshapes and masked softmax as section 3,
# computed in place to save memory, and the backward pass we just checked. The layer
# `helpers.nn.MultiHeadSelfAttention` wraps it between two linear maps (the packed q|k|v
# projection and an output projection), and `TransformerBlock` adds LayerNorm, a residual sum and
# an MLP around that.

# %%
show_source(attention)

# %% [markdown]
# ## Exercises
#
# Three exercises, **7 points** in all (about 35 minutes). Each has a prompt, an answer cell and a
# check cell whose `assert`s say what is wrong; the grader adds hidden tests (chapter 00 explains
# the format).

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA2-ex1-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 1 (a causal mask)** · 2 points · easy · ~10 min
#
# GPT-style models let token i attend only to tokens j ≤ i. Write `causal_attention(q, k, v)` for
# single-head arrays of shape (L, d): section 1's attention, with every score for j > i blocked
# before the softmax.

# %% nbgrader={"grade": false, "grade_id": "chA2-ex1-answer", "locked": false, "schema_version": 3, "solution": true}
def causal_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Single-head attention in which token i sees only tokens 0..i."""
    ### BEGIN SOLUTION
    scores = q @ k.T / np.sqrt(q.shape[-1])
    future = np.triu(np.ones(scores.shape, bool), k=1)
    return softmax_rows(np.where(future, np.finfo(scores.dtype).min, scores)) @ v
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "chA2-ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex_rng = np.random.default_rng(7)
ex_q, ex_k, ex_v = ex_rng.normal(size=(3, 6, 4))
ex_out = causal_attention(ex_q, ex_k, ex_v)
assert ex_out is not None and np.shape(ex_out) == (6, 4), "the output must have the shape of v, (L, d)"
assert np.allclose(ex_out[0], ex_v[0]), "the first token can only see itself, so its output is its own value"
### BEGIN HIDDEN TESTS
changed_v = ex_v.copy()
changed_v[-1] += 10
assert np.allclose(causal_attention(ex_q, ex_k, changed_v)[:-1], ex_out[:-1]), \
    "changing the last token's value changed earlier outputs: a token sees tokens after it"
assert np.allclose(ex_out[-1], softmax_rows(ex_q[-1] @ ex_k.T / 2.0) @ ex_v), \
    "the last token's output is not section 1's attention over all tokens"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA2-ex2-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 2 (how sharp are the weights?)** · 2 points · medium · ~10 min
#
# Write `mean_entropy(q, k, scale)`, the mean over rows of the entropy (in nats) of
# softmax(scale · Q Kᵀ), for arrays of shape (L, d). Then compute `entropy_scaled` with
# scale = 1/√d and `entropy_unscaled` with scale = 1 for `q_big, k_big` below (d = 256), and
# see what the √d of section 1 does to the weights.

# %% nbgrader={"grade": false, "grade_id": "chA2-ex2-answer", "locked": false, "schema_version": 3, "solution": true}
q_big, k_big = np.random.default_rng(8).normal(size=(2, 32, 256))


def mean_entropy(q: np.ndarray, k: np.ndarray, scale: float) -> float:
    """Mean entropy (nats) of the rows of softmax(scale * q @ k.T)."""
    ### BEGIN SOLUTION
    p = softmax_rows(scale * q @ k.T)
    return float(-(p * np.log(np.maximum(p, 1e-300))).sum(axis=1).mean())
    ### END SOLUTION


### BEGIN SOLUTION
entropy_scaled = mean_entropy(q_big, k_big, 256**-0.5)
entropy_unscaled = mean_entropy(q_big, k_big, 1.0)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "chA2-ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
assert isinstance(mean_entropy(q_big, k_big, 1.0), float), "mean_entropy must return a float"
assert 0 <= entropy_unscaled <= np.log(32) and 0 <= entropy_scaled <= np.log(32), \
    "an entropy over 32 keys lies between 0 and log 32"
### BEGIN HIDDEN TESTS
assert abs(mean_entropy(np.zeros((3, 4)), np.ones((5, 4)), 1.0) - np.log(5)) < 1e-9, \
    "mean_entropy is wrong for uniform weights over 5 keys"
def _reference_entropy(scale):
    s = scale * q_big @ k_big.T
    logp = s - s.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    return float(-(np.exp(logp) * logp).sum(axis=1).mean())


assert abs(entropy_scaled - _reference_entropy(256 ** -0.5)) < 1e-6 \
    and abs(entropy_unscaled - _reference_entropy(1.0)) < 1e-6, \
    "entropy_scaled or entropy_unscaled is not the mean entropy of q_big, k_big at the scale asked"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA2-ex3-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 3 (the gradient for the values)** · 3 points · medium · ~15 min
#
# For out = P V with fixed weights P (L, L), a loss with gradient G = ∂loss/∂out (L, d) has
# ∂loss/∂V = Pᵀ G. Write `value_gradient(p, g)` and check it yourself against autograd:
# `Tensor(v, requires_grad=True)`, `(Tensor(p) @ tv * g).sum().backward()`.

# %% nbgrader={"grade": false, "grade_id": "chA2-ex3-answer", "locked": false, "schema_version": 3, "solution": true}
def value_gradient(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Gradient of sum(g * (p @ v)) with respect to v."""
    ### BEGIN SOLUTION
    return p.T @ g
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "chA2-ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false}
ex3_rng = np.random.default_rng(9)
ex3_p = softmax_rows(ex3_rng.normal(size=(5, 5)))
ex3_g = ex3_rng.normal(size=(5, 3))
assert np.shape(value_gradient(ex3_p, ex3_g)) == (5, 3), "the gradient has the shape of v"
### BEGIN HIDDEN TESTS
tv = Tensor(ex3_rng.normal(size=(5, 3)), requires_grad=True)
(Tensor(ex3_p) @ tv * ex3_g).sum().backward()
assert np.allclose(value_gradient(ex3_p, ex3_g), tv.grad), "value_gradient does not match autograd's gradient for v"
### END HIDDEN TESTS
