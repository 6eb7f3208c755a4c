"""Chapter 02's masked language modelling: vocabulary, models, baselines, scoring and
fills.

- `Vocab` / `build_vocab`: the top-K words of a corpus plus [PAD], [MASK], [UNK].
- `ContextFreeMLM`: the article's embedding -> linear model; each output sees only its
  own token.
- `MLMTransformer`: a small bidirectional transformer encoder with a head over the
  vocabulary.
- `NeighbourCounts`: a count baseline that guesses a word from its left and right
  neighbours.
- `mask_batch`, `length_batches`, `make_mlm_step`: masked batches and one training step
  for `fit`.
- `log_probs`, `masked_scores`, `top_k_fills`: scoring on the chosen positions, and
  fills.
- `sotu_corpus`, `held_out_draws`, `draw_scores`: the chapter's sentences, ten
  independent held-out draws and each model's scores draw by draw (what
  `helpers.verdict.compare` pairs).
- `MLMSettings`, `train_mlm`, `stored_mlm`, `MLMRun`: a transformer run through the
  pre-training store (with checkpoints) and its entry in the book's registry of long
  runs (`helpers.runs`).
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_instance,
    check_int,
    check_nonnegative,
    check_positive,
    check_rng,
    check_text,
)
from helpers.autograd import Tensor, no_grad
from helpers.data import load_sotu_sentences, unique_sentences
from helpers.losses import cross_entropy
from helpers.masking import bert_mask
from helpers.nn import (
    Embedding,
    LayerNorm,
    Linear,
    Module,
    TransformerEncoder,
    sincos_1d,
)
from helpers.optim import AdamW, cosine_schedule
from helpers.store import Entry, array_digest, code_digest, load_or_make
from helpers.train import after_each_step, fit
from helpers.verdict import compare

PAD, MASK, UNK = "[PAD]", "[MASK]", "[UNK]"
# NeighbourCounts.probs works on this many (position, word) entries at a time
COUNT_CHUNK_ENTRIES = 1 << 20
SPECIALS = (PAD, MASK, UNK)


@dataclass(frozen=True)
class Vocab:
    """Words by id; ids 0, 1, 2 are [PAD], [MASK] and [UNK]."""

    words: tuple[str, ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.words, tuple) or not all(
            isinstance(w, str) for w in self.words
        ):
            raise TypeError(
                f"words must be a tuple of strings, got {type(self.words).__name__}"
            )
        if tuple(self.words[:3]) != SPECIALS or len(set(self.words)) != len(self.words):
            raise ValueError(f"words must start with {SPECIALS} and hold no duplicates")
        object.__setattr__(self, "index", {w: i for i, w in enumerate(self.words)})

    pad_id, mask_id, unk_id = 0, 1, 2
    special_ids = (0, 1, 2)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentence: Sequence[str]) -> np.ndarray:
        """Return the ids of a list of words; unknown words become [UNK]."""
        if isinstance(sentence, str):
            raise ValueError(
                "sentence must be a list of words, not a string (use str.split())"
            )
        return np.array(
            [self.index.get(w, self.unk_id) for w in sentence], dtype=np.int64
        )

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words of a sequence of ids (each in [0, len(vocab)); -1 is refused)."""
        arr = check_array(ids, "ids", ndim=1, kinds="iu", allow_empty=True)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self.words)):
            raise ValueError(
                f"ids must lie in [0, {len(self.words) - 1}], got values in "
                f"[{arr.min()}, {arr.max()}]"
            )
        return [self.words[i] for i in arr]


def _check_tokenised(
    sentences: Sequence[Sequence[str]], name: str = "sentences"
) -> None:
    """Raise unless sentences is a sequence of word lists (not strings)."""
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise TypeError(
            f"{name} must be a list of tokenised sentences, got "
            f"{type(sentences).__name__}"
        )
    for s in sentences:
        if isinstance(s, str) or not all(isinstance(w, str) for w in s):
            raise TypeError(
                f"{name} must be lists of words, e.g. tokenize(text), not strings "
                f"(a string would be counted character by character), got {s!r:.40}"
            )


def build_vocab(sentences: Sequence[Sequence[str]], size: int) -> Vocab:
    """A Vocab of the `size` most frequent words (ties alphabetical) after specials."""
    check_int(size, "size", minimum=1)
    _check_tokenised(sentences)
    counts = Counter(w for s in sentences for w in s)
    if not counts:
        raise ValueError("sentences must contain at least one word")
    ranked = sorted(
        (w for w in counts if w not in SPECIALS), key=lambda w: (-counts[w], w)
    )
    return Vocab(SPECIALS + tuple(ranked[:size]))


