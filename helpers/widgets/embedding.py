"""Chapter 05's widget: contrastive vs non-contrastive embedding space, trained live on
a 2-D toy set.

A small BYOL model (the book's encoder, projector and predictor at toy size) maps 2-D
points of a few classes to 2-D outputs drawn on the unit circle, coloured by class. Each
training step makes two jittered views of a batch and takes one step of the chosen
objective: SimCLR (NT-Xent on the online projections: attraction and repulsion) or
BYOL/SimSiam (`helpers.byol.byol_step`: attraction only, with the EMA, stop-gradient and
predictor switches). `EmbeddingTrainer` is the plain-Python core;
`EmbeddingSpaceExplorer` adds controls and the view.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from helpers._checks import check_bool, check_fraction, check_int, check_positive
from helpers.byol import BYOL, byol_step
from helpers.evaluation import effective_rank, embedding_std
from helpers.losses import nt_xent
from helpers.optim import AdamW
from helpers.plots import BOOK_COLORS
from helpers.simclr import encode
from helpers.widgets._base import PngWidget

OBJECTIVES = ("SimCLR", "BYOL")
TOY_SIZES = dict(
    encoder_sizes=(2, 32, 32), head_sizes=(32, 32, 2), predictor_sizes=(2, 16, 2)
)


def toy_blobs(
    n_per_class: int = 60, n_classes: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs (n_classes * n_per_class, 2) round a radius-2 circle; classes."""
    check_int(n_per_class, "n_per_class", minimum=2)
    check_int(n_classes, "n_classes", minimum=2, maximum=len(BOOK_COLORS))
    rng = np.random.default_rng(check_int(seed, "seed"))
    angles = 2 * np.pi * np.arange(n_classes) / n_classes
    centres = 2 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    return (centres[labels] + 0.5 * rng.standard_normal((len(labels), 2))).astype(
        np.float32
    ), labels


class EmbeddingTrainer:
    """A toy BYOL/SimCLR model, optimiser, history of loss, std, effective rank."""

    def __init__(
        self,
        objective: str = "BYOL",
        ema: bool = True,
        stop_gradient: bool = True,
        predictor: bool = True,
        momentum: float = 0.9,
        lr: float = 1e-2,
        jitter: float = 0.4,
        temperature: float = 0.2,
        seed: int = 0,
    ) -> None:
        if not isinstance(objective, str) or objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {OBJECTIVES}, got {objective!r}"
            )
        self.x, self.labels = toy_blobs(seed=seed)
        self.objective, self.ema, self.stop_gradient = (
            objective,
            check_bool(ema, "ema"),
            check_bool(stop_gradient, "stop_gradient"),
        )
        self.momentum = check_fraction(momentum, "momentum", high_open=False)
        self.jitter = check_positive(jitter, "jitter")
        self.temperature = check_positive(temperature, "temperature")
        self.rng = np.random.default_rng(check_int(seed, "seed"))
        self.model = BYOL(
            self.rng, predictor=check_bool(predictor, "predictor"), **TOY_SIZES
        )
        self.optimizer = AdamW(
            self.model.online_parameters(),
            lr=check_positive(lr, "lr"),
            weight_decay=0.0,
        )
        self.steps = 0
        self.history: dict[str, list[float]] = {"loss": [], "std": [], "rank": []}

    def views(self) -> tuple[np.ndarray, np.ndarray]:
        """Two jittered copies of every point (the toy's augmentation)."""
        noise = self.jitter * self.rng.standard_normal((2, *self.x.shape)).astype(
            np.float32
        )
        return self.x + noise[0], self.x + noise[1]

    def step(self, n: int = 1) -> None:
        """Take n steps of the current objective; record the diagnostics after them."""
        for _ in range(check_int(n, "n", minimum=1)):
            v1, v2 = self.views()
            if self.objective == "SimCLR":
                z = self.model(np.concatenate([v1, v2]))
                loss = nt_xent(z[: len(v1)], z[len(v1) :], self.temperature)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                value = loss.item()
            else:
                value = byol_step(
                    self.model,
                    self.optimizer,
                    v1,
                    v2,
                    momentum=self.momentum,
                    ema=self.ema,
                    stop_gradient=self.stop_gradient,
                )
            self.steps += 1
        z = self.outputs()
        self.history["loss"].append(value)
        self.history["std"].append(embedding_std(z))
        self.history["rank"].append(effective_rank(z))

    def outputs(self) -> np.ndarray:
        """The online projections of the clean points (eval mode)."""
        return encode(self.model, self.x)


