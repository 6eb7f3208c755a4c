"""Tests for helpers.mlm: vocabulary, padding, models, loss, counts, scoring, fills."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import mlm
from helpers.train import fit

CORPUS = [
    s.split()
    for s in [
        "the cat sat on the mat",
        "the dog sat on the rug",
        "a cat ran to the door",
        "the dog ran to a tree",
        "we sat on the grass",
    ]
]


@pytest.fixture
def vocab() -> mlm.Vocab:
    return mlm.build_vocab(CORPUS, 50)


def tiny_transformer(vocab: mlm.Vocab, seed: int = 0) -> mlm.MLMTransformer:
    return mlm.MLMTransformer(
        len(vocab), 16, 1, 2, 8, np.random.default_rng(seed), mlp_ratio=2.0
    )


# ----- vocabulary and batches
# -----------------------------------------------------------------
def test_build_vocab_puts_specials_first_then_words_by_count_ties_alphabetical(
    vocab,
) -> None:
    assert vocab.words[:3] == mlm.SPECIALS
    assert vocab.words[3] == "the"  # the most frequent word
    assert (vocab.pad_id, vocab.mask_id, vocab.unk_id) == (0, 1, 2)
    counts = {w: sum(s.count(w) for s in CORPUS) for w in vocab.words[3:]}
    keys = [(-counts[w], w) for w in vocab.words[3:]]
    assert keys == sorted(keys)


def test_build_vocab_keeps_only_the_top_words_and_checks_size() -> None:
    small = mlm.build_vocab(CORPUS, 2)
    # "on" and "sat" tie at 3
    assert len(small) == 5 and small.words[3:] == ("the", "on")
    with pytest.raises(ValueError, match="size"):
        mlm.build_vocab(CORPUS, 0)
    with pytest.raises(ValueError, match="at least one word"):
        mlm.build_vocab([], 5)


def test_encode_maps_unknown_words_to_unk_and_decode_inverts(vocab) -> None:
    ids = vocab.encode("the zebra sat [MASK]".split())
    assert ids.dtype == np.int64
    assert ids[1] == vocab.unk_id and ids[3] == vocab.mask_id
    assert vocab.decode(ids) == ["the", "[UNK]", "sat", "[MASK]"]
    with pytest.raises(ValueError, match="list of words"):
        vocab.encode("the cat")


def test_vocab_rejects_a_word_list_without_the_specials() -> None:
    with pytest.raises(ValueError, match="start with"):
        mlm.Vocab(("a", "b"))


def test_coverage_counts_known_tokens(vocab) -> None:
    assert mlm.coverage(vocab, CORPUS) == 1.0
    assert mlm.coverage(vocab, [["the", "zebra"]]) == 0.5
    with pytest.raises(ValueError):
        mlm.coverage(vocab, [[]])


def test_pad_batch_pads_to_the_longest_and_marks_padding() -> None:
    ids, pad = mlm.pad_batch([np.array([5, 6, 7]), np.array([8])], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert pad.tolist() == [[False, False, False], [False, True, True]]
    # a pad id inside a row is not padding
    ids, pad = mlm.pad_batch([np.array([0, 4])], pad_id=0, length=4)
    assert pad.tolist() == [[False, False, True, True]]
    with pytest.raises(ValueError, match="length"):
        mlm.pad_batch([np.array([1, 2, 3])], length=2)
    with pytest.raises(ValueError, match="at least one"):
        mlm.pad_batch([])


def test_length_batches_cover_each_index_once_in_equal_length_groups() -> None:
    lengths = np.array([3, 5, 3, 5, 6, 6, 4, 4])
    batches = mlm.length_batches(lengths, 2, np.random.default_rng(0))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(8))
    assert all(len(set(lengths[b])) == 1 for b in batches)
    with pytest.raises(ValueError, match="batch_size"):
        mlm.length_batches(lengths, 9, np.random.default_rng(0))


def test_mask_batch_never_chooses_special_tokens(vocab) -> None:
    rows = [vocab.encode("the zebra sat".split()), vocab.encode("a cat".split())]
    inputs, labels, pad = mlm.mask_batch(
        rows, vocab, np.random.default_rng(0), mask_prob=1.0
    )
    original = mlm.pad_batch(rows)[0]
    assert np.all(labels[np.isin(original, vocab.special_ids)] == -1)
    assert np.all(labels[~np.isin(original, vocab.special_ids)] >= 0)
    assert pad.tolist() == [[False, False, False], [False, False, True]]


# ----- models and loss
# ------------------------------------------------------------------------
def test_context_free_model_gives_the_same_logits_at_every_mask(vocab) -> None:
    model = mlm.ContextFreeMLM(len(vocab), 8, np.random.default_rng(0))
    ids, pad = mlm.pad_batch(
        [
            vocab.encode("the [MASK] sat".split()),
            vocab.encode("[MASK] dog ran to".split()),
        ]
    )
    out = model.logits(ids, pad, ids == vocab.mask_id).data
    assert out.shape == (2, len(vocab))
    assert np.array_equal(out[0], out[1])


def test_transformer_shapes_and_context_dependence(vocab) -> None:
    model = tiny_transformer(vocab)
    a = vocab.encode("the [MASK] sat on".split())[None]
    b = vocab.encode("a [MASK] ran to".split())[None]
    where = a == vocab.mask_id
    assert model.forward(a).shape == (1, 4, 16)
    la, lb = model.logits(a, None, where).data, model.logits(b, None, where).data
    assert la.shape == (1, len(vocab))
    assert not np.allclose(la, lb)  # the same [MASK] input, different neighbours


def test_transformer_ignores_padding_keys(vocab) -> None:
    model = tiny_transformer(vocab)
    short = vocab.encode("the cat sat".split())
    ids, pad = mlm.pad_batch([short], length=6)
    # whatever sits in padded slots must not matter
    ids[0, 3:] = vocab.encode("dog dog dog".split())
    full = model.forward(ids, pad).data[0, :3]
    alone = model.forward(short[None]).data[0]
    np.testing.assert_allclose(full, alone, rtol=1e-4, atol=1e-5)


def test_transformer_rejects_bad_inputs(vocab) -> None:
    model = tiny_transformer(vocab)
    with pytest.raises(ValueError, match="max_len"):
        model.forward(np.zeros((1, 9), np.int64))
    with pytest.raises(ValueError, match="shape"):
        model.forward(np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="where"):
        model.logits(np.zeros((1, 4), np.int64), None, np.ones((1, 3), bool))


def test_mlm_loss_counts_only_chosen_positions(vocab) -> None:
    model = tiny_transformer(vocab)
    ids, pad = mlm.pad_batch([vocab.encode("the [MASK] sat on".split())])
    labels = np.array([[-1, vocab.index["cat"], -1, -1]])
    loss = mlm.mlm_loss(model, ids, labels, pad).item()
    logits = model.logits(ids, pad, labels >= 0).data[0].astype(np.float64)
    expected = (
        np.log(np.exp(logits - logits.max()).sum())
        + logits.max()
        - logits[vocab.index["cat"]]
    )
    assert loss == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="at least one position"):
        mlm.mlm_loss(model, ids, np.full((1, 4), -1), pad)


@pytest.mark.parametrize("param", ["out_bias", "embed", "transform"])
def test_mlm_loss_gradient_matches_finite_differences(vocab, param) -> None:
    model = tiny_transformer(vocab)
    ids, pad = mlm.pad_batch(
        [
            vocab.encode("the [MASK] sat on".split()),
            vocab.encode("a cat [MASK]".split()),
        ]
    )
    labels = np.where(ids == vocab.mask_id, vocab.index["dog"], -1)
    tensor = {
        "out_bias": model.out_bias,
        "embed": model.embed.weight,
        "transform": model.transform.weight,
    }[param]
    model.zero_grad()
    mlm.mlm_loss(model, ids, labels, pad).backward()
    rng = np.random.default_rng(1)
    for flat in rng.choice(tensor.data.size, 4, replace=False):
        idx = np.unravel_index(flat, tensor.shape)
        # pick a row the batch uses, so the gradient is not trivially zero
        if param == "embed":
            idx = (int(rng.choice(ids.ravel())), idx[1])
        old = tensor.data[idx]
        tensor.data[idx] = old + 1e-2
        up = mlm.mlm_loss(model, ids, labels, pad).item()
        tensor.data[idx] = old - 1e-2
        down = mlm.mlm_loss(model, ids, labels, pad).item()
        tensor.data[idx] = old
        assert tensor.grad[idx] == pytest.approx((up - down) / 2e-2, rel=0.05, abs=2e-3)


def test_training_step_lowers_the_loss_on_a_tiny_corpus(vocab) -> None:
    rows = [vocab.encode(s) for s in CORPUS] * 8
    model = tiny_transformer(vocab)
    step = mlm.make_mlm_step(
        model,
        rows,
        vocab,
        np.random.default_rng(0),
        n_steps=80,
        batch_size=8,
        base_lr=1e-2,
        mask_prob=0.3,
    )
    losses = fit(step, 80, desc="test")
    assert losses[-20:].mean() < losses[:20].mean() - 0.5


def test_make_mlm_step_checks_its_arguments(vocab) -> None:
    model = tiny_transformer(vocab)
    rows = [vocab.encode(s) for s in CORPUS]
    with pytest.raises(ValueError, match="rng"):
        mlm.make_mlm_step(model, rows, vocab, 0, n_steps=5)
    with pytest.raises(ValueError, match="mask_prob"):
        mlm.make_mlm_step(
            model, rows, vocab, np.random.default_rng(0), n_steps=5, mask_prob=0.0
        )


# ----- baselines, scoring and fills
# -----------------------------------------------------------
def test_neighbour_counts_use_both_neighbours_and_back_off(vocab) -> None:
    rows = [vocab.encode(s) for s in CORPUS]
    counts = mlm.NeighbourCounts(rows, len(vocab), boundary_id=vocab.pad_id)
    ids, pad = mlm.pad_batch(
        [
            vocab.encode("the cat [MASK] on the mat".split()),
            vocab.encode("the zebra [MASK] zebra".split()),
        ]
    )
    where = ids == vocab.mask_id
    p = counts.probs(ids, where)
    assert p.shape == (2, len(vocab))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert vocab.words[p[0].argmax()] == "sat"  # "cat _ on" was seen with "sat"
    assert np.all(p > 0)
    with pytest.raises(ValueError, match="where"):
        counts.probs(ids, where[:, :2])


def test_masked_scores_uniform_is_k_over_v_and_perfect_is_one() -> None:
    v = 10
    targets = np.array([1, 4, 7])
    uniform = mlm.masked_scores(np.full((3, v), -np.log(v)), targets)
    assert uniform["loss"] == pytest.approx(np.log(v))
    assert uniform["top1"] == pytest.approx(0.1) and uniform["top5"] == pytest.approx(
        0.5
    )
    sure = np.full((3, v), -50.0)
    sure[np.arange(3), targets] = 0.0
    assert mlm.masked_scores(sure, targets)["top1"] == 1.0
    with pytest.raises(ValueError, match="one id per row"):
        mlm.masked_scores(sure, targets[:2])


def test_top_k_fills_returns_sorted_words_with_probabilities(vocab) -> None:
    model = tiny_transformer(vocab)
    fills = mlm.top_k_fills(model, vocab, "the [MASK] sat on [MASK]".split(), k=3)
    assert len(fills) == 2 and all(len(f) == 3 for f in fills)
    probs = [q for _, q in fills[0]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    with pytest.raises(ValueError, match="MASK"):
        mlm.top_k_fills(model, vocab, "the cat".split())
    with pytest.raises(ValueError, match="max_len"):
        mlm.top_k_fills(model, vocab, ["[MASK]"] * 9)


# ----- the chapter's corpus, held-out draws and the stored run
# ---------------------------------
def test_sotu_corpus_splits_distinct_sentences_without_overlap() -> None:
    corpus = mlm.sotu_corpus(max_len=8, vocab_size=50, n_held_out=100)
    assert len(corpus.held_out) == 100 and len(corpus.train) + 100 == len(
        corpus.sentences
    )
    assert not {tuple(s) for s in corpus.held_out} & {tuple(s) for s in corpus.train}
    assert all(4 <= len(s) <= 8 for s in corpus.sentences) and len(corpus.vocab) == 53
    assert corpus.vocab == mlm.build_vocab(corpus.train, 50)
    assert [len(r) for r in corpus.held_ids] == [len(s) for s in corpus.held_out]
    with pytest.raises(ValueError, match="n_held_out"):
        mlm.sotu_corpus(max_len=8, n_held_out=10**6)


def test_held_out_draws_are_disjoint_groups_padded_alike(vocab) -> None:
    rows = [vocab.encode(s) for s in CORPUS] * 4
    draws = mlm.held_out_draws(rows, vocab, n_draws=4, seed=1, mask_prob=0.5)
    assert len(draws) == 4 and {d[0].shape[1] for d in draws} == {6}
    assert sum(len(d[0]) for d in draws) == len(rows)
    originals = sorted(
        tuple(np.where(lab >= 0, lab, inp)[~pad])
        for d in draws
        for inp, lab, pad in zip(*d)
    )
    assert originals == sorted(tuple(r) for r in rows)  # each row in exactly one draw
    again = mlm.held_out_draws(rows, vocab, n_draws=4, seed=1, mask_prob=0.5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(draws, again))
    with pytest.raises(ValueError, match="n_draws"):
        mlm.held_out_draws(rows, vocab, n_draws=1)


def test_draw_scores_score_each_draw_on_its_own(vocab) -> None:
    rows = [vocab.encode(s) for s in CORPUS] * 4
    draws = mlm.held_out_draws(rows, vocab, n_draws=2, seed=0, mask_prob=0.5)
    inputs, labels, _ = (np.concatenate(p) for p in zip(*draws))
    log_p = np.full(((labels >= 0).sum(), len(vocab)), -50.0)
    log_p[np.arange(len(log_p)), labels[labels >= 0]] = 0.0
    n_first = int((draws[0][1] >= 0).sum())
    # first draw: uniform guesses; second: always right
    log_p[:n_first] = -np.log(len(vocab))
    scores = mlm.draw_scores(log_p, draws, vocab.mask_id)
    assert set(scores) == {"loss", "top1", "top5", "top1_mask", "top5_mask"}
    assert (
        scores["top1"] == pytest.approx([1 / len(vocab), 1.0])
        and scores["top5_mask"][1] == 1.0
    )
    assert scores["loss"][0] == pytest.approx(np.log(len(vocab)))
    with pytest.raises(ValueError, match="one row per chosen position"):
        mlm.draw_scores(log_p[1:], draws, vocab.mask_id)


def test_stored_mlm_trains_once_then_loads_the_same_run(
    vocab, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("SSL_STORE", str(tmp_path))
    rows = [vocab.encode(s) for s in CORPUS] * 4
    settings = mlm.MLMSettings(
        6,
        width=16,
        depth=1,
        n_heads=2,
        max_len=8,
        batch_size=4,
        warmup_steps=1,
        checkpoints=(2, 6),
    )
    first = mlm.stored_mlm(rows, vocab, settings, desc="tiny")
    again = mlm.stored_mlm(rows, vocab, settings, desc="tiny")
    assert len(list(tmp_path.iterdir())) == 1 and np.array_equal(
        first.losses, again.losses
    )
    assert first.seconds == again.seconds and sorted(again.checkpoints) == [2, 6]
    fresh = mlm.train_mlm(rows, vocab, settings)
    ids, pad = mlm.pad_batch(rows[:3])
    where = ~pad
    for model in (again.model, again.at_step(6)):
        assert np.array_equal(
            mlm.log_probs(model, ids, pad, where),
            mlm.log_probs(fresh.model, ids, pad, where),
        )
    assert not np.array_equal(
        mlm.log_probs(again.at_step(2), ids, pad, where),
        mlm.log_probs(fresh.model, ids, pad, where),
    )
    mlm.stored_mlm(
        rows,
        vocab,
        mlm.MLMSettings(
            6,
            width=16,
            depth=1,
            n_heads=2,
            max_len=8,
            batch_size=4,
            warmup_steps=1,
            seed=3,
        ),
        desc="tiny",
    )
    assert len(list(tmp_path.iterdir())) == 2  # another seed is another entry
    with pytest.raises(ValueError, match="checkpoints"):
        again.at_step(3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_steps": 0}, "n_steps"),
        ({"mask_prob": 0.0}, "mask_prob"),
        ({"checkpoints": (7,)}, "checkpoints"),
        ({"base_lr": -1.0}, "base_lr"),
    ],
)
def test_mlm_settings_check_their_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mlm.MLMSettings(**{"n_steps": 6, **kwargs})


def test_mlm_run_line_gives_the_verdict_against_the_count_table() -> None:
    run = mlm.MLMRun(mlm.MLMSettings(10), ("02",))
    better = {
        "loss": np.array([3.0, 3.1, 3.2]),
        "top1_mask": np.array([0.3, 0.31, 0.29]),
    }
    worse = {
        "loss": np.array([4.0, 4.2, 4.1]),
        "top1_mask": np.array([0.2, 0.22, 0.21]),
    }
    assert run.line("mlm", {"seconds": 5.0, "model": better, "counts": worse}).endswith(
        "yes"
    )
    assert run.line("mlm", {"seconds": 5.0, "model": worse, "counts": better}).endswith(
        "NO"
    )
    with pytest.raises(ValueError, match="chapters"):
        mlm.MLMRun(mlm.MLMSettings(10), "02")