def coverage(vocab: Vocab, sentences: Sequence[Sequence[str]]) -> float:
    """The share of word tokens in sentences that the vocabulary knows (not [UNK])."""
    if not isinstance(vocab, Vocab):
        raise TypeError(
            f"vocab must be a Vocab (see build_vocab), got {type(vocab).__name__}"
        )
    _check_tokenised(sentences)
    total = sum(len(s) for s in sentences)
    if total == 0:
        raise ValueError("sentences must contain at least one word")
    return sum(w in vocab.index for s in sentences for w in s) / total


def _id_rows(rows: Any, name: str) -> list[np.ndarray]:
    """Return rows (non-empty list of non-empty 1-D id arrays) as arrays, else raise."""
    if isinstance(rows, (str, np.ndarray)) or not isinstance(rows, Sequence):
        raise TypeError(
            f"{name} must be a list of 1-D id arrays, got {type(rows).__name__}"
        )
    arrays = [
        check_array(s, f"{name}[{i}]", ndim=1, kinds="iu") for i, s in enumerate(rows)
    ]
    if len(arrays) == 0 or min(len(s) for s in arrays) == 0:
        raise ValueError(
            f"{name} must hold at least one sequence, each of at least one id"
        )
    return arrays


def _flags(x: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Return x as a bool array of the given shape, else raise naming the argument."""
    arr = check_array(x, name, kinds="b")
    if arr.shape != shape:
        raise ValueError(
            f"{name} must be a bool array of shape {shape} like inputs, got {arr.shape}"
        )
    return arr


def pad_batch(
    seqs: Sequence[np.ndarray], pad_id: int = 0, length: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stack 1-D id arrays into (N, L) ids padded with pad_id, and a padding mask."""
    seqs = _id_rows(seqs, "seqs")
    check_int(pad_id, "pad_id")
    lengths = np.array([len(s) for s in seqs])
    length = (
        int(lengths.max())
        if length is None
        else check_int(length, "length", minimum=int(lengths.max()))
    )
    ids = np.full((len(seqs), length), pad_id, dtype=np.int64)
    for row, s in enumerate(seqs):
        ids[row, : len(s)] = s
    return ids, np.arange(length)[None, :] >= lengths[:, None]


class ContextFreeMLM(Module):
    """The article's model: an embedding then a linear head; outputs see one token."""

    def __init__(self, vocab_size: int, dim: int, rng: np.random.Generator) -> None:
        check_int(vocab_size, "vocab_size", minimum=1)
        check_int(dim, "dim", minimum=1)
        check_rng(rng)
        self.embed = Embedding(vocab_size, dim, rng)
        self.head = Linear(dim, vocab_size, rng)

    def forward(self, ids: np.ndarray, pad_mask: np.ndarray | None = None) -> Tensor:
        """Return one vector per token (N, L, dim); pad_mask is accepted and unused."""
        return self.embed(ids)

    def logits(
        self, ids: np.ndarray, pad_mask: np.ndarray | None, where: np.ndarray
    ) -> Tensor:
        """Vocabulary logits (M, V) at the M positions where `where` (N, L) is True."""
        return self.head(_select(self.forward(ids, pad_mask), where))


class MLMTransformer(Module):
    """BERT-like encoder: token embedding + fixed sin-cos positions -> bidirectional
    transformer -> tied head.

    As in BERT and the original Transformer, the output layer reuses the token embedding
    table E: logits = LayerNorm(GELU(Linear(h))) @ E^T + b. E starts as N(0, 1/width)
    and is scaled by sqrt(width) on the way in, so tokens and positions enter on the
    same scale.
    """

    def __init__(
        self,
        vocab_size: int,
        width: int,
        depth: int,
        n_heads: int,
        max_len: int,
        rng: np.random.Generator,
        mlp_ratio: float = 4.0,
    ) -> None:
        check_int(vocab_size, "vocab_size", minimum=1)
        check_int(width, "width", minimum=1)
        self.max_len = check_int(max_len, "max_len", minimum=1)
        self.embed = Embedding(vocab_size, width, rng)
        self.embed.weight.data *= np.float32(width**-0.5)
        self.positions = sincos_1d(max_len, width)
        self.encoder = TransformerEncoder(width, depth, n_heads, rng, mlp_ratio)
        self.transform = Linear(width, width, rng)
        self.transform_norm = LayerNorm(width)
        self.out_bias = Tensor(np.zeros(vocab_size, np.float32), requires_grad=True)

    def forward(self, ids: np.ndarray, pad_mask: np.ndarray | None = None) -> Tensor:
        """Contextual vectors (N, L, width); keys True in pad_mask are not attended."""
        ids = np.asarray(ids)
        if ids.ndim != 2 or not 1 <= ids.shape[1] <= self.max_len:
            raise ValueError(
                f"ids must have shape (N, L) with 1 <= L <= max_len={self.max_len}, "
                f"got {ids.shape}"
            )
        scale = np.float32(np.sqrt(self.embed.weight.shape[1]))
        x = self.embed(ids) * scale + self.positions[: ids.shape[1]]
        return self.encoder(x, key_padding_mask=pad_mask)

    def logits(
        self, ids: np.ndarray, pad_mask: np.ndarray | None, where: np.ndarray
    ) -> Tensor:
        """Vocabulary logits (M, V) at the M positions where `where` (N, L) is True."""
        h = self.transform_norm(
            self.transform(_select(self.forward(ids, pad_mask), where)).gelu()
        )
        return h @ self.embed.weight.T + self.out_bias


def _select(hidden: Tensor, where: np.ndarray) -> Tensor:
    """Rows of hidden (N, L, D) at True entries of where (N, L), row-major: (M, D)."""
    where = np.asarray(where)
    if where.dtype != np.bool_ or where.shape != hidden.shape[:2]:
        raise ValueError(
            f"where must be a bool array of shape {hidden.shape[:2]}, got "
            f"{where.dtype} {where.shape}"
        )
    return hidden.reshape(-1, hidden.shape[-1])[np.flatnonzero(where)]


def mlm_loss(
    model: Module, inputs: np.ndarray, labels: np.ndarray, pad_mask: np.ndarray
) -> Tensor:
    """Mean cross-entropy over the chosen positions only (labels >= 0)."""
    check_instance(model, Module, "model")
    inputs = check_array(inputs, "inputs", ndim=2, kinds="iu")
    labels = check_array(labels, "labels", kinds="iu")
    if labels.shape != inputs.shape:
        raise ValueError(
            f"labels must have the shape of inputs {inputs.shape}, got {labels.shape}"
        )
    pad_mask = _flags(pad_mask, "pad_mask", inputs.shape)
    where = labels >= 0
    if not where.any():
        raise ValueError(
            "labels must choose at least one position (an id >= 0); all are -1"
        )
    return cross_entropy(model.logits(inputs, pad_mask, where), labels[where])


def mask_batch(
    rows: Sequence[np.ndarray],
    vocab: Vocab,
    rng: np.random.Generator,
    mask_prob: float = 0.15,
    fixed_count: bool = False,
    length: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad rows (to `length`, default the longest) and corrupt them with bert_mask;
    [PAD], [MASK] and [UNK] are never chosen. Returns (inputs, labels, pad_mask)."""
    check_instance(vocab, Vocab, "vocab")
    check_bool(fixed_count, "fixed_count")
    ids, pad_mask = pad_batch(_id_rows(rows, "rows"), vocab.pad_id, length)
    inputs, labels = bert_mask(
        ids,
        rng,
        mask_prob,
        mask_id=vocab.mask_id,
        vocab_size=len(vocab),
        special_ids=vocab.special_ids,
        fixed_count=fixed_count,
    )
    return inputs, labels, pad_mask


def log_probs(
    model: Module,
    inputs: np.ndarray,
    pad_mask: np.ndarray,
    where: np.ndarray,
    chunk: int = 512,
) -> np.ndarray:
    """Log-probabilities (M, V) at the chosen positions, without a graph, in chunks."""
    check_instance(model, Module, "model")
    inputs = check_array(inputs, "inputs", ndim=2, kinds="iu")
    pad_mask, where = (
        _flags(pad_mask, "pad_mask", inputs.shape),
        _flags(where, "where", inputs.shape),
    )
    check_int(chunk, "chunk", minimum=1)
    out = []
    with no_grad():
        for start in range(0, len(inputs), chunk):
            part = slice(start, start + chunk)
            if where[part].any():
                z = model.logits(inputs[part], pad_mask[part], where[part]).data.astype(
                    np.float64
                )
                out.append(Tensor(z).log_softmax(axis=-1).data)
    return np.concatenate(out) if out else np.zeros((0, model.embed.num))


def masked_scores(
    log_p: np.ndarray, targets: np.ndarray, ks: Sequence[int] = (1, 5)
) -> dict[str, float]:
    """Mean loss (-log p of the true word) and top-k accuracies; tied scores share a
    top-k slot fairly.

    A target with g words scored strictly higher and t words (itself included) tied
    counts as clip((k - g) / t, 0, 1) hits: the expected top-k accuracy when ties are
    broken at random.
    """
    log_p = check_array(log_p, "log_p", ndim=2, finite=False)
    targets = check_array(targets, "targets", ndim=1)
    if isinstance(ks, (str, np.ndarray)) or not isinstance(ks, Sequence):
        raise TypeError(
            f"ks must be a list of integers k >= 1, got {type(ks).__name__}"
        )
    ks = [check_int(k, "ks", minimum=1) for k in ks]
    if (
        len(targets) != len(log_p)
        or len(targets) == 0
        or targets.dtype.kind not in "iu"
    ):
        raise ValueError(
            f"targets must be integers, one id per row of log_p, got {len(targets)} "
            f"for {len(log_p)} rows"
        )
    if targets.min() < 0 or targets.max() >= log_p.shape[1]:
        raise ValueError(
            f"targets must lie in [0, {log_p.shape[1] - 1}] (-1 marks an unscored "
            "position: "
            f"select the scored ones first), got values in [{targets.min()}, "
            f"{targets.max()}]"
        )
    own = log_p[np.arange(len(targets)), targets][:, None]
    higher = (log_p > own).sum(axis=1)
    tied = (log_p == own).sum(axis=1)
    scores = {"loss": float(-own.mean())}
    for k in ks:
        scores[f"top{k}"] = float(np.clip((k - higher) / tied, 0.0, 1.0).mean())
    return scores


class NeighbourCounts:
    """A count baseline: P(word | left, right neighbour) from training counts, with
    Witten-Bell backoff.

    The (left, right) counts back off to a naive-Bayes mix of P(word | left) and P(word
    | right), which back off to add-one unigram frequencies. Witten-Bell gives an
    unseen-word share T / (C + T) to the backoff, where C counts a context's occurrences
    and T its distinct words. Sentence edges count as the neighbour `boundary_id` (the
    id padding uses).
    """

    def __init__(
        self, sentences: Sequence[np.ndarray], vocab_size: int, boundary_id: int = 0
    ) -> None:
        self.v = check_int(vocab_size, "vocab_size", minimum=2)
        self.boundary = check_int(boundary_id, "boundary_id", maximum=vocab_size - 1)
        sentences = _id_rows(sentences, "sentences")
        padded = [np.concatenate([[boundary_id], s, [boundary_id]]) for s in sentences]
        left = np.concatenate([p[:-2] for p in padded]).astype(np.int64)
        word = np.concatenate([p[1:-1] for p in padded]).astype(np.int64)
        right = np.concatenate([p[2:] for p in padded]).astype(np.int64)
        if word.min() < 0 or word.max() >= vocab_size:
            raise ValueError(f"sentences must hold ids in [0, vocab_size={vocab_size})")
        self.unigram = (np.bincount(word, minlength=self.v) + 1.0) / (
            len(word) + self.v
        )
        # sparse counts: sorted (context * V + word) keys with their counts; memory
        # grows with the corpus, not V**2
        self.by_left = np.unique(left * self.v + word, return_counts=True)
        self.by_right = np.unique(right * self.v + word, return_counts=True)
        pairs, self.pair_counts = np.unique(
            (left * self.v + right) * self.v + word, return_counts=True
        )
        self.pair_context, self.pair_word = np.divmod(pairs, self.v)

    def _dense(
        self, table: tuple[np.ndarray, np.ndarray], contexts: np.ndarray
    ) -> np.ndarray:
        """Rows (M, V): counts of each word after context id contexts[m]."""
        keys, counts = table
        lo = np.searchsorted(keys, contexts * self.v, "left")
        n = np.searchsorted(keys, (contexts + 1) * self.v, "left") - lo
        rows = np.repeat(np.arange(len(contexts)), n)
        at = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
        dense = np.zeros((len(contexts), self.v), np.int64)
        dense[rows, keys[at] % self.v] = counts[at]
        return dense

    def _backoff(self, counts: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """Witten-Bell: rows of counts (M, V) smoothed towards lower (M, V) or (V,)."""
        total = counts.sum(axis=1, keepdims=True).astype(np.float64)
        types = (counts > 0).sum(axis=1, keepdims=True)
        return (counts + types * lower) / np.maximum(total + types, 1) + (
            total == 0
        ) * lower

    def probs(self, inputs: np.ndarray, where: np.ndarray) -> np.ndarray:
        """Probabilities (M, V) where `where` (N, L) is True, from the neighbours."""
        inputs = check_array(inputs, "inputs", ndim=2)
        where = np.asarray(where)
        if where.dtype != np.bool_ or where.shape != inputs.shape:
            raise ValueError(
                f"where must be a bool array of shape {inputs.shape}, got "
                f"{where.dtype} {where.shape}"
            )
        edge = np.full((len(inputs), 1), self.boundary)
        framed = np.concatenate([edge, inputs, edge], axis=1)
        rows, cols = np.nonzero(where)
        left, right = framed[rows, cols], framed[rows, cols + 2]
        if (
            min(left.min(initial=0), right.min(initial=0)) < 0
            or max(left.max(initial=0), right.max(initial=0)) >= self.v
        ):
            raise ValueError(
                f"inputs must hold ids in [0, vocab_size={self.v}) around the "
                "positions in where"
            )
        out = np.empty((len(left), self.v))
        # rows at a time: intermediates stay small at any V
        step = max(1, COUNT_CHUNK_ENTRIES // self.v)
        for start in range(0, len(left), step):
            part = slice(start, start + step)
            out[part] = self._probs(left[part], right[part])
        return out

    def _probs(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Probabilities (M, V) of the middle word given left and right ids (M,)."""
        p_left = self._backoff(self._dense(self.by_left, left), self.unigram)
        p_right = self._backoff(self._dense(self.by_right, right), self.unigram)
        mix = p_left * p_right / self.unigram
        mix /= mix.sum(axis=1, keepdims=True)
        joint = np.zeros_like(mix)
        lo = np.searchsorted(self.pair_context, left * self.v + right, "left")
        hi = np.searchsorted(self.pair_context, left * self.v + right, "right")
        for m in np.flatnonzero(hi > lo):
            joint[m, self.pair_word[lo[m] : hi[m]]] = self.pair_counts[lo[m] : hi[m]]
        return self._backoff(joint, mix)


def top_k_fills(
    model: Module, vocab: Vocab, words: Sequence[str], k: int = 5
) -> list[list[tuple[str, float]]]:
    """For each [MASK] in words, the model's k most probable words, probabilities."""
    check_instance(model, Module, "model")
    check_instance(vocab, Vocab, "vocab")
    check_int(k, "k", minimum=1, maximum=len(vocab))
    if (
        isinstance(words, str)
        or not isinstance(words, Sequence)
        or not all(isinstance(w, str) for w in words)
    ):
        raise TypeError(f"words must be a list of strings, got {type(words).__name__}")
    ids = vocab.encode(words)
    where = ids == vocab.mask_id
    if not where.any():
        raise ValueError(
            f"words must contain at least one {MASK}, got {' '.join(words)!r}"
        )
    if len(ids) > getattr(model, "max_len", len(ids)):
        raise ValueError(
            f"words must hold at most max_len={model.max_len} tokens, got {len(ids)}"
        )
    p = np.exp(log_probs(model, ids[None], np.zeros((1, len(ids)), bool), where[None]))
    best = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return [[(vocab.words[i], float(row[i])) for i in top] for row, top in zip(p, best)]


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One epoch of index batches, each of sentences of (nearly) equal length, in random
    order.

    Sorting by length (ties in random order) before cutting batches keeps padding, and
    so wasted compute, near zero; the batches are then shuffled so lengths do not follow
    a schedule.
    """
    lengths = check_array(lengths, "lengths", ndim=1, kinds="iu")
    check_int(batch_size, "batch_size", minimum=1, maximum=len(lengths))
    shuffled = check_rng(rng).permutation(len(lengths))
    order = shuffled[np.argsort(lengths[shuffled], kind="stable")]
    batches = [
        order[i : i + batch_size]
        for i in range(0, len(order) - batch_size + 1, batch_size)
    ]
    return [batches[i] for i in rng.permutation(len(batches))]


def make_mlm_step(
    model: Module,
    rows: Sequence[np.ndarray],
    vocab: Vocab,
    rng: np.random.Generator,
    *,
    n_steps: int,
    batch_size: int = 64,
    base_lr: float = 3e-3,
    warmup_steps: int = 0,
    mask_prob: float = 0.15,
    weight_decay: float = 0.01,
) -> Callable[[int], float]:
    """Return step(k) for helpers.train.fit: a fresh masked batch, masked-position loss,
    one AdamW step.

    Batches come from length_batches, epoch after epoch; the learning rate follows
    cosine_schedule.
    """
    check_instance(model, Module, "model")
    check_instance(vocab, Vocab, "vocab")
    _id_rows(rows, "rows")
    check_rng(rng)
    check_int(n_steps, "n_steps", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(warmup_steps, "warmup_steps", minimum=0, maximum=n_steps - 1)
    check_fraction(mask_prob, "mask_prob", low_open=True, high_open=False)
    check_positive(base_lr, "base_lr")
    optimizer = AdamW(model.parameters(), lr=base_lr, weight_decay=weight_decay)
    lengths = [len(r) for r in rows]
    queue: list[np.ndarray] = []

    def step(k: int) -> float:
        if not queue:
            queue.extend(length_batches(lengths, batch_size, rng))
        batch = [rows[i] for i in queue.pop()]
        inputs, labels, pad_mask = mask_batch(batch, vocab, rng, mask_prob)
        optimizer.lr = cosine_schedule(k, n_steps, base_lr, warmup_steps)
        optimizer.zero_grad()
        loss = mlm_loss(model, inputs, labels, pad_mask)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


@dataclass(frozen=True)
class Corpus:
    """Chapter 02's text: distinct SOTU sentences, training, held-out, vocabulary."""

    sentences: list[list[str]]
    train: list[list[str]]
    held_out: list[list[str]]
    vocab: Vocab

    def __post_init__(self) -> None:
        """Check the corpus: tokenised sentence lists and a Vocab."""
        for name in ("sentences", "train", "held_out"):
            _check_tokenised(getattr(self, name), name)
        check_instance(self.vocab, Vocab, "vocab")

    @property
    def train_ids(self) -> list[np.ndarray]:
        """The training sentences as id arrays."""
        return [self.vocab.encode(s) for s in self.train]

    @property
    def held_ids(self) -> list[np.ndarray]:
        """The held-out sentences as id arrays."""
        return [self.vocab.encode(s) for s in self.held_out]


def sotu_corpus(
    max_len: int = 16, vocab_size: int = 1000, n_held_out: int = 1500, seed: int = 0
) -> Corpus:
    """Distinct SOTU sentences (1900 on, 4 to max_len words), n_held_out; vocab."""
    check_int(max_len, "max_len", minimum=4)
    check_int(vocab_size, "vocab_size", minimum=1)
    check_int(n_held_out, "n_held_out", minimum=1)
    sentences = unique_sentences(
        load_sotu_sentences(min_year=1900, min_len=4, max_len=max_len)
    )
    if n_held_out >= len(sentences):
        raise ValueError(
            f"n_held_out must leave training sentences: it is {n_held_out} of "
            f"{len(sentences)}"
        )
    order = np.random.default_rng(check_int(seed, "seed")).permutation(len(sentences))
    held_out = [sentences[i] for i in order[:n_held_out]]
    train = [sentences[i] for i in order[n_held_out:]]
    return Corpus(sentences, train, held_out, build_vocab(train, vocab_size))


def held_out_draws(
    rows: Sequence[np.ndarray],
    vocab: Vocab,
    n_draws: int = 10,
    seed: int = 123,
    mask_prob: float = 0.15,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Independent evaluation draws: rows cut into n_draws disjoint random groups, each
    masked with its own seed.

    Each draw is (inputs, labels, pad_mask) as from mask_batch, all padded to the
    longest row, so draws stack with np.concatenate; scores on different draws vary by
    sentence and by mask, so their spread is what a comparison of two models must clear.
    """
    rows = _id_rows(rows, "rows")
    check_instance(vocab, Vocab, "vocab")
    check_int(n_draws, "n_draws", minimum=2, maximum=len(rows))
    check_fraction(mask_prob, "mask_prob", low_open=True, high_open=False)
    groups = np.array_split(
        np.random.default_rng(check_int(seed, "seed")).permutation(len(rows)), n_draws
    )
    length = max(len(r) for r in rows)
    return [
        mask_batch(
            [rows[i] for i in group],
            vocab,
            np.random.default_rng(seed + 1 + d),
            mask_prob,
            length=length,
        )
        for d, group in enumerate(groups)
    ]


def draw_scores(
    log_p: np.ndarray,
    draws: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    mask_id: int,
) -> dict[str, np.ndarray]:
    """Per-draw loss, top-1 and top-5 over chosen positions and at [MASK] ('top1_mask',
    'top5_mask').

    log_p (M, V): log-probabilities at the chosen positions of all draws, draw after
    draw in row-major order (as log_probs gives them for the draws stacked with
    np.concatenate).
    """
    if (
        isinstance(draws, (str, np.ndarray))
        or not isinstance(draws, Sequence)
        or not draws
        or not all(isinstance(d, tuple) and len(d) == 3 for d in draws)
    ):
        raise ValueError(
            "draws must be a non-empty list of (inputs, labels, pad_mask) as "
            "held_out_draws gives them"
        )
    check_int(mask_id, "mask_id")
    sizes = [int((np.asarray(labels) >= 0).sum()) for _, labels, _ in draws]
    log_p = check_array(log_p, "log_p", ndim=2, finite=False)
    if len(log_p) != sum(sizes):
        raise ValueError(
            f"log_p must hold one row per chosen position of the draws ({sum(sizes)}), "
            f"got {len(log_p)}"
        )
    rows = []
    for part, (inputs, labels, _) in zip(np.split(log_p, np.cumsum(sizes)[:-1]), draws):
        targets, at_mask = labels[labels >= 0], inputs[labels >= 0] == mask_id
        masked = masked_scores(part[at_mask], targets[at_mask])
        rows.append(
            masked_scores(part, targets)
            | {"top1_mask": masked["top1"], "top5_mask": masked["top5"]}
        )
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}


@dataclass
class TrainedMLM:
    """A trained MLMTransformer: step losses, CPU seconds, checkpoints (step: state)."""

    model: MLMTransformer
    losses: np.ndarray
    seconds: float
    checkpoints: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the record: transformer, 1-D losses, CPU seconds >= 0, checkpoints."""
        check_instance(self.model, MLMTransformer, "model")
        check_array(self.losses, "losses", ndim=1, allow_empty=True)
        check_nonnegative(self.seconds, "seconds")
        if not isinstance(self.checkpoints, dict) or not all(
            isinstance(k, int) for k in self.checkpoints
        ):
            raise ValueError(
                "checkpoints must be a dict of step counts to model states"
            )

    def at_step(self, step: int) -> MLMTransformer:
        """A copy of the model as it was after `step` optimiser steps (a checkpoint)."""
        if check_int(step, "step") not in self.checkpoints:
            raise ValueError(
                "step must be one of the saved checkpoints "
                f"{sorted(self.checkpoints)}, got {step}"
            )
        model = copy.deepcopy(self.model)
        model.load_state_dict(self.checkpoints[step])
        return model


@dataclass(frozen=True)
class MLMSettings:
    """Everything that decides a training run of the MLMTransformer besides its data."""

    n_steps: int
    width: int = 64
    depth: int = 2
    n_heads: int = 4
    mlp_ratio: float = 2.0
    max_len: int = 16
    batch_size: int = 64
    base_lr: float = 5e-3
    warmup_steps: int = 75
    mask_prob: float = 0.4
    seed: int = 20
    checkpoints: tuple[int, ...] = ()  # steps after which the model's state is kept too

    def __post_init__(self) -> None:
        """Check: counts >= 1, a fraction for mask_prob, checkpoints among the steps."""
        for name in ("n_steps", "width", "depth", "n_heads", "max_len", "batch_size"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.warmup_steps, "warmup_steps", minimum=0)
        check_int(self.seed, "seed")
        check_positive(self.base_lr, "base_lr")
        check_positive(self.mlp_ratio, "mlp_ratio")
        check_fraction(self.mask_prob, "mask_prob", low_open=True, high_open=False)
        if not isinstance(self.checkpoints, tuple) or not all(
            isinstance(s, int) and 1 <= s <= self.n_steps for s in self.checkpoints
        ):
            raise ValueError(
                f"checkpoints must be a tuple of step counts in [1, {self.n_steps}], "
                f"got {self.checkpoints!r}"
            )


def train_mlm(
    rows: Sequence[np.ndarray],
    vocab: Vocab,
    settings: MLMSettings,
    desc: str = "transformer",
) -> TrainedMLM:
    """Build an MLMTransformer from settings.seed, train it on rows (rng: seed + 1)."""
    check_instance(settings, MLMSettings, "settings")
    check_instance(vocab, Vocab, "vocab")
    rows = _id_rows(rows, "rows")
    check_text(desc, "desc")
    s = settings
    model = MLMTransformer(
        len(vocab),
        s.width,
        s.depth,
        s.n_heads,
        s.max_len,
        np.random.default_rng(s.seed),
        s.mlp_ratio,
    )
    step = make_mlm_step(
        model,
        rows,
        vocab,
        np.random.default_rng(s.seed + 1),
        n_steps=s.n_steps,
        batch_size=s.batch_size,
        base_lr=s.base_lr,
        warmup_steps=s.warmup_steps,
        mask_prob=s.mask_prob,
    )
    saved: dict[int, dict[str, np.ndarray]] = {}

    def keep(steps_done: int) -> None:
        if steps_done in s.checkpoints:
            saved[steps_done] = model.state_dict()

    start = time.process_time()
    with after_each_step(keep):
        losses = fit(step, s.n_steps, desc=desc)
    return TrainedMLM(model, losses, time.process_time() - start, saved)


def stored_mlm(
    rows: Sequence[np.ndarray],
    vocab: Vocab,
    settings: MLMSettings,
    desc: str = "transformer",
) -> TrainedMLM:
    """`train_mlm` through the pre-training store: loaded if stored, else trained."""
    check_instance(settings, MLMSettings, "settings")
    check_instance(vocab, Vocab, "vocab")
    rows = _id_rows(rows, "rows")
    check_text(desc, "desc")
    spec = {
        "kind": "mlm",
        "settings": asdict(settings),
        "vocab": list(vocab.words),
        "rows": array_digest(np.concatenate(rows), np.array([len(r) for r in rows])),
        "code": code_digest(["helpers.mlm"]),
    }

    def make() -> Entry:
        run = train_mlm(rows, vocab, settings, desc)
        arrays = {f"model/{k}": v for k, v in run.model.state_dict().items()} | {
            "losses": run.losses
        }
        for step, state in run.checkpoints.items():
            arrays.update({f"step{step}/{k}": v for k, v in state.items()})
        return Entry(
            arrays, {"seconds": run.seconds, "checkpoints": sorted(run.checkpoints)}
        )

    entry, _ = load_or_make(spec, make, name=desc)
    s = settings
    model = MLMTransformer(
        len(vocab),
        s.width,
        s.depth,
        s.n_heads,
        s.max_len,
        np.random.default_rng(s.seed),
        s.mlp_ratio,
    )
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
    return TrainedMLM(
        model, entry.arrays["losses"], float(entry.record["seconds"]), checkpoints
    )


@dataclass(frozen=True)
class MLMRun:
    """A `helpers.runs` entry for a stored MLMTransformer on `sotu_corpus()`."""

    settings: MLMSettings
    chapters: tuple[str, ...]
    HEADER: ClassVar[str] = (
        f"{'text run':<20}{'steps':>7}{'CPU s':>9}   held-out loss (vs counts)   "
        "top-1 at [MASK] (vs counts)   ahead of counts on both"
    )

    def __post_init__(self) -> None:
        """Check the entry: MLMSettings and a tuple of chapter names."""
        check_instance(self.settings, MLMSettings, "settings")
        if not isinstance(self.chapters, tuple) or not all(
            isinstance(c, str) for c in self.chapters
        ):
            raise ValueError(
                "chapters must be a tuple of chapter numbers such as ('02',), got "
                f"{self.chapters!r}"
            )

    def load(self, name: str = "transformer") -> TrainedMLM:
        """The stored run (trained and stored first on a miss)."""
        check_text(name, "name")
        corpus = sotu_corpus(max_len=self.settings.max_len)
        return stored_mlm(corpus.train_ids, corpus.vocab, self.settings, desc=name)

    def evaluate(self, name: str = "transformer") -> dict[str, Any]:
        """CPU seconds and per-draw scores of the run and of NeighbourCounts."""
        check_text(name, "name")
        corpus, run = sotu_corpus(max_len=self.settings.max_len), self.load(name)
        vocab, draws = corpus.vocab, held_out_draws(corpus.held_ids, corpus.vocab)
        inputs, labels, pad_mask = (np.concatenate(parts) for parts in zip(*draws))
        counts = NeighbourCounts(corpus.train_ids, len(vocab), boundary_id=vocab.pad_id)
        return {
            "seconds": run.seconds,
            "model": draw_scores(
                log_probs(run.model, inputs, pad_mask, labels >= 0),
                draws,
                vocab.mask_id,
            ),
            "counts": draw_scores(
                np.log(counts.probs(inputs, labels >= 0)), draws, vocab.mask_id
            ),
        }

    def line(self, name: str, row: Mapping[str, Any]) -> str:
        """A row of `make pretrain`'s table, with verdicts against the count table."""
        check_text(name, "name")
        if not isinstance(row, Mapping) or not {"seconds", "model", "counts"} <= set(
            row
        ):
            raise ValueError(
                "row must be a mapping with 'seconds', 'model' and 'counts', as "
                "evaluate() returns"
            )
        model, counts = row["model"], row["counts"]
        loss, top1 = (
            compare(counts["loss"], model["loss"]),
            compare(model["top1_mask"], counts["top1_mask"]),
        )
        ahead = "yes" if loss.word == top1.word == "ahead" else "NO"
        loss_text = f"{model['loss'].mean():.3f} ({counts['loss'].mean():.3f})"
        top1_text = (
            f"{model['top1_mask'].mean():.3f} ({counts['top1_mask'].mean():.3f})"
        )
        return (
            f"{name:<20}{self.settings.n_steps:>7}{row['seconds']:>9.0f}   "
            f"{loss_text:<28}{top1_text:<30}{ahead}"
        )
