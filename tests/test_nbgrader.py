"""The chapters work as nbgrader 0.9 assignments, exactly as an instructor runs them
(README, "Instructors").

For each chapter, in a temporary course directory and with the book's
nbgrader_config.py: `course/ssl_course.py` releases it (`nbgrader generate_assignment`)
and finds no solution line, hidden-test line or exercise output in the student version;
then these submissions are autograded side by side (one course copy each, two at a
time): the student version untouched ("blank": 0 points on every exercise), the answer
key ("key": full marks), the key with a made-up answer in every answer cell ("madeup",
`MADE_UP`: typed numbers, plausible functions that pass the visible asserts, another
draw than asked: 0 on every exercise), the key whose every answer cell also tampers in a
way only the run-time guard of course/guard.py sees (numpy aliased, then `isclose`,
`allclose`, `array_equal` and `testing.assert_allclose` rebound to pass: 0 on every
exercise, the guard named) and, in chapters with an exercise whose answer involves
training, the key with an untrained (or barely trained) model in each such answer
("untrained", `UNTRAINED`: 0 on each). `INVENTORY` lists every exercise, whether its
answer comes from training and, if not, why no untrained submission applies; a test
keeps it complete. `nbgrader generate_feedback` writes feedback for every submission.
Autograding re-runs each chapter four or five times: about 2.5x its run time, ~12 min
CPU for the book. Needs the `course` extra (nbgrader); skipped without it.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

pytest.importorskip(
    "nbgrader", reason="needs the `course` extra: pip install -e '.[course]'"
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "course"))
import ssl_course  # noqa: E402

NOTEBOOKS = ssl_course.chapters()
COURSE_ID = "ssl-from-scratch"


TAMPER = """
_m = [np][0]
_m.isclose = lambda *a, **k: True
_m.allclose = lambda *a, **k: True
_m.array_equal = lambda *a, **k: True
_m.testing.assert_allclose = lambda *a, **k: None
"""


# Every exercise of the book: what its answer is and whether it comes from training (a
# trained model, a stored run or numbers computed from one). Each exercise gets three
# submissions that must score 0: a made-up answer (MADE_UP: typed numbers, a plausible
# function that passes the visible asserts, or another draw than the one asked), a
# tampering one (TAMPER, every exercise) and, where the answer involves training or a
# trained model, an untrained one (UNTRAINED: the same computation on a network that was
# never trained, or trained for a step or two). Where nothing is trained, the reason is
# given.
INVENTORY: dict[str, tuple[bool, str]] = {
    "ch00-ex1-answer": (
        False,
        "a function of an image and the demo digit's fractions: no model",
    ),
    "ch00-ex2-answer": (False, "index arrays of a seeded split: no model"),
    "ch01-ex1-answer": (False, "counting formula: no model"),
    "ch01-ex2-answer": (False, "arithmetic: no model"),
    "ch02-ex1-answer": (False, "a masking function of ids and a generator: no model"),
    "ch02-ex2-answer": (
        False,
        "a formula and mask_batch draws on the held-out sentences: no model",
    ),
    "ch02-ex3-answer": (
        True,
        "total variation of the trained context-free model and the trained transformer",
    ),
    "ch03-ex1-answer": (False, "mean square of the toy patches: no model"),
    "ch03-ex2-answer": (True, "hidden-patch error of the trained MAE"),
    "ch03-ex3-answer": (
        True,
        "hidden-patch error of the trained MAE with blanked inputs",
    ),
    "ch04-ex1-answer": (False, "NT-Xent of identical embeddings: no model"),
    "ch04-ex2-answer": (False, "a gradient formula: no model"),
    "ch04-ex3-answer": (
        True,
        "SimCLR without a head, trained by the student, and its 5-NN accuracy",
    ),
    "ch05-ex1-answer": (False, "a diagnostic function: no model"),
    "ch05-ex2-answer": (False, "a constructed array: no model"),
    "ch05-ex3-answer": (
        True,
        "BYOL without predictor, EMA and stop-gradient, trained by the student",
    ),
    "ch05-ex4-answer": (True, "the collapse states the trained grid's models reach"),
    "ch06-ex1-answer": (False, "a softmax function: no model"),
    "ch06-ex2-answer": (
        False,
        "a function of given maps and images (the hidden test feeds it DINO's maps)",
    ),
    "ch06-ex3-answer": (True, "outputs in use of the stored DINO run's kept states"),
    "ch07-ex1-answer": (False, "a loss of given embeddings: no model"),
    "ch07-ex2-answer": (
        True,
        "Barlow Twins with lambda 0, trained by the student, and its correlations",
    ),
    "ch07-ex3-answer": (
        True,
        "a paired verdict over probe accuracies of the trained DINO and BYOL encoders",
    ),
    "chA1-ex1-answer": (False, "an autograd operation: no model"),
    "chA1-ex2-answer": (False, "broadcast gradients of given arrays: no model"),
    "chA1-ex3-answer": (
        True,
        "BatchNorm of the trained MLP folded into its first layer",
    ),
    "chA2-ex1-answer": (False, "an attention function: no model"),
    "chA2-ex2-answer": (False, "entropies of given random arrays: no model"),
    "chA2-ex3-answer": (False, "a gradient function: no model"),
    "chA3-ex1-answer": (False, "a layer conversion: no model"),
    "chA3-ex2-answer": (False, "counting negatives: no model"),
    "chA3-ex3-answer": (
        False,
        "a function combining per-rank statistics (hidden test: fresh shards): no "
        "model",
    ),
}

# Made-up answers, one per exercise: each runs, and most pass the visible asserts, so
# only the hidden tests can give them 0.
MADE_UP: dict[str, str] = {
    "ch00-ex1-answer": (
        "from helpers.widgets.demo import add_noise\n\n\ndef "
        "saturated_fraction(image):\n"
        "    return float(np.all(image == 1.0))\n\n\nclean_fraction, noisy_fraction = "
        "0.81, 0.12\n"
    ),
    "ch00-ex2-answer": (
        "from helpers.data import stratified_split\n\n"
        "digit_train, digit_test = stratified_split(digit_labels, n_test_per_class=20, "
        "seed=2,"
        " n_train_per_class=50)\n"
    ),
    "ch01-ex1-answer": (
        "def targets_per_pass(n_images, side, patch, mask_ratio):\n"
        "    return n_images * (12 if mask_ratio > 0 else 0)\n"
    ),
    "ch01-ex2-answer": (
        "def labelling_hours(n_images, seconds_per_label, votes_per_image):\n"
        "    return n_images * seconds_per_label * votes_per_image / 7200\n\n\n"
        "imagenet_hours = labelling_hours(IMAGENET_CANDIDATES, 2.0, 3)\n"
    ),
    "ch02-ex1-answer": (
        "def my_bert_mask(ids, rng, mask_prob, mask_id, vocab_size):\n"
        "    ids = np.asarray(ids)\n    chosen = rng.random(ids.shape) < mask_prob\n"
        "    masked = chosen & (rng.random(ids.shape) < 0.8)\n"
        "    return np.where(masked, mask_id, ids), np.where(chosen, ids, -1)\n"
    ),
    "ch02-ex2-answer": "expected_empty, measured_empty = 0.2870, 0.2877\n",
    "ch02-ex3-answer": "free_tv, tf_tv = 0.0, 0.9\n",
    "ch03-ex1-answer": "flat_mse = float(np.mean(list(toy_table.values())))\n",
    "ch03-ex2-answer": "half_mse, random_half_mse = 0.049, 0.042\n",
    "ch03-ex3-answer": "blind_mse = mae_mse_75 + 0.04\n",
    "ch04-ex1-answer": "collapsed_loss = 2.708\n",
    "ch04-ex2-answer": (
        "def anchor_gradient(s, positive, tau):\n"
        "    p = np.exp(s / tau - np.logaddexp.reduce(s / tau))\n    p[positive] -= "
        "1\n    return p\n"
    ),
    "ch04-ex3-answer": (
        "from helpers.nn import Module\n\n\nclass Identity(Module):\n    def "
        "forward(self, x):\n"
        "        return x\n\n\nno_head = "
        "SimCLR(np.random.default_rng(0))\nno_head.head = Identity()\n"
        "train_simclr(no_head, x_train, epochs=SHORT_STEPS / (len(x_train) // "
        "SHORT_BATCH),"
        " batch_size=SHORT_BATCH,\n             lr=2e-3 * np.sqrt(SHORT_BATCH / 256), "
        "temperature=TAU,"
        " seed=0, desc='no head')\nknn_no_head = 0.871\n"
    ),
    "ch05-ex1-answer": (
        "def output_std(z):\n    u = z / np.linalg.norm(z, axis=1, keepdims=True)\n"
        "    return float(u.std(axis=0).max())\n"
    ),
    "ch05-ex2-answer": "flat = np.random.default_rng(0).standard_normal((1000, 64))\n",
    "ch05-ex3-answer": (
        "bare = BYOL(np.random.default_rng(0), predictor=False)\n"
        "train_byol(bare, x_train, epochs=1, batch_size=128, ema=False, "
        "stop_gradient=False, seed=0)\n"
        "bare_std = 0.0067\n"
    ),
    "ch05-ex4-answer": "prediction = {row: 'not collapsed' for row in GRID}\n",
    "ch06-ex1-answer": (
        "def teacher_probs(t, center, temp):\n    z = np.asarray(t, dtype=float) / "
        "temp\n"
        "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n    return e / "
        "e.sum(axis=-1, keepdims=True)\n"
    ),
    "ch06-ex2-answer": (
        "def ink_share(attention, images):\n    a = np.asarray(attention, "
        "dtype=float)\n"
        "    ink = (np.asarray(images).reshape(-1, 7, 4, 7, 4).max(axis=(2, 4)) > "
        "0.0).reshape(len(a), 49)\n"
        "    return (a * ink).sum(axis=1) / a.sum(axis=1)\n"
    ),
    "ch06-ex3-answer": (
        "outputs_in_use_no_centering = [int(n) for n in np.linspace(200, 2, "
        "len(RUNS['dino_10_no_centering'].checkpoints))]\n"
    ),
    "ch07-ex1-answer": (
        "ex_z1, ex_z2 = np.random.default_rng(11).normal(size=(2, 128, 16))\nex_z2 = "
        "ex_z1 + 0.5 * ex_z2\n"
        "bt_loss = 2.5\n"
    ),
    "ch07-ex2-answer": "rms_no_lambda = 0.3\n",
    "ch07-ex3-answer": "ex_mean, ex_se, ex_word = 0.01, 0.004, 'ahead'\n",
    "chA1-ex1-answer": (
        "def sigmoid(t):\n    z = np.exp(-np.abs(t.data))\n"
        "    out = np.where(t.data >= 0, 1.0 / (1.0 + z), z / (1.0 + z))\n"
        "    return Tensor.from_op(out, (t,), lambda g: (out * (1 - out),))\n"
    ),
    "chA1-ex2-answer": (
        "rng_ex = np.random.default_rng(1)\n"
        "h0, k0, g = rng_ex.normal(size=(5, 1)), rng_ex.normal(size=(1, 4)), "
        "rng_ex.normal(size=(5, 4))\n"
        "grad_h = np.full((5, 1), (h0 * k0 * g).sum() / h0.sum())\n"
        "grad_k = np.full((1, 4), (h0 * k0 * g).sum() / k0.sum())\n"
    ),
    "chA1-ex3-answer": (
        "lin, bn_trained = model.layers[0], model.norms[0]\nw_folded = lin.weight.data "
        "* 1.01\n"
        "b_folded = lin.bias.data.copy()\n"
    ),
    "chA2-ex1-answer": (
        "def causal_attention(q, k, v):\n    return np.asarray(v, dtype=float)\n"
    ),
    "chA2-ex2-answer": (
        "q_big, k_big = np.random.default_rng(8).normal(size=(2, 32, 256))\n\n\n"
        "def mean_entropy(q, k, scale):\n    p = softmax_rows(scale * q @ k.T)\n"
        "    return float(-(p * np.log(np.maximum(p, "
        "1e-300))).sum(axis=1).mean())\n\n\n"
        "entropy_scaled, entropy_unscaled = 3.4, 0.1\n"
    ),
    "chA2-ex3-answer": (
        "def query_gradient(q, k, v, g):\n    p = softmax_rows(q @ k.T / "
        "np.sqrt(q.shape[-1]))\n"
        "    grad_p = g @ v.T\n    return (p * (grad_p - (grad_p * p).sum(axis=1, "
        "keepdims=True))) @ k\n"
    ),
    "chA3-ex1-answer": (
        "def linear_to_torch(weight, bias):\n    layer = "
        "torch.nn.Linear(*weight.shape)\n"
        "    w = weight.T if weight.shape[0] != weight.shape[1] else weight\n    with "
        "torch.no_grad():\n"
        "        layer.weight.copy_(torch.from_numpy(w.copy()))\n"
        "        layer.bias.copy_(torch.from_numpy(bias))\n    return layer\n"
    ),
    "chA3-ex2-answer": (
        "def negatives_per_anchor(global_batch, world_size, gathered):\n"
        "    return 2 * (global_batch if gathered else global_batch // world_size) - "
        "2\n\n\n"
        "uniform_guess_drop = 0.69\n"
    ),
    "chA3-ex3-answer": (
        "def combine(means, variances):\n"
        "    return means.mean(axis=0), variances.mean(axis=0)\n"
    ),
}

# Answers that look trained but are not: {answer cell: its replacement}, for every
# exercise INVENTORY marks as trained. Each must score 0.
UNTRAINED: dict[str, str] = {
    "ch02-ex3-answer": (
        "from helpers.mlm import MLMTransformer\n"
        "fresh = MLMTransformer(len(vocab), settings.width, settings.depth, "
        "settings.n_heads, settings.max_len,\n"
        "                      np.random.default_rng(0), settings.mlp_ratio)\n"
        "pair = ['the united [MASK] of america'.split(), 'the state of the [MASK] is "
        "strong'.split()]\n\n\n"
        "def blank_probs(m, words):\n    ids = vocab.encode(words)\n"
        "    return np.exp(log_probs(m, ids[None], np.zeros((1, len(ids)), bool),"
        " (ids == vocab.mask_id)[None]))[0]\n\n\n"
        "free_tv = 0.5 * float(np.abs(blank_probs(free_model, pair[0]) - "
        "blank_probs(free_model, pair[1])).sum())\n"
        "tf_tv = 0.5 * float(np.abs(blank_probs(fresh, pair[0]) - blank_probs(fresh, "
        "pair[1])).sum())\n"
    ),
    "ch03-ex2-answer": (
        "fresh = MAE(np.random.default_rng(0))\nn = len(p_test)\n"
        "with no_grad():\n    half_pred = fresh.decode(fresh.encode(p_test[:, :8], "
        "np.tile(np.arange(8), (n, 1))),"
        " np.tile(np.arange(16), (n, 1))).data\n"
        "half_mse = masked_patch_mse(half_pred, p_test, np.tile((np.arange(16) >= "
        "8).astype(np.float32), (n, 1)))\n"
        "random_half_mse = float(hidden_errors(fresh, 0.5).mean())\n"
    ),
    "ch03-ex3-answer": (
        "fresh = MAE(np.random.default_rng(0))\n"
        "_, blind_mask, blind_restore = random_masking(p_test, 0.75, "
        "np.random.default_rng(123))\n"
        "with no_grad():\n    blind_pred = "
        "fresh.decode(fresh.encode(np.zeros_like(p_test[:, :4]),"
        " np.argsort(blind_restore, axis=1)[:, :4]), blind_restore).data\n"
        "blind_mse = masked_patch_mse(blind_pred, p_test, blind_mask)\n"
    ),
    # two steps instead of SHORT_STEPS: the weights have moved and 5-NN is far above
    # chance (random features do well)
    "ch04-ex3-answer": (
        "from helpers.nn import Module\n\n\nclass Identity(Module):\n    def "
        "forward(self, x):\n"
        "        return x\n\n\nno_head = "
        "SimCLR(np.random.default_rng(0))\nno_head.head = Identity()\n"
        "train_simclr(no_head, x_train, epochs=2 / (len(x_train) // SHORT_BATCH), "
        "batch_size=SHORT_BATCH,\n"
        "             lr=2e-3 * np.sqrt(SHORT_BATCH / 256), temperature=TAU, seed=0, "
        "desc='two steps')\n"
        "knn_no_head = knn_accuracy(encode(no_head.encoder, x_train), y_train,"
        " encode(no_head.encoder, x_test), y_test)\n"
    ),
    "ch05-ex3-answer": (
        "bare = BYOL(np.random.default_rng(0), predictor=False)\n"
        "bare.encoder.layers[0].weight.data = bare.encoder.layers[0].weight.data * "
        "0.0\n"
        "bare_std = embedding_std(encode(bare, x_test))\n"
    ),
    "ch05-ex4-answer": (
        "prediction = {row: collapse_state(z_start[row], z_start[row]) for row in "
        "GRID}\n"
    ),
    "ch06-ex3-answer": (
        "from helpers.pretrain import build\n"
        "outputs_in_use_no_centering = [loss_split(build('dino', seed=0), "
        "0.04)['dims_used']] * "
        "len(RUNS['dino_10_no_centering'].checkpoints)\n"
    ),
    "ch07-ex2-answer": (
        "no_lambda = build('barlow_twins', seed=0, encoder_sizes=ENCODER, "
        "head_sizes=HEAD)\n"
        "c_no_lambda = cross_correlation(*[encode(no_lambda, v) for v in test_views])\n"
        "rms_no_lambda = float(np.sqrt((c_no_lambda[eye == 0] ** 2).mean()))\n"
    ),
    "ch07-ex3-answer": (
        "ex_d = table['random encoder'][1] - table['raw pixels'][1]\nex_mean = "
        "float(ex_d.mean())\n"
        "ex_se = float(ex_d.std(ddof=1) / np.sqrt(len(ex_d)))\n"
        "ex_word = 'ahead' if ex_mean - 2 * ex_se > 0 else 'behind' if ex_mean + 2 * "
        "ex_se < 0 else 'level'\n"
    ),
    # a fresh MLP whose BatchNorm saw the test digits once (running statistics, no
    # training): passes the visible asserts
    "chA1-ex3-answer": (
        "fresh = MLP([784, 256, 10], np.random.default_rng(0), "
        "batchnorm=True)\nfresh(flat_test)\n"
        "fresh.eval()\nlin, bn_trained = fresh.layers[0], fresh.norms[0]\n"
        "scale = bn_trained.weight.data / np.sqrt(bn_trained.running_var + "
        "bn_trained.eps)\n"
        "w_folded = lin.weight.data * scale\n"
        "b_folded = (lin.bias.data - bn_trained.running_mean) * scale + "
        "bn_trained.bias.data\n"
    ),
}


def swapped_notebook(key: dict, answers: dict[str, str]) -> dict | None:
    """The key with each answer cell in answers replaced (None if chapter has none)."""
    nb = copy.deepcopy(key)
    swapped = [
        c for c in nb["cells"] if ssl_course.nbgrader_meta(c).get("grade_id") in answers
    ]
    for cell in swapped:
        cell["source"] = answers[ssl_course.nbgrader_meta(cell)["grade_id"]]
    return nb if swapped else None


def tampering_notebook(key: dict) -> dict:
    """The answer key whose answers also rebind numpy's comparisons via an alias."""
    nb = copy.deepcopy(key)
    for cell in nb["cells"]:
        if (
            ssl_course.nbgrader_meta(cell).get("solution")
            and cell["cell_type"] == "code"
        ):
            cell["source"] = ssl_course.source(cell).rstrip("\n") + "\n" + TAMPER
    return nb


