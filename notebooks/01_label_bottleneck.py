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
# # 01 · The label bottleneck
#
# A classifier learns from examples that someone has labelled: this image is a 7, that scan shows a
# tumour, this word is a verb. Labels are made by people, one at a time, and that makes them the
# slowest and most expensive part of machine learning. This chapter asks two questions:
#
# 1. Where else can a training signal come from, if not from a person?
# 2. How much cheaper is a signal that the data provides about itself? We measure it.
#
# Three ways of learning are usually told apart. **Supervised** learning fits inputs to human labels.
# **Unsupervised** learning looks for structure (clusters, directions of variance) with no target at
# all, so nothing tells it which structure matters. **Self-supervised** learning sits between them:
# it hides or alters part of each example and asks the model to recover the hidden part, or to
# recognise two altered copies as one. The target is cut from the data itself, so it costs nothing,
# yet it is as specific as a label: to fill in a missing stroke of a digit, a model has to know
# something about how digits are drawn.

# %%
import matplotlib.pyplot as plt
import numpy as np

from helpers.augment import simclr_views
from helpers.data import load_mnist, mnist_split
from helpers.masking import random_masking
from helpers.nn import patchify
from helpers.plots import show_image, use_book_style
from helpers.timing import best_time

use_book_style()
x_train, y_train, x_test, y_test = mnist_split()
print(f"training digits: {x_train.shape}, labels: {np.bincount(y_train).tolist()}")

# %% [markdown]
# ## Three kinds of target for one digit
#
# Take one training digit and build each kind of training pair from it. For **masked prediction**
# we cut the 28×28 image into a 4×4 grid of 7×7 patches and hide 75 % of them, as the masked
# autoencoder (MAE) does; the hidden patches are the target. For **joint embedding** (SimCLR and its
# successors) we draw two random views of the digit (zoomed, rotated, shifted, brightened or dimmed,
# noisy, half the time with a block erased, using the book's augmentation helper), and the target is that the model maps both
# views to the same point. Only the supervised pair needs a person.

# %%
PATCH, GRID = 7, 4  # 28 = 4 × 7: a 4×4 grid of 7×7 patches
rng = np.random.default_rng(0)
digit, label = x_train[0], int(y_train[0])
_, patch_mask, _ = random_masking(
    patchify(digit[None], PATCH), mask_ratio=0.75, rng=rng
)
hidden = np.kron(patch_mask.reshape(GRID, GRID), np.ones((PATCH, PATCH))).astype(bool)
view_a, view_b = (v[0] for v in simclr_views(digit[None], rng))

print(f"label: {label}")
print(
    f"masked prediction: {int(patch_mask.sum())} of {GRID * GRID} patches hidden, "
    f"{int(hidden.sum())} target pixels"
)
print(
    f"joint embedding: views differ from the digit by mean |difference| "
    f"{np.abs(view_a - digit).mean():.3f} and {np.abs(view_b - digit).mean():.3f}"
)

# %%
GREY = 0.5
fig, axes = plt.subplots(2, 3, figsize=(7.2, 5.0))
show_image(axes[0, 0], digit, "input: the digit")
axes[1, 0].text(0.5, 0.5, str(label), fontsize=60, ha="center", va="center")
axes[1, 0].set_title("target: a person's label", fontsize=9)
axes[1, 0].set_axis_off()
show_image(axes[0, 1], np.where(hidden, GREY, digit), "input: 4 visible patches")
show_image(axes[1, 1], np.where(hidden, digit, GREY), "target: the 12 hidden patches")
show_image(axes[0, 2], view_a, "input: view 1")
show_image(axes[1, 2], view_b, "target: view 2 maps to the same point")
for ax, title in zip(axes[0], ("supervised", "masked prediction", "joint embedding")):
    ax.annotate(
        title,
        (0.5, 1.25),
        xycoords="axes fraction",
        ha="center",
        fontsize=12,
        weight="bold",
    )
fig.tight_layout()
plt.show()

# %% [markdown]
# ## How recent this is
#
# The ideas behind these targets are old, but the methods that made self-supervision the default way
# to pre-train large models all appeared within a decade. The dates below are those of the first
# arXiv versions (venue in brackets). The article this book follows dates MAE to 2022, the year of
# its conference paper; the preprint is from November 2021.

