"""Every long pre-training run the book uses, listed once, and `make pretrain`, which trains them all.

Chapters read a run with `pretrained(name)`: its settings are written only here, so a chapter, the
store and `make pretrain` can never disagree about what "SimCLR, 200 epochs" means. Each run trains
on the book's MNIST training split (4,000 digits, `helpers.data.mnist_split`) through the
pre-training store (`helpers.store`): the first call trains and saves it, every later call loads it.

`python -m helpers.runs` (what `make pretrain` runs) trains whatever is missing on 2 worker
processes and prints, for every run, its CPU seconds and the book's headline evaluation: linear
probe on all labels, on 10 labels per class (mean ± s.e. over 5 draws) and 5-NN, beside raw pixels
and a random encoder, with the target each run is meant to reach.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from helpers._checks import check_int, check_positive
from helpers.data import mnist_split, stratified_split
from helpers.evaluation import few_label_indices, knn_accuracy, linear_probe
from helpers.finetune import finetune_early_stopped, predict
from helpers.mae import MAE, PooledEncoder
from helpers.nn import Linear, Module, patchify
from helpers.pretrain import METHODS, Pretrained, build, stored_pretrain
from helpers.simclr import ENCODER_SIZES, HEAD_SIZES, encode
from helpers.store import Entry, array_digest, code_digest, load_or_make, store_dir, store_size

__all__ = ["RUNS", "FineTune", "FineTuned", "Run", "evaluate", "finetune_labels", "pretrained", "split", "main"]

BASELINES = ("pixels", "random encoder")
DRAWS = 5  # label draws behind every few-label probe of the table
PER_CLASS = 10
VALIDATION = 1000  # the last training digits: fine-tuning runs choose their step count on them


@dataclass(frozen=True)
class Run:
    """One stored run: `helpers.pretrain` arguments plus the chapters that read it and what it should reach."""

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
    target: tuple[float, float] | None = None  # (probe all labels, probe 10 per class) it is meant to reach
    validation_per_class: int = 0  # training digits per class held out of training (`split`) to choose steps on

    def __post_init__(self) -> None:
        """Check the entry: a known method, epochs > 0, chapter names, a target of two fractions, a held-out count."""
        if not isinstance(self.method, str) or self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        check_positive(self.epochs, "epochs")
        if not isinstance(self.chapters, tuple) or not all(isinstance(c, str) for c in self.chapters):
            raise ValueError(f"chapters must be a tuple of chapter numbers such as ('05',), got {self.chapters!r}")
        if self.target is not None and (len(self.target) != 2 or not all(0 < t < 1 for t in self.target)):
            raise ValueError(f"target must be None or (probe all, probe 10 per class) in (0, 1), got {self.target!r}")
        check_int(self.validation_per_class, "validation_per_class", minimum=0)

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments of `stored_pretrain` for this run (the data aside)."""
        return {"seed": self.seed, "epochs": self.epochs, "batch_size": self.batch_size,
                "encoder_sizes": self.encoder_sizes, "head_sizes": self.head_sizes,
                "model_options": dict(self.model_options), "checkpoints": self.checkpoints, **dict(self.options)}


@dataclass
class FineTuned:
    """One fine-tuned ViT (encoder + linear head), its validation accuracy every `every` steps and the step kept."""

    encoder: Module
    head: Module
    losses: np.ndarray
    val_scores: np.ndarray
    best_step: int
    seconds: float

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy of the kept state on (N, 28, 28) images."""
        return float(np.mean(predict(self.encoder, self.head, patchify(images, 7)) == labels))


def finetune_labels(draw: int, per_class: int = PER_CLASS) -> np.ndarray:
    """Indices of draw's labelled training digits: per_class of each class, outside the validation split."""
    _, y_train, _, _ = _data()
    return few_label_indices(y_train[:-VALIDATION], per_class, draw)


