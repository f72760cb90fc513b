"""Store views: read a store with the one reader, hand its arrays to the analysis.

Each function here is a few lines of glue between :mod:`norep.store` and
:mod:`norep.analysis`, named by the table it returns, for the chapters and the
``norep pairs`` command.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from norep.analysis.adjust import accuracy_adjusted
from norep.analysis.calibration import expected_calibration_error, fit_temperature, nll
from norep.analysis.ensembles import (
    PairEnsembles,
    ensemble_predictions,
    greedy_selection,
    pairwise_ensembles,
)
from norep.analysis.pairs import pair_metrics
from norep.analysis.similarity import debiased_cka, linear_cka, mutual_knn
from norep.analysis.specialization import confidence_angles, subdomain_differences_many
from norep.errors import NorepError
from norep.runtime import resolve_device
from norep.store import (
    Store,
    read_embeddings,
    read_outcomes,
    read_scores,
    softmax,
    top1,
)
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
    outcomes = read_outcomes(store, "test")
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


FEATURE_COLUMNS = ("model_a", "model_b", "category", "linear_cka", "debiased_cka", "mutual_knn")
"""Columns of :func:`features_table`."""


def features_table(store: Store, split: str = "test", k: int = 10) -> pd.DataFrame:
    """Representational similarity of every pair of models with embeddings, on one split.

    Args:
        store: The prediction store.
        split: The split whose embeddings are compared.
        k: Neighbours of the mutual k-nearest-neighbour alignment.

    Returns:
        One row per pair (store order) with :data:`FEATURE_COLUMNS`; ``category`` is the
        divergence category of model_b relative to model_a (None when undecidable).

    Example:
        >>> features_table(Store("runs/fashion_mnist"))      # doctest: +SKIP
    """
    model_ids = [m for m in store.model_ids if store.has_array(m, "embeddings")]
    if len(model_ids) < 2:
        raise NorepError(f"{store.path} has embeddings for {len(model_ids)} model(s); "
                         "feature similarity needs at least two")
    features = [read_embeddings(store, m, split) for m in model_ids]
    values = {"linear_cka": linear_cka(features), "debiased_cka": debiased_cka(features),
              "mutual_knn": mutual_knn(features, k)}
    a, b = np.triu_indices(len(model_ids), 1)
    methodology = {m: Methodology.from_meta(store.meta(m)) for m in model_ids}
    return pd.DataFrame({
        "model_a": [model_ids[i] for i in a],
        "model_b": [model_ids[j] for j in b],
        "category": [divergence_category(methodology[model_ids[i]], methodology[model_ids[j]])
                     for i, j in zip(a, b)],
        **{name: matrix[a, b] for name, matrix in values.items()},
    }, columns=list(FEATURE_COLUMNS))


def fit_temperatures(store: Store, model_ids: list[str] | None = None,
                     split: str = "calibration", device: str | None = "cpu") -> dict[str, float]:
    """Fit one temperature per model on ``split`` of a store.

    Args:
        store: The prediction store.
        model_ids: Models to fit; all by default. Each needs logits (a top-1-only model
            raises a NorepError).
        split: The held-out split to fit on; never the test split.
        device: Where the NLL is evaluated ("cpu", "cuda", "auto"; see
            :func:`norep.analysis.calibration.fit_temperature`).

    Returns:
        Temperature per model id (each fitted once and cached in the store, per kind of device).
    """
    labels = store.labels(split)
    resolved = "cpu" if device in (None, "cpu") else resolve_device(device)
    key = {"split": split} if resolved == "cpu" else {"split": split, "device": resolved}

    def fit(model_id: str) -> dict[str, np.ndarray]:
        return {"temperature": np.array(fit_temperature(store.logits(model_id, split), labels, resolved))}

    return {m: float(store.derived(m, "temperature", key, lambda m=m: fit(m))["temperature"])
            for m in (store.model_ids if model_ids is None else model_ids)}


def calibration_table(store: Store, model_ids: list[str] | None = None, fit_split: str = "calibration",
                      eval_split: str = "test", n_bins: int = 15, device: str | None = "cpu") -> pd.DataFrame:
    """NLL and ECE on ``eval_split`` before and after temperature scaling, per model.

    Top-1-only models get their ECE before scaling (exact from their confidences) and
    NaN where scaling would need logits.

    Args:
        store: The prediction store.
        model_ids: Models to report; all by default.
        fit_split: Split the temperatures are fitted on.
        eval_split: Split the numbers are reported on.
        n_bins: Bins of the ECE.
        device: Where the temperatures are fitted (see :func:`fit_temperatures`).

    Returns:
        One row per model: model_id, temperature, nll_before, nll_after, ece_before,
        ece_after.
    """
    labels = store.labels(eval_split)
    rows = []
    for model_id in store.model_ids if model_ids is None else model_ids:
        predictions, confidences = top1(store, model_id, eval_split)
        answered = predictions >= 0
        row = {"model_id": model_id, "ece_before": expected_calibration_error(
            confidences[answered], predictions[answered] == labels[answered], n_bins)}
        if store.has_array(model_id, "logits"):
            temperature = fit_temperatures(store, [model_id], fit_split, device)[model_id]
            key = {"fit": fit_split, "eval": eval_split, "bins": n_bins, "temperature": temperature}
            scaled = store.derived(model_id, "calibration", key,
                                   lambda: _scaled_calibration(store, model_id, eval_split, temperature, n_bins))
            row.update(temperature=temperature, **{name: float(value) for name, value in scaled.items()})
        rows.append(row)
    columns = ["model_id", "temperature", "nll_before", "nll_after", "ece_before", "ece_after"]
    return pd.DataFrame(rows).reindex(columns=columns)


def _scaled_calibration(store: Store, model_id: str, split: str, temperature: float,
                        n_bins: int) -> dict[str, np.ndarray]:
    """NLL before and after scaling with ``temperature``, and the ECE after, on ``split``."""
    labels, logits = store.labels(split), store.logits(model_id, split)
    scaled = softmax(logits, temperature).max(axis=1)
    return {"nll_before": np.array(nll(logits, labels)), "nll_after": np.array(nll(logits, labels, temperature)),
            "ece_after": np.array(expected_calibration_error(scaled, logits.argmax(axis=1) == labels, n_bins))}


def zoo_ensembles(store: Store, model_ids: list[str] | None = None, split: str = "test",
                  calibration_split: str | None = "calibration", rule: str = "probabilities",
                  device: str | None = "cpu") -> PairEnsembles:
    """Two-model ensembles of every pair of a store's models.

    Args:
        store: The prediction store.
        model_ids: Models with logits; all of the store's by default.
        split: The split the ensembles are evaluated on.
        calibration_split: Split the temperatures are fitted on; None for T = 1.
        rule: One of :data:`RULES`.
        device: Where temperatures are fitted and pairs decided ("cpu", "cuda", "auto").

    Returns:
        N x N matrices in the order of ``model_ids``.

    Example:
        >>> pairs = zoo_ensembles(Store("runs/fashion_mnist"))   # doctest: +SKIP
        >>> pairs.accuracy                                         # doctest: +SKIP
    """
    model_ids = store.model_ids if model_ids is None else model_ids
    temperatures = fit_temperatures(store, model_ids, calibration_split, device) if calibration_split else None
    return pairwise_ensembles(read_scores(store, model_ids, split, temperatures, rule), store.labels(split),
                              device=device)


def greedy_ensemble(store: Store, anchor: str, candidates: list[str], max_size: int = 5,
                    select_split: str = "calibration", report_split: str = "test",
                    rule: str = "probabilities", device: str | None = "cpu") -> pd.DataFrame:
    """Greedy ensemble of a store: temperatures and selection on ``select_split`` only.

    Candidates are added without replacement, one per step, until ``max_size`` members
    or none is left (:func:`norep.analysis.ensembles.greedy_selection`).

    Args:
        store: The prediction store.
        anchor: The first member.
        candidates: Models that may be added (e.g. only those below an accuracy cap).
        max_size: Largest ensemble, anchor included.
        select_split: Split for temperatures and selection (never the test split).
        report_split: Split each step is reported on.
        rule: One of :data:`RULES`.
        device: Where the temperatures are fitted (see :func:`fit_temperatures`).

    Returns:
        One row per step: step (1 = anchor alone), model_id (the member added),
        select_accuracy, member_accuracy and ensemble_accuracy (on ``report_split``).

    Example:
        >>> greedy_ensemble(store, "bit-1k", low_accuracy_ids, max_size=4)   # doctest: +SKIP
    """
    model_ids = [anchor] + [c for c in candidates if c != anchor]
    temperatures = fit_temperatures(store, model_ids, select_split, device)
    members, select_accuracy = greedy_selection(
        read_scores(store, model_ids, select_split, temperatures, rule), store.labels(select_split),
        0, list(range(1, len(model_ids))), max_size)
    report = read_scores(store, [model_ids[m] for m in members], report_split, temperatures, rule)
    labels = store.labels(report_split)
    return pd.DataFrame({
        "step": np.arange(1, len(members) + 1),
        "model_id": [model_ids[m] for m in members],
        "select_accuracy": select_accuracy,
        "member_accuracy": [float(np.mean(s.argmax(axis=1) == labels)) for s in report],
        "ensemble_accuracy": [float(np.mean(ensemble_predictions(report[:n]) == labels))
                              for n in range(1, len(members) + 1)],
    })


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
    outcomes = [top1(store, m, split, (temperatures or {}).get(m)) for m in (model_a, model_b)]
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


def who_wins_where(store: Store, model_a: str, model_b: str, by: str = "superclass", split: str = "test",
                   n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                   missing: str | None = None) -> pd.DataFrame:
    """Per-subdomain accuracy differences of a pair, and which model wins each subdomain.

    The same as :func:`who_wins_where_many` for the one pair, without the model columns;
    to compare many pairs, call that function once instead (identical numbers, one set
    of bootstrap resamples).

    Args:
        store: The prediction store.
        model_a: First model.
        model_b: Second model.
        by: ``"class"`` (class names), or a column of the store's examples table.
        split: The split.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.
        missing: Examples whose subdomain is missing (NaN or None, e.g. ImageNet-X
            images without a top factor) are left out by default; a name reports them
            as one more group of that name, after the others.

    Returns:
        The table of :func:`subdomain_differences` with the group column named ``by``
        (classes in class order, by name) and a column ``winner``: the model whose
        accuracy is higher with the interval excluding 0, else ``"neither"``.

    Example:
        >>> who_wins_where(store, "resnet50", "clip-s", by="superclass")   # doctest: +SKIP
    """
    table = who_wins_where_many(store, [(model_a, model_b)], by, split, n_boot, level, seed, missing)
    return table.drop(columns=["model_a", "model_b"])


def who_wins_where_many(store: Store, pairs: list[tuple[str, str]], by: str = "superclass",
                        split: str = "test", n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                        missing: str | None = None) -> pd.DataFrame:
    """:func:`who_wins_where` for many pairs at once, sharing the bootstrap resamples.

    Args:
        store: The prediction store.
        pairs: (model_a, model_b) pairs, e.g. ``[(base, m) for m in others]``.
        by: ``"class"`` (class names), or a column of the store's examples table.
        split: The split.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.
        missing: Examples whose subdomain is missing are left out by default; a name
            reports them as one more group of that name.

    Returns:
        One row per pair and subdomain: model_a, model_b, the subdomain (column named
        ``by``), n, acc_a, acc_b, difference, low, high and winner; identical to
        :func:`who_wins_where` pair by pair with the same seed.

    Example:
        >>> who_wins_where_many(store, [("resnet50", m) for m in others], by="class")  # doctest: +SKIP
    """
    examples = store.examples.iloc[store.rows(split)]
    if by == "class":
        groups = examples["label"].to_numpy()
    elif by in examples.columns and by not in ("example_id", "split"):
        groups = examples[by].to_numpy()
    else:
        columns = [c for c in examples.columns if c not in ("example_id", "split")]
        raise NorepError(f"no subdomain {by!r} in {store.path}; use 'class' or one of {columns}")
    model_ids = list(dict.fromkeys(m for pair in pairs for m in pair))
    index = {m: i for i, m in enumerate(model_ids)}
    labels = store.labels(split)
    predictions = read_outcomes(store, split, model_ids).predictions
    table = subdomain_differences_many(predictions == labels[None, :], groups,
                                       [(index[a], index[b]) for a, b in pairs], predictions >= 0,
                                       n_boot, level, seed, missing, model_ids)
    table["winner"] = np.select([table["low"] > 0, table["high"] < 0],
                                [table["model_a"], table["model_b"]], "neither")
    if by == "class":  # sorted by class index, shown by name
        table["group"] = np.asarray(store.classes, dtype=object)[table["group"].to_numpy(int)]
    return table.rename(columns={"group": by})


def band_models(store: Store, low: float, high: float, split: str = "test",
                model_ids: list[str] | None = None) -> list[str]:
    """Return the models whose accuracy on ``split`` lies in [low, high].

    Args:
        store: The prediction store.
        low: Lowest accuracy kept (fraction).
        high: Highest accuracy kept (fraction).
        split: The split accuracies are measured on (examples a model answered).
        model_ids: Models to choose from; all by default.

    Returns:
        The models in the band, in store order.
    """
    outcomes = read_outcomes(store, split, model_ids)
    inside = (outcomes.accuracy >= low) & (outcomes.accuracy <= high)
    return [m for m, keep in zip(outcomes.model_ids, inside) if keep]


def adjusted_diversity(store: Store, pairs: list[tuple[str, str]] | None = None,
                       reference: list[tuple[str, str]] | None = None, metric: str = "kappa",
                       split: str = "test", n_boot: int = 1000, level: float = 0.95,
                       seed: int = 0) -> pd.DataFrame:
    """Accuracy-adjusted pair metric of a store (see the module docstring).

    Args:
        store: The prediction store.
        pairs: (model_a, model_b) pairs to report; every pair of the store by default.
        reference: Pairs the accuracy fit uses; every pair of the store by default.
        metric: A name from :data:`norep.analysis.pairs.PAIR_METRICS`.
        split: The split.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        One row per pair: model_a, model_b, acc_a, acc_b, the metric, expected,
        adjusted, low, high.
    """
    everything = list(itertools.combinations(store.model_ids, 2))
    pairs, reference = pairs or everything, reference or everything
    model_ids = list(dict.fromkeys(m for pair in pairs + reference for m in pair))
    outcomes = read_outcomes(store, split, model_ids)
    index = {m: i for i, m in enumerate(model_ids)}
    result = accuracy_adjusted(outcomes.correct, [(index[a], index[b]) for a, b in pairs],
                               [(index[a], index[b]) for a, b in reference], metric,
                               outcomes.predictions, outcomes.valid, n_boot, level, seed)
    accuracy = outcomes.accuracy
    return pd.DataFrame({
        "model_a": [a for a, _ in pairs], "model_b": [b for _, b in pairs],
        "acc_a": [accuracy[index[a]] for a, _ in pairs], "acc_b": [accuracy[index[b]] for _, b in pairs],
        metric: result["value"], "expected": result["expected"], "adjusted": result["adjusted"],
        "low": result["low"], "high": result["high"],
    })
