"""DINO: self-distillation with no labels — multi-crop, a student and an EMA teacher,
centering and sharpening.

The student sees every crop (global and local), the teacher only the global ones; the
loss (`helpers.losses.dino_loss`) pulls the student's distribution on each crop towards
the teacher's sharpened, centred distribution on every *other* crop. The backbone is the
book's MLP encoder (crops resized to 28x28) or `ViTBackbone`, a small ViT whose local
crops use a coarser patch grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_instance,
    check_int,
    check_positive,
    check_rng,
)
from helpers.augment import multi_crop
from helpers.autograd import Tensor, concatenate, no_grad
from helpers.losses import dino_loss, update_center
from helpers.nn import MLP, Linear, Module, ViTEncoder, patchify
from helpers.optim import AdamW, Optimizer, ema_momentum, ema_update
from helpers.simclr import ENCODER_SIZES, flatten_images, make_mlp_encoder
from helpers.train import train_epochs

Track = Callable[[int, "DINO", dict[str, np.ndarray]], None]


def grid_positions(grid: int, full: int) -> np.ndarray:
    """Indices into a full x full position table for a grid x grid crop (nearest)."""
    check_int(full, "full", minimum=1)
    check_int(grid, "grid", minimum=1, maximum=full)
    rows = np.rint(np.linspace(0, full - 1, grid)).astype(np.int64)
    return (rows[:, None] * full + rows[None, :]).reshape(-1)


class ViTBackbone(Module):
    """Flat square images -> patches -> ViTEncoder -> [CLS]; side divisible by patch."""

    def __init__(
        self,
        rng: np.random.Generator,
        image_size: int = 28,
        patch: int = 4,
        width: int = 32,
        depth: int = 2,
        n_heads: int = 2,
    ) -> None:
        self.patch = check_int(patch, "patch", minimum=1)
        self.image_size = check_int(image_size, "image_size", minimum=patch)
        if image_size % patch:
            raise ValueError(
                f"patch must divide image_size, got patch={patch}, "
                f"image_size={image_size}"
            )
        self.grid = image_size // patch
        self.width = check_int(width, "width", minimum=4)
        # DINO's local crops: ~3/7 of the side
        self.local_size = patch * max(1, round(3 * self.grid / 7))
        self.vit = ViTEncoder(
            patch * patch, width, depth, n_heads, self.grid**2, check_rng(rng)
        )

    def _tokens(self, x: Any, return_attention: bool) -> Any:
        """Run the ViT on flat square images x (N, side*side); side/patch <= grid."""
        rows = flatten_images(x)
        side = int(round(np.sqrt(rows.shape[1])))
        if side * side != rows.shape[1] or side % self.patch or side > self.image_size:
            raise ValueError(
                f"x must hold square images with a side divisible by {self.patch} and "
                "at most "
                f"{self.image_size}, got rows of {rows.shape[1]} pixels"
            )
        g = side // self.patch
        ids = (
            None
            if g == self.grid
            else np.broadcast_to(grid_positions(g, self.grid), (len(rows), g * g))
        )
        return self.vit(
            patchify(rows.reshape(-1, side, side), self.patch),
            ids,
            return_attention=return_attention,
        )

    def forward(self, x: Any) -> Tensor:
        """The [CLS] output (N, width) for flat square images x (N, side*side)."""
        return self._tokens(x, False)[:, 0]

    def cls_attention(self, x: Any) -> np.ndarray:
        """The last block's [CLS]-to-patch attention (N, heads, patches), renormed."""
        with no_grad():
            _, maps = self._tokens(x, True)
        a = np.array(maps[-1][:, :, 0, 1:])
        return a / a.sum(axis=-1, keepdims=True)


class DINOHead(Module):
    """DINO's head: MLP (GELU) -> l2-normed bottleneck -> weight-normed linear."""

    def __init__(
        self,
        in_dim: int,
        rng: np.random.Generator,
        hidden: int = 128,
        bottleneck: int = 32,
        out_dim: int = 256,
    ) -> None:
        widths = [
            check_int(v, n, minimum=1)
            for v, n in (
                (in_dim, "in_dim"),
                (hidden, "hidden"),
                (bottleneck, "bottleneck"),
            )
        ]
        self.mlp = MLP(
            [widths[0], widths[1], widths[1], widths[2]],
            check_rng(rng),
            activation="gelu",
        )
        self.last = Linear(
            bottleneck, check_int(out_dim, "out_dim", minimum=2), rng, bias=False
        )

    def forward(self, h: Any) -> Tensor:
        """Logits (N, out_dim): cosines of the unit bottleneck and unit columns."""
        z = self.mlp(h).normalize(axis=-1)
        return z @ self.last.weight.normalize(axis=0)


