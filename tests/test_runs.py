"""Tests for helpers.runs: the registry chapters read and `make pretrain`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import helpers.runs as runs
from helpers.mlm import MLMRun, MLMSettings
from helpers.pretrain import METHODS
from helpers.runs import (
    RUNS,
    FineTune,
    Labelled,
    Run,
    evaluate,
    finetune_labels,
    main,
    pretrained,
    split,
)

TINY = Run(
    "simclr",
    0.5,
    ("test",),
    encoder_sizes=(784, 16, 8),
    head_sizes=(8, 8, 4),
    target=(0.5, 0.3),
)


@pytest.fixture()
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SSL_STORE", str(tmp_path / "store"))
    monkeypatch.setattr(runs, "RUNS", {"tiny": TINY})
    return tmp_path / "store"


def test_every_registered_run_is_valid() -> None:
    pre = [r for r in RUNS.values() if isinstance(r, Run)]
    assert pre and all(r.method in METHODS and r.chapters for r in pre)
    assert {"simclr", "byol", "simsiam", "barlow_twins", "dino", "mae"} <= {
        r.method for r in pre
    }
    for run in RUNS.values():
        if isinstance(run, FineTune):
            assert run.chapters and (
                run.start is None or RUNS[run.start].method == "mae"
            )
    assert all(
        isinstance(r, (Run, FineTune, MLMRun, Labelled)) and r.chapters
        for r in RUNS.values()
    )
    labelled = [r for r in RUNS.values() if isinstance(r, Labelled)]
    assert all(
        r.chapters and (r.encoder is None or isinstance(RUNS[r.encoder], Run))
        for r in labelled
    )


def test_a_text_run_is_trained_stored_and_gets_a_table_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("SSL_STORE", str(tmp_path / "store"))
    text = MLMRun(
        MLMSettings(3, width=8, depth=1, n_heads=2, batch_size=8, warmup_steps=1),
        ("test",),
    )
    monkeypatch.setattr(runs, "RUNS", {"tiny": TINY, "text": text})
    assert pretrained("text").losses.shape == (3,)
    row = evaluate("text")
    assert (
        set(row) == {"seconds", "model", "counts"}
        and len(row["model"]["top1_mask"]) == 10
    )
    assert main(["text", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    # no image run asked for: no image table
    assert MLMRun.HEADER in out and "probe 10/class" not in out
    # 3 steps trail the table
    assert [l for l in out.splitlines() if l.startswith("text ")][-1].split()[
        -1
    ] == "NO"
    assert len(list((tmp_path / "store").iterdir())) == 1


def test_pretrained_reads_the_store(tiny: Path) -> None:
    first = pretrained("tiny")
    assert len(list(tiny.iterdir())) == 1
    again = pretrained("tiny")
    assert np.array_equal(first.losses, again.losses) and first.seconds == again.seconds


def test_evaluate_scores_and_baselines(tiny: Path) -> None:
    row = evaluate("tiny")
    assert (
        set(row) == {"seconds", "probe_all", "probe_10", "knn"}
        and len(row["probe_10"]) == runs.DRAWS
    )
    pixels = evaluate("pixels")
    assert (
        0.85 < pixels["probe_all"] < 0.95
        and 0.9 < pixels["knn"] < 0.97
        and pixels["seconds"] == 0
    )


def test_main_trains_what_is_missing_and_prints_the_table(
    tiny: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "probe 10/class" in out and "random encoder" in out
    line = next(l for l in out.splitlines() if l.startswith("tiny"))
    assert " ± " in line and line.split()[-1] in ("yes", "NO")
    # the run, and the evaluations of pixels, the random encoder and the run
    assert len(list(tiny.iterdir())) == 4


def test_evaluations_are_stored_and_keyed_by_weights_and_blas_kernel(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    first = {name: evaluate(name) for name in ("tiny", "random encoder")}
    computed = []
    real = runs._scores
    monkeypatch.setattr(runs, "_scores", lambda *f: computed.append(1) or real(*f))
    assert {name: evaluate(name) for name in first} == first and not computed
    # another BLAS kernel computes again, silently, and (here) gets the same numbers
    capsys.readouterr()
    monkeypatch.setattr(runs, "blas_kernel", lambda: "openblas 0.0 OtherCore")
    assert evaluate("tiny") == first["tiny"] and len(computed) == 1
    assert capsys.readouterr().out == ""
    # other weights: another evaluation
    trained = pretrained("tiny")
    trained.model.encoder.parameters()[0].data[0, 0] += 1.0
    monkeypatch.setattr(runs, "pretrained", lambda name: trained)
    evaluate("tiny")
    assert len(computed) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "nope"}, "method"),
        ({"epochs": 0}, "epochs"),
        ({"chapters": "05"}, "chapters"),
        ({"target": (0.9,)}, "target"),
        ({"validation_per_class": -1}, "validation_per_class"),
    ],
)
def test_bad_runs(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        Run(**{"method": "simclr", "epochs": 1, "chapters": ("05",), **kwargs})


def test_bad_names(tiny: Path) -> None:
    with pytest.raises(ValueError, match="registered runs"):
        pretrained("nope")
    with pytest.raises(SystemExit):
        main(["nope"])


TINY_SCRATCH = Labelled(1, ("test",), steps=4, every=2, draws=2, validation_per_class=5)


def test_labelled_run_stores_curves_and_prints_a_row(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        runs,
        "RUNS",
        {
            "tiny": TINY,
            "scratch": TINY_SCRATCH,
            "lpft": Labelled(
                1,
                ("test",),
                "tiny",
                steps=2,
                every=1,
                probe_steps=2,
                draws=2,
                validation_per_class=5,
            ),
        },
    )
    first = evaluate("scratch")
    assert (
        first["curves"].shape == (2, 2, 2)
        and ((first["curves"] >= 0) & (first["curves"] <= 1)).all()
    )
    assert np.array_equal(evaluate("scratch")["curves"], first["curves"])
    assert evaluate("lpft")["curves"].shape == (2, 2, 3)
    assert "chosen on validation" in runs._line("scratch", first)


def test_a_labelled_key_covers_the_capstone_and_its_encoders_code_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import helpers.store as store_module

    real, runs_ = (
        store_module._module_path,
        (Labelled(1, ("07",)), Labelled(1, ("07",), "simclr")),
    )
    before = [r.spec() for r in runs_]

    def edited(module: str) -> Path:  # pretend one module's source changed
        path = real(module)
        if module != edited.target:
            return path
        copy = tmp_path / f"{module}.py"
        copy.write_bytes(path.read_bytes() + b"\nEDITED = True\n")
        return copy

    # a bug fixed: editing BYOL's code used to retrain every chapter-07 run (the key
    # hashed all of helpers.pretrain's imports)
    for target, changes in (
        ("helpers.byol", [False, False]),
        ("helpers.dino", [False, False]),
        ("helpers.simclr", [True, True]),
        ("helpers.capstone", [True, True]),
        ("helpers.pretrain", [True, True]),
    ):
        edited.target = target
        monkeypatch.setattr(store_module, "_module_path", edited)
        assert [r.spec() != b for r, b in zip(runs_, before)] == changes, target
    monkeypatch.setattr(store_module, "_module_path", real)
    assert [r.spec() for r in runs_] == before


@pytest.mark.parametrize(
    "bad",
    [
        {"per_class": -1},
        {"steps": 5, "every": 2},
        {"draws": 1},
        {"chapters": "07"},
        {"validation_per_class": 0},
    ],
)
def test_labelled_rejects_bad_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        Labelled(**{"per_class": 1, "chapters": ("07",), **bad})


def test_pretrained_refuses_a_labelled_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "RUNS", {"scratch": TINY_SCRATCH})
    with pytest.raises(ValueError, match="pre-training run"):
        pretrained("scratch")


def test_chosen_on_validation_picks_the_step_by_validation_not_test() -> None:
    curves = np.array(
        [[[0.5, 0.7, 0.6], [0.9, 0.1, 0.2]], [[0.4, 0.8, 0.5], [0.8, 0.3, 0.4]]]
    )
    test, step = runs.chosen_on_validation(curves)
    assert step == 1 and np.array_equal(test, [0.1, 0.3])
    with pytest.raises(ValueError):
        runs.chosen_on_validation(curves[:, :1])


def test_a_run_with_a_validation_split_never_trains_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_STORE", str(tmp_path / "store"))
    held = Run(
        "supervised", 0.5, ("test",), encoder_sizes=(784, 16, 8), validation_per_class=5
    )
    monkeypatch.setattr(runs, "RUNS", {"tiny": TINY, "held": held})
    assert len(split("tiny")[0]) == 4000 and len(split("tiny")[1]) == 0
    fit, val = split("held")
    _, y, _, _ = runs._data()
    assert (
        len(val) == 50
        and np.bincount(y[val]).tolist() == [5] * 10
        and not set(fit) & set(val)
    )
    assert len(fit) + len(val) == 4000 and len(pretrained("held").losses) == round(
        0.5 * (3950 // 100)
    )


TINY_MAE = Run("mae", 0.05, ("test",))
TINY_FT = {
    "from_mae": FineTune("tiny_mae", ("test",), steps=4, every=2, draws=2),
    "scratch": FineTune(None, ("test",), steps=4, every=2, draws=2),
}


def test_finetune_runs_are_stored_and_evaluated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("SSL_STORE", str(tmp_path / "store"))
    monkeypatch.setattr(runs, "RUNS", {"tiny_mae": TINY_MAE, **TINY_FT})
    first = TINY_FT["from_mae"].load()
    assert len(first) == 2 and all(
        r.best_step in (2, 4) and len(r.val_scores) == 2 for r in first
    )
    again = TINY_FT["from_mae"].load()
    assert all(
        np.array_equal(a.encoder.state_dict()[k], b.encoder.state_dict()[k])
        for a, b in zip(first, again)
        for k in a.encoder.state_dict()
    )
    row = evaluate("scratch")
    assert set(row) == {"seconds", "test", "best_step"} and len(row["test"]) == 2
    assert main(["from_mae", "scratch", "--workers", "1"]) == 0
    line = next(
        l for l in capsys.readouterr().out.splitlines() if l.startswith("scratch")
    )
    assert "fine-tuned, steps" in line and " ± " in line
    with pytest.raises(ValueError, match="pre-training run"):
        pretrained("scratch")


def test_finetune_labels_stay_outside_the_validation_split() -> None:
    idx = finetune_labels(0)
    assert len(idx) == 10 * runs.PER_CLASS and idx.max() < 4000 - runs.VALIDATION
    assert not np.array_equal(idx, finetune_labels(1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start": 3}, "start"),
        ({"chapters": "03"}, "chapters"),
        ({"every": 10, "steps": 5}, "every"),
        ({"lr": 0}, "lr"),
    ],
)
def test_bad_finetune_runs(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FineTune(**{"start": None, "chapters": ("03",), **kwargs})
