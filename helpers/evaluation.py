"""How the book judges frozen features: k-NN, a linear probe, collapse diagnostics."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from helpers._checks import (
    check_array,
    check_bool,
    check_int,
    check_nonnegative,
    check_positive,
)
from helpers.autograd import Tensor
from helpers.optim import Adam

# query-by-reference entries held at once (2 MB in float64: stays in cache)
CHUNK_ENTRIES = 1 << 18
PROBE_BATCH = 256  # largest probe minibatch; an epoch is split into near-equal batches


def _features(x: Any, name: str, min_rows: int = 1) -> np.ndarray:
    """x as a 2-D float64 array with at least min_rows finite rows, else raise."""
    arr = check_array(x, name, ndim=2)
    if arr.dtype.kind not in "fiub" or arr.shape[0] < min_rows:
        raise ValueError(
            f"{name} must be numbers with at least {min_rows} row(s), got {arr.dtype} "
            f"of shape {arr.shape}"
        )
    return arr.astype(np.float64, copy=False)


def _labels(y: Any, name: str, n: int) -> np.ndarray:
    """Return y as a 1-D integer array of length n, else raise."""
    arr = check_array(y, name, ndim=1)
    if arr.dtype.kind not in "iu" or len(arr) != n:
        raise ValueError(
            f"{name} must be {n} integer labels (one per row), got {arr.dtype} of "
            f"length {len(arr)}"
        )
    return arr


def _paired(train_x: Any, test_x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check a reference set and queries of the same width; return them as arrays."""
    ref = _features(train_x, "train_x")
    queries = _features(test_x, "test_x")
    if queries.shape[1] != ref.shape[1]:
        raise ValueError(
            f"test_x must have {ref.shape[1]} columns like train_x, got "
            f"{queries.shape[1]}"
        )
    return ref, queries