# %%
# (name, year, month of first arXiv version, arXiv id, venue, modality, pretext task)
# fmt: off
MILESTONES = [
    ("word2vec", 2013, 1, "1301.3781", "ICLR workshop 2013", "text",
     "predict nearby words"),
    ("BERT", 2018, 10, "1810.04805", "NAACL 2019", "text", "predict masked words"),
    ("MoCo", 2019, 11, "1911.05722", "CVPR 2020", "images", "contrast two views"),
    ("SimCLR", 2020, 2, "2002.05709", "ICML 2020", "images", "contrast two views"),
    ("BYOL", 2020, 6, "2006.07733", "NeurIPS 2020", "images",
     "match two views, no negatives"),
    ("DINO", 2021, 4, "2104.14294", "ICCV 2021", "images",
     "self-distillation of views"),
    ("MAE", 2021, 11, "2111.06377", "CVPR 2022", "images",
     "reconstruct masked patches"),
]
# fmt: on
for name, year, month, arxiv, venue, modality, task in MILESTONES:
    print(
        f"{name:9s} {year}-{month:02d}  arXiv:{arxiv:11s} ({venue:18s}) {modality:6s} "
        f"{task}"
    )

# %%
COLORS = {"text": "C0", "images": "C3"}
# stem heights, chosen so that no two labels overlap
STEMS = (1.0, -1.0, 1.0, -1.0, 0.4, -1.0, 1.0)
fig, ax = plt.subplots(figsize=(8.0, 3.0))
ax.axhline(0, color="0.6", lw=1, zorder=0)
for (name, year, month, _, _, modality, _), stem in zip(MILESTONES, STEMS):
    when, color = year + (month - 1) / 12, COLORS[modality]
    ax.vlines(when, 0, stem, color=color, lw=1)
    ax.scatter(when, 0, color=color, zorder=2)
    ax.text(
        when,
        stem + 0.1 * np.sign(stem),
        f"{name}\n{year}",
        ha="center",
        va="bottom" if stem > 0 else "top",
        fontsize=9,
        color=color,
    )
for modality, color in COLORS.items():
    ax.scatter([], [], color=color, label=modality)
ax.set(
    xlim=(2012, 2023),
    ylim=(-1.9, 1.9),
    yticks=[],
    xlabel="first arXiv version",
    title="Self-supervised milestones: from words to pixels in under nine years",
)
ax.grid(False)
ax.legend(loc="lower left", ncols=2)
plt.show()

# %% [markdown]
# ## What human labels cost: ImageNet
#
# ImageNet is the data set that made deep learning in vision work, and it is the usual example of
# what labelling takes. The article opens by saying that ImageNet took *25,000 workers* two and a
# half years to label 14 million images. The worker count is wrong, and so is the duration. The
# figures reported by the people who built it:
#
# - **about 14 million images** in about 22,000 categories (image-net.org lists 14,197,122 images
#   in 21,841 synsets; Deng et al., *ImageNet: A large-scale hierarchical image database*, CVPR 2009);
# - labelled on Amazon Mechanical Turk by **about 49,000 workers from 167 countries** (Fei-Fei Li,
#   *How we're teaching computers to understand pictures*, TED 2015: "almost 50,000 workers from 167
#   countries"), in a labelling effort that ran **from 2008 to 2010** (July 2008 to April 2010,
#   per Wikipedia's *ImageNet* article);
# - the workers did not click 14 million times: they screened **about 160 million candidate images**
#   found by search engines (Wikipedia's figure; the TED talk speaks of "nearly a billion"), each
#   judged by several workers, and kept the ones they agreed on.
#
# The article also says GPT-4 was trained on "trillions of tokens"; OpenAI's GPT-4 technical report
# (2023) does not give the size of the training set, so that figure is an estimate, not a fact.
#
# July 2008 to April 2010 is 21 months, under two years, not two and a half (the next cell counts
# them). To turn these counts into hours we need one assumption, stated here and used below: **a
# person needs 5 seconds to give one image one label** (look, decide, click), working 2,000 hours a
# year. Numbers that rest on this assumption are printed to 2 significant figures; more would
# claim a precision the assumption does not have.