class EmbeddingSpaceExplorer(PngWidget):
    """Objective, switches, Step/Play/Reset, outputs on the unit circle, read-outs."""

    def __init__(self, steps_per_frame: int = 5, seed: int = 0) -> None:
        self.steps_per_frame = check_int(steps_per_frame, "steps_per_frame", minimum=1)
        self.seed = check_int(seed, "seed")
        self.objective = widgets.ToggleButtons(
            options=OBJECTIVES, value="BYOL", description="objective"
        )
        self.ema = widgets.Checkbox(value=True, description="EMA target")
        self.stop_gradient = widgets.Checkbox(value=True, description="stop-gradient")
        self.predictor = widgets.Checkbox(value=True, description="predictor")
        self.play = widgets.Play(
            value=0, min=0, max=100, interval=200, description="Play"
        )
        self.step_button = widgets.Button(description="Step")
        self.reset_button = widgets.Button(description="Reset")
        self.step_button.on_click(lambda _: self.advance())
        self.reset_button.on_click(lambda _: self.reset())
        self.trainer = self._new_trainer()
        self._setup_figure()
        switches = widgets.HBox([self.ema, self.stop_gradient, self.predictor])
        buttons = widgets.HBox([self.step_button, self.play, self.reset_button])
        controls = [
            self.objective,
            self.ema,
            self.stop_gradient,
            self.predictor,
            self.play,
        ]
        super().__init__(controls, "Embedding-space explorer (needs a live kernel)")
        # the same controls, laid out in rows
        self.view.children = [self.objective, switches, buttons, self.image]

    def _setup_figure(self) -> None:
        """One figure redrawn in place (faster than one a frame): the circle outputs."""
        self.figure = Figure(figsize=(4.0, 4.0))
        self.figure.subplots_adjust(left=0.03, right=0.97, bottom=0.03, top=0.86)
        self.ax = self.figure.add_subplot()
        self.points = _draw_circle(
            self.ax, np.zeros((len(self.trainer.labels), 2)), self.trainer.labels
        )
        self.ax.set(xticks=[], yticks=[], xlabel="", ylabel="")
        self.title = self.ax.set_title(" ", fontsize=10)
        self.dynamic = (self.points, self.title)  # the circle stays as drawn

    def _new_trainer(self) -> EmbeddingTrainer:
        """A fresh model with the controls' settings."""
        return EmbeddingTrainer(
            self.objective.value,
            self.ema.value,
            self.stop_gradient.value,
            self.predictor.value,
            seed=self.seed,
        )

    def reset(self) -> None:
        """Start again from a fresh random model with the current settings."""
        self.trainer = self._new_trainer()
        self.update()

    def advance(self) -> None:
        """Train steps_per_frame steps, then redraw."""
        self.trainer.step(self.steps_per_frame)
        self.update()

    def _on_change(self, change: dict[str, Any]) -> None:
        """Play trains; objective/predictor: new model; EMA, stop-gradient: at once."""
        if change["owner"] is self.play:
            self.advance()
        elif change["owner"] in (self.objective, self.predictor):
            # BYOL's switches mean nothing to SimCLR
            for switch in (self.ema, self.stop_gradient, self.predictor):
                switch.disabled = self.objective.value == "SimCLR"
            self.reset()
        else:
            self.trainer.ema, self.trainer.stop_gradient = (
                self.ema.value,
                self.stop_gradient.value,
            )
            self.update()

    def compute(self) -> dict[str, Any]:
        """Unit-normalised outputs of the clean points and the latest read-outs."""
        t = self.trainer
        z = t.outputs()
        mode = (
            "SimCLR"
            if t.objective == "SimCLR"
            else describe_variant(t.ema, t.stop_gradient, t.model.predictor is not None)
        )
        return {
            "u": z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12),
            "labels": t.labels,
            "steps": t.steps,
            "mode": mode,
            "std": embedding_std(z),
            "rank": effective_rank(z),
            "loss": t.history["loss"][-1] if t.history["loss"] else float("nan"),
        }

    def draw(self, state: dict[str, Any]) -> Figure:
        """Move the points on the circle and print the read-outs in the title."""
        self.points.set_offsets(state["u"] * (1 + 0.06 * state["labels"])[:, None])
        self.title.set_text(
            f"{state['mode']}, step {state['steps']}\nloss {state['loss']:.3f}, "
            f"std {state['std']:.3f}, rank {state['rank']:.2f}"
        )
        return self.figure


