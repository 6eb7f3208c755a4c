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
# appendix builds that function from nothing but numpy, checks each step against the book's
# helper, then builds the block around it and trains one:
#
# 1. **one head**: every token asks a question (query), every token offers a key and a value; a
#    token's output is the average of the values, weighted by how well its query matches each key;
# 2. **the padding mask**: sentences of different lengths share a batch, and no token may attend
#    to the filler at the end of a short one;
# 3. **several heads**: the same computation on slices of the vectors, side by side;
# 4. **the gradient**: the helper computes its own backward pass; we check it against the same
#    attention written with the book's autograd (appendix A1);
# 5. **the softmax Jacobian**, derived and checked, the one non-linear step of that gradient;
# 6. **the transformer block**: LayerNorm, residual connections, the MLP, rebuilt in numpy;
# 7. **positions**: why attention cannot tell order without them (shown numerically), the
#    position embedding, and the [CLS] token;
# 8. **training**: a one-block transformer learns to reverse sequences of tokens, and we watch its
#    attention move to the right place.
#
# In sections 1 to 7 the tokens are real data: each row of an 8×8 digit from scikit-learn is one
# token of 8 numbers, and the projections are random, since those sections are about the mechanics.

# %%
import matplotlib.pyplot as plt
import numpy as np

from helpers import show_source
from helpers.autograd import Tensor, numerical_gradient
from helpers.data import load_digits
from helpers.nn import attention
from helpers.plots import plot_curve, use_book_style

use_book_style()
digits, digit_labels = load_digits()
rng = np.random.default_rng(0)
# 2 sequences of 8 tokens, 8 numbers each
tokens = digits[:2].reshape(2, 8, 8).astype(np.float64)
print(
    f"tokens: {tokens.shape} (sequences, tokens per sequence, numbers per token), "
    f"digits {digit_labels[:2].tolist()}"
)

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
    """Softmax over the last axis; subtracting the row max keeps exp finite."""
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
axes[0].set(
    title=f"the digit ({digit_labels[0]}): 8 rows = 8 tokens",
    xticks=[],
    ylabel="token (row)",
)
im = axes[1].imshow(weights, cmap="viridis", vmin=0)
axes[1].set(
    xlabel="key token j",
    ylabel="query token i",
    title="attention weights (random projections)",
)
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
    print(
        f"d = {d:4d}: std of q·k {dots.std():6.2f}, of q·k/√d "
        f"{(dots / np.sqrt(d)).std():.2f}"
    )

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