# %%
SECONDS_PER_LABEL = 5.0  # assumption: one label, one person
HOURS_PER_YEAR = 2000  # a full-time working year
IMAGENET_IMAGES, IMAGENET_CANDIDATES = 14_197_122, 160e6
WORKERS_REPORTED, WORKERS_IN_ARTICLE = 49_000, 25_000


def person_years(n_labels: float) -> float:
    """Full-time working years one person needs for n_labels at SECONDS_PER_LABEL."""
    return n_labels * SECONDS_PER_LABEL / 3600 / HOURS_PER_YEAR


def sig2(value: float) -> str:
    """value rounded to 2 significant figures, for numbers resting on an assumption."""
    rounded = float(f"{value:.2g}")
    return f"{rounded:,.0f}" if abs(rounded) >= 100 else f"{rounded:g}"


labelling_months = (2010 * 12 + 4) - (2008 * 12 + 7)  # April 2010 minus July 2008
hours_each = IMAGENET_CANDIDATES * SECONDS_PER_LABEL / 3600 / WORKERS_REPORTED
# fmt: off
print(f"labelling effort, July 2008 to April 2010: {labelling_months} months "
      f"({labelling_months / 12:.2f} years; the article says 2.5)")
print(f"one label per kept image: {sig2(person_years(IMAGENET_IMAGES))} person-years")
print(f"one vote per screened candidate: {sig2(person_years(IMAGENET_CANDIDATES))} "
      "person-years")
print(f"shared by about {WORKERS_REPORTED} workers: {sig2(hours_each)} hours each per "
      "vote round")
print(f"kept images per worker: {sig2(IMAGENET_IMAGES / WORKERS_REPORTED)} reported, "
      f"{sig2(IMAGENET_IMAGES / WORKERS_IN_ARTICLE)} with the article's head count")
# fmt: on

# %% [markdown]
# Even a single vote on every candidate is over a hundred person-years of clicking (printed above),
# spread over tens of thousands of people. And the result is one label per image: a single number for a whole photograph.
#
# ## What self-made targets cost: measured
#
# Now the other side. We time how fast this laptop makes pretext targets from all 5,000 MNIST digits:
# (a) masked-patch targets, MAE-style (cut into 16 patches, hide 12 of each digit's 16 at random,
# gather the hidden pixels), and (b) pairs of augmented views, SimCLR-style. We repeat each a few times
# and keep the fastest run, which is the least disturbed by other work on the machine.
#
# To compare like with like we count **per image**. A person labelling an image produces one
# target for it; masking produces 12 targets from one image and augmentation one pair. So the
# comparison is: how long does it take to turn one image into a training example?

# %%
images, _ = load_mnist()
rng = np.random.default_rng(1)


def masked_patch_targets(batch: np.ndarray) -> np.ndarray:
    """All hidden 7×7 patches of 28×28 digits, 75 % masked: one row per target."""
    patches = patchify(batch, PATCH)
    _, mask, _ = random_masking(patches, mask_ratio=0.75, rng=rng)
    return patches[mask.astype(bool)]


n_targets = len(masked_patch_targets(images))
n_pairs = len(simclr_views(images, rng)[0])
seconds_masks = best_time(lambda: masked_patch_targets(images), repeats=5)
seconds_pairs = best_time(lambda: simclr_views(images, rng), repeats=3)
print(
    f"one pass over MNIST-5k: {n_targets} masked-patch targets, {n_pairs} augmented "
    "pairs"
)

# %% [markdown]
# The rates themselves depend on the machine and on what else it is doing, so they differ from run
# to run; the next cell, which prints them, is tagged `nbval-ignore-output` (chapter 00 explains the
# tag). Everything after it uses only conservative lower bounds, which the cell after it asserts
# the measured rates exceed: 5,000 images per second turned into masked-patch targets and 1,000
# images per second turned into augmented pairs.

# %% tags=["nbval-ignore-output"]
n_images = len(images)
print(f"time_images_per_s_masked_patches: {n_images / seconds_masks:,.0f}")
print(f"time_images_per_s_augmented_pairs: {n_images / seconds_pairs:,.0f}")

