"""Every long pre-training run the book uses, listed once, and `make pretrain`, which
trains them all.

Chapters read a run with `pretrained(name)`: its settings are written only here, so a
chapter, the store and `make pretrain` can never disagree about what "SimCLR, 200
epochs" means. Each run trains on the book's MNIST training split (4,000 digits,
`helpers.data.mnist_split`) through the pre-training store (`helpers.store`): the first
call trains and saves it, every later call loads it.

`python -m helpers.runs` (what `make pretrain` runs) trains whatever is missing on 2
worker processes and prints, for every run, its CPU seconds and the book's headline
evaluation: linear probe on all labels, on 10 labels per class (mean ± s.e. over 5
draws) and 5-NN, beside raw pixels and a random encoder, with the target each run is
meant to reach. Chapter 02's text runs (`helpers.mlm.MLMRun`) bring their own
`load(name)`, `evaluate(name)`, `HEADER` and `line(name, row)` and get a table of their
own (held-out loss and top-1 at [MASK] against the neighbour-count table).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_instance,
    check_int,
    check_nonnegative,
    check_positive,
)
from helpers.capstone import (
    labelled_indices,
    lp_ft_curve,
    scratch_curve,
    validation_split,
)
from helpers.data import mnist_split, stratified_split
from helpers.evaluation import few_label_indices, knn_accuracy, linear_probe
from helpers.finetune import finetune_early_stopped, predict
from helpers.mae import MAE, PooledEncoder
from helpers.mlm import MLMRun, MLMSettings, TrainedMLM
from helpers.nn import Linear, Module, patchify
from helpers.pretrain import METHODS, Pretrained, build, stored_pretrain
from helpers.simclr import ENCODER_SIZES, HEAD_SIZES, encode
from helpers.store import (
    Entry,
    array_digest,
    blas_kernel,
    code_digest,
    load_or_make,
    source_digest,
    store_dir,
    store_size,
)

__all__ = [
    "CAPSTONE",
    "RUNS",
    "FineTune",
    "FineTuned",
    "Labelled",
    "Run",
    "chosen_on_validation",
    "evaluate",
    "finetune_labels",
    "pretrained",
    "split",
    "main",
]

BASELINES = ("pixels", "random encoder")
DRAWS = 5  # label draws behind every few-label probe of the table
PER_CLASS = 10
# the last training digits: fine-tuning runs choose their step count on them
VALIDATION = 1000


@dataclass(frozen=True)
class Run:
    """One stored run: `helpers.pretrain` arguments, its chapters and its target."""

    method: str
    epochs: float
    chapters: tuple[str, ...]
    seed: int = 0
    batch_size: int | None = None
    encoder_sizes: tuple[int, ...] = ENCODER_SIZES
    head_sizes: tuple[int, ...] = HEAD_SIZES
    model_options: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    checkpoints: tuple[float, ...] = ()
    # (probe all labels, probe 10 per class) it is meant to reach
    target: tuple[float, float] | None = None
    # training digits per class held out of training (`split`) to choose steps on
    validation_per_class: int = 0

    def __post_init__(self) -> None:
        """Check: known method, epochs > 0, chapters, target pair, held-out count."""
        if not isinstance(self.method, str) or self.method not in METHODS:
            raise ValueError(
                f"method must be one of {sorted(METHODS)}, got {self.method!r}"
            )
        check_positive(self.epochs, "epochs")
        if not isinstance(self.chapters, tuple) or not all(
            isinstance(c, str) for c in self.chapters
        ):
            raise ValueError(
                "chapters must be a tuple of chapter numbers such as ('05',), got "
                f"{self.chapters!r}"
            )
        if self.target is not None and (
            len(self.target) != 2 or not all(0 < t < 1 for t in self.target)
        ):
            raise ValueError(
                "target must be None or (probe all, probe 10 per class) in (0, 1), "
                f"got {self.target!r}"
            )
        check_int(self.validation_per_class, "validation_per_class", minimum=0)

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments of `stored_pretrain` for this run (the data aside)."""
        return {
            "seed": self.seed,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "encoder_sizes": self.encoder_sizes,
            "head_sizes": self.head_sizes,
            "model_options": dict(self.model_options),
            "checkpoints": self.checkpoints,
            **dict(self.options),
        }


