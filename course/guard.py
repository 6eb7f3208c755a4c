"""Autograding that a submission cannot game by tampering (README, "Instructors").

Student code shares the kernel with the hidden tests, so a submission could rebind what
the tests use (`np.isclose = lambda *a, **k: True`, a helper a hidden test calls, `abs`)
or call a helper the prompt forbids. `GuardSubmission`, an nbgrader preprocessor that
`nbgrader_config.py` runs during autograding right after nbgrader restores the locked
cells, adds two defences:

- static: every code cell the student wrote (answer cells, added or edited cells) is
  parsed; means of tampering (exec/eval/getattr/globals/dir..., importing
  sys/builtins/importlib/gc/inspect..., dunder attributes, operator dunder methods,
  assigning attributes of imported modules) reject the whole submission, and a forbidden
  helper (`FORBIDDEN`) rejects its exercise;
- dynamic: a cell with a random name, inserted before the first exercise, snapshots
  numpy, torch (where imported), math, builtins, every `helpers` module and the
  chapter's names that the check cells use (other than the answers' own); each check
  cell first verifies that none of them was rebound since (aliasing such as `m = np;
  m.isclose = ...` too).

A rejected exercise's check cells raise before their asserts run, so it scores 0 and the
feedback says why.
"""

from __future__ import annotations

import ast
import secrets
from pathlib import Path

import nbformat

from ssl_course import first_exercise_cell, nbgrader_meta as meta

try:  # nbgrader is the optional `course` extra
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # pragma: no cover - exercised only without the extra
    NbGraderPreprocessor = object

# Helpers a prompt forbids, by answer cell: "numpy alone", "do not call", "using only
# ...".
FORBIDDEN: dict[str, frozenset[str]] = {
    "ch02-ex1-answer": frozenset({"bert_mask", "mask_batch", "strategy_masking"}),
    "ch05-ex1-answer": frozenset({"embedding_std"}),
    "ch07-ex1-answer": frozenset(
        {
            "barlow_twins_loss",
            "barlow_step",
            "BarlowTwins",
            "train_barlow_twins",
            "barlow",
        }
    ),
    "ch07-ex3-answer": frozenset({"compare", "Verdict", "verdict"}),
    "chA1-ex2-answer": frozenset({"Tensor", "autograd"}),
    "chA2-ex3-answer": frozenset(
        {"Tensor", "autograd", "attention", "MultiHeadAttention"}
    ),
}
FORBIDDEN_CALLS = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "globals",
        "locals",
        "vars",
        "dir",
        "getattr",
        "setattr",
        "delattr",
        "__import__",
        "breakpoint",
        "memoryview",
    }
)
FORBIDDEN_MODULES = frozenset(
    {
        "builtins",
        "sys",
        "importlib",
        "gc",
        "ctypes",
        "inspect",
        "types",
        "unittest",
        "code",
        "codeop",
        "runpy",
        "pickle",
        "copyreg",
        "weakref",
        "threading",
        "os",
    }
)
ALLOWED_DUNDERS = frozenset(
    {"__init__", "__call__", "__name__", "__doc__", "__repr__", "__str__"}
)
PROTECTED_MODULES = ("numpy", "math", "builtins", "operator", "helpers")
# Snapshotted too where the chapter imports them (A3: `torch.allclose`, `torch.testing`,
# ...).
PROTECTED_IF_IMPORTED = ("torch",)


def parse(source: str) -> ast.Module:
    """source parsed; an empty module if Python cannot parse it (magics, errors)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def is_dunder(name: str) -> bool:
    """Whether name looks like __x__."""
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def attribute_root(node: ast.AST) -> ast.AST:
    """Innermost object of an attribute or subscript chain (np for np.linalg.norm)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