# %%
# lower bounds, checked against the measurement
MASK_IMAGES_PER_S, PAIR_IMAGES_PER_S = 5e3, 1e3
rates_clear_bounds = (
    n_images / seconds_masks > MASK_IMAGES_PER_S
    and n_images / seconds_pairs > PAIR_IMAGES_PER_S
)
assert rates_clear_bounds
print(
    "measured rates exceed 5,000 images/s (masked patches) and 1,000 images/s "
    f"(pairs): {rates_clear_bounds}"
)
print(
    f"per image, a person at {SECONDS_PER_LABEL:.0f} s per label: "
    f"{SECONDS_PER_LABEL:.0f} s for 1 target"
)
print(
    f"per image, masked patches: under {1e3 / MASK_IMAGES_PER_S:.1f} ms for "
    f"{n_targets // n_images} targets"
)
print(f"per image, augmented views: under {1e3 / PAIR_IMAGES_PER_S:.1f} ms for 1 pair")
print(
    f"a person is at least {sig2(SECONDS_PER_LABEL * PAIR_IMAGES_PER_S)} times slower "
    "per image than the slower laptop method"
)

# %% [markdown]
# The same comparison as a picture: the time to turn one image into a training example, on a log
# scale. The laptop's bars are this run's measurements; the person's bar is the assumption above.

# %%
bars = {
    "laptop: masked patches\n(12 targets)": seconds_masks / n_images,
    "laptop: augmented pairs\n(1 pair)": seconds_pairs / n_images,
    "one person labelling\n(1 label, 5 s assumed)": SECONDS_PER_LABEL,
}
fig, ax = plt.subplots(figsize=(7.0, 2.6))
ax.barh(list(bars), list(bars.values()), color=["C2", "C2", "C1"])
ax.set_xscale("log")
ax.set(
    xlabel="seconds per image (log scale)",
    title="Self-made targets are almost free; human labels are not",
)
ax.invert_yaxis()
plt.show()

# %% [markdown]
# A caveat the rest of the book takes seriously: a cheap target is not automatically a useful one.
# A masked patch or a pair of views says nothing about which digit is drawn. Whether learning to
# predict them yields features that a classifier can use with few labels is an empirical question,
# and later chapters answer it by measurement (a linear probe and k-nearest neighbours on the book's
# split, always beside raw-pixel and random-encoder baselines).
#
# ## What we measured

# %%
print(f"masked_patch_targets_per_pass: {n_targets}")
print(f"augmented_pairs_per_pass: {n_pairs}")
print(f"images_per_second_masked_patches_above: {MASK_IMAGES_PER_S:.0f}")
print(f"images_per_second_augmented_pairs_above: {PAIR_IMAGES_PER_S:.0f}")
print(f"human_seconds_per_image_assumed: {SECONDS_PER_LABEL:.0f}")
print(f"imagenet_labelling_months: {labelling_months}")
print(
    f"imagenet_person_years_one_label_per_image: {sig2(person_years(IMAGENET_IMAGES))}"
)
print(
    "imagenet_person_years_one_vote_per_candidate: "
    f"{sig2(person_years(IMAGENET_CANDIDATES))}"
)


# %% [markdown]
# ## Exercises
#
# Two exercises, **5 points** in all (about 20 minutes). Each has a prompt, an answer cell and a
# check cell whose `assert`s say what is wrong; the grader adds hidden tests (chapter 00 explains
# the format).

# %% [markdown] nbgrader={"grade": false, "grade_id": "ch01-ex1-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 1 (targets per pass)** · 3 points · medium · ~10 min
#
# How many masked-patch targets does one pass make for other patch sizes and ratios? Write
# `targets_per_pass(n_images, side, patch, mask_ratio)` for square images of `side` pixels cut
# into `patch`×`patch` patches, keeping `int(L * (1 - mask_ratio))` of the `L` patches visible (as
# `random_masking` does). Compare with the count we measured above.