class Student(Module):
    """A backbone followed by a DINO head; the teacher is a copy of it."""

    def __init__(self, backbone: Module, head: Module) -> None:
        self.backbone = check_instance(backbone, Module, "backbone")
        self.head = check_instance(head, Module, "head")

    def forward(self, x: Any) -> Tensor:
        """Head outputs (N, K) of flat images x."""
        return self.head(self.backbone(x))


class DINO(Module):
    """Student and EMA teacher (same architecture) plus the running center of the
    teacher's outputs.

    `backbone` defaults to the book's MLP encoder; `.encoder` is the *teacher's*
    backbone, the one the paper evaluates.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        backbone: Module | None = None,
        width: int | None = None,
        out_dim: int = 256,
        hidden: int = 128,
        bottleneck: int = 32,
    ) -> None:
        rng = check_rng(rng)
        if backbone is None:
            backbone, width = make_mlp_encoder(rng), ENCODER_SIZES[-1]
        if not isinstance(backbone, Module):
            raise TypeError(
                f"backbone must be a helpers.nn.Module, got {type(backbone).__name__}"
            )
        width = getattr(backbone, "width", None) if width is None else width
        check_int(width, "width", minimum=1)
        self.student = Student(
            backbone, DINOHead(width, rng, hidden, bottleneck, out_dim)
        )
        self.teacher = self.student.copy()
        self.center = np.zeros(out_dim, dtype=np.float32)

    @property
    def encoder(self) -> Module:
        """The teacher's backbone: the features DINO is evaluated on."""
        return self.teacher.backbone

    def forward(self, x: Any) -> Tensor:
        """The teacher's head outputs (N, K) for flat images x."""
        return self.teacher(x)


def _crop_batches(crops: Any) -> list[np.ndarray]:
    """Return crops as a non-empty list of (N, H, W) batches of one size, else raise."""
    if not isinstance(crops, (list, tuple)) or not crops:
        raise TypeError(
            "crops must be a non-empty list of image batches (N, H, W), got "
            f"{type(crops).__name__}"
        )
    batches = [check_array(c, "crops", ndim=3) for c in crops]
    if any(len(b) == 0 or len(b) != len(batches[0]) for b in batches):
        raise ValueError(
            "crops must hold batches of the same non-zero size, got sizes "
            f"{[len(b) for b in batches]}"
        )
    return batches


def student_outputs(student: Module, crops: Sequence[np.ndarray]) -> Tensor:
    """Student outputs (S, B, K) for S crop batches; one forward pass per size."""
    check_instance(student, Module, "student")
    crops = _crop_batches(crops)
    sizes = [c.shape[1:] for c in crops]
    out: list[Tensor | None] = [None] * len(crops)
    for size in dict.fromkeys(sizes):
        which = [i for i, s in enumerate(sizes) if s == size]
        z = student(flatten_images(np.concatenate([crops[i] for i in which])))
        for j, i in enumerate(which):
            out[i] = z[j * len(crops[i]) : (j + 1) * len(crops[i])].reshape(
                1, len(crops[i]), -1
            )
    return concatenate(out, axis=0)


def teacher_stats(
    student_out: Any,
    teacher_out: Any,
    center: Any,
    student_temp: float,
    teacher_temp: float,
) -> dict[str, float]:
    """Teacher entropy, KL(teacher || student) over DINO's pairs, argmax coverage."""
    s = check_array(student_out, "student_out", ndim=3)
    t = check_array(teacher_out, "teacher_out", ndim=3)
    c = check_array(center, "center", ndim=(1, 2)).reshape(-1)
    q = (
        Tensor((t - c) / check_positive(teacher_temp, "teacher_temp"))
        .softmax(axis=-1)
        .data
    )
    log_q = np.log(np.maximum(q, 1e-30))
    log_p = (
        Tensor(s / check_positive(student_temp, "student_temp"))
        .log_softmax(axis=-1)
        .data
    )
    entropy = -(q * log_q).sum(-1)
    kl = [
        ((q[i] * (log_q[i] - log_p[j])).sum(-1)).mean()
        for i in range(len(q))
        for j in range(len(s))
        if i != j
    ]
    return {
        "entropy": float(entropy.mean()),
        "kl": float(np.mean(kl)),
        "dims_used": int(len(np.unique(q.argmax(-1)))),
    }


def dino_step(
    model: DINO,
    optimizer: AdamW,
    crops: Sequence[np.ndarray],
    n_global: int,
    *,
    momentum: float,
    teacher_temp: float,
    student_temp: float,
    center_momentum: float,
    centering: bool,
) -> tuple[float, dict[str, np.ndarray]]:
    """One DINO update: teacher, student, loss, step, EMA, center; loss, outputs."""
    check_instance(model, DINO, "model")
    check_instance(optimizer, Optimizer, "optimizer")
    crops = _crop_batches(crops)
    check_int(n_global, "n_global", minimum=1, maximum=len(crops))
    check_fraction(momentum, "momentum", high_open=False)
    check_positive(teacher_temp, "teacher_temp")
    check_positive(student_temp, "student_temp")
    check_fraction(center_momentum, "center_momentum", high_open=False)
    check_bool(centering, "centering")
    with no_grad():
        t = concatenate(
            [
                model.teacher(flatten_images(c)).reshape(1, len(c), -1)
                for c in crops[:n_global]
            ]
        ).data
    s = student_outputs(model.student, crops)
    center = model.center if centering else np.zeros_like(model.center)
    loss = dino_loss(s, t, center, student_temp, teacher_temp)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    ema_update(model.teacher, model.student, momentum)
    if centering:
        model.center = update_center(model.center, t, center_momentum).astype(
            np.float32
        )
    return loss.item(), {"student": s.data, "teacher": t, "center": center}


