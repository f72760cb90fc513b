r"""Pairwise agreement metrics over whole zoos, with paired bootstrap intervals.

Every metric of a pair of models (a, b) is a function of five counts over the examples
that **both** models answered (imported models may miss answers: such examples are
left out pair by pair, so each pair has its own :math:`n`):

- :math:`n`: examples both models answered;
- :math:`RR` (both right), :math:`RW` (a right, b wrong), :math:`WR` (a wrong, b right);
- :math:`SW`: both wrong with the same top-1 label;
- :math:`WW = n - RR - RW - WR`: both wrong.

With the accuracies on the pair's examples :math:`p_a = (RR + RW) / n` and
:math:`p_b = (RR + WR) / n`:

- accuracy: :math:`p_a` (of the row model; the matrix's transpose holds :math:`p_b`);
- error inconsistency: :math:`(RW + WR) / n`, the share of examples exactly one model
  gets right;
- error consistency kappa (Geirhos et al. 2020):

  .. math::

     c_\mathrm{obs} = \frac{RR + WW}{n}, \qquad
     c_\mathrm{exp} = p_a p_b + (1 - p_a)(1 - p_b), \qquad
     \kappa = \frac{c_\mathrm{obs} - c_\mathrm{exp}}{1 - c_\mathrm{exp}}.

  When :math:`c_\mathrm{exp} = 1` (both models always right, or both always wrong)
  kappa is undefined and set to NaN, as scikit-learn's ``cohen_kappa_score`` does;
- disagreement: :math:`1 - (RR + SW) / n`, the share of examples with different top-1
  labels;
- double fault: :math:`WW / n`; either right (the oracle of the pair): :math:`1 - WW / n`;
- Yule's Q: :math:`(RR \cdot WW - RW \cdot WR) / (RR \cdot WW + RW \cdot WR)`, NaN when
  the denominator is 0.

All :math:`N \times N` counts come at once, without a loop over pairs, from exact
integer products of 0/1 matrices: :math:`RR = R R^\top` with :math:`R_{im} = 1` when
model :math:`i` is right on example :math:`m`, and so on. The same-wrong counts come
from sorting, per example, the models by their (wrong) label: the models that share a
wrong label form a run; a large run becomes one column of another exact 0/1 matrix
product, and the pairs of a small run are counted directly (see ``_same_wrong_pairs``).
:func:`norep.store.read_outcomes` reads the inputs from a store, logit models and
top-1-only models alike.

Intervals come from the paired bootstrap over examples: each bootstrap sample redraws
the examples with replacement, the same draw for both models of a pair and for every
pair, so differences between pairs have intervals too (from ``samples``).

Example:
    >>> correct = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool)
    >>> float(pair_metrics(correct)["error_inconsistency"][0, 1])
    0.5
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from norep.analysis.bootstrap import (
    Interval,
    bootstrap_sums,
    percentile_interval,
    stored_weights,
)

PAIR_METRICS = (
    "accuracy", "error_inconsistency", "kappa", "disagreement", "double_fault",
    "either_right", "yules_q",
)
"""Names of the pair metrics that :func:`pair_metrics` and :func:`bootstrap_pairs` compute."""

_EXACT_BLOCK = 1 << 30  # examples per int32-accumulated product: counts cannot overflow
_SORT_BLOCK = 2048  # examples whose model keys are sorted at a time (same-wrong counts)
_COLUMN_BUDGET = 1 << 26  # bytes of 0/1 group columns multiplied out at once
_CELL_BUDGET = 1 << 24  # per-example pair indicators held at once (pairs are chunked)


@dataclass(frozen=True)
class PairCounts:
    """The counts of pairs (any array shape, e.g. N x N or bootstrap x pairs).

    Every metric in :data:`PAIR_METRICS` is a property; ``same_wrong`` is None when no
    predictions were given, and then ``disagreement`` raises a ValueError.
    """

    n: np.ndarray
    both_right: np.ndarray
    right_wrong: np.ndarray
    wrong_right: np.ndarray
    same_wrong: np.ndarray | None = None

    def _share(self, count: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return count / self.n

    @property
    def both_wrong(self) -> np.ndarray:
        """WW = n - RR - RW - WR."""
        return self.n - self.both_right - self.right_wrong - self.wrong_right

    @property
    def accuracy(self) -> np.ndarray:
        """Accuracy of model a on the pair's examples."""
        return self._share(self.both_right + self.right_wrong)

    @property
    def accuracy_b(self) -> np.ndarray:
        """Accuracy of model b on the pair's examples."""
        return self._share(self.both_right + self.wrong_right)

    @property
    def error_inconsistency(self) -> np.ndarray:
        """Share of examples exactly one model gets right."""
        return self._share(self.right_wrong + self.wrong_right)

    @property
    def kappa(self) -> np.ndarray:
        """Error consistency kappa; NaN where c_exp = 1."""
        p_a, p_b = self.accuracy, self.accuracy_b
        expected = p_a * p_b + (1 - p_a) * (1 - p_b)
        observed = 1 - self.error_inconsistency
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)

    @property
    def disagreement(self) -> np.ndarray:
        """Share of examples with different top-1 labels."""
        if self.same_wrong is None:
            raise ValueError("disagreement needs the models' predictions, not only correctness")
        return 1 - self._share(self.both_right + self.same_wrong)

    @property
    def double_fault(self) -> np.ndarray:
        """Share of examples both models get wrong."""
        return self._share(self.both_wrong)

    @property
    def either_right(self) -> np.ndarray:
        """Share of examples at least one model gets right (the pair's oracle)."""
        return 1 - self.double_fault

    @property
    def yules_q(self) -> np.ndarray:
        """Yule's Q of the two correctness indicators; NaN where it is 0/0."""
        concordant = self.both_right * self.both_wrong
        discordant = self.right_wrong * self.wrong_right
        with np.errstate(invalid="ignore", divide="ignore"):
            return (concordant - discordant) / (concordant + discordant)


