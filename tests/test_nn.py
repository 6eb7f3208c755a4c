"""Tests of helpers.nn: finite-difference checks of every fused op and layer."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.autograd import Tensor
from helpers.nn import (
    MLP,
    BatchNorm1d,
    Embedding,
    LayerNorm,
    Linear,
    Module,
    MultiHeadSelfAttention,
    TransformerBlock,
    TransformerEncoder,
    ViTEncoder,
    attention,
    layer_norm,
    patchify,
    prepend_token,
    sincos_1d,
    sincos_2d,
    unpatchify,
)

F64 = np.float64


def rng(seed: int = 0) -> np.random.Generator:
    """A fresh generator."""
    return np.random.default_rng(seed)


def grad_check(
    fn: Callable[[], Tensor],
    tensors: list[Tensor],
    entries: int = 12,
    tol: float = 1e-6,
) -> None:
    """Assert autograd's gradient of sum(fn() * w) matches central differences."""
    w = rng(1).normal(size=fn().shape)
    for t in tensors:
        t.grad = None
    (fn() * w).sum().backward()
    pick = rng(2)
    for t in tensors:
        flat = t.data.reshape(-1)
        for i in pick.choice(flat.size, size=min(entries, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            up = float((fn().data * w).sum())
            flat[i] = old - 1e-6
            down = float((fn().data * w).sum())
            flat[i] = old
            np.testing.assert_allclose(
                t.grad.reshape(-1)[i], (up - down) / 2e-6, rtol=tol, atol=tol
            )


def leaf(*shape: int, seed: int = 3) -> Tensor:
    """A float64 input tensor that needs a gradient."""
    return Tensor(rng(seed).normal(size=shape), requires_grad=True)


# ----- gradient checks
# -----------------------------------------------------------------------
def test_linear_grad() -> None:
    layer, x = Linear(4, 3, rng(), dtype=F64), leaf(2, 5, 4)
    grad_check(lambda: layer(x), [x] + layer.parameters())


def test_linear_without_bias_grad() -> None:
    layer, x = Linear(4, 3, rng(), bias=False, dtype=F64), leaf(5, 4)
    assert layer.num_parameters() == 12
    grad_check(lambda: layer(x), [x] + layer.parameters())


def test_gelu_grad_and_values_match_the_tanh_formula() -> None:
    x = leaf(3, 5)
    grad_check(lambda: x.gelu(), [x])
    a = x.data
    formula = 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a**3)))
    np.testing.assert_allclose(x.gelu().data, formula, rtol=1e-12)


def test_layernorm_grad() -> None:
    norm, x = LayerNorm(6, dtype=F64), leaf(2, 3, 6)
    norm.weight.data[:] = rng().normal(size=6)
    norm.bias.data[:] = rng(1).normal(size=6)
    grad_check(lambda: norm(x), [x] + norm.parameters())


def test_layernorm_without_affine_grad() -> None:
    x = leaf(4, 5)
    grad_check(lambda: layer_norm(x, None, None), [x])


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_train_grad(shape: tuple[int, ...], affine: bool) -> None:
    bn, x = BatchNorm1d(4, affine=affine, dtype=F64), leaf(*shape)
    if affine:
        bn.weight.data[:] = rng().normal(size=4)
    grad_check(lambda: bn(x), [x] + bn.parameters())


def test_batchnorm_eval_grad() -> None:
    bn, x = BatchNorm1d(4, dtype=F64), leaf(6, 4)
    bn(leaf(8, 4, seed=9))
    bn.eval()
    grad_check(lambda: bn(x), [x] + bn.parameters())


@pytest.mark.parametrize("masked", [False, True])
def test_attention_grad(masked: bool) -> None:
    qkv = leaf(2, 4, 12)
    mask = (
        np.array([[False, False, True, False], [False, True, True, False]])
        if masked
        else None
    )
    grad_check(lambda: attention(qkv, 2, mask)[0], [qkv])


