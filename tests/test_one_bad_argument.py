"""One bad argument at a time (issue 25): each argument of each public callable, the
others valid.

`test_common_checks.py` sets every required argument bad at once, so whichever check
fires first satisfies it and a missing check elsewhere goes unseen. Here VALID gives
each public callable a valid call; the test first runs it (it must succeed), then
replaces ONE argument (required or optional) by each bad value that its kind cannot
accept. The call must raise ValueError or TypeError whose message names that argument,
and it must leave every array it was given (model parameters and buffers, gradients,
optimiser moments and step count, stores, inputs) exactly as it was: `state_digest`
hashes them all before and after. `test_every_public_callable_has_a_valid_call` keeps
VALID complete as helpers grow.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import warnings
from typing import Any, Callable

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import (
    autograd,
    barlow,
    byol,
    capstone,
    data,
    dino,
    evaluation,
    finetune,
    losses,
    mae,
    masking,
    mlm,
    nn,
    optim,
    simclr,
    train,
)
from helpers.widgets import contrastive, demo, embedding
from helpers.widgets import dino as dino_widget
from helpers.widgets import mae as mae_widget
from helpers.widgets import mlm as mlm_widget
from test_common_checks import EXEMPT, public_callables

matplotlib.use("Agg")


def rng(seed: int = 0) -> np.random.Generator:
    """A fresh generator (each call builds its own, so calls do not share state)."""
    return np.random.default_rng(seed)


def imgs(n: int = 4, side: int = 4) -> np.ndarray:
    """n float32 images side x side in [0, 1]."""
    return rng(1).random((n, side, side)).astype(np.float32)


def feats(n: int = 12, d: int = 5, seed: int = 2) -> np.ndarray:
    """n rows of d float64 features."""
    return rng(seed).normal(size=(n, d))


LABELS = np.repeat(np.arange(3), 4)
ENC, HEAD, PRED = (16, 8, 6), (6, 6, 4), (4, 5, 4)


def simclr_model() -> simclr.SimCLR:
    return simclr.SimCLR(rng(), encoder_sizes=ENC, head_sizes=HEAD)


def byol_model() -> byol.BYOL:
    return byol.BYOL(rng(), encoder_sizes=ENC, head_sizes=HEAD, predictor_sizes=PRED)


def dino_model() -> dino.DINO:
    return dino.DINO(
        rng(),
        backbone=simclr.make_mlp_encoder(rng(), ENC),
        width=ENC[-1],
        out_dim=7,
        hidden=6,
        bottleneck=3,
    )


def mae_model() -> mae.MAE:
    return mae.MAE(
        rng(),
        image_size=8,
        patch=4,
        width=8,
        depth=1,
        n_heads=2,
        decoder_width=8,
        decoder_depth=1,
        decoder_heads=2,
    )


def vocab() -> mlm.Vocab:
    return mlm.build_vocab(
        [["the", "cat", "sat"], ["a", "dog", "sat"], ["the", "dog"]], 20
    )


def mlm_model() -> mlm.MLMTransformer:
    return mlm.MLMTransformer(len(vocab().words), 8, 1, 2, 8, rng())


def token_rows() -> list[np.ndarray]:
    v = vocab()
    return [
        v.encode(s)
        for s in (
            ["the", "cat", "sat"],
            ["a", "dog", "sat"],
            ["the", "dog"],
            ["a", "cat"],
        )
    ]


def mlm_draws() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Two draws of token_rows, 7 chosen positions (each first two words) as [MASK]."""
    ids, pad = mlm.pad_batch(token_rows())
    labels = np.where(~pad & (np.arange(ids.shape[1]) < 2), ids, -1)
    labels[0, 0] = -1
    inputs = np.where(labels >= 0, 1, ids)
    return [(inputs[:2], labels[:2], pad[:2]), (inputs[2:], labels[2:], pad[2:])]


def tiny_mlm_settings() -> mlm.MLMSettings:
    return mlm.MLMSettings(
        2, width=8, depth=1, n_heads=2, max_len=8, batch_size=2, warmup_steps=0
    )


def adamw(model: nn.Module) -> optim.AdamW:
    return optim.AdamW(model.parameters(), lr=1e-3)