def exercises(nb: dict) -> list[tuple[str, str]]:
    """(answer grade_id, the grade_id of the check cell after it) for each exercise."""
    found, answer = [], None
    for cell in nb["cells"]:
        meta = ssl_course.nbgrader_meta(cell)
        if meta.get("solution") and cell["cell_type"] == "code":
            answer = meta["grade_id"]
        elif meta.get("grade") and answer is not None:
            found.append((answer, meta["grade_id"]))
            answer = None
    return found


def autograde(aid: str, course: Path) -> str:
    """Autograde assignment aid in course; the end of nbgrader's log if it failed."""
    argv, env = ssl_course.nbgrader_command("autograde", aid, course=course)
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return done.stdout[-3000:] if done.returncode else ""


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.stem)
def graded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """Release one chapter, autograde three submissions; scores, notebooks and leaks."""
    from nbgrader.api import Gradebook

    notebook: Path = request.param
    course = tmp_path_factory.mktemp(f"course_{notebook.stem[:2]}")
    aid = ssl_course.assignment_id(notebook)
    leaks = ssl_course.release([notebook], course)
    key = json.loads(notebook.read_text(encoding="utf-8"))
    released = course / "release" / aid / notebook.name
    submissions = {
        "blank": json.loads(released.read_text(encoding="utf-8")),
        "key": key,
        "madeup": swapped_notebook(key, MADE_UP),
        "tamper": tampering_notebook(key),
    }
    if swapped_notebook(key, UNTRAINED) is not None:
        submissions["untrained"] = swapped_notebook(key, UNTRAINED)
    # One copy of the course (release and gradebook) per submission, autograded two at a
    # time: each run executes the whole chapter in one BLAS thread.
    courses = {}
    for student, nb in submissions.items():
        courses[student] = own = course.with_name(f"{course.name}_{student}")
        shutil.copytree(course, own)
        target = own / "submitted" / student / aid / notebook.name
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    with ThreadPoolExecutor(2) as pool:
        failed = {
            s: log
            for s, log in zip(
                courses, pool.map(lambda own: autograde(aid, own), courses.values())
            )
            if log
        }
    assert not failed, f"nbgrader autograde failed: {failed}"
    # score, max, autograder's
    scores: dict[str, dict[str, tuple[float, float, float | None]]] = {}
    for student, own in courses.items():
        ssl_course.run_nbgrader("generate_feedback", aid, course=own)
        with Gradebook(f"sqlite:///{own / 'gradebook.db'}", course_id=COURSE_ID) as gb:
            graded_nb = gb.find_submission_notebook(notebook.stem, aid, student)
            scores[student] = {
                g.name: (g.score, g.max_score, g.auto_score) for g in graded_nb.grades
            }
    autograded = {
        s: nbformat.read(own / "autograded" / s / aid / notebook.name, as_version=4)
        for s, own in courses.items()
    }
    feedback = sorted(
        f for own in courses.values() for f in (own / "feedback").rglob("*.html")
    )
    return {
        "aid": aid,
        "key": key,
        "scores": scores,
        "autograded": autograded,
        "leaks": leaks,
        "feedback": feedback,
        "released": released,
    }


