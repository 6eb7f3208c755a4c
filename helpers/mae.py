"""Chapter 03's masked autoencoder (MAE) for 28x28 digits, its training step and its
baselines.

- `MAE`: a ViT encoder that sees only the visible patches (with their positions) and a
  light decoder that puts a learned mask token at every removed position, adds fixed 2-D
  sin-cos positions, runs transformer blocks and predicts each patch's pixels (He et al.
  2022).
- `mae_step`: one AdamW step on MAE's loss (masked patches only, optional norm_pix
  target).
- `mae_features`: frozen features for probes, the mean of the encoder's patch tokens.
- `nearest_visible_fill`, `mean_patch_fill`, `masked_patch_mse`: the baselines the MAE
  must beat and the score they are compared by.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_instance,
    check_int,
    check_rng,
    check_text,
)
from helpers.autograd import Tensor, concatenate, no_grad
from helpers.losses import mae_loss
from helpers.masking import strategy_masking
from helpers.nn import (
    LayerNorm,
    Linear,
    Module,
    TransformerBlock,
    ViTEncoder,
    patchify,
    sincos_2d,
)
from helpers.optim import AdamW, Optimizer, cosine_schedule
from helpers.train import endless_batches, fit

__all__ = [
    "MAE",
    "PooledEncoder",
    "mae_step",
    "train_mae",
    "mae_features",
    "grid_distances",
    "nearest_visible_fill",
    "mean_patch_fill",
    "masked_patch_mse",
]


def _check_images(images: Any, size: int) -> np.ndarray:
    """Return images as a float32 (N, size, size) array, else raise."""
    arr = check_array(images, "images", ndim=3)
    if arr.shape[1:] != (size, size) or arr.shape[0] < 1:
        raise ValueError(
            f"images must have shape (N, {size}, {size}) with N >= 1, got {arr.shape}"
        )
    return arr.astype(np.float32, copy=False)


def _check_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """Return mask as a float (N, L) array of 0 (visible), 1 (removed), else raise."""
    m = check_array(mask, "mask", ndim=2)
    if m.shape != shape or not np.isin(m, (0, 1)).all():
        raise ValueError(
            f"mask must hold 0 (visible) / 1 (removed) in shape {shape}, got shape "
            f"{m.shape}"
        )
    return m.astype(np.float32, copy=False)


class MAE(Module):
    """Masked autoencoder: ViT encoder on visible patches, mask tokens, a decoder."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        image_size: int = 28,
        patch: int = 7,
        width: int = 64,
        depth: int = 2,
        n_heads: int = 4,
        decoder_width: int = 32,
        decoder_depth: int = 1,
        decoder_heads: int = 4,
        mlp_ratio: float = 2.0,
    ) -> None:
        check_rng(rng)
        self.patch = check_int(patch, "patch", minimum=1)
        self.image_size = check_int(image_size, "image_size", minimum=patch)
        if image_size % patch:
            raise ValueError(
                f"patch must divide image_size, got patch={patch}, "
                f"image_size={image_size}"
            )
        self.grid = image_size // patch
        for dim, heads, dim_name, heads_name in (
            (width, n_heads, "width", "n_heads"),
            (decoder_width, decoder_heads, "decoder_width", "decoder_heads"),
        ):
            if check_int(dim, dim_name, minimum=1) % check_int(
                heads, heads_name, minimum=1
            ):
                raise ValueError(
                    f"{heads_name} must divide {dim_name}, got {dim_name}={dim}, "
                    f"{heads_name}={heads}"
                )
        n_patches, patch_dim = self.grid**2, patch * patch
        self.encoder = ViTEncoder(
            patch_dim,
            width,
            depth,
            n_heads,
            n_patches,
            rng,
            cls_token=True,
            mlp_ratio=mlp_ratio,
        )
        self.decoder_embed = Linear(width, decoder_width, rng)
        self.mask_token = Tensor(
            rng.normal(0, 0.02, (1, 1, decoder_width)).astype(np.float32),
            requires_grad=True,
        )
        # the CLS token has no place on the grid
        cls_position = np.zeros((1, decoder_width), np.float32)
        self.decoder_pos = np.concatenate(
            [cls_position, sincos_2d(self.grid, self.grid, decoder_width)]
        )
        self.decoder_blocks = [
            TransformerBlock(decoder_width, decoder_heads, rng, mlp_ratio)
            for _ in range(check_int(decoder_depth, "decoder_depth", minimum=1))
        ]
        self.decoder_norm = LayerNorm(decoder_width)
        self.decoder_pred = Linear(decoder_width, patch_dim, rng)

    @property
    def n_patches(self) -> int:
        """Number of patches per image."""
        return self.grid**2

    def patchify(self, images: Any) -> np.ndarray:
        """Cut (N, H, W) images into this model's (N, L, patch*patch) patches."""
        return patchify(_check_images(images, self.image_size), self.patch)

    def encode(self, visible: Any, ids_keep: np.ndarray | None = None) -> Tensor:
        """Encode visible patches (N, K, P) at ids_keep (N, K) -> (N, 1 + K, width)."""
        return self.encoder(visible, ids_keep=ids_keep)

    def decode(self, latent: Tensor, ids_restore: np.ndarray) -> Tensor:
        """Predict every patch (N, L, P) from encoded tokens and ids_restore."""
        x = self.decoder_embed(latent)
        n, k1, d = x.shape
        fill = self.mask_token + Tensor(
            np.zeros((n, self.n_patches + 1 - k1, d), np.float32)
        )
        # visible tokens first, as random_masking keeps them
        shuffled = concatenate([x[:, 1:], fill], axis=1)
        # back to the original patch order
        tokens = shuffled[np.arange(n)[:, None], ids_restore]
        x = concatenate([x[:, :1], tokens], axis=1) + self.decoder_pos
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    def forward(
        self,
        patches: Any,
        mask_ratio: float,
        rng: np.random.Generator,
        strategy: str = "random",
    ) -> tuple[Tensor, np.ndarray]:
        """Mask by strategy, encode the rest, decode all -> (prediction, mask)."""
        visible, mask, ids_restore = strategy_masking(
            patches, mask_ratio, rng, strategy
        )
        ids_keep = np.argsort(ids_restore, axis=1)[:, : visible.shape[1]]
        return self.decode(self.encode(visible, ids_keep), ids_restore), mask