@pytest.mark.parametrize("masked", [False, True])
def test_self_attention_module_grad(masked: bool) -> None:
    attn, x = MultiHeadSelfAttention(8, 2, rng(), dtype=F64), leaf(2, 3, 8)
    mask = np.array([[False, False, True], [False, False, False]]) if masked else None
    grad_check(
        lambda: attn(x, key_padding_mask=mask), [x] + attn.parameters(), entries=12
    )


def test_transformer_block_grad() -> None:
    block, x = TransformerBlock(8, 2, rng(), mlp_ratio=2.0, dtype=F64), leaf(2, 3, 8)
    mask = np.array([[False, True, False], [False, False, False]])
    grad_check(
        lambda: block(x, key_padding_mask=mask), [x] + block.parameters(), entries=10
    )


def test_embedding_grad_with_repeated_ids() -> None:
    emb = Embedding(5, 3, rng(), dtype=F64)
    ids = np.array([[0, 3, 3], [4, 0, 3]])
    grad_check(lambda: emb(ids), emb.parameters(), entries=15)
    assert np.all(emb.weight.grad[[1, 2]] == 0)


@pytest.mark.parametrize("pos", ["sincos2d", "learned"])
def test_vit_encoder_with_ids_keep_grad(pos: str) -> None:
    vit = ViTEncoder(4, 8, 1, 2, 4, rng(), mlp_ratio=1.0, pos=pos, dtype=F64)
    patches = leaf(2, 3, 4)
    ids_keep = np.array([[3, 0, 1], [2, 3, 0]])
    grad_check(
        lambda: vit(patches, ids_keep=ids_keep), [patches] + vit.parameters(), entries=8
    )


def test_mlp_with_batchnorm_grad() -> None:
    mlp, x = MLP([3, 5, 2], rng(), batchnorm=True, dtype=F64), leaf(6, 3)
    grad_check(lambda: mlp(x), [x] + mlp.parameters(), entries=6)


def test_prepend_token_grad() -> None:
    token, x = leaf(1, 1, 3), leaf(2, 4, 3, seed=4)
    grad_check(lambda: prepend_token(token, x), [token, x])


# ----- reference values
# ----------------------------------------------------------------------
def test_sincos_1d_known_entries() -> None:
    pe = sincos_1d(5, 8)
    assert pe.shape == (5, 8) and pe.dtype == np.float32
    np.testing.assert_array_equal(pe[0], [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_allclose(pe[3, 0], np.sin(3.0), rtol=1e-6)
    np.testing.assert_allclose(pe[3, 4], np.cos(3.0), rtol=1e-6)
    np.testing.assert_allclose(pe[2, 1], np.sin(2 / 10000**0.25), rtol=1e-6)
    np.testing.assert_allclose(pe[2, 7], np.cos(2 / 10000**0.75), rtol=1e-6)


def test_sincos_2d_halves_encode_row_and_column() -> None:
    pe = sincos_2d(2, 3, 8)
    assert pe.shape == (6, 8) and pe.dtype == np.float32
    one_d = sincos_1d(3, 4)
    np.testing.assert_array_equal(pe[5, :4], one_d[1])  # row 1
    np.testing.assert_array_equal(pe[5, 4:], one_d[2])  # column 2
    np.testing.assert_array_equal(pe[0], [0, 0, 1, 1, 0, 0, 1, 1])


def test_patchify_known_order() -> None:
    images = np.arange(32).reshape(2, 4, 4)
    p = patchify(images, 2)
    assert p.shape == (2, 4, 4)
    np.testing.assert_array_equal(p[0, 0], [0, 1, 4, 5])
    np.testing.assert_array_equal(p[0, 1], [2, 3, 6, 7])
    np.testing.assert_array_equal(p[1, 3], [26, 27, 30, 31])


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4))
def test_unpatchify_inverts_patchify(n: int, gh: int, gw: int, patch: int) -> None:
    images = rng(n).normal(size=(n, gh * patch, gw * patch))
    patches = patchify(images, patch)
    assert patches.shape == (n, gh * gw, patch * patch)
    np.testing.assert_array_equal(
        unpatchify(patches, patch, gh * patch, gw * patch), images
    )


