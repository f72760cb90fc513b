"""The pairs report behind ``norep pairs``: one row per pair of models of a store.

Every number is on the test split: accuracies, error inconsistency, kappa and
disagreement on the examples both models answered (:mod:`norep.metrics`), and the
accuracy of the two-model ensemble of temperature-scaled probabilities
(:mod:`norep.ensembles`), with temperatures fitted on the calibration split when the
store has one (else T = 1), and NaN for models without logits.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from norep.ensembles import zoo_ensembles
from norep.errors import NorepError
from norep.metrics import pair_metrics, zoo_correctness
from norep.store import Store
from norep.zoo import Methodology, divergence_category

COLUMNS = ("model_a", "model_b", "category", "acc_a", "acc_b", "error_inconsistency", "kappa",
           "disagreement", "ensemble_acc")
"""Columns of :func:`pairs_table`."""


def pairs_table(store: Store, base: str | None = None) -> pd.DataFrame:
    """Pair metrics of a store on its test split.

    Args:
        store: The prediction store.
        base: When given, only the pairs (base, other); else every pair in store order.

    Returns:
        One row per pair with :data:`COLUMNS`; ``category`` is the divergence category
        of model_b relative to model_a (None when the metadata cannot decide).

    Example:
        >>> pairs_table(Store("runs/fashion_mnist"), base="cnn-seed0")   # doctest: +SKIP
    """
    model_ids = store.model_ids
    if base is not None and base not in model_ids:
        raise NorepError(f"base model {base!r} is not in {store.path}; it has {len(model_ids)} "
                         f"models, e.g. {', '.join(model_ids[:5])}")
    if base is None:
        pairs = list(itertools.combinations(range(len(model_ids)), 2))
    else:
        pairs = [(model_ids.index(base), j) for j in range(len(model_ids)) if model_ids[j] != base]
    outcomes = zoo_correctness(store, "test")
    metrics = pair_metrics(outcomes.correct, outcomes.predictions, outcomes.valid,
                           ("accuracy", "error_inconsistency", "kappa", "disagreement"))
    a, b = (np.array([p[i] for p in pairs], dtype=int) for i in (0, 1))
    methodology = {row["model_id"]: Methodology.from_meta(row) for row in store.models.to_dict("records")}
    return pd.DataFrame({
        "model_a": [model_ids[i] for i in a],
        "model_b": [model_ids[j] for j in b],
        "category": [divergence_category(methodology[model_ids[i]], methodology[model_ids[j]])
                     for i, j in zip(a, b)],
        "acc_a": metrics["accuracy"][a, b],
        "acc_b": metrics["accuracy"][b, a],
        "error_inconsistency": metrics["error_inconsistency"][a, b],
        "kappa": metrics["kappa"][a, b],
        "disagreement": metrics["disagreement"][a, b],
        "ensemble_acc": _ensemble_accuracy(store, model_ids)[a, b],
    }, columns=list(COLUMNS))


def _ensemble_accuracy(store: Store, model_ids: list[str]) -> np.ndarray:
    """N x N two-model ensemble accuracies; NaN for pairs with a model without logits."""
    accuracy = np.full((len(model_ids), len(model_ids)), np.nan)
    with_logits = [i for i, m in enumerate(model_ids) if store.has_array(m, "logits")]
    if len(with_logits) >= 2:
        has_calibration = (store.examples["split"] == "calibration").any()
        ensembles = zoo_ensembles(store, [model_ids[i] for i in with_logits], "test",
                                  "calibration" if has_calibration else None)
        accuracy[np.ix_(with_logits, with_logits)] = ensembles.accuracy
    return accuracy