def mae_step(
    model: MAE,
    optimizer: Optimizer,
    images: Any,
    mask_ratio: float,
    rng: np.random.Generator,
    norm_pix: bool = False,
) -> float:
    """One optimisation step of MAE's loss on a batch of images; returns the loss."""
    check_instance(model, MAE, "model")
    check_instance(optimizer, Optimizer, "optimizer")
    patches = model.patchify(images)
    check_fraction(mask_ratio, "mask_ratio", low_open=True)
    check_rng(rng)
    check_bool(norm_pix, "norm_pix")
    optimizer.zero_grad()
    pred, mask = model(patches, mask_ratio, check_rng(rng))
    loss = mae_loss(pred, patches, mask, norm_pix=norm_pix)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_mae(
    model: MAE,
    images: Any,
    mask_ratio: float,
    n_steps: int,
    *,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.05,
    norm_pix: bool = False,
    seed: int = 0,
    desc: str = "MAE",
) -> np.ndarray:
    """Train with AdamW (0.9, 0.95), 10 % warm-up, cosine decay; the step losses."""
    check_instance(model, MAE, "model")
    images = _check_images(images, model.image_size)
    check_int(batch_size, "batch_size", minimum=1, maximum=len(images))
    check_fraction(mask_ratio, "mask_ratio", low_open=True)
    check_int(n_steps, "n_steps", minimum=1)
    check_bool(norm_pix, "norm_pix")
    check_text(desc, "desc")
    rng = np.random.default_rng(check_int(seed, "seed"))
    optimizer = AdamW(
        model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay
    )
    batches = endless_batches(len(images), batch_size, rng)

    def step(k: int) -> float:
        optimizer.lr = cosine_schedule(k, n_steps, lr, warmup_steps=n_steps // 10)
        return mae_step(
            model, optimizer, images[next(batches)], mask_ratio, rng, norm_pix
        )

    model.train()
    return fit(step, n_steps, desc=desc)


def mae_features(model: MAE, images: Any, batch_size: int = 500) -> np.ndarray:
    """Frozen features (N, width): the mean of the encoder's tokens over all patches."""
    check_instance(model, MAE, "model")
    patches = model.patchify(images)
    check_int(batch_size, "batch_size", minimum=1)
    with no_grad():
        parts = [
            model.encode(patches[i : i + batch_size]).data[:, 1:].mean(axis=1)
            for i in range(0, len(patches), batch_size)
        ]
    return np.concatenate(parts)


class PooledEncoder(Module):
    """A ViT encoder on all patches (N, L, P), read out as its mean patch token."""

    def __init__(self, encoder: ViTEncoder) -> None:
        if not isinstance(encoder, ViTEncoder):
            raise TypeError(
                f"encoder must be a helpers.nn.ViTEncoder, got {type(encoder).__name__}"
            )
        self.encoder = encoder

    def forward(self, patches: Any) -> Tensor:
        """Mean over the patch tokens (CLS left out) of the encoded patches."""
        tokens = self.encoder(patches)
        return (tokens[:, 1:] if self.encoder.cls is not None else tokens).mean(axis=1)


def grid_distances(grid: int) -> np.ndarray:
    """Squared Euclidean distances (L, L) between cells of a grid x grid, row-major."""
    check_int(grid, "grid", minimum=1)
    rows, cols = np.divmod(np.arange(grid * grid), grid)
    return (
        (rows[:, None] - rows[None]) ** 2 + (cols[:, None] - cols[None]) ** 2
    ).astype(np.float64)


def nearest_visible_fill(patches: Any, mask: Any, grid: int) -> np.ndarray:
    """Copy into each removed patch the nearest visible one (ties: the lowest)."""
    x = check_array(patches, "patches", ndim=3)
    if x.shape[1] != check_int(grid, "grid", minimum=1) ** 2:
        raise ValueError(
            f"patches must hold grid*grid = {grid * grid} patches, got {x.shape[1]}"
        )
    m = _check_mask(mask, x.shape[:2])
    if m.all(axis=1).any():
        raise ValueError(
            "mask removes every patch of some image; at least one must stay visible"
        )
    # (N, target, source)
    cost = grid_distances(grid)[None] + np.where(m[:, None, :] == 1, np.inf, 0.0)
    source = cost.argmin(axis=2)
    return np.take_along_axis(x, source[..., None], axis=1)


def mean_patch_fill(patches: Any, mask: Any, mean_patch: Any) -> np.ndarray:
    """Put mean_patch ((P,) or (L, P), one per position) into every removed patch."""
    x = check_array(patches, "patches", ndim=3)
    m = _check_mask(mask, x.shape[:2])
    mean = check_array(mean_patch, "mean_patch", ndim=(1, 2))
    if mean.shape not in ((x.shape[2],), x.shape[1:]):
        raise ValueError(
            f"mean_patch must have shape ({x.shape[2]},) or {x.shape[1:]}, got "
            f"{mean.shape}"
        )
    return np.where(m[..., None] == 1, np.broadcast_to(mean, x.shape), x)


def masked_patch_mse(pred: Any, target: Any, mask: Any) -> float:
    """MAE's score in pixels: per-patch MSE averaged over the removed patches only."""
    pred, target = (
        check_array(pred, "pred", ndim=3),
        check_array(target, "target", ndim=3),
    )
    with no_grad():
        return mae_loss(pred.astype(np.float64), target.astype(np.float64), mask).item()


def masked_patch_mse_per_image(pred: Any, target: Any, mask: Any) -> np.ndarray:
    """masked_patch_mse of each image (N,): MSE averaged over its removed patches."""
    pred, target = (
        check_array(pred, "pred", ndim=3),
        check_array(target, "target", ndim=3),
    )
    m = _check_mask(mask, target.shape[:2])
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {pred.shape} and "
            f"{target.shape}"
        )
    if not m.any(axis=1).all():
        raise ValueError("mask must remove at least one patch of every image")
    per_patch = ((pred.astype(np.float64) - target.astype(np.float64)) ** 2).mean(
        axis=2
    )
    return (per_patch * m).sum(axis=1) / m.sum(axis=1)
