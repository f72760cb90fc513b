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
score, its lowest score and its :math:`k + 1` highest non-label classes. Most (pair,
example) cases are then decided from these alone: :math:`y` wins when :math:`s(y)`
exceeds the sum of the two best non-label scores; :math:`y` loses when one member's
best non-label class :math:`c` has :math:`p(c)` plus the other's lowest score above
:math:`s(y)`, or when both members share that class and its sum is above :math:`s(y)`.
For the rest, the :math:`2k` candidate classes (each member's top :math:`k`) are scored
exactly, and every other class is bounded by the sum of the two :math:`(k + 1)`-th
highest non-label scores; only the cases this does not decide are summed densely over
all classes. Sums are taken in the scores' own dtype, as a dense ensemble would, and
rounding is monotone, so the result equals dense averaging exactly.

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


def ensemble_predictions(scores: np.ndarray) -> np.ndarray:
    """Return the argmax of the members' summed scores, shape (M,).

    Args:
        scores: Members' scores, shape (K, M, C), summed in member order.
    """
    total = scores[0].copy()
    for member in scores[1:]:
        total += member
    return total.argmax(axis=1)


def pairwise_ensembles(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> PairEnsembles:
    """Accuracy, conversion rate and improvement of every two-model ensemble of a zoo.

    Exact (equal to dense averaging); see the module docstring for the method.

    Args:
        scores: Every model's scores, shape (N, M, C), e.g. from :func:`member_scores`.
        labels: True labels, shape (M,).
        k: Candidate classes per member; larger k decides more examples without the
            dense fallback but reads more scores per pair.

    Returns:
        The N x N matrices.
    """
    scores = np.ascontiguousarray(scores)
    n_models, n_examples, n_classes = scores.shape
    k = min(k, n_classes - 2) if n_classes > 2 else 0
    buffer = np.empty((min(_RANK_BLOCK, n_examples), n_classes), dtype=scores.dtype)
    ranked = [_rank(member, labels, k, buffer) for member in scores]
    label_score, lowest = np.stack([r[0] for r in ranked]), np.stack([r[1] for r in ranked])  # (N, M)
    top_class = np.stack([r[2] for r in ranked])  # (N, M, k + 1)
    top_score = np.stack([r[3] for r in ranked])
    best_class, best_score = top_class[:, :, 0].copy(), top_score[:, :, 0].copy()
    correct = (label_score > best_score) | ((label_score == best_score) & (labels < best_class))
    right_count = np.zeros((n_models, n_models))
    converted = np.zeros((n_models, n_models))
    undecided = 0
    for a in range(n_models - 1):
        others = slice(a + 1, n_models)
        total = label_score[a] + label_score[others]  # (n, M): s(y)
        best_other = best_score[a] + best_score[others]
        right = total > best_other
        # a's best class scores at least best_score[a] + lowest[b]; likewise b's
        wrong = (((best_class[a] == best_class[others]) & (best_other > total))
                 | (best_score[a] + lowest[others] > total) | (best_score[others] + lowest[a] > total))
        rows, examples = np.nonzero(~right & ~wrong)
        b = rows + a + 1
        beaten, bounded = _candidates(scores, labels, a, b, examples, total[rows, examples],
                                      top_class, top_score, k)
        open_ = ~beaten & ~bounded
        undecided += int(open_.sum())
        decided = ~beaten & bounded
        dense = scores[a, examples[open_]] + scores[b[open_], examples[open_]]
        decided[open_] = dense.argmax(axis=1) == labels[examples[open_]]
        right[rows, examples] = decided
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


def _rank(member: np.ndarray, labels: np.ndarray, k: int,
          buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the label's score, the lowest score, and the k + 1 highest non-label
    classes and their scores, per example.

    Ties among non-label classes rank the lower class index first, as ``np.argmax``.
    Rows are ranked a block at a time in ``buffer``, which is overwritten.
    """
    n_examples = len(labels)
    label_score, lowest = np.empty(n_examples, dtype=member.dtype), np.empty(n_examples, dtype=member.dtype)
    classes = np.empty((n_examples, k + 1), dtype=np.intp)
    values = np.empty((n_examples, k + 1), dtype=member.dtype)
    for start in range(0, n_examples, len(buffer)):
        block = slice(start, min(start + len(buffer), n_examples))
        remaining = buffer[:block.stop - start]
        rows = np.arange(len(remaining))
        np.copyto(remaining, member[block])
        remaining.min(axis=1, out=lowest[block])
        label_score[block] = remaining[rows, labels[block]]
        remaining[rows, labels[block]] = -np.inf
        for rank in range(k + 1):
            classes[block, rank] = remaining.argmax(axis=1)
            values[block, rank] = remaining[rows, classes[block, rank]]
            remaining[rows, classes[block, rank]] = -np.inf
    return label_score, lowest, classes, values


def _candidates(scores: np.ndarray, labels: np.ndarray, a: int, b: np.ndarray, examples: np.ndarray,
                total: np.ndarray, top_class: np.ndarray, top_score: np.ndarray,
                k: int) -> tuple[np.ndarray, np.ndarray]:
    """Decide (pair (a, b), example) cases from the members' top-k non-label classes.

    Returns whether one of the 2k candidate classes beats the label (a higher sum, or
    an equal sum and a lower index), and whether the bound on every other class lies
    below the label's sum ``total``.
    """
    label = labels[examples]
    beaten = np.zeros(len(examples), dtype=bool)
    for rank in range(k):
        for own, member in ((a, b), (b, a)):
            candidate = top_class[own, examples, rank]
            score = top_score[own, examples, rank] + scores[member, examples, candidate]
            beaten |= (score > total) | ((score == total) & (candidate < label))
    return beaten, total > top_score[a, examples, k] + top_score[b, examples, k]


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


def pair_ensemble_correctness(scores: np.ndarray, labels: np.ndarray, first: np.ndarray,
                              second: np.ndarray) -> np.ndarray:
    """Correctness of the two-member ensemble of each listed pair, example by example.

    Args:
        scores: Every model's scores, shape (N, M, C).
        labels: True labels, shape (M,).
        first, second: Index of each pair's two models, shape (P,).

    Returns:
        Shape (P, M), boolean; the same argmax as :func:`ensemble_predictions`.
    """
    right = np.zeros((len(first), len(labels)), dtype=bool)
    for pair, (a, b) in enumerate(zip(first, second)):
        right[pair] = ensemble_predictions(scores[[a, b]]) == labels
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
