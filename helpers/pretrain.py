"""One entry point for every method's pre-training, so chapters compare methods on equal terms.

`pretrain(method, images, ...)` builds a fresh model from a seed, trains it with that method's own
training function (written once, in the method's module: `helpers.simclr`, `helpers.barlow`,
`helpers.byol`, `helpers.dino`, `helpers.mae`, ...) and returns a `Pretrained` record: the model, its losses, the CPU seconds spent
training, and `features(images)`, the frozen representation the book's probes read.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers._checks import check_array, check_bool, check_instance, check_int, check_nonnegative, check_positive
from helpers.barlow import BarlowTwins, train_barlow_twins
from helpers.byol import BYOL, train_byol
from helpers.dino import DINO, train_dino
from helpers.mae import MAE, mae_features, train_mae
from helpers.nn import Module
from helpers.simclr import ENCODER_SIZES, HEAD_SIZES, Classifier, SimCLR, encode, make_mlp_encoder, train_simclr, train_supervised
from helpers.train import steps_for

__all__ = ["METHODS", "Method", "Pretrained", "build", "pretrain"]


@dataclass(frozen=True)
class Method:
    """One registry entry: build(rng, encoder_sizes, head_sizes, n_classes), train(model, images, labels, **kw), features."""

    build: Callable[[np.random.Generator, Sequence[int], Sequence[int], int], Module]
    train: Callable[..., np.ndarray]
    features: Callable[[Module, np.ndarray], np.ndarray]
    batch_size: int
    needs_labels: bool = False

    def __post_init__(self) -> None:
        """Check the entry: three callables, a batch size >= 2, a boolean flag."""
        for name in ("build", "train", "features"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be callable, got {type(getattr(self, name)).__name__}")
        check_int(self.batch_size, "batch_size", minimum=2)
        check_bool(self.needs_labels, "needs_labels")


def _encoder_features(model: Module, images: np.ndarray) -> np.ndarray:
    """Frozen features of the model's MLP encoder (the part every view-based method keeps)."""
    return encode(model.encoder, images)


def _train_mae(model: MAE, images: np.ndarray, labels: Any, *, epochs: float, batch_size: int, seed: int,
               desc: str, mask_ratio: float = 0.75, **options: Any) -> np.ndarray:
    """train_mae with the step count given in epochs (MAE's own defaults otherwise)."""
    return train_mae(model, images, mask_ratio, steps_for(epochs, len(images), batch_size), batch_size=batch_size,
                     seed=seed, desc=desc, **options)


def _train_supervised(model: Classifier, images: np.ndarray, labels: Any, *, epochs: float, batch_size: int,
                      seed: int, desc: str, **options: Any) -> np.ndarray:
    """train_supervised with the step count given in epochs."""
    return train_supervised(model, images, labels, steps=steps_for(epochs, len(images), batch_size),
                            batch_size=batch_size, seed=seed, desc=desc, **options)


