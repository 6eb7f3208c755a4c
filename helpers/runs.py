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
from helpers.pretrain import METHODS, Pretrained, build, stored_pretrain
from helpers.simclr import ENCODER_SIZES, HEAD_SIZES, encode
from helpers.store import store_dir, store_size

__all__ = ["RUNS", "Run", "evaluate", "pretrained", "split", "main"]

BASELINES = ("pixels", "random encoder")
DRAWS = 5  # label draws behind every few-label probe of the table
PER_CLASS = 10


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


# Budgets chosen by measurement (`make pretrain` prints what each reaches); targets from issue 21.
# Runs read by several chapters; each chapter's own runs follow in a block of their own.
SHARED: dict[str, Run] = {
    "simclr": Run("simclr", 200, ("04", "07"), target=(0.965, 0.89)),
    "barlow_twins": Run("barlow_twins", 200, ("07",), target=(0.96, 0.90)),
    "byol": Run("byol", 200, ("05", "07"), target=(0.955, 0.87)),
    "simsiam": Run("simsiam", 200, ("05", "07"), target=(0.955, 0.87)),
    "dino": Run("dino", 100, ("06", "07"), target=(0.93, 0.77)),
    "mae": Run("mae", 200, ("03", "07")),
}
CHAPTER_02: dict[str, Run] = {}
CHAPTER_03: dict[str, Run] = {}
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
RUNS: dict[str, Run] = {**SHARED, **CHAPTER_02, **CHAPTER_03, **CHAPTER_04, **CHAPTER_05, **CHAPTER_06, **CHAPTER_07}


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The book's MNIST split, read once per process."""
    return mnist_split()


def _run(name: Any) -> Run:
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
    if not (isinstance(name, str) and name in BASELINES):
        _run(name)
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
    """One row of the table."""
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
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        jobs = [pool.submit(_worker, name) for name in [*BASELINES, *names]]
        for job in as_completed(jobs):
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