def pair_counts(correct: np.ndarray, predictions: np.ndarray | None = None,
                valid: np.ndarray | None = None) -> PairCounts:
    """Count RR, RW, WR, SW and n for every pair of models at once.

    Args:
        correct: Top-1 correctness, shape (N, M).
        predictions: Top-1 labels (int, -1 for no answer), shape (N, M); needed only for
            ``same_wrong`` (hence disagreement).
        valid: Where each model answered, shape (N, M); by default where
            ``predictions >= 0``, or everywhere without predictions.

    Returns:
        N x N integer counts; entry (i, j) describes the pair (model i, model j).

    Example:
        >>> counts = pair_counts(np.array([[1, 1, 0], [1, 0, 0]], dtype=bool))
        >>> counts.right_wrong.tolist()
        [[0, 1], [0, 0]]
    """
    correct, predictions, valid, low = _check(correct, predictions, valid)
    right = correct & valid if valid is not None else correct
    same_wrong = None
    if predictions is None:
        both_right = _gram(right, right)
    else:  # the matrix product runs in a second thread (it releases the GIL) meanwhile
        with ThreadPoolExecutor(1) as pool:
            product = pool.submit(_gram, right, right)
            same_wrong = _same_wrong_pairs(predictions, ~correct if valid is None else valid & ~correct, low)
            both_right = product.result()
    if valid is None:
        n = np.full_like(both_right, correct.shape[1])
        right_answered = np.repeat(np.diagonal(both_right)[:, None], len(right), axis=1)
    else:
        n = _gram(valid, valid)
        right_answered = _gram(right, valid)
    if same_wrong is not None:  # a model shares every wrong label with itself
        np.fill_diagonal(same_wrong, np.diagonal(n) - np.diagonal(both_right))
    return PairCounts(
        n=n,
        both_right=both_right,
        right_wrong=right_answered - both_right,
        wrong_right=right_answered.T - both_right,
        same_wrong=same_wrong,
    )


