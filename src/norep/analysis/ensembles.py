r"""Ensembles of temperature-scaled models: every pair of a zoo at once, and greedy growth.

The rule (the paper leaves it open): each member's logits :math:`z` are scaled by its
own temperature :math:`T` (fitted on the calibration split, see
:mod:`norep.analysis.calibration`); the ensemble predicts the class :math:`c` that maximizes the
mean over members of :math:`\mathrm{softmax}(z / T)_c` (rule ``"probabilities"``, the
default) or of :math:`z_c / T` (rule ``"logits"``). The mean and the sum have the same
argmax; ties go to the lowest class index, as ``np.argmax``.

For a pair (a, b):

- ensemble accuracy: share of examples the two-member ensemble gets right;
- relative ensemble improvement: ensemble accuracy minus
  :math:`(\mathrm{acc}_a + \mathrm{acc}_b) / 2`;
- conversion rate: among the examples exactly one member gets right, the share the
  ensemble gets right (NaN when there are none).

All pairs of a zoo, exactly and fast: with :math:`s(c) = p_a(c) + p_b(c)`, the pair is
right on an example with label :math:`y` iff :math:`y` beats every other class (a
higher sum, or an equal sum and a lower index). Each member is ranked once: its label
score, its lowest score and its :math:`R = k + 1` highest non-label classes with their
scores (cached in the store for a :class:`norep.store.Scores`). Most (pair, example)
cases are decided from these alone: :math:`y` wins when :math:`s(y)` exceeds the sum of
the two best non-label scores; :math:`y` loses when one member's best non-label class
:math:`c` has :math:`p(c)` plus the other's lowest score above :math:`s(y)`, or when
both members share that class and its sum is above :math:`s(y)`. For the rest, the
members' ranked classes are taken rank by rank as candidates: a candidate of one member
has its exact sum when it is among the other's ranked classes, else an interval (the
other's lowest score, its :math:`R`-th ranked score); after rank :math:`r`, every class
not yet a candidate is bounded by the sum of the two :math:`(r + 1)`-th scores. Only the
cases this does not decide are summed densely over all classes, reading the two
members' scores on those examples only. Sums are taken in the scores' own dtype, as a
dense ensemble would, and rounding is monotone, so the result equals dense averaging
exactly.

Why improvement follows error inconsistency (the paper's Fig. 2 left) is an identity.
Of a pair's M examples, :math:`n_{11}` both members get right and D exactly one (the
error inconsistency is :math:`\mathrm{EI} = D / M`). The ensemble gets right
:math:`n_{11} - L` of the first (L: **losses**), C of the second (the conversion rate is
:math:`c = C / D`) and R of those both members get wrong (**rescues**). The members'
mean accuracy is :math:`(2 n_{11} + D) / 2M`, so

.. math::

    \mathrm{improvement} = \frac{n_{11} - L + C + R}{M} - \frac{2 n_{11} + D}{2M}
    = \mathrm{EI}\,(c - \tfrac12) + \frac{R}{M} - \frac{L}{M}.

The gain over member a alone adds :math:`-(\mathrm{acc}_a - \mathrm{acc}_b) / 2`. For the
probability average of two members L is 0 but for rounding ties: when both members'
top class is the label, so is the top class of their sum.
:func:`improvement_decomposition` returns these terms for every pair.

Greedy growth (the paper's Fig. 5): from an anchor, add the candidate that most raises
the ensemble's accuracy on the **calibration** split, without replacement (a member is
added once), until ``max_size`` members or no candidate is left; a step is taken even
when it lowers the calibration accuracy. The test split is only read to report each
step's accuracy.

Example:
    >>> scores = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.3, 0.7], [0.45, 0.55]]], np.float32)
    >>> pairs = pairwise_ensembles(scores, np.array([0, 1]))
    >>> float(pairs.accuracy[0, 1]), float(pairs.conversion_rate[0, 1])
    (1.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from norep.runtime import resolve_device
from norep.store import Scores

_RANK_BLOCK = 2048  # rows ranked at a time: a block stays in the CPU cache

@dataclass(frozen=True)
class PairEnsembles:
    """Two-model ensembles of every pair of a zoo; N x N matrices, symmetric.

    Attributes:
        accuracy: Ensemble accuracy; the diagonal holds each model's own accuracy.
        conversion_rate: Share of exactly-one-right examples the ensemble gets right.
        improvement: Ensemble accuracy minus the mean of the members' accuracies.
        undecided: Share of (pair, example) cases that needed the dense fallback.
    """

    accuracy: np.ndarray
    conversion_rate: np.ndarray
    improvement: np.ndarray
    undecided: float


def ensemble_predictions(scores: np.ndarray | Scores) -> np.ndarray:
    """Return the argmax of the members' summed scores, shape (M,).

    Args:
        scores: Members' scores, shape (K, M, C), summed in member order; a
            :class:`norep.store.Scores` is read a block of examples at a time, or, for
            two members, decided from their ranks where they decide (as in
            :func:`pairwise_ensembles`) and read only on the other examples.
    """
    if isinstance(scores, Scores) and len(scores) == 2:
        return _pair_predictions(scores)
    if isinstance(scores, Scores):
        predictions = np.empty(scores.shape[1], dtype=np.intp)
        for parts in zip(*(scores.blocks(i) for i in range(len(scores)))):
            total = parts[0][1]
            for _, member in parts[1:]:
                total += member
            predictions[parts[0][0]] = total.argmax(axis=1)
        return predictions
    total = scores[0].copy()
    for member in scores[1:]:
        total += member
    return total.argmax(axis=1)


def _pair_predictions(scores: Scores, k: int = 5) -> np.ndarray:
    """Argmax of two members' summed scores: the label where the ranks show it wins
    (:func:`pairwise_ensembles`), else the dense sum on those examples only."""
    labels = scores.labels
    right = _pair_right(scores, _ranks(scores, labels, k, [0, 1]), labels, 0, np.array([1]), _Numpy())[0][0]
    predictions = labels.astype(np.intp)
    wrong = np.flatnonzero(~right)
    if wrong.size:
        predictions[wrong] = (scores.member(0, wrong) + scores.member(1, wrong)).argmax(axis=1)
    return predictions


@dataclass(frozen=True)
class _Ranks:
    """Per member and example: the label's score, the lowest score, and the R highest
    non-label classes and their scores (shapes (N, M) and (N, M, R))."""

    label: np.ndarray
    lowest: np.ndarray
    classes: np.ndarray
    values: np.ndarray

    def correct(self, labels: np.ndarray) -> np.ndarray:
        """Each member's top-1 correctness, shape (N, M) (ties go to the lower class)."""
        best = self.values[:, :, 0]
        return (self.label > best) | ((self.label == best) & (labels < self.classes[:, :, 0]))