def warmed(step: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs after one valid step, so gradients and optimiser moments exist."""
    step(
        **{
            k: (rng(9) if isinstance(v, np.random.Generator) else v)
            for k, v in kwargs.items()
        }
    )
    return kwargs


def stepped(opt_cls: type, **kw: Any) -> tuple[nn.Linear, optim.Optimizer]:
    """A Linear layer with gradients and an optimiser after one step (it has state)."""
    layer = nn.Linear(3, 2, rng())
    opt = opt_cls(layer.parameters(), **kw)
    for _ in range(2):
        layer(feats(4, 3)).sum().backward()
        opt.step()
    return layer, opt


def axes() -> Any:
    return Figure().add_subplot()


def cos_state() -> dict[str, Any]:
    z = feats(4, 3)
    return contrastive.anchor_state(contrastive.cosine_matrix(z, z), 0, 0.5)


def noise_state() -> dict[str, Any]:
    return demo.noise_state(imgs(1, 8)[0], rng().normal(size=(8, 8)), 0.1)


def mae_state() -> dict[str, Any]:
    return mae_widget.mask_state(mae_model(), imgs(1, 8)[0], np.zeros(16), 0.5, 0)


def mlm_state() -> dict[str, Any]:
    v = vocab()
    return mlm_widget.masking_state(
        mlm_model(), v, v.encode(["the", "cat", "sat"]), 0.5, rng()
    )


def mlm_texts() -> dict[str, Any]:
    words, notes = mlm_widget.token_artists(axes(), 3)
    return {"words": words, "notes": notes}


def attention_state() -> dict[str, Any]:
    return {
        "image": imgs(1, 8)[0],
        "attention": rng().random((8, 8)),
        "model": "a",
        "head": 0,
        "ink_share": 0.5,
    }


def lines() -> Any:
    ax = axes()
    return contrastive.setup_axes(ax, 4, False)


# qualname -> a function returning the keyword arguments of one valid call (fresh
# objects each time)
VALID: dict[str, Callable[[], dict[str, Any]]] = {
    # augment
    "helpers.augment.brightness_contrast": lambda: dict(
        x=imgs(), rng=rng(), brightness=(0.8, 1.2), contrast=(0.8, 1.2)
    ),
    "helpers.augment.gaussian_noise": lambda: dict(x=imgs(), rng=rng(), sigma=0.1),
    "helpers.augment.multi_crop": lambda: dict(
        x=imgs(2, 8),
        rng=rng(),
        n_global=2,
        n_local=2,
        global_scale=(0.5, 1.0),
        local_scale=(0.1, 0.4),
        global_size=8,
        local_size=4,
    ),
    "helpers.augment.random_affine": lambda: dict(
        x=imgs(), rng=rng(), scale=(0.8, 1.1), rotation=0.2, translation=0.1
    ),
    "helpers.augment.random_erasing": lambda: dict(x=imgs(), rng=rng(), p=0.5, size=2),
    "helpers.augment.random_resized_crop": lambda: dict(
        x=imgs(), rng=rng(), scale=(0.7, 1.0), ratio=(0.8, 1.2), out_size=4
    ),
    "helpers.augment.random_translate": lambda: dict(
        x=imgs(), rng=rng(), max_shift=0.2
    ),
    "helpers.augment.simclr_views": lambda: dict(
        x=imgs(),
        rng=rng(),
        scale=(0.8, 1.1),
        rotation=0.2,
        translation=0.1,
        brightness=(0.8, 1.2),
        sigma=0.1,
        erase_p=0.5,
        erase_size=2,
    ),
    "helpers.augment.warp_affine": lambda: dict(
        x=imgs(),
        matrix=np.tile(np.eye(2), (4, 1, 1)),
        offset=np.zeros((4, 2)),
        out_size=4,
    ),
    # autograd
    "helpers.autograd.Tensor": lambda: dict(data=feats(2, 2), requires_grad=True),
    "helpers.autograd.as_tensor": lambda: dict(
        x=feats(2, 2), like=autograd.Tensor(np.zeros(1, np.float32))
    ),
    "helpers.autograd.concatenate": lambda: dict(
        tensors=[autograd.Tensor(feats(2, 2)), autograd.Tensor(feats(1, 2))], axis=0
    ),
    "helpers.autograd.matmul": lambda: dict(
        a=autograd.Tensor(feats(2, 3)), b=autograd.Tensor(feats(3, 2))
    ),
    "helpers.autograd.stack": lambda: dict(
        tensors=[autograd.Tensor(feats(2, 2)), autograd.Tensor(feats(2, 2))], axis=1
    ),
    "helpers.autograd.unbroadcast": lambda: dict(grad=feats(3, 2), shape=(1, 2)),
    # barlow
    "helpers.barlow.BarlowTwins": lambda: dict(
        rng=rng(), encoder_sizes=ENC, head_sizes=HEAD
    ),
    "helpers.barlow.barlow_step": lambda: (
        lambda m: warmed(
            barlow.barlow_step,
            dict(model=m, optimizer=adamw(m), images=imgs(), rng=rng(), lambd=5e-3),
        )
    )(barlow.BarlowTwins(rng(), encoder_sizes=ENC, head_sizes=HEAD)),
    "helpers.barlow.cross_correlation": lambda: dict(
        z1=feats(), z2=feats(seed=3), eps=1e-5
    ),
    "helpers.barlow.train_barlow_twins": lambda: dict(
        model=barlow.BarlowTwins(rng(), encoder_sizes=ENC, head_sizes=HEAD),
        images=imgs(),
        epochs=1.0,
        batch_size=2,
        lr=1e-3,
        lambd=5e-3,
        weight_decay=0.01,
        warmup_frac=0.05,
        seed=0,
        desc="b",
    ),
    # byol
    "helpers.byol.BYOL": lambda: dict(
        rng=rng(),
        encoder_sizes=ENC,
        head_sizes=HEAD,
        predictor_sizes=PRED,
        predictor=True,
    ),
    "helpers.byol.Branch": lambda: dict(
        encoder=simclr.make_mlp_encoder(rng(), ENC),
        projector=simclr.make_projection_head(rng(), HEAD),
    ),
    "helpers.byol.byol_step": lambda: (
        lambda m: warmed(
            byol.byol_step,
            dict(
                model=m,
                optimizer=optim.AdamW(m.online_parameters()),
                view1=imgs(),
                view2=imgs()[::-1].copy(),
                momentum=0.9,
                ema=True,
                stop_gradient=True,
            ),
        )
    )(byol_model()),
    "helpers.byol.symmetric_loss": lambda: dict(
        p=autograd.Tensor(feats(4, 3)),
        z=autograd.Tensor(feats(4, 3, 5)),
        stop_gradient=False,
    ),
    "helpers.byol.train_byol": lambda: dict(
        model=byol_model(),
        images=imgs(),
        epochs=1.0,
        batch_size=2,
        lr=1e-3,
        weight_decay=0.01,
        warmup_frac=0.05,
        base_momentum=0.99,
        ema=True,
        stop_gradient=True,
        seed=0,
        desc="b",
        track=lambda k, m: None,
    ),
    # data
    "helpers.data.load_sotu_sentences": lambda: dict(
        min_year=1990, max_len=40, min_len=3
    ),
    "helpers.data.mnist_split": lambda: dict(seed=0),
    "helpers.data.stratified_split": lambda: dict(
        labels=LABELS, n_test_per_class=1, seed=0, n_train_per_class=2
    ),
    "helpers.data.unique_sentences": lambda: dict(
        sentences=[["a", "b"], ["a", "b"], ["c"]]
    ),
    # dino
    "helpers.dino.DINO": lambda: dict(
        rng=rng(),
        backbone=simclr.make_mlp_encoder(rng(), ENC),
        width=ENC[-1],
        out_dim=7,
        hidden=6,
        bottleneck=3,
    ),
    "helpers.dino.DINOHead": lambda: dict(
        in_dim=6, rng=rng(), hidden=6, bottleneck=3, out_dim=7
    ),
    "helpers.dino.Student": lambda: dict(
        backbone=simclr.make_mlp_encoder(rng(), ENC),
        head=dino.DINOHead(6, rng(), 6, 3, 7),
    ),
    "helpers.dino.ViTBackbone": lambda: dict(
        rng=rng(), image_size=8, patch=4, width=8, depth=1, n_heads=2
    ),
    "helpers.dino.dino_step": lambda: (
        lambda m: warmed(
            dino.dino_step,
            dict(
                model=m,
                optimizer=optim.AdamW(m.student.parameters()),
                crops=[imgs(), imgs()[::-1].copy(), imgs()],
                n_global=2,
                momentum=0.9,
                teacher_temp=0.04,
                student_temp=0.1,
                center_momentum=0.9,
                centering=True,
            ),
        )
    )(dino_model()),
    "helpers.dino.train_dino": lambda: dict(
        model=dino_model(),
        images=imgs(4, 4),
        epochs=1.0,
        batch_size=2,
        lr=1e-3,
        weight_decay=0.01,
        warmup_frac=0.05,
        base_momentum=0.99,
        n_global=2,
        n_local=1,
        global_scale=(0.5, 1.0),
        local_scale=(0.2, 0.5),
        local_size=4,
        seed=0,
        center_momentum=0.9,
        teacher_temp=0.04,
        student_temp=0.1,
        centering=True,
        desc="d",
        track=lambda k, m, o: None,
    ),
    "helpers.dino.grid_positions": lambda: dict(grid=2, full=4),
    "helpers.dino.teacher_temperature": lambda: dict(
        step=1, n_steps=10, final=0.04, start=0.07, warmup_frac=0.3
    ),
    "helpers.dino.student_outputs": lambda: dict(
        student=dino_model().student, crops=[imgs(), imgs()]
    ),
    "helpers.dino.teacher_stats": lambda: dict(
        student_out=feats(6, 7).reshape(3, 2, 7),
        teacher_out=feats(4, 7).reshape(2, 2, 7),
        center=np.zeros(7),
        student_temp=0.1,
        teacher_temp=0.04,
    ),
    # evaluation
    "helpers.evaluation.alignment": lambda: dict(z1=feats(), z2=feats(seed=3)),
    "helpers.evaluation.effective_rank": lambda: dict(z=feats()),
    "helpers.evaluation.embedding_std": lambda: dict(z=feats()),
    "helpers.evaluation.few_label_indices": lambda: dict(
        labels=LABELS, per_class=2, seed=0
    ),
    "helpers.evaluation.knn_accuracy": lambda: dict(
        train_x=feats(), train_y=LABELS, test_x=feats(3), test_y=LABELS[:3]
    ),
    "helpers.evaluation.knn_classify": lambda: dict(
        train_x=feats(),
        train_y=LABELS,
        test_x=feats(3),
        k=3,
        weighted=True,
        temperature=0.1,
    ),
    "helpers.evaluation.knn_neighbours": lambda: dict(
        train_x=feats(), test_x=feats(3), k=3, cosine=True
    ),
    "helpers.evaluation.linear_probe": lambda: dict(
        train_x=feats(),
        train_y=LABELS,
        test_x=feats(3),
        test_y=LABELS[:3],
        l2=1e-3,
        epochs=2,
        lr=0.01,
        seed=0,
    ),
    "helpers.evaluation.probe_correct": lambda: dict(
        train_x=feats(),
        train_y=LABELS,
        test_x=feats(3),
        test_y=LABELS[:3],
        l2=1e-3,
        epochs=2,
        lr=0.01,
        seed=0,
    ),
    "helpers.evaluation.collapse_state": lambda: dict(
        z=feats(12, 5), z_init=feats(12, 5, 3)
    ),
    "helpers.evaluation.probe_report": lambda: dict(
        train_x=feats(),
        train_y=LABELS,
        test_x=feats(3),
        test_y=LABELS[:3],
        per_class=2,
        draws=1,
        seed=0,
    ),
    "helpers.evaluation.uniformity": lambda: dict(z=feats(), t=2.0),
    # finetune
    "helpers.finetune.finetune": lambda: dict(
        encoder=simclr.make_mlp_encoder(rng(), ENC),
        head=nn.Linear(6, 3, rng()),
        inputs=imgs(6).reshape(6, 16),
        labels=np.array([0, 1, 2, 0, 1, 2]),
        steps=1,
        lr=1e-3,
        weight_decay=0.05,
        batch_size=3,
        seed=0,
        augment=None,
        warmup_frac=0.1,
        desc="f",
    ),
    "helpers.finetune.finetune_early_stopped": lambda: dict(
        encoder=simclr.make_mlp_encoder(rng(), ENC),
        head=nn.Linear(6, 3, rng()),
        inputs=imgs(6).reshape(6, 16),
        labels=np.array([0, 1, 2, 0, 1, 2]),
        val_inputs=imgs(3).reshape(3, 16),
        val_labels=np.array([0, 1, 2]),
        steps=2,
        every=1,
        batch_size=3,
    ),
    "helpers.finetune.predict": lambda: dict(
        encoder=simclr.make_mlp_encoder(rng(), ENC),
        head=nn.Linear(6, 3, rng()),
        inputs=imgs().reshape(4, 16),
        batch_size=2,
    ),
    # losses
    "helpers.losses.barlow_twins_loss": lambda: dict(
        z1=feats(), z2=feats(seed=3), lambd=5e-3
    ),
    "helpers.losses.byol_loss": lambda: dict(p=feats(), z=feats(seed=3)),
    "helpers.losses.cross_entropy": lambda: dict(logits=feats(12, 3), labels=LABELS),
    "helpers.losses.dino_loss": lambda: dict(
        student_out=feats(6, 7).reshape(3, 2, 7),
        teacher_out=feats(4, 7).reshape(2, 2, 7),
        center=np.zeros(7),
        student_temp=0.1,
        teacher_temp=0.04,
    ),
    "helpers.losses.mae_loss": lambda: dict(
        pred=feats(8, 3).reshape(2, 4, 3),
        target=feats(8, 3, 4).reshape(2, 4, 3),
        mask=np.tile([1.0, 0.0], (2, 2)),
        norm_pix=True,
    ),
    "helpers.losses.nt_xent": lambda: dict(
        z1=feats(), z2=feats(seed=3), temperature=0.5
    ),
    "helpers.losses.update_center": lambda: dict(
        center=np.zeros(7), teacher_out=feats(4, 7).reshape(2, 2, 7), momentum=0.9
    ),
    # mae
    "helpers.mae.MAE": lambda: dict(
        rng=rng(),
        image_size=8,
        patch=4,
        width=8,
        depth=1,
        n_heads=2,
        decoder_width=8,
        decoder_depth=1,
        decoder_heads=2,
        mlp_ratio=2.0,
    ),
    "helpers.mae.PooledEncoder": lambda: dict(encoder=mae_model().encoder),
    "helpers.mae.grid_distances": lambda: dict(grid=3),
    "helpers.mae.mae_features": lambda: dict(
        model=mae_model(), images=imgs(3, 8), batch_size=2
    ),
    "helpers.mae.mae_step": lambda: (
        lambda m: warmed(
            mae.mae_step,
            dict(
                model=m,
                optimizer=adamw(m),
                images=imgs(3, 8),
                mask_ratio=0.5,
                rng=rng(),
                norm_pix=True,
            ),
        )
    )(mae_model()),
    "helpers.mae.masked_patch_mse": lambda: dict(
        pred=feats(8, 3).reshape(2, 4, 3),
        target=feats(8, 3, 4).reshape(2, 4, 3),
        mask=np.tile([1.0, 0.0], (2, 2)),
    ),
    "helpers.mae.masked_patch_mse_per_image": lambda: dict(
        pred=feats(8, 3).reshape(2, 4, 3),
        target=feats(8, 3, 4).reshape(2, 4, 3),
        mask=np.tile([1.0, 0.0], (2, 2)),
    ),
    "helpers.mae.mean_patch_fill": lambda: dict(
        patches=feats(8, 3).reshape(2, 4, 3),
        mask=np.tile([1.0, 0.0], (2, 2)),
        mean_patch=np.zeros(3),
    ),
    "helpers.mae.nearest_visible_fill": lambda: dict(
        patches=feats(8, 3).reshape(2, 4, 3), mask=np.tile([1.0, 0.0], (2, 2)), grid=2
    ),
    "helpers.mae.train_mae": lambda: dict(
        model=mae_model(),
        images=imgs(4, 8),
        mask_ratio=0.5,
        n_steps=1,
        batch_size=2,
        lr=1e-3,
        weight_decay=0.05,
        norm_pix=False,
        seed=0,
        desc="m",
    ),
    # masking
    "helpers.masking.bert_mask": lambda: dict(
        tokens=np.array([[3, 4, 5, 6], [5, 6, 7, 1]]),
        rng=rng(),
        mask_prob=0.5,
        mask_id=1,
        vocab_size=9,
        special_ids=(0,),
        fixed_count=True,
        max_predictions=2,
    ),
    "helpers.masking.random_masking": lambda: dict(
        x=feats(8, 3).reshape(2, 4, 3), mask_ratio=0.5, rng=rng()
    ),
    "helpers.masking.bayer_ranks": lambda: dict(grid=3),
    "helpers.masking.masking_order": lambda: dict(strategy="block", grid=3, rng=rng()),
    "helpers.masking.strategy_masking": lambda: dict(
        x=feats(8, 3).reshape(2, 4, 3), mask_ratio=0.5, rng=rng(), strategy="grid"
    ),
    # mlm
    "helpers.mlm.ContextFreeMLM": lambda: dict(vocab_size=9, dim=4, rng=rng()),
    "helpers.mlm.MLMTransformer": lambda: dict(
        vocab_size=9, width=8, depth=1, n_heads=2, max_len=6, rng=rng(), mlp_ratio=2.0
    ),
    "helpers.mlm.NeighbourCounts": lambda: dict(
        sentences=token_rows(), vocab_size=len(vocab().words), boundary_id=0
    ),
    "helpers.mlm.Vocab": lambda: dict(words=("[PAD]", "[MASK]", "[UNK]", "the")),
    "helpers.mlm.build_vocab": lambda: dict(
        sentences=[["the", "cat"], ["a", "cat"]], size=6
    ),
    "helpers.mlm.coverage": lambda: dict(
        vocab=vocab(), sentences=[["the", "cat"], ["a", "bird"]]
    ),
    "helpers.mlm.length_batches": lambda: dict(
        lengths=[3, 2, 3, 4], batch_size=2, rng=rng()
    ),
    "helpers.mlm.log_probs": lambda: dict(
        model=mlm_model(),
        inputs=np.array([[3, 4, 5]]),
        pad_mask=np.zeros((1, 3), bool),
        where=np.array([[True, False, True]]),
        chunk=2,
    ),
    "helpers.mlm.make_mlm_step": lambda: dict(
        model=mlm_model(),
        rows=token_rows(),
        vocab=vocab(),
        rng=rng(),
        n_steps=2,
        batch_size=2,
        base_lr=1e-3,
        warmup_steps=1,
        mask_prob=0.5,
        weight_decay=0.01,
    ),
    "helpers.mlm.mask_batch": lambda: dict(
        rows=token_rows(), vocab=vocab(), rng=rng(), mask_prob=0.5, fixed_count=True
    ),
    "helpers.mlm.masked_scores": lambda: dict(
        log_p=np.log(np.full((2, 5), 0.2)), targets=np.array([1, 3]), ks=(1, 2)
    ),
    "helpers.mlm.mlm_loss": lambda: dict(
        model=mlm_model(),
        inputs=np.array([[3, 1, 5]]),
        labels=np.array([[-1, 4, -1]]),
        pad_mask=np.zeros((1, 3), bool),
    ),
    "helpers.mlm.pad_batch": lambda: dict(seqs=token_rows(), pad_id=0, length=5),
    "helpers.mlm.top_k_fills": lambda: dict(
        model=mlm_model(), vocab=vocab(), words=["the", "[MASK]", "sat"], k=2
    ),
    "helpers.mlm.Corpus": lambda: dict(
        sentences=[["the", "cat"], ["a", "dog"]],
        train=[["the", "cat"]],
        held_out=[["a", "dog"]],
        vocab=vocab(),
    ),
    "helpers.mlm.sotu_corpus": lambda: dict(
        max_len=5, vocab_size=50, n_held_out=10, seed=0
    ),
    "helpers.mlm.held_out_draws": lambda: dict(
        rows=token_rows(), vocab=vocab(), n_draws=2, seed=1, mask_prob=0.5
    ),
    "helpers.mlm.draw_scores": lambda: dict(
        log_p=np.log(np.full((7, len(vocab().words)), 1 / len(vocab().words))),
        draws=mlm_draws(),
        mask_id=1,
    ),
    "helpers.mlm.MLMSettings": lambda: dict(
        n_steps=2,
        width=8,
        depth=1,
        n_heads=2,
        mlp_ratio=2.0,
        max_len=8,
        batch_size=2,
        base_lr=1e-3,
        warmup_steps=0,
        mask_prob=0.5,
        seed=0,
        checkpoints=(1,),
    ),
    "helpers.mlm.train_mlm": lambda: dict(
        rows=token_rows(), vocab=vocab(), settings=tiny_mlm_settings(), desc="t"
    ),
    "helpers.mlm.TrainedMLM": lambda: dict(
        model=mlm_model(), losses=np.ones(2), seconds=0.5, checkpoints={}
    ),
    "helpers.mlm.MLMRun": lambda: dict(settings=tiny_mlm_settings(), chapters=("02",)),
    # nn
    "helpers.nn.BatchNorm1d": lambda: dict(
        dim=3, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32
    ),
    "helpers.nn.Embedding": lambda: dict(num=5, dim=3, rng=rng(), dtype=np.float32),
    "helpers.nn.LayerNorm": lambda: dict(dim=3, eps=1e-5, dtype=np.float32),
    "helpers.nn.Linear": lambda: dict(
        in_dim=3, out_dim=2, rng=rng(), bias=True, dtype=np.float32
    ),
    "helpers.nn.MLP": lambda: dict(
        sizes=[3, 4, 2],
        rng=rng(),
        activation="gelu",
        batchnorm=True,
        last_activation=True,
        dtype=np.float32,
    ),
    "helpers.nn.MultiHeadSelfAttention": lambda: dict(
        dim=4, n_heads=2, rng=rng(), dtype=np.float32
    ),
    "helpers.nn.TransformerBlock": lambda: dict(
        dim=4, n_heads=2, rng=rng(), mlp_ratio=2.0, dtype=np.float32
    ),
    "helpers.nn.TransformerEncoder": lambda: dict(
        dim=4, depth=1, n_heads=2, rng=rng(), mlp_ratio=2.0, dtype=np.float32
    ),
    "helpers.nn.ViTEncoder": lambda: dict(
        patch_dim=6,
        width=4,
        depth=1,
        n_heads=2,
        n_patches=4,
        rng=rng(),
        cls_token=True,
        mlp_ratio=2.0,
        pos="sincos2d",
        dtype=np.float32,
    ),
    "helpers.nn.attention": lambda: dict(
        qkv=autograd.Tensor(feats(6, 12).reshape(2, 3, 12)),
        n_heads=2,
        key_padding_mask=np.array([[False, False, True], [False, False, False]]),
    ),
    "helpers.nn.layer_norm": lambda: dict(
        x=autograd.Tensor(feats(2, 3)),
        weight=autograd.Tensor(np.ones(3)),
        bias=autograd.Tensor(np.zeros(3)),
        eps=1e-5,
    ),
    "helpers.nn.linear": lambda: dict(
        x=autograd.Tensor(feats(2, 3)),
        weight=autograd.Tensor(feats(3, 2)),
        bias=autograd.Tensor(np.zeros(2)),
    ),
    "helpers.nn.patchify": lambda: dict(images=imgs(2, 8), patch=4),
    "helpers.nn.prepend_token": lambda: dict(
        token=autograd.Tensor(np.zeros((1, 1, 3))),
        x=autograd.Tensor(feats(4, 3).reshape(2, 2, 3)),
    ),
    "helpers.nn.sincos_1d": lambda: dict(n_positions=4, dim=6),
    "helpers.nn.sincos_2d": lambda: dict(grid_h=2, grid_w=2, dim=8),
    "helpers.nn.unpatchify": lambda: dict(
        patches=feats(8, 4).reshape(2, 4, 4), patch=2, height=4, width=4
    ),
    # optim (the optimiser classes' own step is probed below, in
    # test_optimizer_step_with_a_bad_gradient_changes_nothing)
    "helpers.optim.Adam": lambda: dict(
        params=nn.Linear(3, 2, rng()).parameters(),
        lr=1e-3,
        betas=(0.9, 0.99),
        eps=1e-8,
        weight_decay=0.0,
    ),
    "helpers.optim.AdamW": lambda: dict(
        params=nn.Linear(3, 2, rng()).parameters(),
        lr=1e-3,
        betas=(0.9, 0.99),
        eps=1e-8,
        weight_decay=0.01,
    ),
    "helpers.optim.Optimizer": lambda: dict(
        params=nn.Linear(3, 2, rng()).parameters(), lr=0.1, weight_decay=0.0
    ),
    # plots
    "helpers.plots.fig_to_png": lambda: dict(fig=Figure(figsize=(1, 1)), dpi=30),
    "helpers.plots.collisions": lambda: dict(fig=Figure(figsize=(1, 1)), pad_px=1.0),
    "helpers.plots.plot_curve": lambda: dict(
        ax=axes(),
        x=np.arange(3.0),
        y=np.ones(3),
        xlabel="x",
        ylabel="y",
        title="t",
        label="l",
    ),
    "helpers.plots.show_image": lambda: dict(
        ax=axes(), image=imgs(1)[0], title="t", cmap="gray"
    ),
    "helpers.plots.show_images": lambda: dict(
        images=imgs(2), titles=["a", "b"], ncols=2, cmap="gray", suptitle="s", size=1.0
    ),
    # pretrain
    "helpers.pretrain.Method": lambda: dict(
        build=lambda r, e, h, n: simclr_model(),
        train=lambda m, x, y, **kw: np.zeros(1),
        features=simclr.encode,
        batch_size=2,
        module="helpers.simclr",
        needs_labels=False,
    ),
    "helpers.pretrain.Pretrained": lambda: dict(
        method="simclr", model=simclr_model(), losses=np.ones(2), seconds=1.0
    ),
    "helpers.pretrain.build": lambda: dict(
        method="simclr", seed=0, encoder_sizes=ENC, head_sizes=HEAD, n_classes=3
    ),
    "helpers.pretrain.pretrain": lambda: dict(
        method="simclr",
        images=imgs(),
        seed=0,
        epochs=1.0,
        batch_size=2,
        encoder_sizes=ENC,
        head_sizes=HEAD,
        labels=None,
        desc="p",
    ),
    "helpers.optim.parameter_list": lambda: dict(
        params=nn.Linear(3, 2, rng()).parameters(), name="params"
    ),
    "helpers.optim.SGD": lambda: dict(
        params=nn.Linear(3, 2, rng()).parameters(),
        lr=0.1,
        momentum=0.9,
        weight_decay=0.0,
    ),
    "helpers.optim.cosine_schedule": lambda: dict(
        step=3, total_steps=10, base_lr=0.1, warmup_steps=2, final_lr=0.01
    ),
    "helpers.optim.ema_momentum": lambda: dict(step=3, total_steps=10, base=0.99),
    "helpers.optim.ema_update": lambda: dict(
        target=nn.Linear(3, 2, rng(1)), online=nn.Linear(3, 2, rng(2)), momentum=0.9
    ),
    # capstone (chapter 07)
    "helpers.capstone.validation_split": lambda: dict(
        labels=LABELS, per_class=1, seed=0
    ),
    "helpers.capstone.labelled_indices": lambda: dict(
        labels=LABELS, pool=np.arange(12), per_class=2, draw=0
    ),
    "helpers.capstone.scratch_curve": lambda: dict(
        images=imgs(6),
        labels=np.arange(6) % 3,
        scored={"v": (imgs(3), np.arange(3))},
        steps=2,
        every=1,
        seed=0,
        encoder_sizes=ENC,
        batch_size=3,
    ),
    "helpers.capstone.lp_ft_curve": lambda: dict(
        encoder=simclr.make_mlp_encoder(rng(), ENC),
        width=6,
        images=imgs(6),
        labels=np.arange(6) % 3,
        scored={"v": (imgs(3), np.arange(3))},
        probe_steps=1,
        steps=2,
        every=1,
        head_lr=0.01,
        encoder_lr=0.001,
        seed=0,
        batch_size=3,
    ),
    "helpers.runs.Labelled": lambda: dict(
        per_class=1,
        chapters=("07",),
        encoder=None,
        steps=4,
        every=2,
        probe_steps=1,
        draws=2,
        validation_per_class=1,
    ),
    "helpers.runs.chosen_on_validation": lambda: dict(curves=np.full((2, 2, 3), 0.5)),
    # runs, store, verdict (the lead's; the store-writing ones are in NOT_PROBED)
    "helpers.runs.Run": lambda: dict(
        method="simclr",
        epochs=1.0,
        chapters=("04",),
        seed=0,
        batch_size=2,
        encoder_sizes=ENC,
        head_sizes=HEAD,
        model_options={},
        options={},
        checkpoints=(0.5,),
        target=(0.5, 0.9),
    ),
    "helpers.runs.FineTune": lambda: dict(
        start=None, chapters=("03",), steps=40, every=20, lr=1e-3, draws=2
    ),
    "helpers.runs.FineTuned": lambda: dict(
        encoder=simclr.make_mlp_encoder(rng(), ENC),
        head=nn.Linear(6, 3, rng()),
        losses=np.ones(2),
        val_scores=np.ones(2),
        best_step=20,
        seconds=1.0,
    ),
    "helpers.runs.finetune_labels": lambda: dict(draw=0, per_class=2),
    "helpers.runs.split": lambda: dict(name="supervised_vit"),
    "helpers.store.Entry": lambda: dict(arrays={"w": np.ones(2)}, record={"a": 1}),
    "helpers.store.array_digest": lambda: dict(),
    "helpers.store.code_digest": lambda: dict(modules=["helpers.losses"]),
    "helpers.store.source_digest": lambda: dict(module="helpers.losses"),
    "helpers.store.entry_key": lambda: dict(spec={"method": "simclr", "seed": 0}),
    "helpers.train.after_each_step": lambda: dict(hook=lambda k: None),
    "helpers.verdict.Verdict": lambda: dict(word="ahead", mean=0.1, se=0.01, n=5),
    "helpers.verdict.compare": lambda: dict(
        a=np.array([0.5, 0.6, 0.7]), b=np.array([0.4, 0.5, 0.65])
    ),
    # simclr
    "helpers.simclr.Classifier": lambda: dict(
        encoder=simclr.make_mlp_encoder(rng(), ENC), width=6, n_classes=3, rng=rng()
    ),
    "helpers.simclr.SimCLR": lambda: dict(
        rng=rng(), encoder_sizes=ENC, head_sizes=HEAD
    ),
    "helpers.simclr.encode": lambda: dict(
        module=simclr.make_mlp_encoder(rng(), ENC), images=imgs(), batch_size=3
    ),
    "helpers.simclr.flatten_images": lambda: dict(images=imgs()),
    "helpers.simclr.make_mlp_encoder": lambda: dict(rng=rng(), sizes=ENC),
    "helpers.simclr.make_projection_head": lambda: dict(rng=rng(), sizes=HEAD),
    "helpers.simclr.simclr_step": lambda: (
        lambda m: warmed(
            simclr.simclr_step,
            dict(
                model=m,
                optimizer=adamw(m),
                images=imgs(),
                rng=rng(),
                temperature=0.5,
                views={"sigma": 0.0},
            ),
        )
    )(simclr_model()),
    "helpers.simclr.train_simclr": lambda: dict(
        model=simclr_model(),
        images=imgs(),
        epochs=1.0,
        batch_size=2,
        lr=1e-3,
        temperature=0.5,
        weight_decay=0.01,
        warmup_frac=0.05,
        seed=0,
        desc="s",
        views={"sigma": 0.0},
    ),
    "helpers.simclr.train_supervised": lambda: dict(
        model=simclr.Classifier(simclr.make_mlp_encoder(rng(), ENC), 6, 3, rng()),
        images=imgs(6),
        labels=np.array([0, 1, 2, 0, 1, 2]),
        steps=1,
        batch_size=3,
        lr=1e-3,
        weight_decay=0.01,
        augment=True,
        seed=0,
        desc="s",
    ),
    "helpers.simclr.two_view_step": lambda: (
        lambda m: warmed(
            simclr.two_view_step,
            dict(
                model=m,
                optimizer=adamw(m),
                images=imgs(),
                rng=rng(),
                loss_fn=losses.nt_xent,
                views={"sigma": 0.0},
            ),
        )
    )(simclr_model()),
    # train
    "helpers.train.endless_batches": lambda: dict(n=5, batch_size=2, rng=rng()),
    "helpers.train.fit": lambda: dict(
        step_fn=lambda k: 0.5, n_steps=2, desc="t", log_every=1
    ),
    "helpers.train.minibatches": lambda: dict(
        n=5, batch_size=2, rng=rng(), drop_last=False
    ),
    "helpers.train.steps_for": lambda: dict(epochs=1.0, n=5, batch_size=2),
    "helpers.train.train_epochs": lambda: (
        lambda m: dict(
            model=m,
            images=imgs(),
            update=lambda o, b, r, k, n: 0.5,
            epochs=1.0,
            batch_size=2,
            lr=1e-3,
            weight_decay=0.01,
            warmup_frac=0.05,
            seed=0,
            desc="t",
            parameters=m.parameters(),
        )
    )(simclr_model()),
    # widgets
    "helpers.widgets.contrastive.TemperatureExplorer": lambda: dict(
        z1=feats(4, 3), z2=feats(4, 3, 3), labels=[0, 1, 0, 1]
    ),
    "helpers.widgets.contrastive.anchor_state": lambda: dict(
        cos=contrastive.cosine_matrix(feats(4, 3), feats(4, 3, 3)),
        anchor=1,
        temperature=0.5,
    ),
    "helpers.widgets.contrastive.bar_segments": lambda: dict(
        probability=np.full(4, 0.25)
    ),
    "helpers.widgets.contrastive.check_pair_batch": lambda: dict(
        z1=feats(4, 3), z2=feats(4, 3, 3)
    ),
    "helpers.widgets.contrastive.cosine_matrix": lambda: dict(
        z1=feats(4, 3), z2=feats(4, 3, 3)
    ),
    "helpers.widgets.contrastive.draw_anchor_state": lambda: (
        lambda ax: dict(
            ax=ax,
            bars=contrastive.setup_axes(ax, 4, True),
            state=cos_state(),
            labels=np.array([0, 1, 0, 1]),
        )
    )(axes()),
    "helpers.widgets.contrastive.setup_axes": lambda: dict(
        ax=axes(), n_candidates=4, with_labels=True
    ),
    "helpers.widgets.contrastive.temperature_explorer": lambda: dict(
        z1=feats(4, 3), z2=feats(4, 3, 3), labels=[0, 1, 0, 1]
    ),
    "helpers.widgets.demo.NoiseDemo": lambda: dict(index=1, seed=0),
    "helpers.widgets.demo.add_noise": lambda: dict(
        image=imgs(1, 8)[0], noise=feats(8, 8), sigma=0.1
    ),
    "helpers.widgets.demo.draw_noise_state": lambda: dict(
        ax_image=axes(), ax_hist=axes(), state=noise_state()
    ),
    "helpers.widgets.demo.noise_demo": lambda: dict(index=1, seed=0),
    "helpers.widgets.demo.noise_title": lambda: dict(state=noise_state()),
    "helpers.widgets.demo.noise_state": lambda: dict(
        image=imgs(1, 8)[0], noise=feats(8, 8), sigma=0.1
    ),
    "helpers.widgets.dino.AttentionExplorer": lambda: dict(
        images=imgs(2, 8), maps={"a": rng().random((2, 2, 4))}
    ),
    "helpers.widgets.dino.attention_image": lambda: dict(
        weights=rng().random(4), side=8
    ),
    "helpers.widgets.dino.attention_title": lambda: dict(state=attention_state()),
    "helpers.widgets.dino.attention_panel": lambda: dict(
        ax=axes(), state=attention_state(), vmax=1.0
    ),
    "helpers.widgets.dino.attention_colorbar": lambda: (
        lambda ax: dict(fig=ax.figure, overlay=ax.imshow(np.eye(2)), ax=ax)
    )(axes()),
    "helpers.widgets.embedding.EmbeddingSpaceExplorer": lambda: dict(
        steps_per_frame=1, seed=0
    ),
    "helpers.widgets.embedding.EmbeddingTrainer": lambda: dict(
        objective="SimCLR",
        ema=False,
        stop_gradient=False,
        predictor=False,
        momentum=0.5,
        lr=0.01,
        jitter=0.4,
        temperature=0.2,
        seed=0,
    ),
    "helpers.widgets.embedding.describe_variant": lambda: dict(
        ema=True, stop_gradient=False, predictor=True
    ),
    "helpers.widgets.embedding.key_states_figure": lambda: dict(
        settings=[{"ema": True, "stop_gradient": True, "predictor": True}],
        steps=2,
        seed=0,
    ),
    "helpers.widgets.embedding.toy_blobs": lambda: dict(
        n_per_class=3, n_classes=2, seed=0
    ),
    "helpers.widgets.mae.MaskingExplorer": lambda: dict(
        model=mae_model(),
        images=imgs(3, 8),
        labels=np.array([0, 1, 2]),
        mean_patch=np.zeros(16),
        n_choices=2,
        seed=0,
    ),
    "helpers.widgets.mae.draw_fill": lambda: dict(
        ax=axes(), state=mae_state(), name="mae"
    ),
    "helpers.widgets.mae.fill_title": lambda: dict(state=mae_state(), name="mae"),
    "helpers.widgets.mae.mask_state": lambda: dict(
        model=mae_model(),
        image=imgs(1, 8)[0],
        mean_patch=np.zeros(16),
        ratio=0.5,
        seed=0,
    ),
    "helpers.widgets.mae.masked_rgb": lambda: dict(
        image=imgs(1, 8)[0], mask=np.array([1.0, 0, 0, 1]), patch=4
    ),
    "helpers.widgets.mae.masked_title": lambda: dict(state=mae_state()),
    "helpers.widgets.mae.masking_explorer": lambda: dict(
        model=mae_model(),
        images=imgs(3, 8),
        labels=np.array([0, 1, 2]),
        mean_patch=np.zeros(16),
        n_choices=2,
        seed=0,
    ),
    "helpers.widgets.mae.side_by_side": lambda: dict(
        panels=[imgs(1, 4)[0], imgs(1, 4)[0]], gap=1
    ),
    "helpers.widgets.mlm.MaskingExplorer": lambda: dict(
        model=mlm_model(), vocab=vocab(), words=["the", "cat", "sat"], seed=0
    ),
    "helpers.widgets.mlm.draw_masking": lambda: dict(
        ax=axes(), vocab=vocab(), state=mlm_state(), title="t"
    ),
    "helpers.widgets.mlm.token_artists": lambda: dict(ax=axes(), n_tokens=3),
    "helpers.widgets.mlm.show_masking": lambda: dict(
        **mlm_texts(), vocab=vocab(), state=mlm_state()
    ),
    "helpers.widgets.mlm.masking_explorer": lambda: dict(
        model=mlm_model(), vocab=vocab(), words=["the", "cat", "sat"], seed=0
    ),
    "helpers.widgets.mlm.masking_state": lambda: dict(
        model=mlm_model(),
        vocab=vocab(),
        ids=vocab().encode(["the", "cat", "sat"]),
        mask_prob=0.5,
        rng=rng(),
    ),
}

if importlib.util.find_spec("torch") is not None:  # the optional extra (CI installs it)
    import torch

    from helpers import distributed, torch_bridge

    def world_of_one() -> None:
        """A torch.distributed process group of one rank in this process (once)."""
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group(
                "gloo",
                init_method=f"tcp://127.0.0.1:{distributed._free_port()}",
                rank=0,
                world_size=1,
            )

    def torch_twin() -> torch.nn.Module:
        return torch_bridge.to_torch(simclr_model())

    def twin_with_grads() -> torch.nn.Module:
        twin = torch_twin()
        twin(torch.from_numpy(imgs(4, 4).reshape(4, 16))).sum().backward()
        return twin

    def grouped(kwargs: dict[str, Any]) -> dict[str, Any]:
        world_of_one()
        return kwargs

    TORCH_Z = lambda: torch.tensor(feats(4, 3))  # noqa: E731
    VALID.update(
        {
            "helpers.torch_bridge.TorchMLP": lambda: dict(
                sizes=[4, 3, 2],
                batchnorm=True,
                last_activation=False,
                norm=torch.nn.BatchNorm1d,
            ),
            "helpers.torch_bridge.TorchSimCLR": lambda: dict(
                encoder_sizes=ENC, head_sizes=HEAD, norm=torch.nn.BatchNorm1d
            ),
            "helpers.torch_bridge.to_torch": lambda: dict(
                model=simclr_model(), norm=torch.nn.BatchNorm1d
            ),
            "helpers.torch_bridge.numpy_state": lambda: dict(module=torch_twin()),
            "helpers.torch_bridge.load_numpy_state": lambda: dict(
                module=torch_twin(), state=simclr_model().state_dict()
            ),
            "helpers.torch_bridge.numpy_grads": lambda: dict(module=twin_with_grads()),
            "helpers.torch_bridge.torch_nt_xent": lambda: dict(
                z1=TORCH_Z(), z2=TORCH_Z(), temperature=0.5
            ),
            "helpers.torch_bridge.book_optimizer": lambda: dict(
                module=torch_twin(),
                n_steps=10,
                lr=1e-3,
                weight_decay=0.0,
                warmup_frac=0.1,
            ),
            "helpers.torch_bridge.view_stream": lambda: dict(
                images=imgs(4, 4), batch_size=2, seed=0
            ),
            "helpers.torch_bridge.torch_simclr_step": lambda: (
                lambda twin: dict(
                    model=twin,
                    optimizer=torch.optim.AdamW(twin.parameters()),
                    views=(imgs(2, 4).reshape(2, 16),) * 2,
                    loss_fn=torch_bridge.torch_nt_xent,
                )
            )(torch_twin()),
            "helpers.torch_bridge.max_differences": lambda: dict(
                reference={"a": feats(2, 2)}, other={"a": feats(2, 2, seed=3)}
            ),
            "helpers.distributed.all_gather": lambda: grouped(
                dict(x=TORCH_Z(), pass_gradients=True)
            ),
            "helpers.distributed.all_reduce_sum": lambda: grouped(dict(x=TORCH_Z())),
            "helpers.distributed.SyncedBatchNorm1d": lambda: dict(
                num_features=3, eps=1e-5, momentum=0.1
            ),
            "helpers.distributed.gathered_nt_xent": lambda: grouped(
                dict(z1=TORCH_Z(), z2=TORCH_Z(), temperature=0.5, pass_gradients=True)
            ),
            "helpers.distributed.average_gradients": lambda: grouped(
                dict(module=twin_with_grads())
            ),
            "helpers.distributed.launch": lambda: dict(
                world_size=1, steps=1, batch_size=2, temperature=0.5, timeout=300.0
            ),
        }
    )

BAD: dict[str, Any] = {
    "None": None,
    "string": "x",
    "object": object(),
    "NaN array": np.full((3, 3), np.nan),
    "object array": np.array([[1.0, None]], dtype=object),
}
BAD_FLAGS: dict[str, Any] = {
    "None": None,
    "string 'no'": "no",
    "int 1": 1,
    "array": np.array([True, False]),
}
ALL_PROBES = tuple(BAD) + tuple(BAD_FLAGS)

# (qualname, argument) -> (probes that are valid values there, why)
LEAD = (
    "helpers/pretrain.py and helpers/runs.py are the lead's "
    "(issue 25 left them alone): checks still to add there"
)
CONTAINER = "a Tensor is a container: NaN is a legal value mid-graph"
VALID_PROBES: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("helpers.autograd.Tensor", "data"): (("NaN array",), CONTAINER),
    ("helpers.autograd.as_tensor", "x"): (("NaN array",), CONTAINER),
    ("helpers.autograd.unbroadcast", "grad"): (("NaN array",), CONTAINER),
    **{
        pair: (ALL_PROBES, LEAD)
        for pair in [
            ("helpers.pretrain.pretrain", "encoder_sizes"),
            ("helpers.pretrain.pretrain", "head_sizes"),
            ("helpers.pretrain.build", "encoder_sizes"),
            ("helpers.pretrain.build", "head_sizes"),
            ("helpers.pretrain.pretrain", "desc"),
            ("helpers.pretrain.Pretrained", "checkpoints"),
            ("helpers.pretrain.Pretrained", "checkpoint_seconds"),
            *(
                ("helpers.runs.Run", a)
                for a in (
                    "seed",
                    "batch_size",
                    "encoder_sizes",
                    "head_sizes",
                    "model_options",
                    "options",
                    "checkpoints",
                    "target",
                )
            ),
        ]
    },
    ("helpers.pretrain.pretrain", "labels"): (
        ALL_PROBES,
        LEAD + "; labels are ignored by unlabelled methods such as simclr",
    ),
}


def probes_for(fn: Callable[..., Any], param: inspect.Parameter) -> dict[str, Any]:
    """The bad values to try for one argument: non-bools for flags, else garbage."""
    annotation = str(param.annotation)
    if re.fullmatch(r"bool", annotation):
        chosen = dict(BAD_FLAGS)
    else:
        chosen = dict(BAD)
    if param.default is None or "None" in annotation:
        chosen.pop("None")
    if re.search(r"\bstr\b", annotation):
        chosen.pop("string", None)
    return chosen


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__name__}"


CALLABLES = {q: f for q, f in public_callables() if q in VALID}
CASES = []
for q, f in CALLABLES.items():
    for param in inspect.signature(f).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        skip = VALID_PROBES.get((q, param.name), ((), ""))[0]
        CASES += [
            (q, param.name, probe)
            for probe in probes_for(f, param)
            if probe not in skip
        ]


def state_digest(value: Any) -> str:
    """A hash of every array, number and string reachable from value through helpers'
    objects, lists and dicts.

    Covers model parameters, buffers and gradients, optimiser moments and counters, and
    plain inputs; generators, figures and widgets' front-end objects are left out.
    """
    h = hashlib.sha256()
    seen: set[int] = set()

    def visit(obj: Any) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            h.update(repr((obj.dtype, obj.shape)).encode())
            h.update(
                repr(obj.tolist()).encode()
                if obj.dtype == object
                else np.ascontiguousarray(obj).tobytes()
            )
        elif isinstance(obj, (bool, int, float, str, bytes, type(None), np.generic)):
            h.update(repr(obj).encode())
        elif isinstance(obj, (list, tuple)):
            h.update(f"{type(obj).__name__}{len(obj)}".encode())
            for item in obj:
                visit(item)
        elif isinstance(obj, dict):
            for key in sorted(obj, key=repr):
                h.update(repr(key).encode())
                visit(obj[key])
        elif type(obj).__module__.startswith("helpers") and hasattr(obj, "__dict__"):
            visit(vars(obj))

    visit(value)
    return h.hexdigest()


# callables that write to the pre-training store or train registered runs: their checks
# are the lead's tests'
STORE = (
    "reads or writes the pre-training store (SSL_STORE) or trains a registered run; "
    "see test_store.py and test_runs.py"
)
NOT_PROBED = {
    q: STORE
    for q in (
        "helpers.pretrain.stored_pretrain",
        "helpers.runs.evaluate",
        "helpers.runs.main",
        "helpers.mlm.stored_mlm",
        "helpers.runs.pretrained",
        "helpers.store.load_or_make",
    )
}


def test_every_public_callable_has_a_valid_call() -> None:
    missing = (
        {
            q
            for q, f in public_callables()
            if q not in EXEMPT and inspect.signature(f).parameters
        }
        - set(VALID)
        - set(NOT_PROBED)
    )
    assert not missing, f"add a valid call to VALID for {sorted(missing)}"
    assert not set(VALID) - {q for q, _ in public_callables()}, (
        "VALID names a callable that no longer exists"
    )


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_the_valid_call_succeeds(qualname: str) -> None:
    """The baseline each probe starts from is a valid call (else a probe could lie)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        CALLABLES[qualname](**VALID[qualname]())


@pytest.mark.parametrize(
    "qualname,param,probe",
    CASES,
    ids=[f"{q.removeprefix('helpers.')}-{a}-{p}" for q, a, p in CASES],
)
def test_one_bad_argument_is_named_and_changes_nothing(
    qualname: str, param: str, probe: str
) -> None:
    fn = CALLABLES[qualname]
    kwargs = VALID[qualname]()
    bad = probes_for(fn, inspect.signature(fn).parameters[param])[probe]
    kwargs[param] = bad
    before = state_digest({k: v for k, v in kwargs.items() if k != param})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)) as info:
            fn(**kwargs)
    message = str(info.value)
    assert re.search(rf"(?<![\w.]){re.escape(param)}\b", message), (
        f"{qualname}: {param}={probe} gave {message!r}"
    )
    assert state_digest({k: v for k, v in kwargs.items() if k != param}) == before, (
        f"{qualname} changed state while raising"
    )