@dataclass(frozen=True)
class FineTune:
    """A ViT with a linear head trained on each label draw: from a registered MAE run's encoder, or from scratch (start None).

    Every parameter is trained (helpers.finetune); the step count is chosen per draw on the validation split.
    """

    start: str | None
    chapters: tuple[str, ...]
    steps: int = 400
    every: int = 20
    lr: float = 1e-3
    draws: int = DRAWS

    def __post_init__(self) -> None:
        """Check the entry: start is None or a run's name, chapter names, whole-number settings."""
        if self.start is not None and not isinstance(self.start, str):
            raise ValueError(f"start must be None or the name of a registered MAE run, got {self.start!r}")
        if not isinstance(self.chapters, tuple) or not all(isinstance(c, str) for c in self.chapters):
            raise ValueError(f"chapters must be a tuple of chapter numbers such as ('03',), got {self.chapters!r}")
        check_positive(self.lr, "lr")
        if not all(isinstance(v, int) and v > 0 for v in (self.steps, self.every, self.draws)) or self.every > self.steps:
            raise ValueError(f"steps, every and draws must be positive integers with every <= steps, got {self}")

    def _vit(self, draw: int) -> MAE:
        """The starting ViT of a draw: the stored MAE run's, or a fresh one seeded by the draw."""
        return pretrained(self.start).model.copy() if self.start else MAE(np.random.default_rng(1000 + draw))

    def _train(self, draw: int) -> FineTuned:
        """Train one draw's ViT and head, keeping the state with the best validation accuracy."""
        x_train, y_train, _, _ = _data()
        idx, val = finetune_labels(draw), slice(len(x_train) - VALIDATION, None)
        encoder, head = PooledEncoder(self._vit(draw).encoder), Linear(64, 10, np.random.default_rng(draw))
        start = time.process_time()
        losses, scores, best = finetune_early_stopped(
            encoder, head, patchify(x_train[idx], 7), y_train[idx], patchify(x_train[val], 7), y_train[val],
            steps=self.steps, every=self.every, lr=self.lr, seed=draw, desc=f"{self.start or 'scratch'} draw {draw}")
        return FineTuned(encoder, head, losses, scores, best, time.process_time() - start)

    def load(self) -> list[FineTuned]:
        """One fine-tuned ViT per label draw: from the store, else trained and stored."""
        x_train, y_train, _, _ = _data()
        start_state = self._vit(0).state_dict() if self.start else None
        runs = []
        for draw in range(self.draws):
            spec = {"kind": "finetune", "start": array_digest(*start_state.values()) if start_state else None,
                    "draw": draw, "steps": self.steps, "every": self.every, "lr": self.lr,
                    "validation": VALIDATION, "per_class": PER_CLASS, "data": array_digest(x_train, y_train),
                    "code": code_digest(["helpers.finetune", "helpers.mae", "helpers.evaluation"])}
            entry, _ = load_or_make(spec, lambda: _finetune_entry(self._train(draw)),
                                    name=f"{self.start or 'ViT from scratch'}, fine-tuned on draw {draw}")
            runs.append(_finetuned(entry, self._vit(draw)))
        return runs

    def evaluate(self) -> dict[str, Any]:
        """Test accuracy per draw, the step each draw kept and the CPU seconds of all draws."""
        _, _, x_test, y_test = _data()
        runs = self.load()
        return {"seconds": sum(r.seconds for r in runs), "test": [r.accuracy(x_test, y_test) for r in runs],
                "best_step": [r.best_step for r in runs]}


def _finetune_entry(run: FineTuned) -> Entry:
    """A fine-tuned draw as store arrays and record."""
    arrays = {**{f"encoder/{k}": v for k, v in run.encoder.state_dict().items()},
              **{f"head/{k}": v for k, v in run.head.state_dict().items()},
              "losses": run.losses, "val_scores": run.val_scores}
    return Entry(arrays, {"best_step": run.best_step, "seconds": run.seconds})


def _finetuned(entry: Entry, vit: MAE) -> FineTuned:
    """The fine-tuned draw a store entry holds, rebuilt on a ViT of the same shape."""
    encoder, head = PooledEncoder(vit.encoder), Linear(64, 10, np.random.default_rng(0))
    for module, prefix in ((encoder, "encoder/"), (head, "head/")):
        module.load_state_dict({k[len(prefix):]: v for k, v in entry.arrays.items() if k.startswith(prefix)})
    return FineTuned(encoder, head, entry.arrays["losses"], entry.arrays["val_scores"],
                     int(entry.record["best_step"]), float(entry.record["seconds"]))