def _labelled(
    train_x: Any, train_y: Any, test_x: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check a labelled reference set and queries of one width; return as arrays."""
    ref, queries = _paired(train_x, test_x)
    return ref, _labels(train_y, "train_y", len(ref)), queries


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows of x divided by their L2 norm (zero rows stay zero)."""
    return Tensor(x).normalize(axis=1).data


def _row_chunks(n_rows: int, width: int) -> Iterator[slice]:
    """Slices of rows so each chunk holds at most CHUNK_ENTRIES entries of width."""
    step = max(1, CHUNK_ENTRIES // max(width, 1))
    return (slice(start, start + step) for start in range(0, n_rows, step))


def knn_classify(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    k: int = 5,
    weighted: bool = False,
    temperature: float = 0.07,
) -> np.ndarray:
    """Predict each test row's label from its k nearest training rows
    (`knn_neighbours`).

    Default: majority vote among the k nearest by Euclidean distance; a tied vote goes
    to the smallest tied label (as scikit-learn's KNeighborsClassifier). weighted=True:
    DINO's protocol, cosine similarity of L2-normalised features, votes weighted by
    exp(similarity / temperature).
    """
    ref, labels, queries = _labelled(train_x, train_y, test_x)
    tau = check_positive(temperature, "temperature")
    weighted = check_bool(weighted, "weighted")
    nearest, near_cost = knn_neighbours(ref, queries, k, weighted)  # checks k
    classes, codes = np.unique(labels, return_inverse=True)
    vote = (
        np.exp((near_cost.min(axis=1, keepdims=True) - near_cost) / tau)
        if weighted
        else np.ones_like(near_cost)
    )
    one_hot = codes[nearest][..., None] == np.arange(len(classes))
    return classes[(one_hot * vote[..., None]).sum(axis=1).argmax(axis=1)]


def knn_neighbours(
    train_x: Any, test_x: Any, k: int = 5, cosine: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n_test, k) of each test row's k nearest training rows, nearest first,
    and their costs.

    The cost is the squared Euclidean distance (times 2^-2e if the largest |value| is
    2^e > 2^500, where squares would overflow), or with cosine=True 1 - cosine
    similarity of the L2-normalised rows. Exact: the float64 brute force's neighbours
    (ties aside) for any finite input.
    """
    ref, queries = _paired(train_x, test_x)
    k = check_int(k, "k", minimum=1, maximum=len(ref))
    if check_bool(cosine, "cosine"):
        ref, queries = _unit_rows(ref), _unit_rows(queries)
        nearest, dist = _nearest(ref, queries, (ref, queries), k, unit=True)
        return nearest, dist / 2  # |u - v|^2 = 2 - 2 cos for unit rows
    return _nearest(
        *_centred_scaled(ref, queries), _safe_range(ref, queries), k, unit=False
    )


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of x divided by their L2 norm, however small or large (zero rows stay zero).

    Each row is first scaled by a power of two to a largest |value| in [0.5, 1): exact,
    so rows of ordinary size give the same bits as x / norm, and tiny or huge rows
    neither underflow nor overflow.
    """
    top = np.abs(x).max(axis=1, keepdims=True)
    x = np.ldexp(x, -np.frexp(top)[1])
    norm = np.sqrt((x * x).sum(axis=1, keepdims=True))
    return x / np.where(norm > 0, norm, 1.0)


def _safe_range(ref: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ref and queries, scaled by a power of two if squared differences overflow."""
    top = max(np.abs(ref).max(initial=0.0), np.abs(queries).max(initial=0.0))
    if top < 2.0**500:
        return ref, queries
    shift = -np.frexp(top)[1]
    return np.ldexp(ref, shift), np.ldexp(queries, shift)


def _centred_scaled(
    ref: np.ndarray, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ref and queries less the reference mean, divided by a power of two near their
    largest |value|.

    Euclidean neighbours do not change under a shift or scale of all features; removing
    both keeps the float32 shortlist below as tight at an offset of 1e6 (or a scale of
    1e30) as at 0.
    """
    mean = ref.mean(axis=0)
    ref, queries = ref - mean, queries - mean
    top = max(np.abs(ref).max(initial=0.0), np.abs(queries).max(initial=0.0))
    scale = 2.0 ** -np.frexp(top)[1] if top > 0 else 1.0
    return ref * scale, queries * scale


def _nearest(
    ref: np.ndarray,
    queries: np.ndarray,
    exact_data: tuple[np.ndarray, np.ndarray],
    k: int,
    unit: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n_queries, k) of the references nearest each query and their squared
    distances.

    A float32 pass over ref and queries shortlists 2k + 8 candidates per query by the
    Gram trick (|r|^2 - 2 q.r, or -q.r for unit rows: both rank as the distance does);
    `_shortlist_bound` bounds its rounding error, and a query whose shortlist might miss
    a true neighbour gets every reference within that bound instead. The candidates are
    re-scored in float64 as squared differences of exact_data (ref and queries in the
    same geometry), so the result is the float64 brute force's, ties aside.
    """
    exact_ref, exact_queries = exact_data
    short = min(len(ref), 2 * k + 8)
    ref32_t = ((-1.0 if unit else -2.0) * ref.T).astype(np.float32)
    sq = (ref * ref).sum(axis=1)
    sq32 = np.zeros(len(ref), np.float32) if unit else sq.astype(np.float32)
    bound = _shortlist_bound(queries, sq)
    nearest, near_cost = (
        np.empty((len(queries), k), dtype=np.intp),
        np.empty((len(queries), k)),
    )
    for rows in _row_chunks(len(queries), len(ref)):
        cost = queries[rows].astype(np.float32) @ ref32_t
        cost += sq32
        candidates = np.argpartition(cost, short - 1, axis=1)[:, :short]
        nearest[rows], near_cost[rows] = _rescored(
            exact_ref, exact_queries[rows], candidates, k
        )
        for i in _unproven(cost, candidates, k, bound[rows]):
            wide = np.flatnonzero(
                cost[i] <= np.partition(cost[i], k - 1)[k - 1] + 2 * bound[rows][i]
            )
            q = rows.start + i
            nearest[q], near_cost[q] = (
                a[0]
                for a in _rescored(exact_ref, exact_queries[q : q + 1], wide[None], k)
            )
    return nearest, near_cost


def _shortlist_bound(queries: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """Per query, a bound on |float32 cost - exact cost| over all references.

    Rounding the inputs to float32 and a d-term dot product in float32 err by at most
    (d + 2) u |q| |r| (u = 2^-24, any summation order), adding |r|^2 by u of the result;
    (d + 8) u (|q| + R)^2, R the largest |r|, covers both with room for float64's far
    smaller errors (and, for unit rows, for their norms differing from 1 by rounding).
    """
    radius = np.sqrt(sq.max())
    norms = np.sqrt((queries * queries).sum(axis=1))
    return (queries.shape[1] + 8) * 2.0**-24 * (norms + radius) ** 2


def _unproven(
    cost: np.ndarray, candidates: np.ndarray, k: int, bound: np.ndarray
) -> np.ndarray:
    """Rows whose shortlist might miss a true neighbour: some reference left out costs
    <= k-th + 2 bound.

    A true neighbour's exact cost is at most the exact k-th cost, which is at most the
    float32 k-th plus the bound; its float32 cost is then at most the float32 k-th plus
    twice the bound.
    """
    if candidates.shape[1] == cost.shape[1]:
        return np.zeros(0, dtype=np.intp)
    kept = np.take_along_axis(cost, candidates, axis=1)
    kth = np.partition(kept, k - 1, axis=1)[:, k - 1]
    left_out = cost.copy()
    np.put_along_axis(left_out, candidates, np.inf, axis=1)
    return np.flatnonzero(left_out.min(axis=1) <= kth + 2 * bound)


def _rescored(
    ref: np.ndarray, queries: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k candidates nearest each query (float64 squared distance), distances."""
    dist = np.empty(candidates.shape)
    # ref[candidates] is large
    for rows in _row_chunks(len(queries), candidates.shape[1] * ref.shape[1]):
        diff = queries[rows, None, :] - ref[candidates[rows]]
        dist[rows] = np.einsum("qcd,qcd->qc", diff, diff)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(
        dist, order, axis=1
    )


def knn_accuracy(
    train_x: Any, train_y: Any, test_x: Any, test_y: Any, **kw: Any
) -> float:
    """Fraction of test rows whose `knn_classify` prediction equals test_y."""
    predicted = knn_classify(train_x, train_y, test_x, **kw)
    return float((predicted == _labels(test_y, "test_y", len(predicted))).mean())


def _standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std of x; constant columns get std 1 so they map to 0."""
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > 0, std, 1.0)


def linear_probe(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    l2: float = 1e-3,
    epochs: int = 100,
    lr: float = 0.01,
    seed: int = 0,
) -> float:
    """Test accuracy of softmax regression on features standardised with the training
    mean and std.

    Minimises mean cross-entropy + l2 * ||W||^2 (bias not penalised) with the book's
    Adam over shuffled near-equal minibatches of at most 256, from zero weights; the
    seed fixes the shuffling.
    """
    return float(
        probe_correct(
            train_x, train_y, test_x, test_y, l2=l2, epochs=epochs, lr=lr, seed=seed
        ).mean()
    )


def probe_correct(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    l2: float = 1e-3,
    epochs: int = 100,
    lr: float = 0.01,
    seed: int = 0,
) -> np.ndarray:
    """Per test row, whether `linear_probe`'s classifier is right (mean: accuracy)."""
    ref, labels, queries = _labelled(train_x, train_y, test_x)
    truth = _labels(test_y, "test_y", len(queries))
    check_positive(lr, "lr")
    check_nonnegative(l2, "l2")
    check_int(epochs, "epochs", minimum=1)
    rng = np.random.default_rng(check_int(seed, "seed"))
    mean, std = _standardizer(ref)
    x = (ref - mean) / std
    classes, codes = np.unique(labels, return_inverse=True)
    weight = Tensor(np.zeros((x.shape[1], len(classes))), requires_grad=True)
    bias = Tensor(np.zeros(len(classes)), requires_grad=True)
    optimizer = Adam([weight, bias], lr)
    _fit(x, codes, weight, bias, optimizer, l2, epochs, rng)
    scores = (queries - mean) / std @ weight.data + bias.data
    return classes[scores.argmax(axis=1)] == truth


def _fit(
    x: np.ndarray,
    codes: np.ndarray,
    weight: Tensor,
    bias: Tensor,
    optimizer: Adam,
    l2: float,
    epochs: int,
    rng: np.random.Generator,
) -> None:
    """Minimise mean cross-entropy + l2 * ||weight||^2 over shuffled minibatches.

    Softmax regression's gradients are short enough to write out (what backward() would
    compute): with p = softmax(x W + b) and one-hot targets t, dL/dlogits = (p - t) / B,
    so dL/dW = x^T (p - t) / B + 2 l2 W and dL/db = the column sums of (p - t) / B.
    """
    targets = np.eye(weight.shape[1])[codes]
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(len(x)), -(-len(x) // PROBE_BATCH)):
            xb = x[batch]
            logits = xb @ weight.data + bias.data
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            g = (p / p.sum(axis=1, keepdims=True) - targets[batch]) / len(batch)
            weight.grad = xb.T @ g + 2.0 * l2 * weight.data
            bias.grad = g.sum(axis=0)
            optimizer.step()


def few_label_indices(labels: Any, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of `per_class` examples per class, drawn without replacement."""
    y = check_array(labels, "labels", ndim=1)
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    check_int(per_class, "per_class", minimum=1)
    rng = np.random.default_rng(check_int(seed, "seed"))
    classes, counts = np.unique(y, return_counts=True)
    if counts.min(initial=per_class) < per_class:
        raise ValueError(
            f"per_class must be at most the smallest class size {counts.min()}, got "
            f"{per_class}"
        )
    return np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                for c in classes
            ]
        )
    )


def probe_report(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    per_class: int = 10,
    draws: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """The book's headline evaluation: probe on all labels, on `per_class` labels (mean
    of draws), 5-NN.

    Keys: "probe_all", f"probe_{per_class}" (so "probe_10" by default) and "knn".
    """
    ref, labels, _ = _labelled(train_x, train_y, test_x)
    check_int(draws, "draws", minimum=1)
    check_int(seed, "seed")
    few = [few_label_indices(labels, per_class, seed + d) for d in range(draws)]
    return {
        "probe_all": linear_probe(ref, labels, test_x, test_y, seed=seed),
        f"probe_{per_class}": float(
            np.mean(
                [
                    linear_probe(ref[i], labels[i], test_x, test_y, seed=seed)
                    for i in few
                ]
            )
        ),
        "knn": knn_accuracy(ref, labels, test_x, test_y, k=5),
    }


def embedding_std(z: Any) -> float:
    """Mean std of L2-normalised rows per dimension: ~1/sqrt(d) healthy, 0 collapsed."""
    return float(_unit(_features(z, "z")).std(axis=0).mean())


def effective_rank(z: Any) -> float:
    """exp of the entropy of the normalised singular values of the centred rows (Roy &
    Vetterli 2007).

    Singular values below rounding level (relative to z's size) count as zero; a rank-0
    matrix (all rows identical) gets the minimum value 1.
    """
    x = _features(z, "z")
    top = np.abs(x).max()
    # exact power-of-two rescale: no overflow in norms
    x = np.ldexp(x, -np.frexp(top)[1]) if top > 0 else x
    singular = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    singular = singular[
        singular > max(x.shape) * np.finfo(np.float64).eps * np.linalg.norm(x)
    ]
    if singular.size == 0:
        return 1.0
    p = singular / singular.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


COLLAPSE_STATES = ("complete collapse", "dimensional collapse", "not collapsed")


def collapse_state(z: Any, z_init: Any) -> str:
    """Has training collapsed outputs z, judged against the same network's outputs
    z_init at initialisation?

    "complete collapse": the output std fell below a fifth of the smaller of its initial
    value and 1/sqrt(d) (every input near one direction); "dimensional collapse": the
    effective rank fell below a quarter of its initial value (the outputs use few
    directions); else "not collapsed".
    """
    now, start = _features(z, "z", min_rows=2), _features(z_init, "z_init", min_rows=2)
    if now.shape[1] != start.shape[1]:
        raise ValueError(
            f"z and z_init must have the same width, got {now.shape[1]} and "
            f"{start.shape[1]}"
        )
    if embedding_std(now) < min(embedding_std(start), 1 / np.sqrt(now.shape[1])) / 5:
        return COLLAPSE_STATES[0]
    if effective_rank(now) < effective_rank(start) / 4:
        return COLLAPSE_STATES[1]
    return COLLAPSE_STATES[2]


def alignment(z1: Any, z2: Any) -> float:
    """Mean squared distance of L2-normed positive pairs (Wang & Isola); 0 perfect."""
    a, b = _unit(_features(z1, "z1")), _unit(_features(z2, "z2"))
    if a.shape != b.shape:
        raise ValueError(
            f"z1 and z2 must have the same shape, got {a.shape} and {b.shape}"
        )
    return float(((a - b) ** 2).sum(axis=1).mean())


def uniformity(z: Any, t: float = 2) -> float:
    """log mean over i < j of exp(-t ||u_i - u_j||^2), u the L2-normalised rows."""
    u = _unit(_features(z, "z", min_rows=2))
    t = check_positive(t, "t")
    sq = (u * u).sum(axis=1)
    row_lse = []
    for rows in _row_chunks(len(u), len(u)):
        logits = -t * np.maximum(sq[rows, None] - 2 * u[rows] @ u.T + sq, 0)
        # leave out i == j
        logits[np.arange(logits.shape[0]), np.arange(len(u))[rows]] = -np.inf
        row_lse.append(Tensor(logits).logsumexp(axis=1).data)
    return float(
        Tensor(np.concatenate(row_lse)).logsumexp(axis=0).data
        - np.log(len(u) * (len(u) - 1))
    )