def test_release_leaks_nothing(graded: dict) -> None:
    assert not graded["leaks"], "\n".join(graded["leaks"])
    student = json.loads(graded["released"].read_text(encoding="utf-8"))
    assert "### BEGIN" not in json.dumps(student), (
        "a solution or hidden-test marker is left in the release"
    )


def written_answers(nb: dict) -> list[str]:
    """grade_ids of the written answers graded by hand (markdown solution + grade)."""
    return [
        ssl_course.nbgrader_meta(c)["grade_id"]
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
        and ssl_course.nbgrader_meta(c).get("solution")
        and ssl_course.nbgrader_meta(c).get("grade")
    ]


def test_every_check_cell_and_written_answer_is_graded(graded: dict) -> None:
    checks = [check for _, check in exercises(graded["key"])]
    assert checks and set(graded["scores"]["key"]) == set(checks) | set(
        written_answers(graded["key"])
    )


def test_written_answers_wait_for_the_grader_and_blank_ones_score_zero(
    graded: dict,
) -> None:
    for why in written_answers(graded["key"]):
        assert graded["scores"]["key"][why][2] is None, (
            f"{why}: a written answer must be graded by hand"
        )
        assert graded["scores"]["blank"][why][2] == 0, (
            f"{why}: an unanswered written answer must score 0"
        )