def _unlabelled(train: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Adapt a self-supervised train(model, images, **kw) to the registry's (model, images, labels, **kw)."""
    def run(model: Module, images: np.ndarray, labels: Any, **kw: Any) -> np.ndarray:
        return train(model, images, **kw)
    return run


def _byol(rng: np.random.Generator, encoder_sizes: Sequence[int], head_sizes: Sequence[int]) -> BYOL:
    """BYOL's model with a predictor h -> 4h -> h on the projection width h (chapter 05's shape)."""
    width = head_sizes[-1]
    return BYOL(rng, encoder_sizes, head_sizes, predictor_sizes=(width, 4 * width, width))


def _train_simsiam(model: BYOL, images: np.ndarray, labels: Any, **kw: Any) -> np.ndarray:
    """SimSiam: train_byol without the EMA target (the online branch is its own, stop-gradient target)."""
    return train_byol(model, images, ema=False, **kw)


METHODS: dict[str, Method] = {
    "simclr": Method(lambda rng, enc, head, _: SimCLR(rng, enc, head), _unlabelled(train_simclr),
                     _encoder_features, 256),
    "barlow_twins": Method(lambda rng, enc, head, _: BarlowTwins(rng, enc, head), _unlabelled(train_barlow_twins),
                           _encoder_features, 256),
    "byol": Method(lambda rng, enc, head, _: _byol(rng, enc, head), _unlabelled(train_byol), _encoder_features, 256),
    "simsiam": Method(lambda rng, enc, head, _: _byol(rng, enc, head), _train_simsiam, _encoder_features, 256),
    "dino": Method(lambda rng, enc, head, _: DINO(rng, make_mlp_encoder(rng, enc), enc[-1]), _unlabelled(train_dino),
                   _encoder_features, 256),
    "mae": Method(lambda rng, enc, head, _: MAE(rng), _train_mae, mae_features, 64),
    "supervised": Method(lambda rng, enc, head, n: Classifier(make_mlp_encoder(rng, enc), enc[-1], n, rng),
                         _train_supervised, _encoder_features, 100, needs_labels=True),
}


@dataclass
class Pretrained:
    """A trained model, its per-step losses and the CPU seconds its training took."""

    method: str
    model: Module
    losses: np.ndarray
    seconds: float

    def __post_init__(self) -> None:
        """Check the record: a registered method, a model, finite losses, seconds >= 0."""
        _method(self.method)
        check_instance(self.model, Module, "model")
        self.losses = check_array(self.losses, "losses", ndim=1)
        check_nonnegative(self.seconds, "seconds")

    def features(self, images: Any) -> np.ndarray:
        """The frozen representation of images that the book's probes read."""
        return METHODS[self.method].features(self.model, check_array(images, "images", ndim=3))


def _method(method: Any) -> Method:
    """The registry entry of method, else raise naming the allowed names."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, one of {sorted(METHODS)}, got {type(method).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHODS[method]


def _n_classes(labels: Any) -> int:
    """Number of logits a classifier needs for integer labels 0..max (at least 2)."""
    y = check_array(labels, "labels", ndim=1)
    if y.dtype.kind not in "iu" or len(y) == 0 or y.min() < 0:
        raise ValueError(f"labels must be non-negative integers, got {y.dtype} of shape {y.shape}")
    return max(2, int(y.max()) + 1)


def build(method: str, *, seed: int = 0, encoder_sizes: Sequence[int] = ENCODER_SIZES,
          head_sizes: Sequence[int] = HEAD_SIZES, n_classes: int = 10) -> Module:
    """An untrained model of method, initialised from seed (MAE ignores the MLP sizes: it is a ViT)."""
    entry = _method(method)
    sizes = [check_int(s, "encoder_sizes", minimum=1) for s in encoder_sizes]
    heads = [check_int(s, "head_sizes", minimum=1) for s in head_sizes]
    if len(sizes) < 2 or len(heads) < 2:
        raise ValueError(f"encoder_sizes and head_sizes need at least 2 widths, got {encoder_sizes} and {head_sizes}")
    return entry.build(np.random.default_rng(check_int(seed, "seed")), sizes, heads,
                       check_int(n_classes, "n_classes", minimum=2))


def pretrain(method: str, images: Any, *, seed: int = 0, epochs: float = 4.0, batch_size: int | None = None,
             encoder_sizes: Sequence[int] = ENCODER_SIZES, head_sizes: Sequence[int] = HEAD_SIZES,
             labels: Any = None, desc: str | None = None, **options: Any) -> Pretrained:
    """Build method's model from seed, train it for epochs passes over images; options go to its train function."""
    entry = _method(method)
    x = check_array(images, "images", ndim=3)
    if len(x) < 2:
        raise ValueError(f"images must hold at least 2 images, got {len(x)}")
    check_positive(epochs, "epochs")
    batch = entry.batch_size if batch_size is None else check_int(batch_size, "batch_size", minimum=2)
    batch = min(batch, len(x))
    if entry.needs_labels and labels is None:
        raise ValueError(f"method {method!r} needs labels (one integer per image), got labels=None")
    n_classes = _n_classes(labels) if entry.needs_labels else 10
    model = build(method, seed=seed, encoder_sizes=encoder_sizes, head_sizes=head_sizes, n_classes=n_classes)
    start = time.process_time()
    losses = entry.train(model, x, labels, epochs=epochs, batch_size=batch, seed=seed, desc=desc or method,
                         **options)
    return Pretrained(method, model, losses, time.process_time() - start)
