"""pytest plugin: tolerant nbval output checks for cells whose printed numbers depend on
training.

The book's convention (README, "How chapters are tested"). Strict nbval compares every
text output exactly. Numbers computed from trained weights change with the CPU's BLAS
kernels (another summation order changes the rounding, and training amplifies it), so a
cell that prints them carries a tag

    approx:abs=A        approx:rel=R        approx:abs=A;rel=R

and its text outputs are compared like this: with every number taken out, the text
(words, punctuation, line structure, the count of numbers) must be identical; each
number may differ from the committed one by at most A + R * |committed|. A number within
tolerance is replaced by the committed text before nbval's own comparison, so a failure
report shows only the numbers (or words) that really changed. Cells without the tag stay
exact. A claim is printed as a word (`beats_pixels: True`), so a claim that flips fails
even in a tolerant cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

TAG_PREFIX = "approx:"
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
TEXT_KEYS = ("text/plain", "text/html", "text/markdown")


def parse_tolerance(tags: Iterable[str]) -> tuple[float, float] | None:
    """(abs, rel) from a cell's `approx:` tag, None without; ValueError if bad."""
    found = [tag for tag in tags if tag.startswith(TAG_PREFIX)]
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"a cell may carry one approx: tag, got {found}")
    tolerance = {"abs": 0.0, "rel": 0.0}
    # nbformat forbids commas in tags
    for item in found[0][len(TAG_PREFIX) :].split(";"):
        key, _, value = item.partition("=")
        if key not in tolerance or not NUMBER.fullmatch(value) or float(value) < 0:
            raise ValueError(
                f"malformed tag {found[0]!r}: use approx:abs=A, approx:rel=R or "
                "approx:abs=A;rel=R "
                "with numbers >= 0"
            )
        tolerance[key] = float(value)
    return tolerance["abs"], tolerance["rel"]


def align_numbers(test: str, ref: str, abs_tol: float, rel_tol: float) -> str:
    """test with each number within tolerance of ref's number at the same place replaced
    by ref's text.

    If the texts differ anywhere but in their numbers, test is returned unchanged (so it
    fails).
    """
    if NUMBER.split(test) != NUMBER.split(ref):
        return test
    pieces = NUMBER.split(test)
    out = [pieces[0]]
    for got, want, tail in zip(NUMBER.findall(test), NUMBER.findall(ref), pieces[1:]):
        close = abs(float(got) - float(want)) <= abs_tol + rel_tol * abs(float(want))
        out += [want if close else got, tail]
    return "".join(out)


def _aligned_output(
    test: Mapping[str, Any],
    ref: Mapping[str, Any],
    sanitize: Any,
    tolerance: tuple[float, float],
) -> dict[str, Any]:
    """A copy of one test output whose text fields are aligned with the same of ref."""
    out = dict(test)
    if test.get("output_type") != ref.get("output_type"):
        return out
    if test.get("output_type") == "stream" and test.get("name") == ref.get("name"):
        out["text"] = align_numbers(
            sanitize(test["text"]), sanitize(ref["text"]), *tolerance
        )
    if "data" in test and "data" in ref:
        out["data"] = dict(test["data"])
        for key in TEXT_KEYS:
            if isinstance(test["data"].get(key), str) and isinstance(
                ref["data"].get(key), str
            ):
                out["data"][key] = align_numbers(
                    sanitize(test["data"][key]), sanitize(ref["data"][key]), *tolerance
                )
    return out


def tolerate(
    test: list, ref: list, sanitize: Any, tolerance: tuple[float, float]
) -> list:
    """Test outputs with in-tolerance numbers set to the reference's (if paired)."""
    if len(test) != len(ref):
        return test
    return [
        type(t)(_aligned_output(t, r, sanitize, tolerance)) for t, r in zip(test, ref)
    ]


def pytest_configure(config: Any) -> None:
    """Wrap nbval's comparison so `approx:` cells compare numbers with tolerance."""
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to wrap
        return
    if getattr(IPyNbCell.compare_outputs, "_book_approx", False):
        return
    exact = IPyNbCell.compare_outputs

    def compare_outputs(
        self: Any, test: list, ref: list, skip_compare: Any = None
    ) -> bool:
        tolerance = parse_tolerance(self.cell.get("metadata", {}).get("tags", []))
        if tolerance is not None:
            test = tolerate(test, ref, self.sanitize, tolerance)
        return exact(self, test, ref, skip_compare)

    compare_outputs._book_approx = True  # type: ignore[attr-defined]
    IPyNbCell.compare_outputs = compare_outputs
