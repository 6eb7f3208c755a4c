"""One entry point for every method's pre-training, so chapters compare methods on equal
terms.

`pretrain(method, images, ...)` builds a fresh model from a seed, trains it with that
method's own training function (written once, in the method's module: `helpers.simclr`,
`helpers.barlow`, `helpers.byol`, `helpers.dino`, `helpers.mae`, ...) and returns a
`Pretrained` record: the model, its losses, the CPU seconds spent training, and
`features(images)`, the frozen representation the book's probes read. `stored_pretrain`
takes the same arguments and returns the same record, loaded from the pre-training store
(`helpers.store`) when this exact run was trained before, else trained and stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_instance,
    check_int,
    check_nonnegative,
    check_positive,
)
from helpers.barlow import BarlowTwins, train_barlow_twins
from helpers.byol import BYOL, train_byol
from helpers.dino import DINO, ViTBackbone, train_dino
from helpers.mae import MAE, mae_features, train_mae
from helpers.nn import Module
from helpers.simclr import (
    ENCODER_SIZES,
    HEAD_SIZES,
    Classifier,
    SimCLR,
    encode,
    make_mlp_encoder,
    train_simclr,
    train_supervised,
)
from helpers.store import Entry, array_digest, code_digest, load_or_make, source_digest
from helpers.train import after_each_step, steps_for

__all__ = ["METHODS", "Method", "Pretrained", "build", "pretrain", "stored_pretrain"]


@dataclass(frozen=True)
class Method:
    """A registry entry: build(rng, sizes, n_classes, **options), train, features."""

    build: Callable[..., Module]
    train: Callable[..., np.ndarray]
    features: Callable[[Module, np.ndarray], np.ndarray]
    batch_size: int
    # the helpers module whose training code the method runs (the store's key hashes it)
    module: str
    needs_labels: bool = False

    def __post_init__(self) -> None:
        """Check the entry: three callables, batch size >= 2, a module, a flag."""
        for name in ("build", "train", "features"):
            if not callable(getattr(self, name)):
                raise TypeError(
                    f"{name} must be callable, got {type(getattr(self, name)).__name__}"
                )
        check_int(self.batch_size, "batch_size", minimum=2)
        code_digest([self.module])
        check_bool(self.needs_labels, "needs_labels")


def _encoder_features(model: Module, images: np.ndarray) -> np.ndarray:
    """Frozen features of the model's MLP encoder (what view methods keep)."""
    return encode(model.encoder, images)


def _train_mae(
    model: MAE,
    images: np.ndarray,
    labels: Any,
    *,
    epochs: float,
    batch_size: int,
    seed: int,
    desc: str,
    mask_ratio: float = 0.75,
    **options: Any,
) -> np.ndarray:
    """train_mae with the step count given in epochs (MAE's own defaults otherwise)."""
    return train_mae(
        model,
        images,
        mask_ratio,
        steps_for(epochs, len(images), batch_size),
        batch_size=batch_size,
        seed=seed,
        desc=desc,
        **options,
    )


def _train_supervised(
    model: Classifier,
    images: np.ndarray,
    labels: Any,
    *,
    epochs: float,
    batch_size: int,
    seed: int,
    desc: str,
    **options: Any,
) -> np.ndarray:
    """train_supervised with the step count given in epochs."""
    return train_supervised(
        model,
        images,
        labels,
        steps=steps_for(epochs, len(images), batch_size),
        batch_size=batch_size,
        seed=seed,
        desc=desc,
        **options,
    )