def test_attention_rows_sum_to_one_and_padding_gets_no_weight() -> None:
    attn = MultiHeadSelfAttention(8, 2, rng())
    mask = np.array([[False, True, False, True], [False, False, False, False]])
    out, weights = attn(
        rng().normal(size=(2, 4, 8)), return_attention=True, key_padding_mask=mask
    )
    assert out.shape == (2, 4, 8) and weights.shape == (2, 2, 4, 4)
    np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-6)
    assert np.all(weights[0][..., [1, 3]] == 0) and np.all(weights[1] > 0)


def test_attention_matches_naive_per_head_loop() -> None:
    qkv = rng().normal(size=(2, 3, 12))
    out, _ = attention(Tensor(qkv), 2)
    q, k, v = np.split(qkv, 3, axis=-1)
    for h in range(2):
        s = slice(2 * h, 2 * h + 2)
        scores = q[..., s] @ k[..., s].swapaxes(1, 2) / np.sqrt(2)
        p = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(out.data[..., s], p @ v[..., s], rtol=1e-10)


def test_fully_padded_row_stays_finite() -> None:
    out, weights = attention(
        Tensor(rng().normal(size=(1, 3, 6))), 1, np.ones((1, 3), dtype=bool)
    )
    assert np.all(np.isfinite(out.data)) and np.allclose(weights, 1 / 3)


def test_batchnorm_running_stats_and_eval_mode() -> None:
    bn = BatchNorm1d(3, dtype=F64)
    x = rng().normal(2.0, 3.0, size=(10, 3))
    train_out = bn(x).data
    np.testing.assert_allclose(train_out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(train_out.var(axis=0), 1, rtol=1e-5)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=0, ddof=1))
    bn.weight.data[:] = 2.0
    expected = (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5) * 2.0
    np.testing.assert_allclose(bn.eval()(x).data, expected)


def test_batchnorm_3d_normalises_over_batch_and_length() -> None:
    x = rng().normal(1.0, 2.0, size=(4, 5, 3))
    out = BatchNorm1d(3, dtype=F64)(x).data
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), 0, atol=1e-12)


def test_layernorm_normalises_each_vector() -> None:
    out = LayerNorm(5, dtype=F64)(rng().normal(3.0, 2.0, size=(4, 5))).data
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=-1), 1, rtol=1e-4)


def test_embedding_looks_up_rows() -> None:
    emb = Embedding(6, 2, rng())
    np.testing.assert_array_equal(
        emb(np.array([[5, 1]])).data[0], emb.weight.data[[5, 1]]
    )


# ----- modules: parameters, state, copies, modes
# ---------------------------------------------
def block_count(d: int, hidden: int) -> int:
    """Hand count of a TransformerBlock's parameters."""
    return (
        2 * 2 * d
        + (d * 3 * d + 3 * d)
        + (d * d + d)
        + (d * hidden + hidden)
        + (hidden * d + d)
    )


def test_parameter_counts_match_hand_counts() -> None:
    assert Linear(3, 4, rng()).num_parameters() == 16
    assert MLP([3, 5, 2], rng(), batchnorm=True).num_parameters() == (
        15 + 5
    ) + 2 * 5 + (10 + 2)
    assert (
        MLP([3, 5, 2], rng(), batchnorm=True, last_activation=True).num_parameters()
        == 42 + 2 * 2
    )
    assert TransformerBlock(8, 2, rng()).num_parameters() == block_count(8, 32)
    vit = ViTEncoder(49, 64, 2, 4, 16, rng())
    assert (
        vit.num_parameters() == (49 * 64 + 64) + 64 + 2 * block_count(64, 256) + 2 * 64
    )
    assert ViTEncoder(
        49, 64, 2, 4, 16, rng(), cls_token=False, pos="learned"
    ).num_parameters() == (vit.num_parameters() - 64 + 16 * 64)


def test_parameters_are_deterministic_and_unique() -> None:
    a, b = MLP([3, 4, 2], rng(5)), MLP([3, 4, 2], rng(5))
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data)
    assert [n for n, _ in a.named_parameters()] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]

    class Tied(Module):
        def __init__(self) -> None:
            self.first = Linear(2, 2, rng())
            self.again = self.first

    assert len(Tied().parameters()) == 2


