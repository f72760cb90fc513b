r"""Linear probes: multinomial logistic regression on frozen features, full batch, L-BFGS.

A probe standardizes the features with the mean and standard deviation of its training
rows only, then minimizes

.. math::

   \frac{1}{M} \sum_{m=1}^{M} \Big[ \log \sum_c e^{w_c^\top x_m + b_c}
   - (w_{y_m}^\top x_m + b_{y_m}) \Big] + \frac{\lambda}{2} \lVert W \rVert_F^2

with L-BFGS in torch, on the CPU by default or on a given device. The bias is not
penalized. scikit-learn's ``LogisticRegression(C=C)`` minimizes the same objective times
:math:`M C` when :math:`\lambda = 1 / (M C)`, and its L-BFGS stops by the same rule
(:data:`TOLERANCE`).

Where the time goes: every evaluation of the objective reads the M x D features twice
(the logits, then the weights' gradient), two matrix products with only C columns that
are bound by memory, and on small problems torch's per-call overhead dominates. So the
L-BFGS here (:func:`minimize`) is written for this objective: the standardization is
folded into the weights (no standardized copy of the features), the gradient is
computed by hand (no autograd graph), and the line search moves along cached logits
(:class:`Objective`): one L-BFGS iteration reads the features exactly twice, however many
steps its line search tries.

How many iterations: the embeddings of trained networks are strongly correlated, and on
correlated features L-BFGS from the identity needs hundreds of iterations.
:func:`minimize` runs L-BFGS in coordinates whitened by the features' correlation matrix
(:func:`whitening`, estimated once from a sample of rows, shifted by the penalty),
which cuts them several-fold on such features (``benchmarks/probe_speed.py --store``).

:func:`select_probe` chooses :math:`\lambda` from a log grid by accuracy on a held-out
split (ties to the stronger penalty), then refits on the training and held-out rows
together, starting from the chosen fit (the same function under the new rows'
standardization: :meth:`LinearProbe.restandardized`).

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 5)); y = (x[:, 0] > 0).astype(int)
    >>> train_probe(x, y, l2=1e-3).accuracy(x, y) > 0.95
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import torch

L2_GRID = tuple(float(v) for v in np.logspace(-6, 0, 7))
"""Default penalties searched by :func:`select_probe`, from weak to strong."""

TOLERANCE = 1e-4
"""Stop when no entry of the objective's gradient exceeds this in absolute value:
scikit-learn's default ``tol`` of its L-BFGS solver (scipy's ``gtol``), on the same
(mean) objective."""

HISTORY = 64
"""Curvature pairs L-BFGS keeps. scipy's default (which scikit-learn uses) is 10; on four
zoo networks' embeddings of 50,000 images (``benchmarks/probe_speed.py --store``) 64 pairs
need about 30% fewer iterations, and a pair costs two matrix-vector products per iteration."""

WOLFE = (1e-4, 0.9)
"""Sufficient-decrease and curvature constants of the (strong Wolfe) line search."""

WHITENING_ROWS = 4096
"""Rows (at most, evenly spaced) whose correlations :func:`whitening` estimates."""

WHITENING_FLOOR = 1e-2
"""Added to the diagonal of the correlation matrix before it is inverted: directions of
smaller variance are left to L-BFGS's own scaling (on the chapters' probes the iteration
counts change little between 1e-3 and 1e-2)."""

REFRESH = 25
"""Iterations after which the cached logits are recomputed from the weights (the
updates along each step add rounding errors)."""


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run torch's CPU operations on ``threads`` threads inside the block (None: unchanged).

    Small probes gain nothing from a second thread, and on a busy machine several
    threads wait on each other: on two shared cores one thread was up to ten times
    faster than two (a 1,600 x 128 x 10 probe: 0.55 s against 6.5 s).

    Example:
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class LinearProbe:
    """A fitted probe: standardization, weights and bias.

    Attributes:
        mean: Feature means of the training rows, shape (D,).
        scale: Their standard deviations (1 where a feature is constant), shape (D,).
        weight: Shape (D, C).
        bias: Shape (C,).
        l2: The penalty it was fitted with.
        iterations: L-BFGS iterations of the fit that made it (0: made otherwise).
    """

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    l2: float
    iterations: int = 0

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Return the class scores of rows of features, shape (M, C)."""
        return ((np.asarray(features, dtype=np.float32) - self.mean) / self.scale) @ self.weight + self.bias

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Return the predicted class of each row."""
        return self.logits(features).argmax(axis=1)

    def accuracy(self, features: np.ndarray, labels: np.ndarray) -> float:
        """Return the share of rows whose predicted class is the label."""
        return float(np.mean(self.predict(features) == np.asarray(labels)))

    def restandardized(self, mean: np.ndarray, scale: np.ndarray) -> LinearProbe:
        """Return the probe giving the same class scores under another standardization (a warm
        start for a fit on other rows of the same features)."""
        weight = self.weight * (scale / self.scale)[:, None]
        bias = self.bias + ((mean - self.mean) / self.scale) @ self.weight
        return LinearProbe(mean, scale, weight.astype(np.float32), bias.astype(np.float32), self.l2)


def stacked_start(first: LinearProbe, second: LinearProbe, features: np.ndarray) -> LinearProbe:
    """Return a start for a probe on two embeddings side by side, from a probe of each.

    Each probe is restandardized to these rows' columns and halved: the start's class
    scores are the mean of the two probes' (a warm start for the same convex problem).

    Args:
        first: A probe of the first embedding (its columns come first in ``features``).
        second: A probe of the second.
        features: The training rows of the concatenation, shape (M, D1 + D2).

    Returns:
        The start, with the first probe's penalty.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
        >>> y = (a[:, 0] + b[:, 0] > 0).astype(int)
        >>> pa, pb = train_probe(a, y, 0.01), train_probe(b, y, 0.01)
        >>> start = stacked_start(pa, pb, np.hstack([a, b]))
        >>> bool(np.allclose(start.logits(np.hstack([a, b])), (pa.logits(a) + pb.logits(b)) / 2, atol=1e-4))
        True
    """
    mean, scale = standardization(features)
    split = len(first.mean)
    one, two = first.restandardized(mean[:split], scale[:split]), second.restandardized(mean[split:], scale[split:])
    return LinearProbe(mean, scale, np.vstack([one.weight, two.weight]) / 2, (one.bias + two.bias) / 2, first.l2)


def standardization(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean and standard deviation of each feature (1 where a feature is constant), float32."""
    x = np.asarray(features, dtype=np.float32)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    return x.mean(axis=0), scale