def pairwise_ensembles(scores: np.ndarray | Scores, labels: np.ndarray, k: int = 5,
                       device: str | None = "cpu") -> PairEnsembles:
    """Accuracy, conversion rate and improvement of every two-model ensemble of a zoo.

    Exact (equal to dense averaging); see the module docstring for the method. A
    :class:`norep.store.Scores` is never held whole: each member's ranks are computed a
    block of examples at a time (and cached in the store), the dense fallback reads the
    members' scores on its examples only.

    Args:
        scores: Every model's scores, shape (N, M, C), e.g. from :func:`norep.store.read_scores`.
        labels: True labels, shape (M,).
        k: Each member's ranked non-label classes are k + 1: larger k decides more
            cases without the dense fallback and holds more per model (N x M x (k + 1)).
        device: Where the pairs are decided: "cpu" (numpy, the default), "cuda", or
            "auto" (a GPU when there is one); any other torch device (e.g. "cpu:0") runs
            the torch path there. The same results on every device: the scores and
            ranks are computed on the CPU, the decisions are exact comparisons of float
            sums.

    Returns:
        The N x N matrices.
    """
    scores = scores if isinstance(scores, Scores) else np.asarray(scores)
    n_models, n_examples, _ = scores.shape
    ranks = _ranks(scores, labels, k, range(n_models))
    correct = ranks.correct(labels)
    xp = _backend(device)
    on_device, device_labels = xp.ranks(ranks), xp.asarray(labels)
    right_count = np.zeros((n_models, n_models))
    converted = np.zeros((n_models, n_models))
    undecided = 0
    for a in range(n_models - 1):
        others = np.arange(a + 1, n_models)
        right, open_ = _pair_right(scores, on_device, device_labels, a, xp.asarray(others), xp)
        undecided += open_
        right_count[a, others] = right.sum(axis=1)
        one_right = correct[a] != correct[others]
        with np.errstate(invalid="ignore", divide="ignore"):
            converted[a, others] = (right & one_right).sum(axis=1) / one_right.sum(axis=1)
    accuracy = (right_count + right_count.T) / n_examples
    single = correct.mean(axis=1)
    np.fill_diagonal(accuracy, single)
    conversion = converted + converted.T
    np.fill_diagonal(conversion, np.nan)
    return PairEnsembles(
        accuracy=accuracy,
        conversion_rate=conversion,
        improvement=accuracy - (single[:, None] + single[None, :]) / 2,
        undecided=undecided / max(1, n_examples * n_models * (n_models - 1) // 2),
    )


def _ranks(scores: np.ndarray | Scores, labels: np.ndarray, k: int, members) -> _Ranks:
    """The ranks of ``members`` (other rows stay zero); a Scores' ranks are cached in the store."""
    n_models, n_examples, n_classes = scores.shape
    depth = max(1, min(k + 1, n_classes - 1))
    if isinstance(scores, Scores) and not np.array_equal(labels, scores.labels):
        raise ValueError("labels differ from the labels of the scores' split")
    ranks = _Ranks(label=np.zeros((n_models, n_examples), scores.dtype),
                   lowest=np.zeros((n_models, n_examples), scores.dtype),
                   classes=np.zeros((n_models, n_examples, depth), np.int32),
                   values=np.zeros((n_models, n_examples, depth), scores.dtype))
    for index in members:
        if isinstance(scores, Scores):
            member = scores.derived(index, "ranks", {"depth": depth},
                                    lambda index=index: _rank(scores.blocks(index), labels, depth))
        else:
            blocks = ((block, scores[index, block]) for block in
                      (slice(start, start + _RANK_BLOCK) for start in range(0, n_examples, _RANK_BLOCK)))
            member = _rank(blocks, labels, depth)
        for name in ("label", "lowest", "classes", "values"):
            getattr(ranks, name)[index] = member[name]
    return ranks


def _rank(blocks, labels: np.ndarray, depth: int) -> dict[str, np.ndarray]:
    """Return the label's score, the lowest score, and the ``depth`` highest non-label
    classes and their scores, per example, from (examples, scores) blocks of one member.

    Ties among non-label classes rank the lower class index first, as ``np.argmax``.
    """
    parts = []
    for block, member in blocks:
        for start in range(0, len(member), _RANK_BLOCK):
            remaining = np.array(member[start:start + _RANK_BLOCK])
            block_labels = labels[block][start:start + _RANK_BLOCK]
            rows = np.arange(len(remaining))
            part = {"lowest": remaining.min(axis=1), "label": remaining[rows, block_labels],
                    "classes": np.empty((len(rows), depth), np.int32),
                    "values": np.empty((len(rows), depth), remaining.dtype)}
            remaining[rows, block_labels] = -np.inf
            for rank in range(depth):
                part["classes"][:, rank] = remaining.argmax(axis=1)
                part["values"][:, rank] = remaining[rows, part["classes"][:, rank]]
                remaining[rows, part["classes"][:, rank]] = -np.inf
            parts.append(part)
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _pair_right(scores: np.ndarray | Scores, ranks: _Ranks, labels, a: int, others,
                xp: "_Numpy") -> tuple[np.ndarray, int]:
    """Correctness of the ensembles (a, b) for every b in ``others``, shape (len(others), M),
    and how many (pair, example) cases needed the dense fallback; ``ranks``, ``labels``
    and ``others`` are arrays of the backend ``xp``."""
    total = ranks.label[a] + ranks.label[others]  # s(y)
    best_a, best_b = ranks.values[a, :, 0], ranks.values[others, :, 0]
    best_other = best_a + best_b
    right = total > best_other
    # a's best class scores at least best_a + lowest[b]; likewise b's
    wrong = (((ranks.classes[a, :, 0] == ranks.classes[others, :, 0]) & (best_other > total))
             | (best_a + ranks.lowest[others] > total) | (best_b + ranks.lowest[a] > total))
    rows, examples = xp.nonzero(~right & ~wrong)
    decided, open_ = _by_candidates(ranks, labels, a, others[rows], examples, total[rows, examples], xp)
    if len(open_):
        dense = _dense_right(scores, xp.to_numpy(labels), a, xp.to_numpy(others[rows[open_]]),
                             xp.to_numpy(examples[open_]))
        decided[open_] = xp.asarray(dense)
    right[rows, examples] = decided
    return xp.to_numpy(right), len(open_)


def _by_candidates(ranks: _Ranks, labels, a: int, b, examples, total, xp: "_Numpy"):
    """Decide (pair (a, b), example) cases from the members' ranked classes, rank by rank.

    Returns whether the label wins where decided, and the cases left open.
    """
    label, depth = labels[examples], ranks.classes.shape[2]
    right, beaten, unknown = xp.false(len(examples)), xp.false(len(examples)), xp.false(len(examples))
    pending = xp.arange(len(examples))
    for rank in range(depth):
        ex, other, own_total, y = examples[pending], b[pending], total[pending], label[pending]
        first = xp.full(len(pending), a)
        for own, member in ((first, other), (other, first)):
            candidate = ranks.classes[own, ex, rank]
            listed = ranks.classes[member, ex] == candidate[:, None]
            found = xp.any(listed)
            exact = ranks.values[member, ex, xp.first_true(listed)]
            low = ranks.values[own, ex, rank] + xp.where(found, exact, ranks.lowest[member, ex])
            high = ranks.values[own, ex, rank] + ranks.values[member, ex, depth - 1]
            beaten[pending] |= (low > own_total) | ((low == own_total) & (candidate < y))
            unknown[pending] |= ~found & (high >= own_total) & ((high > own_total) | (candidate < y))
        bound = ranks.values[a, ex, rank] + ranks.values[other, ex, rank]  # every class not yet a candidate
        wins = ~beaten[pending] & ~unknown[pending] & (own_total > bound)
        right[pending[wins]] = True
        pending = pending[~beaten[pending] & ~wins]
    return right, pending


def _dense_right(scores: np.ndarray | Scores, labels: np.ndarray, a: int, b: np.ndarray,
                 examples: np.ndarray) -> np.ndarray:
    """Whether the label wins the dense sum over all classes, reading only these examples."""
    def read(index: int, rows: np.ndarray) -> np.ndarray:
        return scores.member(index, rows) if isinstance(scores, Scores) else scores[index][rows]

    needed, where = np.unique(examples, return_inverse=True)
    first = read(a, needed)
    right = np.empty(len(examples), dtype=bool)
    for other in np.unique(b):
        cases = np.flatnonzero(b == other)
        dense = first[where[cases]] + read(int(other), examples[cases])
        right[cases] = dense.argmax(axis=1) == labels[examples[cases]]
    return right


class _Numpy:
    """The array operations of the pair decisions, on the CPU with numpy."""

    def asarray(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array)

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def ranks(self, ranks: _Ranks) -> _Ranks:
        return ranks

    def false(self, size: int) -> np.ndarray:
        return np.zeros(size, dtype=bool)

    def arange(self, size: int) -> np.ndarray:
        return np.arange(size)

    def full(self, size: int, value: int) -> np.ndarray:
        return np.full(size, value)

    def nonzero(self, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        return np.nonzero(mask)

    def where(self, condition, chosen, other):
        return np.where(condition, chosen, other)

    def any(self, mask: np.ndarray) -> np.ndarray:
        return mask.any(axis=1)

    def first_true(self, mask: np.ndarray) -> np.ndarray:
        return mask.argmax(axis=1)


class _Torch(_Numpy):
    """The same operations with torch tensors on a device (a GPU)."""

    def __init__(self, device: str):
        import torch

        self.torch, self.device = torch, torch.device(device)

    def asarray(self, array: np.ndarray):
        return self.torch.as_tensor(np.asarray(array), device=self.device)

    def to_numpy(self, array) -> np.ndarray:
        return array.cpu().numpy()

    def ranks(self, ranks: _Ranks) -> _Ranks:
        return _Ranks(*(self.asarray(getattr(ranks, name)) for name in ("label", "lowest", "classes", "values")))

    def false(self, size: int):
        return self.torch.zeros(size, dtype=self.torch.bool, device=self.device)

    def arange(self, size: int):
        return self.torch.arange(size, device=self.device)

    def full(self, size: int, value: int):
        return self.torch.full((size,), value, device=self.device)

    def nonzero(self, mask):
        return self.torch.nonzero(mask, as_tuple=True)

    def where(self, condition, chosen, other):
        return self.torch.where(condition, chosen, other)

    def any(self, mask):
        return mask.any(dim=1)

    def first_true(self, mask):
        return mask.to(self.torch.uint8).argmax(dim=1)  # the first maximum, as numpy


def _backend(device: str | None) -> _Numpy:
    """numpy for the CPU, torch on the device otherwise (``"auto"``: a GPU when there is one)."""
    resolved = "cpu" if device in (None, "cpu") else resolve_device(device)
    return _Numpy() if resolved == "cpu" else _Torch(resolved)


DECOMPOSITION_COLUMNS = ("error_inconsistency", "conversion_rate", "disagreement_term", "rescues", "losses",
                         "improvement")
"""Columns of :func:`improvement_decomposition` (fractions of the examples; the rate a share)."""


def improvement_decomposition(right_a: np.ndarray, right_b: np.ndarray, ensemble_right: np.ndarray) -> pd.DataFrame:
    r"""Split each pair's relative ensemble improvement into its exact terms.

    ``improvement = disagreement_term + rescues - losses`` with ``disagreement_term =
    error_inconsistency * (conversion_rate - 1/2)`` (0 when the members never disagree);
    see the module docstring for the derivation.

    Args:
        right_a: Correctness of each pair's first member, shape (P, M) (or (M,) for one pair).
        right_b: Correctness of each pair's second member, same shape.
        ensemble_right: Correctness of each pair's ensemble, same shape.

    Returns:
        One row per pair with :data:`DECOMPOSITION_COLUMNS`: ``rescues`` is the share of
        examples both members get wrong and the ensemble right, ``losses`` the share both
        get right and the ensemble wrong, ``improvement`` the ensemble's accuracy minus
        the members' mean accuracy; ``conversion_rate`` is NaN without disagreement.

    Example:
        >>> a, b = np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool)
        >>> terms = improvement_decomposition(a, b, np.array([1, 1, 0, 1], bool))
        >>> terms.iloc[0].round(3).tolist()
        [0.5, 0.5, 0.0, 0.25, 0.0, 0.25]
    """
    a, b, ensemble = (np.atleast_2d(np.asarray(x, dtype=bool)) for x in (right_a, right_b, ensemble_right))
    if not a.shape == b.shape == ensemble.shape:
        raise ValueError(f"correctness arrays of different shapes: {a.shape}, {b.shape}, {ensemble.shape}")
    n_examples = a.shape[1]
    one_right = a != b
    disagreement = one_right.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        conversion = (ensemble & one_right).sum(axis=1) / disagreement
    error_inconsistency = disagreement / n_examples
    return pd.DataFrame({
        "error_inconsistency": error_inconsistency,
        "conversion_rate": conversion,
        "disagreement_term": np.where(disagreement > 0, error_inconsistency * (conversion - 0.5), 0.0),
        "rescues": (ensemble & ~a & ~b).sum(axis=1) / n_examples,
        "losses": (~ensemble & a & b).sum(axis=1) / n_examples,
        "improvement": ensemble.mean(axis=1) - (a.mean(axis=1) + b.mean(axis=1)) / 2,
    }, columns=list(DECOMPOSITION_COLUMNS))


def pair_ensemble_correctness(scores: np.ndarray | Scores, labels: np.ndarray, first: np.ndarray,
                              second: np.ndarray, k: int = 5, device: str | None = "cpu") -> np.ndarray:
    """Correctness of the two-member ensemble of each listed pair, example by example.

    Exact, by the method of :func:`pairwise_ensembles` (ranks of the members, the dense
    sum only where they do not decide).

    Args:
        scores: Every model's scores, shape (N, M, C).
        labels: True labels, shape (M,).
        first, second: Index of each pair's two models, shape (P,).
        k: As in :func:`pairwise_ensembles`.
        device: As in :func:`pairwise_ensembles`.

    Returns:
        Shape (P, M), boolean; the same argmax as :func:`ensemble_predictions`.
    """
    first, second = np.asarray(first, dtype=int), np.asarray(second, dtype=int)
    scores = scores if isinstance(scores, Scores) else np.asarray(scores)
    right = np.zeros((len(first), len(labels)), dtype=bool)
    ranks = _ranks(scores, labels, k, np.unique(np.concatenate([first, second])))
    xp = _backend(device)
    on_device, device_labels = xp.ranks(ranks), xp.asarray(labels)
    for a in np.unique(first):
        pairs = np.flatnonzero(first == a)
        right[pairs] = _pair_right(scores, on_device, device_labels, int(a), xp.asarray(second[pairs]), xp)[0]
    return right


def greedy_selection(scores: np.ndarray, labels: np.ndarray, anchor: int, candidates: list[int],
                     max_size: int) -> tuple[list[int], list[float]]:
    """Grow an ensemble from ``anchor`` by the candidate that most raises its accuracy.

    Candidates are added without replacement (each at most once), one per step, the
    best even when it lowers the accuracy; the growth stops at ``max_size`` members or
    when no candidate is left.

    Args:
        scores: Scores on the selection split, shape (N, M, C).
        labels: Labels of the selection split.
        anchor: Index of the first member.
        candidates: Indices that may be added (ties go to the earlier one).
        max_size: Largest ensemble, anchor included.

    Returns:
        The members in the order they were added (anchor first), and the selection
        accuracy after each addition.
    """
    members, total = [anchor], scores[anchor].copy()
    accuracies = [float(np.mean(total.argmax(axis=1) == labels))]
    remaining = [c for c in candidates if c != anchor]
    while remaining and len(members) < max_size:
        gains = [np.mean((total + scores[c]).argmax(axis=1) == labels) for c in remaining]
        chosen = remaining.pop(int(np.argmax(gains)))
        members.append(chosen)
        total += scores[chosen]
        accuracies.append(float(max(gains)))
    return members, accuracies