def probe_failures(qualname: str, fn: Callable[..., Any]) -> list[str]:
    """The probes of qualname's arguments that fn does not reject cleanly."""
    failures = []
    for q, param, probe in CASES:
        if q != qualname:
            continue
        kwargs = VALID[q]()
        kwargs[param] = probes_for(fn, inspect.signature(fn).parameters[param])[probe]
        before = state_digest({k: v for k, v in kwargs.items() if k != param})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(**kwargs)
            failures.append(f"{param}={probe}: no error")
            continue
        except (ValueError, TypeError) as err:
            if not re.search(rf"(?<![\w.]){re.escape(param)}\b", str(err)):
                failures.append(f"{param}={probe}: message {str(err)!r}")
        except Exception as err:  # noqa: BLE001 -- any other exception is a finding too
            failures.append(f"{param}={probe}: {type(err).__name__}")
        if state_digest({k: v for k, v in kwargs.items() if k != param}) != before:
            failures.append(f"{param}={probe}: state changed")
    return failures


def without_line(fn: Callable[..., Any], line: str) -> Callable[..., Any]:
    """fn rebuilt from its source with one validation line replaced by `pass`."""
    source = inspect.getsource(fn)
    assert source.count(line) == 1, f"{line!r} must occur once in {fn.__name__}"
    indent = source[: source.index(line)].rsplit("\n", 1)[1]
    namespace = dict(vars(importlib.import_module(fn.__module__)))
    exec(
        compile(
            source.replace(indent + line, indent + "pass"),
            f"<mutant of {fn.__name__}>",
            "exec",
        ),
        namespace,
    )
    return namespace[fn.__name__]