def test_blank_submission_scores_zero(graded: dict) -> None:
    scored = {k: v for k, v in graded["scores"]["blank"].items() if v[0] != 0}
    assert not scored, f"{graded['aid']}: an empty answer earns points: {scored}"


def test_answer_key_scores_full_marks(graded: dict) -> None:
    written = written_answers(graded["key"])
    short = {
        k: v
        for k, v in graded["scores"]["key"].items()
        if v[0] != v[1] and k not in written
    }
    assert not short, (
        f"{graded['aid']}: the answer key loses points (score, max): {short}"
    )


def test_made_up_answers_score_zero(graded: dict) -> None:
    checks = dict(exercises(graded["key"]))
    scored = {
        c: graded["scores"]["madeup"][c]
        for c in checks.values()
        if graded["scores"]["madeup"][c][0] != 0
    }
    assert not scored, f"{graded['aid']}: made-up answers earn points on {scored}"
    cells = {
        c.metadata.get("nbgrader", {}).get("grade_id"): c
        for c in graded["autograded"]["madeup"].cells
    }
    broken = [
        a for a in checks if any(o.output_type == "error" for o in cells[a].outputs)
    ]
    assert not broken, (
        f"{graded['aid']}: the made-up submission's answer cells {broken} fail to run"
    )