def describe_variant(ema: bool, stop_gradient: bool, predictor: bool) -> str:
    """A short name for a BYOL variant: 'BYOL', 'SimSiam', or what is removed."""
    ema, stop_gradient, predictor = (
        check_bool(v, n)
        for v, n in (
            (ema, "ema"),
            (stop_gradient, "stop_gradient"),
            (predictor, "predictor"),
        )
    )
    if ema and stop_gradient and predictor:
        return "BYOL"
    if not ema and stop_gradient and predictor:
        return "SimSiam (no EMA)"
    removed = [
        name
        for name, on in (
            ("EMA", ema),
            ("stop-grad", stop_gradient),
            ("predictor", predictor),
        )
        if not on
    ]
    return "no " + " + no ".join(removed)


def _draw_circle(ax: Any, u: np.ndarray, labels: np.ndarray) -> Any:
    """Unit vectors u on the circle, each class on a slightly larger radius; points."""
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.8", lw=1)
    radius = 1 + 0.06 * labels
    points = ax.scatter(
        u[:, 0] * radius, u[:, 1] * radius, c=[BOOK_COLORS[k] for k in labels], s=9
    )
    ax.set(
        xlim=(-1.3, 1.3),
        ylim=(-1.3, 1.3),
        aspect="equal",
        xlabel="output 1 (normalised)",
        ylabel="output 2 (normalised)",
    )
    return points


def key_states_figure(
    settings: list[dict[str, Any]], steps: int = 150, seed: int = 0
) -> tuple[Figure, list[dict[str, float]]]:
    """Train an EmbeddingTrainer per settings dict, circles in a row; the read-outs."""
    if (
        not isinstance(settings, list)
        or not settings
        or not all(isinstance(s, dict) for s in settings)
    ):
        raise ValueError(
            "settings must be a non-empty list of dicts of EmbeddingTrainer arguments"
        )
    check_int(steps, "steps", minimum=1)
    fig, axes = plt.subplots(
        1, len(settings), figsize=(2.6 * len(settings), 2.9), squeeze=False
    )
    readouts = []
    for ax, kw in zip(axes[0], settings):
        trainer = EmbeddingTrainer(**kw, seed=seed)
        trainer.step(steps)
        z = trainer.outputs()
        name = kw.get("objective", "BYOL")
        if name == "BYOL":
            name = describe_variant(
                trainer.ema, trainer.stop_gradient, trainer.model.predictor is not None
            )
        readouts.append(
            {
                "variant": name,
                "loss": trainer.history["loss"][-1],
                "std": embedding_std(z),
                "rank": effective_rank(z),
            }
        )
        _draw_circle(
            ax,
            z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12),
            trainer.labels,
        )
        ax.set_title(
            f"{name}\nstd {readouts[-1]['std']:.2f}, rank {readouts[-1]['rank']:.2f}",
            fontsize=9,
        )
    fig.tight_layout()
    return fig, readouts