# %% nbgrader={"grade": false, "grade_id": "ch01-ex1-answer", "locked": false, "schema_version": 3, "solution": true}
def targets_per_pass(n_images: int, side: int, patch: int, mask_ratio: float) -> int:
    """Number of hidden patches in one pass over n_images images."""
    ### BEGIN SOLUTION
    n_patches = (side // patch) ** 2
    return n_images * (n_patches - int(n_patches * (1 - mask_ratio)))
    ### END SOLUTION


print(
    f"7x7 patches, 75 %: {targets_per_pass(5000, 28, 7, 0.75)}; 4x4 patches, 75 %: "
    f"{targets_per_pass(5000, 28, 4, 0.75)}"
)

# %% nbgrader={"grade": true, "grade_id": "ch01-ex1-check", "locked": true, "points": 3, "schema_version": 3, "solution": false}
assert isinstance(targets_per_pass(1, 28, 7, 0.75), (int, np.integer)), (
    "targets_per_pass should return an int"
)
assert targets_per_pass(5000, 28, 7, 0.75) == n_targets, (
    "with 7x7 patches at 75 % the count should equal n_targets, measured above"
)
assert targets_per_pass(1, 28, 7, 0.0) == 0, "with mask_ratio 0 no patch is hidden"
assert targets_per_pass(2, 28, 7, 0.75) == 2 * targets_per_pass(1, 28, 7, 0.75), (
    "the count should grow in proportion to n_images"
)
### BEGIN HIDDEN TESTS
for _n, _side, _patch, _ratio in [
    (1, 28, 4, 0.5),
    (10, 8, 2, 0.75),
    (3, 32, 4, 0.6),
    (7, 30, 3, 0.9),
]:
    _L = (_side // _patch) ** 2
    assert targets_per_pass(_n, _side, _patch, _ratio) == _n * (
        _L - int(_L * (1 - _ratio))
    ), (
        f"wrong count for n_images={_n}, side={_side}, patch={_patch}, "
        f"mask_ratio={_ratio}"
    )
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ch01-ex2-prompt", "locked": true, "schema_version": 3, "solution": false}
# **Exercise 2 (ImageNet's votes)** · 2 points · easy · ~10 min
#
# The arithmetic above assumed 5 seconds per label and one label per image. ImageNet judged each
# candidate image by several workers. Write `labelling_hours(n_images, seconds_per_label,
# votes_per_image)`, the total hours of human work, and use it for ImageNet's 160 million
# candidates with 3 votes each at 2 seconds per vote.

# %% nbgrader={"grade": false, "grade_id": "ch01-ex2-answer", "locked": false, "schema_version": 3, "solution": true}
def labelling_hours(
    n_images: float, seconds_per_label: float, votes_per_image: int
) -> float:
    """Total hours of human work to give every image votes_per_image labels."""
    ### BEGIN SOLUTION
    return n_images * seconds_per_label * votes_per_image / 3600
    ### END SOLUTION


imagenet_hours = labelling_hours(IMAGENET_CANDIDATES, 2.0, 3)
print(
    f"ImageNet, 3 votes at 2 s: {imagenet_hours:,.0f} hours, "
    f"{imagenet_hours / WORKERS_REPORTED:.3f} hours per worker"
)

# %% nbgrader={"grade": true, "grade_id": "ch01-ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false}
assert labelling_hours(0, 5.0, 3) == 0, "no images need no work"
assert np.isclose(labelling_hours(200, 2.0, 3), 2 * labelling_hours(100, 2.0, 3)), (
    "the hours should grow in proportion to the number of images"
)
assert np.isclose(labelling_hours(100, 2.0, 6), 2 * labelling_hours(100, 2.0, 3)), (
    "the hours should grow in proportion to the votes per image"
)
assert labelling_hours(100, 2.0, 3) < 100 * 2.0 * 3, (
    "the result should be in hours, not seconds"
)
### BEGIN HIDDEN TESTS
for _args in [(3600, 1.0, 1), (1800, 2.0, 3), (1e6, 4.5, 5)]:
    assert np.isclose(labelling_hours(*_args), _args[0] * _args[1] * _args[2] / 3600), (
        f"labelling_hours{_args} is wrong"
    )
assert np.isclose(imagenet_hours, IMAGENET_CANDIDATES * 2.0 * 3 / 3600), (
    "imagenet_hours is wrong"
)
### END HIDDEN TESTS