class Objective:
    """The probe's objective on raw features, its standardization folded into the weights.

    Parameters are the standardized-space weights ``W`` (C x D) and bias ``b``: the
    logits are ``X (W / s)^T + b - (W / s) m`` for feature means ``m`` and scales ``s``.

    Args:
        inputs: The features, shape (M, D), float32.
        targets: Their classes, shape (M,), int64.
        mean: Feature means, shape (D,).
        scale: Feature scales, shape (D,), none zero.
        l2: The penalty on ``W``.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor,
                 l2: float):
        self.inputs, self.targets, self.mean, self.l2 = inputs, targets[:, None], mean, l2
        self.inverse_scale = 1 / scale

    def logits(self, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Return the logits of standardized-space parameters, shape (M, C): one read of the features."""
        raw = weight * self.inverse_scale
        return torch.addmm(bias - raw @ self.mean, self.inputs, raw.T)

    def data_term(self, logits: torch.Tensor, step: torch.Tensor, target_step: float,
                  t: float) -> tuple[float, float, torch.Tensor]:
        """Return the mean cross-entropy at ``logits + t step``, its derivative in ``t``, and the
        rows' softmax probabilities there (``target_step``: the sum of ``step`` at the labels)."""
        log_p = torch.log_softmax(torch.add(logits, step, alpha=t), dim=1)
        p = log_p.exp()
        value = -float(log_p.gather(1, self.targets).sum()) / len(p)
        return value, (float(torch.mul(p, step).sum()) - target_step) / len(p), p

    @staticmethod
    def data_curvature(p: torch.Tensor, step: torch.Tensor) -> float:
        """Return the second derivative in ``t`` of the mean cross-entropy, at probabilities ``p``."""
        weighted = p * step
        return float((weighted * step).sum() - (weighted.sum(1) ** 2).sum()) / len(p)

    def gradient(self, p: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Return the flat gradient in (weight, bias) from the rows' softmax probabilities: one read
        of the features."""
        residual = p.scatter_add(1, self.targets, torch.full(self.targets.shape, -1.0, dtype=p.dtype,
                                                             device=p.device))
        bias = residual.sum(0) / len(p)
        raw = (residual.T @ self.inputs) / len(p)
        weight_gradient = (raw - bias[:, None] * self.mean) * self.inverse_scale + self.l2 * weight
        return torch.cat([weight_gradient.reshape(-1), bias])


def line_search(objective: Objective, logits: torch.Tensor, step: torch.Tensor, weight: torch.Tensor,
                direction: torch.Tensor, value: float, slope: float,
                max_steps: int = 30) -> tuple[float, float, torch.Tensor] | None:
    """Find a step length along a descent direction that meets the strong Wolfe conditions.

    The objective is convex along the line, so Newton steps in ``t``, kept inside the
    bracket of lengths known to be too short (slope < 0) and too long, find one in a few
    evaluations from cached logits (none reads the features).

    Args:
        objective: The objective.
        logits: The logits at the current parameters.
        step: The logits of the direction.
        weight: The current weights.
        direction: The direction's weights.
        value: The objective now.
        slope: Its derivative along the direction (negative).
        max_steps: Most evaluations.

    Returns:
        (length, objective there, softmax probabilities there), or None when no length
        decreases the objective enough (the optimum is reached within rounding).
    """
    ww, wd, dd = (float((a * b).sum()) for a, b in ((weight, weight), (weight, direction), (direction, direction)))
    target_step = float(step.gather(1, objective.targets).sum())
    t, low, high, accepted = 1.0, 0.0, float("inf"), None
    for _ in range(max_steps):
        data_value, data_slope, p = objective.data_term(logits, step, target_step, t)
        new_value = data_value + objective.l2 / 2 * (ww + 2 * t * wd + t * t * dd)
        new_slope = data_slope + objective.l2 * (wd + t * dd)
        if new_value <= value + WOLFE[0] * t * slope:
            accepted = (t, new_value, p)
            if abs(new_slope) <= WOLFE[1] * abs(slope):
                return accepted
        if new_slope < 0 and new_value <= value:
            low = t
        else:
            high = t
        curvature = objective.data_curvature(p, step) + objective.l2 * dd
        newton = t - new_slope / curvature if curvature > 0 else float("inf")
        t = newton if low < newton < high else (4 * t if high == float("inf") else (low + high) / 2)
    return accepted


def whitening(objective: Objective, n_classes: int, floor: float = WHITENING_FLOOR) -> torch.Tensor:
    """Return the lower-triangular ``M`` with ``M^T M = (R + (floor + K \\lambda) I)^{-1}``, ``R``
    the standardized features' correlation matrix estimated on at most
    :data:`WHITENING_ROWS` evenly spaced rows, ``K`` classes, ``\\lambda`` the penalty.

    L-BFGS on weights ``U`` with ``W = U M`` (row by row) starts from that inverse
    instead of the identity. At ``W = 0`` (uniform probabilities) the objective's
    Hessian in ``W`` is ``R`` times ``(I - 11^T / K) / K`` for the classes, plus
    ``\\lambda I``: without the coupling of the classes, ``(R + K \\lambda I) / K``. A
    penalty that dominates the data term thus leaves the coordinates nearly plain.

    Example:
        >>> x = torch.tensor([[1.0, 2.0], [2.0, 4.1], [3.0, 5.9], [4.0, 8.0]])
        >>> objective = Objective(x, torch.zeros(4, dtype=torch.long), x.mean(0), x.std(0, correction=0), 0.0)
        >>> m = whitening(objective, n_classes=2)
        >>> z = (x - x.mean(0)) / x.std(0, correction=0)
        >>> bool(torch.allclose(m.T @ m, torch.linalg.inv(z.T @ z / 4 + 0.01 * torch.eye(2)), rtol=1e-3))
        True
    """
    rows = objective.inputs[::max(1, len(objective.inputs) // WHITENING_ROWS)]
    standardized = (rows - objective.mean) * objective.inverse_scale
    shifted = standardized.T @ standardized / len(rows)
    shifted.diagonal().add_(floor + n_classes * objective.l2)
    identity = torch.eye(len(shifted), dtype=shifted.dtype, device=shifted.device)
    return torch.linalg.solve_triangular(torch.linalg.cholesky(shifted), identity, upper=False)


def minimize(objective: Objective, weight: torch.Tensor, bias: torch.Tensor, max_iter: int,
             tolerance: float = TOLERANCE, target: float = -math.inf) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Minimize the objective with L-BFGS from (weight, bias), in whitened coordinates (:func:`whitening`).

    Args:
        objective: The objective.
        weight: Starting weights, shape (C, D).
        bias: Starting bias, shape (C,).
        max_iter: Most iterations.
        tolerance: Stop when no gradient entry exceeds it in absolute value.
        target: Stop as soon as the objective is at most this (comparisons at equal objective).

    Returns:
        The weights, the bias and the number of iterations.
    """
    n_weights = weight.numel()
    flat = torch.cat([weight.reshape(-1), bias])
    m = whitening(objective, len(weight))

    def split(vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return vector[:n_weights].view_as(weight), vector[n_weights:]

    def whitened(gradient: torch.Tensor) -> torch.Tensor:  # the gradient in U: G M^T
        weights, biases = split(gradient)
        return torch.cat([(weights @ m.T).reshape(-1), biases])

    def unwhitened(direction: torch.Tensor) -> torch.Tensor:  # a direction in U, in W: D M
        weights, biases = split(direction)
        return torch.cat([(weights @ m).reshape(-1), biases])

    logits = objective.logits(weight, bias)
    data_value, _, p = objective.data_term(logits, logits, 0.0, 0.0)  # at t = 0: the start
    value = data_value + objective.l2 / 2 * float((weight * weight).sum())
    gradient = objective.gradient(p, weight)
    in_u = whitened(gradient)
    memory = Memory()
    iteration = 0
    while iteration < max_iter and value > target and float(gradient.abs().max()) > tolerance:
        iteration += 1
        direction_u = -memory.inverse_hessian_times(in_u)
        slope = float(in_u @ direction_u)
        if slope >= 0:  # rounding broke the curvature pairs: restart from steepest descent
            memory, direction_u, slope = Memory(), -in_u, -float(in_u @ in_u)
        direction = unwhitened(direction_u)
        step = objective.logits(*split(direction))
        found = line_search(objective, logits, step, split(flat)[0], split(direction)[0], value, slope)
        if found is None:
            break
        t, value, p = found
        flat = flat.add(direction, alpha=t)
        logits = objective.logits(*split(flat)) if iteration % REFRESH == 0 else logits.add_(step, alpha=t)
        gradient = objective.gradient(p, split(flat)[0])
        new_in_u = whitened(gradient)
        memory.add(direction_u * t, new_in_u - in_u)
        in_u = new_in_u
    weight, bias = split(flat)
    return weight, bias, iteration


class Memory:
    """The L-BFGS memory: the last :data:`HISTORY` steps ``s`` and gradient changes ``y``.

    Products with the inverse Hessian approximation use the compact representation of
    Byrd, Nocedal and Schnabel (1994, eq. 3.2): two matrix-vector products with the
    stacked pairs and a small triangular solve, instead of the two-loop recursion's
    4 x HISTORY vector operations (they dominate small probes).
    """

    def __init__(self):
        self.steps: list[torch.Tensor] = []
        self.changes: list[torch.Tensor] = []
        self.stacked: torch.Tensor | None = None
        self.inner: np.ndarray | None = None

    def add(self, step: torch.Tensor, change: torch.Tensor) -> None:
        """Keep a pair when its curvature ``s^T y`` is positive (always so for a convex objective, up to rounding).

        The inner products of the kept vectors are updated, not recomputed: only the new
        pair's products with every kept vector are computed.
        """
        if float(step @ change) <= 1e-10:
            return
        before = len(self.steps)
        dropped = int(before == HISTORY)
        self.steps = [*self.steps, step][-HISTORY:]
        self.changes = [*self.changes, change][-HISTORY:]
        self.stacked = torch.stack(self.steps + self.changes)
        m = len(self.steps)
        inner = np.empty((2 * m, 2 * m))
        if before:
            kept = np.r_[dropped:before, before + dropped:2 * before]  # in the old matrix
            moved = np.r_[0:m - 1, m:2 * m - 1]  # in the new one
            inner[np.ix_(moved, moved)] = self.inner[np.ix_(kept, kept)]
        new = (self.stacked @ torch.stack([step, change]).T).double().cpu().numpy()  # (2m, 2)
        for column, position in enumerate((m - 1, 2 * m - 1)):
            inner[:, position] = inner[position, :] = new[:, column]
        self.inner = inner

    def inverse_hessian_times(self, vector: torch.Tensor) -> torch.Tensor:
        """Return H v for the inverse Hessian approximation H (the identity when empty)."""
        if self.stacked is None:
            return vector.clone()
        m = len(self.steps)
        s_y = self.inner[:m, m:]  # s_i^T y_j
        y_y = self.inner[m:, m:]
        gamma = s_y[-1, -1] / y_y[-1, -1]
        upper = np.triu(s_y)
        products = (self.stacked @ vector).double().cpu().numpy()
        s_v, y_v = products[:m], products[m:]
        p = scipy.linalg.solve_triangular(upper, s_v)
        u = scipy.linalg.solve_triangular(upper, (np.diag(np.diag(s_y)) + gamma * y_y) @ p - gamma * y_v, trans="T")
        coefficients = torch.from_numpy(np.concatenate([u, -gamma * p]).astype(np.float32)).to(vector.device)
        return gamma * vector + coefficients @ self.stacked


def train_probe(features: np.ndarray, labels: np.ndarray, l2: float, n_classes: int | None = None,
                device: str = "cpu", max_iter: int = 500,
                init: LinearProbe | None = None, tolerance: float = TOLERANCE,
                target: float = -math.inf) -> LinearProbe:
    """Fit a multinomial logistic regression probe with L-BFGS (objective in the module docstring).

    Args:
        features: Training rows, shape (M, D).
        labels: Their classes, shape (M,), in 0..C-1.
        l2: The penalty lambda on the weights (not the bias).
        n_classes: C; ``labels.max() + 1`` by default.
        device: The torch device of the fit.
        max_iter: Most L-BFGS iterations.
        init: A probe on the same features to start from (warm start).
        tolerance: Stop when no gradient entry exceeds it in absolute value.
        target: Stop as soon as the objective is at most this.

    Returns:
        The fitted probe (arrays on the CPU, float32).
    """
    x = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(labels) or len(x) == 0:
        raise ValueError(f"features {x.shape} and labels {labels.shape} must have the same rows")
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    mean, scale = standardization(x)

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(device)

    objective = Objective(tensor(x), tensor(labels.astype(np.int64)), tensor(mean), tensor(scale), float(l2))
    # Weights stored as (C, D): X W^T and the gradient G^T X are the fast layouts for a
    # skinny C (X @ W with W of shape (D, C) is several times slower on the CPU).
    weight = torch.zeros(n_classes, x.shape[1], device=device)
    bias = torch.zeros(n_classes, device=device)
    if init is not None:
        weight.copy_(torch.from_numpy(init.weight.T))
        bias.copy_(torch.from_numpy(init.bias))
    weight, bias, iterations = minimize(objective, weight, bias, max_iter, tolerance, target)
    return LinearProbe(mean, scale, np.ascontiguousarray(weight.cpu().numpy().T), bias.cpu().numpy(), float(l2),
                       iterations)


def select_probe(features: np.ndarray, labels: np.ndarray, held_features: np.ndarray,
                 held_labels: np.ndarray, grid: tuple[float, ...] = L2_GRID, n_classes: int | None = None,
                 device: str = "cpu", init: LinearProbe | None = None) -> tuple[LinearProbe, pd.DataFrame]:
    """Choose the penalty on a held-out split, then refit on both splits.

    Args:
        features: Training rows, shape (M, D).
        labels: Their classes.
        held_features: Held-out rows, shape (H, D), for the choice only.
        held_labels: Their classes.
        grid: Penalties to try.
        n_classes: C; from the labels by default.
        device: The torch device of the fits.
        init: A probe on the training rows' standardization to start the first fit from.

    Returns:
        The probe refitted on training and held-out rows with the chosen penalty, and one
        row per penalty: l2 and held_out_accuracy.
    """
    n_classes = n_classes or int(max(np.max(labels), np.max(held_labels))) + 1
    accuracies, probes = [], []
    for l2 in sorted(grid, reverse=True):  # strong to weak: each fit starts from the last
        probes.append(train_probe(features, labels, l2, n_classes, device, init=probes[-1] if probes else init))
        accuracies.append(probes[-1].accuracy(held_features, held_labels))
    table = pd.DataFrame({"l2": sorted(grid, reverse=True), "held_out_accuracy": accuracies})
    best = int(np.argmax(accuracies))  # first maximum: the strongest
    rows = np.concatenate([features, held_features])
    refit = train_probe(rows, np.concatenate([labels, held_labels]), probes[best].l2, n_classes, device,
                        init=probes[best].restandardized(*standardization(rows)))  # the same problem, more rows
    return refit, table.sort_values("l2").reset_index(drop=True)
