"""Tests for helpers.runs: the registry chapters read and `make pretrain`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import helpers.runs as runs
from helpers.pretrain import METHODS
from helpers.runs import RUNS, Run, evaluate, main, pretrained, split

TINY = Run("simclr", 0.5, ("test",), encoder_sizes=(784, 16, 8), head_sizes=(8, 8, 4), target=(0.5, 0.3))


@pytest.fixture()
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SSL_STORE", str(tmp_path / "store"))
    monkeypatch.setattr(runs, "RUNS", {"tiny": TINY})
    return tmp_path / "store"


def test_every_registered_run_is_valid() -> None:
    assert RUNS and all(isinstance(r, Run) and r.method in METHODS and r.chapters for r in RUNS.values())
    assert {"simclr", "byol", "simsiam", "barlow_twins", "dino", "mae"} <= {r.method for r in RUNS.values()}


def test_pretrained_reads_the_store(tiny: Path) -> None:
    first = pretrained("tiny")
    assert len(list(tiny.iterdir())) == 1
    again = pretrained("tiny")
    assert np.array_equal(first.losses, again.losses) and first.seconds == again.seconds


def test_evaluate_scores_and_baselines(tiny: Path) -> None:
    row = evaluate("tiny")
    assert set(row) == {"seconds", "probe_all", "probe_10", "knn"} and len(row["probe_10"]) == runs.DRAWS
    pixels = evaluate("pixels")
    assert 0.85 < pixels["probe_all"] < 0.95 and 0.9 < pixels["knn"] < 0.97 and pixels["seconds"] == 0


def test_main_trains_what_is_missing_and_prints_the_table(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "probe 10/class" in out and "random encoder" in out
    line = next(l for l in out.splitlines() if l.startswith("tiny"))
    assert " ± " in line and line.split()[-1] in ("yes", "NO")
    assert len(list(tiny.iterdir())) == 1


@pytest.mark.parametrize("kwargs, match", [({"method": "nope"}, "method"), ({"epochs": 0}, "epochs"),
                                           ({"chapters": "05"}, "chapters"), ({"target": (0.9,)}, "target"),
                                           ({"validation_per_class": -1}, "validation_per_class")])
def test_bad_runs(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        Run(**{"method": "simclr", "epochs": 1, "chapters": ("05",), **kwargs})


def test_bad_names(tiny: Path) -> None:
    with pytest.raises(ValueError, match="registered runs"):
        pretrained("nope")
    with pytest.raises(SystemExit):
        main(["nope"])


def test_a_run_with_a_validation_split_never_trains_on_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_STORE", str(tmp_path / "store"))
    held = Run("supervised", 0.5, ("test",), encoder_sizes=(784, 16, 8), validation_per_class=5)
    monkeypatch.setattr(runs, "RUNS", {"tiny": TINY, "held": held})
    assert len(split("tiny")[0]) == 4000 and len(split("tiny")[1]) == 0
    fit, val = split("held")
    _, y, _, _ = runs._data()
    assert len(val) == 50 and np.bincount(y[val]).tolist() == [5] * 10 and not set(fit) & set(val)
    assert len(fit) + len(val) == 4000 and len(pretrained("held").losses) == round(0.5 * (3950 // 100))