def teacher_temperature(
    step: int,
    n_steps: int,
    final: float,
    start: float | None = None,
    warmup_frac: float = 0.3,
) -> float:
    """The teacher temperature at step: start to final over warmup_frac, then final."""
    check_int(n_steps, "n_steps", minimum=1)
    check_int(step, "step", minimum=0, maximum=n_steps - 1)
    check_positive(final, "final")
    if start is not None:
        check_positive(start, "start")
    warmup = round(check_fraction(warmup_frac, "warmup_frac") * n_steps)
    if start is None or step >= warmup:
        return float(final)
    return float(start + (final - start) * step / warmup)


def train_dino(
    model: DINO,
    images: Any,
    *,
    epochs: float,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 1e-2,
    warmup_frac: float = 0.05,
    base_momentum: float = 0.99,
    n_global: int = 2,
    n_local: int = 4,
    global_scale: tuple[float, float] = (0.4, 1.0),
    local_scale: tuple[float, float] = (0.05, 0.4),
    local_size: int | None = None,
    seed: int = 0,
    center_momentum: float = 0.9,
    teacher_temp: float = 0.04,
    student_temp: float = 0.1,
    warmup_teacher_temp: float | None = None,
    warmup_teacher_frac: float = 0.3,
    centering: bool = True,
    desc: str = "DINO",
    track: Track | None = None,
) -> np.ndarray:
    """Train model in place (AdamW, cosine lr, cosine teacher momentum from
    base_momentum to 1); return the losses.

    warmup_teacher_temp, if given, is the teacher's temperature at the first step; it
    moves linearly to teacher_temp over warmup_teacher_frac of the steps (DINO's
    warm-up; `teacher_temperature`). local_size: side of the local crops; default the
    backbone's `local_size` if it has one (ViT), else the image side (MLP). track(step,
    model, outputs), if given, is called after every step with outputs {"student": (S,
    B, K), "teacher": (T, B, K), "center": (K,)} for diagnostics.
    """
    x = check_array(images, "images", ndim=3)
    if not isinstance(model, DINO):
        raise TypeError(
            f"model must be a helpers.dino.DINO, got {type(model).__name__}"
        )
    check_positive(lr, "lr")
    check_fraction(base_momentum, "base_momentum", high_open=False)
    check_fraction(center_momentum, "center_momentum", high_open=False)
    check_positive(teacher_temp, "teacher_temp")
    check_positive(student_temp, "student_temp")
    if warmup_teacher_temp is not None:
        check_positive(warmup_teacher_temp, "warmup_teacher_temp")
    check_fraction(warmup_teacher_frac, "warmup_teacher_frac")
    if not isinstance(centering, bool):
        raise TypeError(f"centering must be True or False, got {centering!r}")
    if track is not None and not callable(track):
        raise TypeError(
            "track must be callable as track(step, model, outputs), got "
            f"{type(track).__name__}"
        )
    side = (
        getattr(model.student.backbone, "local_size", x.shape[1])
        if local_size is None
        else local_size
    )
    check_int(side, "local_size", minimum=1, maximum=min(x.shape[1:]))
    multi_crop(
        x[:1],
        np.random.default_rng(0),
        n_global,
        n_local,
        global_scale,
        local_scale,
        local_size=(side, side),
    )

    def update(
        optimizer: AdamW,
        batch: np.ndarray,
        rng: np.random.Generator,
        k: int,
        n_steps: int,
    ) -> float:
        crops = multi_crop(
            batch,
            rng,
            n_global,
            n_local,
            global_scale,
            local_scale,
            local_size=(side, side),
        )
        loss, outputs = dino_step(
            model,
            optimizer,
            crops,
            n_global,
            momentum=ema_momentum(k, n_steps, base_momentum),
            teacher_temp=teacher_temperature(
                k, n_steps, teacher_temp, warmup_teacher_temp, warmup_teacher_frac
            ),
            student_temp=student_temp,
            center_momentum=center_momentum,
            centering=centering,
        )
        if track is not None:
            track(k, model, outputs)
        return loss

    return train_epochs(
        model,
        x,
        update,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        warmup_frac=warmup_frac,
        seed=seed,
        desc=desc,
        parameters=model.student.parameters(),
    )