@dataclass(frozen=True)
class Labelled:
    """A classifier trained on a few labels per draw (chapter 07): from scratch, or
    LP-FT from a registered run.

    Scored on validation digits (held out of the training digits) and test digits every
    `every` steps.
    """

    # labelled digits per class, drawn from the training digits left after validation;
    # 0: all
    per_class: int
    chapters: tuple[str, ...]
    # registered run fine-tuned with LP-FT (`helpers.capstone`); None: from scratch
    encoder: str | None = None
    steps: int = 1500
    every: int = 150
    probe_steps: int = 300  # LP-FT's probe stage
    draws: int = 5
    validation_per_class: int = 100

    def __post_init__(self) -> None:
        """Check: counts >= 0, every divides steps, chapters, encoder or None."""
        check_int(self.per_class, "per_class")
        if self.encoder is not None and not isinstance(self.encoder, str):
            raise ValueError(
                "encoder must be None or the name of a registered pre-training run, "
                f"got {self.encoder!r}"
            )
        check_int(
            self.every,
            "every",
            minimum=1,
            maximum=check_int(self.steps, "steps", minimum=1),
        )
        if self.steps % self.every:
            raise ValueError(
                f"every must divide steps ({self.steps}), got {self.every}"
            )
        check_int(self.probe_steps, "probe_steps", minimum=1)
        check_int(self.draws, "draws", minimum=2)
        check_int(self.validation_per_class, "validation_per_class", minimum=1)
        if not isinstance(self.chapters, tuple) or not all(
            isinstance(c, str) for c in self.chapters
        ):
            raise ValueError(
                "chapters must be a tuple of chapter numbers such as ('07',), got "
                f"{self.chapters!r}"
            )

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """(training pool, validation) indices into the book's training digits."""
        return validation_split(_data()[1], self.validation_per_class)

    def _curve(self, draw: int) -> np.ndarray:
        """Accuracies (2: validation, test; checkpoints) of one labelled draw."""
        x_train, y_train, x_test, y_test = _data()
        pool, held = self.split()
        idx = labelled_indices(y_train, pool, self.per_class, draw)
        scored = {
            "validation": (x_train[held], y_train[held]),
            "test": (x_test, y_test),
        }
        if self.encoder is None:
            return scratch_curve(
                x_train[idx],
                y_train[idx],
                scored,
                steps=self.steps,
                every=self.every,
                seed=draw,
            )
        run = _run(self.encoder)
        return lp_ft_curve(
            pretrained(self.encoder).model.encoder,
            run.encoder_sizes[-1],
            x_train[idx],
            y_train[idx],
            scored,
            probe_steps=self.probe_steps,
            steps=self.steps,
            every=self.every,
            seed=draw,
        )

    def spec(self) -> dict[str, Any]:
        """The store key's contents: settings, data, capstone's and encoder's code."""
        encoder = (
            None
            if self.encoder is None
            else {
                "name": self.encoder,
                **_run(self.encoder).arguments(),
                "code": code_digest([METHODS[_run(self.encoder).method].module]),
            }
        )
        return {
            "kind": "labelled",
            **{k: v for k, v in vars(self).items() if k != "chapters"},
            "encoder": encoder,
            "data": array_digest(*_data()),
            "code": code_digest(["helpers.capstone"]),
            "glue": source_digest("helpers.pretrain"),
        }

    def load(self) -> dict[str, Any]:
        """{"curves": (draws, 2, checkpoints), "seconds": CPU s}: stored or trained."""
        spec = self.spec()

        def make() -> Entry:
            start = time.process_time()
            curves = np.stack([self._curve(draw) for draw in range(self.draws)])
            return Entry({"curves": curves}, {"seconds": time.process_time() - start})

        entry, _ = load_or_make(
            spec,
            make,
            name=f"labelled {self.encoder or 'scratch'} {self.per_class}/class",
        )
        return {"curves": entry.arrays["curves"], "seconds": entry.record["seconds"]}


