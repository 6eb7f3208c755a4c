"""The book's one rule for comparisons: paired differences over the same draws, 2
standard errors.

Two methods scored on the same label draws (or the same seeds) share each draw's luck,
so the book compares them draw by draw: d_i = a_i - b_i. With n draws, mean m and
standard error s = std(d, ddof=1) / sqrt(n), A is "ahead" of B when m - 2s > 0, "behind"
when m + 2s < 0 and "level" otherwise (the difference is within the noise of n draws).
Every chapter prints this word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers._checks import check_array, check_int, check_nonnegative

__all__ = ["Verdict", "WORDS", "compare"]

WORDS = ("ahead", "level", "behind")
Z = 2.0  # standard errors a paired mean difference must clear to count as a difference


@dataclass(frozen=True)
class Verdict:
    """A paired comparison of A with B: the word, mean difference, standard error, n."""

    word: str
    mean: float
    se: float
    n: int

    def __post_init__(self) -> None:
        """Check: one of WORDS, a finite mean, a standard error >= 0, n >= 2 draws."""
        if not isinstance(self.word, str) or self.word not in WORDS:
            raise ValueError(f"word must be one of {WORDS}, got {self.word!r}")
        check_nonnegative(self.se, "se")
        check_int(self.n, "n", minimum=2)
        if not isinstance(self.mean, (int, float)) or not math.isfinite(self.mean):
            raise ValueError(f"mean must be a finite number, got {self.mean!r}")

    @property
    def low(self) -> float:
        """Lower end of mean - 2 s.e."""
        return self.mean - Z * self.se

    @property
    def high(self) -> float:
        """Upper end of mean + 2 s.e."""
        return self.mean + Z * self.se

    def __str__(self) -> str:
        return (
            f"{self.word} ({self.mean:+.3f} ± {Z * self.se:.3f}, {self.n} paired draws)"
        )


def compare(a: Any, b: Any) -> Verdict:
    """Is A ahead of, level with or behind B? a[i], b[i]: scores on draw i (n >= 2)."""
    x = check_array(a, "a", ndim=1).astype(np.float64)
    y = check_array(b, "b", ndim=1).astype(np.float64)
    if len(x) != len(y):
        raise ValueError(
            f"a and b must be scores on the same draws (equal lengths), got {len(x)} "
            f"and {len(y)}"
        )
    if len(x) < 2:
        raise ValueError(
            f"a and b need at least 2 paired draws to estimate the noise, got {len(x)}"
        )
    d = x - y
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
    word = "ahead" if mean - Z * se > 0 else "behind" if mean + Z * se < 0 else "level"
    return Verdict(word, mean, se, len(d))