def test_copy_is_independent() -> None:
    mlp = MLP([3, 4, 2], rng(), batchnorm=True)
    mlp(rng().normal(size=(5, 3))).sum().backward()
    twin = mlp.copy()
    assert all(p.grad is None for p in twin.parameters())
    twin.layers[0].weight.data += 1
    twin.norms[0].running_mean += 1
    assert not np.allclose(twin.layers[0].weight.data, mlp.layers[0].weight.data)
    assert not np.allclose(twin.norms[0].running_mean, mlp.norms[0].running_mean)


def test_state_dict_round_trip_includes_buffers() -> None:
    src = MLP([3, 4, 2], rng(1), batchnorm=True)
    src(rng().normal(size=(5, 3)))
    state = src.state_dict()
    assert "norms.0.running_var" in state and "norms.0.running_mean" in state
    dst = MLP([3, 4, 2], rng(2), batchnorm=True)
    dst.load_state_dict(state)
    x = rng(3).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(src.eval()(x).data, dst.eval()(x).data)
    state["layers.0.weight"][:] = 0  # a state_dict holds copies
    assert np.any(src.layers[0].weight.data != 0)


def test_load_state_dict_rejects_mismatches() -> None:
    mlp = MLP([3, 4, 2], rng())
    with pytest.raises(ValueError, match="missing"):
        mlp.load_state_dict({})
    bad = mlp.state_dict()
    bad["layers.0.weight"] = np.zeros((4, 3))
    with pytest.raises(ValueError, match="shape"):
        mlp.load_state_dict(bad)


def test_train_eval_propagate() -> None:
    vit = ViTEncoder(4, 8, 2, 2, 4, rng())
    assert vit.eval() is vit and all(not m.training for m in vit.modules())
    assert vit.train() is vit and all(m.training for m in vit.modules())


def test_zero_grad_clears_every_parameter() -> None:
    layer = Linear(2, 2, rng())
    layer(np.ones((1, 2))).sum().backward()
    layer.zero_grad()
    assert all(p.grad is None for p in layer.parameters())


def test_float32_end_to_end() -> None:
    vit = ViTEncoder(4, 8, 1, 2, 4, rng())
    head = MLP([8, 6, 3], rng(), batchnorm=True, activation="gelu")
    patches = rng().normal(size=(3, 2, 4))  # float64 input is cast to the model's dtype
    tokens = vit(patches, ids_keep=np.array([[0, 1], [3, 2], [1, 0]]))
    logits = head(tokens.mean(axis=1))
    loss = -logits.log_softmax(axis=-1).gather(np.array([[0], [2], [1]]), axis=1).mean()
    assert tokens.dtype == logits.dtype == loss.dtype == np.float32
    loss.backward()
    assert all(p.grad.dtype == np.float32 for p in vit.parameters() + head.parameters())
    assert head.norms[0].running_var.dtype == np.float32


def test_vit_shapes_and_attention_maps() -> None:
    vit = ViTEncoder(4, 8, 2, 2, 9, rng())
    tokens, maps = vit(rng().normal(size=(2, 9, 4)), return_attention=True)
    assert (
        tokens.shape == (2, 10, 8)
        and len(maps) == 2
        and maps[0].shape == (2, 2, 10, 10)
    )
    assert ViTEncoder(4, 8, 1, 2, 9, rng(), cls_token=False)(
        np.zeros((2, 9, 4))
    ).shape == (2, 9, 8)


def test_vit_ids_keep_uses_original_positions() -> None:
    vit = ViTEncoder(4, 8, 1, 2, 4, rng(), cls_token=False)
    patches = rng().normal(size=(1, 4, 4))
    full = vit(patches).data
    order = np.array([[2, 0, 3, 1]])
    shuffled = vit(patches[:, order[0]], ids_keep=order).data
    np.testing.assert_allclose(shuffled, full[:, order[0]], rtol=1e-5, atol=1e-6)