def _unlabelled(train: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Adapt a self-supervised train(model, images, **kw) to the registry's."""

    def run(model: Module, images: np.ndarray, labels: Any, **kw: Any) -> np.ndarray:
        return train(model, images, **kw)

    return run


def _backbone(
    rng: np.random.Generator,
    encoder_sizes: Sequence[int],
    vit: Mapping[str, Any] | None,
) -> tuple[Module, int]:
    """The MLP encoder of encoder_sizes, or a small ViT given `vit`; with its width."""
    if vit is None:
        return make_mlp_encoder(rng, encoder_sizes), encoder_sizes[-1]
    backbone = ViTBackbone(rng, **_options(vit, "vit"))
    return backbone, backbone.width


def _byol(
    rng: np.random.Generator,
    encoder_sizes: Sequence[int],
    head_sizes: Sequence[int],
    **kw: Any,
) -> BYOL:
    """BYOL's model with a predictor h -> 4h -> h on the projection width h."""
    width = head_sizes[-1]
    return BYOL(
        rng, encoder_sizes, head_sizes, predictor_sizes=(width, 4 * width, width), **kw
    )


def _train_simsiam(
    model: BYOL, images: np.ndarray, labels: Any, **kw: Any
) -> np.ndarray:
    """SimSiam: train_byol without the EMA target (the online branch is its own)."""
    return train_byol(model, images, ema=False, **kw)


METHODS: dict[str, Method] = {
    "simclr": Method(
        lambda rng, enc, head, _, **kw: SimCLR(rng, enc, head, **kw),
        _unlabelled(train_simclr),
        _encoder_features,
        256,
        "helpers.simclr",
    ),
    "barlow_twins": Method(
        lambda rng, enc, head, _, **kw: BarlowTwins(rng, enc, head, **kw),
        _unlabelled(train_barlow_twins),
        _encoder_features,
        256,
        "helpers.barlow",
    ),
    "byol": Method(
        lambda rng, enc, head, _, **kw: _byol(rng, enc, head, **kw),
        _unlabelled(train_byol),
        _encoder_features,
        256,
        "helpers.byol",
    ),
    "simsiam": Method(
        lambda rng, enc, head, _, **kw: _byol(rng, enc, head, **kw),
        _train_simsiam,
        _encoder_features,
        256,
        "helpers.byol",
    ),
    "dino": Method(
        lambda rng, enc, head, _, vit=None, **kw: DINO(
            rng, *_backbone(rng, enc, vit), **kw
        ),
        _unlabelled(train_dino),
        _encoder_features,
        256,
        "helpers.dino",
    ),
    "mae": Method(
        lambda rng, enc, head, _, **kw: MAE(rng, **kw),
        _train_mae,
        mae_features,
        64,
        "helpers.mae",
    ),
    "supervised": Method(
        lambda rng, enc, head, n, vit=None, **kw: Classifier(
            *_backbone(rng, enc, vit), n, rng, **kw
        ),
        _train_supervised,
        _encoder_features,
        100,
        "helpers.dino",
        needs_labels=True,
    ),
}


@dataclass
class Pretrained:
    """A trained model, its step losses, its training's CPU seconds and saved states."""

    method: str
    model: Module
    losses: np.ndarray
    seconds: float
    # steps done -> model state
    checkpoints: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    # steps done -> CPU seconds so far
    checkpoint_seconds: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the record: a registered method, a model, finite losses, seconds."""
        _method(self.method)
        check_instance(self.model, Module, "model")
        self.losses = check_array(self.losses, "losses", ndim=1)
        check_nonnegative(self.seconds, "seconds")

    def features(self, images: Any) -> np.ndarray:
        """The frozen representation of images that the book's probes read."""
        return METHODS[self.method].features(
            self.model, check_array(images, "images", ndim=3)
        )

    def at_step(self, step: int) -> Pretrained:
        """The run after `step` optimiser steps (a checkpoint), as its own record."""
        if check_int(step, "step") not in self.checkpoints:
            raise ValueError(
                "step must be one of the saved checkpoints "
                f"{sorted(self.checkpoints)}, got {step}"
            )
        model = self.model.copy()
        model.load_state_dict(self.checkpoints[step])
        return Pretrained(
            self.method, model, self.losses[:step], self.checkpoint_seconds[step]
        )


def _method(method: Any) -> Method:
    """The registry entry of method, else raise naming the allowed names."""
    if not isinstance(method, str):
        raise TypeError(
            f"method must be a string, one of {sorted(METHODS)}, got "
            f"{type(method).__name__}"
        )
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHODS[method]


def _n_classes(labels: Any) -> int:
    """Number of logits a classifier needs for integer labels 0..max (at least 2)."""
    y = check_array(labels, "labels", ndim=1)
    if y.dtype.kind not in "iu" or len(y) == 0 or y.min() < 0:
        raise ValueError(
            f"labels must be non-negative integers, got {y.dtype} of shape {y.shape}"
        )
    return max(2, int(y.max()) + 1)


def build(
    method: str,
    *,
    seed: int = 0,
    encoder_sizes: Sequence[int] = ENCODER_SIZES,
    head_sizes: Sequence[int] = HEAD_SIZES,
    n_classes: int = 10,
    model_options: Mapping[str, Any] | None = None,
) -> Module:
    """An untrained model of method, initialised from seed (MAE ignores the MLP sizes:
    it is a ViT).

    model_options go to the model's constructor (e.g. {"predictor": False} for BYOL);
    for DINO and the supervised classifier, {"vit": {"patch": 4, ...}} swaps the MLP
    encoder for a `ViTBackbone`.
    """
    entry = _method(method)
    sizes = [check_int(s, "encoder_sizes", minimum=1) for s in encoder_sizes]
    heads = [check_int(s, "head_sizes", minimum=1) for s in head_sizes]
    if len(sizes) < 2 or len(heads) < 2:
        raise ValueError(
            f"encoder_sizes and head_sizes need at least 2 widths, got {encoder_sizes} "
            f"and {head_sizes}"
        )
    return entry.build(
        np.random.default_rng(check_int(seed, "seed")),
        sizes,
        heads,
        check_int(n_classes, "n_classes", minimum=2),
        **_options(model_options, "model_options"),
    )


def _options(options: Any, name: str) -> dict[str, Any]:
    """options as a dict with string keys (None is empty), else raise."""
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise ValueError(
            f"{name} must be a mapping of argument names to values, got {options!r}"
        )
    return dict(options)


def _checkpoint_steps(checkpoints: Any, n: int, batch: int) -> set[int]:
    """The step counts after which to save the model: one per checkpoint in epochs."""
    if not isinstance(checkpoints, (list, tuple)):
        raise ValueError(
            "checkpoints must be a list or tuple of epochs (numbers > 0), got "
            f"{checkpoints!r}"
        )
    return {steps_for(check_positive(e, "checkpoints"), n, batch) for e in checkpoints}


@dataclass(frozen=True)
class _Plan:
    """A pre-training run with every argument checked and resolved (batch, classes)."""

    method: str
    images: np.ndarray
    labels: np.ndarray | None
    seed: int
    epochs: float
    batch: int
    encoder_sizes: tuple[int, ...]
    head_sizes: tuple[int, ...]
    n_classes: int
    model_options: dict[str, Any]
    options: dict[str, Any]
    checkpoints: tuple[float, ...]

    def model(self) -> Module:
        """The untrained model this run starts from."""
        return build(
            self.method,
            seed=self.seed,
            encoder_sizes=self.encoder_sizes,
            head_sizes=self.head_sizes,
            n_classes=self.n_classes,
            model_options=self.model_options,
        )


def _plan(
    method: str,
    images: Any,
    seed: int,
    epochs: float,
    batch_size: int | None,
    encoder_sizes: Sequence[int],
    head_sizes: Sequence[int],
    labels: Any,
    model_options: Any,
    checkpoints: Any,
    options: dict,
) -> _Plan:
    """Check every argument of a pre-training run before anything trains."""
    entry = _method(method)
    x = check_array(images, "images", ndim=3)
    if len(x) < 2:
        raise ValueError(f"images must hold at least 2 images, got {len(x)}")
    check_positive(epochs, "epochs")
    batch = (
        entry.batch_size
        if batch_size is None
        else check_int(batch_size, "batch_size", minimum=2)
    )
    batch = min(batch, len(x))
    if entry.needs_labels and labels is None:
        raise ValueError(
            f"method {method!r} needs labels (one integer per image), got labels=None"
        )
    y = check_array(labels, "labels", ndim=1) if entry.needs_labels else None
    if y is not None and len(y) != len(x):
        raise ValueError(
            f"labels must hold one label per image ({len(x)}), got {len(y)}"
        )
    n_classes = _n_classes(labels) if entry.needs_labels else 10
    _checkpoint_steps(checkpoints, len(x), batch)
    return _Plan(
        method,
        x,
        y,
        check_int(seed, "seed"),
        float(epochs),
        batch,
        tuple(int(s) for s in encoder_sizes),
        tuple(int(s) for s in head_sizes),
        n_classes,
        _options(model_options, "model_options"),
        options,
        tuple(float(e) for e in checkpoints),
    )


def _run(plan: _Plan, desc: str) -> Pretrained:
    """Train the plan's model, saving its state after each checkpoint's step count."""
    model = plan.model()
    wanted = _checkpoint_steps(plan.checkpoints, len(plan.images), plan.batch)
    saved: dict[int, dict[str, np.ndarray]] = {}
    seconds: dict[int, float] = {}

    def keep(steps_done: int) -> None:
        if steps_done in wanted:
            saved[steps_done], seconds[steps_done] = (
                model.state_dict(),
                time.process_time() - start,
            )

    start = time.process_time()
    with after_each_step(keep):
        losses = METHODS[plan.method].train(
            model,
            plan.images,
            plan.labels,
            epochs=plan.epochs,
            batch_size=plan.batch,
            seed=plan.seed,
            desc=desc,
            **plan.options,
        )
    return Pretrained(
        plan.method, model, losses, time.process_time() - start, saved, seconds
    )


def pretrain(
    method: str,
    images: Any,
    *,
    seed: int = 0,
    epochs: float = 4.0,
    batch_size: int | None = None,
    encoder_sizes: Sequence[int] = ENCODER_SIZES,
    head_sizes: Sequence[int] = HEAD_SIZES,
    labels: Any = None,
    desc: str | None = None,
    model_options: Mapping[str, Any] | None = None,
    checkpoints: Sequence[float] = (),
    **options: Any,
) -> Pretrained:
    """Build method's model from seed, train it for epochs passes over images; options
    go to its train function.

    checkpoints: epochs after which the model's state is kept too
    (`Pretrained.at_step`).
    """
    plan = _plan(
        method,
        images,
        seed,
        epochs,
        batch_size,
        encoder_sizes,
        head_sizes,
        labels,
        model_options,
        checkpoints,
        options,
    )
    return _run(plan, desc or method)


def _spec(plan: _Plan) -> dict[str, Any]:
    """All that decides a run's result, as JSON: settings, data and code digests."""
    return {
        "kind": "pretrain",
        "method": plan.method,
        "seed": plan.seed,
        "epochs": plan.epochs,
        "batch_size": plan.batch,
        "encoder_sizes": list(plan.encoder_sizes),
        "head_sizes": list(plan.head_sizes),
        "n_classes": plan.n_classes,
        "model_options": plan.model_options,
        "options": plan.options,
        "checkpoints": list(plan.checkpoints),
        "images": array_digest(plan.images),
        "labels": array_digest(plan.labels),
        "code": code_digest([METHODS[plan.method].module]),
        "glue": source_digest("helpers.pretrain"),
    }


def _entry(run: Pretrained) -> Entry:
    """A trained run as store arrays (model, losses, checkpoint states), record."""
    arrays = {f"model/{k}": v for k, v in run.model.state_dict().items()}
    arrays["losses"] = run.losses
    for step, state in run.checkpoints.items():
        arrays.update({f"step{step}/{k}": v for k, v in state.items()})
    return Entry(
        arrays,
        {
            "method": run.method,
            "seconds": run.seconds,
            "checkpoints": sorted(run.checkpoints),
            "checkpoint_seconds": [
                run.checkpoint_seconds[s] for s in sorted(run.checkpoints)
            ],
        },
    )


def _from_entry(plan: _Plan, entry: Entry) -> Pretrained:
    """The run a store entry holds, rebuilt on the plan's model."""
    model = plan.model()
    model.load_state_dict(
        {k[6:]: v for k, v in entry.arrays.items() if k.startswith("model/")}
    )
    checkpoints = {
        step: {
            k[len(f"step{step}/") :]: v
            for k, v in entry.arrays.items()
            if k.startswith(f"step{step}/")
        }
        for step in entry.record["checkpoints"]
    }
    seconds = dict(zip(entry.record["checkpoints"], entry.record["checkpoint_seconds"]))
    return Pretrained(
        plan.method,
        model,
        entry.arrays["losses"],
        float(entry.record["seconds"]),
        checkpoints,
        seconds,
    )


def stored_pretrain(
    method: str,
    images: Any,
    *,
    seed: int = 0,
    epochs: float = 4.0,
    batch_size: int | None = None,
    encoder_sizes: Sequence[int] = ENCODER_SIZES,
    head_sizes: Sequence[int] = HEAD_SIZES,
    labels: Any = None,
    desc: str | None = None,
    model_options: Mapping[str, Any] | None = None,
    checkpoints: Sequence[float] = (),
    **options: Any,
) -> Pretrained:
    """`pretrain` through the pre-training store: loaded if stored, else trained."""
    plan = _plan(
        method,
        images,
        seed,
        epochs,
        batch_size,
        encoder_sizes,
        head_sizes,
        labels,
        model_options,
        checkpoints,
        options,
    )
    entry, _ = load_or_make(
        _spec(plan), lambda: _entry(_run(plan, desc or method)), name=desc or method
    )
    return _from_entry(plan, entry)