# Budgets chosen by measurement (`make pretrain` prints what each reaches); targets from issue 21.
# Runs read by several chapters; each chapter's own runs follow in a block of their own.
SHARED: dict[str, Run] = {
    "simclr": Run("simclr", 200, ("04", "07"), target=(0.965, 0.89)),
    "barlow_twins": Run("barlow_twins", 400, ("07",), target=(0.96, 0.90)),
    "byol": Run("byol", 200, ("05", "07"), target=(0.955, 0.87)),
    "simsiam": Run("simsiam", 200, ("05", "07"), target=(0.955, 0.87)),
    "dino": Run("dino", 100, ("06", "07"), target=(0.93, 0.77)),
    "mae": Run("mae", 200, ("03", "07")),
}
CHAPTER_02: dict[str, Run] = {}
CHAPTER_03: dict[str, Run | FineTune] = {
    **{f"mae_{round(100 * r)}": Run("mae", 60, ("03",), options={"mask_ratio": r}) for r in (0.25, 0.5, 0.75, 0.9)},
    "vit_finetuned_mae": FineTune("mae", ("03",)),
    "vit_scratch": FineTune(None, ("03",)),
}
CHAPTER_04: dict[str, Run] = {}
CHAPTER_05: dict[str, Run] = {}
# Chapter 06: the collapse study (a reference DINO and each removal at one budget, states kept on the way),
# the teacher-temperature warm-up at that budget, and two ViTs whose attention the chapter reads.
_CH06_VIT = {"patch": 4, "width": 32, "depth": 2, "n_heads": 2}  # 7x7 grid of 4x4 patches
_CH06_STUDY = {"epochs": 10, "chapters": ("06",), "checkpoints": (1, 2, 4, 7)}
CHAPTER_06: dict[str, Run] = {
    "dino_10": Run("dino", **_CH06_STUDY),
    "dino_10_no_centering": Run("dino", **_CH06_STUDY, options={"centering": False}),
    "dino_10_no_sharpening": Run("dino", **_CH06_STUDY, options={"teacher_temp": 0.1}),
    "dino_10_warmup": Run("dino", **_CH06_STUDY, options={"warmup_teacher_temp": 0.02}),
    "dino_vit": Run("dino", 10, ("06",), model_options={"vit": _CH06_VIT}, checkpoints=(2, 5)),
    "supervised_vit": Run("supervised", 30, ("06",), model_options={"vit": _CH06_VIT}, validation_per_class=50,
                          checkpoints=(3, 6, 9, 12, 15, 18, 21, 24, 27)),
}
CHAPTER_07: dict[str, Run] = {}
RUNS: dict[str, Run | FineTune] = {**SHARED, **CHAPTER_02, **CHAPTER_03, **CHAPTER_04, **CHAPTER_05, **CHAPTER_06, **CHAPTER_07}


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The book's MNIST split, read once per process."""
    return mnist_split()


def _run(name: Any) -> Run | FineTune:
    """The registered run called name, else raise naming the registered ones."""
    if not isinstance(name, str) or name not in RUNS:
        raise ValueError(f"name must be one of the registered runs {sorted(RUNS)}, got {name!r}")
    return RUNS[name]


def split(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training digits run `name` trains on and of those it holds out for validation (often none)."""
    run = _run(name)
    _, y_train, _, _ = _data()
    if run.validation_per_class == 0:
        return np.arange(len(y_train)), np.arange(0)
    return stratified_split(y_train, run.validation_per_class, seed=run.seed)


def pretrained(name: str) -> Pretrained:
    """The registered run `name`, trained on the book's training digits: from the store, else trained and stored."""
    run = _run(name)
    if not isinstance(run, Run):
        raise ValueError(f"name must be a pre-training run (fine-tuning runs load with RUNS[name].load()), got {name!r}")
    x_train, y_train, _, _ = _data()
    train, _ = split(name)
    labels = y_train[train] if run.method == "supervised" else None
    return stored_pretrain(run.method, x_train[train], labels=labels, desc=name, **run.arguments())


def _scores(train_f: np.ndarray, test_f: np.ndarray) -> dict[str, Any]:
    """Probe on all labels, probe per 10-label draw (a list) and 5-NN of one feature map."""
    _, y_train, _, y_test = _data()
    few = [few_label_indices(y_train, PER_CLASS, draw) for draw in range(DRAWS)]
    return {"probe_all": linear_probe(train_f, y_train, test_f, y_test),
            "probe_10": [linear_probe(train_f[i], y_train[i], test_f, y_test) for i in few],
            "knn": knn_accuracy(train_f, y_train, test_f, y_test, k=5)}


def evaluate(name: str) -> dict[str, Any]:
    """The headline evaluation of a registered run (or 'pixels' / 'random encoder'), with its CPU seconds."""
    if not (isinstance(name, str) and name in BASELINES) and isinstance(_run(name), FineTune):
        return RUNS[name].evaluate()
    x_train, _, x_test, _ = _data()
    if name == "pixels":
        return {"seconds": 0.0, **_scores(x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1))}
    if name == "random encoder":
        model = build("simclr", seed=0)
        return {"seconds": 0.0, **_scores(encode(model.encoder, x_train), encode(model.encoder, x_test))}
    run = pretrained(name)
    return {"seconds": run.seconds, **_scores(run.features(x_train), run.features(x_test))}


