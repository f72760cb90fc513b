"""Specialization: on which examples, and where in the data, each model of a pair wins.

Confidence angle (the paper's Fig. 3): on the examples that exactly one model of the
pair (a, b) gets right,

    theta = arctan2(conf_b, conf_a)  in [0, pi/2] radians,

with conf the top-1 confidence (the maximum softmax probability). theta < pi/4 means
a was more confident, theta > pi/4 that b was. The paper's finding: when training
methods diverge, the model that is right tends to be the confident one (theta near 0
when a is right, near pi/2 when b is). Only top-1 confidences are needed, so the angle
is exact for models that give only a top-1 answer and its confidence; temperature
scaling of the confidences needs logits.

Who wins where: for each value g of a subdomain (the class, a superclass, any column of
the store's examples table), the accuracy difference acc_a(g) - acc_b(g) on the
examples of g that both models answered, with a paired bootstrap percentile interval
(examples resampled with replacement, the same draw for both models and every group).

Example:
    >>> rows, theta, a_right = confidence_angles(
    ...     np.array([0.9, 0.5]), np.array([0.2, 0.5]), np.array([True, True]), np.array([False, True]))
    >>> rows.tolist(), round(float(theta[0]), 3), a_right.tolist()
    ([0], 0.219, [True])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from norep.calibration import softmax
from norep.errors import NorepError
from norep.metrics import bootstrap_sums, percentile_interval
from norep.store import Store


def confidence_angles(conf_a: np.ndarray, conf_b: np.ndarray, correct_a: np.ndarray,
                      correct_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the angle theta on the examples exactly one model gets right.

    Args:
        conf_a: Top-1 confidences of model a, shape (M,).
        conf_b: Top-1 confidences of model b, shape (M,).
        correct_a: Whether a is right (False where it did not answer).
        correct_b: Whether b is right.

    Returns:
        The example indices, theta = arctan2(conf_b, conf_a) there, and whether a is
        the one that is right.
    """
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    rows = np.flatnonzero(correct_a != correct_b)
    return rows, np.arctan2(np.asarray(conf_b)[rows], np.asarray(conf_a)[rows]), correct_a[rows]


def pair_angles(store: Store, model_a: str, model_b: str, split: str = "test",
                temperatures: dict[str, float] | None = None) -> pd.DataFrame:
    """The confidence angle of every exactly-one-right example of a pair in a store.

    Examples either model did not answer are left out.

    Args:
        store: The prediction store.
        model_a: First model (x axis of the confidence plane).
        model_b: Second model (y axis).
        split: The split.
        temperatures: Optional temperature per model to scale its confidences with
            (needs that model's logits).

    Returns:
        One row per example: example_id, label, theta, conf_a, conf_b, right (the id
        of the model that is right), and the store's subdomain columns.

    Example:
        >>> angles = pair_angles(store, "resnet50", "clip-s")                # doctest: +SKIP
        >>> angles.groupby("right").theta.plot.hist(alpha=0.5, bins=30)      # doctest: +SKIP
    """
    labels = store.labels(split)
    outcomes = [_top1(store, m, split, (temperatures or {}).get(m)) for m in (model_a, model_b)]
    (pred_a, conf_a), (pred_b, conf_b) = outcomes
    answered = (pred_a >= 0) & (pred_b >= 0)
    rows, theta, a_right = confidence_angles(conf_a, conf_b, (pred_a == labels) & answered,
                                             (pred_b == labels) & answered)
    table = store.examples.iloc[store.rows(split)[rows]].drop(columns="split").reset_index(drop=True)
    table.insert(2, "theta", theta)
    table.insert(3, "conf_a", conf_a[rows])
    table.insert(4, "conf_b", conf_b[rows])
    table.insert(5, "right", np.where(a_right, model_a, model_b))
    return table


def _top1(store: Store, model_id: str, split: str, temperature: float | None) -> tuple[np.ndarray, np.ndarray]:
    if temperature is None:
        return store.top1(model_id, split)
    if not store.has_array(model_id, "logits"):
        raise NorepError(f"model {model_id} has only top-1 confidences, which a temperature cannot "
                         "rescale; leave it out of temperatures")
    logits = store.logits(model_id, split)
    return logits.argmax(axis=1), softmax(logits, temperature).max(axis=1)


def subdomain_differences(correct_a: np.ndarray, correct_b: np.ndarray, groups: np.ndarray,
                          valid: np.ndarray | None = None, n_boot: int = 1000, level: float = 0.95,
                          seed: int = 0) -> pd.DataFrame:
    """Accuracy difference of two models per subdomain, with paired bootstrap intervals.

    Args:
        correct_a: Whether model a is right, shape (M,).
        correct_b: Whether model b is right, shape (M,).
        groups: The subdomain of each example (any values), shape (M,).
        valid: Examples both models answered; all when None.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        One row per subdomain (sorted): group, n, acc_a, acc_b, difference
        (acc_a - acc_b), low, high.
    """
    keep = np.ones(len(groups), bool) if valid is None else np.asarray(valid, bool)
    codes, names = pd.factorize(np.asarray(groups)[keep], sort=True)
    values = np.stack([np.ones(keep.sum()), np.asarray(correct_a)[keep], np.asarray(correct_b)[keep]], axis=1)
    full = np.stack([np.bincount(codes, weights=v, minlength=len(names)) for v in values.T], axis=1)
    boot = bootstrap_sums(values, n_boot, seed, groups=codes)
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = (boot[..., 1] - boot[..., 2]) / boot[..., 0]
    interval = percentile_interval((full[:, 1] - full[:, 2]) / full[:, 0], samples, level)
    return pd.DataFrame({
        "group": names, "n": full[:, 0].astype(int), "acc_a": full[:, 1] / full[:, 0],
        "acc_b": full[:, 2] / full[:, 0], "difference": interval.estimate,
        "low": interval.low, "high": interval.high,
    })


def who_wins_where(store: Store, model_a: str, model_b: str, by: str = "superclass", split: str = "test",
                   n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per-subdomain accuracy differences of a pair, and which model wins each subdomain.

    Args:
        store: The prediction store.
        model_a: First model.
        model_b: Second model.
        by: ``"class"`` (class names), or a column of the store's examples table.
        split: The split.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        The table of :func:`subdomain_differences` with the group column named ``by``
        (classes in class order, by name) and a column ``winner``: the model whose accuracy is higher with the interval
        excluding 0, else "neither".

    Example:
        >>> who_wins_where(store, "resnet50", "clip-s", by="superclass")   # doctest: +SKIP
    """
    examples = store.examples.iloc[store.rows(split)]
    if by == "class":
        groups = examples["label"].to_numpy()
    elif by in examples.columns and by not in ("example_id", "split"):
        groups = examples[by].to_numpy()
    else:
        columns = [c for c in examples.columns if c not in ("example_id", "split")]
        raise NorepError(f"no subdomain {by!r} in {store.path}; use 'class' or one of {columns}")
    labels = store.labels(split)
    (pred_a, _), (pred_b, _) = store.top1(model_a, split), store.top1(model_b, split)
    table = subdomain_differences(pred_a == labels, pred_b == labels, groups,
                                  (pred_a >= 0) & (pred_b >= 0), n_boot, level, seed)
    table["winner"] = np.select([table["low"] > 0, table["high"] < 0], [model_a, model_b], "neither")
    if by == "class":  # sorted by class index, shown by name
        table["group"] = np.asarray(store.classes, dtype=object)[table["group"].to_numpy(int)]
    return table.rename(columns={"group": by})