def test_text_encoder_composes_from_parts() -> None:
    emb, enc, head = (
        Embedding(10, 8, rng()),
        TransformerEncoder(8, 1, 2, rng()),
        Linear(8, 10, rng()),
    )
    ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    x = emb(ids) + sincos_1d(4, 8)
    logits = head(enc(x, key_padding_mask=ids == 0))
    assert logits.shape == (2, 4, 10) and logits.dtype == np.float32


# ----- input validation
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: MultiHeadSelfAttention(10, 3, rng()), "divisible by n_heads"),
        (lambda: ViTEncoder(4, 12, 1, 5, 4, rng()), "divisible by n_heads"),
        (lambda: ViTEncoder(4, 8, 1, 2, 5, rng()), "square number"),
        (lambda: ViTEncoder(4, 8, 1, 2, 4, rng(), pos="rope"), "pos must be one of"),
        (lambda: MLP([3, 4], rng(), activation="tanh"), "activation"),
        (lambda: MLP([3], rng()), "at least 2"),
        (lambda: Linear(3, 0, rng()), "out_dim"),
        (lambda: Linear(3, 2, np.random.RandomState(0)), "rng"),
        (lambda: BatchNorm1d(3, momentum=1.5), "momentum"),
        (lambda: LayerNorm(3, eps=0), "eps"),
        (lambda: sincos_1d(4, 5), "even"),
        (lambda: sincos_2d(2, 2, 6), "multiple of 4"),
        (lambda: patchify(np.zeros((1, 5, 4)), 2), "divide"),
        (lambda: patchify(np.zeros((5, 4)), 2), "3 dimensions"),
        (lambda: unpatchify(np.zeros((1, 4, 4)), 2, 4, 6), "shape"),
    ],
)
def test_bad_construction_raises(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: Linear(3, 2, rng())(np.zeros((4, 5))), "Linear input"),
        (lambda: Linear(3, 2, rng())(np.zeros(3)), "Linear input"),
        (lambda: LayerNorm(3)(np.zeros((2, 4))), "LayerNorm input"),
        (lambda: BatchNorm1d(3)(np.zeros((2, 2, 2, 3))), "BatchNorm1d input"),
        (lambda: BatchNorm1d(3)(np.zeros((1, 3))), "more than 1 value"),
        (lambda: MultiHeadSelfAttention(4, 2, rng())(np.zeros((2, 4))), r"\(N, L, 4\)"),
        (
            lambda: MultiHeadSelfAttention(4, 2, rng())(
                np.zeros((2, 3, 4)), key_padding_mask=np.zeros((2, 3))
            ),
            "key_padding_mask",
        ),
        (lambda: Embedding(4, 2, rng())(np.array([0.0, 1.0])), "integer"),
        (lambda: Embedding(4, 2, rng())(np.array([0, 4])), r"\[0, 4\)"),
        (
            lambda: ViTEncoder(4, 8, 1, 2, 4, rng())(np.zeros((2, 3, 4))),
            "all 4 patches",
        ),
        (
            lambda: ViTEncoder(4, 8, 1, 2, 4, rng())(
                np.zeros((2, 2, 4)), ids_keep=np.array([[0, 4], [1, 2]])
            ),
            "ids_keep",
        ),
        (
            lambda: ViTEncoder(4, 8, 1, 2, 4, rng())(
                np.zeros((2, 2, 4)), ids_keep=np.array([[0, 1]])
            ),
            "ids_keep",
        ),
    ],
)
def test_bad_inputs_raise(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "shape,heads,match",
    [((2, 3, 12), 0, "n_heads"), ((2, 3, 10), 2, "qkv"), ((3, 12), 2, "qkv")],
)
def test_attention_rejects_bad_heads_and_shapes(
    shape: tuple, heads: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        attention(Tensor(np.zeros(shape)), heads)


def test_attention_rejects_a_mask_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="key_padding_mask"):
        attention(
            Tensor(np.zeros((2, 3, 12))), 2, key_padding_mask=np.zeros((2, 4), bool)
        )
