"""The `approx:` checks forgive BLAS noise and still catch real changes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbval_approx import align_numbers, parse_tolerance

TESTS = Path(__file__).resolve().parent


def test_parse_tolerance_reads_abs_rel_and_both() -> None:
    assert parse_tolerance(["nbval-ignore-output"]) is None
    assert parse_tolerance(["approx:abs=0.02"]) == (0.02, 0.0)
    assert parse_tolerance(["approx:rel=0.1"]) == (0.0, 0.1)
    assert parse_tolerance(["x", "approx:abs=1e-3;rel=0.05"]) == (1e-3, 0.05)


@pytest.mark.parametrize(
    "tag", ["approx:", "approx:abs", "approx:abs=x", "approx:tol=1", "approx:abs=-1"]
)
def test_parse_tolerance_rejects_malformed_tags(tag: str) -> None:
    with pytest.raises(ValueError, match="malformed tag"):
        parse_tolerance([tag])


def test_parse_tolerance_rejects_two_tags() -> None:
    with pytest.raises(ValueError, match="one approx: tag"):
        parse_tolerance(["approx:abs=1", "approx:rel=1"])


def test_align_numbers_forgives_only_numbers_within_tolerance() -> None:
    ref = "probe_all: 0.912 (+6.8 points over 1,000 digits)"
    assert (
        align_numbers("probe_all: 0.905 (+7.0 points over 1,000 digits)", ref, 0.25, 0)
        == ref
    )
    moved = align_numbers(
        "probe_all: 0.862 (+6.8 points over 1,000 digits)", ref, 0.02, 0
    )
    # the real change stays visible
    assert moved == "probe_all: 0.862 (+6.8 points over 1,000 digits)"


@pytest.mark.parametrize(
    "test",
    ["probe all: 0.912", "probe_all: 0.912 0.1", "probe_all:\n0.912", "beats: False"],
)
def test_align_numbers_leaves_other_changes_untouched(test: str) -> None:
    ref = "probe_all: 0.912" if not test.startswith("beats") else "beats: True"
    assert align_numbers(test, ref, 10.0, 10.0) == test


@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=6),
    st.floats(0, 0.5),
)
def test_align_numbers_is_exact_at_zero_tolerance_and_symmetric_in_words(
    values: list[float], shift: float
) -> None:
    ref = " | ".join(f"v{i}: {v:.3f}" for i, v in enumerate(values))
    test = " | ".join(f"v{i}: {v + shift:.3f}" for i, v in enumerate(values))
    same = all(float(f"{v:.3f}") == float(f"{v + shift:.3f}") for v in values)
    assert (align_numbers(test, ref, 0.0, 0.0) == ref) == same
    assert align_numbers(test, ref, shift + 1e-3, 0.0) == ref


def _cell(source: str, committed: str, tags: list[str]) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=committed)]
    return cell


CASES = {  # name: (printed now, committed, tags, expected outcome)
    "noise_within_tolerance": (
        "probe_all: 0.912\nbeats_pixels: True\n",
        "probe_all: 0.905\nbeats_pixels: True\n",
        ["approx:abs=0.02"],
        "PASSED",
    ),
    "relative_tolerance": (
        "rank: 23.2\n",
        "rank: 24.1\n",
        ["approx:rel=0.05"],
        "PASSED",
    ),
    "accuracy_moved_5_points": (
        "probe_all: 0.912\n",
        "probe_all: 0.862\n",
        ["approx:abs=0.02"],
        "FAILED",
    ),
    "word_changed": (
        "probe_all: 0.912\n",
        "probe_any: 0.912\n",
        ["approx:abs=0.02"],
        "FAILED",
    ),
    "claim_flipped": (
        "beats_pixels: True\n",
        "beats_pixels: False\n",
        ["approx:abs=0.02"],
        "FAILED",
    ),
    "line_missing": (
        "probe_all: 0.912\nknn: 0.94\n",
        "probe_all: 0.912\n",
        ["approx:abs=0.02"],
        "FAILED",
    ),
    "untagged_stays_exact": ("probe_all: 0.912\n", "probe_all: 0.913\n", [], "FAILED"),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run nbval with the plugin once over a notebook holding every case; per case."""
    folder = tmp_path_factory.mktemp("approx")
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
        }
    )
    for count, (printed, committed, tags, _) in enumerate(CASES.values(), start=1):
        nb.cells.append(_cell(f"print({printed!r}, end='')", committed, tags))
        nb.cells[-1].execution_count = count
    nbformat.write(nb, folder / "cases.ipynb")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "nbval_approx",
            "--nbval",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-rA",
            "--rootdir",
            str(folder),
            "cases.ipynb",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    by_cell = {
        cell: outcome
        for outcome, cell in re.findall(
            r"^(PASSED|FAILED) cases\.ipynb::Cell (\d+)", run.stdout, re.MULTILINE
        )
    }
    assert by_cell, run.stdout + run.stderr
    return {name: by_cell.get(str(i), "MISSING") for i, name in enumerate(CASES)}


@pytest.mark.parametrize("name", list(CASES))
def test_nbval_with_plugin_tells_noise_from_change(
    outcomes: dict[str, str], name: str
) -> None:
    assert outcomes[name] == CASES[name][3]


@pytest.mark.parametrize(
    "path", sorted((TESTS.parent / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem
)
def test_every_approx_tag_in_the_book_parses(path: Path) -> None:
    for cell in nbformat.read(path, as_version=4).cells:
        parse_tolerance(cell.get("metadata", {}).get("tags", []))