def test_tampering_scores_zero(graded: dict) -> None:
    written = written_answers(graded["key"])
    scored = {
        k: v
        for k, v in graded["scores"]["tamper"].items()
        if v[0] != 0 and k not in written
    }
    assert not scored, (
        f"{graded['aid']}: a submission that rebinds what the checks use earns points: "
        f"{scored}"
    )
    cells = [
        c
        for c in graded["autograded"]["tamper"].cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    ]
    silent = [
        c.metadata.nbgrader.grade_id
        for c in cells
        if not any(
            "rebinds what the checks use" in o.get("evalue", "") for o in c.outputs
        )
    ]
    assert not silent, (
        f"{graded['aid']}: the guard did not name the tampering in {silent}"
    )


def test_untrained_answers_score_zero(graded: dict) -> None:
    trained = [a for a, _ in exercises(graded["key"]) if INVENTORY[a][0]]
    if not trained:
        pytest.skip(
            f"{graded['aid']}: no exercise's answer involves training (INVENTORY says "
            "why)"
        )
    checks = dict(exercises(graded["key"]))
    scored = {
        checks[a]: graded["scores"]["untrained"][checks[a]]
        for a in trained
        if graded["scores"]["untrained"][checks[a]][0] != 0
    }
    assert not scored, f"{graded['aid']}: an untrained model earns points: {scored}"
    cells = {
        c.metadata.get("nbgrader", {}).get("grade_id"): c
        for c in graded["autograded"]["untrained"].cells
    }
    broken = [
        a for a in trained if any(o.output_type == "error" for o in cells[a].outputs)
    ]
    assert not broken, (
        f"{graded['aid']}: the untrained submission's answer cells {broken} fail to run"
    )