def _met(name: str, row: Mapping[str, Any]) -> str:
    """'yes' / 'NO' against the run's target, '' when it has none."""
    target = RUNS[name].target if name in RUNS else None
    if target is None:
        return ""
    return "yes" if row["probe_all"] >= target[0] and np.mean(row["probe_10"]) >= target[1] else "NO"


def _line(name: str, row: Mapping[str, Any]) -> str:
    """One row of the table (a fine-tuning run: test accuracy over its draws in the 10-per-class column)."""
    if "test" in row:
        test = np.asarray(row["test"])
        return (f"{name:<16}{'-':>7}{row['seconds']:>9.0f}{'':>10}   {test.mean():.3f} ± "
                f"{test.std(ddof=1) / math.sqrt(len(test)):.3f}   fine-tuned, steps {row['best_step']}")
    few = np.asarray(row["probe_10"])
    se = few.std(ddof=1) / math.sqrt(len(few))
    epochs = f"{RUNS[name].epochs:g}" if name in RUNS else "-"
    target = RUNS[name].target if name in RUNS else None
    goal = f"{target[0]:.3f} / {target[1]:.2f}" if target else ""
    return (f"{name:<16}{epochs:>7}{row['seconds']:>9.0f}{row['probe_all']:>10.3f}   {few.mean():.3f} ± {se:.3f}"
            f"{row['knn']:>8.3f}   {goal:<14}{_met(name, row)}")


def _worker(name: str) -> tuple[str, dict[str, Any]]:
    """Train (or load) one run and evaluate it, in a worker process whose progress bars are not shown."""
    sys.stderr = open(os.devnull, "w")  # two workers' bars would garble one terminal; the parent reports progress
    return name, evaluate(name)


def main(argv: Sequence[str] | None = None) -> int:
    """`make pretrain`: train every registered run missing from the store, then print the table."""
    parser = argparse.ArgumentParser(prog="python -m helpers.runs", description=main.__doc__)
    parser.add_argument("names", nargs="*", help="runs to train (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    names = list(args.names) or list(RUNS)
    unknown = [name for name in names if name not in RUNS]
    if unknown:
        parser.error(f"unknown runs {unknown}; registered runs are {sorted(RUNS)}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    print(f"pre-training store: {store_dir()}; {len(names)} runs on {args.workers} worker processes", flush=True)
    start, rows = time.time(), {}
    pretraining = [name for name in names if isinstance(RUNS[name], Run)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        # fine-tuning runs start from stored pre-training runs: they go second, so no worker trains one twice
        for phase in ([*BASELINES, *pretraining], [name for name in names if name not in pretraining]):
            for job in as_completed([pool.submit(_worker, name) for name in phase]):
                name, rows[name] = job.result()
                print(f"  done: {name} ({time.time() - start:.0f} s elapsed)", flush=True)
    print(f"\n{'run':<16}{'epochs':>7}{'CPU s':>9}{'probe all':>10}   probe 10/class   5-NN   target        met")
    for name in [*BASELINES, *names]:
        print(_line(name, rows[name]))
    entries, size = store_size()
    print(f"\nstore: {entries} entries, {size / 2**20:.0f} MB; wall time {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