def imported_names(tree: ast.AST) -> set[str]:
    """Names that import statements in tree bind."""
    return {
        (a.asname or a.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }


def tampering(source: str, module_names: set[str]) -> list[str]:
    """Tampering in one student cell; module_names: the names the notebook imports."""
    # code that cannot be parsed fails when run, which costs its points anyway
    tree = parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and (
            node.id in FORBIDDEN_CALLS or node.id == "__builtins__"
        ):
            found.append(f"uses {node.id}")
        elif (
            isinstance(node, ast.Attribute)
            and is_dunder(node.attr)
            and node.attr not in ALLOWED_DUNDERS
        ):
            found.append(f"reads the attribute {node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            roots = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            found += [
                f"imports {r}" for r in roots if r.split(".")[0] in FORBIDDEN_MODULES
            ]
        elif (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and is_dunder(node.name)
            and node.name not in ALLOWED_DUNDERS
        ):
            found.append(f"defines {node.name}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = (
                node.targets
                if isinstance(node, (ast.Assign, ast.Delete))
                else [node.target]
            )
            for target in targets:
                root = (
                    attribute_root(target)
                    if isinstance(target, (ast.Attribute, ast.Subscript))
                    else None
                )
                if root is not None and (
                    not isinstance(root, ast.Name) or root.id in module_names
                ):
                    found.append(f"assigns {ast.unparse(target)}")
    return found


def forbidden_uses(source: str, forbidden: frozenset[str]) -> list[str]:
    """Forbidden helpers a student cell names, imports or reaches as an attribute."""
    tree = parse(source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {
        part
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
        for part in a.name.split(".")
    }
    names |= {
        part
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom)
        for part in (n.module or "").split(".")
    }
    return sorted(names & forbidden)


def bound_names(source: str) -> set[str]:
    """Names bound by source's top-level statements (assignments, defs, imports)."""
    tree = parse(source)
    found = imported_names(
        ast.Module(
            body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))],
            type_ignores=[],
        )
    )
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif not isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= {
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
    return found


def key_imports(source: str) -> dict[str, tuple[str, str]]:
    """{name: (module, attribute)} of source's `from module import attribute` lines."""
    tree = parse(source)
    return {
        a.asname or a.name: (n.module, a.name)
        for n in tree.body
        if isinstance(n, ast.ImportFrom) and n.module
        for a in n.names
    }


def torch_helpers() -> tuple[str, ...]:
    """The helpers modules that import torch at their top level (e.g. torch_bridge)."""
    package = Path(__file__).resolve().parents[1] / "helpers"
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = parse(path.read_text(encoding="utf-8"))
        roots = {
            a.name.split(".")[0]
            for n in tree.body
            if isinstance(n, ast.Import)
            for a in n.names
        }
        roots |= {
            (n.module or "").split(".")[0]
            for n in tree.body
            if isinstance(n, ast.ImportFrom)
        }
        if "torch" in roots:
            found.append(
                ".".join(("helpers", *path.relative_to(package).with_suffix("").parts))
            )
    return tuple(found)


def guard_cell(
    name: str,
    watched: set[str],
    imports: dict[str, tuple[str, str]],
    roots: tuple[str, ...] = PROTECTED_MODULES,
) -> str:
    """Source of the cell that snapshots modules and the watched names and defines the
    check `name()`.

    Every helpers module is imported first, so that all are snapshotted; those that need
    torch only where torch is protected (importing torch costs seconds, and checks
    without torch cannot use them).
    """
    skip = () if "torch" in roots else torch_helpers()
    return f"""def {name}_make(watched, imports):
    import sys, warnings
    import importlib, pkgutil, helpers
    for found in pkgutil.walk_packages(helpers.__path__, "helpers."):
        if found.name in {skip!r}:
            continue
        try:  # a module whose optional dependency (torch) is missing cannot be used, nor tampered with
            importlib.import_module(found.name)
        except ImportError:
            pass
    roots = {tuple(roots)!r}
    mods = {{k: m for k, m in list(sys.modules.items()) if m is not None and k.split(".")[0] in roots}}
    snap = {{k: {{a: v for a, v in vars(m).items() if not a.startswith("_") and (k, a) != ("builtins", "input")}}
            for k, m in mods.items()}}  # the kernel puts a new builtins.input in place for every cell
    with warnings.catch_warnings():  # a deprecated torch object warns when its class is read
        warnings.simplefilter("ignore")
        classes = {{k + "." + a: v for k, d in snap.items() for a, v in d.items() if isinstance(v, type)
                   and str(getattr(v, "__module__", "")).split(".")[0] in roots}}
    methods = {{k: {{a: v for a, v in vars(c).items() if not a.startswith("_") and callable(v)}}
               for k, c in classes.items()}}  # methods; not data a library may change
    user = {{k: v for k, v in globals().items() if k in watched}}
    ns = globals()
    def library_code(new, where):  # a function whose code lies in the package of module `where`
        code = getattr(new, "__code__", None)
        home = str(getattr(sys.modules.get(where.split(".")[0]), "__file__", "") or "").rsplit("/", 1)[0]
        return code is not None and bool(home) and code.co_filename.startswith(home)
    def own_wrapper(new, old, where):  # a library wrapping its own function lazily (torch.manual_seed)
        return getattr(new, "__wrapped__", None) is old and library_code(new, where)
    def check():
        bad = [k for k, m in mods.items() if sys.modules.get(k) is not m]
        bad += [k + "." + a for k, d in snap.items() for a, v in d.items()
                if vars(mods[k]).get(a, check) is not v and not own_wrapper(vars(mods[k]).get(a), v, k)]
        bad += [k + "." + a for k, d in methods.items() for a, v in d.items()
                if vars(classes[k]).get(a, check) is not v and not own_wrapper(vars(classes[k]).get(a), v, k)]
        bad += [k + "." + a for k, d in methods.items() for a, v in list(vars(classes[k]).items())
                if a not in d and not a.startswith("_") and callable(v) and not library_code(v, k)]  # added
        bad += [k for k, v in user.items() if ns.get(k, check) is not v]
        bad += [k for k, (m, a) in imports.items() if k in ns and m in sys.modules
                and ns[k] is not vars(sys.modules[m]).get(a, check)]
        if bad:
            raise AssertionError("no points: the submission rebinds what the checks use: " + ", ".join(sorted(bad)[:8]))
    return check
{name} = {name}_make({sorted(watched)!r}, {imports!r})
del {name}_make
"""  # noqa: E501 (the source of a cell injected at grading, laid out as it runs there)


def rejection(reasons: list[str]) -> str:
    """First line of a check cell of a rejected exercise."""
    return (
        "raise AssertionError("
        f"{('no points: ' + '; '.join(sorted(set(reasons))[:6]))!r})\n"
    )


class GuardSubmission(NbGraderPreprocessor):
    """Reject tampering and forbidden helpers; check for rebinding before each check."""

    def preprocess(self, nb, resources):
        """nbgrader entry point (after OverwriteCells): rewrite nb's check cells."""
        key = key_notebook(resources)
        return guard_notebook(nb, key, secrets.token_hex(6)), resources


def key_notebook(resources: dict) -> nbformat.NotebookNode:
    """The instructor's source notebook of the submission being autograded."""
    info = resources["nbgrader"]
    root = Path(info["db_url"].removeprefix("sqlite:///")).parent
    path = root / "source" / info["assignment"] / f"{info['notebook']}.ipynb"
    if not path.exists():
        raise ValueError(
            f"no source notebook {path}: release the assignment from this course "
            "directory"
        )
    return nbformat.read(path, as_version=4)


def key_facts(key: nbformat.NotebookNode) -> tuple[set[str], set[str], dict, set[str]]:
    """From key: public code, watched names, the answers' imports, imported names."""
    code = [c for c in key.cells if c.cell_type == "code"]
    public = {c.source for c in code if not meta(c).get("solution")}
    answers = [
        c.source for c in key.cells[first_exercise_cell(key) :] if c.cell_type == "code"
    ]
    free = set().union(set(), *map(bound_names, answers))
    checks = [c.source for c in code if meta(c).get("grade")]
    watched = {
        n.id for src in checks for n in ast.walk(parse(src)) if isinstance(n, ast.Name)
    } - free
    imports = {k: v for src in answers for k, v in key_imports(src).items()}
    return (
        public,
        watched,
        imports,
        set().union(*(imported_names(parse(c.source)) for c in code)),
    )


def region_cells(nb: nbformat.NotebookNode) -> list[tuple[int, nbformat.NotebookNode]]:
    """(region, cell) per code cell; region: the last answer cell's index or -1."""
    found, region = [], -1
    for cell in nb.cells:
        if meta(cell).get("solution") and cell.cell_type == "code":
            region += 1
        if cell.cell_type == "code":
            found.append((region, cell))
    return found


def allowed_in_place(
    key: nbformat.NotebookNode,
) -> tuple[list[set[str]], dict[str, set[str]]]:
    """Names used by each key answer region (by region) and chapter cell (by id)."""
    every = frozenset().union(*FORBIDDEN.values())
    regions: list[set[str]] = []
    before: dict[str, set[str]] = {}
    for region, cell in region_cells(key):
        if region < 0:
            before[cell.get("id", "")] = set(forbidden_uses(cell.source, every))
        else:
            regions += [set()] * (region + 1 - len(regions))
            regions[region] |= set(forbidden_uses(cell.source, every))
    return regions, before


def findings(
    nb: nbformat.NotebookNode,
    key: nbformat.NotebookNode,
    public: set[str],
    modules: set[str],
) -> tuple[list[str], dict]:
    """Tampering anywhere in the student's cells, and forbidden helpers by answer cell.

    A helper an exercise forbids is looked for in every cell the student wrote or
    changed that runs before the exercise's check: its own answer cell and the cells
    added after it, and the cells of earlier exercises and before the first one (a value
    computed there could be reused). Only where the key itself uses the helper in the
    same place (an earlier exercise that needs it, a chapter cell that calls it) is it
    allowed there.
    """
    order = [
        meta(c).get("grade_id")
        for c in nb.cells
        if meta(c).get("solution") and c.cell_type == "code"
    ]
    regions, before = allowed_in_place(key)
    everywhere, per_answer = [], {}
    for region, cell in region_cells(nb):
        if (
            meta(cell).get("locked") and not meta(cell).get("solution")
        ) or cell.source in public:
            continue
        everywhere += tampering(cell.source, modules)
        for later in range(max(region, 0), len(order)):
            allowed = (
                before.get(cell.get("id", ""), set())
                if region < 0
                else regions[region]
                if region < later and region < len(regions)
                else set()
            )
            forbidden = FORBIDDEN.get(order[later], frozenset()) - allowed
            uses = forbidden_uses(cell.source, frozenset(forbidden))
            where = "" if region == later else " (in a cell before the exercise)"
            per_answer.setdefault(order[later], []).extend(
                f"uses {u}, which the prompt forbids{where}" for u in uses
            )
    return everywhere, per_answer


def guard_notebook(
    nb: nbformat.NotebookNode, key: nbformat.NotebookNode, token: str
) -> nbformat.NotebookNode:
    """nb with its check cells guarded (see above); key: the instructor's version."""
    public, watched, imports, modules = key_facts(key)
    everywhere, per_answer = findings(nb, key, public, modules)
    guard, answer = f"_guard_{token}", None
    for cell in nb.cells:
        if meta(cell).get("solution") and cell.cell_type == "code":
            answer = meta(cell).get("grade_id")
        if meta(cell).get("grade") and cell.cell_type == "code":
            reasons = everywhere + per_answer.get(answer, [])
            cell.source = (
                (rejection(reasons) if reasons else "") + f"{guard}()\n" + cell.source
            )
    roots = PROTECTED_MODULES + tuple(m for m in PROTECTED_IF_IMPORTED if m in modules)
    nb.cells.insert(
        first_exercise_cell(nb),
        nbformat.v4.new_code_cell(guard_cell(guard, watched, imports, roots)),
    )
    return nb