# A sample of validation sites (the three of issue 25 first): removing any one must make
# a probe fail.
MUTATION_SITES = [
    ("helpers.losses.nt_xent", 'tau = check_positive(temperature, "temperature")'),
    (
        "helpers.evaluation.knn_neighbours",
        'k = check_int(k, "k", minimum=1, maximum=len(ref))',
    ),
    ("helpers.byol.byol_step", 'check_instance(model, BYOL, "model")'),
    ("helpers.byol.byol_step", 'check_bool(ema, "ema")'),
    (
        "helpers.dino.dino_step",
        'check_fraction(center_momentum, "center_momentum", high_open=False)',
    ),
    ("helpers.dino.dino_step", 'check_positive(teacher_temp, "teacher_temp")'),
    ("helpers.optim.ema_update", 'check_instance(online, Module, "online")'),
    ("helpers.mae.mae_step", 'check_bool(norm_pix, "norm_pix")'),
    ("helpers.masking.bert_mask", 'check_bool(fixed_count, "fixed_count")'),
    ("helpers.simclr.encode", 'check_instance(module, Module, "module")'),
    ("helpers.simclr.train_supervised", 'check_bool(augment, "augment")'),
    ("helpers.mlm.make_mlm_step", 'check_instance(vocab, Vocab, "vocab")'),
]