def test_feedback_written_for_every_submission(graded: dict) -> None:
    assert len(graded["feedback"]) == len(graded["scores"]), graded["feedback"]


# --- self-tests of the helpers above and of the leak check
# --------------------------------------


def test_inventory_covers_every_exercise() -> None:
    answers = [
        a
        for nb in NOTEBOOKS
        for a, _ in exercises(json.loads(nb.read_text(encoding="utf-8")))
    ]
    assert sorted(INVENTORY) == sorted(answers), (
        "INVENTORY must list every exercise of every chapter, once"
    )
    assert sorted(MADE_UP) == sorted(answers), "every exercise needs a made-up answer"
    assert sorted(UNTRAINED) == sorted(
        a for a, (trained, _) in INVENTORY.items() if trained
    ), (
        "every exercise whose answer involves training needs an untrained answer, and "
        "only those"
    )


def test_leak_check_catches_solutions_hidden_tests_and_outputs() -> None:
    key = nbformat.read(NOTEBOOKS[0], as_version=4)
    assert ssl_course.leaks(key, key), "the key itself must count as a leak"
    student = copy.deepcopy(key)
    ssl_course.ClearExerciseOutputs().preprocess(student, {})
    for cell in student.cells:
        cell.source = cell.source.split(ssl_course.BEGIN)[0].split(
            ssl_course.BEGIN_HIDDEN
        )[0]
    assert ssl_course.leaks(key, student) == []
    student.cells[-1].outputs = copy.deepcopy(
        next(c.outputs for c in reversed(key.cells) if c.get("outputs"))
    )
    assert any("output" in p for p in ssl_course.leaks(key, student))