@dataclass
class FineTuned:
    """One fine-tuned ViT (encoder + head), its validation accuracy, the step kept."""

    encoder: Module
    head: Module
    losses: np.ndarray
    val_scores: np.ndarray
    best_step: int
    seconds: float

    def __post_init__(self) -> None:
        """Check the record: two modules, 1-D losses, scores, step, seconds >= 0."""
        check_instance(self.encoder, Module, "encoder")
        check_instance(self.head, Module, "head")
        self.losses = check_array(self.losses, "losses", ndim=1)
        self.val_scores = check_array(self.val_scores, "val_scores", ndim=1)
        check_int(self.best_step, "best_step")
        check_nonnegative(self.seconds, "seconds")

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy of the kept state on (N, 28, 28) images."""
        return float(
            np.mean(predict(self.encoder, self.head, patchify(images, 7)) == labels)
        )


def finetune_labels(draw: int, per_class: int = PER_CLASS) -> np.ndarray:
    """Indices of draw's labelled digits: per_class per class, outside validation."""
    check_int(draw, "draw")
    _, y_train, _, _ = _data()
    return few_label_indices(y_train[:-VALIDATION], per_class, draw)


@dataclass(frozen=True)
class FineTune:
    """A ViT with a linear head trained on each label draw: from a registered MAE run's
    encoder, or from scratch (start None).

    Every parameter is trained (helpers.finetune); the step count is chosen per draw on
    the validation split.
    """

    start: str | None
    chapters: tuple[str, ...]
    steps: int = 400
    every: int = 20
    lr: float = 1e-3
    draws: int = DRAWS

    def __post_init__(self) -> None:
        """Check: start is None or a run's name, chapter names, integer settings."""
        if self.start is not None and not isinstance(self.start, str):
            raise ValueError(
                "start must be None or the name of a registered MAE run, got "
                f"{self.start!r}"
            )
        if not isinstance(self.chapters, tuple) or not all(
            isinstance(c, str) for c in self.chapters
        ):
            raise ValueError(
                "chapters must be a tuple of chapter numbers such as ('03',), got "
                f"{self.chapters!r}"
            )
        check_positive(self.lr, "lr")
        if (
            not all(
                isinstance(v, int) and v > 0
                for v in (self.steps, self.every, self.draws)
            )
            or self.every > self.steps
        ):
            raise ValueError(
                "steps, every and draws must be positive integers with every <= "
                f"steps, got {self}"
            )

    def _vit(self, draw: int) -> MAE:
        """The starting ViT of a draw: the stored MAE run's, or a fresh one."""
        return (
            pretrained(self.start).model.copy()
            if self.start
            else MAE(np.random.default_rng(1000 + draw))
        )

    def _train(self, draw: int) -> FineTuned:
        """Train one draw's ViT and head, keeping the best validation state."""
        x_train, y_train, _, _ = _data()
        idx, val = finetune_labels(draw), slice(len(x_train) - VALIDATION, None)
        encoder, head = (
            PooledEncoder(self._vit(draw).encoder),
            Linear(64, 10, np.random.default_rng(draw)),
        )
        start = time.process_time()
        losses, scores, best = finetune_early_stopped(
            encoder,
            head,
            patchify(x_train[idx], 7),
            y_train[idx],
            patchify(x_train[val], 7),
            y_train[val],
            steps=self.steps,
            every=self.every,
            lr=self.lr,
            seed=draw,
            desc=f"{self.start or 'scratch'} draw {draw}",
        )
        return FineTuned(
            encoder, head, losses, scores, best, time.process_time() - start
        )

    def load(self) -> list[FineTuned]:
        """One fine-tuned ViT per label draw: from the store, else trained, stored."""
        x_train, y_train, _, _ = _data()
        start_state = self._vit(0).state_dict() if self.start else None
        runs = []
        for draw in range(self.draws):
            spec = {
                "kind": "finetune",
                "start": array_digest(*start_state.values()) if start_state else None,
                "draw": draw,
                "steps": self.steps,
                "every": self.every,
                "lr": self.lr,
                "validation": VALIDATION,
                "per_class": PER_CLASS,
                "data": array_digest(x_train, y_train),
                "code": code_digest(
                    ["helpers.finetune", "helpers.mae", "helpers.evaluation"]
                ),
            }
            entry, _ = load_or_make(
                spec,
                lambda: _finetune_entry(self._train(draw)),
                name=f"{self.start or 'ViT from scratch'}, fine-tuned on draw {draw}",
            )
            runs.append(_finetuned(entry, self._vit(draw)))
        return runs

    def evaluate(self) -> dict[str, Any]:
        """Test accuracy per draw, the step each draw kept, CPU seconds of all."""
        _, _, x_test, y_test = _data()
        runs = self.load()
        return {
            "seconds": sum(r.seconds for r in runs),
            "test": [r.accuracy(x_test, y_test) for r in runs],
            "best_step": [r.best_step for r in runs],
        }


