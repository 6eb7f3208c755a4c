"""Time one update (compute + render PNG) of every widget in helpers.widgets, at chapter sizes.

Run: `.venv/bin/python benchmarks/bench_widgets.py`. Each widget's slider is moved back and forth
and the median time of one update is printed beside the book's 50 ms budget. Models are untrained
but of the chapters' sizes: an update costs the same whatever the weights.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Sequence

import numpy as np

from helpers import mlm
from helpers.data import load_sotu_sentences, mnist_split
from helpers.mae import MAE
from helpers.nn import patchify
from helpers.widgets.contrastive import temperature_explorer
from helpers.widgets.demo import noise_demo
from helpers.widgets.mae import masking_explorer as mae_explorer
from helpers.widgets.embedding import EmbeddingSpaceExplorer
from helpers.widgets.mlm import masking_explorer as mlm_explorer

BUDGET_MS = 50.0


def median_update_ms(widget: Any, values: Sequence[float], rounds: int = 10) -> float:
    """Median milliseconds per slider move, cycling through values (each differs from the last)."""
    times = []
    for _ in range(rounds):
        for v in values:
            start = time.perf_counter()
            widget.slider.value = v
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def widgets_at_chapter_size() -> dict[str, tuple[Any, Sequence[float]]]:
    """Each chapter's widget, built as the chapter builds it, with slider values to cycle through."""
    rng = np.random.default_rng(0)
    x_train, _, x_test, y_test = mnist_split(seed=0)
    sentences = load_sotu_sentences(min_year=1900, max_len=16, min_len=4)
    vocab = mlm.build_vocab(sentences, 1000)
    text_model = mlm.MLMTransformer(len(vocab), 64, 2, 4, 16, rng, mlp_ratio=2.0)
    sentence = next(s for s in sentences if len(s) >= 10 and all(w in vocab.index for w in s))
    mean_patch = patchify(x_train, 7).mean(axis=0)
    z = rng.normal(size=(2, 12, 64))
    return {
        "00 noise demo": (noise_demo(), (0.1, 0.5)),
        "02 MLM masking explorer": (mlm_explorer(text_model, vocab, sentence, seed=0), (0.3, 0.6)),
        "03 MAE masking explorer": (mae_explorer(MAE(rng), x_test[:8], y_test[:8], mean_patch), (0.5, 0.25)),
        "04 temperature explorer": (temperature_explorer(z[0], z[1], labels=np.arange(12) % 6), (0.1, 1.0)),
    }


def main() -> None:
    """Print the median update time of each widget against the budget."""
    for name, (widget, values) in widgets_at_chapter_size().items():
        ms = median_update_ms(widget, values)
        print(f"{name:26s} {ms:6.1f} ms  {'within' if ms <= BUDGET_MS else 'OVER'} the {BUDGET_MS:.0f} ms budget")
    explorer = EmbeddingSpaceExplorer()  # no slider: one Play tick trains 5 steps and redraws
    times = []
    for _ in range(20):
        start = time.perf_counter()
        explorer.play.value += 1
        times.append(1000 * (time.perf_counter() - start))
    ms = statistics.median(times)
    print(f"{'05 embedding explorer':26s} {ms:6.1f} ms  {'within' if ms <= BUDGET_MS else 'OVER'} the {BUDGET_MS:.0f} ms budget")


if __name__ == "__main__":
    main()