@pytest.mark.parametrize(
    "qualname,line",
    MUTATION_SITES,
    ids=[
        f"{q.removeprefix('helpers.')}:{l.split('(')[1][:20]}"
        for q, l in MUTATION_SITES
    ],
)
def test_removing_a_validation_call_is_seen(qualname: str, line: str) -> None:
    """Mutation test: the probes pass on the function and catch its mutant."""
    fn = CALLABLES[qualname]
    assert probe_failures(qualname, fn) == []
    assert probe_failures(qualname, without_line(fn, line)), (
        f"removing {line!r} from {qualname} went unseen"
    )


# ----- mutating calls with bad numbers (in range checks, not only types) change nothing
# ----------
@pytest.mark.parametrize(
    "name,value",
    [
        ("momentum", 1.5),
        ("teacher_temp", 0.0),
        ("student_temp", -1.0),
        ("center_momentum", 2.0),
        ("n_global", 5),
        ("centering", "no"),
    ],
)
def test_dino_step_with_a_bad_hyperparameter_changes_nothing(
    name: str, value: Any
) -> None:
    """Issue 25: a bad momentum, teacher_temp or center_momentum raised too late."""
    kwargs = VALID["helpers.dino.dino_step"]()
    kwargs[name] = value
    before = state_digest(kwargs)
    with pytest.raises((ValueError, TypeError), match=rf"^{name} "):
        dino.dino_step(**kwargs)
    assert state_digest(kwargs) == before