def _finetune_entry(run: FineTuned) -> Entry:
    """A fine-tuned draw as store arrays and record."""
    arrays = {
        **{f"encoder/{k}": v for k, v in run.encoder.state_dict().items()},
        **{f"head/{k}": v for k, v in run.head.state_dict().items()},
        "losses": run.losses,
        "val_scores": run.val_scores,
    }
    return Entry(arrays, {"best_step": run.best_step, "seconds": run.seconds})


def _finetuned(entry: Entry, vit: MAE) -> FineTuned:
    """The fine-tuned draw a store entry holds, rebuilt on a ViT of the same shape."""
    encoder, head = PooledEncoder(vit.encoder), Linear(64, 10, np.random.default_rng(0))
    for module, prefix in ((encoder, "encoder/"), (head, "head/")):
        module.load_state_dict(
            {
                k[len(prefix) :]: v
                for k, v in entry.arrays.items()
                if k.startswith(prefix)
            }
        )
    return FineTuned(
        encoder,
        head,
        entry.arrays["losses"],
        entry.arrays["val_scores"],
        int(entry.record["best_step"]),
        float(entry.record["seconds"]),
    )


# Budgets chosen by measurement (`make pretrain` prints what each reaches); targets from
# issue 21. Runs read by several chapters; each chapter's own runs follow in a block of
# their own.
SHARED: dict[str, Run] = {
    "simclr": Run("simclr", 200, ("04", "07"), target=(0.965, 0.89)),
    # at 200 epochs 0.877 on 10 labels per class
    "barlow_twins": Run("barlow_twins", 400, ("07",), target=(0.96, 0.90)),
    # at 200 epochs 0.856 on 10 labels per class
    "byol": Run("byol", 300, ("05", "07"), target=(0.955, 0.87)),
    "simsiam": Run("simsiam", 200, ("05", "07"), target=(0.955, 0.87)),
    "dino": Run("dino", 100, ("06", "07"), target=(0.93, 0.77)),
    "mae": Run("mae", 200, ("03", "07")),
}
CHAPTER_02: dict[str, MLMRun] = {
    # the text transformer: ahead of the neighbour-count table on every held-out measure
    # from about 4,000 steps
    "mlm": MLMRun(MLMSettings(6000, checkpoints=tuple(range(500, 6001, 500))), ("02",)),
    # the masking-rate study: a smaller transformer at 15 % and at 40 %, three seeds
    # (both rates of a seed share initial weights and batch order)
    **{
        f"mlm_small_{round(100 * rate)}_seed{seed}": MLMRun(
            MLMSettings(
                1000,
                width=32,
                depth=1,
                n_heads=2,
                warmup_steps=50,
                mask_prob=rate,
                seed=seed,
            ),
            ("02",),
        )
        for rate in (0.15, 0.4)
        for seed in (30, 31, 32)
    },
}
CHAPTER_03: dict[str, Run | FineTune] = {
    **{
        f"mae_{round(100 * r)}": Run("mae", 60, ("03",), options={"mask_ratio": r})
        for r in (0.25, 0.5, 0.75, 0.9)
    },
    "vit_finetuned_mae": FineTune("mae", ("03",)),
    "vit_scratch": FineTune(None, ("03",)),
}
CHAPTER_04: dict[str, Run] = {}
# Chapter 05's ablation grid: every row GRID_EPOCHS long (its own BYOL reference),
# states kept for the curves.
GRID_EPOCHS, GRID_CHECKPOINTS = 60, (2, 6, 20)
CHAPTER_05: dict[str, Run] = {
    "ch05_byol": Run("byol", GRID_EPOCHS, ("05",), checkpoints=GRID_CHECKPOINTS),
    "ch05_no_ema": Run("simsiam", GRID_EPOCHS, ("05",), checkpoints=GRID_CHECKPOINTS),
    "ch05_no_predictor": Run(
        "byol",
        GRID_EPOCHS,
        ("05",),
        model_options={"predictor": False},
        checkpoints=GRID_CHECKPOINTS,
    ),
    "ch05_no_ema_no_stop_grad": Run(
        "byol",
        GRID_EPOCHS,
        ("05",),
        options={"ema": False, "stop_gradient": False},
        checkpoints=GRID_CHECKPOINTS,
    ),
    "ch05_no_ema_no_predictor": Run(
        "byol",
        GRID_EPOCHS,
        ("05",),
        model_options={"predictor": False},
        options={"ema": False},
        checkpoints=GRID_CHECKPOINTS,
    ),
    # beside the grid: BYOL whose projector and predictor have no BatchNorm (the encoder
    # keeps it)
    "ch05_no_head_batchnorm": Run(
        "byol", GRID_EPOCHS, ("05",), model_options={"head_batchnorm": False}
    ),
}
# Chapter 06: the collapse study (a reference DINO and each removal at one budget,
# states kept on the way), the teacher-temperature warm-up at that budget, and two ViTs
# whose attention the chapter reads.
# 7x7 grid of 4x4 patches
_CH06_VIT = {"patch": 4, "width": 32, "depth": 2, "n_heads": 2}
_CH06_STUDY = {"epochs": 10, "chapters": ("06",), "checkpoints": (1, 2, 4, 7)}
CHAPTER_06: dict[str, Run] = {
    "dino_10": Run("dino", **_CH06_STUDY),
    "dino_10_no_centering": Run("dino", **_CH06_STUDY, options={"centering": False}),
    "dino_10_no_sharpening": Run("dino", **_CH06_STUDY, options={"teacher_temp": 0.1}),
    "dino_10_warmup": Run("dino", **_CH06_STUDY, options={"warmup_teacher_temp": 0.02}),
    # the ViT's [CLS] outputs barely differ between digits at initialisation (head
    # logits ~0.01 apart): at the MLP's teacher temperature and center momentum its
    # teacher turns uniform and it never leaves its initialisation; a batch center and a
    # 0.005 teacher temperature make those differences its targets
    # what failed, shown
    "dino_vit_mlp_settings": Run("dino", 10, ("06",), model_options={"vit": _CH06_VIT}),
    "dino_vit": Run(
        "dino",
        25,
        ("06",),
        batch_size=64,
        model_options={"vit": _CH06_VIT},
        checkpoints=(2, 5, 10),
        options={"teacher_temp": 0.005, "center_momentum": 0.0},
    ),
    "supervised_vit": Run(
        "supervised",
        30,
        ("06",),
        model_options={"vit": _CH06_VIT},
        validation_per_class=50,
        checkpoints=(3, 6, 9, 12, 15, 18, 21, 24, 27),
    ),
}
# The capstone's encoder: the one chapter 07's validation digits choose among the
# self-supervised runs (the chapter prints whether this still is its choice), over 3
# pre-training seeds.
CAPSTONE = "barlow_twins"
CHAPTER_07: dict[str, Run | Labelled] = {
    **{
        f"{CAPSTONE}_seed{seed}": replace(SHARED[CAPSTONE], chapters=("07",), seed=seed)
        for seed in (1, 2)
    },
    # the same MLP trained on all 4,000 labels: the table's reference
    "ch07_supervised": Run("supervised", 30, ("07",)),
    # from scratch: 3,000 steps at 5 labels per class and below, where validation still
    # rose at 1,500
    **{
        f"scratch_{n}": Labelled(n, ("07",), steps=3000 if 0 < n <= 5 else 1500)
        for n in (1, 2, 5, 10, 25, 100, 0)
    },
    **{
        f"lpft_{n}": Labelled(n, ("07",), CAPSTONE, steps=500, every=100)
        for n in (1, 2, 5, 10, 25, 100, 0)
    },
    **{
        f"lpft_{n}_seed{seed}": Labelled(
            n, ("07",), f"{CAPSTONE}_seed{seed}", steps=500, every=100
        )
        for n in (1, 2, 5, 10)
        for seed in (1, 2)
    },
}
RUNS: dict[str, Run | FineTune | MLMRun | Labelled] = {
    **SHARED,
    **CHAPTER_02,
    **CHAPTER_03,
    **CHAPTER_04,
    **CHAPTER_05,
    **CHAPTER_06,
    **CHAPTER_07,
}


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The book's MNIST split, read once per process."""
    return mnist_split()