def one_head(
    x: np.ndarray, pad: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Single-head attention over x (N, L, D) with W_q, W_k, W_v; output, weights."""
    scores = (x @ w_q) @ (x @ w_k).swapaxes(-1, -2) / np.sqrt(x.shape[-1])
    if pad is not None:
        scores = np.where(pad[:, None, :], np.finfo(scores.dtype).min, scores)
    weights = softmax_rows(scores)
    return weights @ (x @ w_v), weights


masked_out, masked_weights = one_head(batch, pad)
alone, _ = one_head(batch[1:, :5])  # the short sequence on its own, no padding at all
print("mask:\n", pad.astype(int))
print(f"weight on padded keys: {masked_weights[1][:, 5:].max()}")
print(
    "short sequence's real tokens equal running it alone: "
    f"{np.allclose(masked_out[1, :5], alone[0])}"
)

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
def multi_head(
    qkv: np.ndarray, n_heads: int, pad: np.ndarray | None = None
) -> np.ndarray:
    """Multi-head attention from packed q|k|v: split heads, attend, concatenate."""
    n, length, d3 = qkv.shape
    dh = d3 // 3 // n_heads
    q, k, v = (
        part.reshape(n, length, n_heads, dh).transpose(0, 2, 1, 3)
        for part in np.split(qkv, 3, axis=-1)
    )
    # (N, H, L, L): one score matrix per head
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(dh)
    if pad is not None:
        scores = np.where(pad[:, None, None, :], np.finfo(scores.dtype).min, scores)
    heads = softmax_rows(scores) @ v  # (N, H, L, dh)
    return heads.transpose(0, 2, 1, 3).reshape(n, length, d3 // 3)


w_qkv = rng.normal(0, D**-0.5, (D, 3 * D))
qkv = batch @ w_qkv
ours = multi_head(qkv, n_heads=2, pad=pad)
helper_out, helper_weights = attention(Tensor(qkv), 2, key_padding_mask=pad)
print(
    f"output shape {ours.shape}, helper's attention maps {helper_weights.shape} (N, "
    "heads, L, L)"
)
print(
    "equal to helpers.nn.attention (largest difference below 1e-12): "
    f"{np.abs(ours - helper_out.data).max() < 1e-12}"
)

# %% [markdown]
# With one head the same function is section 1's computation (W_q, W_k, W_v side by side form
# the packed matrix):

# %%
packed = np.concatenate([w_q, w_k, w_v], axis=1)
print(
    f"one head of the multi-head code equals section 2: "
    f"{np.allclose(multi_head(batch @ packed, 1, pad), masked_out)}"
)

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
    """Section 3's multi-head attention in autograd operations (mask added)."""
    n, length, d3 = qkv.shape
    dh = d3 // 3 // n_heads
    parts = [
        qkv[:, :, i * d3 // 3 : (i + 1) * d3 // 3]
        .reshape(n, length, n_heads, dh)
        .transpose(0, 2, 1, 3)
        for i in range(3)
    ]
    q, k, v = parts
    blocked = np.where(pad[:, None, None, :], -1e30, 0.0)
    weights = (q @ k.swapaxes(-1, -2) / np.sqrt(dh) + blocked).softmax(axis=-1)
    return (weights @ v).transpose(0, 2, 1, 3).reshape(n, length, d3 // 3)


loss_weights = rng.normal(size=ours.shape)
grads = {}
for name, fn in [
    ("helper", lambda t: attention(t, 2, key_padding_mask=pad)[0]),
    ("autograd", lambda t: multi_head_autograd(t, 2, pad)),
]:
    t = Tensor(qkv.copy(), requires_grad=True)
    (fn(t) * loss_weights).sum().backward()
    grads[name] = t.grad
print(
    f"gradients equal, helper vs autograd (largest difference below 1e-12): "
    f"{np.abs(grads['helper'] - grads['autograd']).max() < 1e-12}"
)

# %% [markdown]
# And both against finite differences (A1's `numerical_gradient`), which needs nothing but the
# forward computation of section 3:

# %%
fd = numerical_gradient(
    lambda a: float((multi_head(a, 2, pad) * loss_weights).sum()), qkv.copy()
)
print(
    "helper and finite differences agree (largest difference below 1e-7): "
    f"{np.abs(grads['helper'] - fd).max() < 1e-7}"
)

# %% [markdown]
# ## 5. Inside the gradient: the softmax Jacobian
#
# The one step of attention's backward pass that is not a matrix product is the softmax. For one
# row of scores $s$ and weights $p_i = e^{s_i} / \sum_j e^{s_j}$, differentiate $p_i$ by $s_j$:
# the numerator gives $p_i$ when $j = i$, the denominator gives $-p_i p_j$ always, so
#
# $$\frac{\partial p_i}{\partial s_j} = p_i(\delta_{ij} - p_j), \qquad
#   J = \operatorname{diag}(p) - p\,p^\top .$$
#
# $J$ is symmetric, and each of its rows sums to 0: adding the same number to every score leaves
# the weights unchanged. We check it against finite differences (A1's `numerical_gradient`, one row
# of $J$ at a time) on the first row of section 1's scores.

# %%
s0 = (q @ k.T / np.sqrt(D))[0]
p0 = softmax_rows(s0)
jacobian = np.diag(p0) - np.outer(p0, p0)
numeric_jacobian = np.stack(
    [
        numerical_gradient(lambda s, i=i: float(softmax_rows(s)[i]), s0.copy())
        for i in range(len(s0))
    ]
)
print(
    "J equals finite differences (largest difference below 1e-8): "
    f"{np.abs(jacobian - numeric_jacobian).max() < 1e-8}"
)
print(
    f"J symmetric: {np.allclose(jacobian, jacobian.T)}; rows sum to 0: "
    f"{np.allclose(jacobian.sum(axis=1), 0)}"
)

# %% [markdown]
# **Why it matters for √d.** Where the weights are nearly one-hot, $p_i(\delta_{ij} - p_j)$ is
# close to 0 for every entry, so almost no gradient passes back to the scores, and so to the
# queries and keys. Section 1 divided by √d to avoid exactly that; here is the size of $J$ (its
# Frobenius norm $|J|$, one per row of weights) for 64 random queries and keys with d = 256, with
# and without the division:

# %%
jac_rng = np.random.default_rng(2)
q256, k256 = jac_rng.normal(size=(2, 64, 256))
for name, scale in (("q·k / √d", 256**-0.5), ("q·k", 1.0)):
    p_rows = softmax_rows(scale * q256 @ k256.T)
    norms = [np.linalg.norm(np.diag(r) - np.outer(r, r)) for r in p_rows]
    print(
        f"scores {name:8s}: largest weight per row {p_rows.max(axis=1).mean():.2f} on "
        "average, median |J| "
        f"{np.median(norms):.3f}, rows with |J| below 0.01 (almost no gradient) "
        f"{np.mean(np.array(norms) < 0.01):.0%}"
    )

# %% [markdown]
# A backward pass never builds $J$ ($L \times L$ numbers per row of weights). It needs only the
# product with the gradient $g = \partial L / \partial p$ arriving at the weights, and since
# $J$ is symmetric, $J g = p \odot g - p\,(p \cdot g) = p \odot (g - p \cdot g)$: a dot product and
# an elementwise product, $O(L)$ work per row instead of $O(L^2)$.

# %%
g_row = np.random.default_rng(3).normal(size=len(p0))
print(
    "p * (g - p·g) equals J @ g: "
    f"{np.allclose(p0 * (g_row - p0 @ g_row), jacobian @ g_row)}"
)

# %% [markdown]
# ## The helper
#
# Here is `helpers.nn.attention` itself: the same reshapes and masked softmax as section 3,
# computed in place to save memory, and the backward pass we just checked. In it, `gs` is first the
# gradient reaching the weights; the two lines `gs -= (gs * p).sum(...)` and `gs *= p` turn it into
# the gradient reaching the scores, section 5's $p \odot (g - p \cdot g)$ for every row at once.
# The layer `helpers.nn.MultiHeadSelfAttention` wraps it between two linear maps (the packed q|k|v
# projection and an output projection); section 6 builds the block around that.

# %%
show_source(attention)

# %% [markdown]
# ## 6. The transformer block
#
# Attention mixes information **between** tokens; a transformer block wraps it with the parts that
# work on each token alone. The book's `TransformerBlock` is a *pre-norm* block, as in GPT-2 and
# the vision transformers of chapters 03 and 06:
#
# 1. **LayerNorm** (appendix A1, section 6) standardises each token's vector on its own;
# 2. **multi-head attention** (section 3) of the normalised tokens, followed by an output
#    projection, is **added** to the input: $x \leftarrow x + \text{Attn}(\text{LN}(x))$;
# 3. a second LayerNorm and a two-layer **MLP** (width 4·D, GELU), applied to every token
#    separately, are added the same way: $x \leftarrow x + \text{MLP}(\text{LN}(x))$.
#
# The additions are **residual connections**: each sub-layer only adds a correction to a stream
# that passes through untouched, and in the backward pass the gradient flows along that stream
# through every block unchanged (the derivative of $x + f(x)$ is $1 + f'(x)$). Normalising *before*
# each sub-layer (pre-norm), rather than after each addition as the original Transformer did,
# leaves that stream itself untouched by normalisation. We rebuild one block with numpy from the parameters of a
# `helpers.nn.TransformerBlock` and check that both agree on the digit tokens:

# %%
from helpers.nn import LayerNorm, Linear, TransformerBlock

block = TransformerBlock(D, 2, np.random.default_rng(4), dtype=np.float64)


def layer_norm_rows(x: np.ndarray, norm: LayerNorm) -> np.ndarray:
    """Each token's vector standardised, then scaled and shifted (LayerNorm)."""
    var = x.var(axis=-1, keepdims=True)
    x_hat = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(var + norm.eps)
    return x_hat * norm.weight.data + norm.bias.data


def affine(x: np.ndarray, layer: Linear) -> np.ndarray:
    """x W + b with a Linear layer's parameters."""
    return x @ layer.weight.data + layer.bias.data


qkv_block = affine(layer_norm_rows(tokens, block.norm1), block.attn.qkv)
stream = tokens + affine(multi_head(qkv_block, 2), block.attn.proj)  # x + Attn(LN(x))
normed = affine(layer_norm_rows(stream, block.norm2), block.mlp.layers[0])
hidden = Tensor(normed).gelu().data
stream = stream + affine(hidden, block.mlp.layers[1])  # x + MLP(LN(x))
print(
    "numpy block equals helpers.nn.TransformerBlock: "
    f"{np.allclose(stream, block(tokens).data)}"
)
show_source(TransformerBlock.forward)

# %% [markdown]
# ## 7. Why attention needs positions
#
# Nothing in the block knows where a token sits. LayerNorm, the linear maps and the MLP act on each
# token alone, and attention weighs every key by its content only. So if we shuffle the tokens of
# a sequence, each one meets the same company and comes out the same, only shuffled: the block is
# **permutation-equivariant**. A transformer without positions sees a *set* of tokens, not a
# sequence. Measured on the first digit's rows, shuffled:

# %%
perm = np.random.default_rng(5).permutation(8)
shuffled_out, out_shuffled = block(tokens[:, perm]).data, block(tokens).data[:, perm]
print(
    "block(shuffled rows) equals block(rows), shuffled: "
    f"{np.allclose(shuffled_out, out_shuffled)}"
)
print(f"(the rows in the order {perm.tolist()})")

# %% [markdown]
# The cure is to add a **position embedding** to each token before the first block: a vector that
# depends only on the position, so that "a 3 at position 2" and "a 3 at position 5" become
# different inputs. It can be learned (section 8 does that) or fixed. The book's fixed one,
# `helpers.nn.sincos_1d`, fills each vector with sines and cosines of the position at
# geometrically spaced frequencies, as in the original Transformer. With it added, shuffling no
# longer just shuffles the outputs:

# %%
from helpers.nn import sincos_1d

positions = sincos_1d(8, D).astype(np.float64)
moved = np.abs(
    block(tokens[:, perm] + positions).data - block(tokens + positions).data[:, perm]
).max()
print(
    f"with positions: largest difference between the two {moved:.2f}; still "
    f"equivariant: {moved < 1e-9}"
)
# %% [markdown]
# The table is easier to read for longer sequences and wider vectors (64 positions of 32 numbers):
# the first dimensions oscillate fast, the last ones slowly, and the cosine similarity of two
# position vectors falls as the positions move apart.

# %%
table = sincos_1d(64, 32).astype(np.float64)
cosine = (
    table
    @ table.T
    / np.outer(np.linalg.norm(table, axis=1), np.linalg.norm(table, axis=1))
)
print(
    "cosine similarity of position 20 with positions 20, 21, 23, 30, 50:",
    np.round(cosine[20, [20, 21, 23, 30, 50]], 2).tolist(),
)
fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.2))
axes[0].imshow(table, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
axes[0].set(xlabel="dimension", ylabel="position", title="sincos_1d(64, 32)")
im = axes[1].imshow(cosine, cmap="viridis")
axes[1].set(
    xlabel="position", ylabel="position", title="cosine similarity of position vectors"
)
fig.colorbar(im, ax=axes[1], fraction=0.046)
fig.tight_layout()
plt.show()

# %% [markdown]
# **The [CLS] token.** To classify a whole sequence, BERT and the vision transformer put one extra
# learned vector, `[CLS]`, in front of the tokens (`helpers.nn.prepend_token`) and read the class
# from its output: through attention it can gather from every token. It gets no position of its
# own. Without positions on the other tokens its output is even **invariant**: it does not change
# at all when they are shuffled, so it summarises the set. Chapters 03 and 06 put one in front of
# their image patches; chapter 06 reads its features from it and looks at where its attention falls.

# %%
from helpers.nn import prepend_token

cls = Tensor(np.random.default_rng(6).normal(0, 0.02, (1, 1, D)))
cls_out = block(prepend_token(cls, Tensor(tokens))).data[:, 0]
cls_out_shuffled = block(prepend_token(cls, Tensor(tokens[:, perm]))).data[:, 0]
print(
    "[CLS] output unchanged by shuffling the tokens: "
    f"{np.allclose(cls_out, cls_out_shuffled)}"
)

# %% [markdown]
# ## 8. Attention learns where to look
#
# So far every projection was random. Now we train a small transformer on a task whose answer we
# know, and watch its attention. The task: **reverse a sequence**. The input is 8 tokens drawn at
# random from a vocabulary of 16; the target at position $i$ is the input token at position
# $7 - i$. A model that solves it must, at every position, fetch the token from the mirror
# position: a pure "where to look" problem, and one that needs positions, since a sequence and
# its reverse hold the same set of tokens.
#
# The model, assembled from the pieces above: a token embedding (`helpers.nn.Embedding`, one
# learned vector per token), a learned position embedding added to it (drawn like the token
# vectors, N(0, 1)), one `TransformerBlock` with one head, a final LayerNorm and a linear layer
# giving 16 logits at every position. A twin without position embeddings is trained beside it.

# %%
from helpers.autograd import no_grad
from helpers.losses import cross_entropy
from helpers.nn import Embedding, Module
from helpers.optim import AdamW, cosine_schedule
from helpers.train import endless_batches, fit

VOCAB, LENGTH, WIDTH = 16, 8, 32
task_rng = np.random.default_rng(10)
train_ids, test_ids = (
    task_rng.integers(0, VOCAB, (5000, LENGTH)),
    task_rng.integers(0, VOCAB, (1000, LENGTH)),
)
# position i must copy the token at position mirror[i]
mirror = LENGTH - 1 - np.arange(LENGTH)
print(
    f"a training sequence {train_ids[0].tolist()} -> target "
    f"{train_ids[0, mirror].tolist()}"
)

# %%
class TinyReverser(Module):
    """Token embedding (+ positions) -> one TransformerBlock -> LayerNorm -> logits."""

    def __init__(self, rng: np.random.Generator, use_positions: bool = True) -> None:
        self.embed = Embedding(VOCAB, WIDTH, rng)
        self.pos = (
            Tensor(
                rng.normal(size=(LENGTH, WIDTH)).astype(np.float32), requires_grad=True
            )
            if use_positions
            else None
        )
        self.block = TransformerBlock(WIDTH, 1, rng)
        self.norm = LayerNorm(WIDTH)
        self.head = Linear(WIDTH, VOCAB, rng)

    def forward(self, ids: np.ndarray) -> tuple[Tensor, np.ndarray]:
        """Logits (N, L, VOCAB) and attention weights (N, 1, L, L) for ids (N, L)."""
        x = self.embed(ids) if self.pos is None else self.embed(ids) + self.pos
        h, weights = self.block(x, return_attention=True)
        return self.head(self.norm(h)), weights

# %% [markdown]
# The measure of where it looks: for each query position $i$, the **share of attention on the
# mirror position** $7 - i$, averaged over positions, then over 1,000 held-out sequences (mean ±
# standard error). Spread evenly over 8 keys, attention would put 1/8 there. We record it on 256
# held-out sequences every 10 steps while training with AdamW under A1's warm-up + cosine schedule.

# %%
def mirror_share(model: TinyReverser, ids: np.ndarray) -> np.ndarray:
    """Per sequence: attention on the mirror position, averaged over queries."""
    with no_grad():
        _, weights = model(ids)
    return weights[:, 0, np.arange(LENGTH), mirror].mean(axis=1)


# %%
def train_reverser(
    use_positions: bool, n_steps: int = 600, lr: float = 2e-3
) -> tuple[TinyReverser, np.ndarray, list]:
    """Train a TinyReverser; return it, its losses, (step, mirror share) history."""
    rng = np.random.default_rng(11)
    model = TinyReverser(rng, use_positions)
    opt, batches, history = (
        AdamW(model.parameters(), lr=lr, weight_decay=0.01),
        endless_batches(5000, 64, rng),
        [],
    )

    def step(k: int) -> float:
        if k % 10 == 0:
            history.append((k, mirror_share(model, test_ids[:256]).mean()))
        opt.lr = cosine_schedule(k, n_steps, lr, warmup_steps=n_steps // 10)
        ids = train_ids[next(batches)]
        logits, _ = model(ids)
        loss = cross_entropy(logits.reshape(-1, VOCAB), ids[:, mirror].ravel())
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return (
        model,
        fit(step, n_steps, desc=f"reverse, positions={use_positions}"),
        history,
    )


# %% [markdown]
# The untrained model below starts from the same seed, so it is the trained one before its first step.

# %%
untrained_share = mirror_share(TinyReverser(np.random.default_rng(11)), test_ids)
reverser, reverser_losses, share_history = train_reverser(True)
no_pos, no_pos_losses, _ = train_reverser(False)

# %% tags=["approx:abs=0.02"]
def accuracy(model: TinyReverser) -> float:
    """Share of held-out output tokens predicted right."""
    with no_grad():
        logits, _ = model(test_ids)
    return float((logits.data.argmax(axis=-1) == test_ids[:, mirror]).mean())


def mean_se(values: np.ndarray) -> str:
    """'mean ± standard error' of per-sequence values."""
    return f"{values.mean():.3f} ± {values.std(ddof=1) / np.sqrt(len(values)):.4f}"


acc_pos, acc_no_pos, chance = accuracy(reverser), accuracy(no_pos), 1 / VOCAB
trained_share = mirror_share(reverser, test_ids)
print(
    f"held-out token accuracy: with positions {acc_pos:.3f}, without {acc_no_pos:.3f}, "
    f"chance {chance:.3f}"
)
print(
    f"attention on the mirror position: untrained {mean_se(untrained_share)}, trained "
    f"{mean_se(trained_share)}, "
    f"even spread {1 / LENGTH:.3f}"
)
gain = trained_share - untrained_share  # paired: the same held-out sequences
print(
    f"trained minus untrained, paired over the sequences: {mean_se(gain)}; "
    "above 0 by more than 2 standard errors: "
    f"{bool(gain.mean() > 2 * gain.std(ddof=1) / np.sqrt(len(gain)))}"
)

# %% [markdown]
# The attention maps, averaged over the held-out sequences, before and after training, and the
# share on the mirror position as training goes:

# %%
with no_grad():
    before = TinyReverser(np.random.default_rng(11))(test_ids)[1][:, 0].mean(axis=0)
    after = reverser(test_ids)[1][:, 0].mean(axis=0)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.1))
for ax, weights_map, title in (
    (axes[0], before, "untrained"),
    (axes[1], after, "trained"),
):
    ax.imshow(weights_map, cmap="viridis", vmin=0, vmax=1)
    ax.set(
        xlabel="key position", ylabel="query position", title=f"mean attention, {title}"
    )
steps_seen, shares = np.array(share_history).T
plot_curve(
    axes[2],
    steps_seen,
    shares,
    "training step",
    "attention on mirror position",
    title="attention learning where to look",
)
axes[2].axhline(1 / LENGTH, color="grey", ls="--")
fig.tight_layout()
plt.show()

# %% [markdown]
# The trained head looks almost only at the mirror position: the anti-diagonal of the map. The
# twin without positions cannot do it, however long it trains: by section 7 its output at a
# position is a function of that position's own token and of the collection of all tokens, which
# is the same for a sequence and its reverse. Its accuracy stays far below; it is above chance
# because the twin learns to guess tokens that occur somewhere in the input, as counted below. And
# it stays equivariant after training:

# %% tags=["approx:abs=0.02"]
with no_grad():
    equivariant = np.allclose(
        no_pos(test_ids[:, perm])[0].data, no_pos(test_ids)[0].data[:, perm], atol=1e-5
    )
    guesses = no_pos(test_ids)[0].data.argmax(axis=-1)
print(
    "trained model without positions: shuffled input gives shuffled output: "
    f"{equivariant}"
)
in_input = np.mean(
    [np.isin(row_guess, row).mean() for row_guess, row in zip(guesses, test_ids)]
)
print(
    f"its guesses that occur somewhere in the input: {in_input:.3f} "
    "(a token drawn at random would: "
    f"{np.mean([len(set(row)) / VOCAB for row in test_ids]):.3f})"
)

# %% [markdown]
# ## What we measured

# %% tags=["approx:abs=0.02"]
print(
    "softmax_jacobian_matches_finite_differences: "
    f"{np.abs(jacobian - numeric_jacobian).max() < 1e-8}"
)
print(
    "block_permutation_equivariant_without_positions: "
    f"{np.allclose(shuffled_out, out_shuffled)}"
)
print(f"reverse_accuracy_with_positions: {acc_pos:.3f}")
print(f"reverse_accuracy_without_positions: {acc_no_pos:.3f}")
print(f"attention_on_mirror_position_untrained: {untrained_share.mean():.3f}")
print(f"attention_on_mirror_position_trained: {trained_share.mean():.3f}")
print(f"training_steps: {len(reverser_losses)}")

# %% [markdown]
# ## Exercises
#
# Three exercises, **9 points** in all (about 45 minutes). Each has a prompt, an answer cell and a
# check cell whose `assert`s say what is wrong; the grader adds hidden tests (chapter 00 explains
# the format). Exercise 2's "why" is answered in words under its check cell and graded by hand.

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
assert ex_out is not None and np.shape(ex_out) == (6, 4), (
    "the output must have the shape of v, (L, d)"
)
assert np.allclose(ex_out[0], ex_v[0]), (
    "the first token can only see itself, so its output is its own value"
)
### BEGIN HIDDEN TESTS
changed_v = ex_v.copy()
changed_v[-1] += 10
assert np.allclose(causal_attention(ex_q, ex_k, changed_v)[:-1], ex_out[:-1]), (
    "changing the last token's value changed earlier outputs: a token sees tokens "
    "after it"
)
assert np.allclose(ex_out[-1], softmax_rows(ex_q[-1] @ ex_k.T / 2.0) @ ex_v), (
    "the last token's output is not section 1's attention over all tokens"
)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA2-ex2-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 2 (how sharp are the weights?)** · 3 points · medium · ~10 min
#
# Write `mean_entropy(q, k, scale)`, the mean over rows of the entropy (in nats) of
# softmax(scale · Q Kᵀ), for arrays of shape (L, d). Then compute `entropy_scaled` with
# scale = 1/√d and `entropy_unscaled` with scale = 1 for `q_big, k_big` below (d = 256) (2 points).
# What does the √d of section 1 do to the weights, and why? Answer in words in the cell under the
# check cell (1 point, graded by hand).

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
assert isinstance(mean_entropy(q_big, k_big, 1.0), float), (
    "mean_entropy must return a float"
)
assert 0 <= entropy_unscaled <= np.log(32) and 0 <= entropy_scaled <= np.log(32), (
    "an entropy over 32 keys lies between 0 and log 32"
)
### BEGIN HIDDEN TESTS
assert abs(mean_entropy(np.zeros((3, 4)), np.ones((5, 4)), 1.0) - np.log(5)) < 1e-9, (
    "mean_entropy is wrong for uniform weights over 5 keys"
)


def _reference_entropy(scale):
    s = scale * q_big @ k_big.T
    logp = s - s.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    return float(-(np.exp(logp) * logp).sum(axis=1).mean())


assert (
    abs(entropy_scaled - _reference_entropy(256**-0.5)) < 1e-6
    and abs(entropy_unscaled - _reference_entropy(1.0)) < 1e-6
), (
    "entropy_scaled or entropy_unscaled is not the mean entropy of q_big, k_big at the "
    "scale asked"
)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": true, "grade_id": "chA2-ex2-why", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# **Your answer** (1 point, graded by hand): what does dividing by √d do to the weights, and why?
#
# ### BEGIN SOLUTION
# **Model answer.** Each score q·k is a sum of d = 256 products of independent entries with variance 1, so its
# standard deviation is √d = 16. A softmax over scores spread that widely puts nearly all the
# weight on the largest one: the rows are close to one-hot and entropy_unscaled is near 0.
# Dividing by √d brings the spread back to about 1, the weights stay soft and entropy_scaled is
# close to the maximum, log 32. Soft weights let every key receive gradient; nearly one-hot ones
# make the softmax's gradient almost vanish, which is why the scale matters for training.
#
# **Rubric (1 point).** 1 for the variance argument (scores' spread grows as √d) and its effect (unscaled weights
# nearly one-hot, low entropy; scaled ones soft); 0.5 for the effect on the entropy without the
# reason; 0 otherwise.
# ### END SOLUTION

# %% [markdown] nbgrader={"grade": false, "grade_id": "chA2-ex3-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 3 (the gradient for the queries)** · 4 points · hard · ~25 min
#
# For single-head attention out = softmax(Q Kᵀ / √d) V with arrays of shape (L, d), and a loss
# whose gradient with respect to the output is G (L, d), write `query_gradient(q, k, v, g)`
# returning ∂loss/∂Q (L, d) with numpy alone: no `Tensor`, no finite differences, and no
# L × L × L array (build the chain from the output back to Q one step at a time, using section 5).
# The grader gives 0 to an answer whose cells use `Tensor` or the book's `attention`; to compare
# with autograd while you work, use a scratch notebook.

# %% nbgrader={"grade": false, "grade_id": "chA2-ex3-answer", "locked": false, "schema_version": 3, "solution": true}
def query_gradient(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, g: np.ndarray
) -> np.ndarray:
    """Gradient of sum(g * softmax(q @ k.T / sqrt(d)) @ v) with respect to q."""
    ### BEGIN SOLUTION
    scale = q.shape[-1] ** -0.5
    p = softmax_rows(scale * q @ k.T)
    grad_p = g @ v.T  # reaching the weights
    # through the softmax, row by row
    grad_s = p * (grad_p - (grad_p * p).sum(axis=1, keepdims=True))
    return scale * grad_s @ k
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "chA2-ex3-check", "locked": true, "points": 4, "schema_version": 3, "solution": false}
ex3_rng = np.random.default_rng(9)
ex3_q, ex3_k, ex3_v, ex3_g = ex3_rng.normal(size=(4, 5, 3))
ex3_grad = query_gradient(ex3_q, ex3_k, ex3_v, ex3_g)
assert np.shape(ex3_grad) == (5, 3), (
    f"the gradient has the shape of q, (5, 3), not {np.shape(ex3_grad)}"
)
# If every value row is the same, the output is that row whatever the weights: Q cannot
# matter.
assert np.allclose(query_gradient(ex3_q, ex3_k, np.ones((5, 3)), ex3_g), 0), (
    "with identical value rows the output does not depend on q, so the gradient must "
    "be 0"
)
print("query_gradient passes the visible checks")
### BEGIN HIDDEN TESTS
_tq = Tensor(ex3_q.copy(), requires_grad=True)
(
    (_tq @ Tensor(ex3_k).T / np.sqrt(3)).softmax(axis=-1) @ Tensor(ex3_v) * ex3_g
).sum().backward()
assert np.allclose(ex3_grad, _tq.grad), (
    "query_gradient does not match autograd's gradient for q"
)
_q, _k, _v, _g = np.random.default_rng(21).normal(size=(4, 7, 4))
_fd = numerical_gradient(
    lambda a: float((softmax_rows(a @ _k.T / 2.0) @ _v * _g).sum()), _q.copy()
)
assert np.allclose(query_gradient(_q, _k, _v, _g), _fd, atol=1e-7), (
    "query_gradient does not match finite differences on another input (L = 7, d = 4)"
)
### END HIDDEN TESTS