@pytest.mark.parametrize(
    "opt_cls,kw",
    [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {}), (optim.AdamW, {})],
)
def test_optimizer_step_with_a_bad_gradient_changes_nothing(
    opt_cls: type, kw: dict[str, Any]
) -> None:
    layer, opt = stepped(opt_cls, **kw)
    layer(feats(4, 3)).sum().backward()
    layer.bias.grad = np.zeros(5)
    before = state_digest((layer, opt))
    with pytest.raises(
        ValueError, match=r"params\[1\]\.grad must have its parameter's shape"
    ):
        opt.step()
    assert state_digest((layer, opt)) == before


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: embedding.EmbeddingTrainer(ema="no"), "ema must be True or False"),
        (lambda: embedding.EmbeddingTrainer(momentum=1.5), "momentum must lie in"),
        (lambda: nn.Linear(2, 2, rng()).train("no"), "mode must be True or False"),
        (lambda: nn.BatchNorm1d(3, affine="no"), "affine must be True or False"),
        (
            lambda: byol.symmetric_loss(
                autograd.Tensor(feats(4, 3)),
                autograd.Tensor(feats(4, 3)),
                stop_gradient="no",
            ),
            "stop_gradient must be True or False",
        ),
        (
            lambda: autograd.Tensor(feats(2, 3)) @ autograd.Tensor(feats(2, 3)),
            r"Tensor @ \(matmul\): shapes \(2, 3\) and \(2, 3\)",
        ),
        (
            lambda: autograd.Tensor(feats(2, 3)) + autograd.Tensor(feats(2, 2)),
            r"Tensor \+: shapes \(2, 3\) and \(2, 2\)",
        ),
        (
            lambda: autograd.Tensor(feats(2, 3)).reshape(4),
            r"Tensor reshape: shapes \(2, 3\) and \(4,\)",
        ),
        (
            lambda: optim.ema_update(nn.Linear(2, 2, rng()), "online", 0.5),
            "online must be a Module",
        ),
        (lambda: simclr.encode("model", imgs()), "module must be a Module"),
    ],
)
def test_flags_types_and_shapes_get_a_clear_error(
    call: Callable[[], Any], match: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()
