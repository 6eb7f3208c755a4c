"""Time one update (compute + draw + render PNG) of every widget in helpers.widgets, at
chapter sizes.

Run: `PYTHONPATH=. .venv/bin/python benchmarks/bench_widgets.py`. Every control of every
widget is moved back and forth; the median and worst time of one update are printed
beside the book's 50 ms kernel-side budget (the browser adds its own time:
benchmarks/bench_browser.py). Models are untrained but of the chapters' sizes: an update
costs the same whatever the weights.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np

from helpers import mlm
from helpers.data import load_sotu_sentences, mnist_split
from helpers.mae import MAE
from helpers.nn import patchify
from helpers.widgets.contrastive import temperature_explorer
from helpers.widgets.demo import noise_demo
from helpers.widgets.dino import AttentionExplorer
from helpers.widgets.embedding import EmbeddingSpaceExplorer
from helpers.widgets.mae import masking_explorer as mae_explorer
from helpers.widgets.mlm import masking_explorer as mlm_explorer

BUDGET_MS = 50.0
Move = Callable[[int], None]  # the i-th move of one control


def setter(control: Any, values: list[Any]) -> Move:
    """A move setting control to values[i % len(values)] (consecutive values differ)."""

    def move(i: int) -> None:
        control.value = values[i % len(values)]

    return move


def update_times_ms(
    move: Move, rounds: int = 20, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Milliseconds on clock of each of rounds moves (first: uncounted warm-up)."""
    move(0)
    times = []
    for i in range(1, rounds + 1):
        start = clock()
        move(i)
        times.append(1000 * (clock() - start))
    return times


def controls_at_chapter_size() -> dict[str, Move]:
    """Each control of each chapter's widget, built as the chapter does, as a move."""
    rng = np.random.default_rng(0)
    x_train, _, x_test, y_test = mnist_split(seed=0)
    sentences = load_sotu_sentences(min_year=1900, max_len=16, min_len=4)
    vocab = mlm.build_vocab(sentences, 1000)
    text_model = mlm.MLMTransformer(len(vocab), 64, 2, 4, 16, rng, mlp_ratio=2.0)
    sentence = next(
        s for s in sentences if len(s) >= 10 and all(w in vocab.index for w in s)
    )
    z = rng.normal(size=(2, 12, 64))
    demo = noise_demo()
    text = mlm_explorer(text_model, vocab, sentence, seed=0)
    image = mae_explorer(
        MAE(rng), x_test[:8], y_test[:8], patchify(x_train, 7).mean(axis=0)
    )
    temp = temperature_explorer(z[0], z[1], labels=np.arange(12) % 6)
    embed = EmbeddingSpaceExplorer()
    maps = {
        m: rng.dirichlet(np.ones(16), size=(50, 4))
        for m in ("DINO", "supervised", "random")
    }
    attention = AttentionExplorer(x_test[:50], maps)
    return {
        "00 noise σ": setter(demo.slider, [0.1, 0.5]),
        "02 mask prob": setter(text.slider, [0.3, 0.6]),
        "02 resample": lambda i: text.button.click(),
        "03 masked ratio": setter(image.slider, [0.5, 0.5625]),
        "03 strategy": setter(image.strategy, ["block", "grid", "random"]),
        "03 resample": lambda i: image.resample.click(),
        "03 image": setter(image.choice, [1, 2]),
        "04 τ": setter(temp.slider, [0.1, 1.0]),
        "04 anchor": setter(temp.anchor, [1, 2]),
        "05 Play tick (5 steps)": lambda i: setattr(
            embed.play, "value", embed.play.value + 1
        ),
        "05 EMA switch": setter(embed.ema, [False, True]),
        "06 test digit": setter(attention.index, [1, 2]),
        "06 model": setter(attention.model, ["supervised", "DINO"]),
        "06 head": setter(attention.head, [0, "mean"]),
    }


def main() -> None:
    """Print median and worst update time (wall clock and CPU) of each control against
    the budget.

    On a loaded machine the wall clock also counts waiting for a core; the CPU time does
    not.
    """
    for name, move in controls_at_chapter_size().items():
        ms, cpu = update_times_ms(move), update_times_ms(move, clock=time.process_time)
        median = statistics.median(ms)
        verdict = "within" if median <= BUDGET_MS else "OVER"
        print(
            f"{name:24s} median {median:6.1f} ms, worst {max(ms):6.1f} ms  {verdict} "
            f"the {BUDGET_MS:.0f} ms budget"
            f"  (CPU median {statistics.median(cpu):5.1f} ms, worst {max(cpu):5.1f} "
            "ms)",
            flush=True,
        )


if __name__ == "__main__":
    main()