def _run(name: Any) -> Run | FineTune | MLMRun | Labelled:
    """The registered run called name, else raise naming the registered ones."""
    if not isinstance(name, str) or name not in RUNS:
        raise ValueError(
            f"name must be one of the registered runs {sorted(RUNS)}, got {name!r}"
        )
    return RUNS[name]


def split(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the digits run `name` trains on and of those held out (often none)."""
    run = _run(name)
    if not isinstance(run, Run):
        raise ValueError(
            f"name must be a pre-training run (a Run), got {name!r} "
            f"({type(run).__name__})"
        )
    _, y_train, _, _ = _data()
    if run.validation_per_class == 0:
        return np.arange(len(y_train)), np.arange(0)
    return stratified_split(y_train, run.validation_per_class, seed=run.seed)


def pretrained(name: str) -> Pretrained | TrainedMLM:
    """The registered run `name` (on the book's training digits): stored or trained."""
    run = _run(name)
    if not isinstance(run, Run):
        if isinstance(run, MLMRun):
            return run.load(name)
        raise ValueError(
            "name must be a pre-training run (fine-tuning runs load with "
            f"RUNS[name].load()), got {name!r}"
        )
    x_train, y_train, _, _ = _data()
    train, _ = split(name)
    labels = y_train[train] if run.method == "supervised" else None
    return stored_pretrain(
        run.method, x_train[train], labels=labels, desc=name, **run.arguments()
    )


def _scores(train_f: np.ndarray, test_f: np.ndarray) -> dict[str, Any]:
    """Probe on all labels, probe per 10-label draw (list), 5-NN of a feature map."""
    _, y_train, _, y_test = _data()
    few = [few_label_indices(y_train, PER_CLASS, draw) for draw in range(DRAWS)]
    return {
        "probe_all": linear_probe(train_f, y_train, test_f, y_test),
        "probe_10": [linear_probe(train_f[i], y_train[i], test_f, y_test) for i in few],
        "knn": knn_accuracy(train_f, y_train, test_f, y_test, k=5),
    }


def evaluate(name: str) -> dict[str, Any]:
    """The headline evaluation of a registered run (or 'pixels' / 'random encoder'),
    with its CPU seconds.

    For a `Labelled` run: its stored validation and test curves ("curves") and CPU
    seconds.
    """
    if isinstance(name, str) and isinstance(RUNS.get(name), Labelled):
        return RUNS[name].load()
    if not (isinstance(name, str) and name in BASELINES) and isinstance(
        _run(name), MLMRun
    ):
        return RUNS[name].evaluate(name)
    if not (isinstance(name, str) and name in BASELINES) and isinstance(
        _run(name), FineTune
    ):
        return RUNS[name].evaluate()
    if name == "pixels":
        return {"seconds": 0.0, **_stored_scores(name, {}, _flat)}
    if name == "random encoder":
        encoder = build("simclr", seed=0).encoder
        return {
            "seconds": 0.0,
            **_stored_scores(name, encoder.state_dict(), lambda x: encode(encoder, x)),
        }
    run = pretrained(name)
    return {
        "seconds": run.seconds,
        **_stored_scores(run.method, run.model.state_dict(), run.features),
    }


def _flat(images: np.ndarray) -> np.ndarray:
    """Raw pixels as feature rows."""
    return images.reshape(len(images), -1)


def _stored_scores(
    kind: str, state: Mapping[str, np.ndarray], features: Any
) -> dict[str, Any]:
    """`_scores` of features(images) through the store, for a model whose weights are
    state (raw pixels: none).

    Keyed by the weights, the digits, the code and the BLAS kernel: the evaluation is
    recomputed (silently) under another kernel, so `make test-kernel` still checks
    every printed evaluation.
    """
    spec = {
        "kind": "evaluation",
        "of": kind,
        "weights": array_digest(*(state[k] for k in sorted(state))),
        "names": sorted(state),
        "data": array_digest(*_data()),
        "code": code_digest(["helpers.runs"]),
        "blas": blas_kernel(),
    }

    def make() -> Entry:
        x_train, _, x_test, _ = _data()
        row = _scores(features(x_train), features(x_test))
        return Entry(
            {"probe_10": np.array(row.pop("probe_10"))},
            {k: float(v) for k, v in row.items()},
        )

    entry, _ = load_or_make(spec, make, name=f"evaluation of {kind}", announce=False)
    return {
        "probe_all": entry.record["probe_all"],
        "probe_10": [float(p) for p in entry.arrays["probe_10"]],
        "knn": entry.record["knn"],
    }


def _met(name: str, row: Mapping[str, Any]) -> str:
    """'yes' / 'NO' against the run's target, '' when it has none."""
    target = RUNS[name].target if name in RUNS else None
    if target is None:
        return ""
    return (
        "yes"
        if row["probe_all"] >= target[0] and np.mean(row["probe_10"]) >= target[1]
        else "NO"
    )


def chosen_on_validation(curves: Any) -> tuple[np.ndarray, int]:
    """Test accuracy per draw at the checkpoint with best mean validation, and it."""
    c = check_array(curves, "curves", ndim=3).astype(float)
    if c.shape[1] != 2 or c.shape[2] < 1:
        raise ValueError(
            "curves must have shape (draws, 2: validation and test, checkpoints), got "
            f"{c.shape}"
        )
    best = int(c[:, 0].mean(axis=0).argmax())
    return c[:, 1, best], best


def _line(name: str, row: Mapping[str, Any]) -> str:
    """A table row (fine-tuning and `Labelled` runs: test accuracy mean ± s.e.)."""
    if "curves" in row:
        chosen, _ = chosen_on_validation(row["curves"])
        return (
            f"{name:<16}{'-':>7}{row['seconds']:>9.0f}{'':>10}   {chosen.mean():.3f} ± "
            f"{chosen.std(ddof=1) / math.sqrt(len(chosen)):.3f}   (test at the step "
            "chosen on validation)"
        )
    if "test" in row:
        test = np.asarray(row["test"])
        return (
            f"{name:<16}{'-':>7}{row['seconds']:>9.0f}{'':>10}   {test.mean():.3f} ± "
            f"{test.std(ddof=1) / math.sqrt(len(test)):.3f}   fine-tuned, steps "
            f"{row['best_step']}"
        )
    few = np.asarray(row["probe_10"])
    se = few.std(ddof=1) / math.sqrt(len(few))
    epochs = f"{RUNS[name].epochs:g}" if name in RUNS else "-"
    target = RUNS[name].target if name in RUNS else None
    goal = f"{target[0]:.3f} / {target[1]:.2f}" if target else ""
    return (
        f"{name:<16}{epochs:>7}{row['seconds']:>9.0f}{row['probe_all']:>10.3f}   "
        f"{few.mean():.3f} ± {se:.3f}"
        f"{row['knn']:>8.3f}   {goal:<14}{_met(name, row)}"
    )


def _worker(name: str) -> tuple[str, dict[str, Any]]:
    """Train (or load) a run and evaluate it in a worker process (no progress bar)."""
    # two workers' bars would garble one terminal; the parent reports progress
    sys.stderr = open(os.devnull, "w")
    return name, evaluate(name)


def main(argv: Sequence[str] | None = None) -> int:
    """`make pretrain`: train every run the store lacks, then print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.runs", description=main.__doc__
    )
    parser.add_argument("names", nargs="*", help="runs to train (default: all)")
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes (default 2)"
    )
    args = parser.parse_args(argv)
    names = list(args.names) or list(RUNS)
    unknown = [name for name in names if name not in RUNS]
    if unknown:
        parser.error(f"unknown runs {unknown}; registered runs are {sorted(RUNS)}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    # read the training code once, now: workers key their runs by what they loaded
    code_digest(["helpers.runs"])
    print(
        f"pre-training store: {store_dir()}; {len(names)} runs on {args.workers} "
        "worker processes",
        flush=True,
    )
    start, rows = time.time(), {}
    pretraining = [name for name in names if isinstance(RUNS[name], Run)]
    images = [
        name for name in names if isinstance(RUNS[name], (Run, FineTune, Labelled))
    ]
    text = [name for name in names if isinstance(RUNS[name], MLMRun)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        # fine-tuning runs start from stored pre-training runs: they go second, so no
        # worker trains one twice
        for phase in (
            [*(BASELINES if images else ()), *pretraining],
            [name for name in names if name not in pretraining],
        ):
            for job in as_completed([pool.submit(_worker, name) for name in phase]):
                name, rows[name] = job.result()
                print(
                    f"  done: {name} ({time.time() - start:.0f} s elapsed)", flush=True
                )
    if images:
        print(
            f"\n{'run':<16}{'epochs':>7}{'CPU s':>9}{'probe all':>10}   probe 10/class "
            "  5-NN   target        met"
        )
        for name in [*BASELINES, *images]:
            print(_line(name, rows[name]))
    if text:
        print(f"\n{MLMRun.HEADER}")
        for name in text:
            print(RUNS[name].line(name, rows[name]))
    entries, size = store_size()
    print(
        f"\nstore: {entries} entries, {size / 2**20:.0f} MB; wall time "
        f"{time.time() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