def pair_metrics(correct: np.ndarray, predictions: np.ndarray | None = None,
                 valid: np.ndarray | None = None, metrics: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Return N x N matrices of pair metrics (formulas in the module docstring).

    Args:
        correct: Top-1 correctness, shape (N, M).
        predictions: Top-1 labels, shape (N, M); needed for ``disagreement``.
        valid: Where each model answered; all answered when None.
        metrics: Names from :data:`PAIR_METRICS`; by default all of them, without
            ``disagreement`` when no predictions are given.

    Returns:
        One N x N float matrix per metric name.

    Example:
        >>> o = read_outcomes(store)                                    # doctest: +SKIP
        >>> pair_metrics(o.correct, o.predictions, o.valid)["kappa"]    # doctest: +SKIP
    """
    counts = pair_counts(correct, predictions, valid)
    return {name: getattr(counts, name) for name in _metric_names(metrics, predictions)}


def all_pairs(n_models: int) -> np.ndarray:
    """Return the index pairs (i, j), i < j, of ``n_models`` models, shape (P, 2)."""
    return np.stack(np.triu_indices(n_models, 1), axis=1)


def bootstrap_pair_counts(correct: np.ndarray, predictions: np.ndarray | None = None,
                          valid: np.ndarray | None = None, pairs: np.ndarray | None = None,
                          n_boot: int = 1000, seed: int = 0) -> tuple[PairCounts, PairCounts]:
    """Return the counts of some pairs on all examples and on bootstrap resamples.

    Args:
        correct: Top-1 correctness, shape (N, M).
        predictions: Top-1 labels, shape (N, M), for ``same_wrong``.
        valid: Where each model answered; all answered when None.
        pairs: Model index pairs, shape (P, 2); all pairs i < j by default.
        n_boot: Number of bootstrap samples B.
        seed: Seed of the resampling.

    Returns:
        The counts on all examples (shape (P,)) and per bootstrap sample (shape (B, P)).
    """
    correct, predictions, valid, _ = _check(correct, predictions, valid)
    pairs = all_pairs(len(correct)) if pairs is None else np.asarray(pairs, dtype=int).reshape(-1, 2)
    n_cells = 4 if predictions is None else 5
    chunk = max(1, _CELL_BUDGET // (n_cells * correct.shape[1]))
    # every chunk sees the same resamples: drawn once and kept when there are several chunks
    weights = None if len(pairs) <= chunk else stored_weights(correct.shape[1], n_boot, seed)
    full, boot = [], []
    for start in range(0, len(pairs), chunk):
        values = _cells(correct, predictions, valid, pairs[start:start + chunk])
        full.append(values.sum(axis=0).reshape(n_cells, -1))
        if weights is None:
            sums = bootstrap_sums(values, n_boot, seed)
        else:
            values = values.astype(np.float64)
            sums = np.concatenate([w.astype(np.float64) @ values for w in weights])
        boot.append(sums.reshape(n_boot, n_cells, -1))
    return PairCounts(*np.concatenate(full, axis=1)), PairCounts(*np.concatenate(boot, axis=2).transpose(1, 0, 2))


def _cells(correct: np.ndarray, predictions: np.ndarray | None, valid: np.ndarray | None,
           pairs: np.ndarray) -> np.ndarray:
    """Per-example indicators of n, RR, RW, WR (and SW) of each pair, shape (M, cells * P)."""
    a, b = pairs[:, 0], pairs[:, 1]
    answered = np.ones((len(pairs), correct.shape[1]), bool) if valid is None else valid[a] & valid[b]
    right_a, right_b = correct[a] & answered, correct[b] & answered
    cells = [answered, right_a & right_b, right_a & ~right_b, ~right_a & right_b]
    if predictions is not None:
        cells.append(answered & ~right_a & ~right_b & (predictions[a] == predictions[b]))
    return np.concatenate(cells).T


def bootstrap_pairs(correct: np.ndarray, predictions: np.ndarray | None = None,
                    valid: np.ndarray | None = None, pairs: np.ndarray | None = None,
                    metrics: tuple[str, ...] | None = None, n_boot: int = 1000,
                    level: float = 0.95, seed: int = 0) -> dict[str, Interval]:
    """Paired bootstrap intervals of pair metrics.

    Args:
        correct: Top-1 correctness, shape (N, M).
        predictions: Top-1 labels, shape (N, M); needed for ``disagreement``.
        valid: Where each model answered; all answered when None.
        pairs: Model index pairs, shape (P, 2); all pairs i < j by default.
        metrics: Names from :data:`PAIR_METRICS` (default as in :func:`pair_metrics`).
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        One :class:`Interval` per metric, each over the P pairs.

    Example:
        >>> ci = bootstrap_pairs(correct, pairs=[(0, 1)], metrics=("kappa",))  # doctest: +SKIP
        >>> ci["kappa"].low, ci["kappa"].high                                   # doctest: +SKIP
    """
    full, boot = bootstrap_pair_counts(correct, predictions, valid, pairs, n_boot, seed)
    return {
        name: percentile_interval(getattr(full, name), getattr(boot, name), level)
        for name in _metric_names(metrics, predictions)
    }


def _metric_names(metrics: tuple[str, ...] | None, predictions: np.ndarray | None) -> tuple[str, ...]:
    """Return the requested metric names, by default all that ``predictions`` allow."""
    if metrics is None:
        return tuple(m for m in PAIR_METRICS if predictions is not None or m != "disagreement")
    unknown = set(metrics) - set(PAIR_METRICS)
    if unknown:
        raise ValueError(f"unknown pair metric(s) {sorted(unknown)}; use {PAIR_METRICS}")
    return tuple(metrics)


def _check(correct: np.ndarray, predictions: np.ndarray | None,
           valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, int | None]:
    """Check that the arrays are aligned; validity defaults to answered predictions and
    is None when every model answered every example. Also returns the smallest
    prediction (None without predictions)."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2:
        raise ValueError(f"correctness must have shape (models, examples), got {correct.shape}")
    for name, array in (("predictions", predictions), ("valid", valid)):
        if array is not None and np.shape(array) != correct.shape:
            raise ValueError(f"{name} has shape {np.shape(array)}, correctness {correct.shape}: "
                             "rows must be the same models, columns the same examples")
    low = None
    if predictions is not None:
        predictions = np.asarray(predictions)
        low = int(predictions.min()) if predictions.size else 0
        if valid is None and low < 0:
            valid = predictions >= 0
    valid = None if valid is None or np.all(valid) else np.asarray(valid, dtype=bool)
    return correct, predictions, valid, low


def _gram(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return ``left @ right.T`` for 0/1 matrices, exactly, as int64.

    numpy has no integer matrix product; torch's int8 x int8 -> int32 product is exact
    and several times faster than a float32 one.
    """
    if left.shape[1] < 8:  # torch's CPU _int_mm returns garbage for an inner size of 1
        return left.astype(np.int64) @ right.astype(np.int64).T
    total = np.zeros((len(left), len(right)), dtype=np.int64)
    for start in range(0, left.shape[1], _EXACT_BLOCK):
        block = slice(start, start + _EXACT_BLOCK)
        total += torch._int_mm(_int8(left[:, block]), _int8(right[:, block]).T).numpy()
    return total


def _int8(matrix: np.ndarray) -> torch.Tensor:
    matrix = np.ascontiguousarray(matrix)
    return torch.from_numpy(matrix.view(np.int8) if matrix.dtype == bool else matrix.astype(np.int8, copy=False))


def _same_wrong_pairs(predictions: np.ndarray, wrong: np.ndarray, low: int | None = None) -> np.ndarray:
    r"""Count, for every pair of different models, the examples both get wrong with the
    same label (N x N, int64, diagonal 0); ``low`` is the smallest prediction when known.

    On one example, the models that give the same wrong label form a group; a group of
    :math:`k \ge 2` models adds 1 to every pair of its members. The groups come from
    sorting, for each example, one integer key per model,

    .. math::

       \mathrm{key}_{im} = \big( (\mathrm{label}_{im} - \ell_0) \cdot 2
       + \mathrm{wrong}_{im} \big) \cdot 2^{b} + i,

    with :math:`\ell_0` the smallest label and :math:`2^b > N`: a row of an example
    sorts by (label, wrongness), then model, so every group is a run of equal
    ``key >> b`` with its members in model order (one vectorized row sort per block of
    examples, no Python loop over examples). A large group (more than about
    :math:`N / 20` members) becomes one 0/1 column of an exact integer matrix product
    (cost :math:`N^2` per column, at int8 matrix-product speed); a small one adds its
    :math:`k (k - 1) / 2` pairs directly (cost :math:`k^2`).
    """
    n_models, n_examples = predictions.shape
    total = np.zeros((n_models, n_models), dtype=np.int64)
    if n_models and n_examples:
        keys = _SortKeys(predictions, wrong, low)
        member = (1 << keys.model_bits) - 1
        few = max(2, n_models // 20)  # groups of at most this many models: pairs counted directly
        columns = _GroupColumns(n_models)
        small_members, small_sizes = [], []
        for start in range(0, n_examples, _SORT_BLOCK):
            rows = keys.block(start, start + _SORT_BLOCK)  # one row per example
            rows.sort(axis=1)
            starts, sizes = _wrong_runs(rows, keys.model_bits)
            members = rows.ravel()
            big = sizes > few
            columns.add(_runs(members, starts[big], sizes[big]) & member, sizes[big], total)
            small_members.append(_runs(members, starts[~big], sizes[~big]) & member)
            small_sizes.append(sizes[~big])
        with ThreadPoolExecutor(1) as pool:  # the last matrix product runs meanwhile
            product = pool.submit(columns.flush, total)
            small = _small_group_pairs(np.concatenate(small_members), np.concatenate(small_sizes), n_models)
            product.result()
        total += small
    np.fill_diagonal(total, 0)
    return total


def _runs(values: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The concatenated runs ``values[start:start + size]``."""
    offset = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
    return values[np.arange(len(offset)) + offset]


class _SortKeys:
    """The keys of :func:`_same_wrong_pairs`, built a block of examples at a time."""

    def __init__(self, predictions: np.ndarray, wrong: np.ndarray, low: int | None = None):
        n_models = len(predictions)
        self.model_bits = max(1, int(n_models - 1).bit_length())
        low = int(predictions.min()) if low is None else int(low)
        span = int(predictions.max()) - low + 1
        if (2 * span).bit_length() + self.model_bits > 62:  # huge label values: number them 0..L-1
            predictions = np.unique(predictions, return_inverse=True)[1].reshape(predictions.shape)
            low, span = 0, int(predictions.max()) + 1
        self.dtype = np.int32 if (2 * span).bit_length() + self.model_bits <= 31 else np.int64
        self.predictions, self.wrong, self.low = predictions, wrong.view(np.uint8), low
        self.model = np.arange(n_models, dtype=self.dtype)[:, None]

    def block(self, start: int, stop: int) -> np.ndarray:
        """Keys of examples start..stop-1, one row per example, shape (examples, N)."""
        predictions = self.predictions[:, start:stop]
        key = np.empty(predictions.shape, dtype=self.dtype)  # built model by model (contiguous rows)
        if self.low:
            np.subtract(predictions, self.low, out=key, casting="unsafe")
            key <<= 1
        else:
            np.left_shift(predictions, 1, out=key, casting="unsafe")
        np.add(key, self.wrong[:, start:stop], out=key, casting="unsafe")
        key <<= self.model_bits
        key |= self.model
        return torch.from_numpy(key).T.contiguous().numpy()  # torch transposes blocks much faster


def _small_group_pairs(members: np.ndarray, sizes: np.ndarray, n_models: int) -> np.ndarray:
    """N x N counts of the pairs within groups (both orders, diagonal 0): ``members``
    holds the groups' model ids one group after the other, ``sizes`` their sizes."""
    starts = np.cumsum(sizes) - sizes
    upper = np.zeros(n_models * n_models, dtype=np.int64)
    for size in np.flatnonzero(np.bincount(sizes)):
        group = members[starts[sizes == size][:, None] + np.arange(size)].astype(np.intp)
        i, j = np.triu_indices(size, 1)
        upper += np.bincount((group[:, i] * n_models + group[:, j]).ravel(), minlength=len(upper))
    upper = upper.reshape(n_models, n_models)
    return upper + upper.T


def _wrong_runs(rows: np.ndarray, model_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each group of at least 2 models with the same wrong label starts in the
    sorted rows (flat index) and its size."""
    group = rows >> model_bits  # (label << 1) | wrong
    boundary = np.empty(rows.shape, dtype=bool)
    boundary[:, 0] = True  # runs never cross examples
    np.not_equal(group[:, 1:], group[:, :-1], out=boundary[:, 1:])
    starts = np.flatnonzero(boundary)
    sizes = np.diff(starts, append=rows.size)
    shared = (sizes >= 2) & ((group.ravel()[starts] & 1) == 1)
    return starts[shared], sizes[shared]


class _GroupColumns:
    """0/1 columns of large groups (models x groups), multiplied out a batch at a time.

    A batch holds up to ``_COLUMN_BUDGET`` bytes: one large product is much faster than
    several small ones.
    """

    def __init__(self, n_models: int, capacity: int | None = None):
        capacity = max(64, _COLUMN_BUDGET // max(1, n_models)) if capacity is None else capacity
        self.matrix = np.zeros((n_models, capacity), dtype=np.int8)  # pages zeroed on first use
        self.used = 0

    def add(self, members: np.ndarray, sizes: np.ndarray, total: np.ndarray) -> None:
        """Add one column per group: ``members`` holds the groups' model ids one group
        after the other, ``sizes`` their sizes."""
        if self.used + len(sizes) > self.matrix.shape[1]:
            self.flush(total)
            if len(sizes) > self.matrix.shape[1]:
                self.matrix = np.zeros((len(self.matrix), len(sizes)), dtype=np.int8)
        column = np.repeat(np.arange(self.used, self.used + len(sizes)), sizes)
        self.matrix.ravel()[members.astype(np.intp) * self.matrix.shape[1] + column] = 1
        self.used += len(sizes)

    def flush(self, total: np.ndarray) -> None:
        """Add the product of the columns so far to ``total`` and empty the batch."""
        if self.used >= 8:  # in place, without copying the batch
            batch = torch.from_numpy(self.matrix)[:, :self.used]
            total += torch._int_mm(batch, batch.T).numpy()
        elif self.used:
            total += _gram(self.matrix[:, :self.used], self.matrix[:, :self.used])
        self.matrix[:, :self.used] = 0
        self.used = 0
